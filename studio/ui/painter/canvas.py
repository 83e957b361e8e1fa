"""The painter's canvas: the keyframe, the regions' colour overlay, paths, and the tools' input.

It turns pointer gestures into shapes and trajectories (signals); the window decides which
param they go to. Zoom with the wheel and pan with the middle or right button, as in the viewer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.ui.painter import mask_tools
from studio.ui.painter.camera_controls import CameraOutlineItem
from studio.ui.painter.mask_tools import BrushSettings, Point
from studio.ui.viewer import theme
from studio.ui.viewer.picture import PictureView

HANDLE_PICK_PX = 9  # how near (screen pixels) a press must be to grab a path point
CLICK_PX = 4  # a press and release closer than this is a click, not a drag


@dataclass
class PathDrawing:
    """One brush's path as drawn on the canvas, in image pixels."""

    points: list[Point]
    colour: str
    selected: bool = False
    static: bool = False
    anchor: Point | None = None  # the region's centre, for the static pin
    label: str = ""
    handles: bool = field(default=False)


class PathsItem(QGraphicsItem):
    """Every brush's trajectory as an arrow; the selected one shows draggable points."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[PathDrawing] = []
        self._bounds = QRectF()
        self.setZValue(25)

    def set_paths(self, paths: list[PathDrawing], width: int, height: int) -> None:
        self.prepareGeometryChange()
        self.paths = paths
        self._bounds = QRectF(-width, -height, 3 * width, 3 * height)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = 1.0 / max(painter.transform().m11(), 1e-6)  # screen pixels -> image pixels
        for path in self.paths:
            colour = QColor(path.colour)
            if path.static and path.anchor is not None:
                self._pin(painter, QPointF(*path.anchor), colour, scale)
                continue
            if len(path.points) < 2:
                continue
            pen = QPen(colour, 3.0 if path.selected else 2.0)
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            outline = QPen(QColor(0, 0, 0, 160), pen.widthF() + 2.0)
            outline.setCosmetic(True)
            line = QPolygonF([QPointF(x, y) for x, y in path.points])
            for p in (outline, pen):
                painter.setPen(p)
                painter.drawPolyline(line)
            self._arrow_head(painter, path.points, colour, scale)
            if path.selected:
                painter.setPen(QPen(QColor("white"), 0))
                painter.setBrush(QBrush(colour))
                radius = 4.5 * scale
                for x, y in path.points:
                    painter.drawEllipse(QPointF(x, y), radius, radius)
                painter.setBrush(Qt.BrushStyle.NoBrush)

    @staticmethod
    def _arrow_head(painter: QPainter, points: list[Point], colour: QColor, scale: float) -> None:
        (x0, y0), (x1, y1) = points[-2], points[-1]
        angle = math.atan2(y1 - y0, x1 - x0)
        size = 14 * scale
        tip = QPointF(x1, y1)
        left = tip - QPointF(math.cos(angle - 0.45) * size, math.sin(angle - 0.45) * size)
        right = tip - QPointF(math.cos(angle + 0.45) * size, math.sin(angle + 0.45) * size)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(colour))
        painter.drawPolygon(QPolygonF([tip, left, right]))
        painter.setBrush(Qt.BrushStyle.NoBrush)

    @staticmethod
    def _pin(painter: QPainter, at: QPointF, colour: QColor, scale: float) -> None:
        radius = 9 * scale
        pen = QPen(colour, 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawEllipse(at, radius, radius)
        painter.drawLine(at - QPointF(radius, 0), at + QPointF(radius, 0))
        painter.drawLine(at - QPointF(0, radius), at + QPointF(0, radius))


class PainterCanvas(PictureView):
    """Keyframe plus overlays; left-button gestures become shapes according to ``tool``."""

    shape_drawn = Signal(dict)
    subject_drawn = Signal(dict)
    trajectory_drawn = Signal(list)
    picked = Signal(float, float)  # a click (no drag) with the path tool, in image pixels
    point_moved = Signal(int, list)
    # While a path handle is dragged, each move (normalised point); ``drag_serial`` tells one
    # drag from the next, so its moves and final point become one undo step. Live draft
    # feedback re-renders from these edits while the mouse is still down.
    point_dragged = Signal(int, list)
    brush_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tool = "brush"
        self.brush = BrushSettings()
        self.live_colour = theme.ACCENT
        self.overlay = QGraphicsPixmapItem()
        self.overlay.setZValue(10)
        self.overlay.setOpacity(0.5)
        self.scene().addItem(self.overlay)
        self.live = QGraphicsPathItem()
        self.live.setZValue(20)
        self.scene().addItem(self.live)
        self.paths = PathsItem()
        self.scene().addItem(self.paths)
        self.camera = CameraOutlineItem()
        self.scene().addItem(self.camera)
        self.cursor_ring = QGraphicsEllipseItem()
        self.cursor_ring.setZValue(40)
        ring = QPen(QColor("white"), 1)
        ring.setCosmetic(True)
        self.cursor_ring.setPen(ring)
        self.scene().addItem(self.cursor_ring)
        self.editable_path: list[Point] = []  # the selected brush's points, for dragging
        self._gesture: list[Point] = []
        self._press: QPointF | None = None
        self._drag_point: int | None = None
        self.drag_serial = 0
        self._dragged = False  # this handle drag has edited the path

    @property
    def dragging_handle(self) -> bool:
        """A path point is being dragged (the canvas draws it; the window redraws at the end)."""
        return self._drag_point is not None
        self._polygon: list[Point] = []  # click-by-click polygon in progress

    # -- content ------------------------------------------------------------------------------

    @property
    def image_size(self) -> tuple[int, int]:
        rect = self.item.boundingRect()
        return int(rect.width()), int(rect.height())

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        if rgba is None:
            self.overlay.setPixmap(QPixmap())
            return
        h, w = rgba.shape[:2]
        image = QImage(rgba.data, w, h, rgba.strides[0], QImage.Format.Format_RGBA8888)
        self.overlay.setPixmap(QPixmap.fromImage(image))  # copies: rgba may be freed

    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self._cancel_gesture()
        self._update_cursor_ring(None)

    @property
    def radius_px(self) -> float:
        return self.brush.radius * min(self.image_size)

    # -- gestures -----------------------------------------------------------------------------

    def _image_point(self, event: QMouseEvent) -> Point:
        p = self.mapToScene(event.position().toPoint())
        return (p.x(), p.y())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        point = self._image_point(event)
        self._press = event.position()
        self._gesture = [point]
        if self.tool == "path":
            self._drag_point = self._handle_at(event.position())
            self.drag_serial += 1
            self._dragged = False

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        point = self._image_point(event)
        self._update_cursor_ring(point)
        if not (event.buttons() & Qt.MouseButton.LeftButton) or self._press is None:
            super().mouseMoveEvent(event)
            return
        if self._drag_point is not None:
            self.editable_path[self._drag_point] = point
            self._refresh_editable()
            if self._dragged or (event.position() - self._press).manhattanLength() > CLICK_PX:
                self._dragged = True
                w, h = self.image_size
                self.point_dragged.emit(
                    self._drag_point, [round(point[0] / w, 5), round(point[1] / h, 5)]
                )
            return
        self._gesture.append(point)
        self._draw_live(self._gesture)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            super().mouseReleaseEvent(event)
            return
        point = self._image_point(event)
        moved = (event.position() - self._press).manhattanLength() > CLICK_PX
        self._press = None
        if self._drag_point is not None:
            index, self._drag_point = self._drag_point, None
            if moved or self._dragged:  # the drag's end closes its undo step
                x, y = point
                w, h = self.image_size
                self.point_moved.emit(index, [round(x / w, 5), round(y / h, 5)])
            return
        if len(self._gesture) == 1 or self._gesture[-1] != point:
            self._gesture.append(point)
        self._finish(moved, event.modifiers())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self.tool == "polygon" and self._polygon:
            self._close_polygon(event.modifiers())
        else:
            super().mouseDoubleClickEvent(event)

    def _finish(self, moved: bool, modifiers: Qt.KeyboardModifier) -> None:
        size = self.image_size
        subtract = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        gesture, self._gesture = self._gesture, []
        tool = self.tool
        if tool in ("brush", "eraser"):
            self.live.setPath(QPainterPath())
            shape = mask_tools.stroke(gesture, size, self.brush, erase=tool == "eraser" or subtract)
            self.shape_drawn.emit(shape)
        elif tool in ("rect", "ellipse", "subject"):
            self.live.setPath(QPainterPath())
            if not moved:
                return
            kind = "ellipse" if tool == "ellipse" else "rect"
            shape = mask_tools.box(
                kind,
                gesture[0],
                gesture[-1],
                size,
                subtract and tool != "subject",
                self.brush.feather,
            )
            (self.subject_drawn if tool == "subject" else self.shape_drawn).emit(shape)
        elif tool == "polygon":
            if moved and not self._polygon:  # a lasso
                self.live.setPath(QPainterPath())
                shape = mask_tools.polygon(gesture, size, subtract, self.brush.feather)
                if shape is not None:
                    self.shape_drawn.emit(shape)
                return
            first = self._polygon[0] if self._polygon else None
            point = gesture[-1]
            near_first = (
                first is not None
                and len(self._polygon) >= 3
                and (
                    math.dist(
                        self.mapFromScene(QPointF(*first)).toTuple(),
                        self.mapFromScene(QPointF(*point)).toTuple(),
                    )
                    < HANDLE_PICK_PX
                )
            )
            if near_first:
                self._close_polygon(modifiers)
                return
            self._polygon.append(point)
            self._draw_live([point])
        elif tool == "path":
            self.live.setPath(QPainterPath())
            if moved:
                self.trajectory_drawn.emit(mask_tools.trajectory(gesture, size))
            else:
                self.picked.emit(*gesture[-1])

    def _close_polygon(self, modifiers: Qt.KeyboardModifier) -> None:
        points, self._polygon = self._polygon, []
        self.live.setPath(QPainterPath())
        subtract = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        shape = mask_tools.polygon(points, self.image_size, subtract, self.brush.feather)
        if shape is not None:
            self.shape_drawn.emit(shape)

    def _cancel_gesture(self) -> None:
        self._gesture, self._polygon, self._press, self._drag_point = [], [], None, None
        self.live.setPath(QPainterPath())

    def _handle_at(self, position: QPointF) -> int | None:
        best, best_distance = None, float(HANDLE_PICK_PX)
        for index, (x, y) in enumerate(self.editable_path):
            screen = self.mapFromScene(QPointF(x, y))
            distance = math.dist((screen.x(), screen.y()), (position.x(), position.y()))
            if distance <= best_distance:
                best, best_distance = index, distance
        return best

    def _refresh_editable(self) -> None:
        for path in self.paths.paths:
            if path.selected:
                path.points = list(self.editable_path)
        self.paths.update()

    # -- live drawing -------------------------------------------------------------------------

    def _draw_live(self, points: list[Point]) -> None:
        colour = QColor(theme.MUTED if self.tool == "eraser" else self.live_colour)
        path = QPainterPath()
        if self.tool in ("brush", "eraser"):
            colour.setAlphaF(0.6)
            pen = QPen(colour, 2 * self.radius_px)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            path.moveTo(*points[0])
            for p in points[1:]:
                path.lineTo(*p)
        else:
            pen = QPen(colour, 2, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            if self.tool in ("rect", "subject"):
                path.addRect(QRectF(QPointF(*points[0]), QPointF(*points[-1])).normalized())
            elif self.tool == "ellipse":
                path.addEllipse(QRectF(QPointF(*points[0]), QPointF(*points[-1])).normalized())
            else:
                line = self._polygon + ([points[-1]] if self._polygon else points)
                path.moveTo(*line[0])
                for p in line[1:]:
                    path.lineTo(*p)
        self.live.setPen(pen)
        self.live.setPath(path)

    def _update_cursor_ring(self, point: Point | None) -> None:
        visible = point is not None and self.tool in ("brush", "eraser")
        self.cursor_ring.setVisible(visible)
        if visible:
            r = self.radius_px
            self.cursor_ring.setRect(QRectF(point[0] - r, point[1] - r, 2 * r, 2 * r))

    # -- keys ---------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key = event.key()
        actions = {
            Qt.Key.Key_BracketRight: self.brush.bigger,
            Qt.Key.Key_BracketLeft: self.brush.smaller,
            Qt.Key.Key_BraceRight: self.brush.softer,
            Qt.Key.Key_BraceLeft: self.brush.harder,
        }
        if key in actions:
            actions[Qt.Key(key)]()
            self.brush_changed.emit()
            ring = self.cursor_ring.rect().center()
            self._update_cursor_ring((ring.x(), ring.y()) if self.cursor_ring.isVisible() else None)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._polygon:
            self._close_polygon(event.modifiers())
        elif key == Qt.Key.Key_Escape:
            self._cancel_gesture()
        else:
            super().keyPressEvent(event)
