"""A node on the canvas: title, category colour, typed ports, param summary, status and thumbnail.

The item reads its model node and never changes it: moves are collected by the scene and pushed
as one undo command on release. Painting is cached per item (DeviceCoordinateCache) and drops
detail when zoomed out, so 500 nodes pan smoothly.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import cache
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.graph.commands import AddSlot
from studio.graph.graph import Node
from studio.graph.spec import ParamKind
from studio.ui import theme
from studio.ui.canvas.port_item import PortSlot, hit, paint_port
from studio.ui.inspector.widgets import describe_items

WIDTH = 232.0
HEADER = 28.0
ROW = 22.0
SUMMARY_ROW = 17.0
PAD = 8.0
THUMB_H = 124.0
GRID = 10.0
MAX_SUMMARY = 3

TITLE_FONT = QFont("Sans Serif", 10, QFont.Weight.DemiBold)
BODY_FONT = QFont("Sans Serif", 9)
BADGE_FONT = QFont("Sans Serif", 7, QFont.Weight.Bold)


# Built once for every node: a QFontMetricsF and a simplified() path per paint were a
# measurable share of a zoom step, which repaints every node in view.
@cache
def _title_metrics() -> QFontMetricsF:
    return QFontMetricsF(TITLE_FONT)


@cache
def _body_metrics() -> QFontMetricsF:
    return QFontMetricsF(BODY_FONT)


@cache
def _color(name: str) -> QColor:
    return QColor(name)


@cache
def _category_color(category: str) -> QColor:
    return theme.category_color(category)


@cache
def _header() -> QPainterPath:
    """The header's shape: rounded top, square bottom."""
    head = QPainterPath()
    head.addRoundedRect(QRectF(1, 1, WIDTH - 2, HEADER), 6, 6)
    head.addRect(QRectF(1, HEADER - 8, WIDTH - 2, 8))
    return head.simplified()


def summarise(node: Node) -> list[str]:
    """A few 'name value' lines, the params an artist most wants to see at a glance."""
    if node.spec is None:
        return [f"unknown type: {node.type_id}", "saved back unchanged"]
    lines: list[str] = []
    values = node.params
    for param in node.spec.params:
        value = values.get(param.name)
        if param.kind is ParamKind.JSON:
            if isinstance(value, list) and value:
                lines.append(describe_items(param.display_name, value))
            continue
        if param.kind in (
            ParamKind.TEXT,
            ParamKind.STRING,
            ParamKind.FILE,
            ParamKind.FOLDER,
            ParamKind.MODEL,
        ):
            if not value:
                continue
            text = str(value).replace("\n", " ")
            if param.kind in (ParamKind.FILE, ParamKind.FOLDER, ParamKind.MODEL):
                text = text.replace("\\", "/").rsplit("/", 1)[-1]
            lines.append(f"{param.display_name}: {text}")
        elif param.kind is ParamKind.FLOAT:
            lines.append(f"{param.display_name}: {value:g}")
        elif param.kind is ParamKind.BOOL:
            if value:
                lines.append(f"{param.display_name}: on")
        else:
            lines.append(f"{param.display_name}: {value}")
        if len(lines) >= MAX_SUMMARY:
            break
    return lines


