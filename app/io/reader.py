"""Read photos from disk into a `Photo` (float32 RGB in [0, 1] plus alpha and metadata).

Decoder choice, and why:

* The container is identified from the file's magic bytes (after an extension check), so a
  renamed file is decoded correctly and a text file named '.jpg' gets a clear message.
* The header (size, ICC, EXIF, orientation) is read lazily, and the decompression-bomb
  limit is enforced *before* any pixels are decoded. Pillow's own bomb check is switched off
  (``Image.MAX_IMAGE_PIXELS = None``) because its default (89/179 MP) would fire before our
  documented 200 MP limit and with a less helpful message; this module is the guard.
* Nothing damaged is ever returned: libjpeg and Pillow both fill what a damaged file lacks
  with grey and carry on, so each container is checked before (or while) it is decoded, and a
  file that fails is one ImageReadError "truncated or corrupt <FORMAT> file (<cause>)".
* JPEG: a marker walk first proves the file reaches its end-of-image marker and that its scans
  cover every component and coefficient (a progressive file cut between scans decodes without
  any complaint). The pixels are then decoded by libjpeg through OpenCV (IMREAD_IGNORE_ORIENTATION)
  rather than Pillow, because a scan that ends early ("premature end of data segment", a cut
  file with an end marker appended, an end marker planted mid-scan) is only a libjpeg
  *warning*: Pillow's decoder discards it, OpenCV lets it reach stderr, where we read it. Both
  are libjpeg-turbo with the same settings, so the pixels are identical. CMYK JPEG goes
  through Pillow after the same libjpeg check on a 1/8-scale decode. Damage that breaks no
  code (JPEG has no checksum) cannot be seen by any decoder.
* Native decoders (libjpeg, libpng, libtiff) print to stderr. Around each of their decodes fd 2
  is redirected under a lock: their lines become the error's cause or are dropped when
  harmless, so a bad file gives one line; anything else printed meanwhile is passed on.
* PNG: every chunk's CRC is checked (zlib.crc32) on the way to IEND, so a flipped bit in any
  chunk or a cut file is found before decoding. 8-bit PNG (and WebP, BMP) is decoded by
  Pillow: it covers every mode we meet (palette, grey + alpha, tRNS transparency, 1-bit) and
  raises on broken zlib data; a zlib stream that ends before the last row (which Pillow
  leaves black) is caught by inflating it whenever the bottom row came out all zero.
* 16-bit PNG is decoded by OpenCV (``cv2.imdecode`` of the bytes, so non-ASCII paths work;
  IMREAD_UNCHANGED so it neither converts to 8 bits nor applies EXIF rotation), because
  Pillow cannot hold 16-bit RGB; libpng's errors are read as above.
* WebP and BMP state their length in the header; a WebP's chunks must also fit in the file.
* High-bit TIFF is decoded by tifffile when it has the codec (exact sample layout, grey +
  alpha, float, planar), falling back to Pillow/libtiff or OpenCV/libtiff only for codecs
  tifffile lacks without `imagecodecs` (LZW, JPEG): libtiff decodes damaged deflate data
  without complaint, so a tifffile decoding error is final. Strip/tile extents are checked
  against the file size first.
* Multi-frame files (animated PNG/WebP, multi-page TIFF): the first frame is restored and
  `Photo.notes` says so. A TIFF counts only real pages (not reduced-resolution copies or
  masks); an MPO JPEG's extra frames are camera previews and get no note.
* Integers are converted to float32 exactly once (x / 255 or x / 65535); 16-bit data never
  passes through 8 bits. EXIF orientation is applied here with numpy (all decoders behave
  the same) and the stored EXIF is patched to Orientation=1.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import struct
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
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
from app.noise.jpeg import equivalent_quality

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


@dataclass
class _Read:
    """What a container reader hands to `read_photo`: samples, metadata and the frame count."""

    colour: np.ndarray
    alpha: np.ndarray | None
    maxv: int
    icc: bytes | None
    exif: bytes | None
    orientation: int
    notes: list[str] = field(default_factory=list)
    jpeg_quality: float | None = None


# --------------------------------------------------------------------------- public API


def read_photo(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode an image file into a `Photo`, EXIF orientation applied.

    Why one entry point: every caller (CLI, GUI, batch) gets the same validation, the same
    float conversion and the same metadata handling. Raises ImageReadError (one line naming
    the file and the cause) for anything that isn't a readable, supported, sane-sized image,
    including damaged data: no partly decoded picture is ever returned.
    """
    p = Path(path)
    _check_path(p)
    data = _read_bytes(p)
    kind = _identify(p, data)
    got = _read_tiff(p, data, max_pixels) if kind == "tiff" else _read_with_pil(p, data, kind, max_pixels)
    icc, exif, orientation = got.icc, got.exif, got.orientation
    if icc_colour_space(icc) not in ("RGB", "GRAY"):
        icc = None  # e.g. a CMYK profile no longer describes the converted RGB pixels
    if exif is not None:
        exif = reset_exif_orientation(exif, drop_thumbnail=orientation != 1)

    is_grey = got.colour.ndim == 2
    alpha = got.alpha
    try:
        colour = apply_orientation(got.colour, orientation)
        if alpha is not None:
            alpha = _to_unit_float(apply_orientation(alpha, orientation), got.maxv)
        rgb = _to_unit_float(colour, got.maxv)
        if is_grey:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    except MemoryError as exc:
        raise _out_of_memory(p) from exc
    return Photo(
        pixels=np.ascontiguousarray(rgb),
        alpha=alpha,
        is_grey=is_grey,
        bit_depth=8 if got.maxv == 255 else 16,
        format=kind,
        icc_profile=icc or None,
        exif=exif,
        source=p,
        notes=got.notes,
        jpeg_quality=got.jpeg_quality,
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


def _check_riff_chunks(p: Path, data: bytes) -> None:
    """Each chunk of a WebP must fit in the file: one that doesn't was cut off.

    Why: a cut file whose RIFF size was rewritten passes the length check, and libwebp then
    only says it 'could not create decoder object'.
    """
    pos = 12
    while pos + 8 <= len(data):
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        end = pos + 8 + size
        if end > len(data):
            raise _corrupt(p, "webp", f"file ends inside {_chunk_name(fourcc)}")
        pos = end + (size & 1)


def _chunk_name(fourcc: bytes) -> str:
    """'the IDAT chunk' for a readable chunk type, 'a damaged chunk' for garbage."""
    name = fourcc.decode("latin-1").strip()
    return f"the {name} chunk" if name.isalnum() and name.isascii() else "a damaged chunk"


def _read_with_pil(p: Path, data: bytes, kind: str, max_pixels: int) -> _Read:
    _check_declared_length(p, kind, data)
    if kind == "webp":
        _check_riff_chunks(p, data)
    layout = _check_jpeg_structure(p, data) if kind == "jpeg" else None
    chunks = _png_chunks(p, data) if kind == "png" else []
    with _open_pil(p, io.BytesIO(data), kind) as im:
        _check_size(p, im.size[0], im.size[1], max_pixels)
        frames = 1 if kind == "jpeg" else int(getattr(im, "n_frames", 1))  # MPO extras: previews
        try:
            if layout is not None:
                colour, alpha, maxv = _decode_jpeg(p, data, im, layout)
            elif kind == "png":
                colour, alpha, maxv = _decode_png(p, data, im, chunks)
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
        quality = equivalent_quality(getattr(im, "quantization", None)) if kind == "jpeg" else None
    return _Read(colour, alpha, maxv, icc, exif, exif_orientation(exif), _frames_note(frames, "frames"), quality)


def _frames_note(count: int, unit: str) -> list[str]:
    """The note for a multi-frame file: only its first frame (or page) is restored."""
    return [f"only the first of {count} {unit} was restored"] if count > 1 else []


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


# --------------------------------------------------------------------------- native decoders


_NATIVE_LOCK = threading.Lock()
# Lines that libjpeg and libpng (inside OpenCV) and OpenCV's logger, which carries libtiff's
# messages, write to stderr.
_OPENCV_OUTPUT = re.compile(
    r"libpng (?:warning|error): |\[ ?(?:WARN|ERROR|INFO|DEBUG):|Corrupt JPEG data|Premature end of JPEG"
    r"|Invalid SOS parameters|Inconsistent progression|Warning: |Unknown Adobe color transform"
    r"|Application transferred too many scanlines"
)
_LIBTIFF_OUTPUT = re.compile(r"[\w.-]+: .*\.$")  # libtiff's default handler, as Pillow leaves it
# The lines among those that mean the data is damaged (libpng's warnings, say about an sRGB
# profile, and libjpeg's about a JFIF version or odd sequential scan parameters, do not).
_JPEG_DAMAGE = re.compile(r"(?:Corrupt JPEG data|Premature end of JPEG|Inconsistent progression).*")
_PNG_DAMAGE = re.compile(r"libpng error: (.*)")
_TIFF_DAMAGE = re.compile(r"\[ERROR:.*TIFF_Error (.*)")


@contextmanager
def _captured_stderr(ours: re.Pattern[str]) -> Iterator[list[str]]:
    """Redirect fd 2 while native code runs; the list receives its lines (those matching `ours`).

    Why: libjpeg reports a damaged scan only on stderr, and libpng/libtiff print their errors
    there too; reading them gives one clear error instead of stray lines. Anything else
    written meanwhile (another thread's output) is passed on. The lock keeps concurrent reads
    from swapping each other's fd 2. The list is filled when the block ends.
    """
    lines: list[str] = []
    with _NATIVE_LOCK, tempfile.TemporaryFile() as sink:
        with suppress(AttributeError, OSError, ValueError):  # no stderr, or a closed one
            sys.stderr.flush()  # what Python printed before goes out before the redirect
        saved = _redirect_fd2(sink.fileno())
        try:
            yield lines
        finally:
            _restore_fd2(saved)
            sink.seek(0)
            captured = sink.read().decode("utf-8", "replace").splitlines()
            lines.extend(line for line in captured if ours.match(line))
            others = [line for line in captured if line.strip() and not ours.match(line)]
            if others and saved is not None:
                os.write(2, ("\n".join(others) + "\n").encode("utf-8", "replace"))


def _redirect_fd2(target: int) -> int | None:
    """Point fd 2 at `target`; the previous fd 2 (a duplicate), or None when none was open."""
    try:
        saved: int | None = os.dup(2)
    except OSError:  # no stderr at all (windowed app): capture anyway, then close it again
        saved = None
    os.dup2(target, 2)
    return saved


def _restore_fd2(saved: int | None) -> None:
    if saved is None:
        os.close(2)
        return
    os.dup2(saved, 2)
    os.close(saved)


def _damage(lines: list[str], pattern: re.Pattern[str]) -> str | None:
    """The first captured line that reports damage (its cause group when the pattern has one)."""
    for line in lines:
        match = pattern.match(line)
        if match:
            return (match.group(1) if pattern.groups else match.group(0)).strip()
    return None


def _cv2_decode(data: bytes, flags: int) -> tuple[np.ndarray | None, list[str]]:
    """cv2.imdecode of the bytes, with what its native decoders printed."""
    buffer = np.frombuffer(data, np.uint8)
    with _captured_stderr(_OPENCV_OUTPUT) as lines:
        arr = cv2.imdecode(buffer, flags)
    return arr, lines


# --------------------------------------------------------------------------- JPEG


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RST0-7, SOI
_ALL_COEFFICIENTS = (1 << 64) - 1
# Where entropy-coded data ends: 0xFF followed by neither a stuffed 00, RSTn nor fill (FF).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10


@dataclass
class _JpegFrame:
    progressive: bool
    coverage: dict[int, int]  # component id -> bits of the coefficients coded to full precision


@dataclass(frozen=True)
class _JpegLayout:
    components: int
    unterminated: bool  # the last scan runs to the end of the file (no end-of-image marker)


def _check_jpeg_structure(p: Path, data: bytes) -> _JpegLayout:
    """Walk the markers from SOI to the first EOI: segments, scans and what they cover.

    Why: a progressive file cut between scans decodes without a word from libjpeg, and a cut
    header is clearer said here. What follows the first EOI (MPO frames, camera trailers) is
    not part of this image. A file whose last scan simply runs to the end (no EOI) is left to
    libjpeg, which tells a complete scan from a cut one.
    """
    frame: _JpegFrame | None = None
    pos, unterminated = 2, False
    while not unterminated:
        marker, pos = _next_jpeg_marker(data, pos)
        if marker is None:
            raise _corrupt(p, "jpeg", "file ends before the end-of-image marker")
        if marker == 0xD9:
            break
        if marker in _NO_LENGTH:
            continue
        end = _jpeg_segment_end(p, data, pos)
        if marker in _SOF_MARKERS:
            frame = _parse_sof(p, marker, data[pos + 2 : end])
        elif marker == 0xDA:
            end = _jpeg_scan_end(p, data, end, frame, data[pos + 2 : end])
            unterminated = end < 0
        pos = end
    if frame is None:
        raise _corrupt(p, "jpeg", "no frame header before the end-of-image marker")
    if any(bits != _ALL_COEFFICIENTS for bits in frame.coverage.values()):
        raise _corrupt(p, "jpeg", "image data ends early (scans are missing)")
    return _JpegLayout(len(frame.coverage), unterminated)


def _next_jpeg_marker(data: bytes, pos: int) -> tuple[int | None, int]:
    """The next marker at or after pos and the offset after it; stray bytes are skipped like
    libjpeg does (which warns about them, and the warning is read at decode time)."""
    n = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        while 0 <= pos < n - 1 and data[pos + 1] == 0xFF:
            pos += 1
        if pos < 0 or pos >= n - 1:
            return None, n
        if data[pos + 1] != 0x00:
            return data[pos + 1], pos + 2
        pos += 2


def _jpeg_segment_end(p: Path, data: bytes, pos: int) -> int:
    """End of the marker segment whose length field is at pos."""
    if pos + 2 > len(data):
        raise _corrupt(p, "jpeg", "file ends inside a header segment")
    (length,) = struct.unpack_from(">H", data, pos)
    if length < 2:
        raise _corrupt(p, "jpeg", f"bad segment length {length}")
    if pos + length > len(data):
        raise _corrupt(p, "jpeg", "file ends inside a header segment")
    return pos + length


def _parse_sof(p: Path, marker: int, body: bytes) -> _JpegFrame:
    count = body[5] if len(body) >= 6 else 0
    if count == 0 or len(body) < 6 + 3 * count:
        raise _corrupt(p, "jpeg", "damaged frame header")
    ids = [body[6 + 3 * i] for i in range(count)]
    return _JpegFrame(marker in _PROGRESSIVE_SOF, dict.fromkeys(ids, 0))


def _jpeg_scan_end(p: Path, data: bytes, start: int, frame: _JpegFrame | None, header: bytes) -> int:
    """Record what a scan codes; return where its entropy-coded data ends (-1: at the end of the file)."""
    if frame is None:
        raise _corrupt(p, "jpeg", "image data before the frame header")
    _record_scan(frame, header)
    found = _SCAN_END.search(data, start)
    return found.start() if found else -1


def _record_scan(frame: _JpegFrame, header: bytes) -> None:
    """Mark the coefficients a scan brings to full precision (a sequential scan: all of them).

    Encoders finish every coefficient of a progressive file at full precision (Al = 0), so a
    coefficient that never gets there means scans are missing.
    """
    count = header[0] if header else 0
    if len(header) < 1 + 2 * count + 3:
        return  # a damaged scan header: libjpeg rejects it
    first, last = header[1 + 2 * count], header[2 + 2 * count]
    if not frame.progressive:
        bits = _ALL_COEFFICIENTS
    elif header[3 + 2 * count] & 0x0F == 0 and first <= last <= 63:
        bits = ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)
    else:
        bits = 0
    for component in header[1 : 1 + 2 * count : 2]:
        if component in frame.coverage:
            frame.coverage[component] |= bits


