"""The real window, offscreen: open -> denoise -> export, split view and zoom, live preview
coalescing, cancel, undo/redo, a corrupt file, and closing during a run."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from app.gui.export_dialog import ExportOptions
from app.gui.main_window import MainWindow
from app.gui.settings_store import SettingsStore
from tests.conftest import load_rgb, psnr
from tests.test_finish import colour_speckle, fine_energy

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
    settings = SettingsStore(tmp_path / "settings.json")
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
    qtbot.waitUntil(lambda: win.photo is not None and win.photo.source == Path(path) and win.noise_sigma is not None,
                    timeout=30000)


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
    settings = SettingsStore(tmp_path / "s.json")
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
    assert SettingsStore(tmp_path / "s.json").value("window/geometry")  # written to disk on close


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
    qtbot.waitUntil(lambda: "9x9 px kernel" in panel.kernel_caption.text(), timeout=5000)
    small = panel.kernel_label.pixmap().toImage()
    panel.motion_length.setValue(21)
    panel.motion_angle.setValue(30)
    qtbot.waitUntil(lambda: "19x19 px kernel" in panel.kernel_caption.text(), timeout=5000)
    assert panel.kernel_caption.text().startswith("Motion blur 21 px at 30°")
    assert panel.kernel_label.pixmap().toImage() != small  # the preview follows the parameters
    panel.deblur_method.setCurrentIndex(panel.deblur_method.findData("wiener"))  # fast; deep is tested elsewhere
    qtbot.mouseClick(panel.deblur_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.history.is_modified() and window.current_job is None, timeout=60000)
    clean = load_rgb(sample_clean_path())
    inner = (slice(24, -24), slice(24, -24))
    before = psnr(window.history.original[inner], clean[inner])
    after = psnr(window.history.current()[inner], clean[inner])
    assert after > before + 3, (before, after)


# ----- the window never hurts a photo, never loses work ------------------------------------


def _patch_pixels(win: MainWindow) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The preview patch on screen as 8-bit RGB, and its region (x, y, w, h) in photo pixels."""
    import qimage2ndarray

    image, rect = win.view._patch
    return qimage2ndarray.rgb_view(image).copy(), (int(rect.x()), int(rect.y()), int(rect.width()), int(rect.height()))


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def _wait_idle(qtbot, win: MainWindow, timeout: int = 120000) -> None:
    qtbot.waitUntil(lambda: win.current_job is None and not win.worker.is_busy(), timeout=timeout)


@pytest.fixture()
def blurred_crop(tmp_path: Path, cbsd68: Path) -> tuple[np.ndarray, Path]:
    """A 240x240 CBSD68 crop, motion-blurred 15 px at 30° (valid convolution) with sigma-1.5 noise."""
    from app.physics.blur import blur
    from app.physics.kernels import motion_kernel

    kernel = motion_kernel(15, 30)
    reach = kernel.shape[0] // 2
    sharp = load_rgb(sorted(cbsd68.glob("*.png"))[30])[: 240 + 2 * reach, : 240 + 2 * reach]
    blurred = blur(sharp, kernel, mode="valid")
    blurred = blurred + np.random.default_rng(5).normal(0, 1.5 / 255, blurred.shape).astype(np.float32)
    path = tmp_path / "shaky.png"
    cv2.imwrite(str(path), _to_uint8(blurred)[:, :, ::-1])
    return sharp[reach:-reach, reach:-reach], path


@pytest.fixture()
def sharp_crop(tmp_path: Path, cbsd68: Path) -> Path:
    """A sharp 240x240 CBSD68 crop (the estimator finds a near-point kernel: no clear blur)."""
    path = tmp_path / "sharp.png"
    cv2.imwrite(str(path), cv2.imread(str(sorted(cbsd68.glob("*.png"))[60]))[:240, :240])
    return path


