"""Download model weights: resumable, verified before use, never written through a link.

Weights are large and connections get cut, so a download streams into ``<name>.part`` beside
the destination and resumes it with an HTTP Range request. The size and sha256 are checked
before the file takes its final name, so a truncated or altered file is never loaded. Users
without a connection get one line telling them to fetch the file another way and import it.

Why not :func:`app.io.atomic.atomic_write`: it takes the whole file in memory and writes under
a random temporary name, which cannot be resumed. The ``.part`` keeps its conventions instead:
opened with ``O_NOFOLLOW`` (a planted link is refused, never written through), locked while
written, ``fsync``-ed, published by rename (a link at the destination is refused first; the
rename itself never follows one), then the folder is synced.

Only the standard library is used. Each download builds its own opener with the proxies of
``urllib.request.getproxies()`` (http_proxy, https_proxy, no_proxy), read at that moment.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from app import __version__
from app.errors import CancelledError, PhotomendError
from app.io.atomic import _sync_folder, os_cause  # the writer's own folder sync and cause wording
from models.ffdnet.weights import sha256_of

try:  # an advisory lock keeps two downloads of one file (window and CLI) from interleaving
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MIRROR_ENV = "PHOTOMEND_MODEL_MIRROR"
PART_SUFFIX = ".part"
USER_AGENT = f"Photomend/{__version__}"
OFFLINE_HINT = "download the file elsewhere and use `photomend models import FILE`"
BLOCK = 1 << 20
SPACE_MARGIN = 32 << 20  # room left for the file system and the rest of the program
RETRIES = 3  # consecutive failed resumes (no new byte) before a URL is given up
RETRY_PAUSE_S = 0.5  # times the number of consecutive failures

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)


class DownloadError(PhotomendError):
    """A model file cannot be downloaded or failed its check; the message says what to do."""


@dataclass(frozen=True)
class DownloadRequest:
    """One file to fetch: where from, what it must be, and where it goes."""

    urls: tuple[str, ...]  # mirrors tried in order
    sha256: str
    size: int  # expected bytes
    destination: Path  # final path, e.g. <models dir>/NAFNet-SIDD-width32.pth

    def __post_init__(self) -> None:
        # A malformed entry is a bug in the catalogue, not something a user can fix.
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"sha256 must be 64 lower-case hex digits, not {self.sha256!r}")
        if self.size <= 0:
            raise ValueError(f"size must be positive, not {self.size}")


# --------------------------------------------------------------------------- public API


def partial_path(destination: Path) -> Path:
    """Where the unfinished download of ``destination`` is kept (same folder, so rename is atomic)."""
    destination = Path(destination)
    return destination.with_name(destination.name + PART_SUFFIX)


def remove_partial(destination: Path) -> None:
    """Forget an unfinished download (a link there is removed itself, never its target)."""
    part = partial_path(destination)
    try:
        os.unlink(part)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DownloadError(f"{part}: cannot remove: {os_cause(exc)}") from exc


def mirror_urls(urls: tuple[str, ...], filename: str) -> tuple[str, ...]:
    """With $PHOTOMEND_MODEL_MIRROR set (a base URL), try <mirror>/<filename> first, then the given URLs.

    Idempotent (duplicates are dropped), so a caller may apply it before :func:`download` does.
    """
    base = os.environ.get(MIRROR_ENV, "").strip()
    if not base:
        return tuple(urls)
    first = f"{base.rstrip('/')}/{urllib.parse.quote(filename)}"
    return tuple(dict.fromkeys((first, *urls)))


def download(
    request: DownloadRequest,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``request`` to its destination, resuming any ``.part``; return the destination.

    Raises DownloadError (offline, refused, mismatched, no space, a link in the way) or
    CancelledError (``cancelled()`` became true; the ``.part`` is kept for a later resume).
    """
    destination = Path(request.destination)
    _refuse_link_or_folder(destination)
    if _installed(destination, request):
        _report(progress, request.size, request.size)
        return destination
    urls = mirror_urls(request.urls, destination.name)
    _check_urls(urls, destination.name)
    _ensure_folder(destination.parent)
    part_path = partial_path(destination)
    _check_space(destination, request.size - _existing_size(part_path))
    part = _Part.open(part_path)
    try:
        part.take_existing(request)
        if part.done < request.size:
            _fetch(urls, part, request, progress, cancelled, timeout)
        actual = part.digest.hexdigest()
        matches = part.done == request.size and actual == request.sha256
        if matches:
            part.sync()
    finally:
        part.close()
    if not matches:
        remove_partial(destination)
        raise DownloadError(
            f"{destination.name}: the downloaded file does not match: sha256 expected "
            f"{request.sha256[:12]}..., got {actual[:12]}...; it was deleted, try again or {OFFLINE_HINT}"
        )
    _publish(part_path, destination)
    return destination


# --------------------------------------------------------------------------- the .part file


