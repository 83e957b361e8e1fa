"""Wires: cubic curves coloured by the type they carry."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from studio.graph.graph import Edge
from studio.graph.types import PortType
from studio.ui import theme


def wire_path(start: QPointF, end: QPointF) -> QPainterPath:
    """An S-curve leaving ``start`` to the right and entering ``end`` from the left."""
    dx = max(40.0, abs(end.x() - start.x()) * 0.5)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)
    return path


class EdgeItem(QGraphicsPathItem):
    """One model edge, or (``edge`` None) the wire being dragged."""

    def __init__(self, edge: Edge | None, port_type: PortType) -> None:
        super().__init__()
        self.edge = edge
        self.port_type = port_type
        self.setZValue(0 if edge is not None else 5)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, edge is not None)
        self._hover = False
        self.refused = False  # the dragged wire is over a port that will not take it
        self._apply_pen()

    def _apply_pen(self) -> None:
        color = theme.port_color(self.port_type)
        if self.refused:
            color = QColor(theme.STATUS_COLORS["failed"])
        pen = QPen(color, 2.4)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if self.edge is None:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)

    def set_type(self, port_type: PortType) -> None:
        if port_type is not self.port_type:
            self.port_type = port_type
            self._apply_pen()

    def set_refused(self, refused: bool) -> None:
        if refused != self.refused:
            self.refused = refused
            self._apply_pen()

    def set_ends(self, start: QPointF, end: QPointF) -> None:
        self.setPath(wire_path(start, end))

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        return stroker.createStroke(self.path())

    def near(self, scene_pos: QPointF) -> bool:
        return self.shape().contains(scene_pos)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod > 0.3)
        pen = QPen(self.pen())
        if self.isSelected():
            pen.setColor(QColor(theme.SELECTION))
            pen.setWidthF(3.2)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
