"""The window's model library: what each selector offers, the download question, downloads and
imports off the UI thread, and the Models dialog (download, import, delete).

Weights are hundreds of megabytes, so nothing is fetched without the user agreeing to its size
and licence first, every download runs on its own thread with a progress dialog and Cancel (the
restore worker stays free for previews), and a failure is one line that says what to do.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import CancelledError, PhotomendError
from models.library import ModelListing, listings, short_licence

MODEL_FILTER = "Model files (*.pth *.pt *.ckpt *.safetensors);;All files (*)"
TASK_NAMES = {"denoise": "Denoise", "deblur": "Deblur", "dejpeg": "JPEG artefacts"}
BLIND_TIP = "This model measures the noise itself"
NO_KERNEL_TIP = "This model needs no kernel: it finds and undoes the blur itself"
BLIND_STRENGTH_TIP = "0 = unchanged, 50 = the model's output, 100 = 1.5x its change"


# ----- what a selector offers: models.library.listings(task), one row each ------------------------
def full_licence(licence: str) -> str:
    from models.install import licence_text

    return licence_text(licence)


def find_choice(name: str, task: str | None = None) -> ModelListing | None:
    """The row for ``name`` among the models of ``task`` (all tasks when None)."""
    tasks = [task] if task else ["denoise", "deblur", "dejpeg"]
    for each in tasks:
        for choice in listings(each):
            if choice.name == name:
                return choice
    return None


def download_question(entry: Any) -> str:
    """The one question asked before the first use of a downloadable model."""
    return f"Download {entry.title}, {entry.size_text}, {entry.licence} licence?"


def confirm_download(parent: QWidget, entry: Any) -> bool:
    """Ask before fetching: the size and the licence are the user's decision. True: Download."""
    from models.store import models_dir

    box = QMessageBox(QMessageBox.Icon.Question, "Download model", download_question(entry), parent=parent)
    box.setInformativeText(f"Good for: {entry.good_for}.\n\nIt is saved in {models_dir()} and checked "
                           "(size and sha256) before first use.")
    download = box.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(download)
    box.exec()
    return box.clickedButton() is download


def confirm_delete(parent: QWidget, choice: ModelListing) -> bool:
    """Deleting frees the space; a catalogue model can be downloaded again, an import must be re-imported."""
    again = "It can be downloaded again." if choice.origin == "catalogue" else "Import its file again to use it."
    answer = QMessageBox.question(parent, "Delete model", f"Delete {choice.title} ({choice.size_text})? {again}",
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                  QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes


def one_line(message: str) -> str:
    """Errors are shown as one line."""
    return " ".join(str(message).split())


# ----- running library calls off the UI thread ---------------------------------------------------
class _Call(QThread):
    """One library call (download, import) on its own thread, so the window never waits for it."""

    progressed = Signal(object, object)  # done, total (bytes: beyond a 32-bit int for large files)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, call: Callable[[Callable[[int, int], None], Callable[[], bool]], Any],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._call = call
        self.stop = threading.Event()

    def run(self) -> None:  # the thread's body
        try:
            result = self._call(lambda done, total: self.progressed.emit(done, total), self.stop.is_set)
        except CancelledError:
            self.cancelled.emit()
        except PhotomendError as error:
            self.failed.emit(one_line(str(error)))
        except Exception as error:  # noqa: BLE001 - a library bug must not take the window down
            self.failed.emit(one_line(f"unexpected error: {type(error).__name__}: {error}"))
        else:
            self.succeeded.emit(result)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.0f}"


