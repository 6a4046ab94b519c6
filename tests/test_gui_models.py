"""The window's model library, offscreen with real widgets: selectors list installed and
downloadable models, the download question (Cancel downloads nothing), the download on its
thread, failures and Cancel keep the previous model, the Models dialog imports and deletes,
blind and learned models disable the controls they do not use, and About credits every model.

No test touches the network: ``download_entry`` is replaced by a function that writes a small,
real model file (random weights) where the download would have put it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

import app.gui.models_dialog as models_dialog
from app.errors import CancelledError
from app.gui.main_window import MainWindow
from app.gui.models_dialog import BLIND_STRENGTH_TIP, BLIND_TIP, NO_KERNEL_TIP
from app.gui.settings_store import SettingsStore
from models import install
from models.catalogue import CATALOGUE, entries_for, find_entry
from models.download import DownloadError
from models.store import MODELS_DIR_ENV, catalogue_path

pytest.importorskip("pytestqt")


def tiny_ffdnet(path: Path) -> Path:
    """A real FFDNet file in KAIR's layout (8 features, 3 layers): a noise-level denoiser."""
    from models.ffdnet.arch import FFDNet

    torch.manual_seed(0)
    torch.save(FFDNet(in_channels=3, features=8, depth=3).state_dict(), path)
    return path