class _Part:
    """The open ``.part``: its descriptor, the bytes it holds and their running sha256."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.done = 0
        self.digest = hashlib.sha256()

    @classmethod
    def open(cls, path: Path) -> _Part:
        """Open or create the ``.part`` without following a link, and lock it."""
        if path.is_symlink():  # also caught by O_NOFOLLOW; checked first where that flag is missing
            raise DownloadError(_link_message(path))
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o666)
        except OSError as exc:
            if path.is_symlink():
                raise DownloadError(_link_message(path)) from exc
            raise DownloadError(f"{path}: {os_cause(exc)}") from exc
        try:
            _check_regular(path, os.fstat(fd))
            _lock(fd, path)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def take_existing(self, request: DownloadRequest) -> None:
        """Hash what an earlier run left, so the digest covers the whole file once resumed.

        A leftover that is too long, or complete but wrong, is from another file: start again.
        """
        while block := self._read(BLOCK):
            self.digest.update(block)
            self.done += len(block)
        too_long = self.done > request.size
        complete_but_wrong = self.done == request.size and self.digest.hexdigest() != request.sha256
        if too_long or complete_but_wrong:
            self.restart()

    def restart(self) -> None:
        """Empty the file: the server sends it from the first byte."""
        try:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
        except OSError as exc:
            raise DownloadError(f"{self.path}: {os_cause(exc)}") from exc
        self.done = 0
        self.digest = hashlib.sha256()

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:  # disk full: the .part so far stays for a resume
            raise DownloadError(f"{self.path}: {os_cause(exc)}") from exc
        self.digest.update(data)
        self.done += len(data)

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise DownloadError(f"{self.path}: {os_cause(exc)}") from exc

    def close(self) -> None:
        with suppress(OSError):
            os.close(self.fd)

    def _read(self, size: int) -> bytes:
        try:
            return os.read(self.fd, size)
        except OSError as exc:
            raise DownloadError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc


def _link_message(path: Path) -> str:
    return f"{path}: is a symbolic link; refusing to write through it (remove it and try again)"


def _check_regular(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise DownloadError(f"{path}: is not a regular file; remove it and try again")
    if st.st_nlink > 1:  # a hard link planted there would be written through
        raise DownloadError(f"{path}: has other hard links; refusing to write through it (remove it and try again)")


def _lock(fd: int, path: Path) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise DownloadError(f"{path}: another download of this file is running") from None
    except OSError:
        pass  # a file system without locks: go on unlocked, as app.io.atomic does


# --------------------------------------------------------------------------- checks before and after


def _refuse_link_or_folder(destination: Path) -> None:
    try:
        st = os.lstat(destination)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DownloadError(f"{destination}: {os_cause(exc)}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise DownloadError(
            f"{destination}: is a symbolic link; refusing to replace it with a download (remove it and try again)"
        )
    if stat.S_ISDIR(st.st_mode):
        raise DownloadError(f"{destination}: is a folder; remove it and try again")


def holds_verified_file(path: Path, size: int, sha256: str) -> bool:
    """Whether ``path`` is a regular file (not a link) of exactly ``size`` bytes with this sha256."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != size:
        return False
    try:
        return sha256_of(path) == sha256
    except OSError:
        return False


def _installed(destination: Path, request: DownloadRequest) -> bool:
    """Whether the destination already holds the verified file (then nothing is fetched)."""
    return holds_verified_file(destination, request.size, request.sha256)


def _check_urls(urls: tuple[str, ...], name: str) -> None:
    if not urls:
        raise DownloadError(f"{name}: no download address is known; {OFFLINE_HINT}")
    for url in urls:
        if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
            raise DownloadError(f"{url}: only http and https addresses can be downloaded (check ${MIRROR_ENV})")


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{folder}: cannot create the models folder: {os_cause(exc)}") from exc


def _existing_size(part: Path) -> int:
    try:
        st = os.lstat(part)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def _check_space(destination: Path, still_needed: int) -> None:
    """Refuse before the first byte rather than fail with a full disk halfway."""
    try:
        free = shutil.disk_usage(destination.parent).free
    except OSError:
        return  # unknown: the write itself will say "disk full" if it comes to that
    need = max(still_needed, 0) + SPACE_MARGIN
    if free < need:
        raise DownloadError(
            f"{destination.name}: not enough free space in {destination.parent}: "
            f"{_megabytes(need)} needed, {_megabytes(free)} free; free some space and try again"
        )


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e6:.2f} MB"


def _publish(part: Path, destination: Path) -> None:
    """Give the verified ``.part`` its final name; a link planted meanwhile is refused, the .part kept."""
    _refuse_link_or_folder(destination)
    try:
        os.replace(part, destination)
    except OSError as exc:
        raise DownloadError(f"{destination}: {os_cause(exc)}") from exc
    _sync_folder(destination.parent)


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _stop_if_cancelled(cancelled: Cancelled | None, part: _Part, name: str) -> None:
    if cancelled is not None and cancelled():
        part.sync()  # what is kept must be on disk for the resume
        raise CancelledError(f"{name}: download cancelled; downloading it again resumes where it stopped")


