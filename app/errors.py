"""User-facing errors: each carries one line that names the file and the cause.

One hierarchy for the whole program: every expected failure is a ``PhotomendError``, so each
front end needs one ``except`` to turn it into one line. Anything else that escapes while a file
is processed is a bug, reported as one line too (see ``app.pipeline.process_file``).
"""

from __future__ import annotations

from pathlib import Path


class PhotomendError(Exception):
    """An expected failure the user can act on; str(error) is the one-line message."""


class UsageError(PhotomendError):
    """The command or its settings are wrong before any file is touched (exit code 2)."""


class FileError(PhotomendError):
    """A failure tied to one file: ``path`` and ``cause``, shown as '<path>: <cause>'."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


class ImageReadError(FileError):
    """The input cannot be read as an image (missing, corrupt, unsupported, too large)."""


class WriteError(FileError):
    """A file cannot be written (exists, folder unwritable, disk full); nothing partial is left."""


class ImageWriteError(WriteError):
    """A photo cannot be encoded or written."""


class CancelledError(PhotomendError):
    """The user cancelled a run; not a failure of the file."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl+C so temporary files are removed.

    A BaseException (like KeyboardInterrupt) so that no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by signal {signum}")
