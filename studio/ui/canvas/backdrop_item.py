"""Backdrops (titled frames that carry the nodes on them) and notes (free text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.graph.graph import Group
from studio.ui import theme

TITLE_FONT = QFont("Sans Serif", 13, QFont.Weight.DemiBold)
NOTE_FONT = QFont("Sans Serif", 10)
HANDLE = 14.0


class BackdropItem(QGraphicsItem):
    """The canvas face of a :class:`Group`. Position is the rect's top-left corner."""

    def __init__(self, group: Group, on_press: Callable[[BackdropItem], None]) -> None:
        super().__init__()
        self.group = group
        self._on_press = on_press
        self.carried: list[tuple[QGraphicsItem, QPointF]] = []  # nodes riding along a drag
        self.size = (group.rect[2], group.rect[3])  # the model's (or the resize gesture's)
        self.shown = self.size  # as drawn: grown to hold the nodes placed on it
        self._resizing: QPointF | None = None
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(-10 if group.kind == "backdrop" else 2)
        self.refresh()

    def refresh(self) -> None:
        self.prepareGeometryChange()
        x, y, w, h = self.group.rect
        self.size = (w, h)
        self.shown = (w, h)
        self.setPos(QPointF(x, y))
        self.update()

    def show_size(self, width: float, height: float) -> None:
        """Draw the backdrop at least ``width`` x ``height`` (never smaller than its rect)."""
        shown = (max(width, self.size[0]), max(height, self.size[1]))
        if shown != self.shown:
            self.prepareGeometryChange()
            self.shown = shown
            self.update()

    def title_text(self) -> str:
        return self.group.title

    def rect_now(self) -> tuple[float, float, float, float]:
        return (self.pos().x(), self.pos().y(), self.size[0], self.size[1])

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return QRectF(-2, -2, self.shown[0] + 4, self.shown[1] + 4)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        rect = QRectF(0, 0, *self.shown)
        color = QColor(self.group.color)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(theme.SELECTION) if self.isSelected() else color.lighter(130), 1.5)
        painter.setPen(pen)
        if self.group.kind == "note":
            painter.setBrush(color)
            painter.drawRoundedRect(rect, 4, 4)
            painter.setFont(NOTE_FONT)
            painter.setPen(QColor(theme.TEXT))
            text = self.group.text or self.group.title or "Note"
            painter.drawText(rect.adjusted(10, 8, -10, -8), Qt.TextFlag.TextWordWrap, text)
            return
        fill = QColor(color)
        fill.setAlpha(110)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 6, 6)
        painter.fillRect(QRectF(1, 1, rect.width() - 2, 30), color)
        painter.setFont(TITLE_FONT)
        painter.setPen(QColor(theme.TEXT))
        painter.drawText(
            QRectF(10, 0, rect.width() - 20, 32),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            self.group.title or "Backdrop",
        )
        if self.group.text:
            painter.setFont(NOTE_FONT)
            painter.setPen(QColor(theme.TEXT_DIM))
            painter.drawText(
                rect.adjusted(10, 36, -10, -10), Qt.TextFlag.TextWordWrap, self.group.text
            )
        painter.setPen(QPen(color.lighter(150), 1.5))
        corner = QPointF(rect.width() - 4, rect.height() - 4)
        for step in (4, 8, 12):
            painter.drawLine(corner - QPointF(step, 0), corner - QPointF(0, step))

    def _in_handle(self, local: QPointF) -> bool:
        return local.x() > self.shown[0] - HANDLE and local.y() > self.shown[1] - HANDLE

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self._in_handle(event.pos()):
            self._resizing = event.pos() - QPointF(*self.shown)
            self.setSelected(True)
            event.accept()
            return
        super().mousePressEvent(event)
        self._on_press(self)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._resizing is not None:
            size = event.pos() - self._resizing
            self.prepareGeometryChange()
            self.size = (max(120.0, size.x()), max(60.0, size.y()))
            self.shown = self.size
            self.update()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        self._resizing = None
        super().mouseReleaseEvent(event)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged and self.carried:
            for item, offset in self.carried:
                item.setPos(self.pos() + offset)
        return super().itemChange(change, value)
