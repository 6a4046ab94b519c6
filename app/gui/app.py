"""Start the window: `photomend`, `photomend gui [FILE]` or `python main.py [FILE]`."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from app import __version__
from app.io.atomic import remove_live_temporaries
from app.termination import exit_code_for, install_termination_handlers

NO_DISPLAY_MESSAGE = "no display: use `photomend denoise ...`, or run it in a desktop session"
XCB_CURSOR = "libxcb-cursor.so.0"
MISSING_XCB_CURSOR_MESSAGE = (
    f"the window needs the system library {XCB_CURSOR} (Debian/Ubuntu: apt install libxcb-cursor0; "
    "Fedora: dnf install xcb-util-cursor); meanwhile use `photomend denoise ...`"
)
EXIT_NO_DISPLAY = 2


def display_missing(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """On X11/Wayland systems, whether there is no display to open the window on.

    Qt would abort the process (SIGABRT, "reinstalling the application may fix this problem"),
    which no caller can catch; an explicit QT_QPA_PLATFORM (offscreen, vnc...) is the user's choice.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin", "cygwin")) or environ.get("QT_QPA_PLATFORM"):
        return False
    return not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def xcb_cursor_missing(environ: Mapping[str, str] | None = None, platform: str | None = None,
                       load: Callable[[str], object] = ctypes.CDLL) -> bool:
    """Whether Qt's X11 plugin would fail to load for want of libxcb-cursor (Qt >= 6.5 needs it).

    Qt then aborts with "Reinstalling the application may fix this problem", which is never
    true: the system library is missing. Only asked when X11 will be used; a copy bundled with
    Qt (or a frozen build) counts.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux") or chosen not in ("", "xcb") or not environ.get("DISPLAY"):
        return False
    if not chosen and environ.get("WAYLAND_DISPLAY"):
        return False
    try:
        load(XCB_CURSOR)
        return False
    except OSError:
        pass
    folders = [Path(sys._MEIPASS)] if hasattr(sys, "_MEIPASS") else []  # a PyInstaller build's own libraries
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.origin:
        folders.append(Path(spec.origin).parent / "Qt" / "lib")
    return not any((folder / XCB_CURSOR).exists() for folder in folders)


def run_gui(path: str | None = None) -> int:
    """Create the application (HiDPI-aware) and the main window; returns the exit code."""
    if display_missing():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return EXIT_NO_DISPLAY
    if xcb_cursor_missing():
        print(MISSING_XCB_CURSOR_MESSAGE, file=sys.stderr)
        return EXIT_NO_DISPLAY
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Photomend")
    app.setOrganizationName("Photomend")
    app.setApplicationVersion(__version__)
    from app.gui.main_window import MainWindow
    from app.gui.resources import icon, stylesheet

    app.setWindowIcon(icon("photomend"))
    app.setStyleSheet(stylesheet())
    # A signal while the window is still being built (models listed, queue loaded) is kept and
    # acted on as soon as the window exists, instead of killing the process half-way.
    signalled: list[int] = []
    install_termination_handlers(lambda signum, _frame: signalled.append(signum))
    window = MainWindow()
    window.show()
    if path:
        window.open_path(path)
    _quit_on_termination(window, signalled)
    code = app.exec()
    if signalled:
        code = exit_code_for(signalled[-1])
    if not window.stopped_cleanly:
        # A tile outlived the quit: Python cannot interrupt it, and letting the interpreter tear
        # down a running QThread aborts. Its write (if any) is removed; queue and settings are saved.
        remove_live_temporaries()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _quit_on_termination(window, received: list[int]) -> None:
    """SIGTERM/SIGHUP close the window without questions; ``received`` collects them for the exit code.

    Python runs signal handlers only between bytecodes, and Qt's event loop is native code: a
    timer gives the interpreter a turn a few times a second so the handler runs promptly.
    """
    from PySide6.QtCore import QTimer

    def handler(signum, _frame) -> None:
        received.append(signum)
        QTimer.singleShot(0, window.quit_now)

    install_termination_handlers(handler)
    if received:  # arrived during start-up
        QTimer.singleShot(0, window.quit_now)
    heartbeat = QTimer(window)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
