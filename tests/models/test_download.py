"""models.download against a real HTTP server on 127.0.0.1 serving bytes made at test time (no internet)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from collections import namedtuple
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.errors import CancelledError
from models import download as dl
from models.download import DownloadError, DownloadRequest, download, mirror_urls, partial_path, remove_partial

SIZE = 3 * dl.BLOCK + 12345  # not a whole number of blocks
NAME = "NAFNet-SIDD-width32.pth"
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@dataclass
class Route:
    data: bytes = b""
    status: int = 200
    honour_range: bool = True
    drop_after: int | None = None  # close the connection after this many body bytes ...
    drops: int = 1  # ... for this many responses


@dataclass
class Seen:
    path: str  # as sent: absolute when the request came through a proxy
    headers: dict[str, str]


@dataclass
class Site:
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        site.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = site.routes.get(urlsplit(self.path).path)
        if route is None or route.status != 200:
            self.send_error(route.status if route else 404)
            return
        start = 0
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if wanted and route.honour_range:
            start = int(wanted.group(1))
        body = route.data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(route.data) - 1}/{len(route.data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if route.drop_after is not None and route.drops > 0:
            route.drops -= 1
            body = body[: route.drop_after]
            self.close_connection = True
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client went away (a cancelled download)


@pytest.fixture(autouse=True)
def _no_proxy_no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback tests must not go through a proxy set in the environment, nor a mirror."""
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.site = Site(server.server_address[1])  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.site  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


def _request(urls: tuple[str, ...], data: bytes, destination: Path) -> DownloadRequest:
    return DownloadRequest(urls=urls, sha256=hashlib.sha256(data).hexdigest(), size=len(data), destination=destination)


def _serve(site: Site, data: bytes, path: str = f"/w/{NAME}", **route: object) -> str:
    site.routes[path] = Route(data=data, **route)  # type: ignore[arg-type]
    return site.url(path)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_download_reports_progress_and_publishes_the_verified_file(site: Site, payload: bytes, tmp_path: Path) -> None:
    url = _serve(site, payload)
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "models" / NAME  # the folder is created

    assert download(_request((url,), payload, dest), progress=lambda d, t: seen.append((d, t))) == dest

    assert dest.read_bytes() == payload
    assert not partial_path(dest).exists()
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == SIZE and len(set(done)) >= 4
    assert {t for _, t in seen} == {SIZE}
    (only,) = site.requests
    assert only.headers["user-agent"].startswith("Photomend/") and "range" not in only.headers