def test_deblur_with_auto_estimate_finds_the_blur_itself(qtbot, window: MainWindow, blurred_crop):
    """Auto-estimate + Deblur estimates this photo's kernel first (as --kernel auto), then sharpens."""
    clean, path = blurred_crop
    _open(qtbot, window, path)
    panel = window.panel
    assert panel.kernel_type.currentData() == "auto"  # the default: no guessed kernel
    panel.deblur_method.setCurrentIndex(panel.deblur_method.findData("wiener"))
    qtbot.mouseClick(panel.deblur_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.history.is_modified(), timeout=120000)
    _wait_idle(qtbot, window)
    assert panel.estimate is not None and panel.estimate.verdict == "blur"
    assert "confidence" in panel.kernel_caption.text() and "both halves" in panel.kernel_caption.text()
    label = window.history.applied_labels()[-1]
    assert label.startswith("Deblur: estimated ") and ("blur" in label or "shake" in label), label
    inner = (slice(20, -20), slice(20, -20))
    before = psnr(window.history.original[inner], clean[inner])
    after = psnr(window.history.current()[inner], clean[inner])
    assert after > before + 2, (before, after)


def test_opening_another_photo_never_reuses_its_kernel(qtbot, window: MainWindow, blurred_crop, sharp_crop):
    """The kernel estimated on one photo is forgotten on opening the next; Deblur estimates the new
    one, says "no clear blur found" before doing anything, and leaves the sharp photo unchanged."""
    _clean, shaky = blurred_crop
    _open(qtbot, window, shaky)
    qtbot.mouseClick(window.panel.estimate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.panel.estimate is not None, timeout=120000)
    first = window.panel.estimate
    assert first.verdict == "blur" and window.panel.kernel_spec() == first.spec
    _open(qtbot, window, sharp_crop)
    assert window.panel.estimate is None and window.panel.kernel_spec() is None
    assert "estimates the blur" in window.panel.kernel_caption.text()
    window.panel.deblur_button.click()
    qtbot.waitUntil(lambda: window.panel.estimate is not None, timeout=120000)
    _wait_idle(qtbot, window)
    assert window.panel.estimate.verdict == "no_blur"
    assert "No clear blur found" in (window.last_message or "")
    assert window.error_box is not None and window.error_box.isVisible()
    assert window.error_box.text() == window.last_message
    status = window.statusBar().currentMessage()  # the bar clips: it holds the first sentence, whole
    assert status != window.last_message and window.last_message.startswith(status) and status.endswith("."), status
    assert not window.history.is_modified()
    window.panel.deblur_button.click()  # again: still nothing to undo, still said
    _wait_idle(qtbot, window)
    assert not window.history.is_modified()
    assert window.panel.kernel_spec() is None


def test_a_low_confidence_estimate_is_said_before_deblurring(qtbot, window: MainWindow, cbsd68: Path):
    """A sharp photo on which the estimator only guesses (confidence 0.01): nothing changes until
    the user, told so, presses Deblur again."""
    _open(qtbot, window, sorted(cbsd68.glob("*.png"))[50])
    panel = window.panel
    panel.deblur_method.setCurrentIndex(panel.deblur_method.findData("wiener"))
    panel.deblur_button.click()
    qtbot.waitUntil(lambda: panel.estimate is not None, timeout=120000)
    _wait_idle(qtbot, window)
    assert panel.estimate.verdict == "low_confidence"
    assert "no clear blur found" in window.last_message and "low confidence" in window.last_message
    assert "Deblur again" in window.last_message
    assert not window.history.is_modified()
    assert "below 0.5: a guess" in panel.kernel_caption.text()  # the figure is explained where shown
    panel.deblur_button.click()
    qtbot.waitUntil(lambda: window.history.is_modified(), timeout=60000)


