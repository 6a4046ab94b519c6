"""The Photomend main window: open, compare, restore on the worker, undo, export.

The UI thread only handles widgets; reading, estimating, restoring and writing are jobs
for the worker thread (app/gui/worker.py). The window keeps the photo's history and
decides what the canvas shows.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QRect, QRectF, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QSplitter, QWidget

from app import __version__
from app.gui.compare_view import ORIGINAL, RESULT, SPLIT, CompareView
from app.gui.control_panel import ControlPanel
from app.gui.export_dialog import ExportDialog, ExportOptions, default_export_path
from app.gui.history import History
from app.gui.qt_images import to_qimage
from app.gui.resources import blurred_sample_path, icon, sample_photo_path
from app.gui.tasks import EngineCache, Job, RestoreSettings, restore_region, restore_with_settings
from app.gui.worker import WorkerClient
from app.errors import PhotomendError
from app.io.photo import Photo

OPEN_FILTER = "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp);;All files (*)"
MAX_RECENT = 8
FAITHFUL_PREVIEW_PIXELS = 4_000_000  # beyond this the released preview is computed at display scale
DRAG_PREVIEW_PIXELS = 350_000  # while dragging, previews are shrunk to about this many pixels


class MainWindow(QMainWindow):
    """One photo at a time; every heavy step runs on the worker."""

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Photomend")
        self.setWindowIcon(icon("photomend"))
        self.settings = settings or QSettings("Photomend", "Photomend")
        self.worker = WorkerClient(self)
        self.engines = EngineCache()
        self.photo: Photo | None = None
        self.history: History | None = None
        self.noise_sigma: float | None = None
        self.current_job: Job | None = None
        self.last_error: str | None = None
        self.error_box: QMessageBox | None = None
        self.last_export: Path | None = None
        self._preview_operation = "denoise"
        self._preview_active = False
        self._preview_final = True
        self._preview_engine_warm = False
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
        splitter = QSplitter()
        splitter.addWidget(self.view)
        splitter.addWidget(self.panel)
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
                       self.panel.gaussian_sigma):
            widget.valueChanged.connect(lambda _v: self._schedule_preview("deblur", False))
            widget.released.connect(lambda: self._schedule_preview("deblur", True))
        self.panel.kernel_type.currentIndexChanged.connect(lambda _i: self._schedule_preview("deblur", True))
        self.panel.denoiseRequested.connect(lambda: self.apply("denoise"))
        self.panel.deblurRequested.connect(lambda: self.apply("deblur"))
        self.panel.cancelRequested.connect(self.cancel)
        self.panel.estimateKernelRequested.connect(self.estimate_kernel)
        self.panel.kernelFileRequested.connect(self._choose_kernel_file)
        self.worker.busyChanged.connect(lambda _busy: self._update_actions())

    def _build_batch_dock(self) -> None:
        from app.gui.batch_panel import BatchPanel
        from app.gui.settings_paths import data_dir
        from app.pipeline.batch import BatchQueue

        queue_file = Path(str(self.settings.value("batch/queue_file", data_dir() / "queue.json")))
        self.batch = BatchPanel(BatchQueue.load(queue_file), self.panel.settings)
        self.batch.openComparison.connect(self.open_comparison)
        self.batch.finishedBatch.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.batch_dock = QDockWidget("Batch queue", self)
        self.batch_dock.setObjectName("batchDock")
        self.batch_dock.setWidget(self.batch)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.batch_dock)
        self.batch_dock.setVisible(bool(self.batch.queue.items))

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
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

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

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&About Photomend", self.show_about))

    # ----- settings ----------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        for key, combo in (("engine/device", self.panel.device_combo), ("engine/model", self.panel.model_combo),
                           ("engine/precision", self.panel.precision_combo), ("engine/tile", self.panel.tile_combo)):
            stored = self.settings.value(key)
            if stored is not None:
                index = combo.findText(str(stored))
                if index >= 0:
                    combo.setCurrentIndex(index)
        self._refresh_recent_menu()

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("engine/device", self.panel.device_combo.currentText())
        self.settings.setValue("engine/model", self.panel.model_combo.currentText())
        self.settings.setValue("engine/precision", self.panel.precision_combo.currentText())
        self.settings.setValue("engine/tile", self.panel.tile_combo.currentText())
        self.settings.sync()

    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_recent(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("files/recent", recent[:MAX_RECENT])
        self.settings.setValue("files/last_open_dir", str(path.parent))
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
        folder = str(self.settings.value("files/last_open_dir", str(Path.home())))
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
        if not self._confirm_discard():
            return

        def run(job: Job):
            from app.io.reader import read_photo

            before = read_photo(original)
            after = read_photo(result)
            if after.pixels.shape != before.pixels.shape:
                raise PhotomendError(f"{result}: size differs from the original {original}")
            return before, to_qimage(before.pixels), after.pixels

        def done(loaded) -> None:
            before, image, after = loaded
            self._on_opened(Path(original), before, image)
            self.history.push(f"Batch result {Path(result).name}", after)
            self.last_export = Path(result)
            self._show_current()

        self.worker.submit("open", run, on_done=done, on_error=self._show_error)

    def open_path(self, path: str | Path) -> None:
        """Read on the worker; the canvas switches only when the photo decoded cleanly."""
        path = Path(path)
        if not self._confirm_discard():
            return
        self.statusBar().showMessage(f"Opening {path.name}...")
        max_pixels = int(self.settings.value("files/max_megapixels", 200)) * 1_000_000

        def run(job: Job):
            from app.io.reader import read_photo

            photo = read_photo(path, max_pixels=max_pixels)
            return photo, to_qimage(photo.pixels)

        self.worker.submit("open", run, on_done=lambda result: self._on_opened(path, *result),
                           on_error=self._show_error)

    def _confirm_discard(self) -> bool:
        """Opening another photo drops unexported work only when the user agrees."""
        if self.history is None or not self.history.is_modified() or self.last_export is not None:
            return True
        if self.settings.value("test/auto_discard", False, type=bool):
            return True
        answer = QMessageBox.question(self, "Photomend", "The current result has not been exported. Discard it?")
        return answer == QMessageBox.StandardButton.Yes

    def _on_opened(self, path: Path, photo: Photo, image) -> None:
        self.cancel()
        self.photo = photo
        self.history = History(photo.pixels)
        self.noise_sigma = None
        self.last_export = None
        self._preview_active = False
        self.view.set_photo(image)
        self.setWindowTitle(f"{path.name} — Photomend")
        self.status_labels["file"].setText(path.name)
        self.status_labels["size"].setText(f"{photo.width}x{photo.height} ({photo.megapixels:.1f} MP)")
        self.status_labels["depth"].setText(f"{photo.bit_depth}-bit{' grey' if photo.is_grey else ''}")
        self.status_labels["noise"].setText("noise: estimating...")
        self.status_labels["time"].setText("")
        self.statusBar().showMessage(f"Opened {path}", 4000)
        if path not in (sample_photo_path(), blurred_sample_path()):
            self._remember_recent(path)
        self._estimate_noise()
        self._update_actions()

    def _estimate_noise(self) -> None:
        pixels = self.history.current()

        def run(job: Job):
            from app.noise.estimate import estimate_noise

            return estimate_noise(pixels).sigma

        self.worker.submit("estimate", run, on_done=self._on_noise_estimated, on_error=self._show_error)

    def _on_noise_estimated(self, sigma: float) -> None:
        self.noise_sigma = float(sigma)
        self.status_labels["noise"].setText(f"noise: {sigma:.1f}")
        self.panel.show_noise_estimate(sigma)
        if self._preview_active:
            self._request_preview()
        self._warm_up_preview_engine()

    def _warm_up_preview_engine(self) -> None:
        """Build the preview engine now (int8 calibration or graph tracing: seconds, once per session).

        Otherwise the first slider move would pay it; queued behind the noise estimate, on the worker.
        """
        if self._preview_engine_warm:
            return
        self._preview_engine_warm = True
        settings = self.panel.settings("denoise")
        fast = self._fast_precision(settings)

        def run(job: Job) -> None:
            self.engines.denoiser(settings, fast).runner.prepare()

        self.worker.submit("warm-up", run, on_error=self._show_status_error)

    # ----- live preview ------------------------------------------------------------------
    def _schedule_preview(self, operation: str, final: bool) -> None:
        if self.photo is None:
            return
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
        noise = settings.noise_level if settings.noise_level is not None else self.noise_sigma
        if noise is None:
            return  # the estimate arrives shortly and triggers the preview
        rect = self.view.visible_image_rect()
        if rect.isEmpty():
            return
        pixels = self.history.current()
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

        def run(job: Job):
            out = restore_region(self.engines, pixels, region, settings, noise_level=noise, downscale=downscale,
                                 fast_precision=fast, cancelled=job.cancel.is_set)
            return to_qimage(out)

        def done(image) -> None:
            if self._preview_active and self.photo is not None:
                self.view.set_preview_patch(image, QRectF(QRect(*region)))
                self.statusBar().showMessage(
                    f"Preview ({'full resolution' if downscale == 1 else f'1/{downscale} scale' + ('' if final else ', fast')}) "
                    f"in {time.perf_counter() - started:.2f}s — click {settings.operation.title()} to apply", 5000)

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
        """Process the whole photo with progress and Cancel; the result becomes a history step."""
        if self.photo is None or self.history is None or self.current_job is not None:
            return
        settings = self.panel.settings(operation)
        if operation == "deblur" and not settings.kernel_spec:
            self._show_error("No blur kernel yet: choose a blur type or press 'Estimate from photo'.")
            return
        pixels = self.history.current()
        started = time.perf_counter()
        self.panel.set_running(True)
        self.statusBar().showMessage(f"{operation.title()}...")

        def run(job: Job):
            return restore_with_settings(self.engines, pixels, settings, job.report, job.cancel.is_set)

        def done(result) -> None:
            restored, details = result
            self._end_job()
            label = f"{operation.title()} (strength {settings.strength:g})"
            self.history.push(label, restored)
            self._preview_active = False
            self.view.set_result(to_qimage(restored))
            elapsed = time.perf_counter() - started
            self.status_labels["time"].setText(f"last run {elapsed:.1f}s")
            self.status_labels["device"].setText(f"{details.get('device', '')} {details.get('precision', '')}")
            notes = "; ".join(details.get("messages", []))
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
                                              on_progress=self.panel.set_progress, on_cancel=cancelled)
        self._update_actions()

    def _end_job(self) -> None:
        self.current_job = None
        self.panel.set_running(False)
        self._update_actions()

    def cancel(self) -> None:
        if self.current_job is not None:
            self.worker.cancel(self.current_job)
            self.statusBar().showMessage("Cancelling after the current tile...")

    def estimate_kernel(self) -> None:
        if self.photo is None or self.history is None:
            return
        pixels = self.history.current()
        self.statusBar().showMessage("Estimating the blur kernel...")
        self.panel.set_running(True)

        def run(job: Job):
            from app.gui.tasks import estimate_kernel_spec

            return estimate_kernel_spec(pixels, job.report, job.cancel.is_set)

        def done(spec: str) -> None:
            self.panel.set_running(False)
            self.panel.set_estimated_kernel(spec)
            self.statusBar().showMessage("Kernel estimated", 4000)
            self._schedule_preview("deblur", True)

        def failed(message: str) -> None:
            self.panel.set_running(False)
            self._show_error(message)

        self.worker.submit("estimate_kernel", run, on_done=done, on_error=failed,
                           on_cancel=lambda: self.panel.set_running(False))

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
    def export_dialog(self) -> None:
        if self.photo is None:
            return
        dialog = ExportDialog(self, self.photo.bit_depth)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        options = dialog.options()
        folder = self.settings.value("files/last_export_dir")
        suggestion = default_export_path(self.photo.source, options.format, Path(folder) if folder else None)
        path, _filter = QFileDialog.getSaveFileName(self, "Export restored photo", str(suggestion))
        if path:
            # The save dialog has already asked before replacing an existing file.
            self.export_to(Path(path), options, replace=True)

    def export_to(self, path: Path, options: ExportOptions, replace: bool = False) -> None:
        """Write the current result on the worker; the original is never a valid target."""
        if self.photo is None or self.history is None:
            return
        if self.photo.source is not None and path.resolve() == self.photo.source.resolve():
            self._show_error(f"{path}: this is the original photo; export under another name")
            return
        photo = self.photo.with_pixels(self.history.current())
        if not options.keep_metadata:
            photo.exif = None

        def run(job: Job):
            from app.io.writer import write_photo

            return write_photo(photo, path, format=options.format, quality=options.quality,
                               bit_depth=options.bit_depth, overwrite=replace)

        def done(written: Path) -> None:
            self.last_export = Path(written)
            self.settings.setValue("files/last_export_dir", str(Path(written).parent))
            self.statusBar().showMessage(f"Exported {written}", 6000)

        self.worker.submit("export", run, on_done=done, on_error=self._show_error)

    # ----- misc --------------------------------------------------------------------------
    def set_view_mode(self, mode: str) -> None:
        self.view.set_mode(mode)
        for key, action in self.mode_actions.items():
            action.setChecked(key == mode)

    def _zoom_step(self, factor: float) -> None:
        self.view.zoom_to(self.view.scale() * factor, QRectF(self.view.rect()).center())

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
        self.statusBar().showMessage(message, 10000)
        if self.error_box is not None:
            self.error_box.close()
        self.error_box = QMessageBox(QMessageBox.Icon.Warning, "Photomend", message, parent=self)
        self.error_box.open()

    def _show_status_error(self, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(f"Preview failed: {message}", 8000)

    def _update_actions(self) -> None:
        has_photo = self.photo is not None
        running = self.current_job is not None
        self.export_action.setEnabled(has_photo)
        self.undo_action.setEnabled(bool(self.history and self.history.can_undo()) and not running)
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
        """Closing during a run cancels it and waits for the current tile, then quits cleanly."""
        self._save_settings()
        self._preview_timer.stop()
        self.worker.shutdown()
        self.batch.shutdown()
        event.accept()
