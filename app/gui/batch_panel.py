"""The batch queue panel: rows with thumbnails, operation, destination and status; options; Start/Pause/Cancel.

Items run one at a time on their own worker thread (not the single-photo worker), so the
window stays usable for viewing while a batch runs. Every item goes through the same
``process_file`` + ``operation_for`` path as ``photomend denoise/deblur``; planning, recording
and recovery live in ``app.pipeline.batch`` so they work (and are tested) without Qt.

The options on the right are the preset for newly added files *and* for queued rows that have
not started: a field edited there replaces that field on those rows (the selected queued rows,
or all of them when none is selected), so an output folder typed after adding is the one used.
The restore settings (strength, noise ...) come from the side panel when files are added, when
the operation is chosen, or on "Use current settings"; moving a slider to look at another photo
does not silently change queued work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDragMoveEvent, QDropEvent, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import PhotomendError
from app.gui.worker import WorkerClient
from app.pipeline.batch import (
    CANCELLED,
    DEFAULT_PATTERN,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    SKIPPED,
    AddResult,
    BatchItem,
    BatchPreset,
    BatchQueue,
    check_pattern,
)
from app.pipeline.operations import EngineCache, RestoreSettings, operation_for
from app.pipeline.process_file import process_file

COLUMNS = ["", "File", "Size", "Operation", "Destination", "Status"]
THUMB = 32
ROW_HEIGHT = THUMB + 4
VISIBLE_ROWS = 8  # rows the panel asks room for, so a 1280x800 window shows a useful queue
MIN_ROWS = 2  # what the table keeps when the user (or a small screen) makes the dock short
SIDE_WIDTH = 340
MAX_SKIPPED_LISTED = 30


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


class ElideAtTheEnd(QStyledItemDelegate):
    """A status reads from its start ('Failed: truncated ...'): cut its end, not its middle as paths are."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


class QueueTable(QTableWidget):
    """The rows; files and folders dropped on it are queued (``filesDropped``)."""

    filesDropped = Signal(list)

    def __init__(self, columns: list[str]) -> None:
        super().__init__(0, len(columns))
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)

    def rows_height(self, rows: int) -> int:
        """Pixels the table needs to show ``rows`` full rows (header and frame included)."""
        return self.horizontalHeader().sizeHint().height() + rows * ROW_HEIGHT + 2 * self.frameWidth() + 2

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(super().sizeHint().width(), self.rows_height(VISIBLE_ROWS))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)


