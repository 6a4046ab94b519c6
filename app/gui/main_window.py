"""The Photomend main window: open, compare, restore on the worker, undo, export.

The UI thread only handles widgets; reading, estimating, restoring and writing are jobs
for the worker thread (app/gui/worker.py). The window keeps the photo's history and
decides what the canvas shows.
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QWidget,
)

from app import __version__
from app.gui.compare_view import ORIGINAL, RESULT, SPLIT, CompareView
from app.gui.control_panel import ControlPanel
from app.gui.export_dialog import ExportDialog, ExportOptions, default_export_path
from app.gui.history import History
from app.gui.models_dialog import ModelDownloads, ModelsDialog
from app.gui.qt_images import to_qimage
from app.gui.resources import blurred_sample_path, icon, sample_photo_path
from app.gui.settings_paths import kernel_cache_dir
from app.gui.settings_store import SettingsStore
from app.gui.tasks import Job
from app.gui.worker import WorkerClient
from app.errors import PhotomendError
from models import DEFAULT_MODEL
from app.pipeline.kernels import EstimatedKernel, estimate_kernel_for_photo
from app.pipeline.operations import (EngineCache, LevelChoice, RestoreSettings, estimate_seconds, measure_speed,
                                     restore_with_settings)
from app.pipeline.photos import Photo, export_result, measure_noise, open_photo
from app.pipeline.previews import deblur_preview_method, restore_region

OPEN_FILTER = "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp);;All files (*)"
MAX_RECENT = 8
FAITHFUL_PREVIEW_PIXELS = 4_000_000  # beyond this the released preview is computed at display scale
QUIT_WAIT_MS = 1500  # quitting waits this long for the step in progress, then abandons it
DRAG_PREVIEW_PIXELS = 350_000  # while dragging, previews are shrunk to about this many pixels
STEP_NAMES = {"denoise": "Denoise", "deblur": "Deblur"}  # history labels start with these


class MainWindow(QMainWindow):
    """One photo at a time; every heavy step runs on the worker."""

    def __init__(self, settings: SettingsStore | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Photomend")
        self.setWindowIcon(icon("photomend"))
        self.settings = settings if settings is not None else SettingsStore()
        self.worker = WorkerClient(self)
        self.engines = EngineCache()
        self.photo: Photo | None = None
        self.history: History | None = None
        self.noise_sigma: float | None = None
        self.current_job: Job | None = None
        self.last_error: str | None = None
        self.error_box: QMessageBox | None = None
        self.last_export: Path | None = None
        self.last_message: str | None = None  # the last notice shown (no-blur verdicts, quit questions...)
        self.quit_box: QMessageBox | None = None
        self._exported: np.ndarray | None = None  # the history pixels last written by Export
        self._photo_serial = 0  # which opened photo a finished job belongs to
        # (id(pixels), operation) -> (a weak ref to the pixels, the level measured for them)
        self._noise_of: dict[tuple[int, str], tuple[weakref.ref, float]] = {}
        self._level_choice: dict[int, LevelChoice] = {}  # id(pixels) -> Denoise's automatic level and why
        self._quit_confirmed = False
        self.stopped_cleanly = True  # False after a quit that had to abandon running work
        self._after_export: Callable[[], None] | None = None  # what an export asked for by a question continues with
        self._discard_confirmed = False  # the user chose Discard: the open that asked goes ahead once
        self.open_box: QMessageBox | None = None
        self._preview_operation = "denoise"
        self._preview_active = False
        self._preview_final = True
        self._preview_engine_warm = False
        self._kernel_kept_anyway: str | None = None  # an estimated kernel the user was told about, for "again"
        self.downloads = ModelDownloads(self)
        self.models_dialog: ModelsDialog | None = None
        self._build_ui()
        self._build_menus()
        self._restore_settings()
        self._preview_timer = QTimer(self, singleShot=True, interval=40)
        self._preview_timer.timeout.connect(self._request_preview)
        self._update_actions()

    # ----- construction ------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.view = CompareView()
        self.panel = ControlPanel()
        # The panel scrolls rather than holding the window's height: at 1280x800 the batch dock
        # below needs the room to show its rows.
        panel_scroll = QScrollArea()
        panel_scroll.setWidget(self.panel)
        panel_scroll.setWidgetResizable(True)
        panel_scroll.setFrameShape(QFrame.Shape.NoFrame)
        panel_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scrollbar = panel_scroll.verticalScrollBar().sizeHint().width()
        panel_scroll.setMinimumWidth(self.panel.minimumWidth() + scrollbar)
        panel_scroll.setMaximumWidth(self.panel.maximumWidth() + scrollbar)
        splitter = QSplitter()
        splitter.addWidget(self.view)
        splitter.addWidget(panel_scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setCollapsible(0, False)
        self.setCentralWidget(splitter)
        self.status_labels = {name: QLabel() for name in ("file", "size", "depth", "noise", "device", "time")}
        for label in self.status_labels.values():
            self.statusBar().addPermanentWidget(label)
        self._build_batch_dock()
        self.view.filesDropped.connect(self._on_files_dropped)
        self.view.sampleRequested.connect(self.open_sample)
        self.view.viewChanged.connect(self._on_view_changed)
        self.panel.previewChanged.connect(lambda final: self._schedule_preview("denoise", final))
        for widget in (self.panel.motion_length, self.panel.motion_angle, self.panel.defocus_radius,
                       self.panel.gaussian_sigma, self.panel.deblur_strength):
            widget.valueChanged.connect(lambda _v: self._schedule_preview("deblur", False))
            widget.released.connect(lambda: self._schedule_preview("deblur", True))
        self.panel.kernel_type.currentIndexChanged.connect(lambda _i: self._schedule_preview("deblur", True))
        self.panel.denoiseRequested.connect(lambda: self.apply("denoise"))
        self.panel.deblurRequested.connect(lambda: self.apply("deblur"))
        self.panel.cancelRequested.connect(self.cancel)
        self.panel.estimateKernelRequested.connect(self.estimate_kernel)
        self.panel.kernelFileRequested.connect(self._choose_kernel_file)
        self.panel.deblur_model.modelChanged.connect(lambda _name: self._schedule_preview("deblur", True))
        self.panel.downloadRequested.connect(self.downloads.ask_and_download)
        self.downloads.changed.connect(self.panel.refresh_models)
        self.downloads.downloaded.connect(self._on_model_downloaded)
        self.downloads.failed.connect(lambda _name, message: self._show_error(message))
        self.downloads.cancelled.connect(
            lambda name: self.statusBar().showMessage(f"Download of {name} cancelled; the previous model is kept", 6000))
        self.worker.busyChanged.connect(lambda _busy: self._update_actions())

    def _build_batch_dock(self) -> None:
        from app.gui.batch_panel import BatchPanel
        from app.gui.settings_paths import data_dir
        from app.pipeline.batch import BatchQueue

        queue_file = Path(str(self.settings.value("batch/queue_file", data_dir() / "queue.json")))
        self.batch = BatchPanel(BatchQueue.load(queue_file), self.panel.settings, worker=self.worker, engines=self.engines)
        self.batch.openComparison.connect(self.open_comparison)
        self.batch.finishedBatch.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.batch_dock = QDockWidget("Batch queue", self)
        self.batch_dock.setObjectName("batchDock")
        self.batch_dock.setWidget(self.batch)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.batch_dock)
        # A bottom dock starts at a fraction of what it asks for; the first time it is shown (when
        # the window has its size) it gets the panel's height, room for 8 rows. Later sizes are the user's.
        sized: list[bool] = []

        def size_once(visible: bool) -> None:
            if visible and not sized:
                sized.append(True)
                QTimer.singleShot(0, lambda: self.resizeDocks(
                    [self.batch_dock], [self.batch.sizeHint().height() + self.batch_dock.height() - self.batch.height()],
                    Qt.Orientation.Vertical))

        self.batch_dock.visibilityChanged.connect(size_once)
        self.batch_dock.setVisible(bool(self.batch.queue.items) or bool(self.batch.queue.problem))

    def _action(self, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action("&Open...", self.open_dialog, QKeySequence.StandardKey.Open)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self._action("Open &Sample Photo", self.open_sample))
        file_menu.addAction(self._action("Open Sample Photo (&blurred)", lambda: self.open_path(blurred_sample_path())))
        file_menu.addAction(self._action("Add Files to &Batch...", self._batch_add_files, "Ctrl+Shift+O"))
        file_menu.addAction(self._action("Add &Folder to Batch...", self._batch_add_folder))
        file_menu.addSeparator()
        self.export_action = self._action("&Export...", self.export_dialog, "Ctrl+E")
        self.export_action.setShortcuts([QKeySequence("Ctrl+E"), QKeySequence("Ctrl+S")])
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        self.undo_action = self._action("&Undo", self.undo, "Ctrl+Z")
        self.redo_action = self._action("&Redo", self.redo, "Ctrl+Shift+Z")
        self.reset_action = self._action("Reset to &Original", self.reset_to_original)
        for action in (self.undo_action, self.redo_action, self.reset_action):
            edit_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        self.mode_actions = {
            SPLIT: self._action("&Split View", lambda: self.set_view_mode(SPLIT), "Ctrl+2", True),
            ORIGINAL: self._action("&Original Only", lambda: self.set_view_mode(ORIGINAL), "Ctrl+3", True),
            RESULT: self._action("&Result Only", lambda: self.set_view_mode(RESULT), "Ctrl+4", True),
        }
        for action in self.mode_actions.values():
            view_menu.addAction(action)
        self.mode_actions[SPLIT].setChecked(True)
        view_menu.addSeparator()
        view_menu.addAction(self._action("Zoom to &Fit", self.view.zoom_fit, "Ctrl+0"))
        view_menu.addAction(self._action("&Actual Pixels (100%)", self.view.zoom_actual, "Ctrl+1"))
        view_menu.addAction(self._action("Zoom &In", lambda: self._zoom_step(1.25), QKeySequence.StandardKey.ZoomIn))
        view_menu.addAction(self._action("Zoom O&ut", lambda: self._zoom_step(0.8), QKeySequence.StandardKey.ZoomOut))
        view_menu.addSeparator()
        toggle = self.batch_dock.toggleViewAction()
        toggle.setShortcut(QKeySequence("Ctrl+Shift+B"))
        view_menu.addAction(toggle)
        view_menu.addAction(QAction("Hold \\ to flash the original", self, enabled=False))

        process_menu = bar.addMenu("&Process")
        self.denoise_action = self._action("&Denoise", lambda: self.apply("denoise"), "Ctrl+D")
        self.deblur_action = self._action("De&blur", lambda: self.apply("deblur"), "Ctrl+B")
        self.cancel_action = self._action("&Cancel", self.cancel, "Esc")
        for action in (self.denoise_action, self.deblur_action, self.cancel_action):
            process_menu.addAction(action)

        tools_menu = bar.addMenu("&Tools")
        self.models_action = self._action("&Models...", self.show_models, "Ctrl+Shift+M")
        tools_menu.addAction(self.models_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&About Photomend", self.show_about))

    # ----- settings ----------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = QByteArray.fromBase64(self.settings.value("window/geometry", "", type=str).encode("ascii", "ignore"))
        if geometry.isEmpty() or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        for key, combo in self._engine_combos().items():
            stored = self.settings.value(key, type=str)
            if stored is not None:
                index = combo.findText(stored)
                if index >= 0:
                    combo.setCurrentIndex(index)
        for key, selector in self._model_selectors().items():
            stored = self.settings.value(key, type=str)
            if stored:
                selector.select(stored)  # a model deleted since stays unselected: the default is used
        self._refresh_recent_menu()
        if self.settings.problem:  # a damaged settings file: said once, then the window carries on
            self.statusBar().showMessage(self.settings.problem, 15000)

    def _engine_combos(self) -> dict[str, QComboBox]:
        return {"engine/device": self.panel.device_combo,
                "engine/precision": self.panel.precision_combo, "engine/tile": self.panel.tile_combo}

    def _model_selectors(self) -> dict:
        """Stored by model name: a selector's text changes when its model is downloaded."""
        return {"engine/model": self.panel.model_combo, "engine/deblur_model": self.panel.deblur_model}

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", bytes(self.saveGeometry().toBase64()).decode("ascii"))
        for key, combo in self._engine_combos().items():
            self.settings.setValue(key, combo.currentText())
        for key, selector in self._model_selectors().items():
            self.settings.setValue(key, selector.current_model())
        self.settings.sync()

    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        entries = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return [entry for entry in entries if isinstance(entry, str) and entry]

    def _remember_recent(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("files/recent", recent[:MAX_RECENT])
        self.settings.setValue("files/last_open_dir", str(path.parent))
        self.settings.sync()
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.recent_files():
            action = self.recent_menu.addAction(Path(entry).name)
            action.setToolTip(entry)
            action.triggered.connect(lambda _checked=False, p=entry: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    # ----- opening -----------------------------------------------------------------------
    def open_dialog(self) -> None:
        folder = self.settings.value("files/last_open_dir", str(Path.home()), type=str)
        path, _filter = QFileDialog.getOpenFileName(self, "Open photo", folder, OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_sample(self) -> None:
        self.open_path(sample_photo_path())

    def _on_files_dropped(self, paths: list[str]) -> None:
        """One photo opens; several files or a folder go to the batch queue instead."""
        if len(paths) == 1 and Path(paths[0]).is_file():
            self.open_path(paths[0])
            return
        self.add_to_batch(paths)

    def add_to_batch(self, paths: list[str]) -> None:
        try:
            added = self.batch.add_paths(paths)
        except PhotomendError as error:
            self._show_error(str(error))
            return
        self.batch_dock.setVisible(True)
        self.statusBar().showMessage(f"Added {len(added)} item(s) to the batch queue", 5000)

    def _batch_add_files(self) -> None:
        self.batch_dock.setVisible(True)
        self.batch._add_files_dialog()

    def _batch_add_folder(self) -> None:
        self.batch_dock.setVisible(True)
        self.batch._add_folder_dialog()

    def open_comparison(self, original: str, result: str) -> None:
        """A finished batch item in the split view: its original left, the saved result right."""
        if not self._confirm_discard(lambda: self.open_comparison(original, result)):
            return

        def run(job: Job):
            before = open_photo(original)
            after = open_photo(result)
            if after.pixels.shape != before.pixels.shape:
                raise PhotomendError(f"{result}: size differs from the original {original}")
            return before, to_qimage(before.pixels), after.pixels

        def done(loaded) -> None:
            before, image, after = loaded
            self._on_opened(Path(original), before, image)
            self.history.push(f"Batch result {Path(result).name}", after)
            self.last_export = Path(result)
            self._exported = after  # already on disk: nothing to lose
            self._show_current()

        self.worker.submit("open", run, on_done=done, on_error=self._show_error)

    def open_path(self, path: str | Path) -> None:
        """Read on the worker; the canvas switches only when the photo decoded cleanly."""
        path = Path(path)
        if not self._confirm_discard(lambda: self.open_path(path)):
            return
        self.statusBar().showMessage(f"Opening {path.name}...")
        # The running work belongs to the photo being replaced: stop it so the new one opens now
        # (the compute queue runs one job at a time), not after it.
        self.worker.cancel_all("window")
        max_pixels = max(1, self.settings.value("files/max_megapixels", 200, type=int)) * 1_000_000

        def run(job: Job):
            photo = open_photo(path, max_pixels=max_pixels)
            return photo, to_qimage(photo.pixels)

        self.worker.submit("open", run, on_done=lambda result: self._on_opened(path, *result),
                           on_error=self._show_error)

    def has_unexported_result(self) -> bool:
        """A restored result differs from the original and is not what was last exported."""
        return self.history is not None and self.history.is_modified() and self.history.current() is not self._exported

    def _confirm_discard(self, then: Callable[[], None]) -> bool:
        """Opening another photo drops unexported work only when the user agrees; True: go ahead now.

        Otherwise a question opens (``open_box``) and the open waits for its answer: Export...
        writes the result first and then carries on with ``then``; Discard carries on at once;
        Cancel keeps the current photo.
        """
        if self._discard_confirmed:
            self._discard_confirmed = False
            return True
        if not self.has_unexported_result() or self.settings.value("test/auto_discard", False, type=bool):
            return True
        buttons = QMessageBox.StandardButton
        box = QMessageBox(QMessageBox.Icon.Question, "Open another photo?",
                          "The restored photo has not been exported.", parent=self)
        box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
        box.button(buttons.Save).setText("Export...")
        box.button(buttons.Discard).setText("Discard and open")
        box.setDefaultButton(buttons.Save)
        box.setEscapeButton(buttons.Cancel)
        box.finished.connect(lambda _result: self._on_discard_answer(box, then))
        self.open_box = box
        box.open()
        return False

    def _on_discard_answer(self, box: QMessageBox, then: Callable[[], None]) -> None:
        clicked = box.clickedButton()
        answer = box.standardButton(clicked) if clicked is not None else QMessageBox.StandardButton.Cancel
        if answer == QMessageBox.StandardButton.Discard:
            self._discard_confirmed = True
            then()
        elif answer == QMessageBox.StandardButton.Save and self.export_dialog():
            self._after_export = then

    def _on_opened(self, path: Path, photo: Photo, image) -> None:
        self.cancel()
        self._photo_serial += 1
        self.photo = photo
        self.history = History(photo.pixels)
        self.noise_sigma = None
        self._noise_of.clear()
        self._level_choice.clear()
        self.last_export = None
        self._exported = None
        self.panel.set_estimate(None)  # a blur kernel belongs to its photo
        self._preview_active = False
        self.view.set_photo(image)
        self.setWindowTitle(f"{path.name} — Photomend")
        self.status_labels["file"].setText(path.name)
        self.status_labels["size"].setText(f"{photo.width}x{photo.height} ({photo.megapixels:.1f} MP)")
        self.status_labels["depth"].setText(f"{photo.bit_depth}-bit{' grey' if photo.is_grey else ''}")
        self.status_labels["noise"].setText("noise: estimating...")
        self.status_labels["time"].setText("")
        notes = "".join(f" — {note}" for note in photo.notes)  # e.g. only the first frame will be restored
        self.statusBar().showMessage(f"Opened {path}{notes}", 8000 if notes else 4000)
        if path not in (sample_photo_path(), blurred_sample_path()):
            self._remember_recent(path)
        self._estimate_noise()
        self._update_actions()

    def _estimate_noise(self) -> None:
        """Measure the shown photo's level (status bar, the Auto noise field) once per history state.

        A result only needs the noise it has left, which the classical estimate gives without
        running the model again; the photo as opened gets the automatic level Denoise will use.
        """
        operation = "deblur" if self.history.is_modified() else "denoise"
        self._measure_noise(self.history.current(), self._on_noise_estimated, operation)

    def _jpeg_quality_of(self, pixels: np.ndarray) -> float | None:
        """The source JPEG's quality while ``pixels`` are still its decoded pixels (not a result)."""
        if self.photo is None or self.history is None or pixels is not self.history.original:
            return None
        return self.photo.jpeg_quality

    def _measure_noise(self, pixels: np.ndarray, on_done: Callable[[float], None], operation: str = "denoise") -> None:
        """The automatic level of these pixels (cached while they live), then ``on_done(sigma)`` on the UI thread.

        Denoise measures with the model itself (app.engine.auto_level, about a second); "deblur"
        is the classical estimate, which Deblur's own automatic level starts from (previews match it).
        """
        known = self._noise_known(pixels, operation)
        if known is not None:
            on_done(known)
            return
        serial = self._photo_serial
        settings = self.panel.settings("denoise")
        quality = self._jpeg_quality_of(pixels)

        def run(job: Job):
            try:
                if operation == "deblur":
                    return measure_noise(pixels), None  # None: too small to measure
                choice = self.engines.denoiser(settings).choose_level(pixels, jpeg_quality=quality,
                                                                      cancelled=job.cancel.is_set)
                return choice.sigma, choice
            except PhotomendError:  # the model's level: too small to measure is a PhotomendError
                return None, None

        def done(measured: tuple[float | None, str | None]) -> None:
            sigma, choice = measured
            if sigma is None:
                self.status_labels["noise"].setText("noise: too small to measure (set a level)")
                return
            if serial == self._photo_serial:
                self._noise_of = {key: entry for key, entry in self._noise_of.items() if entry[0]() is not None}
                self._noise_of[(id(pixels), operation)] = (weakref.ref(pixels), float(sigma))
                if choice is not None:
                    alive = {key[0] for key in self._noise_of}
                    self._level_choice = {key: value for key, value in self._level_choice.items() if key in alive}
                    self._level_choice[id(pixels)] = choice
                on_done(float(sigma))

        self.worker.submit("estimate", run, on_done=done, on_error=self._show_error)

    def _choice_known(self, pixels: np.ndarray) -> LevelChoice | None:
        """Denoise's automatic level measured on exactly these pixels, if it was."""
        return self._level_choice.get(id(pixels)) if self._noise_known(pixels) is not None else None

    def _noise_known(self, pixels: np.ndarray, operation: str = "denoise") -> float | None:
        known = self._noise_of.get((id(pixels), operation))
        return known[1] if known is not None and known[0]() is pixels else None

    def _on_noise_estimated(self, sigma: float) -> None:
        self.noise_sigma = float(sigma)
        choice = self._level_choice.get(id(self.history.current())) if self.history is not None else None
        reason = None if choice is None else choice.reason
        if self.history is not None and self.history.is_modified():
            self.status_labels["noise"].setText(f"noise left: {sigma:.1f}")  # measured on the result shown
        else:
            self.status_labels["noise"].setText(f"auto level {sigma:.1f}" + (f": {reason}" if reason else ""))
        start, _replaces = self._step_start("denoise")  # the Auto field shows what Denoise will use
        self._measure_noise(start, self.panel.show_noise_estimate)
        if self._preview_active:
            self._request_preview()
        self._warm_up_preview_engine()

    def _warm_up_preview_engine(self) -> None:
        """Build the preview engine now (int8 calibration or graph tracing: seconds, once per session).

        Otherwise the first slider move would pay it; queued behind the noise estimate, on the worker.
        """
        if self._preview_engine_warm:
            self._update_deblur_estimate()
            return
        self._preview_engine_warm = True
        settings = self.panel.settings("denoise")
        deblur_settings = self.panel.settings("deblur")
        fast = self._fast_precision(settings)

        def run(job: Job) -> None:
            self.engines.denoiser(settings, fast).runner.prepare()
            measure_speed(self.engines, deblur_settings)  # for Deblur's time estimate

        self.worker.submit("warm-up", run, on_done=lambda _r: self._update_deblur_estimate(),
                           on_error=self._show_status_error)

    def _update_deblur_estimate(self) -> None:
        """Tell under the Deblur button how long Deblur will take on this photo (from measured speed)."""
        seconds = None
        if self.photo is not None:
            try:
                seconds = estimate_seconds(self.engines, self.photo.pixels.shape, self.panel.settings("deblur"))
            except PhotomendError:
                seconds = None
        self.panel.show_deblur_estimate(seconds)

    # ----- live preview ------------------------------------------------------------------
    def _schedule_preview(self, operation: str, final: bool) -> None:
        if self.photo is None:
            return
        if operation == "deblur" and final:
            self._update_deblur_estimate()
        self._preview_operation = operation
        self._preview_active = True
        self._preview_final = final
        self._preview_timer.start()

    def _on_view_changed(self) -> None:
        if self._preview_active and self.photo is not None:
            self._preview_final = True
            self._preview_timer.start(150)

    def _preview_settings(self) -> RestoreSettings:
        return self.panel.settings(self._preview_operation)

    def _request_preview(self) -> None:
        """Restore only what is on screen; shrunk while dragging, faithful on release."""
        if self.photo is None or self.history is None or (self.current_job is not None):
            return
        settings = self._preview_settings()
        learned = settings.operation == "deblur" and self.panel.learned_deblur()
        if settings.operation == "deblur" and not settings.kernel_spec and not learned:
            self.statusBar().showMessage(self._no_kernel_text(), 6000)
            return
        pixels, _replaces = self._step_start(settings.operation)
        operation = settings.operation
        blind = learned or (operation == "denoise" and self.panel.denoise_blind())
        if learned:  # a learned deblurring model runs over the region as a denoiser does
            settings = dataclasses.replace(settings, operation="denoise")
        noise = settings.noise_level if settings.noise_level is not None else self._noise_known(pixels, operation)
        if blind:
            noise = None  # the model measures it itself
        elif noise is None:  # measured once per state; the preview follows the measurement
            self._measure_noise(pixels, lambda _sigma: self._request_preview() if self._preview_active else None,
                                operation)
            return
        choice = (self._choice_known(pixels) if operation == "denoise" and not blind and settings.noise_level is None
                  else None)
        rect = self.view.visible_image_rect()
        if rect.isEmpty():
            return
        area = rect.width() * rect.height()
        downscale = 1
        if self._preview_final:
            # Zoomed out, the screen shows one device pixel per 1/scale image pixels: restoring
            # more detail than that cannot be seen (12 MP at fit: 7.6 s at half scale, ~5 s here).
            device_scale = self.view.scale() * self.view.devicePixelRatioF()
            downscale = max(1, int(1.0 / max(device_scale, 1e-3)))
        budget = FAITHFUL_PREVIEW_PIXELS if self._preview_final else DRAG_PREVIEW_PIXELS
        while area / (downscale * downscale) > budget:
            downscale *= 2
        region = (rect.x(), rect.y(), rect.width(), rect.height())
        fast = self._fast_precision(settings)
        final = self._preview_final
        started = time.perf_counter()
        serial = self._photo_serial

        def run(job: Job):
            method = "wiener"
            if operation == "deblur" and not learned:
                method = deblur_preview_method(self.engines, region, settings, final=final, fast_precision=fast)
            out = restore_region(self.engines, pixels, region, settings, noise_level=noise, downscale=downscale,
                                 fast_precision=fast, cancelled=job.cancel.is_set, deblur_method=method,
                                 level_choice=choice)
            return to_qimage(out), method

        def done(result) -> None:
            image, method = result
            if self._preview_active and self.photo is not None and serial == self._photo_serial:
                self.view.set_preview_patch(image, QRectF(QRect(*region)))
                if operation == "deblur" and not learned:
                    kind = ("deep prior, fast" if method == "deep" else
                            "Wiener" + ("" if final or settings.deblur_method != "deep" else " while moving")
                            + (", zoom in for a deep preview" if final and settings.deblur_method == "deep" else ""))
                else:
                    kind = 'full resolution' if downscale == 1 else f'1/{downscale} scale' + ('' if final else ', fast')
                self.statusBar().showMessage(
                    f"Preview ({kind}) in {time.perf_counter() - started:.2f}s — click {operation.title()} to apply",
                    5000)

        self.worker.request_preview(run, on_done=done, on_error=self._show_status_error)

    def _fast_precision(self, settings: RestoreSettings) -> str:
        """Previews use the fastest precision the device offers (int8/fp16), full runs what the user chose."""
        options = [self.panel.precision_combo.itemData(i) for i in range(self.panel.precision_combo.count())]
        for candidate in ("fp16", "bf16", "int8"):
            if candidate in options:
                return candidate
        return settings.precision

    # ----- full runs ---------------------------------------------------------------------
    def apply(self, operation: str) -> None:
        """Process the whole photo with progress and Cancel; the result becomes a history step.

        Applying the operation the last step did replaces that step (see ``_step_start``). With
        Auto-estimate, Deblur first finds this photo's blur, as ``--kernel auto`` does.
        """
        if self.photo is None or self.history is None or self.current_job is not None:
            return
        if operation == "deblur" and self.panel.needs_estimate():
            self.estimate_kernel(then_deblur=True)
            return
        settings = self.panel.settings(operation)
        if operation == "deblur" and not settings.kernel_spec and not self.panel.learned_deblur():
            self._show_notice(self._no_kernel_text())
            return
        if operation == "deblur" and settings.kernel_estimated and settings.kernel_spec == self._kernel_kept_anyway:
            settings = dataclasses.replace(settings, kernel_estimated=False)  # "press Deblur again": as asked
        pixels, replaces = self._step_start(operation)
        label = self._step_label(settings)
        started = time.perf_counter()
        serial = self._photo_serial
        self.panel.set_running(True)
        self.statusBar().showMessage(f"{label}...")

        quality = self._jpeg_quality_of(pixels)
        blind = self.panel.denoise_blind()  # a blind model takes no level
        known = (self._choice_known(pixels) if operation == "denoise" and settings.noise_level is None and not blind
                 else None)

        def run(job: Job):  # the automatic level of these pixels was measured when they were shown: not again
            return restore_with_settings(self.engines, pixels, settings, job.report, job.cancel.is_set,
                                         jpeg_quality=quality, level_choice=known)

        def done(result) -> None:
            restored, report = result
            self._end_job()
            if serial != self._photo_serial:
                return
            if operation == "deblur" and report.unchanged:  # the estimated kernel did not explain the photo
                self._kernel_kept_anyway = settings.kernel_spec
                self._show_notice(f"{'; '.join(report.messages).capitalize()}. Press Deblur again to apply this "
                                  "kernel anyway.")
                return
            if replaces:  # the new step takes the old one's place: one Denoise, never two stacked
                self.history.undo()
            self.history.push(label, restored)
            self._preview_active = False
            self.view.set_result(to_qimage(restored))
            elapsed = time.perf_counter() - started
            self.status_labels["time"].setText(f"last run {elapsed:.1f}s")
            self.status_labels["device"].setText(f"{report.device} {report.precision}")
            self._update_deblur_estimate()  # the run measured this machine's speed again
            notes = "; ".join(report.messages)
            self.statusBar().showMessage(f"{label} done in {elapsed:.1f}s" + (f" — {notes}" if notes else ""), 8000)
            self._estimate_noise()
            self._update_actions()

        def cancelled() -> None:
            self._end_job()
            self.statusBar().showMessage("Cancelled", 4000)

        def failed(message: str) -> None:
            self._end_job()
            self._show_error(message)

        self.current_job = self.worker.submit(operation, run, on_done=done, on_error=failed,
                                              on_progress=self.panel.set_progress, on_cancel=cancelled,
                                              on_expected=self.panel.set_expected)
        self._update_actions()

    def _step_start(self, operation: str) -> tuple[np.ndarray, bool]:
        """The pixels a step of ``operation`` starts from, and whether it replaces the last step.

        When the last applied step is the same operation, a new one starts from that step's own
        input and takes its place: pressing Denoise again re-denoises the photo with the new
        strength instead of denoising the denoised photo, and its preview (strength 0 included)
        shows exactly that.
        """
        labels = self.history.applied_labels()
        if labels and labels[-1].startswith(STEP_NAMES[operation]):
            self.history.undo()
            start = self.history.current()
            self.history.redo()
            return start, True
        return self.history.current(), False

    def _step_label(self, settings: RestoreSettings) -> str:
        name = STEP_NAMES[settings.operation]
        if settings.operation == "deblur" and self.panel.learned_deblur():
            choice = self.panel.deblur_model.current_choice()
            return f"{name} with {choice.title if choice else settings.model} (strength {settings.strength:g})"
        if settings.operation == "deblur":
            return f"{name}: {self.panel.kernel_description(brief=True)} (strength {settings.strength:g})"
        if settings.model != DEFAULT_MODEL["denoise"]:  # which model made this step, in History and the status bar
            choice = self.panel.model_combo.current_choice()
            return f"{name} with {choice.title if choice else settings.model} (strength {settings.strength:g})"
        return f"{name} (strength {settings.strength:g})"

    def _no_kernel_text(self) -> str:
        """Why Deblur has no kernel, in the user's words."""
        if self.panel.kernel_type.currentData() != "auto":
            return "No kernel file chosen: choose a .png or .npy kernel, or another blur type."
        if self.panel.estimate is None:
            return "The blur is not estimated yet: press Deblur or 'Estimate from photo'."
        return ("No clear blur found in this photo, so Deblur leaves it unchanged. To deblur anyway, "
                "choose Motion, Defocus or Gaussian and set the blur.")

    def _end_job(self) -> None:
        self.current_job = None
        self.panel.set_running(False)
        self._update_actions()

    def cancel(self) -> None:
        if self.current_job is not None:
            self.worker.cancel(self.current_job)
            self.statusBar().showMessage("Cancelling after the current tile...")

    def estimate_kernel(self, then_deblur: bool = False) -> None:
        """Find this photo's blur on the worker (cancellable, like a run).

        The estimate is shown in the panel and kept for this photo only. ``then_deblur``: Deblur
        follows at once when the blur is clear; no clear blur or a low confidence is said first,
        and the photo is left as it is.
        """
        if self.photo is None or self.history is None or self.current_job is not None:
            return
        pixels, _replaces = self._step_start("deblur")
        serial = self._photo_serial
        self.statusBar().showMessage("Estimating the blur from the photo...")
        self.panel.set_running(True, "estimating the blur: %p%")

        def run(job: Job):
            return estimate_kernel_for_photo(pixels, job.report, job.cancel.is_set, folder=kernel_cache_dir())

        def done(estimate: EstimatedKernel) -> None:
            self._end_job()
            if serial != self._photo_serial:
                return
            self.panel.set_estimate(estimate)
            if self.panel.kernel_type.currentData() != "auto":
                self.panel.kernel_type.setCurrentIndex(self.panel.kernel_type.findData("auto"))
            if estimate.verdict == "no_blur":
                self._show_notice(self._no_kernel_text())
            elif estimate.verdict == "low_confidence":
                self._kernel_kept_anyway = estimate.spec  # pressing Deblur again after this means "as asked"
                self._show_notice(f"The blur could not be pinned down: {estimate.description}. The photo was not "
                                  "deblurred: press Deblur again to use this kernel anyway, or choose the blur type "
                                  "yourself.")
                self._schedule_preview("deblur", True)
            elif then_deblur:
                self.statusBar().showMessage(f"Found {estimate.description}")
                self.apply("deblur")
            else:
                self.statusBar().showMessage(f"Found {estimate.description}", 8000)
                self._schedule_preview("deblur", True)

        def cancelled() -> None:
            self._end_job()
            self.statusBar().showMessage("Cancelled", 4000)

        def failed(message: str) -> None:
            self._end_job()
            self._show_error(message)

        self.current_job = self.worker.submit("estimate_kernel", run, on_done=done, on_error=failed,
                                              on_progress=self.panel.set_progress, on_cancel=cancelled)
        self._update_actions()

    def _choose_kernel_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open blur kernel", "", "Kernels (*.png *.npy)")
        self.panel.set_kernel_file(path or None)

    # ----- history -----------------------------------------------------------------------
    def _show_current(self) -> None:
        if self.history is None:
            return
        self._preview_active = False
        self.view.set_result(to_qimage(self.history.current()) if self.history.is_modified() else None)
        self._estimate_noise()
        self._update_actions()

    def undo(self) -> None:
        if self.history is not None and self.current_job is None and self.history.undo() is not None:
            self._show_current()

    def redo(self) -> None:
        if self.history is not None and self.current_job is None and self.history.redo() is not None:
            self._show_current()

    def reset_to_original(self) -> None:
        if self.history is not None and self.current_job is None:
            self.history.reset()
            self._show_current()

    # ----- export ------------------------------------------------------------------------
    def export_dialog(self) -> bool:
        """Ask for options and a file name, then export; False when the user backed out."""
        if self.photo is None:
            return False
        dialog = ExportDialog(self, self.photo.bit_depth)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return False
        options = dialog.options()
        folder = self.settings.value("files/last_export_dir", type=str)
        suggestion = default_export_path(self.photo.source, options.format, Path(folder) if folder else None)
        path, _filter = QFileDialog.getSaveFileName(self, "Export restored photo", str(suggestion))
        if not path:
            return False
        # The save dialog has already asked before replacing an existing file.
        return self.export_to(Path(path), options, replace=True)

    def export_to(self, path: Path, options: ExportOptions, replace: bool = False) -> bool:
        """Write the current result on the worker; the original is never a valid target.

        Returns whether the write was started; when it was asked for by Quit, the window closes
        once the file is safely written (and stays open if writing fails).
        """
        if self.photo is None or self.history is None:
            return False
        if self.photo.source is not None and path.resolve() == self.photo.source.resolve():
            self._show_error(f"{path}: this is the original photo; export under another name")
            return False
        pixels = self.history.current()
        photo = self.photo.with_pixels(pixels)
        if not options.keep_metadata:
            photo.exif = None

        def run(job: Job):
            return export_result(photo, path, format=options.format, quality=options.quality,
                                 bit_depth=options.bit_depth, overwrite=replace)

        def done(written: Path) -> None:
            self.last_export = Path(written)
            self._exported = pixels
            self.settings.setValue("files/last_export_dir", str(Path(written).parent))
            self.settings.sync()
            self.statusBar().showMessage(f"Exported {written}", 6000)
            follow_up, self._after_export = self._after_export, None
            if follow_up is not None:
                follow_up()

        def failed(message: str) -> None:
            self._after_export = None
            self._show_error(message)

        self.worker.submit("export", run, on_done=done, on_error=failed)
        return True

    # ----- misc --------------------------------------------------------------------------
    def set_view_mode(self, mode: str) -> None:
        self.view.set_mode(mode)
        for key, action in self.mode_actions.items():
            action.setChecked(key == mode)

    def _zoom_step(self, factor: float) -> None:
        self.view.zoom_to(self.view.scale() * factor, QRectF(self.view.rect()).center())

    def show_models(self) -> None:
        """The Models dialog (non-modal: photos can still be worked on while a model downloads)."""
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.downloads, self)
        self.models_dialog.refresh()
        self.models_dialog.show()
        self.models_dialog.raise_()
        self.models_dialog.activateWindow()

    def _on_model_downloaded(self, name: str, chosen: bool) -> None:
        """A model the user chose in a selector is selected there once it is installed."""
        selector = self.panel.selector_for(name) if chosen else None
        if selector is not None and selector.select(name):
            self.statusBar().showMessage(f"Downloaded {name}: now used for {selector.task}", 8000)
        else:
            self.statusBar().showMessage(f"Downloaded {name}", 8000)

    def show_about(self) -> None:
        from app.gui.about import about_text

        device = self.status_labels["device"].text() or self.panel.device_combo.currentText()
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About Photomend", about_text(device), parent=self)
        box.setIconPixmap(icon("photomend").pixmap(64, 64))
        box.setTextFormat(Qt.TextFormat.RichText)
        box.open()
        self.about_box = box

    def _show_error(self, message: str) -> None:
        """A readable, non-blocking message box; the window stays usable."""
        self.last_error = message
        self._show_box(message, QMessageBox.Icon.Warning)

    def _show_notice(self, message: str) -> None:
        """Something the user must know before going on (no clear blur...), not a failure."""
        self.last_message = message
        self._show_box(message, QMessageBox.Icon.Information)

    def _show_box(self, message: str, kind: QMessageBox.Icon) -> None:
        self.statusBar().showMessage(_status_line(message), 10000)
        if self.error_box is not None:
            self.error_box.close()
        self.error_box = QMessageBox(kind, "Photomend", message, parent=self)
        self.error_box.open()

    def _show_status_error(self, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(f"Preview failed: {message}", 8000)

    def _update_actions(self) -> None:
        has_photo = self.photo is not None
        running = self.current_job is not None
        self.export_action.setEnabled(has_photo)
        self.undo_action.setEnabled(bool(self.history and self.history.can_undo()) and not running)
        applied = self.history.applied_labels() if self.history is not None else []
        self.undo_action.setText(f"&Undo {applied[-1].replace('&', '&&')}" if applied else "&Undo")
        self.redo_action.setEnabled(bool(self.history and self.history.can_redo()) and not running)
        self.reset_action.setEnabled(bool(self.history and self.history.is_modified()) and not running)
        self.denoise_action.setEnabled(has_photo and not running)
        self.deblur_action.setEnabled(has_photo and not running)
        self.cancel_action.setEnabled(running)
        self.panel.denoise_button.setEnabled(has_photo and not running)
        self.panel.deblur_button.setEnabled(has_photo and not running)
        self.panel.estimate_button.setEnabled(has_photo and not running)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.view.set_flash_original(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.view.set_flash_original(False)
            return
        super().keyReleaseEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Quit (Ctrl+Q, the close button): ask before losing a result or a batch, then stop all work.

        Running work is cancelled at once and the window waits for the step in progress (a tile,
        an iteration) at most QUIT_WAIT_MS in all. A step that takes longer (one large tile on a
        slow CPU) is abandoned: ``stopped_cleanly`` turns False and ``run_gui`` ends the process
        after removing the temporary file of any write in flight, so nothing is half-written.
        """
        if not self._quit_confirmed and self._ask_before_quit():
            event.ignore()
            return
        self.hide()  # the answer is given: the window goes at once, whatever is still finishing
        self._save_settings()
        self._preview_timer.stop()
        self.downloads.shutdown()  # a download stops; its .part is kept for the next try
        self.worker.cancel_all()
        self.batch.cancel()  # both workers stop together, then each is waited for
        deadline = time.monotonic() + QUIT_WAIT_MS / 1000
        window_done = self.worker.shutdown(wait_ms=QUIT_WAIT_MS)
        batch_done = self.batch.shutdown(wait_ms=max(1, int((deadline - time.monotonic()) * 1000)))
        self.stopped_cleanly = window_done and batch_done
        event.accept()

    def quit_now(self) -> None:
        """Quit without questions (SIGTERM, SIGHUP): the queue and settings are already saved."""
        self._quit_confirmed = True
        self.close()

    def _ask_before_quit(self) -> bool:
        """Open the Save / Discard / Cancel question when quitting would lose something; True if asked."""
        unexported = self.has_unexported_result()
        batch_running = bool(self.batch.running)
        if not (unexported or batch_running) or self.settings.value("test/auto_discard", False, type=bool):
            return False
        if self.quit_box is not None and self.quit_box.isVisible():
            return True
        buttons = QMessageBox.StandardButton
        reasons = []
        if unexported:
            reasons.append("The restored photo has not been exported.")
        if batch_running:
            finished, total = self.batch.queue.counts()
            reasons.append(f"A batch is running ({finished} of {total} done): quitting stops it without leaving "
                           "half-written files, and the photos not done stay queued for next time.")
        box = QMessageBox(QMessageBox.Icon.Question, "Quit Photomend?", " ".join(reasons), parent=self)
        box.setStandardButtons((buttons.Save if unexported else buttons.NoButton) | buttons.Discard | buttons.Cancel)
        if unexported:
            box.button(buttons.Save).setText("Export...")
        box.button(buttons.Discard).setText("Quit without exporting" if unexported else "Stop the batch and quit")
        box.setDefaultButton(buttons.Save if unexported else buttons.Cancel)
        box.setEscapeButton(buttons.Cancel)
        box.finished.connect(lambda _result: self._on_quit_answer(box))
        self.quit_box = box
        self.last_message = box.text()
        box.open()
        return True

    def _on_quit_answer(self, box: QMessageBox) -> None:
        clicked = box.clickedButton()
        answer = box.standardButton(clicked) if clicked is not None else QMessageBox.StandardButton.Cancel
        if answer == QMessageBox.StandardButton.Discard:
            self._quit_confirmed = True
            self.close()
        elif answer == QMessageBox.StandardButton.Save and self.export_dialog():
            self._after_export = self.close


STATUS_LINE_CHARS = 110
"""Longer notices show their first sentence in the status bar (the box beside it has them whole):
the bar clips, and a sentence cut mid-word reads as a fault."""


def _status_line(message: str) -> str:
    """The first sentence of a long message, for the status bar."""
    if len(message) <= STATUS_LINE_CHARS:
        return message
    end = message.find(". ")
    return message[: end + 1] if 0 < end < len(message) - 2 else message

