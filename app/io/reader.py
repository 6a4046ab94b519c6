"""Read photos from disk into a `Photo` (float32 RGB in [0, 1] plus alpha and metadata).

Decoder choice, and why:

* The container is identified from the file's magic bytes (after an extension check), so a
  renamed file is decoded correctly and a text file named '.jpg' gets a clear message.
* The header (size, ICC, EXIF, orientation) is read lazily, and the decompression-bomb
  limit is enforced *before* any pixels are decoded. Pillow's own bomb check is switched off
  (``Image.MAX_IMAGE_PIXELS = None``) because its default (89/179 MP) would fire before our
  documented 200 MP limit and with a less helpful message; this module is the guard.
* 8-bit (and lower) data is decoded by Pillow: it covers every mode we meet (palette, grey
  + alpha, tRNS transparency, CMYK JPEG, 1-bit) and its ``load()`` raises on truncated
  files instead of silently filling the rest with grey.
* 16-bit PNG is decoded by OpenCV (``cv2.imdecode`` of the bytes, so non-ASCII paths work;
  IMREAD_UNCHANGED so it neither converts to 8 bits nor applies EXIF rotation), because
  Pillow cannot hold 16-bit RGB. Truncation is caught by walking the chunks to IEND first.
* High-bit TIFF is decoded by tifffile when it has the codec (exact sample layout, grey +
  alpha, float, planar), falling back to OpenCV/libtiff for codecs tifffile lacks without
  `imagecodecs` (LZW, JPEG). Strip/tile extents are checked against the file size first.
* Integers are converted to float32 exactly once (x / 255 or x / 65535); 16-bit data never
  passes through 8 bits. EXIF orientation is applied here with numpy (all decoders behave
  the same) and the stored EXIF is patched to Orientation=1.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image

from app.errors import ImageReadError
from app.io.metadata import (
    ORIENTATION_TAG,
    ICC_TAG,
    apply_orientation,
    exif_from_tiff,
    exif_orientation,
    icc_colour_space,
    normalize_exif,
    oriented_size,
    reset_exif_orientation,
)
from app.io.photo import Photo

# Our limit (max_pixels) is the decompression-bomb guard; see the module docstring.
Image.MAX_IMAGE_PIXELS = None
# tifffile logs parse problems we already turn into ImageReadError; without a handler of its
# own Python's last-resort handler would print them to stderr. Apps that configure logging
# still receive them through propagation.
logging.getLogger("tifffile").addHandler(logging.NullHandler())

DEFAULT_MAX_PIXELS = 200_000_000
SUPPORTED_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"})

_FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "webp": "WebP", "bmp": "BMP"}
_SUPPORTED_TEXT = "supported: JPEG, PNG, TIFF, WebP, BMP"
_PIL_FORMATS = {
    "jpeg": ["JPEG", "MPO"],  # cameras often write MPO (JPEG + preview frames)
    "png": ["PNG"],
    "webp": ["WEBP"],
    "bmp": ["BMP"],
    "tiff": ["TIFF"],
}

_Decoded = tuple[np.ndarray, "np.ndarray | None", int]  # colour (HxW or HxWx3), alpha, max value


# --------------------------------------------------------------------------- public API


def read_photo(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode an image file into a `Photo`, EXIF orientation applied.

    Why one entry point: every caller (CLI, GUI, batch) gets the same validation, the same
    float conversion and the same metadata handling. Raises ImageReadError (one line naming
    the file and the cause) for anything that isn't a readable, supported, sane-sized image.
    """
    p = Path(path)
    _check_path(p)
    data = _read_bytes(p)
    kind = _identify(p, data)
    if kind == "tiff":
        colour, alpha, maxv, orientation, icc = _read_tiff(p, data, max_pixels)
        exif = exif_from_tiff(data)
    else:
        colour, alpha, maxv, icc, exif = _read_with_pil(p, data, kind, max_pixels)
        orientation = exif_orientation(exif)
    if icc_colour_space(icc) not in ("RGB", "GRAY"):
        icc = None  # e.g. a CMYK profile no longer describes the converted RGB pixels
    if exif is not None:
        exif = reset_exif_orientation(exif, drop_thumbnail=orientation != 1)

    is_grey = colour.ndim == 2
    try:
        colour = apply_orientation(colour, orientation)
        if alpha is not None:
            alpha = _to_unit_float(apply_orientation(alpha, orientation), maxv)
        rgb = _to_unit_float(colour, maxv)
        if is_grey:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    except MemoryError as exc:
        raise _out_of_memory(p) from exc
    return Photo(
        pixels=np.ascontiguousarray(rgb),
        alpha=alpha,
        is_grey=is_grey,
        bit_depth=8 if maxv == 255 else 16,
        format=kind,
        icc_profile=icc or None,
        exif=exif,
        source=p,
    )


