"""The batch queue panel: rows with thumbnails and status, Start/Pause/Cancel, output options.

Items run one at a time on their own worker thread (not the single-photo worker), so the
window stays usable for viewing while a batch runs. Every item goes through the same
``process_file`` + ``operation_for`` path as ``photomend denoise/deblur``.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.worker import WorkerClient
from app.pipeline.batch import (
    CANCELLED,
    DONE,
    FAILED,
    RUNNING,
    SKIPPED,
    BatchItem,
    BatchPreset,
    BatchQueue,
)
from app.pipeline.operations import EngineCache, RestoreSettings, operation_for
from app.pipeline.process_file import process_file

COLUMNS = ["", "File", "Size", "Preset", "Status"]
THUMB = 48


class _ThumbnailSignals(QObject):
    ready = Signal(int, QImage)


class _Thumbnail(QRunnable):
    """Reads a small preview off the UI thread (Pillow draft mode makes big JPEGs cheap)."""

    def __init__(self, item_id: int, path: str, signals: _ThumbnailSignals) -> None:
        super().__init__()
        self.item_id, self.path, self.signals = item_id, path, signals

    def run(self) -> None:
        try:
            from PIL import Image, ImageOps

            with Image.open(self.path) as image:
                image.draft("RGB", (THUMB * 2, THUMB * 2))
                image = ImageOps.exif_transpose(image).convert("RGB")
                image.thumbnail((THUMB, THUMB))
                data = image.tobytes()
                qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()
        except Exception:  # noqa: BLE001 - a bad file simply has no thumbnail; it fails when run
            return
        self.signals.ready.emit(self.item_id, qimage)


class BatchPanel(QWidget):
    """Queue view and controls; ``openComparison(original, result)`` asks the window to show a pair."""

    openComparison = Signal(str, str)
    finishedBatch = Signal(str)  # summary text

    def __init__(self, queue: BatchQueue, current_settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.current_settings = current_settings  # () -> RestoreSettings from the side panel
        self.worker = WorkerClient(self)
        self.engines = EngineCache()
        self.running = False
        self.paused = False
        self._current = None
        self._started = 0.0
        self._batch_started_counts = (0, 0)
        self._thumb_signals = _ThumbnailSignals()
        self._thumb_signals.ready.connect(self._set_thumbnail)
        self._thumbs: dict[int, QIcon] = {}
        self._build()
        self.refresh()

    # ----- UI ----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        add_row = QHBoxLayout()
        self.add_files_button = QPushButton("Add files...")
        self.add_folder_button = QPushButton("Add folder...")
        add_row.addWidget(self.add_files_button)
        add_row.addWidget(self.add_folder_button)
        layout.addLayout(add_row)
        options = QFormLayout()
        self.operation_combo = QComboBox()
        self.operation_combo.addItem("Denoise (current settings)", "denoise")
        self.operation_combo.addItem("Deblur (current settings)", "deblur")
        options.addRow("Preset", self.operation_combo)
        folder_row = QHBoxLayout()
        self.output_dir = QLineEdit()
        self.output_dir.setPlaceholderText("beside each original")
        self.output_browse = QPushButton("...")
        self.output_browse.setFixedWidth(32)
        folder_row.addWidget(self.output_dir, 1)
        folder_row.addWidget(self.output_browse)
        options.addRow("Output folder", folder_row)
        self.pattern = QLineEdit("{stem}_restored")
        self.pattern.setToolTip("File name without extension; {stem} = original name, {operation} = denoise/deblur")
        options.addRow("Name", self.pattern)
        self.format_combo = QComboBox()
        for title, key in (("As original", None), ("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WebP", "webp")):
            self.format_combo.addItem(title, key)
        options.addRow("Format", self.format_combo)
        self.depth_combo = QComboBox()
        for title, key in (("As original", None), ("8-bit", 8), ("16-bit", 16)):
            self.depth_combo.addItem(title, key)
        options.addRow("Bit depth", self.depth_combo)
        layout.addLayout(options)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 6)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(self._on_double_click)
        layout.addWidget(self.table, 1)

        edit_row = QHBoxLayout()
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear finished")
        self.retry_button = QPushButton("Retry failed")
        for button in (self.up_button, self.down_button, self.remove_button, self.clear_button, self.retry_button):
            edit_row.addWidget(button)
        layout.addLayout(edit_row)
        run_row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primaryButton")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.open_output_button = QPushButton("Open output folder")
        for button in (self.start_button, self.pause_button, self.cancel_button, self.open_output_button):
            run_row.addWidget(button)
        layout.addLayout(run_row)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

        self.add_files_button.clicked.connect(self._add_files_dialog)
        self.add_folder_button.clicked.connect(self._add_folder_dialog)
        self.output_browse.clicked.connect(self._choose_output_dir)
        self.up_button.clicked.connect(lambda: self._move_selected(-1))
        self.down_button.clicked.connect(lambda: self._move_selected(1))
        self.remove_button.clicked.connect(self._remove_selected)
        self.clear_button.clicked.connect(lambda: (self.queue.clear_finished(), self.refresh()))
        self.retry_button.clicked.connect(lambda: (self.queue.retry_failed(), self.refresh()))
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_output_button.clicked.connect(self.open_output_folder)

    # ----- adding ------------------------------------------------------------------------
    def preset(self) -> BatchPreset:
        """The preset captured now, from the side panel's current settings and these options."""
        settings: RestoreSettings = self.current_settings(self.operation_combo.currentData())
        return BatchPreset(
            settings=settings,
            output_dir=self.output_dir.text().strip() or None,
            pattern=self.pattern.text().strip() or "{stem}_restored",
            format=self.format_combo.currentData(),
            bit_depth=self.depth_combo.currentData(),
        )

    def add_paths(self, paths: list[str]) -> list[BatchItem]:
        added = self.queue.add(paths, self.preset())
        for item in added:
            QThreadPool.globalInstance().start(_Thumbnail(item.id, item.source, self._thumb_signals))
        self.refresh()
        return added

    def _add_files_dialog(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(self, "Add photos", "", "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp)")
        if files:
            self.add_paths(files)

    def _add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add folder")
        if folder:
            self.add_paths([folder])

    def _choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder")
        if folder:
            self.output_dir.setText(folder)

    # ----- running -----------------------------------------------------------------------
    def start(self) -> None:
        """Start, or resume after Pause/Cancel."""
        self.paused = False
        if not self.running:
            self.running = True
            self._started = time.perf_counter()
            self._run_next()
        self.refresh()

    def pause(self) -> None:
        """Finish the current photo, then stop."""
        self.paused = True
        self.refresh()

    def cancel(self) -> None:
        """Stop the current photo cleanly (nothing half-written) and stop the batch."""
        self.paused = True
        if self._current is not None:
            self.worker.cancel(self._current[1])
        self.refresh()

    def _run_next(self) -> None:
        item = None if self.paused else self.queue.next_queued()
        if item is None:
            self._finish_batch()
            return
        item.status, item.progress = RUNNING, 0.0
        self.queue.save()
        cache, settings = self.engines, item.preset.settings
        options = item.preset.output_options()

        def run(job):
            outcome = process_file(item.work_item(), operation_for(cache, settings), options,
                                   progress=job.report, cancelled=job.cancel.is_set)
            return outcome

        def done(outcome) -> None:
            item.seconds = outcome.seconds
            if outcome.ok:
                item.status, item.output, item.message = DONE, str(outcome.target), ""
            else:
                item.status, item.message = FAILED, outcome.message
            self._after_item()

        def failed(message: str) -> None:
            item.status, item.message = FAILED, message
            self._after_item()

        def cancelled() -> None:
            item.status, item.message = CANCELLED, "cancelled"
            self._after_item()

        def progress(done_tiles: int, total: int) -> None:
            item.progress = done_tiles / max(1, total)
            self._update_row(item)
            self._update_summary()

        job = self.worker.submit("batch", run, on_done=done, on_error=failed, on_cancel=cancelled,
                                 on_progress=progress)
        self._current = (item, job)
        self.refresh()

    def _after_item(self) -> None:
        self._current = None
        self.queue.save()
        self.refresh()
        self._run_next()

    def _finish_batch(self) -> None:
        was_running = self.running
        self.running = False
        self.refresh()
        if was_running:
            failed = sum(item.status == FAILED for item in self.queue.items)
            done = sum(item.status == DONE for item in self.queue.items)
            state = "paused" if self.paused and self.queue.next_queued() else "finished"
            text = f"Batch {state}: {done} done, {failed} failed, {time.perf_counter() - self._started:.0f}s"
            self.summary.setText(text)
            self.finishedBatch.emit(text)

    def shutdown(self) -> None:
        self.paused = True
        self.worker.shutdown()
        self.queue.save()

    # ----- rows --------------------------------------------------------------------------
    def refresh(self) -> None:
        ids = [item.id for item in self.queue.items]
        if [self._row_id(row) for row in range(self.table.rowCount())] != ids:
            self.table.setRowCount(len(ids))
            for row, item in enumerate(self.queue.items):
                name = QTableWidgetItem(Path(item.source).name)
                name.setData(Qt.ItemDataRole.UserRole, item.id)
                name.setToolTip(item.source)
                self.table.setItem(row, 1, name)
                self.table.setItem(row, 0, QTableWidgetItem())
                self.table.setItem(row, 2, QTableWidgetItem(_size_text(item.size_bytes)))
                preset = QTableWidgetItem(item.preset.settings.summary())
                preset.setToolTip(f"{item.preset.settings.summary()}\nOutput: {item.preset.output_dir or 'beside original'}"
                                  f" / {item.preset.pattern}")
                self.table.setItem(row, 3, preset)
                self.table.setItem(row, 4, QTableWidgetItem())
        for item in self.queue.items:
            self._update_row(item)
        self._update_summary()
        idle = not self.running
        self.start_button.setEnabled(bool(self.queue.next_queued()) and (idle or self.paused))
        self.start_button.setText("Resume" if self.paused and self.queue.next_queued() else "Start")
        self.pause_button.setEnabled(self.running and not self.paused)
        self.cancel_button.setEnabled(self.running)

    def _row_id(self, row: int) -> int | None:
        cell = self.table.item(row, 1)
        return None if cell is None else cell.data(Qt.ItemDataRole.UserRole)

    def _row_of(self, item_id: int) -> int | None:
        return next((row for row in range(self.table.rowCount()) if self._row_id(row) == item_id), None)

    def _update_row(self, item: BatchItem) -> None:
        row = self._row_of(item.id)
        if row is None:
            return
        if item.status == RUNNING:
            text = f"Running {item.progress * 100:.0f}%"
        elif item.status == DONE:
            text = f"Done ({item.seconds:.1f}s)"
        elif item.status in (FAILED, SKIPPED):
            text = f"{item.status}: {item.message}"
        else:
            text = item.status
        cell = self.table.item(row, 4)
        cell.setText(text)
        cell.setToolTip(item.message or (item.output or ""))
        if item.id in self._thumbs:
            self.table.item(row, 0).setIcon(self._thumbs[item.id])

    def _set_thumbnail(self, item_id: int, image: QImage) -> None:
        self._thumbs[item_id] = QIcon(QPixmap.fromImage(image))
        row = self._row_of(item_id)
        if row is not None:
            self.table.item(row, 0).setIcon(self._thumbs[item_id])

    def _update_summary(self) -> None:
        finished, total = self.queue.counts()
        if self._current is not None:
            finished_fraction = finished + self._current[0].progress
        else:
            finished_fraction = finished
        text = f"{finished}/{total}"
        left = self.queue.seconds_left()
        if self.running and left is not None:
            text += f" — about {left:.0f}s left"
        if self.running:
            text += " (pausing after this photo)" if self.paused else ""
        self.summary.setText(text if total else "Drop photos or folders on the window, or Add files...")
        self.setProperty("overall", finished_fraction / max(1, total))

    def selected_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self._row_id(row) for row in rows if self._row_id(row) is not None]

    def _move_selected(self, offset: int) -> None:
        for item_id in self.selected_ids():
            self.queue.move(item_id, offset)
        self.refresh()

    def _remove_selected(self) -> None:
        self.queue.remove(self.selected_ids())
        self.refresh()

    def _on_double_click(self, index) -> None:
        item = self.queue.get(self._row_id(index.row()))
        if item is not None and item.status == DONE and item.output:
            self.openComparison.emit(item.source, item.output)

    def open_output_folder(self) -> None:
        done = [item for item in self.queue.items if item.output]
        folder = Path(done[-1].output).parent if done else (Path(self.output_dir.text()) if self.output_dir.text() else None)
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def _size_text(size: int) -> str:
    if size <= 0:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
