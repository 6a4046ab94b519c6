"""The batch queue never loses work: damaged queue files, restarts in every state, kills between
the output write and the queue save, settings applied before Start, the name pattern, the time
estimate, drops on the queue, thumbnails and the queue's height. Every test uses real files and
real model runs and checks the file system afterwards: inputs byte-identical, exactly the
expected outputs, no stray or temporary files, nothing of the queue lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.errors import PhotomendError, UsageError
from app.io.json_store import backup_path
from app.pipeline.batch import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    SKIPPED,
    BatchItem,
    BatchPreset,
    BatchQueue,
    check_pattern,
)
from app.pipeline.operations import EngineCache, RestoreSettings, operation_for
from app.pipeline.process_file import process_file
from tests.robustness.helpers import REPO, noisy_photo, sha256, snapshot, temporaries
from tests.test_batch import close_window, open_window, run_to_end, window_settings

pytest.importorskip("pytestqt")

SETTINGS = RestoreSettings(noise_level=20)
SIZE = (160, 120)


@pytest.fixture(scope="module")
def engines() -> EngineCache:
    return EngineCache()


@pytest.fixture()
def photos(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    return [noisy_photo(folder / f"p{i}.png", SIZE, seed=i) for i in range(3)]


@pytest.fixture()
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


def _queue(state: Path, photos: list[Path], out: Path | None = None) -> BatchQueue:
    queue = BatchQueue(state / "queue.json")
    queue.add(photos, BatchPreset(settings=SETTINGS, output_dir=None if out is None else str(out)))
    return queue


def _run_item(queue: BatchQueue, item: BatchItem, engines: EngineCache, *, record: bool = True):
    """One item as the panel runs it: plan and save, restore and write, then record."""
    work = queue.begin(item)
    assert work is not None, item.message
    outcome = process_file(work, operation_for(engines, item.preset.settings), item.preset.output_options())
    assert outcome.ok, outcome.message
    if record:
        queue.finish(item, outcome)
    return outcome


def _states(queue: BatchQueue) -> list[tuple[str, str]]:
    return [(Path(item.source).name, item.status) for item in queue.items]


def _aside(state: Path) -> list[Path]:
    return sorted(state.glob("queue.json.corrupt-*"))


# --------------------------------------------------------------------------- damaged queue files


@pytest.mark.parametrize("damage", [b'{"version": 1, "items": [{"id": 1, "sou', b"[]", b"null"],
                         ids=["truncated", "empty-list", "null"])
def test_damaged_queue_file_is_kept_aside_and_the_backup_generation_restored(state, photos, damage):
    queue = _queue(state, photos[:2])
    queue.add(photos[2:], BatchPreset(settings=SETTINGS))  # second save: the first becomes .bak
    path = state / "queue.json"
    path.write_bytes(damage)
    loaded = BatchQueue.load(path)
    aside = _aside(state)
    assert len(aside) == 1 and aside[0].read_bytes() == damage  # the damaged file itself is kept
    assert _states(loaded) == [("p0.png", QUEUED), ("p1.png", QUEUED)]  # the previous generation
    assert aside[0].name in loaded.problem and "restored from queue.json.bak" in loaded.problem
    assert [item["source"] for item in json.loads(path.read_text())["items"]] == [str(p) for p in photos[:2]]
    again = BatchQueue.load(path)
    assert again.problem is None and _states(again) == _states(loaded)  # told once
    assert len(_aside(state)) == 1


def test_damaged_queue_without_backup_starts_empty_and_keeps_the_file(state):
    path = state / "queue.json"
    path.write_bytes(b"null")
    loaded = BatchQueue.load(path)
    assert loaded.items == [] and "No backup" in loaded.problem
    assert [p.read_bytes() for p in _aside(state)] == [b"null"]


def test_a_bad_item_among_good_ones_loads_the_good_ones_and_keeps_the_original(state, photos):
    _queue(state, photos)
    path = state / "queue.json"
    document = json.loads(path.read_text())
    document["items"][1]["status"] = 7  # a hand edit or bit rot in one item
    document["items"].append("not an item")
    path.write_text(json.dumps(document))
    original = path.read_bytes()
    loaded = BatchQueue.load(path)
    assert _states(loaded) == [("p0.png", QUEUED), ("p2.png", QUEUED)]
    assert "2 unreadable item(s)" in loaded.problem and "item 2: status 7" in loaded.problem
    aside = _aside(state)
    assert len(aside) == 1 and aside[0].read_bytes() == original  # the bad items are not lost either
    assert aside[0].name in loaded.problem
    saved = json.loads(path.read_text())["items"]
    assert [item["source"] for item in saved] == [str(photos[0]), str(photos[2])]
    assert BatchQueue.load(path).problem is None


def test_a_folder_in_place_of_the_queue_file_is_moved_aside(state, photos):
    path = state / "queue.json"
    path.mkdir()
    (path / "inside.txt").write_text("someone's file")
    loaded = BatchQueue.load(path)
    assert loaded.items == [] and "is a folder" in loaded.problem
    (aside,) = _aside(state)
    assert (aside / "inside.txt").read_text() == "someone's file"
    loaded.add(photos[:1], BatchPreset(settings=SETTINGS))
    assert path.is_file() and _states(BatchQueue.load(path)) == [("p0.png", QUEUED)]


def test_the_window_starts_on_a_damaged_queue_and_says_so_once(qtbot, tmp_path, state, photos):
    _queue(state, photos[:2])
    (state / "queue.json").write_bytes(b'{"items": [')
    backup_path(state / "queue.json").unlink(missing_ok=True)
    settings = window_settings(state)
    win = open_window(qtbot, settings)
    try:
        assert win.batch_dock.isVisible()  # shown, although no item could be loaded
        assert win.batch.notice.isVisible() and "kept as queue.json.corrupt-" in win.batch.notice.text()
    finally:
        close_window(win)
    second = open_window(qtbot, settings)
    try:
        assert not second.batch.notice.isVisible()
    finally:
        close_window(second)
    assert len(_aside(state)) == 1


# --------------------------------------------------------------------------- restarts


def test_a_restart_brings_back_every_state_and_retry_finishes_the_rest(qtbot, tmp_path, state, photos, engines):
    out = tmp_path / "out"
    extra = [noisy_photo(tmp_path / "in" / f"q{i}.png", SIZE, seed=10 + i) for i in range(3)]
    notes = tmp_path / "in" / "notes.txt"
    notes.write_text("not a photo")
    inputs = snapshot(tmp_path / "in")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where an output folder should be")
    queue = _queue(state, [*photos, *extra, notes], out)
    done, running, cancelled, failed, queued, _left = queue.items[:6]
    _run_item(queue, done, engines)
    assert queue.begin(running) is not None  # the program stopped while this one ran
    assert queue.begin(cancelled) is not None
    queue.cancelled(cancelled)
    queue.apply_to_queued({"output_dir": str(blocked)}, [failed.id])
    assert queue.begin(failed) is None and "cannot create the folder" in failed.message
    blocked.unlink()  # the user fixes the cause; Retry must then work

    settings = window_settings(state)
    win = open_window(qtbot, settings)
    try:
        items = {Path(item.source).name: item for item in win.batch.queue.items}
        assert {name: item.status for name, item in items.items()} == {
            "p0.png": DONE, "p1.png": QUEUED, "p2.png": CANCELLED, "q0.png": FAILED, "q1.png": QUEUED,
            "q2.png": QUEUED, "notes.txt": SKIPPED}
        assert items["p0.png"].output == str(out / "p0_restored.png")
        assert "cannot create the folder" in items["q0.png"].message
        assert "interrupted" in items["p1.png"].message
        status_texts = [win.batch.table.item(row, 5).text() for row in range(win.batch.table.rowCount())]
        assert status_texts[2].startswith("Cancelled") and status_texts[3].startswith("Failed: ")
        win.batch.retry_button.click()  # one click re-queues the cancelled and the failed
        run_to_end(qtbot, win)
        assert [item.status for item in win.batch.queue.items] == [DONE] * 6 + [SKIPPED]
    finally:
        close_window(win)
    expected = [out / f"{p.stem}_restored.png" for p in [*photos, *extra]]
    expected[3] = blocked / "q0_restored.png"
    assert sorted(out.iterdir()) == sorted(expected[:3] + expected[4:])
    assert list(blocked.iterdir()) == [expected[3]]
    assert snapshot(tmp_path / "in") == inputs
    assert temporaries(tmp_path) == []
    reloaded = BatchQueue.load(state / "queue.json")  # finished rows stay listed with their outputs
    assert [item.output for item in reloaded.items[:6]] == [str(p) for p in expected]
    assert all(item.status == DONE for item in reloaded.items[:6]) and reloaded.problem is None


def test_a_kill_between_the_write_and_the_save_gives_done_not_a_duplicate(qtbot, tmp_path, state, photos, engines):
    out = tmp_path / "out"
    inputs = snapshot(tmp_path / "in")
    queue = _queue(state, photos[:2], out)
    written = _run_item(queue, queue.items[0], engines, record=False).target  # then the process dies
    digest = sha256(written)
    restarted = BatchQueue.load(state / "queue.json")  # as a new process reads it
    first = restarted.items[0]
    assert first.status == DONE and first.output == str(written) == str(out / "p0_restored.png")
    win = open_window(qtbot, window_settings(state))
    try:
        run_to_end(qtbot, win)
    finally:
        close_window(win)
    assert sorted(p.name for p in out.iterdir()) == ["p0_restored.png", "p1_restored.png"]
    assert sha256(written) == digest
    assert snapshot(tmp_path / "in") == inputs and temporaries(tmp_path) == []


def test_an_output_of_another_program_at_the_planned_name_is_not_taken_for_ours(state, photos, engines):
    """Only a file made after the item started, with the photo's size, counts as its result."""
    out = state.parent / "out"
    queue = _queue(state, photos[:1], out)
    assert queue.begin(queue.items[0]) is not None
    planned = Path(queue.items[0].planned)
    noisy_photo(planned, (40, 30), seed=99)  # someone else's file, written meanwhile
    restarted = BatchQueue.load(state / "queue.json")
    assert restarted.items[0].status == QUEUED