def test_deblur_preview_is_what_deblur_gives(qtbot, window: MainWindow):
    """The live preview uses Deblur's own noise floor and regularisation: on the blurred sample (its
    measured noise 0.37 is under the 2.2 floor) the patch matches the full Wiener run there."""
    from app.gui.resources import blurred_sample_path, sample_clean_path

    _open(qtbot, window, blurred_sample_path())
    assert window.noise_sigma < 1.0
    panel = window.panel
    panel.deblur_method.setCurrentIndex(panel.deblur_method.findData("wiener"))
    panel.kernel_type.setCurrentIndex(panel.kernel_type.findData("motion"))
    panel.motion_length.setValue(21)
    panel.motion_angle.setValue(30)
    window.view.zoom_to(3.0, QPointF(window.view.width() / 2, window.view.height() / 2))
    window._schedule_preview("deblur", True)
    qtbot.waitUntil(lambda: window.view._patch is not None and not window.worker.is_busy(), timeout=60000)
    patch, (x, y, w, h) = _patch_pixels(window)
    assert 0 < w * h < 512 * 512  # a part of the photo, with context cut from it
    window.apply("deblur")
    qtbot.waitUntil(lambda: window.history.is_modified(), timeout=60000)
    full = _to_uint8(window.history.current()[y : y + h, x : x + w])
    assert psnr(patch / 255.0, full / 255.0) > 38  # the old preview (no floor, mirrored context): 22 dB
    clean = load_rgb(sample_clean_path())[y : y + h, x : x + w]
    blurred = window.history.original[y : y + h, x : x + w]
    assert psnr(patch / 255.0, clean) > psnr(blurred, clean) + 3  # sharper, not grainy or striped


def test_strength_previews_from_the_step_start_and_denoise_again_replaces_the_step(
    qtbot, window: MainWindow, noisy_photo
):
    _clean, path = noisy_photo
    _open(qtbot, window, path)
    panel = window.panel
    window.apply("denoise")
    qtbot.waitUntil(lambda: window.history.is_modified(), timeout=60000)
    _wait_idle(qtbot, window)
    assert window.noise_sigma < 5  # the denoised photo shown...
    assert 15 < panel.noise_level.value() < 35  # ...but Auto shows the level a new Denoise uses
    panel.strength.setValue(0)  # preview: what Denoise at 0 would give = the un-denoised photo
    qtbot.waitUntil(lambda: window.view._patch is not None and not window.worker.is_busy(), timeout=60000)
    patch, (x, y, w, h) = _patch_pixels(window)
    assert np.array_equal(patch, _to_uint8(window.history.original[y : y + h, x : x + w]))
    panel.strength.setValue(80)
    qtbot.mouseClick(panel.denoise_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.history.applied_labels() == ["Denoise (strength 80)"], timeout=60000)
    _wait_idle(qtbot, window)
    settings = panel.settings("denoise")
    once = window.engines.denoiser(settings).denoise(window.history.original, strength=80, detail=settings.detail,
                                                     colour_noise=settings.colour_noise).pixels
    assert np.allclose(window.history.current(), once, atol=1e-5)  # one pass from the photo, not two
    assert window.undo_action.text() == "&Undo Denoise (strength 80)"
    window.undo_action.trigger()
    assert not window.history.is_modified()  # one undo: back to the photo as opened
    assert panel.settings("deblur").strength == 50  # Deblur has its own strength
    panel.deblur_strength.setValue(30)
    assert panel.settings("deblur").strength == 30 and panel.settings("denoise").strength == 80


def test_detail_and_colour_noise_sliders_preview_live_and_the_full_run_uses_them(
    qtbot, window: MainWindow, noisy_photo
):
    _clean, path = noisy_photo
    _open(qtbot, window, path)
    panel = window.panel
    import app.gui.main_window as main_window_module

    real = main_window_module.restore_region
    asked: list[tuple[float, float]] = []

    def recording(cache, pixels, region, settings, **kwargs):
        asked.append((settings.detail, settings.colour_noise))
        return real(cache, pixels, region, settings, **kwargs)

    def preview_after(change, expected: tuple[float, float]) -> np.ndarray:
        window.view._patch = None
        change()
        qtbot.waitUntil(lambda: bool(asked) and asked[-1] == expected and window.view._patch is not None
                        and not window.worker.is_busy(), timeout=60000)
        return _patch_pixels(window)[0]

    main_window_module.restore_region = recording
    try:
        plain = preview_after(lambda: (panel.detail.setValue(0), panel.colour_noise.setValue(0)), (0, 0))
        grainy = preview_after(lambda: panel.detail.setValue(100), (100, 0))
        smooth = preview_after(lambda: panel.colour_noise.setValue(100), (100, 100))
    finally:
        main_window_module.restore_region = real
    assert fine_energy(grainy) > 2 * fine_energy(plain)  # Detail gives the texture back on screen
    assert colour_speckle(smooth) < 0.7 * colour_speckle(grainy)  # Colour noise smooths the colour speckle

    panel.detail.setValue(45)
    panel.colour_noise.setValue(80)
    _wait_idle(qtbot, window)
    qtbot.mouseClick(panel.denoise_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.history.applied_labels() == ["Denoise (strength 50)"], timeout=60000)
    _wait_idle(qtbot, window)
    engine = window.engines.denoiser(panel.settings("denoise"))
    expected = engine.denoise(window.history.original, detail=45, colour_noise=80).pixels
    assert np.allclose(window.history.current(), expected, atol=1e-5)
    assert not np.allclose(window.history.current(), engine.denoise(window.history.original).pixels, atol=1e-3)


