"""Synthetic camera noise: what a real photo's noise looks like after the camera has processed it.

Estimators and denoisers tuned on additive white Gaussian noise (AWGN) misjudge real photos: sensor
noise is Poisson-Gaussian in the *raw* data (brighter -> more noise in absolute terms), and the
camera then demosaics (neighbouring pixels share noise), applies white balance and a colour matrix
(noise mixes and grows across channels), a gamma curve (dark noise is stretched) and JPEG (fine
noise is partly removed, blocky noise remains). This module reproduces that chain on a clean sRGB
image so "auto" noise estimation can be tested and tuned against a known ground truth:

    sRGB -> linear -> inverse colour matrix -> inverse white balance -> RGGB mosaic
    -> Poisson (shot: var = shot * x) + Gaussian (read: var = read) noise
    -> bilinear demosaic -> white balance -> colour matrix -> sRGB gamma -> 8 bit / JPEG

By default the *signal* is treated as perfectly demosaiced while the *noise* goes through the
bilinear demosaic (exact, because bilinear demosaicing is linear): that keeps the clean image the
true ground truth, so a PSNR against it measures denoising, not demosaicing error. Pass
``demosaic_signal=True`` to demosaic the noisy mosaic as a whole instead (OpenCV edge-aware).

``simulate_camera(clean, CameraPipeline(...), rng)`` widens this to the cameras real photos come
from (ISO-driven sensor noise, several demosaics and colour matrices, tone curve, in-camera noise
reduction and sharpening, JPEG quality and chroma subsampling) and returns the noisy photo with the
reference a real noisy/clean pair would hold; ``random_pipeline(rng, kind)`` draws such cameras
from documented ranges, and ``realism_report`` compares their residuals with real SIDD pairs.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image

# Camera RGB -> linear sRGB, a typical daylight matrix of a consumer sensor (rows sum to 1 so
# grey stays grey). Its negative off-diagonals are what amplify and mix noise between channels.
CAMERA_TO_SRGB = np.array(
    [
        [1.78, -0.68, -0.10],
        [-0.22, 1.56, -0.34],
        [0.04, -0.52, 1.48],
    ],
    dtype=np.float32,
)
SRGB_TO_CAMERA = np.linalg.inv(CAMERA_TO_SRGB).astype(np.float32)
# Daylight white-balance gains (R, G, B): the red and blue photosites see less light than green,
# so their (noisier) raw values are multiplied up.
WHITE_BALANCE = np.array([2.0, 1.0, 1.6], dtype=np.float32)


@dataclass(frozen=True)
class CameraPreset:
    """Sensor noise parameters in raw units (linear, [0, 1] = black..white level)."""

    shot: float  # Poisson gain: variance = shot * signal
    read: float  # Gaussian read-noise variance
    description: str


# Light / medium / heavy noise, in the range of the "Unprocessing" camera statistics
# (Brooks et al., CVPR 2019: log-shot noise 1e-4..1.2e-2, read noise growing with it). On a mid-grey
# (0.45) patch the sRGB noise std is about 3 / 8 / 20 (0-255) after JPEG 90 and 5 / 12 / 28 without;
# the best FFDNet sigma on CBSD68 is about 6-11 / 13-25 / 28-55.
CAMERA_PRESETS: dict[str, CameraPreset] = {
    "iso800": CameraPreset(shot=6e-4, read=4e-6, description="light noise, indoor daylight"),
    "iso3200": CameraPreset(shot=2.5e-3, read=4e-5, description="medium noise, dim interior"),
    "iso12800": CameraPreset(shot=1e-2, read=4e-4, description="heavy noise, night scene"),
}


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve, because sensor noise is defined on linear light."""
    srgb = np.clip(srgb, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Apply the sRGB transfer curve, as the camera does before saving (it stretches dark noise)."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def _bayer_masks(height: int, width: int) -> np.ndarray:
    """Boolean (3, H, W) masks of the R, G, B photosites of an RGGB mosaic."""
    masks = np.zeros((3, height, width), dtype=bool)
    masks[0, 0::2, 0::2] = True
    masks[1, 0::2, 1::2] = True
    masks[1, 1::2, 0::2] = True
    masks[2, 1::2, 1::2] = True
    return masks


def mosaic_rggb(rgb: np.ndarray) -> np.ndarray:
    """Keep one colour per pixel (RGGB), as a Bayer sensor records it."""
    masks = _bayer_masks(*rgb.shape[:2])
    return np.einsum("chw,hwc->hw", masks.astype(rgb.dtype), rgb).astype(np.float32)


_KERNEL_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 4.0
_KERNEL_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float32) / 4.0