def probe_photo(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), from the header only.

    Why: the GUI/batch code needs sizes (memory estimates, tile plans, rejecting bombs) for
    many files without decoding them. Same path/format/size validation as `read_photo`;
    corruption past the header is only found by `read_photo`.
    """
    p = Path(path)
    _check_path(p)
    try:
        with open(p, "rb") as fp:
            kind = _identify(p, fp.read(32))
            fp.seek(0)
            if kind == "tiff":
                with _open_tiff(p, fp) as tif:
                    page = tif.pages[0]
                    width, height = int(page.imagewidth), int(page.imagelength)
                    orientation = _tiff_orientation(page)
            else:
                with _open_pil(p, fp, kind) as im:
                    width, height = im.size
                    orientation = exif_orientation(normalize_exif(im.info.get("exif")))
    except OSError as exc:
        raise ImageReadError(p, _os_cause(exc)) from exc
    _check_size(p, width, height, max_pixels)
    return oriented_size(width, height, orientation)


# --------------------------------------------------------------------------- validation


def _check_path(p: Path) -> None:
    """Reject missing paths, folders, unsupported extensions and empty files up front."""
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ImageReadError(p, "no such file") from exc
    except OSError as exc:
        raise ImageReadError(p, _os_cause(exc)) from exc
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(p, "is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(p, "not a regular file")
    ext = p.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{p.suffix}'" if p.suffix else "(no extension)"
        raise ImageReadError(
            p, f"unsupported format {shown} (supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})"
        )
    if st.st_size == 0:
        raise ImageReadError(p, "empty file (0 bytes)")


def _read_bytes(p: Path) -> bytes:
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageReadError(p, _os_cause(exc)) from exc
    if not data:
        raise ImageReadError(p, "empty file (0 bytes)")
    return data


def _os_cause(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "cannot read: permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an image file"
    return f"cannot read: {exc.strerror or exc}"


def _sniff(head: bytes) -> str | None:
    """Our container kind from the magic bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM":
        return "bmp"
    return None


def _foreign_format(head: bytes) -> str | None:
    """Name of a recognisable image format we don't support, for a precise message."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"mif1", b"msf1"):
            return "HEIF/HEIC"
        return "ISO media (video/HEIF)"
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.startswith(b"8BPS"):
        return "Photoshop PSD"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG 2000"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL "):
        return "JPEG XL"
    if head.startswith(b"qoif"):
        return "QOI"
    return None


def _identify(p: Path, head: bytes) -> str:
    kind = _sniff(head)
    if kind is not None:
        return kind
    foreign = _foreign_format(head)
    if foreign is not None:
        raise ImageReadError(p, f"unsupported format {foreign} ({_SUPPORTED_TEXT})")
    raise ImageReadError(p, f"not an image (unrecognised format; {_SUPPORTED_TEXT})")


def _check_size(p: Path, width: int, height: int, max_pixels: int) -> None:
    """Decompression-bomb guard, applied to the header's size before decoding pixels."""
    if width <= 0 or height <= 0:
        raise ImageReadError(p, f"corrupt header (size {width}x{height})")
    n = width * height
    if n > max_pixels:
        raise ImageReadError(
            p,
            f"image is {n / 1e6:.1f} megapixels, over the {max_pixels / 1e6:g} MP limit "
            "(decompression bomb?)",
        )