class NodeItem(QGraphicsItem):
    """The canvas face of one model node."""

    def __init__(self, node: Node, on_moved: Callable[[NodeItem], None]) -> None:
        super().__init__()
        self.node = node
        self._on_moved = on_moved
        self.status = "stale"
        self.progress: float | None = None
        self.thumbnail: QImage | None = None
        self.connected: set[tuple[str, str]] = set()
        self.accepting: dict[tuple[str, str], bool] | None = None  # while a wire is dragged
        self.snapping = False
        self._slots: list[PortSlot] = []
        self._adders: list[tuple[str, QRectF]] = []  # (variadic input, its "+" row)
        self._rows = 0
        self._summary: list[str] = []
        self._height = HEADER
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(False)
        self.setZValue(1)
        self.refresh()
        self.setPos(QPointF(*node.position))

    # -- model -> view -------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read title, ports and params from the model."""
        self.prepareGeometryChange()
        self._summary = summarise(self.node)
        inputs, outputs = self.node.inputs, self.node.outputs
        top = HEADER + 6
        self._slots = [
            PortSlot("in", p, QPointF(0, top + ROW * i + ROW / 2)) for i, p in enumerate(inputs)
        ] + [
            PortSlot("out", p, QPointF(WIDTH, top + ROW * i + ROW / 2))
            for i, p in enumerate(outputs)
        ]
        # A variadic input (a Sequence's clips) gets a "+" row under its slots to add one.
        variadic = self.node.spec.variadic_inputs() if self.node.spec is not None else ()
        self._adders = [
            (port.name, QRectF(6, top + ROW * (len(inputs) + i), WIDTH / 2 - 6, ROW))
            for i, port in enumerate(variadic)
        ]
        self._rows = max(len(inputs) + len(self._adders), len(outputs))
        height = top + ROW * self._rows + 4
        if self._summary:
            height += SUMMARY_ROW * len(self._summary) + 6
        if self.thumbnail is not None:
            height += THUMB_H + PAD
        self._height = max(height + 4, HEADER + 30)
        self.setToolTip(self._tooltip())
        self.update()

    def _tooltip(self) -> str:
        spec = self.node.spec
        if spec is None:
            return (
                f"Unknown node type {self.node.type_id!r}: "
                f"it cannot run; it is saved back unchanged."
            )
        title = html.escape(self.node.title)
        kind = "" if self.node.title == spec.title else f"{spec.title} · "
        # The header elides long titles: the tooltip always has the whole one.
        return f"<b>{title}</b><br><i>{kind}{spec.category}</i><br>{spec.help}"

    def title_text(self) -> str:
        return self.node.title

    def set_status(self, status: str, progress: float | None = None) -> None:
        if (status, progress) != (self.status, self.progress):
            self.status, self.progress = status, progress
            self.update()

    def set_thumbnail(self, image: QImage | None) -> None:
        # Converted once: an RGB888 image is converted again on every paint, and a zoom step
        # repaints every node in view.
        if image is not None and image.format() != QImage.Format.Format_ARGB32_Premultiplied:
            image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        self.thumbnail = image
        self.refresh()

    def set_accepting(self, accepting: dict[tuple[str, str], bool] | None) -> None:
        if accepting != self.accepting:
            self.accepting = accepting
            self.update()

    # -- geometry ------------------------------------------------------------------------

    @property
    def slots(self) -> list[PortSlot]:
        return self._slots

    def slot(self, side: str, name: str) -> PortSlot | None:
        return next((s for s in self._slots if s.side == side and s.name == name), None)

    def port_scene_pos(self, side: str, name: str) -> QPointF:
        slot = self.slot(side, name)
        if slot is None:  # a placeholder's edge to a port it no longer lists
            return self.mapToScene(QPointF(0 if side == "in" else WIDTH, HEADER / 2))
        return self.mapToScene(slot.center)

    def port_at(self, scene_pos: QPointF) -> PortSlot | None:
        local = self.mapFromScene(scene_pos)
        return next((s for s in self._slots if hit(s, local)), None)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return QRectF(-12, -4, WIDTH + 24, self._height + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(-12, 0, WIDTH + 24, self._height), 8, 8)
        return path

    def body_rect(self) -> QRectF:
        return QRectF(0, 0, WIDTH, self._height)

    # -- painting ------------------------------------------------------------------------

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        rect = self.body_rect()
        header = (
            _category_color(self.node.spec.category)
            if self.node.spec
            else _color(theme.PLACEHOLDER)
        )
        if self.node.bypass:
            painter.setOpacity(0.55)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod > 0.3)
        failed = self.status == "failed" and not self.node.is_placeholder
        if lod < 0.25:  # far away: a coloured block is all the eye can read
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_color(theme.SELECTION) if self.isSelected() else header)
            painter.drawRect(rect)
            if failed:  # a thick red frame still finds the failure in a 500-node graph
                frame = QPen(_color(theme.STATUS_COLORS["failed"]), 4)
                frame.setCosmetic(True)
                painter.setPen(frame)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect)
            return
        selected = self.isSelected()
        if selected:
            border = QPen(_color(theme.SELECTION), 2.2)
        elif failed:  # the small badge alone was easy to miss in a big graph
            border = QPen(_color(theme.STATUS_COLORS["failed"]), 2.2)
        else:
            border = QPen(_color(theme.NODE_BORDER), 1.2)
        painter.setPen(border)
        painter.setBrush(_color(theme.NODE_BODY))
        painter.drawRoundedRect(rect, 7, 7)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.fillPath(_header(), header)
        full = lod >= 0.42
        self._paint_status(painter, full=full)
        if not full:
            self._paint_title(painter, full=False)
            for slot in self._slots:
                paint_port(
                    painter,
                    slot,
                    connected=(slot.side, slot.name) in self.connected,
                    accepting=self._accepts(slot),
                )
            self._paint_thumbnail(painter)  # the picture still reads when the text does not
            return
        self._paint_title(painter, full=True)
        self._paint_ports(painter)
        self._paint_summary(painter)
        self._paint_thumbnail(painter)

    def _accepts(self, slot: PortSlot) -> bool | None:
        if self.accepting is None:
            return None
        return self.accepting.get((slot.side, slot.name), False)

    def _paint_title(self, painter: QPainter, *, full: bool) -> None:
        painter.setFont(TITLE_FONT)
        painter.setPen(_color(theme.TEXT))
        badge_w = 74 if full else 20
        text_rect = QRectF(PAD + 2, 0, WIDTH - PAD * 2 - badge_w, HEADER)
        title = self.node.title
        if self.node.bypass:
            title += "  (bypassed)"
        metrics = _title_metrics()
        painter.drawText(
            text_rect,
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            metrics.elidedText(title, Qt.TextElideMode.ElideRight, text_rect.width()),
        )

    def _status_label(self) -> tuple[str, str]:
        if self.node.is_placeholder:
            return "missing", "placeholder"
        if self.node.bypass:
            return "bypassed", "bypassed"
        if self.status == "running" and self.progress is not None:
            return f"{self.progress * 100:.0f}%", "running"
        return self.status, self.status

    def _paint_status(self, painter: QPainter, *, full: bool = True) -> None:
        text, key = self._status_label()
        color = QColor(theme.STATUS_COLORS.get(key, theme.STATUS_COLORS["stale"]))
        if key == "running" and self.progress is not None:
            bar = QRectF(1, HEADER - 3, (WIDTH - 2) * max(0.0, min(1.0, self.progress)), 3)
            painter.fillRect(bar, color)
        if not full:  # zoomed out: the badge's text is unreadable, a big dot is not
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawEllipse(QPointF(WIDTH - 16, HEADER / 2), 6, 6)
            return
        badge = QRectF(WIDTH - 70, 6, 62, HEADER - 12)
        painter.setPen(Qt.PenStyle.NoPen)
        back = QColor(theme.NODE_BORDER)
        back.setAlpha(150)
        painter.setBrush(back)
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        painter.setBrush(color)
        painter.drawEllipse(QPointF(badge.left() + 8, badge.center().y()), 3.5, 3.5)
        painter.setFont(BADGE_FONT)
        painter.setPen(color.lighter(130))
        painter.drawText(badge.adjusted(14, 0, -4, 0), Qt.AlignmentFlag.AlignCenter, text)

    def _paint_ports(self, painter: QPainter) -> None:
        painter.setFont(BODY_FONT)
        for slot in self._slots:
            paint_port(
                painter,
                slot,
                connected=(slot.side, slot.name) in self.connected,
                accepting=self._accepts(slot),
            )
            painter.setPen(_color(theme.TEXT))
            y = slot.center.y()
            if slot.side == "in":
                rect = QRectF(14, y - ROW / 2, WIDTH / 2 - 14, ROW)
                align = Qt.AlignmentFlag.AlignLeft
            else:
                rect = QRectF(WIDTH / 2, y - ROW / 2, WIDTH / 2 - 14, ROW)
                align = Qt.AlignmentFlag.AlignRight
            # A variadic input's slots are all optional: "(opt)" on each would only be noise.
            is_slot = self.node.spec is not None and self.node.spec.input(slot.name) is None
            optional = slot.port.optional and not is_slot
            label = slot.name + (" (opt)" if optional else "")
            painter.drawText(rect, align | Qt.AlignmentFlag.AlignVCenter, label)
        painter.setPen(_color(theme.TEXT_DIM))
        for port, rect in self._adders:
            painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter, f"+ add {port}")

    def adder_at(self, local: QPointF) -> str | None:
        """The variadic input whose "+" row is under ``local`` (node coordinates), if any."""
        return next((port for port, rect in self._adders if rect.contains(local)), None)

    def _paint_summary(self, painter: QPainter) -> None:
        if not self._summary:
            return
        top = HEADER + 6 + ROW * self._rows + 4
        painter.setPen(QPen(_color(theme.NODE_BORDER), 1))
        painter.drawLine(QPointF(PAD, top), QPointF(WIDTH - PAD, top))
        painter.setFont(BODY_FONT)
        painter.setPen(_color(theme.TEXT_DIM))
        metrics = _body_metrics()
        for i, line in enumerate(self._summary):
            rect = QRectF(PAD + 2, top + 3 + SUMMARY_ROW * i, WIDTH - 2 * PAD - 4, SUMMARY_ROW)
            painter.drawText(
                rect,
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                metrics.elidedText(line, Qt.TextElideMode.ElideRight, rect.width()),
            )

    def _paint_thumbnail(self, painter: QPainter) -> None:
        if self.thumbnail is None:
            return
        area = QRectF(PAD, self._height - THUMB_H - PAD, WIDTH - 2 * PAD, THUMB_H)
        painter.fillRect(area, _color("#111316"))
        size = self.thumbnail.size().scaled(
            area.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio
        )
        target = QRectF(0, 0, size.width(), size.height())
        target.moveCenter(area.center())
        scene = self.scene()
        smooth = not getattr(scene, "draft", False)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(target, self.thumbnail)

    # -- interaction ---------------------------------------------------------------------

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and self.snapping:
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._on_moved(self)
        return super().itemChange(change, value)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        port = self.adder_at(event.pos())
        push = getattr(self.scene(), "push", None)
        if port is not None and event.button() == Qt.MouseButton.LeftButton and push:
            push(AddSlot(self.node.id, port, label=f"Add {port} input"))
            event.accept()
            return
        _shift_as_control(event)
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        _shift_as_control(event)  # Qt toggles a Ctrl-clicked item on release
        super().mouseReleaseEvent(event)


