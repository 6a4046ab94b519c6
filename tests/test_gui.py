"""The real window, offscreen: open -> denoise -> export, split view and zoom, live preview
coalescing, cancel, undo/redo, a corrupt file, and closing during a run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt

from app.gui.export_dialog import ExportOptions
from app.gui.main_window import MainWindow
from tests.conftest import load_rgb, psnr

pytest.importorskip("pytestqt")


@pytest.fixture()
def noisy_photo(tmp_path: Path, cbsd68: Path) -> tuple[np.ndarray, Path]:
    clean = load_rgb(sorted(cbsd68.glob("*.png"))[3])[:200, :300]
    rng = np.random.default_rng(11)
    noisy = np.clip(clean + rng.standard_normal(clean.shape).astype(np.float32) * 25 / 255, 0, 1)
    path = tmp_path / "harbour.png"
    cv2.imwrite(str(path), np.round(noisy[:, :, ::-1] * 255).astype(np.uint8))
    return clean, path


@pytest.fixture()
def window(qtbot, tmp_path: Path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("test/auto_discard", True)
    settings.setValue("batch/queue_file", str(tmp_path / "queue.json"))
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.worker.shutdown()


def _open(qtbot, win: MainWindow, path: Path) -> None:
    win.open_path(path)
    qtbot.waitUntil(lambda: win.photo is not None and win.noise_sigma is not None, timeout=30000)


def test_open_denoise_export_with_a_real_file(qtbot, window: MainWindow, noisy_photo, tmp_path: Path):
    clean, path = noisy_photo
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _open(qtbot, window, path)
    assert window.status_labels["size"].text().startswith("300x200")
    assert "noise" in window.status_labels["noise"].text()
    assert 15 < window.noise_sigma < 35  # sigma-25 noise, estimated on open
    qtbot.mouseClick(window.panel.denoise_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.history.is_modified() and window.current_job is None, timeout=60000)
    assert "last run" in window.status_labels["time"].text()
    out = tmp_path / "harbour_restored.png"
    window.export_to(out, ExportOptions(format="png"))
    qtbot.waitUntil(out.exists, timeout=20000)
    assert psnr(load_rgb(out), clean) > psnr(load_rgb(path), clean) + 5
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    window.export_to(path, ExportOptions(format="png"), replace=True)
    assert "original" in (window.last_error or "")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_divider_drag_and_zoom_about_the_cursor(qtbot, window: MainWindow, noisy_photo):
    _clean, path = noisy_photo
    _open(qtbot, window, path)
    view = window.view
    x = int(view.width() * view.divider_fraction())
    y = view.height() // 2
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    qtbot.mouseMove(view, QPoint(x - 200, y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(x - 200, y))
    assert view.divider_fraction() == pytest.approx((x - 200) / view.width(), abs=0.01)
    anchor = QPointF(view.width() * 0.3, view.height() * 0.4)
    before = view.map_to_image(anchor)
    view.zoom_to(view.scale() * 2, anchor)
    after = view.map_to_image(anchor)
    assert (before - after).manhattanLength() < 1e-6
    window.view.zoom_actual()
    assert view.scale() == pytest.approx(1 / view.devicePixelRatioF())
    window.view.zoom_fit()
    assert view.visible_image_rect().size().width() == 300
    window.set_view_mode("original")
    assert view.mode() == "original" and window.mode_actions["original"].isChecked()


def test_slider_drags_are_coalesced_and_the_latest_preview_wins(qtbot, window: MainWindow, noisy_photo):
    _clean, path = noisy_photo
    _open(qtbot, window, path)
    ran: list[float] = []
    import app.gui.main_window as main_window_module

    real = main_window_module.restore_region

    def counting(cache, pixels, region, settings, **kwargs):
        ran.append(settings.strength)
        return real(cache, pixels, region, settings, **kwargs)

    main_window_module.restore_region = counting
    try:
        slider = window.panel.strength.slider
        slider.setSliderDown(True)
        for value in range(52, 92, 2):  # 20 quick moves, as a drag produces
            slider.setValue(value)
            window._request_preview()
        slider.setSliderDown(False)
        slider.setValue(90)
        window._request_preview()
        qtbot.waitUntil(lambda: not window.worker.is_busy() and ran and ran[-1] == 90, timeout=30000)
    finally:
        main_window_module.restore_region = real
    assert len(ran) < 21  # stale requests were dropped
    assert window.view._patch is not None  # the preview is on screen


def test_cancel_stops_a_full_run_and_keeps_the_photo(qtbot, window: MainWindow, noisy_photo, tmp_path: Path):
    _clean, path = noisy_photo
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(path)), (1200, 800)))
    _open(qtbot, window, big)
    window.panel.tile_combo.setCurrentIndex(window.panel.tile_combo.findData(256))
    progress: list[int] = []
    window.panel.progress.valueChanged.connect(progress.append)
    window.apply("denoise")
    qtbot.waitUntil(lambda: any(v >= 1 for v in progress), timeout=30000)
    window.cancel()
    qtbot.waitUntil(lambda: window.current_job is None, timeout=30000)
    assert not window.history.is_modified()
    assert window.panel.denoise_button.isEnabled()


def test_undo_redo_and_reset(qtbot, window: MainWindow, noisy_photo):
    _clean, path = noisy_photo
    _open(qtbot, window, path)
    window.apply("denoise")
    qtbot.waitUntil(lambda: window.history.is_modified() and window.current_job is None, timeout=60000)
    result = window.history.current()
    window.undo_action.trigger()
    assert not window.history.is_modified() and window.redo_action.isEnabled()
    window.redo_action.trigger()
    assert window.history.current() is result
    window.reset_action.trigger()
    assert not window.history.is_modified()


def test_corrupt_file_shows_an_error_and_the_window_stays_usable(qtbot, window: MainWindow, noisy_photo, tmp_path):
    _clean, path = noisy_photo
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    window.open_path(broken)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10000)
    assert "broken.jpg" in window.last_error
    assert window.error_box is not None and window.error_box.isVisible()
    assert window.photo is None
    _open(qtbot, window, path)
    assert window.photo is not None


def test_closing_during_a_run_cancels_it_cleanly(qtbot, tmp_path: Path, noisy_photo):
    _clean, path = noisy_photo
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(path)), (1600, 1000)))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("batch/queue_file", str(tmp_path / "queue.json"))
    win = MainWindow(settings)
    win.show()
    _open(qtbot, win, big)
    win.panel.tile_combo.setCurrentIndex(win.panel.tile_combo.findData(256))
    win.apply("denoise")
    qtbot.wait(300)
    assert win.current_job is not None
    win.close()
    assert not win.worker._thread.isRunning()
    assert settings.value("window/geometry") is not None


def test_sample_photo_is_offered_on_an_empty_canvas(qtbot, window: MainWindow):
    button = window.view._sample_button
    assert button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.photo is not None, timeout=20000)
    assert not button.isVisible()
    assert window.photo.width == 512


def test_deblur_with_kernel_preview_sharpens_the_blurred_sample(qtbot, window: MainWindow):
    """Blurred sample -> motion kernel set in the panel (its preview follows) -> Deblur -> sharper."""
    from app.gui.resources import blurred_sample_path, sample_clean_path

    window.open_path(blurred_sample_path())
    qtbot.waitUntil(lambda: window.photo is not None and window.noise_sigma is not None, timeout=30000)
    panel = window.panel
    panel.kernel_type.setCurrentIndex(panel.kernel_type.findData("motion"))
    panel.motion_length.setValue(9)
    qtbot.waitUntil(lambda: panel.kernel_caption.text().startswith("9x9"), timeout=5000)
    small = panel.kernel_label.pixmap().toImage()
    panel.motion_length.setValue(21)
    panel.motion_angle.setValue(30)
    qtbot.waitUntil(lambda: panel.kernel_caption.text() == "19x19 px", timeout=5000)
    assert panel.kernel_label.pixmap().toImage() != small  # the preview follows the parameters
    panel.deblur_method.setCurrentIndex(panel.deblur_method.findData("wiener"))  # fast; deep is tested elsewhere
    qtbot.mouseClick(panel.deblur_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.history.is_modified() and window.current_job is None, timeout=60000)
    clean = load_rgb(sample_clean_path())
    inner = (slice(24, -24), slice(24, -24))
    before = psnr(window.history.original[inner], clean[inner])
    after = psnr(window.history.current()[inner], clean[inner])
    assert after > before + 3, (before, after)