class BatchPanel(QWidget):
    """Queue view and controls; ``openComparison(original, result)`` asks the window to show a pair."""

    openComparison = Signal(str, str)
    finishedBatch = Signal(str)  # summary text

    def __init__(self, queue: BatchQueue, current_settings: Callable[[str], RestoreSettings],
                 parent: QWidget | None = None, *, worker: WorkerClient | None = None,
                 engines: EngineCache | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.current_settings = current_settings  # operation -> RestoreSettings from the side panel
        # The window's compute queue and loaded models, so photos of a batch and the window's own
        # work take turns (and one copy of each model is loaded); a panel of its own has its own.
        self._own_worker = worker is None
        self.worker = worker or WorkerClient(self)
        self.engines = engines or EngineCache()
        self.running = False
        self.paused = False
        self._closing = False
        self._current = None
        self._started = 0.0
        self._thumb_signals = _ThumbnailSignals()
        self._thumb_signals.ready.connect(self._set_thumbnail)
        self._thumbs: dict[int, QIcon] = {}
        self._thumbs_asked: set[int] = set()
        self._build()
        self._applied = self._option_values()
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self._update_summary)
        self.refresh()
        if queue.problem:
            self.show_notice(queue.problem)

    # ----- UI ----------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(2, 0, 2, 0)
        left = QVBoxLayout()
        self.table = QueueTable(COLUMNS)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # paths: both ends tell
        self.table.setItemDelegateForColumn(5, ElideAtTheEnd(self.table))
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        for column in (1, 3, 4, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._on_double_click)
        self.table.filesDropped.connect(self._on_dropped)
        self.table.itemSelectionChanged.connect(self._update_applies_label)
        left.addWidget(self.table, 1)
        edit_row = QHBoxLayout()
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear finished")
        self.retry_button = QPushButton("Retry failed/cancelled")
        for button in (self.up_button, self.down_button, self.remove_button, self.clear_button, self.retry_button):
            edit_row.addWidget(button)
        self.summary = QLabel()  # beside the buttons: a line saved for the rows
        self.summary.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        edit_row.addWidget(self.summary, 1)
        left.addLayout(edit_row)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b35c00;")
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.hide()
        left.addWidget(self.notice)
        outer.addLayout(left, 1)

        side_widget = QWidget()
        side = QVBoxLayout(side_widget)
        side.setContentsMargins(0, 0, 4, 0)
        add_row = QHBoxLayout()
        self.add_files_button = QPushButton("Add files...")
        self.add_folder_button = QPushButton("Add folder...")
        add_row.addWidget(self.add_files_button)
        add_row.addWidget(self.add_folder_button)
        side.addLayout(add_row)
        run_row = QHBoxLayout()  # near the top: still reachable when a short dock scrolls the rest
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primaryButton")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        for button in (self.start_button, self.pause_button, self.cancel_button):
            run_row.addWidget(button)
        side.addLayout(run_row)
        options = QFormLayout()
        operation_row = QHBoxLayout()
        self.operation_combo = QComboBox()
        self.operation_combo.addItem("Denoise", "denoise")
        self.operation_combo.addItem("Deblur", "deblur")
        self.use_settings_button = QPushButton("Use current settings")
        self.use_settings_button.setToolTip("Give the queued rows the side panel's current restore settings")
        operation_row.addWidget(self.operation_combo, 1)
        operation_row.addWidget(self.use_settings_button)
        options.addRow("Operation", operation_row)
        folder_row = QHBoxLayout()
        self.output_dir = QLineEdit()
        self.output_dir.setPlaceholderText("beside each original")
        self.output_browse = QPushButton("...")
        self.output_browse.setFixedWidth(32)
        folder_row.addWidget(self.output_dir, 1)
        folder_row.addWidget(self.output_browse)
        options.addRow("Output folder", folder_row)
        self.pattern = QLineEdit(DEFAULT_PATTERN)
        self.pattern.setToolTip("File name without extension; {stem} = original name, {operation} = denoise/deblur")
        options.addRow("Name", self.pattern)
        self.pattern_error = QLabel()
        self.pattern_error.setWordWrap(True)
        self.pattern_error.setStyleSheet("color: #c0392b;")
        self.pattern_error.hide()
        options.addRow(self.pattern_error)
        self.format_combo = QComboBox()
        for title, key in (("As original", None), ("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WebP", "webp")):
            self.format_combo.addItem(title, key)
        options.addRow("Format", self.format_combo)
        self.depth_combo = QComboBox()
        for title, key in (("As original", None), ("8-bit", 8), ("16-bit", 16)):
            self.depth_combo.addItem(title, key)
        options.addRow("Bit depth", self.depth_combo)
        side.addLayout(options)
        self.applies_label = QLabel()
        self.applies_label.setWordWrap(True)
        self.applies_label.setStyleSheet("color: palette(mid);")
        side.addWidget(self.applies_label)
        self.open_output_button = QPushButton("Open output folder")
        side.addWidget(self.open_output_button)
        side.addStretch(1)
        # The controls scroll rather than set the dock's minimum height, so a short window still
        # fits the screen; the table keeps room for two rows at least.
        self.side_scroll = QScrollArea()
        self.side_scroll.setWidget(side_widget)
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side_scroll.setFixedWidth(SIDE_WIDTH)
        self.side_scroll.setMinimumHeight(MIN_ROWS * ROW_HEIGHT)
        self.table.setMinimumHeight(self.table.rows_height(MIN_ROWS))
        outer.addWidget(self.side_scroll)

        self.add_files_button.clicked.connect(self._add_files_dialog)
        self.add_folder_button.clicked.connect(self._add_folder_dialog)
        self.output_browse.clicked.connect(self._choose_output_dir)
        self.output_dir.editingFinished.connect(self.apply_options)
        self.pattern.textChanged.connect(lambda _text: self._pattern_ok())
        self.pattern.editingFinished.connect(self.apply_options)
        self.format_combo.currentIndexChanged.connect(lambda _i: self.apply_options())
        self.depth_combo.currentIndexChanged.connect(lambda _i: self.apply_options())
        self.operation_combo.currentIndexChanged.connect(lambda _i: self.use_current_settings())
        self.use_settings_button.clicked.connect(self.use_current_settings)
        self.up_button.clicked.connect(lambda: self._move_selected(-1))
        self.down_button.clicked.connect(lambda: self._move_selected(1))
        self.remove_button.clicked.connect(self._remove_selected)
        self.clear_button.clicked.connect(lambda: (self.queue.clear_finished(), self.refresh()))
        self.retry_button.clicked.connect(lambda: (self.queue.retry_failed(), self.refresh()))
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_output_button.clicked.connect(self.open_output_folder)

    def sizeHint(self) -> QSize:  # noqa: N802
        """Tall enough for VISIBLE_ROWS rows and all controls unscrolled: the dock's first height."""
        hint = self.layout().sizeHint()
        margins = self.layout().contentsMargins()
        controls = self.side_scroll.widget().sizeHint().height() + margins.top() + margins.bottom()
        return QSize(hint.width(), max(hint.height(), controls))

    def show_notice(self, text: str, detail: str = "") -> None:
        """One message for the user under the table (a damaged queue file, what a folder scan skipped)."""
        self.notice.setText(text)
        self.notice.setToolTip(detail)
        self.notice.setVisible(bool(text))

    # ----- options -----------------------------------------------------------------------
    def _option_values(self) -> dict[str, Any]:
        return {
            "output_dir": self.output_dir.text().strip() or None,
            "pattern": self.pattern.text().strip() or DEFAULT_PATTERN,
            "format": self.format_combo.currentData(),
            "bit_depth": self.depth_combo.currentData(),
        }

    def _pattern_ok(self) -> bool:
        """Check the name pattern as it is typed; the message stays until it is fixed."""
        try:
            check_pattern(self.pattern.text().strip() or DEFAULT_PATTERN)
        except PhotomendError as error:
            self.pattern_error.setText(str(error))
            self.pattern_error.show()
            self.side_scroll.ensureWidgetVisible(self.pattern_error)  # a short dock scrolls the options
            self._update_buttons()
            return False
        self.pattern_error.hide()
        self._update_buttons()
        return True

    def _target_ids(self) -> list[int] | None:
        """Selected rows that have not started, or None: every queued row."""
        ids = [i for i in self.selected_ids() if (item := self.queue.get(i)) is not None and item.status == QUEUED]
        return ids or None

    def apply_options(self) -> bool:
        """Give queued rows the option fields edited since the last apply; False for a bad pattern."""
        if not self._pattern_ok():
            return False
        values = self._option_values()
        changes = {key: value for key, value in values.items() if value != self._applied.get(key)}
        if changes and self._apply(changes):
            self._applied.update(changes)
        return True

    def use_current_settings(self) -> None:
        """Give queued rows the side panel's restore settings for the chosen operation."""
        self._apply({"settings": self.current_settings(self.operation_combo.currentData())})

    def _apply(self, changes: dict[str, Any]) -> bool:
        try:
            self.queue.apply_to_queued(changes, self._target_ids())
        except PhotomendError as error:
            self.show_notice(str(error))
            return False
        self.refresh()
        return True

    def _update_applies_label(self) -> None:
        queued = sum(item.status == QUEUED for item in self.queue.items)
        targets = self._target_ids()
        if targets is not None:
            text = f"Changes apply to new files and the {len(targets)} selected queued row(s)."
        elif queued:
            text = f"Changes apply to new files and all {queued} queued row(s)."
        else:
            text = "Changes apply to the files you add."
        self.applies_label.setText(text)

    # ----- adding ------------------------------------------------------------------------
    def preset(self) -> BatchPreset:
        """The preset captured now, from the side panel's current settings and these options."""
        values = self._option_values()
        return BatchPreset(settings=self.current_settings(self.operation_combo.currentData()), **values)

    def add_paths(self, paths: list[str]) -> list[BatchItem]:
        """Queue files and folders; raises PhotomendError (nothing queued) for invalid options."""
        result = self.queue.add(paths, self.preset())
        self._report_skipped(paths, result)
        self.refresh()
        return result.items

    def _report_skipped(self, paths: list[str], result: AddResult) -> None:
        if not result.skipped:
            self.show_notice("")
            return
        folders = ", ".join(Path(p).name or p for p in paths if Path(p).is_dir())
        listed = [f"{entry.path}: {entry.reason}" for entry in result.skipped[:MAX_SKIPPED_LISTED]]
        if len(result.skipped) > MAX_SKIPPED_LISTED:
            listed.append(f"... and {len(result.skipped) - MAX_SKIPPED_LISTED} more")
        self.show_notice(f"{folders}: {result.skipped_summary}" if folders else result.skipped_summary, "\n".join(listed))

    def _on_dropped(self, paths: list[str]) -> None:
        try:
            self.add_paths(paths)
        except PhotomendError as error:
            self.show_notice(str(error))

    def _add_files_dialog(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(self, "Add photos", "", "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp)")
        if files:
            self._on_dropped(files)

    def _add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add folder")
        if folder:
            self._on_dropped([folder])

    def _choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder")
        if folder:
            self.output_dir.setText(folder)
            self.apply_options()

    # ----- running -----------------------------------------------------------------------
    def start(self) -> None:
        """Start, or resume after Pause/Cancel; options typed but not yet applied apply first."""
        if not self.apply_options():
            return
        self.paused = False
        if not self.running:
            self.running = True
            self._started = time.perf_counter()
            self._tick.start()
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
        while True:
            item = None if self.paused else self.queue.next_queued()
            if item is None:
                self._finish_batch()
                return
            work = self.queue.begin(item)  # an item that cannot even be planned is Failed; go on
            if work is not None:
                break
        cache, settings = self.engines, item.preset.settings
        options = item.preset.output_options()

        def run(job):
            return process_file(work, operation_for(cache, settings), options,
                                progress=job.report, cancelled=job.cancel.is_set)

        def progress(done_tiles: int, total: int) -> None:
            item.progress = done_tiles / max(1, total)
            self._update_row(item)
            self._update_summary()

        row = self._row_of(item.id)
        if row is not None:
            self.table.scrollToItem(self.table.item(row, 1))
        job = self.worker.submit(
            "batch", run,
            on_done=lambda outcome: self._after_item(self.queue.finish, item, outcome),
            on_error=lambda message: self._after_item(self.queue.fail, item, message),
            on_cancel=lambda: self._after_item(self.queue.interrupted if self._closing else self.queue.cancelled, item),
            on_progress=progress,
            owner="batch",
        )
        self._current = (item, job)
        self.refresh()

    def _after_item(self, record: Callable[..., None], *args: Any) -> None:
        record(*args)
        self._current = None
        self.refresh()
        self._run_next()

    def _finish_batch(self) -> None:
        was_running = self.running
        self.running = False
        self._tick.stop()
        self.refresh()
        if was_running:
            failed = sum(item.status == FAILED for item in self.queue.items)
            done = sum(item.status == DONE for item in self.queue.items)
            state = "paused" if self.paused and self.queue.next_queued() else "finished"
            text = f"Batch {state}: {done} done, {failed} failed, {time.perf_counter() - self._started:.0f}s"
            self.summary.setText(text)
            self.finishedBatch.emit(text)

    def shutdown(self, wait_ms: int = 30000) -> bool:
        """Stop after the current tile; the photo it stopped is queued again, not Cancelled (or
        left Running, which the restart redoes or finds Done). False if the tile outlasted ``wait_ms``."""
        self._closing = True
        self.paused = True
        self._tick.stop()
        self.queue.save()
        if self._own_worker:
            stopped = self.worker.shutdown(wait_ms)
        else:  # the window shuts the shared queue down; stop only the batch's photo here
            self.worker.cancel_all("batch")
            stopped = True
        self.queue.save()
        return stopped

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
                self.table.setItem(row, 2, QTableWidgetItem(_size_text(item.size_bytes, item.pixels)))
                for column in (3, 4, 5):
                    self.table.setItem(row, column, QTableWidgetItem())
                self._request_thumbnail(item)
        for item in self.queue.items:
            self._update_row(item)
        self._update_summary()
        self._update_applies_label()
        self._update_buttons()
        if self.queue.save_problem:
            self.show_notice(self.queue.save_problem)

    def _update_buttons(self) -> None:
        idle = not self.running
        pattern_ok = self.pattern_error.isHidden()
        has_queued = bool(self.queue.next_queued())
        self.start_button.setEnabled(has_queued and (idle or self.paused) and pattern_ok)
        self.start_button.setText("Resume" if self.paused and has_queued else "Start")
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
        operation = self.table.item(row, 3)
        operation.setText(item.preset.settings.summary())
        operation.setToolTip(item.preset.settings.summary())
        destination = _destination(item)
        self.table.item(row, 4).setText(destination)
        self.table.item(row, 4).setToolTip(destination)
        status = self.table.item(row, 5)
        status.setText(_status_text(item))
        tip = "Retry failed/cancelled queues it again" if item.status == CANCELLED else item.message or item.output or ""
        status.setToolTip(tip)
        if item.id in self._thumbs:
            self.table.item(row, 0).setIcon(self._thumbs[item.id])

    def _request_thumbnail(self, item: BatchItem) -> None:
        if item.status == SKIPPED or item.id in self._thumbs_asked:
            return
        self._thumbs_asked.add(item.id)
        QThreadPool.globalInstance().start(_Thumbnail(item.id, item.source, self._thumb_signals))

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
        left = self.queue.seconds_left() if self.running else None
        if left is not None:
            text += f" — about {duration_text(left)} left"
        if self.running and self.paused:
            text += " (pausing after this photo)"
        self.summary.setText(text if total else "Drop photos or folders here, or Add files...")
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


def _destination(item: BatchItem) -> str:
    """Where the result is (Done), is being written (Running), or will go (the un-numbered name)."""
    if item.status == SKIPPED:
        return ""
    if item.output and item.status == DONE:
        return item.output
    if item.planned:
        return item.planned
    try:
        return str(item.preset.base_for(Path(item.source)))
    except PhotomendError:
        return ""


def _status_text(item: BatchItem) -> str:
    if item.status == RUNNING:
        return f"Running {item.progress * 100:.0f}%"
    if item.status == DONE:
        return f"Done ({item.message})" if item.message else f"Done ({item.seconds:.1f}s)"
    if item.status == CANCELLED:
        return "Cancelled"
    if item.message:
        # The row names the file already; the whole message is the tooltip.
        return f"{item.status}: {item.message.removeprefix(f'{item.source}: ')}"
    return item.status


def duration_text(seconds: float) -> str:
    """'45 s', '3 min 05 s', '2 h 10 min': precise enough to plan by, never falsely precise."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _size_text(size: int, pixels: int = 0) -> str:
    parts = []
    if pixels > 0:
        parts.append(f"{pixels / 1e6:.1f} MP" if pixels >= 1_000_000 else f"{pixels / 1e6:.2f} MP")
    if size > 0:
        value = float(size)
        for unit in ("B", "KB", "MB", "GB"):
            if value < 1024 or unit == "GB":
                parts.append(f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}")
                break
            value /= 1024
    return " · ".join(parts)
