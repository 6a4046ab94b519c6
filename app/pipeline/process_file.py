"""Read a photo, restore it, write the result: one file, all-or-nothing.

Every front end (CLI, batch queue, window export) goes through here so that error
handling, metadata, bit depth and the never-overwrite rule are the same everywhere.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from app.errorlog import format_exception, unexpected_error_line
from app.errors import CancelledError, PhotomendError, WriteError
from app.io.atomic import EXISTS_MESSAGE
from app.io.reader import DEFAULT_MAX_PIXELS, read_photo
from app.io.writer import write_photo
from app.pipeline.inputs import WorkItem

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]
RestoreFunction = Callable[..., tuple[np.ndarray, Any]]
"""(rgb float32 HxWx3, progress, cancelled, *, jpeg_quality=None) -> (restored rgb, its RestoreReport)."""


@dataclass(frozen=True)
class OutputOptions:
    """How results are written; None means "as the input"."""

    format: str | None = None
    quality: int = 95
    bit_depth: int | None = None
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class FileOutcome:
    """What happened to one file, for progress lines, batch rows and exit codes."""

    source: Path
    target: Path | None
    ok: bool
    message: str = ""
    seconds: float = 0.0
    report: Any = None  # app.pipeline.operations.RestoreReport of a restored file
    traceback: str | None = None  # for --verbose, when the failure was a bug


def process_file(
    item: WorkItem,
    restore: RestoreFunction,
    options: OutputOptions,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> FileOutcome:
    """Restore one file: the per-file error boundary shared by the CLI and the batch queue.

    Every failure, expected or not, becomes a failed outcome with one line naming the file
    (a bug's traceback goes to the log file, see app.errorlog), so one bad file never stops a
    run. Only cancelling (CancelledError), Ctrl+C and termination propagate.
    """
    started = time.perf_counter()
    if item.target is None:
        return FileOutcome(item.source, None, False, item.error or f"{item.source}: no output path")
    try:
        if not options.overwrite and item.base is None and os.path.lexists(item.target):
            raise WriteError(item.target, EXISTS_MESSAGE)  # fail before minutes of work
        photo = read_photo(item.source, max_pixels=options.max_pixels)
        pixels, report = restore(photo.pixels, progress, cancelled, jpeg_quality=photo.jpeg_quality)
        if cancelled is not None and cancelled():
            raise CancelledError("cancelled")
        written = write_photo(
            photo.with_pixels(pixels),
            item.target,
            format=options.format,
            quality=options.quality,
            bit_depth=options.bit_depth,
            overwrite=options.overwrite,
            protect=item.protect,
            alternatives=item.alternatives(),
        )
    except CancelledError:
        raise
    except PhotomendError as error:
        return _failed(item, str(error), started)
    except MemoryError:
        return _failed(item, f"{item.source}: not enough memory (try a smaller --tile)", started)
    except Exception as error:  # noqa: BLE001 - the per-file boundary: a bug must not end the run
        outcome = _failed(item, unexpected_error_line(str(item.source), error), started)
        outcome.traceback = format_exception(error)
        return outcome
    report.notes = list(photo.notes)  # what the user must know about the result (first frame only...)
    report.messages = [*photo.notes, *report.messages]
    return FileOutcome(item.source, written, True, "", time.perf_counter() - started, report)


def _failed(item: WorkItem, message: str, started: float) -> FileOutcome:
    if str(item.source) not in message and str(item.target) not in message:
        message = f"{item.source}: {message}"  # engine errors (e.g. kernel too large) name no file
    return FileOutcome(item.source, item.target, False, message, time.perf_counter() - started)
