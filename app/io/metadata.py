"""ICC and EXIF helpers shared by the reader and the writer.

EXIF is kept as raw bytes and patched in place where possible (orientation reset) rather
than re-serialised, because re-serialising moves data around and breaks maker notes that
hold absolute offsets. Only TIFF files, whose EXIF tags live in the image's own IFD, need a
real rebuild; Pillow's `Image.Exif` / `ImageFileDirectory_v2` do that for us.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from PIL import Image

EXIF_PREFIX = b"Exif\x00\x00"
"""Canonical form of `Photo.exif`: this prefix + a TIFF structure (what a JPEG APP1 holds)."""

ORIENTATION_TAG = 0x0112
EXIF_IFD_TAG = 0x8769
GPS_IFD_TAG = 0x8825
INTEROP_IFD_TAG = 0xA005
ICC_TAG = 34675

# IFD0 tags that are plain descriptive values (no offsets into the file, nothing about the
# pixel layout), so they can move between a TIFF's own IFD and an EXIF block safely.
PORTABLE_IFD0_TAGS: frozenset[int] = frozenset(
    {
        270,  # ImageDescription
        271,  # Make
        272,  # Model
        282,  # XResolution
        283,  # YResolution
        296,  # ResolutionUnit
        305,  # Software
        306,  # DateTime
        315,  # Artist
        316,  # HostComputer
        318,  # WhitePoint
        319,  # PrimaryChromaticities
        33432,  # Copyright
        18246,  # Rating
        18249,  # RatingPercent
        40091,  # XPTitle
        40092,  # XPComment
        40093,  # XPAuthor
        40094,  # XPKeywords
        40095,  # XPSubject
    }
)


def normalize_exif(raw: bytes | None) -> bytes | None:
    """Return `raw` as 'Exif\\0\\0' + TIFF structure, or None if absent or not EXIF.

    Why: JPEG APP1 carries the prefix while PNG eXIf / WebP EXIF chunks usually don't; one
    canonical form lets every writer strip or keep it without guessing. Unusable EXIF is
    dropped (None) rather than failing the whole read.
    """
    if not raw:
        return None
    body = raw[len(EXIF_PREFIX) :] if raw.startswith(EXIF_PREFIX) else raw
    if len(body) < 8 or body[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    return EXIF_PREFIX + bytes(body)


def exif_payload(exif: bytes) -> bytes:
    """The TIFF structure without the 'Exif\\0\\0' prefix.

    Why: PNG eXIf chunks (and WebP EXIF chunks) must hold the bare structure.
    """
    return exif[len(EXIF_PREFIX) :] if exif.startswith(EXIF_PREFIX) else exif


def _ifd0_entries(body: bytes) -> tuple[str, int, int] | None:
    """(struct byte-order char, IFD0 offset, entry count) of a TIFF structure, or None."""
    if len(body) < 8:
        return None
    if body[:4] == b"II*\x00":
        endian = "<"
    elif body[:4] == b"MM\x00*":
        endian = ">"
    else:
        return None
    (ifd,) = struct.unpack_from(endian + "I", body, 4)
    if ifd < 8 or ifd + 2 > len(body):
        return None
    (count,) = struct.unpack_from(endian + "H", body, ifd)
    if ifd + 2 + 12 * count + 4 > len(body):
        return None
    return endian, ifd, count


def _find_orientation(body: bytes) -> tuple[str, int, int] | None:
    """(byte order, offset of the value field, TIFF type) of the IFD0 Orientation entry."""
    head = _ifd0_entries(body)
    if head is None:
        return None
    endian, ifd, count = head
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, typ, n = struct.unpack_from(endian + "HHI", body, entry)
        if tag == ORIENTATION_TAG and n == 1 and typ in (3, 4):  # SHORT or (non-standard) LONG
            return endian, entry + 8, typ
    return None


def exif_orientation(exif: bytes | None) -> int:
    """EXIF Orientation (1..8) of an EXIF block; 1 (normal) when absent or invalid.

    Why: the reader applies the rotation to the pixels itself so that every decoder (Pillow,
    OpenCV, tifffile) behaves the same and the output can be stored with Orientation=1.
    """
    if not exif:
        return 1
    body = exif_payload(exif)
    found = _find_orientation(body)
    if found is None:
        return 1
    endian, pos, typ = found
    (value,) = struct.unpack_from(endian + ("H" if typ == 3 else "I"), body, pos)
    return value if 1 <= value <= 8 else 1


def reset_exif_orientation(exif: bytes, *, drop_thumbnail: bool = False) -> bytes:
    """Return `exif` with Orientation patched to 1 in place (same length, nothing moved).

    Why in place: re-serialising EXIF relocates data and breaks maker notes. With
    `drop_thumbnail`, IFD1 (the embedded thumbnail, stored in the old orientation) is
    unlinked so viewers don't show a thumbnail rotated differently from the image.
    """
    body = bytearray(exif_payload(exif))
    found = _find_orientation(bytes(body))
    if found is not None:
        endian, pos, typ = found
        struct.pack_into(endian + ("H" if typ == 3 else "I"), body, pos, 1)
    if drop_thumbnail:
        head = _ifd0_entries(bytes(body))
        if head is not None:
            endian, ifd, count = head
            struct.pack_into(endian + "I", body, ifd + 2 + 12 * count, 0)
    return EXIF_PREFIX + bytes(body)


def _load_exif(data: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(data)
    return exif


def portable_exif_tags(source: bytes) -> dict[int, Any]:
    """IFD0 tags worth carrying from an EXIF block or a whole TIFF file, plus EXIF/GPS sub-IFDs.

    `source` may be an EXIF block or an entire classic TIFF file (its IFD0 is parsed the
    same way). Returns {tag: value}, with sub-IFDs as dicts, ready for an
    `ImageFileDirectory_v2`. Layout tags (strips, sample format...) are left out because
    they describe the source's pixels, not the photo. Returns {} if nothing parses.
    """
    try:
        src = _load_exif(source)
        tags: dict[int, Any] = {t: src[t] for t in src if t in PORTABLE_IFD0_TAGS}
        if ORIENTATION_TAG in src:
            tags[ORIENTATION_TAG] = 1
        for ifd_tag in (EXIF_IFD_TAG, GPS_IFD_TAG):
            if ifd_tag in src:
                sub = {k: v for k, v in src.get_ifd(ifd_tag).items() if k != INTEROP_IFD_TAG}
                if sub:
                    tags[ifd_tag] = sub
    except Exception:  # malformed EXIF is dropped, never fatal
        return {}
    return tags


def exif_from_tiff(data: bytes) -> bytes | None:
    """Build an EXIF block (Orientation=1) from a TIFF file's own descriptive tags.

    Why: a TIFF keeps Make/Model/DateTime and the EXIF sub-IFD in its image IFD rather than
    in a separate EXIF block; the other formats need them as a self-contained block.
    """
    tags = serialisable_tags(portable_exif_tags(data))
    if not tags:
        return None
    out = Image.Exif()
    for tag, value in tags.items():
        out[tag] = value
    return normalize_exif(out.tobytes())


def serialisable_tags(tags: dict[int, Any]) -> dict[int, Any]:
    """The subset of `tags` that Pillow can serialise (exotic values are dropped one by one).

    Why: one odd vendor tag must not cost the photo all of its metadata.
    """
    try:
        _tags_to_bytes(tags)
        return tags
    except Exception:
        pass
    kept: dict[int, Any] = {}
    for tag, value in tags.items():
        try:
            _tags_to_bytes({tag: value})
        except Exception:
            continue
        kept[tag] = value
    return kept


def _tags_to_bytes(tags: dict[int, Any]) -> bytes:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    return exif.tobytes()


def icc_colour_space(icc: bytes | None) -> str | None:
    """The profile's data colour space ('RGB', 'GRAY', 'CMYK', ...) from its header, or None.

    Why: an ICC profile must match the pixels it describes; after CMYK->RGB conversion or
    writing grey as RGB the writer must drop a mismatched profile instead of lying.
    """
    if not icc or len(icc) < 128 or icc[36:40] != b"acsp":
        return None
    return icc[16:20].decode("latin-1").strip()


def icc_for_output(icc: bytes | None, *, grey: bool) -> bytes | None:
    """`icc` if it fits an output with grey (1-channel) or RGB pixels, else None."""
    space = icc_colour_space(icc)
    if space is None:
        return None
    return icc if space == ("GRAY" if grey else "RGB") else None


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Return a view of `arr` (H x W [x C]) transformed for display per EXIF `orientation`.

    Same mapping as PIL.ImageOps.exif_transpose: 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
    6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
    """
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(arr, -1)
    if orientation == 7:
        return arr.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(arr, 1)
    return arr


def oriented_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """(width, height) as displayed: orientations 5-8 swap the axes.

    Why: `probe_photo` must report the same size `read_photo` will produce.
    """
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