@pytest.fixture()
def asking_window(qtbot, tmp_path: Path):
    """A window that asks before quitting (no test/auto_discard), and its settings file."""
    settings = SettingsStore(tmp_path / "asking.json")
    settings.setValue("batch/queue_file", str(tmp_path / "queue.json"))
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.worker.shutdown()
    win.batch.shutdown()


def _buttons(box) -> dict[str, object]:
    standard = type(box).StandardButton
    return {name: box.button(getattr(standard, name)) for name in ("Save", "Discard", "Cancel")}


def test_quit_with_an_unexported_result_asks_save_discard_cancel(qtbot, asking_window: MainWindow, noisy_photo):
    win = asking_window
    _open(qtbot, win, noisy_photo[1])
    win.apply("denoise")
    qtbot.waitUntil(lambda: win.history.is_modified(), timeout=60000)
    win.quit_action.trigger()  # Ctrl+Q
    assert win.isVisible() and win.quit_box is not None and win.quit_box.isVisible()
    buttons = _buttons(win.quit_box)
    assert all(button is not None for button in buttons.values())
    assert "not been exported" in win.quit_box.text()
    qtbot.mouseClick(buttons["Cancel"], Qt.MouseButton.LeftButton)
    assert win.isVisible() and win.history.is_modified()
    win.close()
    qtbot.mouseClick(_buttons(win.quit_box)["Discard"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=5000)
    assert not win.worker._thread.isRunning()


def test_quit_and_save_exports_then_closes(qtbot, asking_window: MainWindow, noisy_photo, tmp_path: Path):
    win = asking_window
    clean, path = noisy_photo
    _open(qtbot, win, path)
    win.apply("denoise")
    qtbot.waitUntil(lambda: win.history.is_modified(), timeout=60000)
    out = tmp_path / "kept.png"
    win.export_dialog = lambda: win.export_to(out, ExportOptions(format="png"))  # the dialogs' answer
    win.close()
    qtbot.mouseClick(_buttons(win.quit_box)["Save"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=20000)
    assert psnr(load_rgb(out), clean) > psnr(load_rgb(path), clean) + 5


def test_quit_during_a_batch_asks_then_stops_it_within_2_seconds(qtbot, asking_window: MainWindow, noisy_photo,
                                                                 tmp_path: Path):
    import time

    from app.pipeline.batch import BatchQueue

    win = asking_window
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(noisy_photo[1])), (2400, 1600)))
    win.panel.tile_combo.setCurrentIndex(win.panel.tile_combo.findData(256))
    win.add_to_batch([str(big)])
    win.batch.start()
    qtbot.waitUntil(lambda: win.batch._current is not None and win.batch._current[0].progress > 0, timeout=60000)
    win.close()
    assert win.isVisible() and "batch is running" in win.quit_box.text()
    assert _buttons(win.quit_box)["Save"] is None  # nothing to export: Discard or Cancel
    started = time.perf_counter()
    qtbot.mouseClick(_buttons(win.quit_box)["Discard"], Qt.MouseButton.LeftButton)
    assert not win.isVisible() and time.perf_counter() - started < 2.0
    assert win.stopped_cleanly or win.batch.worker._thread.wait(10000)  # cancelled: the step ends, no more
    assert [Path(item.source).name for item in BatchQueue.load(tmp_path / "queue.json").items] == ["big.png"]
    assert not list(tmp_path.glob("big_*"))  # nothing half-written


