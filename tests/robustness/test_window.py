"""The window's own files and start-up: a damaged settings file never stops the window (it is set
aside, the backup restored, the user told once), settings are written only through the atomic
writer, and with no display `photomend` says so in one line instead of Qt aborting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.gui.settings_store import SettingsStore
from tests.robustness.helpers import REPO, noisy_photo, temporaries

pytest.importorskip("pytestqt")


@pytest.fixture(autouse=True)
def _log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOMEND_LOG_DIR", str(tmp_path / "logs"))


def _window(qtbot, settings: SettingsStore):
    from app.gui.main_window import MainWindow

    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _close(win) -> None:
    win.close()
    assert not win.isVisible()


def _saved_settings(tmp_path: Path, **values) -> Path:
    """A settings file as the window writes it, two generations deep (so a backup exists)."""
    path = tmp_path / "settings.json"
    store = SettingsStore(path)
    store.setValue("batch/queue_file", str(tmp_path / "queue.json"))
    store.setValue("files/recent", ["/photos/old.png"])
    store.sync()
    for key, value in values.items():
        store.setValue(key.replace("__", "/"), value)
    store.sync()
    return path


def test_a_damaged_settings_file_is_set_aside_and_the_backup_restored(qtbot, tmp_path: Path):
    path = _saved_settings(tmp_path, files__recent=["/photos/new.png", "/photos/old.png"])
    damaged = path.read_bytes()[:25]  # cut short, as by a crash of an older writer or a full disk
    path.write_bytes(damaged)
    win = _window(qtbot, SettingsStore(path))
    message = win.statusBar().currentMessage()
    assert "settings file" in message and "damaged" in message and "restored" in message, message
    assert [p.name for p in tmp_path.glob("settings.json.corrupt-*")] and \
        next(tmp_path.glob("settings.json.corrupt-*")).read_bytes() == damaged  # kept, not deleted
    assert win.recent_files() == ["/photos/old.png"]  # the previous generation
    _close(win)
    again = _window(qtbot, SettingsStore(path))
    assert "settings" not in again.statusBar().currentMessage()  # told once
    assert json.loads(path.read_text())["values"]["window/geometry"]
    _close(again)
    assert temporaries(tmp_path) == []


def test_settings_of_the_wrong_kind_fall_back_to_defaults(qtbot, tmp_path: Path):
    """A hand-edited file: every value the wrong type. The window starts, opens and can quit."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "values": {
        "window/geometry": 12, "files/recent": 5, "files/max_megapixels": "lots", "engine/device": ["x"],
        "files/last_open_dir": None, "batch/queue_file": str(tmp_path / "queue.json"), "test/auto_discard": "yes",
    }}))
    win = _window(qtbot, SettingsStore(path))
    assert win.recent_files() == []
    photo = noisy_photo(tmp_path / "p.png")
    win.open_path(photo)
    qtbot.waitUntil(lambda: win.photo is not None, timeout=30000)
    _close(win)
    assert json.loads(path.read_text())["values"]["files/recent"] == [str(photo)]


def test_settings_that_cannot_be_parsed_at_all_start_empty(qtbot, tmp_path: Path):
    path = tmp_path / "settings.json"
    path.write_bytes(b"\x00\xff not json")
    win = _window(qtbot, SettingsStore(path))
    assert "No backup" in win.statusBar().currentMessage()
    _close(win)
    assert json.loads(path.read_text())["version"] == 1


def test_settings_are_never_written_through_a_link(qtbot, tmp_path: Path):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("someone else's file")
    path = tmp_path / "settings.json"
    os.symlink(outside, path)
    store = SettingsStore(path)
    store.setValue("files/recent", ["/photos/a.png"])
    assert store.sync()
    assert outside.read_text() == "someone else's file"
    assert not path.is_symlink() and json.loads(path.read_text())["values"]["files/recent"] == ["/photos/a.png"]


def test_no_display_prints_one_line_and_exits_2(tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for args in ([], ["gui", str(noisy_photo(tmp_path / "p.png"))]):
        result = _run_without_display(args, tmp_path, env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            "no display: use `photomend denoise ...`, or run it in a desktop session"
        ]
        assert "reinstalling" not in result.stderr and result.stdout == ""


def _run_without_display(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`photomend ARGS` in a fresh process with exactly ``env`` (no display variables)."""
    return subprocess.run([sys.executable, "-m", "app.cli.main", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**env, "PYTHONPATH": str(REPO)})


XCB_CURSOR_MISSING = """
import ctypes, sys


class WithoutXcbCursor(ctypes.CDLL):  # this system, as if libxcb-cursor0 were not installed
    def __init__(self, name, *args, **kwargs):
        if name and "xcb-cursor" in str(name):
            raise OSError(f"{name}: cannot open shared object file")
        super().__init__(name, *args, **kwargs)


ctypes.CDLL = WithoutXcbCursor
from app.cli.main import main

sys.exit(main(sys.argv[1:]))
"""


def test_a_missing_xcb_cursor_library_is_named_instead_of_qt_aborting(tmp_path: Path):
    """Qt >= 6.5 cannot load its X11 plugin without libxcb-cursor and aborts with "Reinstalling the
    application may fix this problem"; the user is told which system package to install."""
    env = {key: value for key, value in os.environ.items() if key not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(DISPLAY=":999", PYTHONPATH=str(REPO))  # never reached: no window may open
    result = subprocess.run([sys.executable, "-c", XCB_CURSOR_MISSING, "gui"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "libxcb-cursor" in lines[0] and "apt install libxcb-cursor0" in lines[0]


@pytest.mark.parametrize("signame, code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_termination_signal_closes_the_window_cleanly(tmp_path: Path, signame: str, code: int):
    """SIGTERM/SIGHUP used to kill the window on the spot; now it quits like Ctrl+Q, without asking."""
    import signal
    import time

    photo = noisy_photo(tmp_path / "p.png")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO), "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PHOTOMEND_LOG_DIR": str(tmp_path / "logs")}
    process = subprocess.Popen([sys.executable, "-m", "app.cli.main", "gui", str(photo)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        settings = tmp_path / "config" / "Photomend" / "settings.json"
        while not (tmp_path / "data" / "Photomend").is_dir() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # the window is up and the photo opening
        process.send_signal(getattr(signal, signame))
        _out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert settings.is_file() and json.loads(settings.read_text())  # saved on the way out
    assert not temporaries(tmp_path)


def test_quitting_abandons_a_step_that_outlasts_the_wait(qtbot, tmp_path: Path):
    """A step Python cannot interrupt (one large tile) must not hold the quit: the window goes at once."""
    import threading
    import time

    from app.gui.main_window import QUIT_WAIT_MS

    store = SettingsStore(tmp_path / "settings.json")
    store.setValue("batch/queue_file", str(tmp_path / "queue.json"))
    store.setValue("test/auto_discard", True)
    win = _window(qtbot, store)
    release = threading.Event()
    win.worker.submit("apply", lambda job: release.wait(20))  # ignores cancel, like a native call
    qtbot.wait(100)
    started = time.monotonic()
    win.close()
    elapsed = time.monotonic() - started
    release.set()
    win.worker._thread.wait(20000)
    assert not win.isVisible() and not win.stopped_cleanly
    assert elapsed < QUIT_WAIT_MS / 1000 + 0.5 <= 2.0