class ModelDownloads(QObject):
    """The window's downloads: one at a time, each with a progress dialog and Cancel.

    Signals carry the model's name; ``changed`` fires whenever the installed set changed
    (download, import, delete), so every selector and the Models dialog refresh.
    """

    downloaded = Signal(str, bool)  # name, whether a selector asked for it (it is then selected there)
    failed = Signal(str, str)  # name, one-line message
    cancelled = Signal(str)
    changed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._call: _Call | None = None
        self._name = ""
        self._title = ""
        self._chosen = False
        self.progress: QProgressDialog | None = None

    def busy(self) -> bool:
        return self._call is not None

    def ask_and_download(self, name: str) -> bool:
        """The first-use question, then the download; False when declined (nothing is fetched)."""
        from models.catalogue import find_entry

        entry = find_entry(name)
        if entry is None or entry.builtin:
            return False
        if self.busy():
            self.failed.emit(name, f"{self._title} is still downloading: wait for it or cancel it first")
            return False
        if not confirm_download(self._parent, entry):  # looked up at call time: tests answer it
            return False
        self.start(name, chosen=True)
        return True

    def start(self, name: str, chosen: bool = False) -> None:
        """Download a catalogue model now (the user has agreed), with a progress dialog.

        ``chosen``: a selector asked for it, so it is selected there once installed.
        """
        from models.catalogue import find_entry

        entry = find_entry(name)
        if entry is None or self.busy():
            return
        self._name, self._title, self._chosen = entry.name, entry.title, chosen

        def run(progress: Callable[[int, int], None], stop: Callable[[], bool]) -> Path:
            from models import install

            return install.download_entry(entry.name, progress=progress, cancelled=stop)

        self._show_progress(entry.title, entry.size)
        self._call = _Call(run, self)
        self._call.progressed.connect(self._on_progress)
        self._call.succeeded.connect(self._on_done)
        self._call.failed.connect(self._on_failed)
        self._call.cancelled.connect(self._on_cancelled)
        self._call.start()

    def cancel(self) -> None:
        if self._call is not None:
            self._call.stop.set()

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Quitting stops a download (its .part is kept, so the next one resumes)."""
        call = self._call
        if call is not None:
            call.stop.set()
            call.wait(wait_ms)

    def _show_progress(self, title: str, size: int) -> None:
        dialog = QProgressDialog(f"Downloading {title}...", "Cancel", 0, 1000, self._parent)
        dialog.setWindowTitle("Downloading model")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumDuration(0)
        dialog.setMinimumWidth(420)
        dialog.setLabelText(f"Downloading {title}\n0 of {_megabytes(size)} MB")
        dialog.canceled.connect(self._on_cancel_clicked)
        dialog.show()
        self.progress = dialog

    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.cancel()
        if self.progress is not None:
            self.progress.show()  # stays until the thread stops (it keeps what it has for a resume)
            self.progress.setLabelText(f"Cancelling the download of {self._title}...")
            self.progress.setCancelButton(None)

    @Slot(object, object)
    def _on_progress(self, done: int, total: int) -> None:
        dialog = self.progress
        if dialog is None or self._call is None or self._call.stop.is_set():
            return
        checking = total and done >= total
        dialog.setLabelText(f"Checking {self._title} (sha256)..." if checking else
                            f"Downloading {self._title}\n{_megabytes(done)} of {_megabytes(total)} MB")
        # Last: a window-modal dialog processes events in setValue, which may end the download here.
        dialog.setValue(int(1000 * done / total) if total else 0)

    def _finish(self) -> str:
        name = self._name
        if self._call is not None:
            self._call.wait()
            self._call.deleteLater()
        self._call = None
        if self.progress is not None:
            self.progress.reset()
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        return name

    @Slot(object)
    def _on_done(self, _path: object) -> None:
        name = self._finish()
        self.changed.emit()
        self.downloaded.emit(name, self._chosen)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        name = self._finish()
        # In the window the way out is the Models dialog's Import..., not a command line.
        message = message.replace("use `photomend models import FILE`", "import it with Tools > Models > Import...")
        self.failed.emit(name, f"Could not download {self._title}: {message}")

    @Slot()
    def _on_cancelled(self) -> None:
        self.cancelled.emit(self._finish())


# ----- the Models dialog -------------------------------------------------------------------------
TASK_CHOICES = [("Detect from the file", None), ("Denoise", "denoise"), ("Deblur (camera shake, motion blur)", "deblur"),
                ("JPEG artefacts", "dejpeg")]


class ImportOptions(QDialog):
    """Name and task of a file being imported: some architectures (NAFNet) serve several tasks."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        from models.store import name_for_file

        super().__init__(parent)
        self.setWindowTitle("Import model")
        form = QFormLayout(self)
        form.addRow(QLabel(f"<b>{_escape(path.name)}</b>"))
        self.name = QLineEdit(name_for_file(path))
        self.name.setToolTip("Lower-case letters, digits and dashes; the name the CLI's --model uses")
        form.addRow("Name", self.name)
        self.task = QComboBox()
        for title, key in TASK_CHOICES:
            self.task.addItem(title, key)
        self.task.setToolTip("NAFNet files do not say whether they denoise or deblur: choose it for them")
        form.addRow("Used for", self.task)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(420)

    def chosen(self) -> tuple[str, str | None]:
        return self.name.text().strip(), self.task.currentData()