def test_quitting_mid_photo_queues_it_again_instead_of_cancelling_it(qtbot, tmp_path, state):
    """The quit question promises "the photos not done stay queued": the stopped one too."""
    out = tmp_path / "out"
    (tmp_path / "in").mkdir()
    big = noisy_photo(tmp_path / "in" / "big.png", (1400, 1000), seed=3)
    inputs = snapshot(tmp_path / "in")
    settings = window_settings(state)
    settings.setValue("test/auto_discard", True)  # the quit question is answered "Stop the batch and quit"
    win = open_window(qtbot, settings)
    win.panel.tile_combo.setCurrentIndex(win.panel.tile_combo.findData(256))
    win.batch.output_dir.setText(str(out))
    win.batch.add_paths([str(big)])
    win.batch.start()
    item = win.batch.queue.items[0]
    qtbot.waitUntil(lambda: item.progress > 0, timeout=60000)
    win.close()
    qtbot.wait(300)  # the event loop delivers the worker's last signal, as the application's does on exit
    saved = BatchQueue.load(state / "queue.json").items[0]
    assert saved.status == QUEUED and "interrupted" in saved.message
    assert not out.exists() or list(out.iterdir()) == []
    again = open_window(qtbot, settings)
    try:
        run_to_end(qtbot, again)
    finally:
        close_window(again)
    assert sorted(p.name for p in out.iterdir()) == ["big_restored.png"]
    assert snapshot(tmp_path / "in") == inputs and temporaries(tmp_path) == []


