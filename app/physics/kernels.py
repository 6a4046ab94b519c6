"""Blur kernels (point-spread functions): generators, files, spec strings and validation.

Conventions, used by every kernel in Photomend (generated, loaded, estimated, previewed):

* **Array orientation.** ``kernel[row, col]`` with row 0 at the *top*, exactly like an image on
  screen. A kernel is the point-spread function: the blurred photo is the true convolution
  ``y = k * x`` (the orientation of ``scipy.signal.convolve``, not correlation), so a single
  bright point in the sharp photo becomes a copy of the kernel, *not* rotated. Showing a kernel
  as an image therefore shows how a point light is smeared in the photo. PNG kernels are stored
  in this same image orientation (row 0 = top); ``.npy`` files hold the same float array.
* **Centre.** Every kernel is square with an odd side ``n``; its centre (the zero shift) is the
  middle pixel ``[n // 2, n // 2]``. A file kernel with an even side gets one zero row/column
  appended at the bottom/right, so its centre is pixel ``n // 2`` of the original array (the
  centre MATLAB's psf2otf and fspecial use); a non-square one is padded equally on both sides.
* **Angle.** Degrees counter-clockwise from the +x axis (pointing right) *as seen on screen*.
  Image rows grow downward, so the direction of angle ``a`` is ``(col, row) = (cos a, -sin a)``:
  0° is horizontal, 90° vertical, 45° runs from bottom-left to top-right (rows decrease as
  columns increase). Motion is centred on the kernel centre, hence symmetric: ``a`` and
  ``a + 180`` give the same kernel (the exposure has no direction).
* **Length.** The extent of the path in pixels: a length-L motion at 0° spreads over L pixels of
  the centre row, with exactly equal weights when L is an odd integer (the same kernel as
  MATLAB's ``fspecial('motion', L, 0)``); other lengths end in partial pixels, so the kernel
  changes smoothly with L. The weight along the path is uniform (std L/sqrt(12), as a uniform
  L-pixel segment); across it the path is anti-aliased by linear interpolation between the two
  nearest pixels. Length 1 (or less) is a delta.
* **Values.** float32, non-negative, summing to 1. Invalid input raises :class:`KernelError`
  (a :class:`PhotomendError`) whose message is one line naming the value or file and the cause.
"""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import PhotomendError

MAX_MOTION_LENGTH = 301.0
"""Longest motion path in pixels; longer blurs are beyond any deblurring and cost seconds per FFT."""
MAX_DEFOCUS_RADIUS = 150.0
"""Largest defocus disk radius in pixels (a 301-pixel-wide disk)."""
MAX_GAUSSIAN_SIGMA = 50.0
"""Largest Gaussian sigma in pixels (the kernel is truncated at 4 sigma: 401 x 401)."""
MAX_KERNEL_SIDE = 401
"""Largest kernel side accepted from a file or array, after padding to an odd square."""
MAX_KERNEL_FILE_BYTES = 64 * 1024 * 1024
"""A kernel file larger than this is certainly not a kernel; refuse it before reading."""

KERNEL_KINDS = ("motion", "defocus", "gaussian", "file")
KERNEL_FILE_SUFFIXES = (".npy", ".png")
SPEC_HELP = "use motion:LENGTH,ANGLE, defocus:RADIUS, gaussian:SIGMA or a .png/.npy file"

