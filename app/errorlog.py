"""Where tracebacks go: one log file in the user's log folder, never the terminal by default.

The promise to users is one line per bad file; a bug in Photomend or a library is still worth
a full traceback for a bug report, so it is kept here and the one line says where. The log is
written through the atomic writer like every other file, and trimmed to its newest part.
"""

from __future__ import annotations

import os
import time
import traceback
from contextlib import suppress
from pathlib import Path

from app.errors import PhotomendError
from app.io.atomic import atomic_write

LOG_DIR_ENV = "PHOTOMEND_LOG_DIR"
LOG_NAME = "photomend.log"
MAX_LOG_BYTES = 512 * 1024


def log_file() -> Path:
    """The log file: $PHOTOMEND_LOG_DIR/photomend.log, else the platform's user log folder."""
    folder = os.environ.get(LOG_DIR_ENV)
    if not folder:
        from platformdirs import user_log_dir

        folder = user_log_dir("Photomend", "Photomend")
    return Path(folder) / LOG_NAME


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def record_exception(context: str, exc: BaseException) -> Path | None:
    """Append ``context`` and the traceback of ``exc`` to the log; the log's path, or None if it failed."""
    path = log_file()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    entry = f"--- {stamp} pid {os.getpid()}: {context}\n{format_exception(exc)}\n".encode("utf-8", "replace")
    with suppress(OSError, PhotomendError):
        path.parent.mkdir(parents=True, exist_ok=True)
        old = b""
        with suppress(FileNotFoundError):
            if path.is_file() and not path.is_symlink():
                old = path.read_bytes()[-(MAX_LOG_BYTES - len(entry)) :]
        atomic_write(path, old + entry, overwrite=True)
        return path
    return None


def unexpected_error_line(subject: str, exc: BaseException) -> str:
    """'<subject>: unexpected error (ValueError: ...); details in <log>' and the traceback logged."""
    detail = " ".join(str(exc).split())[:200] or "no message"
    where = record_exception(subject, exc)
    tail = f"; details in {where}" if where is not None else ""
    return f"{subject}: unexpected error ({type(exc).__name__}: {detail}){tail}"