_CHILD = r"""
import sys, time
from pathlib import Path
from app.pipeline.batch import BatchQueue
from app.pipeline.operations import EngineCache, operation_for
from app.pipeline.process_file import process_file

queue = BatchQueue.load(Path(sys.argv[1]))
moment = sys.argv[2]
item = queue.next_queued()
work = queue.begin(item)

def progress(done, total):
    if moment == "restoring":
        print("restoring", flush=True)
        time.sleep(600)

outcome = process_file(work, operation_for(EngineCache(), item.preset.settings), item.preset.output_options(),
                       progress=progress)
print("written" if outcome.ok else outcome.message, flush=True)
time.sleep(600)
queue.finish(item, outcome)
"""


@pytest.mark.parametrize("moment", ["restoring", "written"])
def test_sigkill_of_a_real_process_loses_nothing_and_duplicates_nothing(qtbot, tmp_path, state, photos, moment):
    """A real queue process is killed with SIGKILL mid-restore, or after the write before the save."""
    out = tmp_path / "out"
    inputs = snapshot(tmp_path / "in")
    _queue(state, photos[:2], out)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(state / "queue.json"), moment], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
        assert line == moment, child.stderr.read() if child.poll() is not None else line
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    first = BatchQueue.load(state / "queue.json").items[0]
    assert first.status == (DONE if moment == "written" else QUEUED)
    win = open_window(qtbot, window_settings(state))
    try:
        run_to_end(qtbot, win)
        assert [item.status for item in win.batch.queue.items] == [DONE, DONE]
    finally:
        close_window(win)
    assert sorted(p.name for p in out.iterdir()) == ["p0_restored.png", "p1_restored.png"]
    assert snapshot(tmp_path / "in") == inputs and temporaries(tmp_path) == []