def _decode_jpeg(p: Path, data: bytes, im: Image.Image, layout: _JpegLayout) -> _Decoded:
    """libjpeg through OpenCV, so that its damage warnings are seen (see the module docstring)."""
    if layout.unterminated:
        data += b"\xff\xd9"  # OpenCV refuses a missing EOI even after complete data; libjpeg judges
    if layout.components in (1, 3):
        colour = cv2.IMREAD_GRAYSCALE if layout.components == 1 else (_IMREAD_RGB or cv2.IMREAD_COLOR)
        arr, lines = _cv2_decode(data, colour | cv2.IMREAD_IGNORE_ORIENTATION)
    else:  # CMYK/YCCK: Pillow converts it; libjpeg's verdict comes from a 1/8-scale decode
        arr, lines = None, _cv2_decode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8)[1]
    damage = _damage(lines, _JPEG_DAMAGE)
    if damage:
        raise _corrupt(p, "jpeg", "file ends inside the image data" if layout.unterminated else damage)
    if arr is None or arr.dtype != np.uint8:
        return _decode_pil(p, im)  # what OpenCV does not decode (CMYK, 12-bit...), or its reason
    if arr.ndim == 3 and _IMREAD_RGB is None:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return arr, None, 255


# --------------------------------------------------------------------------- PNG