_GENERATOR_ARITY = {"motion": 2, "defocus": 1, "gaussian": 1}
_USAGE = {
    "motion": "motion:LENGTH,ANGLE (e.g. motion:15,30)",
    "defocus": "defocus:RADIUS (e.g. defocus:4)",
    "gaussian": "gaussian:SIGMA (e.g. gaussian:1.5)",
}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_KIND_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9_-]+)\s*:(.*)", re.DOTALL)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class KernelError(PhotomendError):
    """A kernel value, spec or file the user gave cannot be used; str() is the one-line reason."""


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _finite_number(name: str, value: object, unit: str = "") -> float:
    """The value as a float, or a KernelError naming it: sliders and specs both end up here."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise KernelError(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise KernelError(f"{name} {number}{unit}: must be a finite number")
    return number


def _positive_number(name: str, value: object, unit: str, maximum: float) -> float:
    """A finite number in (0, maximum], or a KernelError saying which bound it breaks."""
    number = _finite_number(name, value, f" {unit}")
    if number <= 0:
        raise KernelError(f"{name} {number:g} {unit}: must be greater than 0")
    if number > maximum:
        raise KernelError(f"{name} {number:g} {unit} is too large (at most {maximum:g} {unit})")
    return number


def _trim_zero_border(kernel: np.ndarray) -> np.ndarray:
    """Drop all-zero rings around the centre so the kernel is just large enough (side stays odd)."""
    centre = kernel.shape[0] // 2
    rows, cols = np.nonzero(kernel)
    if rows.size == 0:
        return kernel
    reach = int(max(np.abs(rows - centre).max(), np.abs(cols - centre).max()))
    return kernel[centre - reach : centre + reach + 1, centre - reach : centre + reach + 1]


def _normalised(kernel: np.ndarray) -> np.ndarray:
    """float32 copy summing to 1, divided in float64 so the float32 sum is 1 to rounding."""
    kernel = np.asarray(kernel, dtype=np.float64)
    return np.ascontiguousarray(kernel / kernel.sum(), dtype=np.float32)


def _odd_square(kernel: np.ndarray) -> np.ndarray:
    """Zero-pad to an odd square keeping the centre (see the module notes on even sides)."""
    rows, cols = kernel.shape
    kernel = np.pad(kernel, ((0, 1 - rows % 2), (0, 1 - cols % 2)))
    rows, cols = kernel.shape
    side = max(rows, cols)
    pad_r, pad_c = (side - rows) // 2, (side - cols) // 2
    return np.pad(kernel, ((pad_r, pad_r), (pad_c, pad_c)))


def as_kernel(array: np.ndarray, name: str = "kernel") -> np.ndarray:
    """Validate any 2-D weight array and return it as a proper kernel (odd square, float32, sum 1).

    Shared by the file loaders and by code that estimates kernels, so every kernel that reaches
    the deblurring code obeys the same rules. Negative entries are refused, never clipped: they
    mean the array is not a point-spread function (or was saved wrongly), and silently clipping
    would change the blur. ``name`` starts the error message (e.g. ``"kernel file k.npy"``).
    """
    data = np.asarray(array)
    if data.dtype == object or not (
        np.issubdtype(data.dtype, np.number) or np.issubdtype(data.dtype, np.bool_)
    ):
        raise KernelError(f"{name}: holds {data.dtype} values, not numbers")
    if np.iscomplexobj(data):
        raise KernelError(f"{name}: holds complex numbers; a kernel must be real")
    if data.size == 0:
        raise KernelError(f"{name}: is empty (array of shape {data.shape})")
    if data.ndim != 2:
        raise KernelError(f"{name}: must be a 2-D array, got shape {data.shape}")
    data = data.astype(np.float64)
    bad = np.count_nonzero(~np.isfinite(data))
    if bad:
        raise KernelError(f"{name}: contains {bad} NaN or infinite value(s)")
    negative = np.count_nonzero(data < 0)
    if negative:
        raise KernelError(
            f"{name}: has {negative} negative value(s) (smallest {data.min():.4g}); "
            "a blur kernel must be non-negative"
        )
    if not data.any():
        raise KernelError(f"{name}: is all zeros; a blur kernel needs some positive weight")
    rows, cols = data.shape
    data = _odd_square(data)
    if data.shape[0] > MAX_KERNEL_SIDE:
        raise KernelError(
            f"{name}: {cols}x{rows} px is too large for a blur kernel "
            f"(at most {MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE})"
        )
    return _normalised(data)


def pad_kernel(kernel: np.ndarray, side: int) -> np.ndarray:
    """Zero-pad a kernel to a larger odd side around the same centre (e.g. a fixed estimation size)."""
    rows, cols = kernel.shape
    if side % 2 == 0 or side < max(rows, cols) or rows % 2 == 0 or cols % 2 == 0:
        raise ValueError(f"cannot pad a {cols}x{rows} kernel to side {side}: sides must be odd and grow")
    pad_r, pad_c = (side - rows) // 2, (side - cols) // 2
    return np.pad(kernel, ((pad_r, pad_r), (pad_c, pad_c)))


def check_kernel_fits(kernel: np.ndarray, image_shape: tuple[int, ...]) -> None:
    """Refuse a kernel wider or taller than the image: such a blur cannot be modelled or undone."""
    k_rows, k_cols = np.shape(kernel)[:2]
    i_rows, i_cols = int(image_shape[0]), int(image_shape[1])
    if k_rows > i_rows or k_cols > i_cols:
        raise KernelError(
            f"blur kernel ({k_cols}x{k_rows} px) is larger than the image ({i_cols}x{i_rows} px); "
            "use a smaller kernel"
        )


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """Linear camera-shake blur: a centred straight path of ``length`` px at ``angle`` degrees.

    Sub-pixel and anti-aliased, so fractional lengths and angles change the kernel smoothly (a
    slider or an estimator can move through them). See the module notes for the conventions.
    The path is cut by the pixel slabs of its major axis (columns when it is nearer horizontal):
    each slab receives the path length inside it, placed at that piece's centre and shared
    bilinearly between the neighbouring pixels, which keeps the kernel centred on the exact line.
    """
    length = _positive_number("motion length", length, "px", MAX_MOTION_LENGTH)
    angle = _finite_number("motion angle", angle, "°")
    theta = math.radians(angle % 180.0)
    d_col, d_row = math.cos(theta), -math.sin(theta)  # rows grow downward on screen
    col_major = abs(d_col) >= abs(d_row)
    major, minor = (d_col, d_row) if col_major else (d_row, d_col)

    half = length * abs(major) / 2.0  # half extent of the path along the major axis
    count = math.floor(half + 0.5)
    slabs = np.arange(-count, count + 1, dtype=np.float64)
    lo = np.maximum(-half, slabs - 0.5)
    hi = np.minimum(half, slabs + 0.5)
    mass = hi - lo
    keep = mass > 0
    mass, along = mass[keep], ((lo + hi) / 2.0)[keep]
    across = along * (minor / major)
    cols, rows = (along, across) if col_major else (across, along)

    radius = math.ceil(length / 2.0)
    kernel = np.zeros((2 * radius + 1, 2 * radius + 1), np.float64)
    # Round away float dust (e.g. cos 90° = 6e-17) so exact cases stay exact and trimmable.
    cols = np.round(cols + radius, 9)
    rows = np.round(rows + radius, 9)
    c0, r0 = np.floor(cols).astype(np.int64), np.floor(rows).astype(np.int64)
    fc, fr = cols - c0, rows - r0
    for dr, dc, weight in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        nonzero = weight > 0
        np.add.at(kernel, (r0[nonzero] + dr, c0[nonzero] + dc), (mass * weight)[nonzero])
    kernel = 0.5 * (kernel + kernel[::-1, ::-1])  # exactly symmetric despite rounding
    return _normalised(_trim_zero_border(kernel))


def defocus_kernel(radius: float) -> np.ndarray:
    """Out-of-focus blur: a uniform disk of ``radius`` px, anti-aliased by its area in each pixel.

    Each pixel's weight is the fraction of it the disk covers (4x4 sub-pixels, each with a
    linear edge ramp), so the kernel changes smoothly with the radius. A radius under about half
    a pixel is a delta.
    """
    radius = _positive_number("defocus radius", radius, "px", MAX_DEFOCUS_RADIUS)
    reach = math.ceil(radius + 0.5)
    offsets = (np.arange(4) + 0.5) / 4.0 - 0.5
    coords = (np.arange(-reach, reach + 1)[:, None] + offsets[None, :]).ravel()
    dist = np.hypot(coords[:, None], coords[None, :])
    coverage = np.clip((radius - dist) * 4.0 + 0.5, 0.0, 1.0)
    side = 2 * reach + 1
    kernel = coverage.reshape(side, 4, side, 4).mean(axis=(1, 3))
    return _normalised(_trim_zero_border(kernel))


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Gaussian blur (lens softness, atmosphere) of standard deviation ``sigma`` px.

    Sampled at pixel centres and truncated at 4 sigma, the convention of MATLAB's
    ``fspecial('gaussian')`` and of the USRNet/DPIR test kernels (kernels12_01..04 match).
    """
    sigma = _positive_number("gaussian sigma", sigma, "px", MAX_GAUSSIAN_SIGMA)
    reach = max(1, math.ceil(4.0 * sigma))
    axis = np.arange(-reach, reach + 1, dtype=np.float64)
    profile = np.exp(-(axis**2) / (2.0 * sigma * sigma))
    return _normalised(_trim_zero_border(np.outer(profile, profile)))


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _read_bytes(path: Path, label: str) -> bytes:
    """The whole file, or a KernelError that says why it cannot be read."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise KernelError(f"{label}: is a folder, not a file")
        if size == 0:
            raise KernelError(f"{label}: is empty (0 bytes)")
        if size > MAX_KERNEL_FILE_BYTES:
            raise KernelError(f"{label}: is {size / 2**20:.0f} MB, far too large for a blur kernel")
        return path.read_bytes()
    except FileNotFoundError:
        raise KernelError(f"{label}: file not found") from None
    except PermissionError:
        raise KernelError(f"{label}: permission denied") from None
    except OSError as error:
        raise KernelError(f"{label}: cannot be read ({error.strerror or error})") from None


def _decode_npy(data: bytes, label: str) -> np.ndarray:
    """A .npy payload as an array; pickled objects are refused (never unpickle user files)."""
    if not data.startswith(b"\x93NUMPY"):
        raise KernelError(f"{label}: is not a valid .npy array file")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise KernelError(f"{label}: holds Python objects, not a numeric array") from None
        raise KernelError(f"{label}: is not a valid .npy array file") from None
    except Exception:  # noqa: BLE001 - any parse failure means "not an .npy file"
        raise KernelError(f"{label}: is not a valid .npy array file") from None
    if not isinstance(array, np.ndarray):
        raise KernelError(f"{label}: is not a single .npy array")
    return array


def _decode_png(data: bytes, label: str) -> np.ndarray:
    """PNG grey levels (8 or 16 bit) as weights; colour is averaged, alpha multiplies."""
    import cv2

    if not data.startswith(_PNG_SIGNATURE):
        raise KernelError(f"{label}: is not a PNG image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise KernelError(f"{label}: cannot be decoded as a PNG image (corrupt or truncated)")
    maximum = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype, np.integer) else 1.0
    image = image.astype(np.float64)
    if image.ndim == 3:
        channels = image.shape[2]
        if channels in (2, 4):  # grey+alpha / BGRA: transparent pixels carry no weight
            alpha = image[:, :, -1] / maximum
            image = image[:, :, :-1].mean(axis=2) * alpha
        else:
            image = image.mean(axis=2)
    return image


def load_kernel(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a kernel from a ``.npy`` float array or a ``.png`` image (image orientation, row 0 top).

    Values are weights: the result is validated and normalised by :func:`as_kernel`. A PNG's grey
    levels are used linearly (no gamma), 8- or 16-bit; RGB is averaged.
    """
    path = Path(path).expanduser()
    label = f"kernel file {path}"
    suffix = path.suffix.lower()
    if suffix not in KERNEL_FILE_SUFFIXES:
        raise KernelError(f"{label}: unsupported kernel file type {suffix or '(none)'!r} (use .png or .npy)")
    data = _read_bytes(path, label)
    array = _decode_npy(data, label) if suffix == ".npy" else _decode_png(data, label)
    return as_kernel(array, label)


