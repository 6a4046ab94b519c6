"""The side panel: Denoise and Deblur controls, engine choices, progress and Cancel.

It only gathers settings and emits intents; the window decides what runs where. Each
operation's model selector lists the catalogue (installed or downloadable) and imported
models, and devices come from the hardware actually present, so new models and GPUs
appear without UI changes. Choosing a model that is not installed asks the window to
download it; the selector keeps the previous model until the download has succeeded.
"""

from __future__ import annotations

import time
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.engine.device import available_devices, supported_precisions
from app.engine.device import resolve_device
from app.errors import PhotomendError
from app.gui.models_dialog import BLIND_STRENGTH_TIP, BLIND_TIP, NO_KERNEL_TIP
from models.library import ModelListing, listings
from app.pipeline.kernels import CONFIDENCE_MEANING, EstimatedKernel, kernel_preview
from app.pipeline.operations import RestoreSettings, describe_seconds
from app.pipeline.previews import DEFAULT_COLOUR_NOISE, DEFAULT_DETAIL, MAX_NOISE_LEVEL
from models import DEFAULT_MODEL

TILE_CHOICES = [("Auto", None), ("256", 256), ("512", 512), ("1024", 1024), ("2048", 2048), ("None (whole image)", 0)]
KERNEL_TYPES = [("Auto-estimate", "auto"), ("Motion", "motion"), ("Defocus", "defocus"), ("Gaussian", "gaussian"),
                ("From file...", "file")]


class SliderWithValue(QWidget):
    """A slider and a spin box kept in step; ``valueChanged`` while dragging, ``released`` after."""

    valueChanged = Signal(float)
    released = Signal()

    def __init__(self, minimum: float, maximum: float, value: float, step: float = 1.0, decimals: int = 0,
                 suffix: str = "") -> None:
        super().__init__()
        self._factor = 10**decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(int(minimum * self._factor), int(maximum * self._factor))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(minimum, maximum)
        self.spin.setDecimals(decimals)
        self.spin.setSingleStep(step)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(lambda raw: self._set(raw / self._factor, from_slider=True))
        self.slider.sliderReleased.connect(self.released)
        self.spin.valueChanged.connect(lambda value: self._set(value, from_slider=False))
        self.setValue(value)

    def _set(self, value: float, from_slider: bool) -> None:
        if from_slider:
            self.spin.blockSignals(True)
            self.spin.setValue(value)
            self.spin.blockSignals(False)
        else:
            self.slider.blockSignals(True)
            self.slider.setValue(int(round(value * self._factor)))
            self.slider.blockSignals(False)
        self.valueChanged.emit(value)
        if not from_slider or not self.slider.isSliderDown():
            self.released.emit()  # keyboard, wheel and spin-box changes are final at once

    def value(self) -> float:
        return self.spin.value()

    def setValue(self, value: float) -> None:  # noqa: N802 - Qt style
        self.spin.setValue(value)