def tiny_nafnet(path: Path) -> Path:
    """A real NAFNet file spandrel recognises (width 8): a blind model."""
    from spandrel.architectures.NAFNet import NAFNet

    torch.manual_seed(0)
    torch.save(NAFNet(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1], dec_blk_nums=[1]).state_dict(), path)
    return path


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv(MODELS_DIR_ENV, str(folder))

    def no_network(*_args, **_kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr("models.download.download", no_network)
    return folder


@pytest.fixture()
def window(qtbot, tmp_path: Path, models_dir: Path):
    settings = SettingsStore(tmp_path / "settings.json")
    settings.setValue("test/auto_discard", True)
    settings.setValue("batch/queue_file", str(tmp_path / "queue.json"))
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.downloads.shutdown()
    win.worker.shutdown()
    win.batch.shutdown()


@pytest.fixture()
def answers(monkeypatch) -> dict:
    """The download question, answered by the test; records what was asked."""
    state: dict = {"answer": True, "asked": []}

    def confirm(_parent, entry) -> bool:
        state["asked"].append(models_dialog.download_question(entry))
        return state["answer"]

    monkeypatch.setattr(models_dialog, "confirm_download", confirm)
    monkeypatch.setattr(models_dialog, "confirm_delete", lambda _parent, _choice: True)
    return state


@pytest.fixture()
def fake_download(monkeypatch) -> list[str]:
    """``download_entry`` writing a small real model file, with progress; returns the names fetched."""
    fetched: list[str] = []

    def download_entry(name, progress=None, cancelled=None):
        entry = find_entry(name)
        fetched.append(name)
        path = catalogue_path(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        for done in (0, entry.size // 2, entry.size):
            if progress is not None:
                progress(done, entry.size)
        return tiny_nafnet(path) if entry.architecture == "NAFNet" else tiny_ffdnet(path)

    monkeypatch.setattr(install, "download_entry", download_entry)
    return fetched


def choose(selector, name: str) -> None:
    """What a user's pick in the open list does: the row becomes current, then ``activated``."""
    index = selector.findData(name)
    assert index >= 0, name
    selector.setCurrentIndex(index)
    selector.activated.emit(index)


def texts(selector) -> list[str]:
    return [selector.itemText(i) for i in range(selector.count())]


def test_denoise_selector_lists_the_built_in_model_and_the_downloads(window: MainWindow):
    combo = window.panel.model_combo
    assert combo.current_model() == "ffdnet-color"
    assert combo.itemText(combo.findData("ffdnet-color")) == "FFDNet (colour) · MIT · built in"
    denoisers = [entry for entry in entries_for("denoise") if not entry.builtin]
    assert {e.name for e in denoisers} >= {"nafnet-sidd-32", "nafnet-sidd-64", "scunet-real-psnr", "drunet-color"}
    for entry in denoisers:
        text = combo.itemText(combo.findData(entry.name))
        assert text == f"{entry.title} · {entry.licence} (download, {entry.size_text})"
    assert "NAFNet SIDD (width 32) · MIT (download, 117 MB)" in texts(combo)
    deblur = window.panel.deblur_model
    assert deblur.current_model() == "ffdnet-color"  # the deep method's prior
    assert {deblur.itemData(i) for i in range(deblur.count())} == {e.name for e in entries_for("deblur")}
    assert "NAFNet GoPro (width 32) · MIT (download, 69 MB)" in texts(deblur)


def test_choosing_a_download_and_answering_cancel_keeps_the_model_and_fetches_nothing(
        window: MainWindow, answers: dict, fake_download: list[str], models_dir: Path):
    answers["answer"] = False
    combo = window.panel.model_combo
    choose(combo, "nafnet-sidd-32")
    assert answers["asked"] == ["Download NAFNet SIDD (width 32), 117 MB, MIT licence?"]
    assert fake_download == []
    assert combo.current_model() == "ffdnet-color" and combo.currentData() == "ffdnet-color"
    assert window.panel.settings("denoise").model == "ffdnet-color"
    assert not catalogue_path(find_entry("nafnet-sidd-32")).exists()
    assert window.downloads.progress is None


def test_answering_download_fetches_it_on_a_thread_and_selects_it(
        qtbot, window: MainWindow, answers: dict, monkeypatch, models_dir: Path):
    threads: list[str] = []
    seen_progress: list[int] = []
    release = threading.Event()

    def download_entry(name, progress=None, cancelled=None):
        threads.append(threading.current_thread().name)
        entry = find_entry(name)
        progress(entry.size // 3, entry.size)
        release.wait(10)  # the UI thread is free meanwhile: the test reads the progress dialog
        progress(entry.size, entry.size)
        return tiny_nafnet(catalogue_path(entry))

    monkeypatch.setattr(install, "download_entry", download_entry)
    combo = window.panel.model_combo
    choose(combo, "nafnet-sidd-32")
    qtbot.waitUntil(lambda: window.downloads.progress is not None and window.downloads.progress.value() > 0,
                    timeout=10000)
    dialog = window.downloads.progress
    seen_progress.append(dialog.value())
    assert "39 of 117 MB" in dialog.labelText()
    assert combo.current_model() == "ffdnet-color"  # not selected before it is installed
    release.set()
    qtbot.waitUntil(lambda: combo.current_model() == "nafnet-sidd-32", timeout=10000)
    assert threads and threads[0] != threading.main_thread().name
    assert seen_progress[0] == 333
    assert combo.currentText() == "NAFNet SIDD (width 32) · MIT · 117 MB"  # now installed
    assert window.downloads.progress is None and not window.downloads.busy()
    assert window.panel.settings("denoise").model == "nafnet-sidd-32"
    assert window.panel.settings("deblur").model == "ffdnet-color"  # each operation its own selector


def test_a_failed_download_keeps_the_previous_model_and_says_why_in_one_line(
        qtbot, window: MainWindow, answers: dict, monkeypatch):
    def offline(name, progress=None, cancelled=None):
        raise DownloadError("NAFNet-SIDD-width32.pth: cannot reach huggingface.co (no connection);\n"
                            "download the file elsewhere and use `photomend models import FILE`")

    monkeypatch.setattr(install, "download_entry", offline)
    choose(window.panel.model_combo, "nafnet-sidd-32")
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10000)
    assert window.last_error.startswith("Could not download NAFNet SIDD (width 32): ")
    assert "\n" not in window.last_error and "Tools > Models > Import..." in window.last_error
    assert window.panel.model_combo.current_model() == "ffdnet-color"
    assert window.downloads.progress is None


def test_cancel_in_the_progress_dialog_stops_the_download_and_keeps_the_model(
        qtbot, window: MainWindow, answers: dict, monkeypatch):
    def slow(name, progress=None, cancelled=None):
        entry = find_entry(name)
        for step in range(1000):
            if cancelled():
                raise CancelledError(f"{entry.filename}: download cancelled")
            progress(step * 1_000_000, entry.size)
            time.sleep(0.01)
        raise AssertionError("cancel was not seen")

    monkeypatch.setattr(install, "download_entry", slow)
    choose(window.panel.deblur_model, "nafnet-gopro-32")
    qtbot.waitUntil(lambda: window.downloads.progress is not None and window.downloads.progress.value() > 0,
                    timeout=10000)
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    cancel_button = window.downloads.progress.findChild(QPushButton)
    assert cancel_button.text() == "Cancel"
    qtbot.mouseClick(cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.downloads.busy(), timeout=10000)
    assert window.panel.deblur_model.current_model() == "ffdnet-color"
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.last_error is None


def test_blind_denoiser_disables_the_noise_level_and_keeps_strength(
        qtbot, window: MainWindow, answers: dict, fake_download: list[str]):
    panel = window.panel
    assert panel.noise_auto.isEnabled()
    choose(panel.model_combo, "nafnet-sidd-32")
    qtbot.waitUntil(lambda: panel.model_combo.current_model() == "nafnet-sidd-32", timeout=10000)
    assert not panel.noise_auto.isEnabled() and not panel.noise_level.isEnabled()
    assert panel.noise_auto.toolTip() == BLIND_TIP and panel.noise_level.toolTip() == BLIND_TIP
    assert panel.noise_level.text() == "by the model"
    assert panel.strength.isEnabled() and panel.strength.toolTip() == BLIND_STRENGTH_TIP
    assert panel.settings("denoise").noise_level is None  # a blind model takes none
    choose(panel.model_combo, "ffdnet-color")  # back to a noise-level model: the controls return
    assert panel.noise_auto.isEnabled() and panel.noise_level.text() != "by the model"


def test_a_learned_deblur_model_needs_no_kernel(qtbot, window: MainWindow, answers: dict, fake_download: list[str]):
    panel = window.panel
    choose(panel.deblur_model, "nafnet-gopro-32")
    qtbot.waitUntil(lambda: panel.deblur_model.current_model() == "nafnet-gopro-32", timeout=10000)
    for widget in (panel.kernel_type, panel.estimate_button, panel.deblur_method, panel.motion_length):
        assert not widget.isEnabled()
    assert panel.kernel_type.toolTip() == NO_KERNEL_TIP
    assert panel.deblur_strength.isEnabled() and panel.deblur_strength.toolTip() == BLIND_STRENGTH_TIP
    assert not panel.needs_estimate()
    settings = panel.settings("deblur")
    assert settings.model == "nafnet-gopro-32" and settings.noise_level is None
    assert panel.settings("denoise").model == "ffdnet-color"
    assert window._step_label(settings) == "Deblur with NAFNet GoPro (width 32) (strength 50)"


def test_models_dialog_imports_a_file_and_deletes_it(qtbot, window: MainWindow, answers: dict, tmp_path: Path,
                                                      models_dir: Path):
    model_file = tiny_ffdnet(tmp_path / "My FFDNet.pth")
    window.models_action.trigger()
    dialog = window.models_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.table.rowCount() == len(CATALOGUE)
    dialog.import_file(model_file)
    qtbot.waitUntil(lambda: dialog.select("my-ffdnet"), timeout=30000)
    assert (models_dir / "imported" / "my-ffdnet.pth").is_file()
    assert dialog.table.rowCount() == len(CATALOGUE) + 1
    combo = window.panel.model_combo
    assert combo.findData("my-ffdnet") >= 0 and "download" not in combo.itemText(combo.findData("my-ffdnet"))
    assert window.panel.deblur_model.findData("my-ffdnet") >= 0  # a noise-level model is also a prior
    assert "Imported my-ffdnet" in dialog.status.text()
    choose(combo, "my-ffdnet")
    assert combo.current_model() == "my-ffdnet" and window.panel.settings("denoise").model == "my-ffdnet"
    assert dialog.delete_button.isEnabled() and not dialog.download_button.isEnabled()
    dialog.delete_selected()
    assert combo.findData("my-ffdnet") < 0
    assert combo.current_model() == "ffdnet-color"  # what was selected is gone: the default takes over
    assert not (models_dir / "imported" / "my-ffdnet.pth").exists()
    assert dialog.table.rowCount() == len(CATALOGUE)
    assert "removed my-ffdnet" in dialog.status.text()


def test_models_dialog_says_why_an_import_fails(qtbot, window: MainWindow, tmp_path: Path, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(models_dialog.QMessageBox, "warning", lambda _parent, _title, text: warnings.append(text))
    bad = tmp_path / "holiday.pth"
    bad.write_bytes(b"this is not a model")
    window.show_models()
    dialog = window.models_dialog
    dialog.import_file(bad)
    qtbot.waitUntil(lambda: bool(warnings), timeout=30000)
    assert warnings[0].startswith("Could not import holiday.pth: ") and "\n" not in warnings[0]
    assert dialog.last_error == warnings[0]
    assert window.panel.model_combo.findData("holiday") < 0


def test_models_dialog_download_button_installs_without_changing_the_selectors(
        qtbot, window: MainWindow, answers: dict, fake_download: list[str]):
    window.show_models()
    dialog = window.models_dialog
    assert dialog.select("drunet-color")
    assert dialog.download_button.isEnabled() and not dialog.delete_button.isEnabled()
    dialog.download_selected()
    qtbot.waitUntil(lambda: fake_download == ["drunet-color"] and not window.downloads.busy(), timeout=10000)
    assert answers["asked"] == []  # the button is the user's answer
    qtbot.waitUntil(lambda: dialog.table.item(dialog.table.currentRow(), 5).text() == "yes", timeout=5000)
    assert window.panel.model_combo.current_model() == "ffdnet-color"
    assert "download" not in window.panel.deblur_model.itemText(window.panel.deblur_model.findData("drunet-color"))


def test_about_lists_every_model_credit_and_licence(window: MainWindow, tmp_path: Path):
    from app.gui.about import about_text

    install.import_model(tiny_ffdnet(tmp_path / "grain.pth"), name="grain-ffdnet")
    text = about_text("CPU")
    for entry in CATALOGUE:
        assert entry.credit in text and entry.title in text
        assert f"— {entry.licence}." in text
    assert "grain-ffdnet" in text and "weights' licence unknown" in text


def test_model_choices_are_remembered_by_name(qtbot, tmp_path: Path, models_dir: Path, answers: dict,
                                              fake_download: list[str]):
    settings_file = tmp_path / "settings.json"
    first = MainWindow(SettingsStore(settings_file))
    qtbot.addWidget(first)
    choose(first.panel.deblur_model, "nafnet-gopro-32")
    qtbot.waitUntil(lambda: first.panel.deblur_model.current_model() == "nafnet-gopro-32", timeout=10000)
    first._save_settings()
    first.worker.shutdown()
    first.batch.shutdown()
    second = MainWindow(SettingsStore(settings_file))
    qtbot.addWidget(second)
    try:
        assert second.panel.deblur_model.current_model() == "nafnet-gopro-32"
        assert second.panel.model_combo.current_model() == "ffdnet-color"
    finally:
        second.worker.shutdown()
        second.batch.shutdown()


def test_blind_and_learned_models_run_on_the_photo_from_their_selectors(qtbot, window: MainWindow, tmp_path: Path):
    """Denoise with a blind model takes no level; Deblur with a learned model estimates no kernel."""
    import cv2
    import numpy as np

    install.import_model(tiny_nafnet(tmp_path / "sidd-like.pth"), name="blind-naf", task="denoise")
    install.import_model(tiny_nafnet(tmp_path / "gopro-like.pth"), name="shake-naf", task="deblur")
    window.panel.refresh_models()
    photo = tmp_path / "small.png"
    rng = np.random.default_rng(3)
    cv2.imwrite(str(photo), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    window.open_path(photo)
    qtbot.waitUntil(lambda: window.photo is not None and window.noise_sigma is not None, timeout=30000)
    choose(window.panel.model_combo, "blind-naf")
    window.apply("denoise")
    qtbot.waitUntil(lambda: window.current_job is None and window.history.can_undo(), timeout=60000)
    assert window.last_error is None
    choose(window.panel.deblur_model, "shake-naf")
    window.apply("deblur")
    qtbot.waitUntil(lambda: window.current_job is None and len(window.history.applied_labels()) == 2, timeout=60000)
    assert window.last_error is None and window.last_message is None  # no "blur not estimated" notice
    assert window.history.applied_labels() == ["Denoise with blind-naf (strength 50)", "Deblur with shake-naf (strength 50)"]
    assert window.panel.estimate is None  # no kernel was estimated
