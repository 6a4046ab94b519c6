"""Output file names and format <-> extension mapping (pure, no I/O except existence checks)."""

from __future__ import annotations

from pathlib import Path

from app.errors import PhotomendError

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
    base = f"{input_path.stem}{suffix}"
    candidate = folder / f"{base}{ext}"
    n = 0
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = folder / f"{base}-{n}{ext}"
    return candidate


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