# --------------------------------------------------------------------------- network


class _Dropped(Exception):
    """The connection failed; ``answered`` says whether the server had sent a response."""

    def __init__(self, answered: bool) -> None:
        super().__init__()
        self.answered = answered


class _Refused(Exception):
    """The server answered, but not with this file (HTTP error, other size): try the next URL."""


class _Restart(Exception):
    """The server cannot continue from our offset: empty the .part and ask again from the start."""


_NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError, timeouts and resets are OSErrors


def _opener() -> urllib.request.OpenerDirector:
    """A fresh opener, so proxy variables are read now (urlopen caches its opener for good)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler(urllib.request.getproxies()))


def _fetch(
    urls: tuple[str, ...],
    part: _Part,
    request: DownloadRequest,
    progress: Progress | None,
    cancelled: Cancelled | None,
    timeout: float,
) -> None:
    """Complete the .part from the first URL that works; otherwise one line naming each failure."""
    opener = _opener()
    failures: list[tuple[str, str | None]] = []  # (url, reason); None: could not be reached
    for url in urls:
        try:
            _fetch_from(opener, url, part, request, progress, cancelled, timeout)
            return
        except _Dropped:
            failures.append((url, None))
        except _Refused as exc:
            failures.append((url, str(exc)))
    raise DownloadError(_failure_message(request.destination.name, failures))


def _fetch_from(
    opener: urllib.request.OpenerDirector,
    url: str,
    part: _Part,
    request: DownloadRequest,
    progress: Progress | None,
    cancelled: Cancelled | None,
    timeout: float,
) -> None:
    """Resume from one URL until the file is complete; a dropped connection is resumed a few times."""
    name = request.destination.name
    answered = False
    misses = 0
    while True:
        _stop_if_cancelled(cancelled, part, name)
        before = part.done
        try:
            _transfer(opener, url, part, request.size, progress, cancelled, timeout)
            return
        except _Restart:
            part.restart()
            continue
        except _Dropped as exc:
            answered = answered or exc.answered
            misses = 0 if part.done > before else misses + 1
            if not answered or misses > RETRIES:
                raise
        time.sleep(RETRY_PAUSE_S * misses)


def _transfer(
    opener: urllib.request.OpenerDirector,
    url: str,
    part: _Part,
    size: int,
    progress: Progress | None,
    cancelled: Cancelled | None,
    timeout: float,
) -> None:
    """One request: continue (206) or restart (200) the .part, then stream it to the end."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if part.done:
        headers["Range"] = f"bytes={part.done}-"
    try:
        response = opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and part.done:
            raise _Restart from exc
        raise _Refused(f"HTTP {exc.code} {exc.reason}") from exc
    except _NETWORK_ERRORS as exc:
        raise _Dropped(answered=False) from exc
    with response:
        _take_start(response, part, size)
        _report(progress, part.done, size)
        _stream(response, part, size, progress, cancelled)


def _take_start(response: http.client.HTTPResponse, part: _Part, size: int) -> None:
    """Check the response is our file from where we are; a 200 means the .part starts again."""
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
        if match is None or int(match.group(1)) != part.done:
            raise _Restart
        if match.group(3) != "*" and int(match.group(3)) != size:
            raise _Refused(f"offers {match.group(3)} bytes, expected {size}")
        return
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) != size:
        raise _Refused(f"offers {int(length)} bytes, expected {size}")
    if part.done:
        part.restart()


def _stream(
    response: http.client.HTTPResponse,
    part: _Part,
    size: int,
    progress: Progress | None,
    cancelled: Cancelled | None,
) -> None:
    """Append blocks until ``size`` bytes are held; an early end is a dropped connection."""
    while part.done < size:
        _stop_if_cancelled(cancelled, part, part.path.name.removesuffix(PART_SUFFIX))
        try:
            block = response.read(min(BLOCK, size - part.done))
        except http.client.IncompleteRead as exc:
            part.append(exc.partial)  # received bytes are good bytes
            raise _Dropped(answered=True) from exc
        except _NETWORK_ERRORS as exc:
            raise _Dropped(answered=True) from exc
        if not block:
            raise _Dropped(answered=True)
        part.append(block)
        _report(progress, part.done, size)


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or url
    with suppress(ValueError):
        if parts.port is not None:
            return f"{host}:{parts.port}"
    return host


def _failure_message(name: str, failures: list[tuple[str, str | None]]) -> str:
    if all(reason is None for _, reason in failures):
        hosts = ", ".join(dict.fromkeys(_host(url) for url, _ in failures))
        return f"cannot reach {hosts}: {OFFLINE_HINT}"
    causes = "; ".join(f"{url}: {reason}" if reason else f"cannot reach {_host(url)}" for url, reason in failures)
    return f"{name}: cannot download it: {causes}; {OFFLINE_HINT}"