# --------------------------------------------------------------------------- settings and rows


def test_options_changed_after_adding_apply_to_queued_rows_and_rows_show_them(qtbot, tmp_path, photos):
    win = open_window(qtbot, window_settings(tmp_path / "state"))
    inputs = snapshot(tmp_path / "in")
    out = tmp_path / "typed later"
    try:
        panel = win.batch
        panel.add_paths([str(p) for p in photos])
        destinations = lambda: [panel.table.item(row, 4).text() for row in range(panel.table.rowCount())]  # noqa: E731
        assert destinations() == [str(p.with_name(f"{p.stem}_restored.png")) for p in photos]
        panel.table.selectRow(2)
        panel.format_combo.setCurrentIndex(panel.format_combo.findData("jpg"))  # only the selected row
        panel.table.clearSelection()
        panel.output_dir.setText(str(out))  # typed, never confirmed with Enter: Start applies it
        assert "Denoise" in panel.table.item(0, 3).text() and "noise 20" in panel.table.item(0, 3).text()
        run_to_end(qtbot, win)
        assert destinations() == [str(out / "p0_restored.png"), str(out / "p1_restored.png"),
                                  str(out / "p2_restored.jpg")]
    finally:
        close_window(win)
    assert sorted(p.name for p in out.iterdir()) == ["p0_restored.png", "p1_restored.png", "p2_restored.jpg"]
    assert snapshot(tmp_path / "in") == inputs and temporaries(tmp_path) == []


@pytest.mark.parametrize("pattern", ["{stem.nope}", "{operation.__doc__}", "{stem[0]}", "{stem!r}", "{stem:>9}",
                                     "{}", "{0}", "{other}", "{stem", "a/{stem}", ".."])
def test_name_patterns_outside_the_documented_fields_are_rejected(pattern):
    with pytest.raises(UsageError) as caught:
        check_pattern(pattern)
    assert f"name pattern '{pattern}'" in str(caught.value)
    with pytest.raises(PhotomendError):
        BatchQueue().add([], BatchPreset(pattern=pattern))


def test_plain_patterns_are_accepted():
    for pattern in ("{stem}_restored", "{operation}-{stem}", "{stem} {{copy}}", "restored"):
        check_pattern(pattern)


def test_the_panel_shows_a_bad_pattern_and_neither_queues_nor_starts_with_it(qtbot, tmp_path, photos):
    win = open_window(qtbot, window_settings(tmp_path / "state"))
    inputs = snapshot(tmp_path / "in")
    try:
        panel = win.batch
        panel.add_paths([str(photos[0])])
        panel.pattern.setText("{stem.__class__}")
        assert not panel.pattern_error.isHidden() and "{stem.__class__} is not allowed" in panel.pattern_error.text()
        assert not panel.start_button.isEnabled()
        with pytest.raises(PhotomendError):
            panel.add_paths([str(photos[1])])
        panel.start()
        assert not panel.running and [i.status for i in panel.queue.items] == [QUEUED]
        assert panel.queue.items[0].preset.pattern == "{stem}_restored"
        panel.pattern.setText("{operation}_{stem}")
        assert panel.pattern_error.isHidden()
        run_to_end(qtbot, win)
    finally:
        close_window(win)
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["denoise_p0.png", "p0.png", "p1.png", "p2.png"]
    assert all(snapshot(tmp_path / "in")[name] == digest for name, digest in inputs.items())


def test_time_left_comes_from_pixels_per_second_not_item_counts():
    """The report: "4 s left" at 17% of a 110 s photo, after small photos of 4 s each."""
    queue = BatchQueue()
    preset = BatchPreset(settings=SETTINGS)
    small = [BatchItem(i, f"s{i}.png", preset, status=DONE, seconds=4.0, pixels=1_000_000) for i in range(1, 4)]
    big = BatchItem(4, "big.png", preset, status=RUNNING, progress=0.17, pixels=27_500_000, started_at=1000.0)
    later = BatchItem(5, "later.png", preset, pixels=2_000_000)
    queue.items = [*small, big, later]
    left = queue.seconds_left(now=1000.0 + 18.7)
    assert left == pytest.approx(18.7 * 0.83 / 0.17 + 8.0, rel=0.01)  # ~91 s for the big one + 8 s
    big.progress = 0.01  # too little progress to extrapolate: its pixels at the measured rate
    assert queue.seconds_left(now=1001.0) == pytest.approx(27_500_000 * 0.99 / 250_000 + 8.0, rel=0.01)
    deblur = BatchItem(6, "d.png", BatchPreset(settings=RestoreSettings(operation="deblur")), pixels=1_000_000,
                       status=DONE, seconds=40.0)
    queue.items.append(deblur)
    later.preset = deblur.preset  # queued deblur work is costed at the deblur rate
    assert queue.seconds_left(now=1001.0) == pytest.approx(27_500_000 * 0.99 / 250_000 + 80.0, rel=0.01)
    assert BatchQueue().seconds_left() == 0.0
    fresh = BatchQueue()
    fresh.items = [BatchItem(1, "a.png", preset, pixels=10)]
    assert fresh.seconds_left() is None  # nothing measured yet: no made-up figure


