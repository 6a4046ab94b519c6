"""User-facing errors: each carries one line that names the file and the cause."""

from __future__ import annotations

from pathlib import Path


class PhotomendError(Exception):
    """An expected failure the user can act on; str(error) is the one-line message."""


class ImageReadError(PhotomendError):
    """The input cannot be read as an image (missing, corrupt, unsupported, too large)."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


class ImageWriteError(PhotomendError):
    """The output cannot be written (exists, folder unwritable, disk full); nothing partial is left."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


class CancelledError(PhotomendError):
    """The user cancelled a run; not a failure of the file."""
