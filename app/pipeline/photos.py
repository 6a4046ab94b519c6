"""The window's file work: open a photo, export a result, measure the noise left in pixels.

Why: one boundary for the window. It reaches the reader, the writer (and through it the one
atomic writer) and the classical noise estimate only through these thin functions, the same
ones whatever the window is built with; the CLI and the batch queue use ``process_file``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.io.photo import Photo

__all__ = ["Photo", "export_result", "measure_noise", "open_photo"]


def open_photo(path: str | Path, *, max_pixels: int | None = None) -> Photo:
    """Read a photo as the window opens it; one over ``max_pixels`` (None: the reader's own limit) is refused.

    Why: the reader refuses truncated or corrupt data (ImageReadError), so the canvas only
    switches to a photo that decoded cleanly. Imported when first used, as the window did.
    """
    from app.io.reader import read_photo

    return read_photo(path) if max_pixels is None else read_photo(path, max_pixels=max_pixels)


def export_result(
    photo: Photo,
    path: str | Path,
    *,
    format: str | None,
    quality: int,
    bit_depth: int | None,
    overwrite: bool,
) -> Path:
    """Write ``photo`` (the result, carrying the original's metadata) to ``path``; the path written.

    Why: the window's export goes through the same writer as the CLI, and so through the one
    atomic writer (never half a file, never through a link). Raises ImageWriteError.
    """
    from app.io.writer import write_photo

    return write_photo(photo, path, format=format, quality=quality, bit_depth=bit_depth, overwrite=overwrite)


def measure_noise(pixels: np.ndarray) -> float | None:
    """The classical noise level (0-255) of ``pixels``, or None when they are too small to measure.

    Why: the window shows the noise a result has left, and Deblur's automatic level starts from
    it, without running a model again (``app.noise.estimate``).
    """
    from app.noise.estimate import TooSmallToMeasure, estimate_noise

    try:
        return estimate_noise(pixels).sigma
    except TooSmallToMeasure:
        return None
