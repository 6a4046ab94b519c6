"""Start the window: `photomend`, `photomend gui [FILE]` or `python main.py [FILE]`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from app import __version__

NO_DISPLAY_MESSAGE = "no display: use `photomend denoise ...`, or run it in a desktop session"
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


def run_gui(path: str | None = None) -> int:
    """Create the application (HiDPI-aware) and the main window; returns the exit code."""
    if display_missing():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
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
    window = MainWindow()
    window.show()
    if path:
        window.open_path(path)
    return app.exec()