class ModelSelector(QComboBox):
    """One operation's models: installed ones and catalogue downloads, each with licence and size.

    Choosing a download does not select it: ``downloadRequested`` asks the window to fetch it
    (after asking the user), and ``select`` picks it once it is installed. ``modelChanged``
    fires only for models that can run now.
    """

    downloadRequested = Signal(str)
    modelChanged = Signal(str)

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task = task
        self.choices: list[ModelListing] = []
        self._current = DEFAULT_MODEL.get(task, DEFAULT_MODEL["denoise"])
        # Long rows ("NAFNet SIDD (width 64) · MIT (download, 464 MB)") must not widen the panel;
        # the open list shows them whole.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(16)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.activated.connect(self._on_activated)
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        """Re-read the library; keeps the current model (or ``select``) when it is installed."""
        wanted = select or self._current
        self.choices = listings(self.task)
        self.blockSignals(True)
        self.clear()
        for choice in self.choices:
            self.addItem(choice.label, choice.name)
            self.setItemData(self.count() - 1, choice.good_for, Qt.ItemDataRole.ToolTipRole)
        self.blockSignals(False)
        self.view().setMinimumWidth(self.view().sizeHintForColumn(0) + 24)
        previous = self._current
        if not self._select_installed(wanted):
            self._select_installed(DEFAULT_MODEL.get(self.task, DEFAULT_MODEL["denoise"]))
        if self._current != previous:
            self.modelChanged.emit(self._current)

    def _select_installed(self, name: str) -> bool:
        index = self.findData(name)
        if index < 0 or not self.choices[index].installed:
            return False
        self.blockSignals(True)
        self.setCurrentIndex(index)
        self.blockSignals(False)
        self._current = name
        self._update_tooltip()
        return True

    def select(self, name: str) -> bool:
        """Choose an installed model (a download that finished, a stored setting); False if it is not."""
        previous = self._current
        if not self._select_installed(name):
            return False
        if name != previous:
            self.modelChanged.emit(name)
        return True

    def current_model(self) -> str:
        return self._current

    def current_choice(self) -> ModelListing | None:
        return next((choice for choice in self.choices if choice.name == self._current), None)

    def _on_activated(self, index: int) -> None:
        choice = self.choices[index] if 0 <= index < len(self.choices) else None
        if choice is None:
            return
        if choice.installed:
            self.select(choice.name)
            return
        self._select_installed(self._current)  # the previous model stays until the download succeeds
        self.downloadRequested.emit(choice.name)

    def _update_tooltip(self) -> None:
        choice = self.current_choice()
        self.setToolTip(f"{choice.title}: {choice.good_for}" if choice else "")

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        """Scrolling the panel must not change the model (and start a download question) by accident."""
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class ControlPanel(QWidget):
    """Emits intents; ``settings(operation)`` captures the current choices."""

    previewChanged = Signal(bool)  # final: False while dragging (approximate is fine), True on release
    denoiseRequested = Signal()
    deblurRequested = Signal()
    cancelRequested = Signal()
    estimateKernelRequested = Signal()
    kernelFileRequested = Signal()
    engineChanged = Signal()
    downloadRequested = Signal(str)  # a catalogue model's name: the window asks, then downloads

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(300)
        self.setMaximumWidth(380)
        self.kernel_file: str | None = None
        self.estimate: EstimatedKernel | None = None  # belongs to the open photo; the window clears it
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_denoise())
        layout.addWidget(self._build_deblur())
        layout.addWidget(self._build_engine())
        layout.addStretch(1)
        layout.addWidget(self._build_progress())
        self._kernel_timer = QTimer(self, singleShot=True, interval=30)
        self._kernel_timer.timeout.connect(self.update_kernel_preview)
        self._on_kernel_type()
        self._on_denoise_model()
        self._on_deblur_model()

    # ----- sections ----------------------------------------------------------------------
    def _build_denoise(self) -> QGroupBox:
        box = QGroupBox("Denoise")
        form = QFormLayout(box)
        self.model_combo = ModelSelector("denoise")
        form.addRow("Model", self.model_combo)
        self.strength = SliderWithValue(0, 100, 50)
        form.addRow("Strength", self.strength)
        self.detail = SliderWithValue(0, 100, DEFAULT_DETAIL)
        self.detail.setToolTip("Fine texture given back, so skin and hair do not look waxy: 0 = none, "
                               "100 = all the fine grain of the photo")
        form.addRow("Detail", self.detail)
        self.colour_noise = SliderWithValue(0, 100, DEFAULT_COLOUR_NOISE)
        self.colour_noise.setToolTip("Colour blotches smoothed away (colour only, brightness untouched): "
                                     "0 = as the model leaves them, 100 = strongest")
        form.addRow("Colour noise", self.colour_noise)
        noise_row = QWidget()
        noise_layout = QHBoxLayout(noise_row)
        noise_layout.setContentsMargins(0, 0, 0, 0)
        self.noise_auto = QCheckBox("Auto")
        self.noise_auto.setChecked(True)
        self.noise_level = QDoubleSpinBox()
        self.noise_level.setRange(0, MAX_NOISE_LEVEL)
        self.noise_level.setDecimals(1)
        self.noise_level.setKeyboardTracking(False)
        self.noise_level.setEnabled(False)
        self._hidden_level: float | None = None  # the level field's value while a blind model shows "by the model"
        noise_layout.addWidget(self.noise_auto)
        noise_layout.addWidget(self.noise_level, 1)
        form.addRow("Noise level", noise_row)
        self.denoise_button = QPushButton("Denoise")
        self.denoise_button.setObjectName("primaryButton")
        self.denoise_button.setToolTip("Denoise the whole photo (Ctrl+D)")
        form.addRow(self.denoise_button)
        for slider in (self.strength, self.detail, self.colour_noise):
            slider.valueChanged.connect(lambda _v: self.previewChanged.emit(False))
            slider.released.connect(lambda: self.previewChanged.emit(True))
        self.noise_auto.toggled.connect(self._on_noise_auto)
        self.noise_level.valueChanged.connect(lambda _v: self.previewChanged.emit(True))
        self.denoise_button.clicked.connect(self.denoiseRequested)
        self.model_combo.modelChanged.connect(lambda _name: self._on_denoise_model(changed=True))
        self.model_combo.downloadRequested.connect(self.downloadRequested)
        return box

    def _build_deblur(self) -> QGroupBox:
        box = QGroupBox("Deblur")
        form = QFormLayout(box)
        self.deblur_model = ModelSelector("deblur")
        form.addRow("Model", self.deblur_model)
        self.kernel_type = QComboBox()
        for title, key in KERNEL_TYPES:
            self.kernel_type.addItem(title, key)
        self.kernel_type.setCurrentIndex(0)  # Auto-estimate: a guessed default kernel would hurt a sharp photo
        form.addRow("Blur", self.kernel_type)
        self.motion_length = SliderWithValue(1, 80, 15, 0.5, 1, " px")
        self.motion_angle = SliderWithValue(0, 180, 0, 1, 0, "°")
        self.defocus_radius = SliderWithValue(0.5, 40, 4, 0.5, 1, " px")
        self.gaussian_sigma = SliderWithValue(0.3, 20, 2, 0.1, 1, " px")
        self._param_rows = {
            "motion": [("Length", self.motion_length), ("Angle", self.motion_angle)],
            "defocus": [("Radius", self.defocus_radius)],
            "gaussian": [("Sigma", self.gaussian_sigma)],
        }
        self._form = form
        for rows in self._param_rows.values():
            for label, widget in rows:
                form.addRow(label, widget)
                widget.valueChanged.connect(lambda _v: self._kernel_timer.start())
        self.estimate_button = QPushButton("Estimate from photo")
        self.estimate_button.setToolTip("Find the blur of this photo now (Deblur with Auto-estimate does it too)")
        form.addRow(self.estimate_button)
        self.kernel_label = QLabel()
        self.kernel_label.setFixedSize(128, 128)
        self.kernel_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.kernel_label.setObjectName("kernelPreview")
        self.kernel_label.setToolTip("The blur kernel: how one point of light is smeared")
        self.kernel_caption = QLabel()
        self.kernel_caption.setWordWrap(True)
        # One spanning row: as a label/field pair the 128 px preview would widen the label column
        # and squeeze every field of the section (the model selector's text was cut).
        kernel_row = QWidget()
        kernel_layout = QHBoxLayout(kernel_row)
        kernel_layout.setContentsMargins(0, 0, 0, 0)
        kernel_layout.addWidget(self.kernel_label)
        kernel_layout.addWidget(self.kernel_caption, 1)
        form.addRow(kernel_row)
        self.deblur_method = QComboBox()
        self.deblur_method.addItem("Deep prior (best)", "deep")
        self.deblur_method.addItem("Wiener (fast)", "wiener")
        form.addRow("Method", self.deblur_method)
        self.deblur_strength = SliderWithValue(0, 100, 50)
        form.addRow("Strength", self.deblur_strength)
        self.deblur_button = QPushButton("Deblur")
        self.deblur_button.setObjectName("primaryButton")
        self.deblur_button.setToolTip("Deblur the whole photo (Ctrl+B)")
        form.addRow(self.deblur_button)
        self.deblur_time = QLabel("")
        self.deblur_time.setObjectName("caption")
        self.deblur_time.setWordWrap(True)
        form.addRow(self.deblur_time)
        self.kernel_type.currentIndexChanged.connect(self._on_kernel_type)
        self.estimate_button.clicked.connect(self.estimateKernelRequested)
        self.deblur_button.clicked.connect(self.deblurRequested)
        self.deblur_model.modelChanged.connect(lambda _name: self._on_deblur_model())
        self.deblur_model.downloadRequested.connect(self.downloadRequested)
        return box

    def _build_engine(self) -> QGroupBox:
        box = QGroupBox("Engine")
        form = QFormLayout(box)
        self.device_combo = QComboBox()
        self.device_combo.addItem("Auto", "auto")
        for device in available_devices():
            self.device_combo.addItem(device.name, device.key)
        form.addRow("Device", self.device_combo)
        self.precision_combo = QComboBox()
        form.addRow("Precision", self.precision_combo)
        self.tile_combo = QComboBox()
        for title, value in TILE_CHOICES:
            self.tile_combo.addItem(title, value)
        form.addRow("Tile size", self.tile_combo)
        self.device_combo.currentIndexChanged.connect(self._fill_precisions)
        self.device_combo.currentIndexChanged.connect(lambda _i: self.engineChanged.emit())
        self.precision_combo.currentIndexChanged.connect(lambda _i: self.engineChanged.emit())
        self._fill_precisions()
        return box

    def _build_progress(self) -> QWidget:
        widget = QWidget()
        layout = QHBoxLayout(widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m tiles")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the current run (Esc)")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.cancel_button)
        return widget

    # ----- state -------------------------------------------------------------------------
    def _fill_precisions(self) -> None:
        key = self.device_combo.currentData() or "auto"
        try:
            options = supported_precisions(resolve_device(key))
        except PhotomendError:
            options = ["fp32"]
        current = self.precision_combo.currentData()
        self.precision_combo.blockSignals(True)
        self.precision_combo.clear()
        for option in options:
            self.precision_combo.addItem(option, option)
        index = self.precision_combo.findData(current)
        self.precision_combo.setCurrentIndex(max(0, index))
        self.precision_combo.blockSignals(False)

    def _on_noise_auto(self, auto: bool) -> None:
        self.noise_level.setEnabled(not auto and not self.denoise_blind())
        self.previewChanged.emit(True)

    def show_noise_estimate(self, sigma: float) -> None:
        """With Auto on, the spin box shows the estimate (greyed), so the user sees what is used."""
        if not self.noise_auto.isChecked():
            return
        if self._hidden_level is not None:  # a blind model is shown: the estimate comes back with the level
            self._hidden_level = float(sigma)
        else:
            self._show_noise_value(sigma)

    def _show_noise_value(self, sigma: float) -> None:
        self.noise_level.blockSignals(True)
        self.noise_level.setValue(sigma)
        self.noise_level.blockSignals(False)

    # ----- models ------------------------------------------------------------------------
    def denoise_blind(self) -> bool:
        """The Denoise model measures the noise itself: no level to set."""
        choice = self.model_combo.current_choice()
        return choice is not None and choice.blind

    def learned_deblur(self) -> bool:
        """The Deblur model deblurs by itself: no kernel, no method (else it is the deep method's prior)."""
        choice = self.deblur_model.current_choice()
        return choice is not None and choice.task == "deblur"

    def manual_noise_level(self) -> float:
        """The level the user set (kept while a blind Denoise model hides it; Deblur still uses it)."""
        return self._hidden_level if self._hidden_level is not None else self.noise_level.value()

    def refresh_models(self, select: dict[str, str] | None = None) -> None:
        """After a download, import or delete: every selector re-reads the library."""
        select = select or {}
        self.model_combo.refresh(select.get("denoise"))
        self.deblur_model.refresh(select.get("deblur"))
        self._on_denoise_model()
        self._on_deblur_model()

    def selector_for(self, name: str) -> ModelSelector | None:
        """The selector a catalogue model belongs in (a deblurring model in Deblur, others in Denoise)."""
        for selector in (self.model_combo, self.deblur_model):
            choice = next((c for c in selector.choices if c.name == name), None)
            if choice is not None and choice.task == selector.task:
                return selector
        return None

    def _on_denoise_model(self, changed: bool = False) -> None:
        """A blind model takes no noise level: its controls are disabled and say why."""
        blind = self.denoise_blind()
        self.noise_auto.setEnabled(not blind)
        self.noise_level.setEnabled(not blind and not self.noise_auto.isChecked())
        if blind and self._hidden_level is None:
            self._hidden_level = self.noise_level.value()
            self.noise_level.setSpecialValueText("by the model")
            self._show_noise_value(0.0)  # the minimum shows the special text: no level is used
        elif not blind and self._hidden_level is not None:
            self.noise_level.setSpecialValueText("")
            self._show_noise_value(self._hidden_level)
            self._hidden_level = None
        level_tip = BLIND_TIP if blind else "Noise sigma on the 0-255 scale; with Auto it shows the estimate"
        for widget in (self.noise_auto, self.noise_level):
            widget.setToolTip(level_tip)
        self.strength.setToolTip(BLIND_STRENGTH_TIP if blind else
                                 "0 = unchanged, 50 = automatic level, 100 = twice as strong")
        if changed:
            self.previewChanged.emit(True)

    def _on_deblur_model(self) -> None:
        """A learned deblurring model needs no kernel: the kernel controls are disabled and say why."""
        learned = self.learned_deblur()
        widgets = [self.kernel_type, self.estimate_button, self.kernel_label, self.kernel_caption, self.deblur_method]
        widgets += [widget for rows in self._param_rows.values() for _label, widget in rows]
        for widget in widgets:
            widget.setEnabled(not learned)
        for widget in (self.kernel_type, self.deblur_method, *[w for rows in self._param_rows.values() for _l, w in rows]):
            widget.setToolTip(NO_KERNEL_TIP if learned else "")
        self.estimate_button.setToolTip(NO_KERNEL_TIP if learned else
                                        "Find the blur of this photo now (Deblur with Auto-estimate does it too)")
        self.kernel_label.setToolTip(NO_KERNEL_TIP if learned else "The blur kernel: how one point of light is smeared")
        self.deblur_strength.setToolTip(BLIND_STRENGTH_TIP if learned else
                                        "0 = unchanged, 50 = default, 100 = sharper (and noisier)")
        self.update_kernel_preview()

    def _on_kernel_type(self) -> None:
        kind = self.kernel_type.currentData()
        if kind == "file" and self.kernel_file is None:
            self.kernelFileRequested.emit()
        for name, rows in self._param_rows.items():
            for _label, widget in rows:
                self._form.setRowVisible(widget, name == kind)
        self.update_kernel_preview()

    def set_kernel_file(self, path: str | None) -> None:
        self.kernel_file = path
        self.update_kernel_preview()

    def set_estimate(self, estimate: EstimatedKernel | None) -> None:
        """Show (or forget, with None) the kernel estimated from the open photo."""
        self.estimate = estimate
        self.update_kernel_preview()

    def needs_estimate(self) -> bool:
        """Auto-estimate is chosen and this photo has not been estimated yet (a learned model needs none)."""
        return self.kernel_type.currentData() == "auto" and self.estimate is None and not self.learned_deblur()

    def kernel_spec(self) -> str | None:
        """The kernel as a spec string (see app.physics.kernels), or None when not known or not wanted.

        With Auto-estimate, a photo found to have no clear blur has no kernel: nothing to undo.
        """
        kind = self.kernel_type.currentData()
        if kind == "motion":
            return f"motion:{self.motion_length.value():g},{self.motion_angle.value():g}"
        if kind == "defocus":
            return f"defocus:{self.defocus_radius.value():g}"
        if kind == "gaussian":
            return f"gaussian:{self.gaussian_sigma.value():g}"
        if kind == "file":
            return self.kernel_file
        if self.estimate is None or self.estimate.verdict == "no_blur":
            return None
        return self.estimate.spec

    def kernel_description(self, brief: bool = False) -> str:
        """The chosen kernel in plain words, for status messages; ``brief``: for history steps (no confidence)."""
        from app.pipeline.kernels import describe_kernel_spec

        spec = self.kernel_spec()
        if self.kernel_type.currentData() == "auto":
            if self.estimate is None:
                return "not estimated yet"
            if not brief or spec is None:
                return self.estimate.description
            general = spec.lower().endswith((".npy", ".png"))  # a saved general kernel, not a motion/defocus fit
            return "estimated " + ("camera shake" if general else describe_kernel_spec(spec))
        return describe_kernel_spec(spec) if spec else "no kernel file chosen"

    def update_kernel_preview(self) -> None:
        from app.pipeline.kernels import kernel_from_spec

        if self.learned_deblur():
            self.kernel_label.setPixmap(QPixmap())
            self.kernel_label.setText("no kernel")
            self.kernel_caption.setText(NO_KERNEL_TIP + ".")
            self.kernel_caption.setToolTip(NO_KERNEL_TIP)
            return
        auto = self.kernel_type.currentData() == "auto"
        self.kernel_caption.setToolTip(CONFIDENCE_MEANING.capitalize() + "." if auto else "")
        spec = self.kernel_spec()
        if spec is None:
            self.kernel_label.setPixmap(QPixmap())
            if auto and self.estimate is not None:  # estimated: no clear blur
                self.kernel_label.setText("no blur")
                self.kernel_caption.setText(self.estimate.description.capitalize() + ": Deblur leaves this photo as it is.")
            elif auto:
                self.kernel_label.setText("not estimated")
                self.kernel_caption.setText("Deblur estimates the blur from the photo first.")
            else:
                self.kernel_label.setText("no file")
                self.kernel_caption.setText("Choose a kernel file (.png or .npy).")
            return
        try:
            kernel = kernel_from_spec(spec)
        except PhotomendError as error:
            self.kernel_label.setPixmap(QPixmap())
            self.kernel_label.setText("unusable")
            self.kernel_caption.setText(str(error))
            return
        preview = kernel_preview(kernel, 128)
        image = QImage(preview.data, preview.shape[1], preview.shape[0], preview.strides[0],
                       QImage.Format.Format_Grayscale8).copy()
        self.kernel_label.setPixmap(QPixmap.fromImage(image))
        size = f"{kernel.shape[1]}x{kernel.shape[0]} px kernel"
        if auto and self.estimate is not None:
            if self.estimate.verdict == "low_confidence":
                found = f"{self.estimate.description.capitalize()}. Press Deblur again to use it anyway."
            else:
                found = f"Found: {self.estimate.description}."
            self.kernel_caption.setText(f"{found}\n{size}\n({CONFIDENCE_MEANING})")
        else:
            self.kernel_caption.setText(f"{self.kernel_description().capitalize()}\n{size}")

    def settings(self, operation: str) -> RestoreSettings:
        """The choices for ``operation``: its own selector's model; a blind model gets no noise level."""
        deblur = operation == "deblur"
        blind = self.learned_deblur() if deblur else self.denoise_blind()
        return RestoreSettings(
            operation=operation,
            model=(self.deblur_model if deblur else self.model_combo).current_model(),
            device=self.device_combo.currentData() or "auto",
            precision=self.precision_combo.currentData() or "fp32",
            tile=self.tile_combo.currentData(),
            strength=self.deblur_strength.value() if deblur else self.strength.value(),
            noise_level=None if blind or self.noise_auto.isChecked() else self.manual_noise_level(),
            kernel_spec=self.kernel_spec() or "",
            kernel_estimated=self.kernel_type.currentData() == "auto",
            deblur_method=self.deblur_method.currentData() or "deep",
            # The Denoise section's finishing belongs to denoising, not to a learned deblurring model.
            detail=0.0 if deblur and blind else self.detail.value(),
            colour_noise=0.0 if deblur and blind else self.colour_noise.value(),
        )

    def set_running(self, running: bool, progress_text: str = "%v / %m tiles") -> None:
        """Show progress and Cancel while a run (or an estimate: ``progress_text`` "%p%") goes on."""
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.denoise_button.setEnabled(not running)
        self.deblur_button.setEnabled(not running)
        self.estimate_button.setEnabled(not running)
        if running:
            self.progress.setFormat(progress_text)
            self.progress.setRange(0, 0)
            self._progress_text = progress_text
            self._run_started = time.perf_counter()
            self._expected_seconds: float | None = None

    def set_expected(self, seconds: float) -> None:
        """The engine's estimate for the run that just started: shown as time left until steps tell better."""
        self._expected_seconds = float(seconds)
        self.progress.setFormat(f"%p% · {describe_seconds(seconds)} left")

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        elapsed = time.perf_counter() - getattr(self, "_run_started", time.perf_counter())
        if 0 < done < total:
            self.progress.setFormat(f"%p% · {describe_seconds(elapsed * (total - done) / done)} left")
        elif done == 0 and getattr(self, "_expected_seconds", None) is not None:
            left = max(0.0, self._expected_seconds - elapsed)
            self.progress.setFormat(f"%p% · {describe_seconds(left)} left")

    def show_deblur_estimate(self, seconds: float | None) -> None:
        """'Deblur takes about 40 s here' under the button (empty until the speed is measured)."""
        self.deblur_time.setText("" if seconds is None else f"Deblur takes {describe_seconds(seconds)} here")