def _shift_as_control(event: QGraphicsSceneMouseEvent) -> None:
    # Shift adds to the selection, as Ctrl does in Qt (Nuke's and ComfyUI's habit).
    if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
        event.setModifiers(event.modifiers() | Qt.KeyboardModifier.ControlModifier)


class RerouteItem(NodeItem):
    """A reroute dot: one point that is both the input and the output."""

    SIZE = 14.0

    def refresh(self) -> None:
        self.prepareGeometryChange()
        self._summary = []
        center = QPointF(0, 0)
        self._slots = [PortSlot("in", p, center) for p in self.node.inputs] + [
            PortSlot("out", p, center) for p in self.node.outputs
        ]
        self.setToolTip("Reroute: passes its input through")
        self.update()

    CORE = 7.0  # a press this near the centre moves the dot; its rim starts a wire

    def port_at(self, scene_pos: QPointF, whole: bool = False) -> PortSlot | None:
        """The output when ``scene_pos`` is on the dot's rim (or anywhere on it, ``whole``:
        Alt held, or a wire being dropped); its centre is for moving the dot."""
        local = self.mapFromScene(scene_pos)
        distance = (local.x() ** 2 + local.y() ** 2) ** 0.5
        if distance <= self.SIZE and (whole or distance > self.CORE):
            return next((s for s in self._slots if s.side == "out"), None)
        return None

    def input_slot(self) -> PortSlot | None:
        return next((s for s in self._slots if s.side == "in"), None)

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = self.SIZE
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    def body_rect(self) -> QRectF:
        return self.boundingRect()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(theme.SELECTION if self.isSelected() else theme.TEXT_DIM), 2))
        painter.setBrush(_color(theme.NODE_BODY))
        painter.drawEllipse(QPointF(0, 0), 6, 6)
        # The rim a wire is drawn from, so the two grips read apart.
        rim = QPen(_color(theme.TEXT_DIM), 1, Qt.PenStyle.DotLine)
        painter.setPen(rim)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QPointF(0, 0), self.SIZE - 2, self.SIZE - 2)
