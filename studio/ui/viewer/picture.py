"""The picture: one RGB frame with zoom, pan, fit, 1:1 and the pixel value under the cursor."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.ui.viewer import theme

MIN_ZOOM, MAX_ZOOM = 0.02, 64.0


def qimage_of(frame: np.ndarray, out: np.ndarray | None = None) -> tuple[QImage, np.ndarray]:
    """An (H, W, 3) RGB frame as a QImage in Qt's native 32-bit layout, plus its buffer.

    Qt's raster painter draws ``Format_RGB32`` about eight times faster than ``RGB888`` when
    scaling, and the conversion costs a fraction of a millisecond. Keep the buffer alive while
    the image is used; pass the previous buffer as ``out`` to reuse it.
    """
    h, w = frame.shape[:2]
    if out is None or out.shape != (h, w, 4):
        out = np.empty((h, w, 4), np.uint8)
    cv2.cvtColor(frame, cv2.COLOR_RGB2BGRA, dst=out)
    return QImage(out.data, w, h, out.strides[0], QImage.Format.Format_RGB32), out


class FrameItem(QGraphicsItem):
    """Paints a numpy frame directly (no QPixmap upload), so a new frame costs one draw."""

    def __init__(self) -> None:
        super().__init__()
        self._frame: np.ndarray | None = None
        self._image: QImage | None = None
        self._buffer: np.ndarray | None = None  # the QImage's pixels
        self._rect = QRectF()
        self.wipe_x: float | None = None  # a wipe line in image pixels, drawn over the frame
        self.wipe_labels: tuple[str, str] = ("A", "B")

    def set_frame(self, frame: np.ndarray | None) -> None:
        if frame is not None:
            frame = np.ascontiguousarray(frame)
        size_changed = (frame is None) != (self._frame is None) or (
            frame is not None and self._frame is not None and frame.shape != self._frame.shape
        )
        if size_changed:
            self.prepareGeometryChange()
        self._frame = frame
        self._image = None
        if frame is not None:
            # A new buffer each time: the old image may still be queued for painting.
            self._image, self._buffer = qimage_of(frame)
        h, w = (frame.shape[:2]) if frame is not None else (0, 0)
        self._rect = QRectF(0, 0, w, h)
        self.update()

    @property
    def frame(self) -> np.ndarray | None:
        return self._frame

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._image is None:
            return
        # Nearest-neighbour above 1:1 so single pixels stay inspectable.
        smooth = painter.transform().m11() < 1.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(self._rect, self._image)
        if self.wipe_x is not None:
            self._paint_wipe(painter)

    def _paint_wipe(self, painter: QPainter) -> None:
        assert self.wipe_x is not None
        top = painter.transform().map(QPointF(self.wipe_x, 0))
        bottom = painter.transform().map(QPointF(self.wipe_x, self._rect.height()))
        painter.save()
        painter.resetTransform()  # draw the line and labels in screen pixels
        painter.setPen(QPen(QColor(theme.ACCENT), 2))
        painter.drawLine(top, bottom)
        painter.setPen(QColor("white"))
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        left, right = self.wipe_labels
        painter.fillRect(QRectF(top.x() - 26, top.y() + 6, 20, 18), QColor(0, 0, 0, 150))
        painter.fillRect(QRectF(top.x() + 6, top.y() + 6, 20, 18), QColor(0, 0, 0, 150))
        painter.drawText(
            QRectF(top.x() - 26, top.y() + 6, 20, 18), Qt.AlignmentFlag.AlignCenter, left
        )
        painter.drawText(
            QRectF(top.x() + 6, top.y() + 6, 20, 18), Qt.AlignmentFlag.AlignCenter, right
        )
        painter.restore()


class PictureView(QGraphicsView):
    """Zoom with the wheel (about the cursor), pan with middle or right drag, F fits, 1 is 1:1.

    ``pixel_hovered`` carries the image pixel under the cursor and its value as text.
    ``dragged`` carries left-drag positions in image pixels (the wipe handle follows it).
    """

    pixel_hovered = Signal(int, int, str)
    zoom_changed = Signal(float)
    dragged = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = FrameItem()
        self.scene().addItem(self.item)
        self.setBackgroundBrush(QColor(theme.BACKGROUND))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setMinimumSize(160, 120)
        self._fit = True
        self._pan_from: QPointF | None = None
        self.value_of = self._rgb_text  # replaced to show mask values, A/B pairs...
        # Keys the view does not use itself (transport keys) go here first.
        self.key_handler: Callable[[int], bool] | None = None

    # -- content ----------------------------------------------------------------------------

    def set_frame(self, frame: np.ndarray | None) -> None:
        old = self.item.boundingRect()
        self.item.set_frame(frame)
        new = self.item.boundingRect()
        if new != old:
            margin = max(new.width(), new.height()) * 4
            self.scene().setSceneRect(new.adjusted(-margin, -margin, margin, margin))
            if self._fit:
                self.fit()

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        rect = self.item.boundingRect()
        if rect.isEmpty():
            return
        self._fit = True
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` screen pixels per image pixel, keeping ``anchor`` (scene) in place."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self._fit = False
        centre = anchor if anchor is not None else self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.scale(zoom, zoom)
        self.centerOn(centre)
        self.zoom_changed.emit(self.zoom)

    def one_to_one(self) -> None:
        self.set_zoom(1.0, self.item.boundingRect().center())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    # -- interaction ------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        factor = 1.25 ** (event.angleDelta().y() / 120.0)
        new_zoom = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM)
        self._fit = False
        self.scale(new_zoom / self.zoom, new_zoom / self.zoom)
        self.zoom_changed.emit(self.zoom)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self.key_handler is not None and self.key_handler(event.key()):
            return
        if event.key() == Qt.Key.Key_F:
            self.fit()
        elif event.key() == Qt.Key.Key_1:
            self.one_to_one()
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self._pan_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif event.button() == Qt.MouseButton.LeftButton:
            p = self.mapToScene(event.position().toPoint())
            self.dragged.emit(p.x(), p.y())
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self._fit = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        p = self.mapToScene(event.position().toPoint())
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.dragged.emit(p.x(), p.y())
        self._hover(p)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
        super().mouseReleaseEvent(event)

    def _hover(self, p: QPointF) -> None:
        frame = self.item.frame
        if frame is None:
            return
        x, y = int(np.floor(p.x())), int(np.floor(p.y()))
        if 0 <= x < frame.shape[1] and 0 <= y < frame.shape[0]:
            self.pixel_hovered.emit(x, y, self.value_of(x, y))
        else:
            self.pixel_hovered.emit(-1, -1, "")

    def _rgb_text(self, x: int, y: int) -> str:
        frame = self.item.frame
        if frame is None:
            return ""
        r, g, b = (int(v) for v in frame[y, x])
        return f"R {r}  G {g}  B {b}"