def _corrupt(p: Path, kind: str, exc: BaseException | str) -> ImageReadError:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if len(detail) > 120:
        detail = detail[:117] + "..."
    return ImageReadError(p, f"truncated or corrupt {_FORMAT_NAMES[kind]} file ({detail})")


def _out_of_memory(p: Path) -> ImageReadError:
    return ImageReadError(p, "not enough memory to decode this image")


# --------------------------------------------------------------------------- Pillow formats


@contextmanager
def _open_pil(p: Path, fp: BinaryIO, kind: str) -> Iterator[Image.Image]:
    try:
        im = Image.open(fp, formats=_PIL_FORMATS[kind])
    except MemoryError as exc:
        raise _out_of_memory(p) from exc
    except Exception as exc:  # Pillow raises many types on bad headers
        raise _corrupt(p, kind, exc) from exc
    with im:
        yield im


def _check_declared_length(p: Path, kind: str, data: bytes) -> None:
    """WebP (RIFF) and BMP headers state the file size: a shorter file was cut off."""
    if kind == "webp" and len(data) >= 8:
        declared = struct.unpack_from("<I", data, 4)[0] + 8
    elif kind == "bmp" and len(data) >= 6:
        declared = struct.unpack_from("<I", data, 2)[0]  # 0 in some files: no information
    else:
        return
    if len(data) < declared:
        raise _corrupt(p, kind, f"file has {len(data)} of the {declared} bytes its header declares")


def _read_with_pil(
    p: Path, data: bytes, kind: str, max_pixels: int
) -> tuple[np.ndarray, np.ndarray | None, int, bytes | None, bytes | None]:
    _check_declared_length(p, kind, data)
    with _open_pil(p, io.BytesIO(data), kind) as im:
        _check_size(p, im.size[0], im.size[1], max_pixels)
        try:
            if kind == "png" and len(data) > 25 and data[24] == 16:
                colour, alpha, maxv = _decode_png16(p, data)
            else:
                colour, alpha, maxv = _decode_pil(p, im)
        except ImageReadError:
            raise
        except MemoryError as exc:
            raise _out_of_memory(p) from exc
        except Exception as exc:
            raise _corrupt(p, kind, exc) from exc
        # read after decoding: PNG eXIf/iCCP after IDAT only appear once loaded
        icc = im.info.get("icc_profile") or None
        exif = normalize_exif(im.info.get("exif"))
    return colour, alpha, maxv, icc, exif


def _decode_pil(p: Path, im: Image.Image) -> _Decoded:
    """Decode with Pillow (<= 8 bits per sample, or 16-bit grey) into colour/alpha arrays."""
    im.load()  # raises on truncated data (ImageFile.LOAD_TRUNCATED_IMAGES is False)
    mode = im.mode
    transparent = "transparency" in im.info
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16, copy=False), None, 65535
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ImageReadError(p, "unsupported 32-bit integer pixels")
        return arr.astype(np.uint16), None, 65535
    if mode == "F":
        return np.asarray(im, dtype=np.float32), None, 0
    if mode == "1" or (mode == "L" and not transparent):
        target = "L"
    elif mode in ("L", "LA", "La"):
        target = "LA"
    elif mode in ("P", "PA", "RGB"):
        target = "RGBA" if transparent or mode == "PA" else "RGB"
    elif mode in ("RGBA", "RGBa"):
        target = "RGBA"
    else:  # RGBX, CMYK, YCbCr, LAB, HSV: plain conversion (CMYK ICC is dropped later)
        target = "RGB"
    if target != mode:
        im = im.convert(target)
    arr = np.asarray(im)
    if target == "L":
        return arr, None, 255
    if target == "LA":
        return arr[:, :, 0], arr[:, :, 1], 255
    if target == "RGB":
        return arr, None, 255
    return arr[:, :, :3], arr[:, :, 3], 255


