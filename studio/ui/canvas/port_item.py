"""Port geometry and drawing. Ports are painted by their node (no child items): 500 nodes with
a handful of ports each stay cheap, and hit-testing needs no walk through scene.items()."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from studio.graph.spec import Port
from studio.graph.types import PortType
from studio.ui import theme

RADIUS = 5.5
HIT_RADIUS = 11.0


@dataclass(frozen=True)
class PortSlot:
    """Where one port sits on its node, in the node's own coordinates."""

    side: str  # "in" or "out"
    port: Port
    center: QPointF

    @property
    def name(self) -> str:
        return self.port.name

    @property
    def type(self) -> PortType:
        return self.port.type


@cache
def _port_color(port_type: PortType) -> QColor:
    return theme.port_color(port_type)


@cache
def _body_color() -> QColor:
    return QColor(theme.NODE_BODY)


def paint_port(
    painter: QPainter, slot: PortSlot, *, connected: bool, accepting: bool | None
) -> None:
    """A filled dot when connected, a ring when free; a glow while a wire it accepts is dragged.
    ``accepting`` is None when no wire is being dragged, False when this port refuses it."""
    color = _port_color(slot.type)
    if accepting is False:
        color = QColor(color)
        color.setAlpha(60)
    if accepting:
        glow = QColor(color)
        glow.setAlpha(90)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(glow)
        painter.drawEllipse(slot.center, RADIUS + 4, RADIUS + 4)
    painter.setPen(QPen(color, 2))
    painter.setBrush(color if connected or accepting else _body_color())
    if slot.type is PortType.MASK:  # masks are squares so they read apart from images
        painter.drawRect(
            QRectF(
                slot.center.x() - RADIUS + 1,
                slot.center.y() - RADIUS + 1,
                2 * RADIUS - 2,
                2 * RADIUS - 2,
            )
        )
    else:
        painter.drawEllipse(slot.center, RADIUS, RADIUS)


def hit(slot: PortSlot, local: QPointF) -> bool:
    d = slot.center - local
    return d.x() * d.x() + d.y() * d.y() <= HIT_RADIUS * HIT_RADIUS
