"""Write a `Photo` to PNG / JPEG / TIFF / WebP, atomically, with its ICC profile and EXIF.

Encoder choice, and why:

* PNG (8 and 16 bit) and TIFF (8 and 16 bit) are encoded here with numpy + zlib. Neither
  Pillow nor OpenCV can write 16-bit grey + alpha, and neither writes ICC/EXIF into 16-bit
  files; owning these two simple containers gives one code path for every layout with the
  metadata included. PNG uses the 'Up' filter with zlib's RLE strategy (measured: same
  size as libpng's default, about as fast). TIFF is baseline: Adobe Deflate with the
  horizontal predictor, little-endian, contiguous strips, unassociated alpha; the IFD
  (including the EXIF/GPS sub-IFDs) is serialised by Pillow's ImageFileDirectory_v2.
* JPEG and WebP go through Pillow (8-bit only; `quality` applies). JPEG uses 4:4:4 chroma
  at quality >= 90, 4:2:0 below. WebP is always lossy.
* Pixels are converted to integers once: clip to [0, 1], NaN -> 0, multiply, np.round.

* BMP is written (8-bit, via Pillow, no metadata, no alpha) only so that a BMP input's
  default output name works; it is not one of the user-facing FORMATS.

Format limits, by design: JPEG drops alpha and EXIF blocks over 64 KiB (the APP1 limit);
WebP has no grey so grey photos are written as RGB (and read back as colour); an ICC
profile whose colour space doesn't match the written pixels (e.g. a GRAY profile on RGB
output) is dropped rather than mislabel the colours.

Writes go through `app.io.atomic.atomic_write`: complete or not at all, never through a link.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, TiffImagePlugin

from app.errors import ImageWriteError, PhotomendError
from app.io.atomic import EXISTS_MESSAGE, atomic_write
from app.io.metadata import (
    exif_payload,
    icc_for_output,
    normalize_exif,
    portable_exif_tags,
    reset_exif_orientation,
    serialisable_tags,
)
from app.io.naming import format_from_path
from app.io.photo import Photo

FORMATS = ("png", "jpg", "tif", "webp")
"""Output formats offered to users (--format choices)."""
_WRITABLE = (*FORMATS, "bmp")  # bmp only so that a BMP input's default output (.bmp) works
_ALIASES = {"jpeg": "jpg", "tiff": "tif"}
_NAMES = {"png": "PNG", "jpg": "JPEG", "tif": "TIFF", "webp": "WebP", "bmp": "BMP"}
_SUPPORTED_TEXT = "supported: png, jpg, tif, webp, bmp"
_EIGHT_BIT_ONLY = ("jpg", "webp", "bmp")

_JPEG_MAX_EXIF = 65533  # APP1 payload limit, 'Exif\0\0' included
_PNG_IDAT_SIZE = 1 << 20
_TIFF_STRIP_BYTES = 256 << 10
_DEFLATE_CHUNK = 4 << 20  # raw bytes per independently deflated PNG band
_MAX_THREADS = max(1, min(8, os.cpu_count() or 1))
_T = TypeVar("_T")


# --------------------------------------------------------------------------- public API


def write_photo(
    photo: Photo,
    path: str | Path,
    *,
    format: str | None = None,
    quality: int = 95,
    bit_depth: int | None = None,
    overwrite: bool = False,
    protect: Iterable[Path] = (),
    alternatives: Iterable[Path] | None = None,
) -> Path:
    """Encode `photo` and atomically write it to `path`; return the path written.

    format: 'png' | 'jpg' | 'tif' | 'webp' ('jpeg'/'tiff' accepted; 'bmp' too, see the
        module docstring); default from the extension. An explicit format must agree with a
        known image extension.
    quality: 1-100, used by JPEG and WebP.
    bit_depth: 8 or 16 for PNG/TIFF (default: the photo's own depth). JPEG/WebP are 8-bit
        only: asking them for 16 raises ImageWriteError rather than silently reducing.
    overwrite: allow replacing an existing file or link (a link is replaced, not written through).
    protect: paths (the run's other inputs) whose entry is never replaced, even with overwrite.
    alternatives: names taken in order when `path` exists (and overwrite is False), for
        default names that a concurrent run may take between planning and writing.

    Why: one function owns the "never clobber, never leave half a file" guarantees.
    Raises ImageWriteError (one line: path + cause) for every expected failure.
    """
    target = Path(path)
    fmt = _resolve_format(target, format)
    valid_quality = isinstance(quality, (int, np.integer)) and not isinstance(quality, bool)
    if not valid_quality or not 1 <= quality <= 100:
        raise ImageWriteError(target, f"quality must be between 1 and 100 (got {quality!r})")
    depth = _resolve_depth(target, fmt, bit_depth, photo)
    if photo.width == 0 or photo.height == 0:
        raise ImageWriteError(target, f"nothing to write: the image is {photo.width}x{photo.height}")
    protect = [Path(p) for p in protect]
    _check_target(target, overwrite=overwrite, protect=protect, has_alternatives=alternatives is not None)
    try:
        data = _encode(target, photo, fmt, depth, int(quality))
    except ImageWriteError:
        raise
    except MemoryError as exc:
        raise ImageWriteError(target, "not enough memory to encode the image") from exc
    except Exception as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageWriteError(target, f"cannot encode as {_NAMES[fmt]}: {detail}") from exc
    return atomic_write(target, data, overwrite=overwrite, alternatives=alternatives or (), protect=protect,
                        error=ImageWriteError)


# --------------------------------------------------------------------------- validation


def _resolve_format(target: Path, format: str | None) -> str:
    ext_format: str | None
    try:
        ext_format = format_from_path(target)
    except PhotomendError:
        ext_format = None
    if format is None:
        if ext_format is None:
            shown = f"'{target.suffix}'" if target.suffix else "(none)"
            raise ImageWriteError(
                target,
                f"cannot tell the output format from the extension {shown} ({_SUPPORTED_TEXT})",
            )
        fmt = ext_format
    else:
        fmt = _ALIASES.get(format.lower(), format.lower())
    if fmt not in _WRITABLE:
        raise ImageWriteError(target, f"cannot write {fmt.upper()} files ({_SUPPORTED_TEXT})")
    if ext_format is not None and ext_format != fmt:
        raise ImageWriteError(
            target, f"extension '{target.suffix}' does not match the output format {fmt}"
        )
    return fmt


def _resolve_depth(target: Path, fmt: str, bit_depth: int | None, photo: Photo) -> int:
    if fmt in _EIGHT_BIT_ONLY:
        if bit_depth not in (None, 8):
            raise ImageWriteError(
                target, f"{_NAMES[fmt]} is 8-bit only; use png or tif for {bit_depth}-bit output"
            )
        return 8
    depth = photo.bit_depth if bit_depth is None else bit_depth
    if depth not in (8, 16):
        raise ImageWriteError(target, f"bit depth must be 8 or 16 (got {depth!r})")
    return depth


def _check_target(target: Path, *, overwrite: bool, protect: list[Path], has_alternatives: bool) -> None:
    """Fail before the (slow) encoding when the write is certain to be refused."""
    if target.is_dir() and not target.is_symlink():
        raise ImageWriteError(target, "is a folder")
    parent = target.parent
    if not parent.exists():
        raise ImageWriteError(target, f"folder '{parent}' does not exist")
    if not parent.is_dir():
        raise ImageWriteError(target, f"'{parent}' is not a folder")
    if overwrite or has_alternatives or not os.path.lexists(target):
        return
    for guarded in protect:
        try:
            if os.path.samefile(target, guarded):
                raise ImageWriteError(
                    target, "is the input file; not replacing it (use --overwrite to replace it)"
                )
        except OSError:
            continue
    raise ImageWriteError(target, EXISTS_MESSAGE)


# --------------------------------------------------------------------------- encoding


def _quantise(x: np.ndarray, depth: int) -> np.ndarray:
    """float [0, 1] -> uint8/uint16: clip, NaN -> 0, scale, round half to even."""
    maxv = 255 if depth == 8 else 65535
    t = np.clip(x, 0.0, 1.0, dtype=np.float32)
    t[np.isnan(t)] = 0.0
    t *= maxv
    np.round(t, out=t)
    return t.astype(np.uint8 if depth == 8 else np.uint16)


def _encode(target: Path, photo: Photo, fmt: str, depth: int, quality: int) -> bytes:
    grey = photo.is_grey and fmt != "webp"
    source = photo.pixels.mean(axis=2, dtype=np.float32) if grey else photo.pixels
    colour = _quantise(source, depth)
    alpha = None
    if photo.alpha is not None and fmt not in ("jpg", "bmp"):
        alpha = _quantise(photo.alpha, depth)
    icc = icc_for_output(photo.icc_profile, grey=grey)
    exif = normalize_exif(photo.exif)
    if exif is not None:
        exif = reset_exif_orientation(exif)  # the pixels are upright: never rotate them twice
    if fmt == "png":
        return _encode_png(colour, alpha, depth, icc, exif)
    if fmt == "tif":
        return _encode_tiff(target, colour, alpha, depth, icc, exif)
    return _encode_pillow(target, fmt, colour, alpha, quality, icc, exif)


def _interleave(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    samples = colour[:, :, None] if colour.ndim == 2 else colour
    if alpha is not None:
        samples = np.concatenate([samples, alpha[:, :, None]], axis=2)
    return samples


def _png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _encode_png(
    colour: np.ndarray, alpha: np.ndarray | None, depth: int, icc: bytes | None, exif: bytes | None
) -> bytes:
    samples = _interleave(colour, alpha)
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    if depth == 16:
        samples = samples.astype(">u2")
    rows = np.ascontiguousarray(samples).view(np.uint8).reshape(height, -1)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    out = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", ihdr)]
    if icc:
        out.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc, 9)))
    if exif:
        out.append(_png_chunk(b"eXIf", exif_payload(exif)))

    band = max(1, _DEFLATE_CHUNK // rows.shape[1])
    starts = range(0, height, band)

    def deflate_band(start: int) -> tuple[bytes, int, int]:
        cur = rows[start : start + band]
        prev = np.empty_like(cur)
        prev[0] = rows[start - 1] if start else 0
        prev[1:] = cur[:-1]
        filtered = np.empty((cur.shape[0], cur.shape[1] + 1), np.uint8)
        filtered[:, 0] = 2  # 'Up' filter
        np.subtract(cur, prev, out=filtered[:, 1:])  # uint8 wrap-around, as PNG specifies
        last = start + band >= height
        # raw deflate pieces, each ended by a sync flush, concatenate into one stream (pigz)
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
        data = compressor.compress(filtered)
        data += compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        return data, zlib.adler32(filtered), filtered.size

    pieces = [b"\x78\x9c"]  # zlib header: deflate, 32 KiB window
    checksum = 1
    for data, adler, length in _parallel_map(deflate_band, starts):
        pieces.append(data)
        checksum = _adler32_combine(checksum, adler, length)
    pieces.append(struct.pack(">I", checksum))
    stream = b"".join(pieces)
    for pos in range(0, len(stream), _PNG_IDAT_SIZE):
        out.append(_png_chunk(b"IDAT", stream[pos : pos + _PNG_IDAT_SIZE]))
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def _parallel_map(func: Callable[[int], _T], items: Sequence[int]) -> Iterator[_T]:
    """Ordered map over worker threads: zlib and numpy release the GIL, so deflating bands
    of a large image in parallel cuts PNG/TIFF write time several-fold."""
    workers = min(len(items), _MAX_THREADS)
    if workers <= 1:
        return map(func, items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="photomend-encode") as pool:
        return iter(list(pool.map(func, items)))


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A+B from adler(A), adler(B) and len(B) (zlib's adler32_combine)."""
    base = 65521
    rem = len2 % base
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % base
    sum1 += (adler2 & 0xFFFF) + base - 1
    sum2 += ((adler1 >> 16) & 0xFFFF) + ((adler2 >> 16) & 0xFFFF) + base - rem
    sum1 %= base
    sum2 %= base
    return sum1 | (sum2 << 16)


def _encode_tiff(
    target: Path,
    colour: np.ndarray,
    alpha: np.ndarray | None,
    depth: int,
    icc: bytes | None,
    exif: bytes | None,
) -> bytes:
    samples = _interleave(colour, alpha).astype("<u1" if depth == 8 else "<u2")
    height, width, channels = samples.shape
    rows_per_strip = max(1, min(height, _TIFF_STRIP_BYTES // (width * channels * samples.itemsize)))

    def deflate_strip(start: int) -> bytes:
        block = samples[start : start + rows_per_strip]
        # horizontal predictor (TIFF Predictor=2): each sample minus its left neighbour, wrapping
        diff = np.empty_like(block)
        diff[:, 0] = block[:, 0]
        np.subtract(block[:, 1:], block[:, :-1], out=diff[:, 1:])
        compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
        return compressor.compress(diff) + compressor.flush()

    strips = list(_parallel_map(deflate_strip, range(0, height, rows_per_strip)))
    offsets, pos = [], 0
    for strip in strips:
        offsets.append(pos)
        pos += len(strip)

    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    if exif:
        for tag, value in serialisable_tags(portable_exif_tags(exif)).items():
            ifd[tag] = value
    grey = channels in (1, 2)
    ifd[256] = width
    ifd[257] = height
    ifd[258] = (depth,) * channels
    ifd[259] = 8  # Adobe Deflate
    ifd[262] = 1 if grey else 2  # MinIsBlack / RGB
    ifd[273] = tuple(offsets)  # relative; tobytes() shifts them past the IFD
    ifd[277] = channels
    ifd[278] = rows_per_strip
    ifd[279] = tuple(len(s) for s in strips)
    ifd[284] = 1  # contiguous
    ifd[317] = 2  # horizontal differencing
    if alpha is not None:
        ifd[338] = (2,)  # unassociated alpha
    ifd[339] = (1,) * channels  # unsigned integer
    if icc:
        ifd[34675] = icc
    header = b"II*\x00" + struct.pack("<I", 8)
    body = ifd.tobytes(8)
    total = len(header) + len(body) + pos
    if total >= 1 << 32:
        raise ImageWriteError(target, "too large for a TIFF file (over 4 GiB); use png")
    return b"".join([header, body, *strips])


def _encode_pillow(
    target: Path,
    fmt: str,
    colour: np.ndarray,
    alpha: np.ndarray | None,
    quality: int,
    icc: bytes | None,
    exif: bytes | None,
) -> bytes:
    height, width = colour.shape[:2]
    limit = {"jpg": 65535, "webp": 16383, "bmp": 1 << 31}[fmt]
    if width > limit or height > limit:
        raise ImageWriteError(
            target,
            f"{width}x{height} is too large for {_NAMES[fmt]} "
            f"(max {limit} pixels a side); use png or tif",
        )
    arr = colour if alpha is None else np.ascontiguousarray(_interleave(colour, alpha))
    im = Image.fromarray(arr)
    options: dict[str, object] = {"quality": quality}
    if icc:
        options["icc_profile"] = icc
    if fmt == "jpg":
        options["subsampling"] = 0 if quality >= 90 else 2
        if exif and len(exif) <= _JPEG_MAX_EXIF:
            options["exif"] = exif
        pil_format = "JPEG"
    elif fmt == "webp":
        if exif:
            options["exif"] = exif
        pil_format = "WEBP"
    else:
        options = {}  # BMP holds neither metadata nor a quality setting
        pil_format = "BMP"
    buf = io.BytesIO()
    im.save(buf, format=pil_format, **options)
    return buf.getvalue()