def test_dropped_connection_is_resumed_with_a_range_request(site: Site, payload: bytes, tmp_path: Path) -> None:
    cut = 1_500_001
    url = _serve(site, payload, drop_after=cut)
    dest = tmp_path / NAME

    download(_request((url,), payload, dest))

    assert hashlib.sha256(dest.read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()
    first, second = site.requests
    assert "range" not in first.headers
    assert second.headers["range"] == f"bytes={cut}-"


def test_server_ignoring_range_starts_again_cleanly(site: Site, payload: bytes, tmp_path: Path) -> None:
    dest = tmp_path / NAME
    stale = b"x" * 700_000  # wrong bytes: appending the 200 body after them would fail the hash
    partial_path(dest).write_bytes(stale)
    url = _serve(site, payload, honour_range=False)

    download(_request((url,), payload, dest))

    assert dest.read_bytes() == payload
    assert site.requests[0].headers["range"] == f"bytes={len(stale)}-"
    assert not partial_path(dest).exists()


def test_wrong_hash_deletes_the_part_and_names_both_hashes(site: Site, payload: bytes, tmp_path: Path) -> None:
    url = _serve(site, payload)
    dest = tmp_path / NAME
    expected = hashlib.sha256(b"another file").hexdigest()
    request = DownloadRequest(urls=(url,), sha256=expected, size=SIZE, destination=dest)

    with pytest.raises(DownloadError) as info:
        download(request)

    message = str(info.value)
    assert expected[:12] in message and hashlib.sha256(payload).hexdigest()[:12] in message
    assert not dest.exists() and not partial_path(dest).exists()


def test_offline_names_the_host_and_the_import_command_and_keeps_the_part(payload: bytes, tmp_path: Path) -> None:
    port = _closed_port()
    dest = tmp_path / NAME
    partial_path(dest).write_bytes(payload[:1000])

    with pytest.raises(DownloadError) as info:
        download(_request((f"http://127.0.0.1:{port}/{NAME}",), payload, dest), timeout=2)

    message = str(info.value)
    assert f"cannot reach 127.0.0.1:{port}" in message
    assert "download the file elsewhere" in message and "photomend models import" in message
    assert partial_path(dest).read_bytes() == payload[:1000] and not dest.exists()


def test_connection_that_keeps_dropping_gives_up_after_a_few_resumes(
    site: Site, payload: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dl, "RETRY_PAUSE_S", 0.0)
    url = _serve(site, payload, drop_after=0, drops=100)
    dest = tmp_path / NAME

    with pytest.raises(DownloadError, match="photomend models import"):
        download(_request((url,), payload, dest))

    assert len(site.requests) == 1 + dl.RETRIES
    assert not dest.exists()


def test_mirror_from_the_environment_is_tried_first(
    site: Site, payload: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = site.url(f"/upstream/{NAME}")  # 404: only the mirror can deliver
    _serve(site, payload, path=f"/mirror/{NAME}")
    monkeypatch.setenv(dl.MIRROR_ENV, site.url("/mirror/"))
    dest = tmp_path / NAME

    download(_request((upstream,), payload, dest))

    assert dest.read_bytes() == payload
    assert [urlsplit(seen.path).path for seen in site.requests] == [f"/mirror/{NAME}"]
    assert mirror_urls((upstream,), NAME) == (site.url(f"/mirror/{NAME}"), upstream)
    assert mirror_urls(mirror_urls((upstream,), NAME), NAME) == mirror_urls((upstream,), NAME)


def test_missing_mirror_file_falls_back_to_the_listed_url(
    site: Site, payload: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _serve(site, payload)
    monkeypatch.setenv(dl.MIRROR_ENV, site.url("/empty-mirror"))
    dest = tmp_path / NAME

    download(_request((url,), payload, dest))

    assert dest.read_bytes() == payload
    assert [urlsplit(seen.path).path for seen in site.requests] == [f"/empty-mirror/{NAME}", f"/w/{NAME}"]
    monkeypatch.delenv(dl.MIRROR_ENV)
    assert mirror_urls((url,), NAME) == (url,)


@pytest.mark.parametrize("planted", ["destination", "part"])
def test_symlink_planted_at_destination_or_part_is_refused(
    site: Site, payload: bytes, tmp_path: Path, planted: str
) -> None:
    url = _serve(site, payload)
    target = tmp_path / "precious.txt"
    target.write_bytes(b"precious")
    dest = tmp_path / "models" / NAME
    dest.parent.mkdir()
    link = dest if planted == "destination" else partial_path(dest)
    link.symlink_to(target)

    with pytest.raises(DownloadError, match="symbolic link"):
        download(_request((url,), payload, dest))

    assert target.read_bytes() == b"precious"
    assert link.is_symlink()
    assert site.requests == []


def test_not_enough_disk_space_is_refused_before_any_byte(
    site: Site, payload: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _serve(site, payload)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    dest = tmp_path / NAME

    with pytest.raises(DownloadError, match="not enough free space") as info:
        download(_request((url,), payload, dest))

    assert str(tmp_path) in str(info.value)
    assert site.requests == []
    assert not dest.exists() and not partial_path(dest).exists()


def test_cancel_keeps_the_part_and_the_next_call_resumes(site: Site, payload: bytes, tmp_path: Path) -> None:
    url = _serve(site, payload)
    dest = tmp_path / NAME
    request = _request((url,), payload, dest)
    seen: list[int] = []

    with pytest.raises(CancelledError):
        download(request, progress=lambda d, t: seen.append(d), cancelled=lambda: bool(seen) and seen[-1] > 0)

    kept = partial_path(dest).read_bytes()
    assert 0 < len(kept) < SIZE and kept == payload[: len(kept)]
    assert not dest.exists()

    download(request)

    assert dest.read_bytes() == payload
    assert site.requests[-1].headers["range"] == f"bytes={len(kept)}-"
    assert not partial_path(dest).exists()


def test_proxy_from_the_environment_is_used(
    site: Site, payload: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(site, payload)
    monkeypatch.delenv("no_proxy")
    monkeypatch.setenv("http_proxy", site.url(""))  # the test server plays the proxy
    dest = tmp_path / NAME

    download(_request((f"http://models.example.invalid/w/{NAME}",), payload, dest))

    assert dest.read_bytes() == payload
    assert site.requests[0].path == f"http://models.example.invalid/w/{NAME}"


def test_installed_file_is_not_fetched_again_and_remove_partial_forgets_a_part(
    site: Site, payload: bytes, tmp_path: Path
) -> None:
    url = _serve(site, payload)
    dest = tmp_path / NAME
    dest.write_bytes(payload)

    assert download(_request((url,), payload, dest)) == dest
    assert site.requests == []

    partial_path(dest).write_bytes(b"half")
    remove_partial(dest)
    remove_partial(dest)  # nothing left: not an error
    assert not partial_path(dest).exists() and dest.read_bytes() == payload
