"""The one way Photomend puts a file on disk: complete or not at all, never through a link.

Every file the program writes (photos, kernels and their previews, the batch queue, settings,
error logs) goes through :func:`atomic_write`:

1. a temporary file with a unique, unguessable name is created *exclusively* in the target's
   folder (``O_CREAT | O_EXCL | O_NOFOLLOW``: a planted file or link at that name is refused,
   never written through) and locked while it is written;
2. the data is written and ``fsync``-ed;
3. it is published under the target name: hard-linked (which fails if the name exists, even as
   a dangling link) or, when replacing was asked for, renamed over the old entry (a link at the
   target is replaced itself; the file it points to is never written); the folder is synced.

Any failure, ``KeyboardInterrupt`` and :class:`~app.errors.Terminated` included, removes the
temporary file. A SIGKILL cannot be handled, so the next write into a folder first removes
Photomend's own temporary files there whose writer no longer runs (their lock is free).
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from app.errors import WriteError

try:  # POSIX advisory locks tell a live writer's temporary file from a dead one's
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

EXISTS_MESSAGE = "already exists (use --overwrite to replace it)"
TEMP_SUFFIX = ".tmp"
_TEMP_MARK = ".photomend-"
_TEMP_PATTERN = re.compile(r"^\..*\.photomend-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$", re.DOTALL)
_NAME_KEEP = 80  # characters of the target name kept in the temporary name (NAME_MAX is 255)
_STALE_IF_PID_REUSED_S = 600.0  # a free lock beside a live PID: stale only when this old
_WRITE_CHUNK = 8 << 20

_live_lock = threading.Lock()
_live: set[Path] = set()
_swept: set[Path] = set()


# --------------------------------------------------------------------------- public API


def atomic_write(
    target: str | Path,
    data: bytes | bytearray | memoryview,
    *,
    overwrite: bool = False,
    alternatives: Iterable[Path] = (),
    protect: Iterable[Path] = (),
    error: type[WriteError] = WriteError,
) -> Path:
    """Write ``data`` to ``target`` atomically and return the path it was published under.

    overwrite: replace an existing entry (a regular file or a link; never a folder).
    alternatives: names to take, in order, when ``target`` already exists and ``overwrite`` is
        False (``photo_denoised-1.png``, ``-2`` ...): a name taken by a concurrent run between
        planning and writing moves the write on instead of failing. Never clobbers.
    protect: paths (the run's inputs) whose directory entry must never be replaced, even with
        ``overwrite``.
    error: the WriteError subclass raised, so callers keep their own message family.
    """
    target = Path(target)
    _check_folder(target, error)
    if overwrite:
        _refuse_protected(target, protect, error)
    sweep_stale_temporaries(target.parent)
    fd, temp = _create_temp(target, error)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            _copy_mode(target, temp)
            os.replace(temp, target)
            published = target
        else:
            published = _publish_new(temp, target, alternatives, error)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise error(target, os_cause(exc)) from exc
        raise
    finally:
        with _live_lock:
            _live.discard(_key(temp))
    _sync_folder(published.parent)
    return published


def is_temporary_name(name: str) -> bool:
    """Whether a file name is one of Photomend's temporary files (for folder scans)."""
    return bool(_TEMP_PATTERN.match(name))


def sweep_stale_temporaries(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Remove temporary files left in ``folder`` by Photomend processes that no longer run.

    Done once per folder per process (``force`` repeats it); only names of our own pattern are
    touched, and only when no live process holds their lock. Returns what was removed.
    """
    folder = Path(folder)
    key = _key(folder)
    with _live_lock:
        if key in _swept and not force:
            return []
        _swept.add(key)
        live = set(_live)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_PATTERN.match(entry.name)
        if match is None:
            continue
        path = folder / entry.name
        if _key(path) in live:
            continue
        if _is_stale(path, int(match.group("pid"))):
            with suppress(OSError):
                os.unlink(path)
                removed.append(path)
    return removed


def remove_live_temporaries() -> None:
    """Delete the temporary files this process is writing right now (before a forced exit)."""
    with _live_lock:
        paths = list(_live)
        _live.clear()
    for path in paths:
        with suppress(OSError):
            os.unlink(path)


_CAUSES = {
    errno.ENOSPC: "disk full",
    getattr(errno, "EDQUOT", -1): "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "folder does not exist",
    errno.ENOTDIR: "a parent of this path is not a folder",
    errno.EISDIR: "is a folder",
    errno.ENAMETOOLONG: "file name too long",
    errno.EFBIG: "file too large for this file system",
    errno.ELOOP: "is a symbolic link; not written through",
}


def os_cause(exc: OSError) -> str:
    """A short, plain-language cause for an OSError met while writing."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return _CAUSES.get(exc.errno, f"cannot write: {exc.strerror or exc}")


# --------------------------------------------------------------------------- steps


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _check_folder(target: Path, error: type[WriteError]) -> None:
    parent = target.parent
    try:
        st = os.stat(parent)
    except FileNotFoundError:
        raise error(target, f"folder '{parent}' does not exist") from None
    except OSError as exc:
        raise error(target, os_cause(exc)) from exc
    if not stat.S_ISDIR(st.st_mode):
        raise error(target, f"'{parent}' is not a folder")
    try:
        if stat.S_ISDIR(os.lstat(target).st_mode):
            raise error(target, "is a folder")
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise error(target, os_cause(exc)) from exc


def _entry_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _refuse_protected(target: Path, protect: Iterable[Path], error: type[WriteError]) -> None:
    """Replacing a link to an input is harmless; replacing the input's own entry is not."""
    own = _entry_id(target)
    if own is None:
        return
    for guarded in protect:
        if _entry_id(Path(guarded)) == own:
            raise error(target, "is an input of this run; not replacing it")


def _create_temp(target: Path, error: type[WriteError]) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    stem = target.name[:_NAME_KEEP]
    for _ in range(100):
        temp = target.parent / f".{stem}{_TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"
        with _live_lock:
            try:
                fd = os.open(temp, flags, 0o666)
            except FileExistsError:
                continue
            except OSError as exc:
                raise error(target, os_cause(exc)) from exc
            _live.add(_key(temp))
        if fcntl is not None:
            with suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, temp
    raise error(target, "cannot create a temporary file in the output folder")


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view[:_WRITE_CHUNK])
        view = view[written:]


def _copy_mode(target: Path, temp: Path) -> None:
    """Keep the permissions of a regular file being replaced (a link's are meaningless)."""
    with suppress(OSError):
        st = os.lstat(target)
        if stat.S_ISREG(st.st_mode):
            os.chmod(temp, stat.S_IMODE(st.st_mode))


def _publish_new(temp: Path, target: Path, alternatives: Iterable[Path], error: type[WriteError]) -> Path:
    """Give ``temp`` the first free name of target + alternatives; an existing entry (or link) is never replaced."""
    for name in itertools.chain([target], alternatives):
        try:
            _link_no_replace(temp, name)
        except FileExistsError:
            continue
        with suppress(OSError):
            os.unlink(temp)
        return name
    raise error(target, EXISTS_MESSAGE)


def _link_no_replace(temp: Path, name: Path) -> None:
    try:
        os.link(temp, name, follow_symlinks=False)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS):
            raise
    # A file system without hard links (FAT, some network shares): check, then rename.
    if os.path.lexists(name):
        raise FileExistsError(errno.EEXIST, "exists", str(name))
    os.replace(temp, name)


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _pid_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return False
    return True


def _lock_is_free(path: Path) -> bool | None:
    """True: nobody holds the temp file's lock; False: a live writer does; None: unknown."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        return True
    finally:
        os.close(fd)


def _is_stale(path: Path, pid: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False  # not ours to delete: our temporaries are always plain files
    free = _lock_is_free(path)
    if free is False:
        return False
    if not _pid_running(pid):
        return True
    if pid == os.getpid():
        with _live_lock:  # creation and registration happen together under this lock
            return _key(path) not in _live
    # The PID runs again (reused by another program) and nobody holds the lock.
    return free is True and time.time() - st.st_mtime > _STALE_IF_PID_REUSED_S
