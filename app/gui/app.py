"""Start the window: `photomend`, `photomend gui [FILE]` or `python main.py [FILE]`."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app import __version__


def run_gui(path: str | None = None) -> int:
    """Create the application (HiDPI-aware) and the main window; returns the exit code."""
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
