"""The batch queue with real files: drops, every outcome on disk, pause/cancel/resume,
restart recovery, name collisions, and the same result as the CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli.main import main as cli_main
from app.gui.main_window import MainWindow
from app.gui.settings_store import SettingsStore
from app.pipeline.batch import CANCELLED, DONE, FAILED, QUEUED, SKIPPED, BatchPreset
from app.pipeline.operations import RestoreSettings
from tests.conftest import load_rgb

pytest.importorskip("pytestqt")


def _write_noisy(path: Path, source: Path, size: tuple[int, int] = (160, 120), seed: int = 0) -> Path:
    clean = cv2.resize(cv2.imread(str(source)), size).astype(np.float32)
    rng = np.random.default_rng(seed)
    noisy = np.clip(clean + rng.standard_normal(clean.shape) * 20, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), noisy)
    return path


@pytest.fixture()
def sources(cbsd68: Path) -> list[Path]:
    return sorted(cbsd68.glob("*.png"))[:4]


def window_settings(folder: Path) -> SettingsStore:
    """Settings of a window whose batch queue lives in ``folder`` (a restart reuses them)."""
    settings = SettingsStore(folder / "settings.json")
    settings.setValue("batch/queue_file", str(folder / "queue.json"))
    return settings


def open_window(qtbot, settings: SettingsStore) -> MainWindow:
    """A shown window with a fixed noise level, so results do not depend on the estimate."""
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    win.panel.noise_auto.setChecked(False)
    win.panel.noise_level.setValue(20)
    return win


def close_window(win: MainWindow) -> None:
    win.batch.shutdown()
    win.worker.shutdown()


@pytest.fixture()
def window(qtbot, tmp_path: Path):
    win = open_window(qtbot, window_settings(tmp_path))
    yield win
    close_window(win)


def run_to_end(qtbot, win: MainWindow, timeout: int = 120000) -> None:
    win.batch.start()
    qtbot.waitUntil(lambda: not win.batch.running, timeout=timeout)


def test_dropping_files_and_a_folder_queues_them_and_every_outcome_is_on_disk(qtbot, window, sources, tmp_path):
    single = _write_noisy(tmp_path / "in" / "solo.png", sources[0])
    folder = tmp_path / "in" / "trip"
    _write_noisy(folder / "beach.jpg", sources[1], seed=1)
    _write_noisy(folder / "sub" / "hill.png", sources[2], seed=2)
    (folder / "corrupt.jpg").write_bytes((folder / "beach.jpg").read_bytes()[:200])
    (folder / "fake.png").write_text("not an image at all")
    notes = tmp_path / "in" / "notes.txt"
    notes.write_text("dropped by mistake")
    out_dir = tmp_path / "out"
    window.batch.output_dir.setText(str(out_dir))
    window.batch.format_combo.setCurrentIndex(window.batch.format_combo.findData("png"))
    window._on_files_dropped([str(single), str(folder), str(notes)])
    assert window.photo is None  # several items go to the queue, not the canvas
    assert window.batch_dock.isVisible()
    statuses = {Path(item.source).name: item.status for item in window.batch.queue.items}
    assert statuses == {"solo.png": QUEUED, "beach.jpg": QUEUED, "hill.png": QUEUED, "corrupt.jpg": QUEUED,
                        "fake.png": QUEUED, "notes.txt": SKIPPED}
    run_to_end(qtbot, window)
    items = {Path(item.source).name: item for item in window.batch.queue.items}
    for name in ("solo", "beach", "hill"):
        assert items[f"{name}{'.jpg' if name == 'beach' else '.png'}"].status == DONE
        assert (out_dir / f"{name}_restored.png").exists()
    assert items["corrupt.jpg"].status == FAILED and "corrupt.jpg" in items["corrupt.jpg"].message
    assert items["fake.png"].status == FAILED and "fake.png" in items["fake.png"].message
    table = window.batch.table
    rows = {table.item(row, 1).text(): row for row in range(table.rowCount())}
    status = table.item(rows["corrupt.jpg"], 5)
    # The row already names the file: the status says what is wrong in the width it has, the tip says all.
    assert status.text().startswith("Failed: ") and str(folder) not in status.text(), status.text()
    assert "JPEG" in status.text() and str(folder / "corrupt.jpg") in status.toolTip()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QStyleOptionViewItem

    option = QStyleOptionViewItem()
    table.itemDelegateForColumn(5).initStyleOption(option, table.model().index(rows["corrupt.jpg"], 5))
    assert option.textElideMode == Qt.TextElideMode.ElideRight  # a narrow column keeps 'Failed: truncated ...'
    assert sorted(p.name for p in out_dir.iterdir()) == ["beach_restored.png", "hill_restored.png", "solo_restored.png"]
    assert window.batch.queue.counts() == (5, 5)
    assert "3 done, 2 failed" in window.batch.summary.text()


def test_pause_finishes_the_current_photo_and_resume_continues(qtbot, window, sources, tmp_path):
    files = [_write_noisy(tmp_path / f"p{i}.png", sources[i], (400, 300), seed=i) for i in range(3)]
    window.batch.add_paths([str(f) for f in files])
    window.batch.start()
    window.batch.pause()
    qtbot.waitUntil(lambda: not window.batch.running, timeout=60000)
    statuses = [item.status for item in window.batch.queue.items]
    assert statuses == [DONE, QUEUED, QUEUED]
    assert window.batch.start_button.text() == "Resume"
    run_to_end(qtbot, window)
    assert [item.status for item in window.batch.queue.items] == [DONE, DONE, DONE]


def test_cancel_stops_the_current_photo_cleanly_and_retry_finishes_it(qtbot, window, sources, tmp_path):
    big = _write_noisy(tmp_path / "big.png", sources[0], (1400, 1000))
    window.panel.tile_combo.setCurrentIndex(window.panel.tile_combo.findData(256))
    window.batch.add_paths([str(big)])
    item = window.batch.queue.items[0]
    window.batch.start()
    qtbot.waitUntil(lambda: item.progress > 0, timeout=60000)
    window.batch.cancel()
    qtbot.waitUntil(lambda: not window.batch.running, timeout=60000)
    assert item.status == CANCELLED
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png" or ".tmp" in p.name) == ["big.png"]
    window.batch.queue.retry_failed()
    run_to_end(qtbot, window)
    assert item.status == DONE and Path(item.output).name == "big_restored.png"


def test_unfinished_items_survive_a_restart(qtbot, tmp_path, sources):
    files = [_write_noisy(tmp_path / f"r{i}.png", sources[i], seed=i) for i in range(2)]
    settings = window_settings(tmp_path)
    first = MainWindow(settings)
    first.batch.add_paths([str(f) for f in files])
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    try:
        assert [Path(i.source).name for i in second.batch.queue.items] == ["r0.png", "r1.png"]
        assert all(i.status == QUEUED for i in second.batch.queue.items)
        assert second.batch_dock.isVisibleTo(second)  # the queue is shown again
    finally:
        close_window(second)


def test_name_collisions_get_a_suffix_and_originals_are_never_replaced(tmp_path, sources):
    a = _write_noisy(tmp_path / "x" / "photo.png", sources[0])
    b = _write_noisy(tmp_path / "y" / "photo.png", sources[1])
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo_restored.png").write_bytes(b"someone else's file")
    preset = BatchPreset(settings=RestoreSettings(noise_level=20), output_dir=str(out))
    targets = [preset.target_for(a)]
    targets[0].write_bytes(b"taken")  # the first result lands before the second is named
    targets.append(preset.target_for(b))
    assert [t.name for t in targets] == ["photo_restored-1.png", "photo_restored-2.png"]
    beside = BatchPreset(settings=RestoreSettings(), pattern="{stem}")
    assert beside.target_for(a) != a and beside.target_for(a).name == "photo-1.png"


def test_batch_result_is_identical_to_the_cli(qtbot, window, sources, tmp_path):
    photo = _write_noisy(tmp_path / "same.png", sources[3])
    window.batch.output_dir.setText(str(tmp_path / "batch"))
    window.batch.add_paths([str(photo)])
    run_to_end(qtbot, window)
    assert cli_main(["denoise", str(photo), "-o", str(tmp_path / "cli.png"), "--noise-level", "20", "-q"]) == 0
    batch_pixels = load_rgb(tmp_path / "batch" / "same_restored.png")
    assert np.array_equal(batch_pixels, load_rgb(tmp_path / "cli.png"))


def test_double_click_opens_the_pair_in_the_split_view(qtbot, window, sources, tmp_path):
    photo = _write_noisy(tmp_path / "pair.png", sources[2])
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    window.batch.add_paths([str(photo)])
    run_to_end(qtbot, window)
    item = window.batch.queue.items[0]
    window.batch.openComparison.emit(item.source, item.output)
    qtbot.waitUntil(lambda: window.history is not None and window.history.is_modified(), timeout=20000)
    assert np.array_equal(window.history.current(), load_rgb(Path(item.output)))
    assert np.array_equal(window.history.original, load_rgb(photo))
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == digest