def _check_png_complete(p: Path, data: bytes) -> None:
    """Walk the PNG chunks to IEND: cheap proof the file isn't cut short."""
    pos, n = 8, len(data)
    seen_idat = False
    while pos + 8 <= n:
        (length,) = struct.unpack_from(">I", data, pos)
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            break
        if ctype == b"IDAT":
            seen_idat = True
        if ctype == b"IEND":
            if not seen_idat:
                raise _corrupt(p, "png", "no image data")
            return
        pos = end
    raise _corrupt(p, "png", "file ends before the IEND chunk")


def _decode_png16(p: Path, data: bytes) -> _Decoded:
    """16-bit PNG through OpenCV, which (unlike Pillow) keeps 16-bit RGB(A)."""
    _check_png_complete(p, data)
    colour_type = data[25]
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise _corrupt(p, "png", "decoder rejected the data")
    if arr.dtype != np.uint16:
        raise _corrupt(p, "png", f"expected 16-bit samples, decoder gave {arr.dtype}")
    colour, alpha = _split_cv2(arr)
    if colour_type in (0, 4) and colour.ndim == 3:  # grey(+alpha) expanded by the decoder
        colour = colour[:, :, 0]
    return colour, alpha, 65535


def _split_cv2(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """OpenCV's BGR(A) layout -> RGB colour + alpha."""
    if arr.ndim == 2:
        return arr, None
    channels = arr.shape[2]
    if channels == 1:
        return arr[:, :, 0], None
    # cvtColor gives contiguous RGB; the float conversion of a reversed view is ~2x slower
    if channels == 3:
        return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB), None
    if channels == 4:
        rgba = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
        return rgba[:, :, :3], rgba[:, :, 3]
    raise ValueError(f"unexpected {channels} channels")


# --------------------------------------------------------------------------- TIFF


def _check_tiff_directory(p: Path, fp: BinaryIO) -> None:
    """The first IFD must lie inside the file (writers like libtiff put it at the end)."""
    head = fp.read(16)
    size = fp.seek(0, os.SEEK_END)
    fp.seek(0)
    endian = "<" if head[:2] == b"II" else ">"
    if len(head) < 8:
        raise _corrupt(p, "tiff", "file ends inside the header")
    if head[2:4] in (b"*\x00", b"\x00*"):
        offset = struct.unpack_from(endian + "I", head, 4)[0]
    elif len(head) >= 16:
        offset = struct.unpack_from(endian + "Q", head, 8)[0]  # BigTIFF
    else:
        raise _corrupt(p, "tiff", "file ends inside the header")
    if offset + 2 > size:
        raise _corrupt(p, "tiff", "file ends before the image directory")


@contextmanager
def _open_tiff(p: Path, fp: BinaryIO) -> Iterator[tifffile.TiffFile]:
    _check_tiff_directory(p, fp)
    try:
        tif = tifffile.TiffFile(fp)
    except MemoryError as exc:
        raise _out_of_memory(p) from exc
    except Exception as exc:
        raise _corrupt(p, "tiff", exc) from exc
    with tif:
        if not tif.pages:
            raise _corrupt(p, "tiff", "no image in file")
        yield tif


def _tiff_orientation(page: tifffile.TiffPage) -> int:
    tag = page.tags.get(ORIENTATION_TAG)
    try:
        value = int(tag.value) if tag is not None else 1
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _read_tiff(
    p: Path, data: bytes, max_pixels: int
) -> tuple[np.ndarray, np.ndarray | None, int, int, bytes | None]:
    with _open_tiff(p, io.BytesIO(data)) as tif:
        page = tif.pages[0]
        try:
            width, height = int(page.imagewidth), int(page.imagelength)
        except Exception as exc:
            raise _corrupt(p, "tiff", exc) from exc
        _check_size(p, width, height, max_pixels)
        orientation = _tiff_orientation(page)
        icc_tag = page.tags.get(ICC_TAG)
        icc = bytes(icc_tag.value) if icc_tag is not None else None
        try:
            colour, alpha, maxv = _decode_tiff(p, data, page)
        except ImageReadError:
            raise
        except MemoryError as exc:
            raise _out_of_memory(p) from exc
        except Exception as exc:
            raise _corrupt(p, "tiff", exc) from exc
    return colour, alpha, maxv, orientation, icc