_PngChunk = tuple[bytes, int, int]  # type, start, end
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # per colour type
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_ANIMATION_CHUNKS = (b"acTL", b"fcTL", b"fdAT")


def _png_chunks(p: Path, data: bytes) -> list[_PngChunk]:
    """Every chunk up to IEND, each CRC checked (zlib.crc32).

    Why: a flipped bit in any chunk, or a cut file, is found before a decoder sees the data;
    Pillow checks only some chunks' CRCs, and libpng prints what it finds.
    """
    view, n = memoryview(data), len(data)
    chunks: list[_PngChunk] = []
    pos = 8
    while not chunks or chunks[-1][0] != b"IEND":
        if pos + 12 > n:
            raise _corrupt(p, "png", "file ends before the IEND chunk")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > n:
            raise _corrupt(p, "png", f"file ends inside {_chunk_name(ctype)}")
        if zlib.crc32(view[pos + 4 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            raise _corrupt(p, "png", f"CRC error in {_chunk_name(ctype)}")
        chunks.append((ctype, pos, end))
        pos = end
    if chunks[0][0] != b"IHDR" or chunks[0][2] - chunks[0][1] != 25:
        raise _corrupt(p, "png", "no IHDR header chunk")
    if not any(ctype == b"IDAT" for ctype, _, _ in chunks):
        raise _corrupt(p, "png", "no image data")
    return chunks


def _decode_png(p: Path, data: bytes, im: Image.Image, chunks: list[_PngChunk]) -> _Decoded:
    if data[24] == 16:
        return _decode_png16(p, data, chunks)
    im.load()
    _check_png_rows(p, data, im, chunks)
    return _decode_pil(p, im)


def _check_png_rows(p: Path, data: bytes, im: Image.Image, chunks: list[_PngChunk]) -> None:
    """A zlib stream that ends before the last row: Pillow leaves the rest black and says nothing.

    The stream is inflated to count its bytes only when the bottom row came out all zero (or
    the image is interlaced, where missing rows are scattered), so sound photos skip the cost.
    """
    width, height, bits, colour_type, interlace = struct.unpack_from(">IIBBxxB", data, 16)
    if not interlace and im.crop((0, height - 1, width, height)).tobytes().strip(b"\x00"):
        return
    expected = _png_raw_size(width, height, bits * _PNG_CHANNELS.get(colour_type, 1), interlace)
    inflater = zlib.decompressobj()
    inflated = 0
    for ctype, start, end in chunks:
        piece: bytes | memoryview = memoryview(data)[start + 8 : end - 4] if ctype == b"IDAT" else b""
        while piece:
            inflated += len(inflater.decompress(piece, 1 << 20))
            piece = inflater.unconsumed_tail
    if inflated < expected:
        raise _corrupt(p, "png", "image data ends before the last row")


def _png_raw_size(width: int, height: int, bits_per_pixel: int, interlace: int) -> int:
    """Bytes of filtered rows the zlib stream must hold (each row has a filter-type byte)."""
    total = 0
    for x0, y0, dx, dy in _ADAM7 if interlace else ((0, 0, 1, 1),):
        columns, rows = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if columns > 0 and rows > 0:
            total += rows * (1 + (columns * bits_per_pixel + 7) // 8)
    return total


def _decode_png16(p: Path, data: bytes, chunks: list[_PngChunk]) -> _Decoded:
    """16-bit PNG through OpenCV, which (unlike Pillow) keeps 16-bit RGB(A).

    An animated PNG loses its animation chunks first: OpenCV would return the first
    animation frame, which is not always the image ordinary viewers (and Pillow) show.
    """
    colour_type = data[25]
    if any(ctype in _ANIMATION_CHUNKS for ctype, _, _ in chunks):
        kept = (data[start:end] for ctype, start, end in chunks if ctype not in _ANIMATION_CHUNKS)
        data = data[:8] + b"".join(kept)
    arr, lines = _cv2_decode(data, cv2.IMREAD_UNCHANGED)
    damage = _damage(lines, _PNG_DAMAGE)
    if damage:
        raise _corrupt(p, "png", damage)
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


def _read_tiff(p: Path, data: bytes, max_pixels: int) -> _Read:
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
        pages = _tiff_page_count(tif)
    return _Read(colour, alpha, maxv, icc, exif_from_tiff(data), orientation, _frames_note(pages, "pages"))


def _tiff_page_count(tif: tifffile.TiffFile) -> int:
    """Real pages: reduced-resolution copies and transparency masks in the page chain are not
    pages of their own (SubIFDs never are in it)."""
    count = 0
    try:
        for page in tif.pages:
            if not int(getattr(page, "subfiletype", 0) or 0) & 0b101:
                count += 1
    except Exception:  # noqa: BLE001 - a damaged later directory: the first page is still sound
        pass
    return max(count, 1)


class _NotForTifffile(ValueError):
    """A sample layout `_tiff_from_tifffile` does not map; another decoder may."""


def _tifffile_cannot(exc: Exception) -> bool:
    """tifffile lacks the codec (without `imagecodecs`) or the layout: not a sign of damage."""
    return isinstance(exc, (_NotForTifffile, NotImplementedError)) or "imagecodecs" in str(exc)


def _decode_tiff(p: Path, data: bytes, page: tifffile.TiffPage) -> _Decoded:
    """tifffile (exact, and strict about damaged data), else Pillow (<= 8 bit, exotic
    photometrics), else OpenCV/libtiff."""
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
        except Exception as exc:
            if not _tifffile_cannot(exc):
                raise  # e.g. a broken deflate stream, which libtiff would decode without a word
            errors.append(str(exc))

    if bits <= 8:
        try:
            return _tiff_from_pil(p, data)
        except ImageReadError:
            raise
        except Exception as exc:
            errors.append(str(exc))

    unsigned = dtype is not None and dtype.kind == "u"
    layout_ok = photometric in (1, 2) and int(page.samplesperpixel) in (1, 3, 4)
    if unsigned and bits in (8, 16) and layout_ok:
        arr, lines = _cv2_decode(data, cv2.IMREAD_UNCHANGED)
        damage = _damage(lines, _TIFF_DAMAGE)
        if damage:
            raise _corrupt(p, "tiff", damage)
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


def _tiff_from_pil(p: Path, data: bytes) -> _Decoded:
    """Pillow, whose libtiff decodes LZW/JPEG strips; libtiff's own words become the cause."""
    failure: Exception | None = None
    with _captured_stderr(_LIBTIFF_OUTPUT) as lines:
        try:
            with Image.open(io.BytesIO(data), formats=["TIFF"]) as im:
                decoded = _decode_pil(p, im)
        except ImageReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - raised below, after stderr is restored
            failure = exc
    if failure is None:
        return decoded
    errors = [line.split(": ", 1)[1].rstrip(".") for line in lines if ": Warning, " not in line]
    raise ValueError(errors[0] if errors else str(failure)) from failure


def _tiff_from_tifffile(page: tifffile.TiffPage) -> _Decoded:
    arr = page.asarray()
    axes = page.axes
    if axes == "SYX":
        arr = np.moveaxis(arr, 0, -1)
    elif axes not in ("YX", "YXS"):
        raise _NotForTifffile(f"unsupported TIFF axes {axes}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    photometric = int(page.photometric)
    n_colour = 3 if photometric == 2 else 1
    if arr.shape[2] < n_colour:
        raise _NotForTifffile("fewer samples than the colour model needs")
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