def encode_kernel(kernel: np.ndarray, suffix: str) -> bytes:
    """A kernel as ``.npy`` bytes (float32, exact) or ``.png`` bytes (16-bit grey, scaled to its maximum)."""
    import cv2

    kernel = as_kernel(kernel)
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, kernel)
        return buffer.getvalue()
    scaled = np.rint(kernel.astype(np.float64) / kernel.max() * 65535.0).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", scaled)
    if not ok:
        raise KernelError("the kernel could not be encoded as PNG")
    return encoded.tobytes()


def save_kernel(kernel: np.ndarray, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write a kernel as ``.npy`` or ``.png`` (see :func:`encode_kernel`), atomically.

    Lets an estimated or generated kernel be kept, shared and loaded back with :func:`load_kernel`.
    An existing file (or link) is only replaced with ``overwrite=True``; a link is replaced
    itself, never written through. Raises KernelError or WriteError (one line each).
    """
    from app.io.atomic import atomic_write

    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in KERNEL_FILE_SUFFIXES:
        raise KernelError(f"kernel file {path}: unsupported kernel file type {suffix or '(none)'!r} (use .png or .npy)")
    return atomic_write(path, encode_kernel(kernel, suffix), overwrite=overwrite)


# --------------------------------------------------------------------------------------------
# Spec strings
# --------------------------------------------------------------------------------------------


def _format_number(value: float) -> str:
    """Shortest text that parses back to exactly ``value`` ("15", "0.5", "1e-05")."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True)
class KernelSpec:
    """A kernel as the CLI and saved settings name it; ``to_string()`` parses back to an equal spec.

    ``kind`` is ``motion`` (params: length px, angle degrees), ``defocus`` (radius px),
    ``gaussian`` (sigma px) or ``file`` (no params; ``path`` set). Values are validated on
    construction, so a KernelSpec always describes a kernel that can be made.
    """

    kind: str
    params: tuple[float, ...] = ()
    path: Path | None = None

    def __post_init__(self) -> None:
        kind = str(self.kind).lower()
        object.__setattr__(self, "kind", kind)
        if kind not in KERNEL_KINDS:
            raise KernelError(f"unknown kernel kind {self.kind!r} ({SPEC_HELP})")
        params = tuple(_finite_number(f"{kind} parameter", p) for p in self.params)
        object.__setattr__(self, "params", params)
        if kind == "file":
            if self.path is None or params:
                raise KernelError("a file kernel spec needs a path and no numbers")
            object.__setattr__(self, "path", Path(self.path))
            return
        if self.path is not None:
            raise KernelError(f"a {kind} kernel spec takes numbers, not a path")
        if len(params) != _GENERATOR_ARITY[kind]:
            raise KernelError(
                f"a {kind} kernel spec needs {_GENERATOR_ARITY[kind]} number(s), got {len(params)}"
            )
        if kind == "motion":
            _positive_number("motion length", params[0], "px", MAX_MOTION_LENGTH)
            _finite_number("motion angle", params[1], "°")
        elif kind == "defocus":
            _positive_number("defocus radius", params[0], "px", MAX_DEFOCUS_RADIUS)
        else:
            _positive_number("gaussian sigma", params[0], "px", MAX_GAUSSIAN_SIGMA)

    def to_string(self) -> str:
        """The spec as text (``motion:15,30``, ``defocus:4.5``, ``gaussian:2``, or the path)."""
        if self.kind == "file":
            return str(self.path)
        return f"{self.kind}:" + ",".join(_format_number(p) for p in self.params)

    def __str__(self) -> str:
        return self.to_string()


def parse_kernel_spec(text: str) -> KernelSpec:
    """Parse ``motion:LENGTH,ANGLE``, ``defocus:RADIUS``, ``gaussian:SIGMA`` or a .png/.npy path.

    Anything ending in .png/.npy is a file path (a drive letter such as ``C:`` is not a kind);
    other ``word:`` prefixes must be a known kind. Errors name the spec and what is wrong.
    """
    original = text
    text = str(text).strip()
    if not text:
        raise KernelError(f"empty kernel spec ({SPEC_HELP})")
    if text.lower().endswith(KERNEL_FILE_SUFFIXES):
        return KernelSpec("file", (), Path(text))
    match = _KIND_PREFIX.fullmatch(text)
    if match is None:
        suffix = Path(text).suffix.lower()
        if suffix:
            raise KernelError(
                f"kernel spec {original!r}: unsupported kernel file type {suffix!r} (use .png or .npy)"
            )
        raise KernelError(f"kernel spec {original!r} is not understood ({SPEC_HELP})")
    kind, body = match.group(1).lower(), match.group(2)
    if kind not in _GENERATOR_ARITY:
        raise KernelError(f"kernel spec {original!r}: unknown kind {match.group(1)!r} ({SPEC_HELP})")
    fields = [field.strip() for field in body.split(",")]
    arity = _GENERATOR_ARITY[kind]
    usage = _USAGE[kind]
    if len(fields) != arity or not all(fields):
        raise KernelError(f"kernel spec {original!r}: expected {usage}")
    for field in fields:
        if not _NUMBER.fullmatch(field):
            raise KernelError(f"kernel spec {original!r}: {field!r} is not a number (expected {usage})")
    try:
        return KernelSpec(kind, tuple(float(f) for f in fields))
    except KernelError as error:
        raise KernelError(f"kernel spec {original!r}: {error}") from None


def kernel_from_spec(spec: KernelSpec | str | os.PathLike[str]) -> np.ndarray:
    """Make the kernel a spec (object, text or path) describes: one entry point for CLI and settings."""
    if isinstance(spec, os.PathLike):
        spec = KernelSpec("file", (), Path(spec))
    elif not isinstance(spec, KernelSpec):
        spec = parse_kernel_spec(spec)
    if spec.kind == "motion":
        return motion_kernel(*spec.params)
    if spec.kind == "defocus":
        return defocus_kernel(spec.params[0])
    if spec.kind == "gaussian":
        return gaussian_kernel(spec.params[0])
    assert spec.path is not None
    return load_kernel(spec.path)


def _plain_number(value: float) -> str:
    """A parameter as people write it: "15", "4.5", "2.25"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def describe_kernel_spec(spec: str) -> str:
    """A kernel spec in plain words for status lines and batch rows ("motion blur 15 px at 30°").

    'auto' reads "estimated from each photo", '' "no blur kernel chosen". Never raises: a spec
    that does not parse reads "unknown blur setting '<spec>'", so a damaged queue row still renders.
    """
    text = str(spec).strip()
    if text.lower() == "auto":
        return "estimated from each photo"
    if not text:
        return "no blur kernel chosen"
    try:
        parsed = parse_kernel_spec(text)
    except KernelError:
        return f"unknown blur setting '{text}'"
    if parsed.kind == "motion":
        length, angle = parsed.params
        return f"motion blur {_plain_number(length)} px at {_plain_number(angle % 180.0)}°"
    if parsed.kind == "defocus":
        return f"defocus, radius {_plain_number(parsed.params[0])} px"
    if parsed.kind == "gaussian":
        return f"Gaussian blur, sigma {_plain_number(parsed.params[0])} px"
    assert parsed.path is not None
    return f"kernel from file {parsed.path.name}"
