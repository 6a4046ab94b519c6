"""Output file names and format <-> extension mapping (pure, no I/O except existence checks)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from app.errors import PhotomendError

MAX_NUMBERED = 9999
"""Highest '-N' tried for a free default name."""

_EXTENSION_FOR_FORMAT = {
    "png": ".png",
    "jpg": ".jpg",
    "jpeg": ".jpg",
    "tif": ".tif",
    "tiff": ".tif",
    "webp": ".webp",
    "bmp": ".bmp",
}

_FORMAT_FOR_EXTENSION = {
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".tif": "tif",
    ".tiff": "tif",
    ".webp": "webp",
    ".bmp": "bmp",
}


def default_output_path(
    input_path: Path,
    *,
    suffix: str = "_denoised",
    out_dir: Path | None = None,
    ext: str | None = None,
) -> Path:
    """'<stem><suffix><ext>' beside the input (or in `out_dir`) that doesn't exist yet.

    Why: the default must never clobber anything, the input included, so on a collision
    '-1', '-2', ... is appended ('photo_denoised-1.jpg'). `ext` ('.png' or 'png') defaults
    to the input's own extension. The check is advisory (another process may create the
    file meanwhile); `write_photo` refuses to replace files regardless.
    """
    input_path = Path(input_path)
    folder = Path(out_dir) if out_dir is not None else input_path.parent
    if ext is None:
        ext = input_path.suffix
    elif ext and not ext.startswith("."):
        ext = "." + ext
    first = folder / f"{input_path.stem}{suffix}{ext}"
    for candidate in [first, *numbered_names(first)]:
        if not os.path.lexists(candidate):
            return candidate
    raise PhotomendError(f"{first}: no free name up to -{MAX_NUMBERED}")


def numbered_names(base: Path, after: Path | None = None) -> Iterator[Path]:
    """'<stem>-1<ext>', '-2', ... for the default name ``base``, starting past ``after``'s number.

    Why: the writer takes the next of these when a concurrent run took the planned name.
    """
    start = 1
    if after is not None and after != base:
        match = re.fullmatch(re.escape(base.stem) + r"-(\d+)", after.stem)
        start = int(match.group(1)) + 1 if match else 1
    for n in range(start, MAX_NUMBERED + 1):
        yield base.with_name(f"{base.stem}-{n}{base.suffix}")


def extension_for_format(fmt: str) -> str:
    """'jpg' -> '.jpg', 'tif' -> '.tif', ... ('jpeg'/'tiff' aliases map to the short form).

    Why: one place decides the file extension for a CLI/GUI format choice.
    Raises PhotomendError for an unknown format.
    """
    try:
        return _EXTENSION_FOR_FORMAT[fmt.lower().lstrip(".")]
    except KeyError:
        known = ", ".join(sorted({v.lstrip(".") for v in _EXTENSION_FOR_FORMAT.values()}))
        raise PhotomendError(f"unknown image format '{fmt}' (known: {known})") from None


def format_from_path(path: Path) -> str:
    """Format name from the extension: 'png' | 'jpg' | 'tif' | 'webp' | 'bmp'.

    Why: output format defaults to what the file name says, case-insensitively.
    Raises PhotomendError naming the path for an unknown extension.
    """
    path = Path(path)
    try:
        return _FORMAT_FOR_EXTENSION[path.suffix.lower()]
    except KeyError:
        shown = f"'{path.suffix}'" if path.suffix else "(no extension)"
        known = ", ".join(sorted(_FORMAT_FOR_EXTENSION))
        raise PhotomendError(
            f"{path}: unknown image extension {shown} (known: {known})"
        ) from None
