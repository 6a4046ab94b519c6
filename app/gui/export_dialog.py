"""Export options: format, quality, bit depth, metadata — then the path, never the original."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

FORMAT_CHOICES = [("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WebP", "webp")]


@dataclass(frozen=True)
class ExportOptions:
    format: str = "png"
    quality: int = 95
    bit_depth: int | None = None  # None = the original's depth (PNG/TIFF only)
    keep_metadata: bool = True


def default_export_path(source: Path | None, fmt: str, folder: Path | None = None) -> Path:
    """``<stem>_restored.<ext>`` beside the original (or in the last export folder)."""
    stem = source.stem if source is not None else "photo"
    base = folder or (source.parent if source is not None else Path.home())
    return base / f"{stem}_restored.{fmt}"


class ExportDialog(QDialog):
    """Chooses how to write; the window then asks where."""

    def __init__(self, parent: QWidget | None, source_depth: int, options: ExportOptions | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        options = options or ExportOptions()
        form = QFormLayout(self)
        self.format_combo = QComboBox()
        for title, key in FORMAT_CHOICES:
            self.format_combo.addItem(title, key)
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(options.format)))
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(options.quality)
        self.depth_combo = QComboBox()
        self.depth_combo.addItem(f"As original ({source_depth}-bit)", None)
        self.depth_combo.addItem("8-bit", 8)
        self.depth_combo.addItem("16-bit", 16)
        self.keep_metadata = QCheckBox("Keep EXIF metadata (the colour profile is always kept)")
        self.keep_metadata.setChecked(options.keep_metadata)
        form.addRow("Format", self.format_combo)
        form.addRow("Quality", self.quality)
        form.addRow("Bit depth", self.depth_combo)
        form.addRow(self.keep_metadata)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.format_combo.currentIndexChanged.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        lossy = self.format_combo.currentData() in ("jpg", "webp")
        self.quality.setEnabled(lossy)
        self.depth_combo.setEnabled(not lossy)

    def options(self) -> ExportOptions:
        lossy = self.format_combo.currentData() in ("jpg", "webp")
        return ExportOptions(
            format=self.format_combo.currentData(),
            quality=self.quality.value(),
            bit_depth=None if lossy else self.depth_combo.currentData(),
            keep_metadata=self.keep_metadata.isChecked(),
        )
