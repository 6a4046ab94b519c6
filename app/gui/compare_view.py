"""Before/after split view: one photo, original left of a draggable divider, result right.

Both halves are drawn from the same view transform, so they always show the same region;
zoom about the cursor, pan by dragging, fit/100%, and "original only" / "result only"
modes. A live preview arrives as a patch (an image of just the visible region) that is
painted over the result side until the full result replaces it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget

SPLIT, ORIGINAL, RESULT = "split", "original", "result"
MIN_SCALE, MAX_SCALE = 0.02, 32.0
DIVIDER_GRAB_PX = 8


class CompareView(QWidget):
    """The canvas. Emits ``viewChanged`` whenever the visible region of the photo changes."""

    viewChanged = Signal()
    filesDropped = Signal(list)
    sampleRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._patch: tuple[QImage, QRectF] | None = None
        self._scale = 1.0
        self._origin = QPointF(0, 0)
        self._divider = 0.5  # fraction of the widget width
        self._mode = SPLIT
        self._flash_original = False
        self._drag: str | None = None  # 'pan' | 'divider'
        self._drag_last = QPointF()
        self._fitted = True
        self._sample_button = QPushButton("Try the sample photo", self)
        self._sample_button.setObjectName("sampleButton")
        self._sample_button.clicked.connect(self.sampleRequested)
        self._place_sample_button()

    # ----- content ---------------------------------------------------------------------
    def set_photo(self, before: QImage, after: QImage | None = None) -> None:
        """Show a newly opened photo, fitted to the window."""
        self._before, self._after, self._patch = before, after, None
        self._sample_button.setVisible(False)
        self.zoom_fit()

    def set_result(self, after: QImage | None) -> None:
        """Replace the result side (None shows the original on both sides); keeps the view."""
        self._after, self._patch = after, None
        self.update()

    def set_preview_patch(self, patch: QImage | None, region: QRectF | None = None) -> None:
        """Paint ``patch`` over the result side at ``region`` (image pixel coordinates)."""
        self._patch = None if patch is None or region is None else (patch, QRectF(region))
        self.update()

    def clear(self) -> None:
        self._before = self._after = None
        self._patch = None
        self._sample_button.setVisible(True)
        self.update()

    def has_photo(self) -> bool:
        return self._before is not None

    # ----- modes -----------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        self._mode = mode
        self.update()

    def mode(self) -> str:
        return self._mode

    def set_flash_original(self, on: bool) -> None:
        """While the backslash key is held the whole canvas shows the original."""
        if on != self._flash_original:
            self._flash_original = on
            self.update()

    def divider_fraction(self) -> float:
        return self._divider

    def set_divider_fraction(self, fraction: float) -> None:
        self._divider = min(1.0, max(0.0, fraction))
        self.update()

    # ----- view transform --------------------------------------------------------------
    def scale(self) -> float:
        """Screen (logical) pixels per photo pixel."""
        return self._scale

    def zoom_fit(self) -> None:
        if self._before is None:
            return
        width, height = self._before.width(), self._before.height()
        self._scale = max(MIN_SCALE, min(self.width() / width, self.height() / height))
        self._origin = QPointF((self.width() - width * self._scale) / 2, (self.height() - height * self._scale) / 2)
        self._fitted = True
        self._changed()

    def zoom_actual(self) -> None:
        """100%: one photo pixel per physical screen pixel (sharp on HiDPI screens)."""
        self.zoom_to(1.0 / self.devicePixelRatioF(), QPointF(self.width() / 2, self.height() / 2))

    def zoom_to(self, scale: float, anchor: QPointF) -> None:
        """Zoom keeping the photo point under ``anchor`` (widget coordinates) fixed."""
        if self._before is None:
            return
        scale = min(MAX_SCALE, max(MIN_SCALE, scale))
        anchor = QPointF(anchor)
        self._origin = anchor - (anchor - self._origin) * (scale / self._scale)
        self._scale = scale
        self._fitted = False
        self._changed()

    def pan_by(self, delta: QPointF) -> None:
        self._origin += delta
        self._fitted = False
        self._changed()

    def visible_image_rect(self) -> QRect:
        """The photo region on screen, in photo pixels, clipped to the photo."""
        if self._before is None:
            return QRect()
        top_left = self.map_to_image(QPointF(0, 0))
        bottom_right = self.map_to_image(QPointF(self.width(), self.height()))
        rect = QRectF(top_left, bottom_right).toAlignedRect()
        return rect.intersected(self._before.rect())

    def map_to_image(self, point: QPointF) -> QPointF:
        return (point - self._origin) / self._scale

    def map_from_image(self, point: QPointF) -> QPointF:
        return point * self._scale + self._origin

    def _changed(self) -> None:
        self.update()
        self.viewChanged.emit()

    # ----- painting --------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 38, 40))
        if self._before is None:
            self._paint_empty(painter)
            return
        smooth = self._scale < 2.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        split_x = self._divider * self.width()
        show_original = self._flash_original or self._mode == ORIGINAL
        if show_original:
            self._draw(painter, self._before)
        elif self._mode == RESULT:
            self._draw_result(painter)
        else:
            painter.save()
            painter.setClipRect(QRectF(0, 0, split_x, self.height()))
            self._draw(painter, self._before)
            painter.restore()
            painter.save()
            painter.setClipRect(QRectF(split_x, 0, self.width() - split_x, self.height()))
            self._draw_result(painter)
            painter.restore()
            painter.setPen(QPen(QColor(255, 255, 255, 220), 2))
            painter.drawLine(QPointF(split_x, 0), QPointF(split_x, self.height()))
            handle = QRectF(split_x - 7, self.height() / 2 - 18, 14, 36)
            painter.setBrush(QColor(255, 255, 255, 220))
            painter.drawRoundedRect(handle, 5, 5)
        self._paint_labels(painter, show_original, split_x)

    def _draw(self, painter: QPainter, image: QImage, region: QRectF | None = None) -> None:
        region = region or QRectF(image.rect())
        target = QRectF(self.map_from_image(region.topLeft()), self.map_from_image(region.bottomRight()))
        visible = QRectF(self.rect()).intersected(target)
        if visible.isEmpty():
            return
        # Only the visible part of the source is scaled: big photos stay fast to repaint.
        sx = image.width() / region.width()
        sy = image.height() / region.height()
        source = QRectF(
            (visible.left() - target.left()) / self._scale * sx,
            (visible.top() - target.top()) / self._scale * sy,
            visible.width() / self._scale * sx,
            visible.height() / self._scale * sy,
        )
        painter.drawImage(visible, image, source)

    def _draw_result(self, painter: QPainter) -> None:
        self._draw(painter, self._after if self._after is not None else self._before)
        if self._patch is not None:
            self._draw(painter, self._patch[0], self._patch[1])

    def _paint_labels(self, painter: QPainter, show_original: bool, split_x: float) -> None:
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        result_name = "Preview" if self._patch is not None else ("Result" if self._after is not None else "Result (none yet)")
        labels = []
        if show_original:
            labels.append(("Original", 10.0, Qt.AlignmentFlag.AlignLeft))
        elif self._mode == RESULT:
            labels.append((result_name, 10.0, Qt.AlignmentFlag.AlignLeft))
        else:
            labels.append(("Original", split_x - 10, Qt.AlignmentFlag.AlignRight))
            labels.append((result_name, split_x + 10, Qt.AlignmentFlag.AlignLeft))
        metrics = painter.fontMetrics()
        for text, x, align in labels:
            width = metrics.horizontalAdvance(text) + 16
            left = x - width if align == Qt.AlignmentFlag.AlignRight else x
            box = QRectF(left, 10, width, metrics.height() + 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_empty(self, painter: QPainter) -> None:
        painter.setPen(QColor(200, 200, 200))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.4)
        painter.setFont(font)
        box = QRectF(0, self.height() / 2 - 70, self.width(), 60)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "Drop a photo here, or press Ctrl+O to open one")
        painter.setPen(QPen(QColor(120, 120, 120), 2, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(24, 24, -24, -24), 12, 12)

    def _place_sample_button(self) -> None:
        hint = self._sample_button.sizeHint()
        self._sample_button.setGeometry(
            (self.width() - hint.width()) // 2, self.height() // 2, hint.width(), hint.height()
        )

    # ----- interaction -----------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802
        self._place_sample_button()
        if self._fitted:
            self.zoom_fit()
        else:
            self._changed()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_to(self._scale * (1.25**steps), event.position())
        event.accept()

    def _near_divider(self, x: float) -> bool:
        return self._mode == SPLIT and abs(x - self._divider * self.width()) <= DIVIDER_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._before is None:
            return
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(event.position().x()):
            self._drag = "divider"
        elif event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._drag = "pan"
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        self._drag_last = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag == "divider":
            self.set_divider_fraction(event.position().x() / max(1, self.width()))
        elif self._drag == "pan":
            self.pan_by(event.position() - self._drag_last)
            self._drag_last = event.position()
        elif self._before is not None:
            near = self._near_divider(event.position().x())
            self.setCursor(Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.OpenHandCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None
        self.unsetCursor()

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.filesDropped.emit(paths)
            event.acceptProposedAction()