def _decode_tiff(p: Path, data: bytes, page: tifffile.TiffPage) -> _Decoded:
    """tifffile (exact), else Pillow (<= 8 bit, exotic photometrics), else OpenCV/libtiff."""
    for offset, count in zip(page.dataoffsets, page.databytecounts):
        if count and offset + count > len(data):
            raise _corrupt(p, "tiff", "file ends inside the image data")
    photometric = int(page.photometric)
    bits = int(page.bitspersample)
    dtype = np.dtype(page.dtype) if page.dtype is not None else None
    errors: list[str] = []

    plain = photometric in (0, 1, 2) and dtype is not None and (
        (dtype.kind == "u" and bits in (8, 16)) or dtype.kind == "f"
    )
    if plain:
        try:
            return _tiff_from_tifffile(page)
        except Exception as exc:  # typically a codec needing `imagecodecs`
            errors.append(str(exc))

    if bits <= 8:
        try:
            with Image.open(io.BytesIO(data), formats=["TIFF"]) as im:
                return _decode_pil(p, im)
        except ImageReadError:
            raise
        except Exception as exc:
            errors.append(str(exc))

    unsigned = dtype is not None and dtype.kind == "u"
    layout_ok = photometric in (1, 2) and int(page.samplesperpixel) in (1, 3, 4)
    if unsigned and bits in (8, 16) and layout_ok:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        expected = {8: np.uint8, 16: np.uint16}.get(bits)
        if arr is not None and expected is not None and arr.dtype == expected:
            colour, alpha = _split_cv2(arr)
            if photometric == 1 and colour.ndim == 3:
                colour = colour[:, :, 0]
            return colour, alpha, 255 if bits == 8 else 65535
        errors.append("libtiff could not decode it")

    if not errors:
        kind = {"u": "unsigned integer", "i": "signed integer", "f": "float"}.get(
            dtype.kind if dtype is not None else "", "unknown"
        )
        raise ImageReadError(
            p,
            f"unsupported TIFF pixel format ({bits}-bit {kind}, photometric {photometric}); "
            "8/16-bit integer or float RGB/grey is supported",
        )
    raise _corrupt(p, "tiff", errors[0])


def _tiff_from_tifffile(page: tifffile.TiffPage) -> _Decoded:
    arr = page.asarray()
    axes = page.axes
    if axes == "SYX":
        arr = np.moveaxis(arr, 0, -1)
    elif axes not in ("YX", "YXS"):
        raise ValueError(f"unsupported TIFF axes {axes}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    photometric = int(page.photometric)
    n_colour = 3 if photometric == 2 else 1
    if arr.shape[2] < n_colour:
        raise ValueError("fewer samples than the colour model needs")
    colour = arr[:, :, :n_colour]
    alpha = None
    extras = tuple(int(e) for e in (page.extrasamples or ()))
    if arr.shape[2] > n_colour and extras and extras[0] in (1, 2):  # associated/unassociated
        alpha = arr[:, :, n_colour]
    if n_colour == 1:
        colour = colour[:, :, 0]

    if arr.dtype.kind == "f":
        colour = colour.astype(np.float32)
        alpha = alpha.astype(np.float32) if alpha is not None else None
        maxv = 0
        if photometric == 0:
            colour = 1.0 - colour
    else:
        maxv = 255 if arr.dtype == np.uint8 else 65535
        if photometric == 0:
            colour = maxv - colour
    return colour, alpha, maxv


# --------------------------------------------------------------------------- conversion


def _to_unit_float(arr: np.ndarray, maxv: int) -> np.ndarray:
    """Integer samples -> float32 [0, 1] in one step (maxv == 0 means already float)."""
    if maxv == 0:
        out = np.nan_to_num(np.asarray(arr, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.ascontiguousarray(np.clip(out, 0.0, 1.0, out=out))
    return np.ascontiguousarray(np.divide(arr, maxv, dtype=np.float32))
