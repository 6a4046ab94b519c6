"""Take the README screenshots of the real window (run under Xvfb: see docs/screenshots/README.md).

    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python packaging/screenshots.py

Scripted with timers: empty state, split view after Denoise on the sample photo, and the
Deblur section with its kernel preview. Each shot is the X screen grabbed by Qt.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "docs" / "screenshots"


def main() -> int:
    from app.gui.main_window import MainWindow
    from app.gui.resources import icon, stylesheet
    from app.gui.settings_store import SettingsStore

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(icon("photomend"))
    app.setStyleSheet(stylesheet())
    settings_file = OUT / ".screenshot-settings.json"
    for leftover in OUT.glob(".screenshot-settings.json*"):
        leftover.unlink()
    settings = SettingsStore(settings_file)
    window = MainWindow(settings)
    window.setGeometry(0, 0, 1280, 800)
    window.show()
    steps: list = []

    def shot(name: str) -> None:
        app.processEvents()
        window.screen().grabWindow(0).save(str(OUT / name))
        print("saved", name)

    def wait_then(condition, action, timeout_ms: int = 120000) -> None:
        elapsed = [0]

        def poll() -> None:
            if condition():
                QTimer.singleShot(400, action)
            elif elapsed[0] > timeout_ms:
                print("timed out", file=sys.stderr)
                app.exit(1)
            else:
                elapsed[0] += 200
                QTimer.singleShot(200, poll)

        poll()

    def empty() -> None:
        shot("empty.png")
        window.open_sample()
        wait_then(lambda: window.noise_sigma is not None, denoise)

    def denoise() -> None:
        window.apply("denoise")
        wait_then(lambda: window.history.is_modified() and window.current_job is None, after_denoise)

    def after_denoise() -> None:
        window.view.zoom_to(2.0, window.view.rect().center().toPointF())
        settings.setValue("test/auto_discard", True)
        QTimer.singleShot(300, lambda: (shot("split_denoise.png"), deblur()))

    def deblur() -> None:
        from app.gui.resources import blurred_sample_path

        window.open_path(blurred_sample_path())
        wait_then(lambda: window.photo is not None and window.photo.source == blurred_sample_path()
                  and window.noise_sigma is not None, deblur_settings)

    def deblur_settings() -> None:
        panel = window.panel
        panel.kernel_type.setCurrentIndex(panel.kernel_type.findData("motion"))
        panel.motion_length.setValue(21)
        panel.motion_angle.setValue(30)
        window.apply("deblur")
        wait_then(lambda: window.history.is_modified() and window.current_job is None, final, timeout_ms=600000)

    def final() -> None:
        shot("deblur_kernel.png")
        window.close()  # test/auto_discard is set: no quit question
        app.quit()

    QTimer.singleShot(800, empty)
    code = app.exec()
    for leftover in OUT.glob(".screenshot-settings.json*"):  # the file and its .bak generation
        leftover.unlink()
    return code


if __name__ == "__main__":
    sys.exit(main())