def test_measured_throughput_predicts_a_bigger_photo(state, tmp_path, engines):
    """With real runs: a photo of 4x the pixels is estimated at 4x the measured mean time."""
    folder = tmp_path / "in"
    folder.mkdir()
    small = [noisy_photo(folder / f"s{i}.png", (320, 240), seed=i) for i in range(2)]
    big = noisy_photo(folder / "big.png", (640, 480), seed=5)
    queue = _queue(state, [*small, big])
    assert [item.pixels for item in queue.items] == [320 * 240] * 2 + [640 * 480]
    _run_item(queue, queue.items[0], engines)
    _run_item(queue, queue.items[1], engines)
    measured = [item.seconds for item in queue.items[:2]]
    assert all(seconds > 0 for seconds in measured)
    assert queue.seconds_left() == pytest.approx(4 * sum(measured) / 2)  # an item count would say 1x


# --------------------------------------------------------------------------- adding, thumbnails, height


def _drop(widget, paths: list[Path]) -> None:
    """What a file manager's drag does: enter (which must be accepted), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PySide flags the only QDragEnterEvent constructor
        enter = QDragEnterEvent(QPoint(10, 10), *args)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(10, 10), *args))


def test_files_and_folders_dropped_on_the_queue_are_queued_and_skips_reported(qtbot, tmp_path, photos):
    folder = tmp_path / "in" / "trip"
    folder.mkdir()
    noisy_photo(folder / "beach.png", SIZE, seed=7)
    (folder / "IMG_0001.CR2").write_bytes(b"raw data")
    (folder / "IMG_0002.CR2").write_bytes(b"raw data")
    (folder / "notes.txt").write_text("a list")
    inputs = snapshot(tmp_path / "in")
    win = open_window(qtbot, window_settings(tmp_path / "state"))
    try:
        win.batch_dock.setVisible(True)
        _drop(win.batch.table.viewport(), [photos[0], folder])
        assert _states(win.batch.queue) == [("p0.png", QUEUED), ("beach.png", QUEUED)]
        assert win.batch.notice.isVisible()
        assert win.batch.notice.text() == "trip: skipped 3: 2 RAW files (.CR2), 1 not an image"
        assert f"{folder / 'notes.txt'}: not an image" in win.batch.notice.toolTip()
    finally:
        close_window(win)
    assert snapshot(tmp_path / "in") == inputs


def test_thumbnails_come_back_after_a_restart(qtbot, tmp_path, photos):
    settings = window_settings(tmp_path / "state")
    first = open_window(qtbot, settings)
    first.batch.add_paths([str(p) for p in photos])
    close_window(first)
    second = open_window(qtbot, settings)
    try:
        table = second.batch.table
        qtbot.waitUntil(lambda: all(not table.item(row, 0).icon().isNull() for row in range(3)), timeout=20000)
        assert table.rowCount() == 3
    finally:
        close_window(second)


def test_the_queue_shows_at_least_eight_rows_in_a_1280x800_window(qtbot, tmp_path, photos):
    win = open_window(qtbot, window_settings(tmp_path / "state"))
    try:
        win.resize(1280, 800)
        win.add_to_batch([str(p) for p in photos * 4])  # 12 rows; the dock opens as for a drop
        table = win.batch.table
        qtbot.waitUntil(win.batch.isVisible, timeout=5000)
        qtbot.wait(200)  # the dock takes its first height on the next turn of the event loop
        visible = sum(table.visualRect(table.model().index(row, 1)).bottom() <= table.viewport().height()
                      for row in range(table.rowCount()))
        assert win.size().toTuple() == (1280, 800)
        assert visible >= 8, f"{visible} rows visible"
    finally:
        close_window(win)