@pytest.mark.parametrize("work", ["deep deblur", "kernel estimate"])
def test_quitting_cancels_running_work_within_2_seconds(qtbot, asking_window: MainWindow, noisy_photo,
                                                       tmp_path: Path, work: str):
    import time

    win = asking_window
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(noisy_photo[1])), (1600, 1000)))
    _open(qtbot, win, big)
    panel = win.panel
    if work == "deep deblur":
        panel.kernel_type.setCurrentIndex(panel.kernel_type.findData("motion"))
        progress: list[int] = []
        panel.progress.valueChanged.connect(progress.append)
        win.apply("deblur")
        qtbot.waitUntil(lambda: any(v >= 1 for v in progress), timeout=60000)
    else:
        win.estimate_kernel()
        qtbot.wait(1500)
    assert win.current_job is not None
    started = time.perf_counter()
    win.close()  # nothing to lose: no question
    assert time.perf_counter() - started < 2.0 and not win.isVisible()
    # The work was cancelled, not left to finish: at worst the step in progress (one iteration) ends.
    assert win.stopped_cleanly or win.worker._thread.wait(10000)
    assert not win.worker._thread.isRunning()


def test_kernel_choices_are_shown_in_plain_words(qtbot, window: MainWindow, noisy_photo, tmp_path: Path):
    """No spec syntax ("motion:15,0", "empty kernel spec") reaches the panel or the status bar."""
    from app.physics.kernels import motion_kernel, save_kernel

    _open(qtbot, window, noisy_photo[1])
    panel = window.panel
    saved = save_kernel(motion_kernel(9, 45), tmp_path / "shake.png")
    panel.set_kernel_file(str(saved))
    expected = {"motion": "Motion blur 15 px at 0°", "defocus": "Defocus, radius 4 px",
                "gaussian": "Gaussian blur, sigma 2 px", "file": "Kernel from file shake.png"}
    for kind, words in expected.items():
        panel.kernel_type.setCurrentIndex(panel.kernel_type.findData(kind))
        assert panel.kernel_caption.text().startswith(words), panel.kernel_caption.text()
    panel.kernel_type.setCurrentIndex(panel.kernel_type.findData("auto"))
    assert panel.kernel_caption.text() == "Deblur estimates the blur from the photo first."
    window._schedule_preview("deblur", True)
    qtbot.waitUntil(lambda: "not estimated yet" in window.statusBar().currentMessage(), timeout=5000)
    assert "spec" not in window.statusBar().currentMessage()
    assert window.last_error is None  # the preview did not fail on an empty kernel