def demosaic_bilinear(raw: np.ndarray) -> np.ndarray:
    """Bilinear RGGB demosaic on float data (linear, so it can be applied to noise alone).

    This is what spreads each photosite's noise over its neighbours: the source of the spatial
    correlation that white-noise estimators miss.
    """
    masks = _bayer_masks(*raw.shape)
    out = np.empty(raw.shape + (3,), dtype=np.float32)
    for channel, kernel in ((0, _KERNEL_RB), (1, _KERNEL_G), (2, _KERNEL_RB)):
        plane = np.where(masks[channel], raw, 0.0).astype(np.float32)
        out[..., channel] = cv2.filter2D(plane, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return out


def _demosaic_opencv(raw: np.ndarray) -> np.ndarray:
    """Edge-aware OpenCV demosaic of a [0, 1] RGGB mosaic (16-bit internally)."""
    raw16 = np.round(np.clip(raw, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return cv2.cvtColor(raw16, cv2.COLOR_BayerRGGB2RGB_EA).astype(np.float32) / 65535.0


def _jpeg_roundtrip(rgb8: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode with OpenCV's libjpeg (4:2:0 chroma), as a camera or phone saves photos."""
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(rgb8[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buffer, cv2.IMREAD_COLOR)[..., ::-1]


def raw_noise(raw: np.ndarray, *, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson-Gaussian sensor noise (noise only, same shape as ``raw``).

    Shot noise is drawn as a true Poisson count (photons) with ``shot`` as the gain from one
    photo-electron to raw units, so its variance is ``shot * raw``; read noise is Gaussian.
    """
    signal = np.clip(raw, 0.0, None).astype(np.float64)
    noise = np.zeros(raw.shape, dtype=np.float64)
    if shot > 0:
        noise += rng.poisson(signal / shot) * shot - signal
    if read > 0:
        noise += rng.normal(0.0, np.sqrt(read), size=raw.shape)
    return noise.astype(np.float32)


def simulate_camera_noise(
    clean_rgb: np.ndarray,
    *,
    shot: float,
    read: float,
    jpeg_quality: int | None = 90,
    rng: np.random.Generator,
    demosaic_signal: bool = False,
) -> np.ndarray:
    """Turn a clean sRGB image into what a camera would have saved, noise included.

    ``clean_rgb``: float HxWx3 sRGB in [0, 1]. ``shot``/``read``: raw-domain noise parameters
    (see ``CAMERA_PRESETS``). ``jpeg_quality``: None saves losslessly (still 8 bit, like a
    camera TIFF/PNG). Returns float32 HxWx3 in [0, 1]; deterministic for a given ``rng`` state.
    """
    clean = np.asarray(clean_rgb, dtype=np.float32)
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {clean.shape}")
    camera = srgb_to_linear(clean) @ SRGB_TO_CAMERA.T  # linear camera RGB (white balanced)
    raw_rgb = camera / WHITE_BALANCE  # what each photosite colour really collected
    raw = mosaic_rggb(np.clip(raw_rgb, 0.0, 1.0))
    noise = raw_noise(raw, shot=shot, read=read, rng=rng)
    if demosaic_signal:
        noisy_raw_rgb = _demosaic_opencv(raw + noise)
    else:
        # Bilinear demosaic is linear: D(M x + n) = D(M x) + D(n). Keeping x instead of D(M x)
        # is an ideal demosaic of the signal, with the noise exactly as the camera spreads it.
        noisy_raw_rgb = raw_rgb + demosaic_bilinear(noise)
    noisy_linear = (noisy_raw_rgb * WHITE_BALANCE) @ CAMERA_TO_SRGB.T
    out8 = np.round(linear_to_srgb(noisy_linear) * 255.0).astype(np.uint8)
    if jpeg_quality is not None:
        out8 = _jpeg_roundtrip(out8, jpeg_quality)
    return out8.astype(np.float32) / 255.0


def simulate_preset(
    clean_rgb: np.ndarray, preset: str, *, jpeg_quality: int | None = 90, rng: np.random.Generator
) -> np.ndarray:
    """``simulate_camera_noise`` with a named preset from ``CAMERA_PRESETS`` (for tests and benchmarks)."""
    try:
        params = CAMERA_PRESETS[preset]
    except KeyError:
        raise KeyError(f"unknown camera preset '{preset}' (known: {', '.join(CAMERA_PRESETS)})") from None
    return simulate_camera_noise(clean_rgb, shot=params.shot, read=params.read, jpeg_quality=jpeg_quality, rng=rng)



# ---------------------------------------------------------------------------------------------
# Configurable camera pipelines: one camera + settings, noisy output and its matching reference.
# ---------------------------------------------------------------------------------------------

# XYZ (D65) -> camera matrices (x 10000) from dcraw's adobe_coeff table, the same data the
# "Unprocessing" paper (Brooks et al., CVPR 2019) uses for its Darmstadt cameras. The phone entry is
# the fourth matrix of that paper, the one not in dcraw's table (by elimination the Nexus 6P).
_XYZ_TO_CAMERA: dict[str, tuple[int, ...]] = {
    "canon_5d3": (6722, -635, -963, -4287, 12460, 2028, -908, 2162, 5668),
    "nikon_d800": (7866, -2108, -555, -4869, 12483, 2681, -1176, 2069, 7501),
    "sony_a7r": (4913, -541, -202, -6130, 13513, 2906, -1564, 2151, 7183),
    "olympus_ep5": (8380, -2630, -639, -2887, 10725, 2496, -627, 1427, 5438),
    "sony_rx100": (6596, -2079, -562, -4782, 13016, 1933, -970, 1581, 5181),
    "phone_nexus6p": (10234, -2969, -2266, -5625, 16328, -469, -703, 2188, 6406),
}
_SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


def _camera_to_srgb(xyz_to_camera: tuple[int, ...]) -> np.ndarray:
    """White-balanced camera RGB -> linear sRGB, normalised so grey stays grey (as dcraw does)."""
    srgb_to_camera = (np.array(xyz_to_camera, dtype=np.float64).reshape(3, 3) / 10000.0) @ _SRGB_TO_XYZ
    srgb_to_camera /= srgb_to_camera.sum(axis=1, keepdims=True)
    return np.linalg.inv(srgb_to_camera).astype(np.float32)


# Named colour matrices (camera -> linear sRGB). "phone_generic" is the one of ``simulate_camera_noise``.
COLOR_MATRICES: dict[str, np.ndarray] = {
    **{name: _camera_to_srgb(coeffs) for name, coeffs in _XYZ_TO_CAMERA.items()},
    "phone_generic": CAMERA_TO_SRGB,
}
DSLR_MATRICES = ("canon_5d3", "nikon_d800", "sony_a7r", "olympus_ep5")
PHONE_MATRICES = ("phone_nexus6p", "phone_generic")

DEMOSAICS = ("bilinear", "malvar", "edge_aware")
SUBSAMPLINGS = {"444": 0, "422": 1, "420": 2}  # Pillow's ``subsampling`` codes
# Standard 1/3-stop ISO values: random pipelines report the ISO a camera would show.
ISO_STOPS = (100, 125, 160, 200, 250, 320, 400, 500, 640, 800, 1000, 1250, 1600, 2000, 2500, 3200,
             4000, 5000, 6400, 8000, 10000, 12800)


@dataclass(frozen=True)
class SensorModel:
    """Raw noise of one sensor as a function of ISO, in raw units ([0, 1] = black..white level).

    Raising the ISO is analogue gain: white level is reached with ``100 / ISO`` times the
    photo-electrons of ISO 100, so the shot-noise gain grows proportionally to ISO. Read noise has
    the usual two parts: one before the amplifier (``read_electrons``, amplified with the ISO, the
    part that dominates at high ISO) and one after it (``read_floor``, the same at every ISO, what
    limits the shadows of DSLRs at base ISO). At high ISO this gives read ~ (e- x shot)^2, the line
    Brooks et al. 2019 fitted to real cameras (log read = 2.18 log shot + 1.2, about 1 e-).
    """

    full_well: float  # photo-electrons that reach white level at ISO 100
    read_electrons: float  # input-referred read noise std (electrons)
    read_floor: float  # output-referred read noise std (raw units)

    def noise_at(self, iso: float) -> tuple[float, float]:
        """(shot, read) for ``raw_noise`` at this ISO: variance = shot * signal + read."""
        if iso <= 0:
            raise ValueError(f"ISO must be positive, got {iso}")
        shot = (iso / 100.0) / self.full_well
        read = (self.read_electrons * shot) ** 2 + self.read_floor**2
        return shot, read


# Typical sensors (mid-range of the random ranges below): a full-frame/APS-C DSLR and a phone.
SENSORS: dict[str, SensorModel] = {
    "dslr": SensorModel(full_well=40000.0, read_electrons=1.2, read_floor=2e-4),
    "phone": SensorModel(full_well=5000.0, read_electrons=1.2, read_floor=2.5e-4),
}


@dataclass(frozen=True)
class CameraPipeline:
    """One camera and its settings, from raw noise to the saved file.

    Order, as in a camera: raw Poisson-Gaussian noise -> saturation at white -> white balance ->
    demosaic -> colour matrix -> sRGB gamma -> tone curve -> noise reduction (YCbCr) -> unsharp mask
    on luma -> 8 bit -> JPEG. ``noise_reduction`` (0..1) is tuned to the pipeline's own noise, as a
    camera tunes it per ISO, and smooths chroma much more than luma. ``tone`` (0..1) blends the sRGB
    curve towards the S-shaped smoothstep that "Unprocessing" assumes. ``demosaic_signal=False``
    demosaics the noise as the camera would but keeps the image itself perfectly demosaiced: test
    images such as CBSD68 are downsampled and much sharper than anything behind a lens and an
    anti-aliasing filter, so demosaicing them produces moire no real camera shows.
    """

    shot: float
    read: float
    iso: float | None = None  # for ``describe`` only: the noise is ``shot``/``read``
    device: str = "camera"  # "dslr", "phone" or anything else, for ``describe``
    white_balance: tuple[float, float, float] = (2.0, 1.0, 1.6)
    color_matrix: str = "phone_generic"  # a key of COLOR_MATRICES
    demosaic: str = "bilinear"  # "bilinear" (simple phone ISP), "malvar" or "edge_aware" (DSLR-like)
    demosaic_signal: bool = False
    tone: float = 0.0
    noise_reduction: float = 0.0
    sharpen: float = 0.0
    sharpen_radius: float = 1.0
    jpeg_quality: int | None = 90  # None: lossless 8 bit
    subsampling: str = "420"  # "420", "422" or "444"

    def __post_init__(self) -> None:
        if self.shot < 0 or self.read < 0:
            raise ValueError("shot and read noise must be >= 0")
        if len(self.white_balance) != 3 or min(self.white_balance) <= 0:
            raise ValueError("white_balance needs three positive gains (R, G, B)")
        if self.color_matrix not in COLOR_MATRICES:
            raise ValueError(f"unknown colour matrix '{self.color_matrix}' (known: {', '.join(COLOR_MATRICES)})")
        if self.demosaic not in DEMOSAICS:
            raise ValueError(f"demosaic must be one of {DEMOSAICS}, got '{self.demosaic}'")
        if self.subsampling not in SUBSAMPLINGS:
            raise ValueError(f"subsampling must be one of {tuple(SUBSAMPLINGS)}, got '{self.subsampling}'")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100 or None, got {self.jpeg_quality}")
        if not (0 <= self.tone <= 1 and 0 <= self.noise_reduction <= 1):
            raise ValueError("tone and noise_reduction must be in [0, 1]")
        if self.sharpen < 0 or self.sharpen_radius <= 0:
            raise ValueError("sharpen must be >= 0 and sharpen_radius > 0")

    @classmethod
    def from_iso(cls, iso: float, sensor: SensorModel | str = "dslr", **settings: object) -> CameraPipeline:
        """A pipeline whose raw noise comes from ``sensor`` at ``iso`` (other fields as keywords)."""
        model = SENSORS[sensor] if isinstance(sensor, str) else sensor
        shot, read = model.noise_at(iso)
        if isinstance(sensor, str):
            settings.setdefault("device", sensor)
        return cls(shot=shot, read=read, iso=iso, **settings)  # type: ignore[arg-type]

    def describe(self) -> str:
        """One line for reports, e.g. 'DSLR ISO 800, EA demosaic, NR 0.2, sharpen 0.6, JPEG 92 4:4:4'."""
        device = {"dslr": "DSLR", "phone": "Phone"}.get(self.device, self.device.capitalize())
        noise = f"ISO {self.iso:g}" if self.iso is not None else f"shot {self.shot:.1e} read {self.read:.1e}"
        demosaic = {"edge_aware": "EA", "malvar": "Malvar"}.get(self.demosaic, self.demosaic)
        parts = [f"{device} {noise}", f"{demosaic} demosaic"]
        if self.noise_reduction > 0:
            parts.append(f"NR {self.noise_reduction:.1f}")
        if self.sharpen > 0:
            parts.append(f"sharpen {self.sharpen:.1f}")
        if self.jpeg_quality is None:
            parts.append("lossless")
        else:
            parts.append(f"JPEG {self.jpeg_quality} {self.subsampling[0]}:{self.subsampling[1]}:{self.subsampling[2]}")
        return ", ".join(parts)


def _tone_forward(srgb: np.ndarray, strength: float) -> np.ndarray:
    """Blend of identity and smoothstep: the S-curve camera JPEG engines put on top of sRGB gamma."""
    if strength == 0:
        return srgb
    return ((1 - strength) * srgb + strength * srgb * srgb * (3 - 2 * srgb)).astype(np.float32)


def _tone_inverse(srgb: np.ndarray, strength: float) -> np.ndarray:
    """Exact numerical inverse of ``_tone_forward`` (it is monotonic for strength <= 1)."""
    if strength == 0:
        return srgb
    grid = np.linspace(0.0, 1.0, 8193)
    return np.interp(np.clip(srgb, 0, 1), _tone_forward(grid, strength), grid).astype(np.float32)


# JPEG's (JFIF, full-range BT.601) colour transform: NR and sharpening work on the same luma/chroma.
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC).astype(np.float32)


# Malvar, He & Cutler (ICASSP 2004) gradient-corrected 5x5 kernels (MATLAB's ``demosaic``): each
# missing colour is the bilinear estimate plus the other channel's Laplacian, so high-frequency
# noise is shared between channels, as in the pipelines real sRGB noise comes from.
_MHC_G = np.array(
    [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]], np.float32
) / 8  # green at red and blue sites
_MHC_ROW = np.array(
    [[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, 0.5, 0, 0]], np.float32
) / 8  # a colour at a green site whose row holds that colour
_MHC_COL = np.ascontiguousarray(_MHC_ROW.T)
_MHC_DIAG = np.array(
    [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]], np.float32
) / 8  # red at blue sites and blue at red sites


def demosaic_malvar(raw: np.ndarray) -> np.ndarray:
    """Malvar-He-Cutler RGGB demosaic: linear like bilinear, but couples the channels' noise."""
    def filt(kernel: np.ndarray) -> np.ndarray:
        return cv2.filter2D(raw, -1, kernel, borderType=cv2.BORDER_REFLECT_101)

    at_g, at_row, at_col, at_diag = filt(_MHC_G), filt(_MHC_ROW), filt(_MHC_COL), filt(_MHC_DIAG)
    red, green, blue = at_g.copy(), at_g, at_g.copy()
    r_site, gr_site, gb_site, b_site = np.s_[0::2, 0::2], np.s_[0::2, 1::2], np.s_[1::2, 0::2], np.s_[1::2, 1::2]
    green[gr_site], green[gb_site] = raw[gr_site], raw[gb_site]
    red[r_site], red[b_site] = raw[r_site], at_diag[b_site]
    red[gr_site], red[gb_site] = at_row[gr_site], at_col[gb_site]
    blue[b_site], blue[r_site] = raw[b_site], at_diag[r_site]
    blue[gb_site], blue[gr_site] = at_row[gb_site], at_col[gr_site]
    return np.dstack([red, green, blue]).astype(np.float32)


def _demosaic_edge_aware(raw: np.ndarray) -> np.ndarray:
    """Green from OpenCV's edge-aware demosaic, red and blue from interpolated colour differences.

    OpenCV's EA interpolates red and blue per channel; the edge-directed demosaics of cameras
    (and AHD-type raw converters) interpolate R-G and B-G instead, which shares green's noise with
    the other channels. EA is shift- and scale-equivariant, so any raw range maps onto 16 bit.
    """
    low, high = float(raw.min()), float(raw.max())
    scale = (high - low) / 65535.0 or 1.0
    raw16 = np.round((raw - low) / scale).astype(np.uint16)
    green = cv2.cvtColor(raw16, cv2.COLOR_BayerRGGB2RGB_EA)[..., 1].astype(np.float32) * scale + low
    masks = _bayer_masks(*raw.shape)
    out = [green, green, green]
    for channel in (0, 2):
        difference = np.where(masks[channel], raw - green, 0.0).astype(np.float32)
        out[channel] = green + cv2.filter2D(difference, -1, _KERNEL_RB, borderType=cv2.BORDER_REFLECT_101)
    return np.dstack(out).astype(np.float32)


_DEMOSAIC_FUNCTIONS = {"bilinear": demosaic_bilinear, "malvar": demosaic_malvar, "edge_aware": _demosaic_edge_aware}
_LINEAR_DEMOSAICS = ("bilinear", "malvar")


def _noise_reduction(ycc: np.ndarray, strength: float, sigma_luma: float, sigma_chroma: float) -> np.ndarray:
    """Edge-preserving NR as camera JPEG engines do it: gentle on luma, wide and strong on chroma.

    Range sigmas follow the camera's noise profile (the noise it expects at this ISO), so the same
    setting acts on the noise, not on the picture, whatever the ISO.
    """
    out = ycc.copy()
    luma = np.ascontiguousarray(ycc[..., 0])
    space = 0.8 + 1.2 * strength
    smooth = cv2.bilateralFilter(
        luma, d=2 * math.ceil(1.5 * space) + 1, sigmaColor=max(2.0 * sigma_luma, 1e-4), sigmaSpace=space
    )
    out[..., 0] = luma + strength * (smooth - luma)
    chroma = np.ascontiguousarray(np.dstack([ycc[..., 1:], np.zeros_like(luma)]))
    radius = 1.5 + 3.5 * strength
    smooth_c = cv2.bilateralFilter(
        chroma, d=2 * math.ceil(1.5 * radius) + 1, sigmaColor=max(5.0 * sigma_chroma, 1e-4), sigmaSpace=radius
    )
    out[..., 1:] = ycc[..., 1:] + min(1.0, 2.0 * strength) * (smooth_c[..., :2] - ycc[..., 1:])
    return out


def _render(camera_rgb: np.ndarray, pipeline: CameraPipeline, profile: tuple[float, float] | None) -> np.ndarray:
    """White-balanced camera RGB -> float sRGB as the camera's JPEG engine makes it (before 8 bit)."""
    linear = camera_rgb @ COLOR_MATRICES[pipeline.color_matrix].T
    srgb = _tone_forward(linear_to_srgb(linear), pipeline.tone)
    if profile is None or (pipeline.noise_reduction == 0 and pipeline.sharpen == 0):
        return srgb
    ycc = srgb @ _RGB_TO_YCC.T
    if pipeline.noise_reduction > 0:
        ycc = _noise_reduction(ycc, pipeline.noise_reduction, *profile)
    if pipeline.sharpen > 0:
        luma = ycc[..., 0]
        ycc[..., 0] = luma + pipeline.sharpen * (luma - cv2.GaussianBlur(luma, (0, 0), pipeline.sharpen_radius))
    return np.clip(ycc @ _YCC_TO_RGB.T, 0.0, 1.0)


def _jpeg_pillow(rgb8: np.ndarray, quality: int, subsampling: str) -> np.ndarray:
    """JPEG round trip with Pillow (libjpeg), at the camera's quality and chroma subsampling."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb8, dtype=np.uint8)).save(
        buffer, format="JPEG", quality=int(quality), subsampling=SUBSAMPLINGS[subsampling]
    )
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def jpeg_roundtrip(rgb: np.ndarray, quality: int, subsampling: str = "420") -> np.ndarray:
    """A float RGB image in [0, 1] saved as an 8-bit JPEG and decoded again (Pillow), as float32."""
    rgb8 = np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    return _jpeg_pillow(rgb8, quality, subsampling).astype(np.float32) / 255.0


def _to_camera_mosaic(clean: np.ndarray, pipeline: CameraPipeline) -> tuple[np.ndarray, np.ndarray]:
    """Unprocess sRGB to what the photosites collected: (per-pixel raw RGB, RGGB mosaic)."""
    linear = srgb_to_linear(_tone_inverse(clean, pipeline.tone))
    camera = linear @ np.linalg.inv(COLOR_MATRICES[pipeline.color_matrix]).T.astype(np.float32)
    raw_rgb = np.clip(camera / np.asarray(pipeline.white_balance, np.float32), 0.0, 1.0)
    return raw_rgb, mosaic_rggb(raw_rgb)


def _camera_rgb(
    raw_rgb: np.ndarray, mosaic: np.ndarray, pipeline: CameraPipeline, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, noise-free) white-balanced, demosaiced camera RGB; ``rng=None`` means no noise."""
    gains = np.asarray(pipeline.white_balance, np.float32)
    masks = _bayer_masks(*mosaic.shape)
    mosaic_gain = np.einsum("chw,c->hw", masks.astype(np.float32), gains)
    noisy = mosaic
    if rng is not None:
        noise = raw_noise(mosaic, shot=pipeline.shot, read=pipeline.read, rng=rng)
        noisy = np.minimum(mosaic + noise, 1.0)  # the sensor saturates at white level
    demosaic = _DEMOSAIC_FUNCTIONS[pipeline.demosaic]
    if pipeline.demosaic_signal:
        return demosaic(noisy * mosaic_gain), demosaic(mosaic * mosaic_gain)
    reference = raw_rgb * gains
    if pipeline.demosaic in _LINEAR_DEMOSAICS:  # the noise alone is demosaiced exactly
        return reference + demosaic((noisy - mosaic) * mosaic_gain), reference
    return reference + demosaic(noisy * mosaic_gain) - demosaic(mosaic * mosaic_gain), reference


@lru_cache(maxsize=256)
def _noise_profile(pipeline: CameraPipeline) -> tuple[float, float]:
    """Luma and chroma noise std the camera expects on mid-grey: what its NR is tuned to."""
    grey = np.full((64, 64, 3), 0.45, np.float32)
    raw_rgb, mosaic = _to_camera_mosaic(grey, pipeline)
    noisy, clean = _camera_rgb(raw_rgb, mosaic, pipeline, np.random.default_rng(0))
    residual = (_render(noisy, pipeline, None) - _render(clean, pipeline, None)) @ _RGB_TO_YCC.T
    return float(residual[..., 0].std()), float(residual[..., 1:].std())


def simulate_camera(
    clean_rgb: np.ndarray, pipeline: CameraPipeline, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, reference): the camera's saved photo of ``clean_rgb`` and its noise-free counterpart.

    The reference is what a real noisy/clean pair holds: the same camera without noise and without
    JPEG (references are averages of many frames, which average JPEG errors away), so demosaicing,
    NR and sharpening act on both and the pair measures denoising only. Both are float32 HxWx3 in
    [0, 1] on the 8-bit grid; deterministic for a given ``rng`` state.
    """
    clean = np.asarray(clean_rgb, dtype=np.float32)
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {clean.shape}")
    raw_rgb, mosaic = _to_camera_mosaic(clean, pipeline)
    noisy_rgb, clean_rgb_cam = _camera_rgb(raw_rgb, mosaic, pipeline, rng)
    profile = _noise_profile(pipeline) if pipeline.noise_reduction > 0 else (0.0, 0.0)
    noisy8 = np.round(_render(noisy_rgb, pipeline, profile) * 255.0).astype(np.uint8)
    reference8 = np.round(_render(clean_rgb_cam, pipeline, profile) * 255.0).astype(np.uint8)
    if pipeline.jpeg_quality is not None:
        noisy8 = _jpeg_pillow(noisy8, pipeline.jpeg_quality, pipeline.subsampling)
    return noisy8.astype(np.float32) / 255.0, reference8.astype(np.float32) / 255.0


@dataclass(frozen=True)
class PipelineRanges:
    """Where ``random_pipeline`` draws each setting from, for one kind of camera.

    Pairs are (low, high): ISO, full well and read floor log-uniform (they span decades), the rest
    uniform; JPEG quality is a uniform integer; ``demosaic`` and ``subsampling`` map each choice to
    its probability.
    """

    device: str
    iso: tuple[float, float]
    full_well: tuple[float, float]
    read_electrons: tuple[float, float]
    read_floor: tuple[float, float]
    color_matrices: tuple[str, ...]
    demosaic: dict[str, float]
    tone: tuple[float, float]
    noise_reduction: tuple[float, float]
    sharpen: tuple[float, float]
    sharpen_radius: tuple[float, float]
    jpeg_quality: tuple[int, int] | None
    subsampling: dict[str, float]


# Sources of the ranges (the reasoning, not a measurement of this code):
# * Full well at ISO 100: full-frame/APS-C DSLRs hold about 25k-70k e- at base ISO, phone pixels
#   (1-1.6 um) a few thousand. Amplified read noise 0.8-1.6 e-: Brooks et al.'s fit to real cameras
#   (about 1 e-, +-2 of its standard deviations). The floor is the base-ISO shadow noise, a few
#   1e-4 of white level; it only matters below the shot range Brooks et al. measured.
# * White balance (R, B gains), daylight: Brooks et al. 2019 (1.9-2.4, 1.5-1.9), drawn per pipeline.
# * In-camera processing: DSLR JPEGs at default settings sharpen mildly, apply some chroma NR that
#   grows with ISO and save at high quality (Canon/Nikon "fine" ~ quality 90-98, mostly 4:2:2,
#   some 4:4:4); phones denoise and sharpen much harder and save 4:2:0 at quality ~70-95.
# * "phone_raw" is a phone sensor rendered by a plain software pipeline from raw (no NR, no
#   sharpening, lossless), as the sRGB images of SIDD are (ISO 100-10000 as in SIDD); its Malvar
#   demosaic reproduces SIDD's channel coupling and lag-1 autocorrelation (bilinear does not).
_DSLR_SUBSAMPLING = {"444": 0.3, "422": 0.5, "420": 0.2}
KINDS: dict[str, PipelineRanges] = {
    "dslr_jpeg_light": PipelineRanges(
        device="dslr", iso=(100, 1600), full_well=(25000, 70000), read_electrons=(0.8, 1.6),
        read_floor=(5e-5, 5e-4), color_matrices=DSLR_MATRICES, demosaic={"edge_aware": 0.7, "malvar": 0.3},
        tone=(0.0, 1.0), noise_reduction=(0.0, 0.3), sharpen=(0.2, 0.8), sharpen_radius=(0.8, 1.2),
        jpeg_quality=(85, 98), subsampling=_DSLR_SUBSAMPLING,
    ),
    "dslr_heavy": PipelineRanges(
        device="dslr", iso=(1600, 6400), full_well=(25000, 70000), read_electrons=(0.8, 1.6),
        read_floor=(5e-5, 5e-4), color_matrices=DSLR_MATRICES, demosaic={"edge_aware": 0.7, "malvar": 0.3},
        tone=(0.0, 1.0), noise_reduction=(0.2, 0.6), sharpen=(0.2, 0.8), sharpen_radius=(0.8, 1.2),
        jpeg_quality=(85, 98), subsampling=_DSLR_SUBSAMPLING,
    ),
    "phone": PipelineRanges(
        device="phone", iso=(400, 12800), full_well=(3000, 8000), read_electrons=(0.8, 1.6),
        read_floor=(1e-4, 5e-4), color_matrices=PHONE_MATRICES, demosaic={"bilinear": 0.5, "malvar": 0.5},
        tone=(0.0, 1.0), noise_reduction=(0.3, 1.0), sharpen=(0.6, 1.5), sharpen_radius=(0.7, 1.5),
        jpeg_quality=(70, 95), subsampling={"420": 1.0},
    ),
    "phone_raw": PipelineRanges(
        device="phone", iso=(100, 10000), full_well=(3000, 8000), read_electrons=(0.8, 1.6),
        read_floor=(1e-4, 5e-4), color_matrices=PHONE_MATRICES, demosaic={"malvar": 1.0},
        tone=(0.0, 0.5), noise_reduction=(0.0, 0.0), sharpen=(0.0, 0.0), sharpen_radius=(1.0, 1.0),
        jpeg_quality=None, subsampling={"420": 1.0},
    ),
}
WHITE_BALANCE_RANGES = {"red": (1.9, 2.4), "blue": (1.5, 1.9)}


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    options = sorted(weights)
    p = np.array([weights[o] for o in options], dtype=np.float64)
    return str(rng.choice(options, p=p / p.sum()))


def random_pipeline(rng: np.random.Generator, kind: str = "any") -> CameraPipeline:
    """A camera drawn from ``KINDS[kind]`` ("any": one of the kinds, each equally likely).

    ISO is snapped to the nearest 1/3-stop value a camera would show; noise reduction grows with
    the ISO within its range. Deterministic for a given ``rng`` state, which it advances.
    """
    if kind == "any":
        kind = str(rng.choice(sorted(KINDS)))
    try:
        ranges = KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown camera kind '{kind}' (known: any, {', '.join(KINDS)})") from None
    stops = [s for s in ISO_STOPS if ranges.iso[0] <= s <= ranges.iso[1]]
    iso = min(stops, key=lambda s: abs(math.log(s) - math.log(_log_uniform(rng, *ranges.iso))))
    sensor = SensorModel(
        full_well=_log_uniform(rng, *ranges.full_well),
        read_electrons=float(rng.uniform(*ranges.read_electrons)),
        read_floor=_log_uniform(rng, *ranges.read_floor),
    )
    # Cameras raise NR with ISO: the position in the NR range follows the position in the ISO
    # range (log scale), give or take a quarter of the range.
    iso_position = math.log(iso / ranges.iso[0]) / math.log(ranges.iso[1] / ranges.iso[0])
    nr_position = float(np.clip(iso_position + rng.uniform(-0.25, 0.25), 0.0, 1.0))
    nr_low, nr_high = ranges.noise_reduction
    red, blue = (float(rng.uniform(*WHITE_BALANCE_RANGES[c])) for c in ("red", "blue"))
    return CameraPipeline.from_iso(
        iso,
        sensor,
        device=ranges.device,
        white_balance=(red, 1.0, blue),
        color_matrix=str(rng.choice(ranges.color_matrices)),
        demosaic=_choose(rng, ranges.demosaic),
        tone=round(float(rng.uniform(*ranges.tone)), 3),
        noise_reduction=round(nr_low + (nr_high - nr_low) * nr_position, 3),
        sharpen=round(float(rng.uniform(*ranges.sharpen)), 3),
        sharpen_radius=round(float(rng.uniform(*ranges.sharpen_radius)), 3),
        jpeg_quality=None if ranges.jpeg_quality is None else int(rng.integers(*ranges.jpeg_quality, endpoint=True)),
        subsampling=_choose(rng, ranges.subsampling),
    )


@dataclass(frozen=True)
class ResidualStats:
    """Noise statistics of residual = noisy - reference, on the 0-255 scale."""

    std: tuple[float, float, float]  # per channel (R, G, B)
    lag1: tuple[float, float, float]  # lag-1 autocorrelation per channel, mean of horizontal and vertical
    luma_chroma: float  # std of luma over the RMS std of Cb and Cr (about 1.0 for white RGB noise)
    mean: float


def residual_stats(noisy: np.ndarray, reference: np.ndarray) -> ResidualStats:
    """Statistics that tell camera noise from white noise, for comparing synthetic and real pairs."""
    residual = (np.asarray(noisy, np.float64) - np.asarray(reference, np.float64)) * 255.0
    centred = residual - residual.mean(axis=(0, 1))
    power = np.mean(centred**2, axis=(0, 1))
    horizontal = np.mean(centred[:, 1:] * centred[:, :-1], axis=(0, 1)) / power
    vertical = np.mean(centred[1:] * centred[:-1], axis=(0, 1)) / power
    ycc = centred @ _RGB_TO_YCC.T.astype(np.float64)
    luma_chroma = ycc[..., 0].std() / math.sqrt((ycc[..., 1].var() + ycc[..., 2].var()) / 2)
    std = centred.std(axis=(0, 1))
    lag1 = (horizontal + vertical) / 2
    return ResidualStats(
        std=(float(std[0]), float(std[1]), float(std[2])),
        lag1=(float(lag1[0]), float(lag1[1]), float(lag1[2])),
        luma_chroma=float(luma_chroma),
        mean=float(residual.mean()),
    )


def _load_rgb(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return image[..., ::-1].astype(np.float32) / 255.0


def realism_report(data_dir: str, *, seed: int = 0, cbsd_images: int = 12) -> str:
    """Markdown table: residual statistics of the random kinds next to SIDD12's real pairs.

    Synthetic kinds run on the SIDD12 references (same content and exposure as the real pairs) and
    on CBSD68 images; "JPEG only" is the residual of the same pipeline without noise, the part of
    the residual that is compression of the picture rather than noise.
    """
    from pathlib import Path

    root = Path(data_dir)
    sidd = root / "real_noise" / "SIDD12"
    sidd_pairs = [(str(sidd / f"NOISY_{i}.png"), str(sidd / f"GT_{i}.png")) for i in range(12)]
    cbsd = [str(p) for p in sorted((root / "CBSD68").glob("*.png"))[:cbsd_images]]
    rng = np.random.default_rng(seed)
    rows = []

    def add(label: str, stats: list[ResidualStats], jpeg_only: list[float] | None) -> None:
        std = np.mean([s.std for s in stats], axis=0)
        overall = [math.sqrt(np.mean(np.square(s.std))) for s in stats]
        lag1 = np.mean([s.lag1 for s in stats], axis=0)
        jpeg = "-" if not jpeg_only else f"{np.mean(jpeg_only):.2f}"
        rows.append(
            f"| {label} | {len(stats)} | {std[0]:.1f} / {std[1]:.1f} / {std[2]:.1f} "
            f"| {min(overall):.1f}-{max(overall):.1f} "
            f"| {lag1[0]:.2f} / {lag1[1]:.2f} / {lag1[2]:.2f} | {np.mean([s.luma_chroma for s in stats]):.2f} "
            f"| {np.mean([s.mean for s in stats]):+.2f} | {jpeg} |"
        )

    add("SIDD12 real pairs", [residual_stats(_load_rgb(n), _load_rgb(c)) for n, c in sidd_pairs], None)
    sets = [("phone_raw", "SIDD12 GT"), ("phone", "SIDD12 GT"), ("phone", "CBSD68"),
            ("dslr_jpeg_light", "CBSD68"), ("dslr_heavy", "CBSD68")]
    for kind, source in sets:
        paths = [c for _, c in sidd_pairs] if source == "SIDD12 GT" else cbsd
        stats, lossless, jpeg_only = [], [], []
        for path in paths:
            clean = _load_rgb(path)
            pipeline = random_pipeline(rng, kind)
            state = rng.bit_generator.state
            stats.append(residual_stats(*simulate_camera(clean, pipeline, rng)))
            if pipeline.jpeg_quality is not None:
                rng.bit_generator.state = state  # the same noise, saved losslessly
                lossless.append(residual_stats(*simulate_camera(clean, replace(pipeline, jpeg_quality=None), rng)))
                silent = replace(pipeline, shot=0.0, read=0.0)
                compression = residual_stats(*simulate_camera(clean, silent, rng)).std
                jpeg_only.append(float(np.sqrt(np.mean(np.square(compression)))))
        add(f"{kind} on {source}", stats, jpeg_only)
        if lossless:
            add(f"{kind} on {source}, same noise lossless", lossless, None)
    header = (
        "| pairs | n | residual std R / G / B (0-255) | std range | lag-1 autocorr R / G / B "
        "| luma/chroma | mean | JPEG only |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([header, *rows])


__all__ = [
    "jpeg_roundtrip",
    "CAMERA_PRESETS",
    "CAMERA_TO_SRGB",
    "COLOR_MATRICES",
    "CameraPipeline",
    "CameraPreset",
    "DEMOSAICS",
    "KINDS",
    "PipelineRanges",
    "ResidualStats",
    "SENSORS",
    "SensorModel",
    "WHITE_BALANCE",
    "demosaic_bilinear",
    "demosaic_malvar",
    "linear_to_srgb",
    "mosaic_rggb",
    "random_pipeline",
    "raw_noise",
    "realism_report",
    "residual_stats",
    "simulate_camera",
    "simulate_camera_noise",
    "simulate_preset",
    "srgb_to_linear",
]