COLUMNS = ("Model", "Name", "Task", "Licence", "Size", "Installed", "Origin")


class ModelsDialog(QDialog):
    """Every model, installed or not: download, import a file, delete. Selectors follow its changes."""

    def __init__(self, downloads: ModelDownloads, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.downloads = downloads
        self._import: _Call | None = None
        self._import_path = Path()
        self._rows: list[ModelListing] = []
        self.last_error: str | None = None
        layout = QVBoxLayout(self)
        self.table = self._build_table()
        layout.addWidget(self.table, 1)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(self.fontMetrics().lineSpacing() * 4)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addWidget(self._build_buttons())
        downloads.changed.connect(self.refresh)
        downloads.failed.connect(lambda _name, message: self._say(message, error=True))
        downloads.cancelled.connect(lambda name: self._say(f"Download of {name} cancelled"))
        downloads.downloaded.connect(lambda name, _chosen: self._say(f"Downloaded {name}"))
        self.refresh()
        self.resize(960, 460)

    def _build_table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        # One line per model, evenly spaced, with room around the text.
        table.setWordWrap(False)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().lineSpacing() + 12)
        table.setStyleSheet("QTableWidget::item { padding: 0 8px; }")
        table.setAlternatingRowColors(True)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # titles are never cut
        header.setStretchLastSection(True)
        table.itemSelectionChanged.connect(self._update_buttons)
        return table

    def _build_buttons(self) -> QDialogButtonBox:
        box = QDialogButtonBox()
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download the selected model (its size and licence are in the table)")
        self.import_button = QPushButton("Import...")
        self.import_button.setToolTip("Copy a model file (.pth .pt .ckpt .safetensors) into the library")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the selected model's file from the library")
        for button in (self.download_button, self.import_button, self.delete_button):
            box.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        box.addButton(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        self.download_button.clicked.connect(self.download_selected)
        self.import_button.clicked.connect(self.import_dialog)
        self.delete_button.clicked.connect(self.delete_selected)
        return box

    # ----- content -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the library; the selected model stays selected."""
        selected = self.selected()
        self._rows = _all_choices()
        self.table.setRowCount(len(self._rows))
        for row, choice in enumerate(self._rows):
            cells = (choice.title, choice.name, _task_text(choice), short_licence(choice.licence),
                     choice.size_text, "yes" if choice.installed else "no", choice.origin)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{choice.good_for}\nLicence: {full_licence(choice.licence)}")
                self.table.setItem(row, column, item)
        if not self.select(selected.name if selected is not None else "") and self._rows:
            self.table.selectRow(0)  # something is always explained below the table
        self._update_buttons()

    def selected(self) -> ModelListing | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self._rows[rows[0].row()] if rows and rows[0].row() < len(self._rows) else None

    def select(self, name: str) -> bool:
        for row, choice in enumerate(self._rows):
            if choice.name == name:
                self.table.selectRow(row)
                return True
        return False

    def _update_buttons(self) -> None:
        choice = self.selected()
        busy = self.downloads.busy()
        self.download_button.setEnabled(choice is not None and not choice.installed and choice.origin == "catalogue"
                                        and not busy)
        self.delete_button.setEnabled(choice is not None and choice.origin != "built in"
                                      and (choice.installed or choice.origin == "imported"))
        self.import_button.setEnabled(self._import is None)
        self.details.setText(_details(choice) if choice is not None else "Select a model to see what it is good for.")

    def _say(self, message: str, error: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: #c0392b;" if error else "")
        if error:
            self.last_error = message
        self._update_buttons()

    # ----- actions -------------------------------------------------------------------------
    def download_selected(self) -> None:
        """Pressing Download is the user's answer: no second question."""
        choice = self.selected()
        if choice is None or choice.installed or self.downloads.busy():
            return
        self.downloads.start(choice.name)
        self._update_buttons()

    def import_dialog(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Import model file", str(Path.home()), MODEL_FILTER)
        if not path:
            return
        options = ImportOptions(Path(path), self)
        if options.exec() == QDialog.DialogCode.Accepted:
            name, task = options.chosen()
            self.import_file(Path(path), name=name or None, task=task)

    def import_file(self, path: Path, *, name: str | None = None, task: str | None = None) -> None:
        """Check and copy the file on a thread (large files take seconds to read, check and hash)."""
        if self._import is not None:
            return

        def run(_progress, _stop):
            from models import install

            return install.import_model(path, name=name, task=task)

        self._say(f"Importing {path.name}...")
        self._import_path = path
        self._import = _Call(run, self)
        self._import.succeeded.connect(self._on_imported)
        self._import.failed.connect(self._on_import_failed)
        self._import.start()
        self._update_buttons()

    def _end_import(self) -> None:
        if self._import is not None:
            self._import.wait()
            self._import.deleteLater()
        self._import = None

    @Slot(object)
    def _on_imported(self, model: Any) -> None:
        self._end_import()
        name = getattr(model, "name", "")
        self.downloads.changed.emit()
        self.select(name)
        task_key = getattr(model, "task", "")
        task = TASK_NAMES.get(task_key, task_key)
        where = (f"use it with `photomend dejpeg --model {name}` (the window has no JPEG section)" if task_key == "dejpeg"
                 else f"choose it in the {task} section")
        self._say(f"Imported {name} ({getattr(model, 'architecture', 'model')}, {task}, licence "
                  f"{full_licence(getattr(model, 'licence', 'unknown'))}): {where}")

    @Slot(str)
    def _on_import_failed(self, message: str) -> None:
        self._end_import()
        text = f"Could not import {self._import_path.name}: {message}"
        self._say(text, error=True)
        QMessageBox.warning(self, "Import failed", text)

    def delete_selected(self) -> None:
        choice = self.selected()
        if choice is None or choice.origin == "built in" or not confirm_delete(self, choice):
            return
        from models import install

        try:
            message = install.remove_model(choice.name)
        except PhotomendError as error:
            self._say(f"Could not delete {choice.title}: {one_line(str(error))}", error=True)
            return
        self.downloads.changed.emit()
        self._say(one_line(message) if message else f"Deleted {choice.title}")

    def wait_for_import(self, ms: int = 30000) -> None:
        """Tests and closing: let a running import finish."""
        if self._import is not None:
            self._import.wait(ms)

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        """Closing waits for an import in flight (it is a local copy: seconds at most)."""
        self.wait_for_import()
        super().done(result)


def _all_choices() -> list[ModelListing]:
    """Every model once: the catalogue in its order, then imports."""
    seen: set[str] = set()
    rows: list[ModelListing] = []
    for task in ("denoise", "deblur", "dejpeg"):
        for choice in listings(task):
            if choice.name not in seen:
                seen.add(choice.name)
                rows.append(choice)
    return rows


def _task_text(choice: ModelListing) -> str:
    """A noise-level denoiser also serves Deblur, as the deep method's prior."""
    task = TASK_NAMES.get(choice.task, choice.task)
    return f"{task}; Deblur prior" if choice.task == "denoise" and not choice.blind else task


def _details(choice: ModelListing) -> str:
    """What a photographer needs to choose: what it is for, its published score, where it is from."""
    from models.catalogue import find_entry

    entry = find_entry(choice.name)
    if entry is None:  # imported: where it came from, and what is known of its licence
        return (f"<b>{_escape(choice.title)}</b> — {_escape(choice.good_for)}.<br>"
                f"Licence: {_escape(full_licence(choice.licence))}.")
    lines = [f"<b>{_escape(choice.title)}</b> — good for {_escape(choice.good_for)}."]
    if entry is not None:
        lines.append(f"Published: {_escape(entry.published)}.")
        lines.append(f"<small>{_escape(entry.credit)}</small>")
    return "<br>".join(lines)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