def test_opening_another_photo_over_an_unexported_result_offers_export_discard_cancel(
    qtbot, asking_window: MainWindow, noisy_photo, tmp_path: Path
):
    win = asking_window
    clean, path = noisy_photo
    _open(qtbot, win, path)
    win.apply("denoise")
    qtbot.waitUntil(lambda: win.history.is_modified(), timeout=60000)
    other = tmp_path / "other.png"
    shutil.copy(path, other)
    win.open_path(other)
    buttons = _buttons(win.open_box)
    assert all(button is not None for button in buttons.values())
    qtbot.mouseClick(buttons["Cancel"], Qt.MouseButton.LeftButton)
    assert win.history.is_modified() and win.photo.source == path  # nothing lost
    out = tmp_path / "kept.png"
    win.export_dialog = lambda: win.export_to(out, ExportOptions(format="png"))  # the dialogs' answer
    win.open_path(other)
    qtbot.mouseClick(_buttons(win.open_box)["Save"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.photo is not None and win.photo.source == other, timeout=20000)
    assert psnr(load_rgb(out), clean) > psnr(load_rgb(path), clean) + 5  # exported first, then opened
    assert not win.history.is_modified()


def test_one_click_denoise_of_a_compressed_jpeg_counts_its_artefacts(qtbot, window: MainWindow, cbsd68: Path,
                                                                     tmp_path: Path):
    """The level and why are in the status bar; Denoise on the opened JPEG uses its quality."""
    from PIL import Image

    clean = load_rgb(sorted(cbsd68.glob("*.png"))[2])
    path = tmp_path / "compressed.jpg"
    Image.fromarray(np.round(clean * 255).astype(np.uint8)).save(path, quality=20)
    _open(qtbot, window, path)
    text = window.status_labels["noise"].text()
    assert text.startswith("auto level") and "JPEG quality 20" in text
    window.apply("denoise")
    qtbot.waitUntil(lambda: window.history.is_modified(), timeout=60000)
    before = psnr(load_rgb(path), clean)
    assert psnr(window.history.current(), clean) > before + 0.4


def test_deblur_tells_its_time_before_and_while_it_runs_and_previews_deep_when_zoomed_in(qtbot, window: MainWindow):
    """Under the Deblur button: the measured estimate; while running: time left; zoomed in, a deep preview."""
    from app.gui.resources import blurred_sample_path, sample_clean_path

    _open(qtbot, window, blurred_sample_path())
    panel = window.panel
    panel.kernel_type.setCurrentIndex(panel.kernel_type.findData("motion"))
    panel.motion_length.setValue(21)
    panel.motion_angle.setValue(30)
    _wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: panel.deblur_time.text().startswith("Deblur takes"), timeout=60000)
    window.view.zoom_to(6.0, QPointF(window.view.width() / 2, window.view.height() / 2))
    window._schedule_preview("deblur", True)
    qtbot.waitUntil(lambda: window.view._patch is not None and not window.worker.is_busy()
                    and "deep prior" in window.statusBar().currentMessage(), timeout=60000)
    patch, (x, y, w, h) = _patch_pixels(window)
    formats: list[str] = []
    real_progress = panel.set_progress

    def recording(done: int, total: int) -> None:
        real_progress(done, total)
        formats.append(panel.progress.format())

    panel.set_progress = recording
    window.apply("deblur")
    qtbot.waitUntil(lambda: window.history.is_modified() and window.current_job is None, timeout=120000)
    assert any(" left" in text for text in formats), formats  # time left shown while it ran
    clean = load_rgb(sample_clean_path())[y : y + h, x : x + w]
    full = window.history.current()[y : y + h, x : x + w]
    blurred = window.history.original[y : y + h, x : x + w]
    assert psnr(patch / 255.0, clean) > psnr(blurred, clean) + 3  # the deep preview is sharper...
    assert psnr(patch / 255.0, full) > 30  # ...and close to what Deblur gives there


def test_a_result_that_keeps_blur_is_not_kept_and_deblur_again_applies_it(qtbot, window: MainWindow, blurred_crop,
                                                                          monkeypatch):
    """When the estimated kernel leaves blur in its result, the photo stays as it was and the window says
    why; pressing Deblur again applies that kernel as asked."""
    import app.algorithms.blind as blind
    from app.physics.kernels import motion_kernel

    calls: list[int] = []

    def blur_everywhere(pixels, side, cancelled=None, progress=None):
        calls.append(side)
        return blind.KernelEstimate(motion_kernel(9, 0), "motion", {"length": 9, "angle": 0}, 0.9, "motion:9,0")

    monkeypatch.setattr(blind, "blur_left", blur_everywhere)
    _clean, path = blurred_crop
    _open(qtbot, window, path)
    panel = window.panel
    assert panel.deblur_method.currentData() == "deep"  # the checked method
    qtbot.mouseClick(panel.deblur_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(calls) and window.current_job is None and "Press Deblur again" in (window.last_message or ""),
                    timeout=120000)
    assert not window.history.is_modified()  # nothing kept, nothing to undo
    assert "left blur" in window.last_message and "unchanged" in window.last_message
    qtbot.mouseClick(panel.deblur_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.history.is_modified() and window.current_job is None, timeout=120000)
    assert len(calls) == 1  # the second press was not checked again: the user asked for it
