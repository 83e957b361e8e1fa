"""The canvas view: smooth pan (middle drag, space-drag), zoom about the cursor, framing,
and the node search (Tab, double-click on empty canvas, or a wire dropped in empty space)."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFontInfo,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from studio.graph import edits as editing
from studio.graph.commands import AddNode
from studio.graph.subgraph import PROXY_TYPES
from studio.session.blueprints import AddBlueprint
from studio.ui import theme
from studio.ui.canvas import drops
from studio.ui.canvas.arrange import place_clear, tidy_command
from studio.ui.canvas.node_item import TITLE_FONT
from studio.ui.canvas.scene import NodeScene
from studio.ui.canvas.search_popup import (
    BLUEPRINT_PREFIX,
    SearchPopup,
    blueprint_specs,
    model_names,
)

MIN_ZOOM, MAX_ZOOM = 0.08, 3.0
READABLE_TITLE_PX = 11.0  # Frame All keeps node titles at least this tall on screen


def readable_zoom() -> float:
    """The zoom at which a node's title is READABLE_TITLE_PX tall on this screen."""
    return min(1.0, READABLE_TITLE_PX / QFontInfo(TITLE_FONT).pixelSize())


ZOOM_SETTLE_MS = 160  # after the last zoom step, thumbnails are redrawn smoothly
MIN_GRID_PX = 10.0  # grid lines closer than this on screen are noise, and cost a frame


class NodeView(QGraphicsView):
    """Navigates a :class:`NodeScene`. ``context_menu`` asks the window for a menu."""

    context_menu = Signal(QPointF, QPoint)  # scene pos, global pos
    open_file = Signal(object)  # a dropped workflow or Studio render (Path): the window opens it

    def __init__(self, scene: NodeScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.node_scene = scene
        self._pan_from: QPointF | None = None
        self._space = False
        self.popup: SearchPopup | None = None
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setBackgroundBrush(QColor(theme.BACKGROUND))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        scene.wire_dropped.connect(self._wire_dropped)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(ZOOM_SETTLE_MS)
        self._settle.timeout.connect(self._zoom_settled)
        self._framed_readable = False

    # -- navigation ---------------------------------------------------------------------

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        target = max(MIN_ZOOM, min(MAX_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        self.node_scene.draft = True
        self._settle.start()
        if anchor is None:
            self.scale(factor, factor)
            return
        # Keep the scene point under the cursor fixed while scaling.
        before = self.mapToScene(anchor.toPoint())
        self.scale(factor, factor)
        after = self.mapToScene(anchor.toPoint())
        self.pan_by_scene(after - before)

    def _zoom_settled(self) -> None:
        self.node_scene.draft = False
        for item in self.node_scene.node_items().values():
            if item.thumbnail is not None:
                item.update()  # redraw its cache with the smooth thumbnail

    def pan_by_scene(self, delta: QPointF) -> None:
        center = self.mapToScene(self.viewport().rect().center())
        self.centerOn(center - delta)

    def frame(self, rect: QRectF) -> None:
        if rect.isNull() or rect.isEmpty():
            return
        rect = rect.adjusted(-60, -60, 60, 60)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:  # framing one small node should not blow it up
            self.zoom_by(1.0 / self.zoom())
            self.centerOn(rect.center())
        elif self.zoom() < MIN_ZOOM:
            self.zoom_by(MIN_ZOOM / self.zoom())
            self.centerOn(rect.center())

    def frame_all(self) -> None:
        """Frame the graph at a zoom where node titles stay readable (≥ 11 px): a big graph
        shows its start (the sources, on the left) and the rest is a scroll away."""
        bounds = self.node_scene.items_bounds()
        if bounds.isNull() or bounds.isEmpty():
            return
        self.frame(bounds)
        readable = readable_zoom()
        self._framed_readable = self.zoom() < readable
        if self._framed_readable:
            self.zoom_by(readable / self.zoom())
            visible = self.mapToScene(self.viewport().rect()).boundingRect()
            x = bounds.left() - 40 + visible.width() / 2
            y = bounds.center().y()
            if visible.height() < bounds.height():
                y = bounds.top() - 40 + visible.height() / 2
            self.centerOn(QPointF(x, y))

    def frame_all_or_everything(self) -> None:
        """Home: frame all readably; pressed again right after, show the whole graph."""
        if self._framed_readable and abs(self.zoom() - readable_zoom()) < 1e-3:
            self._framed_readable = False
            self.frame(self.node_scene.items_bounds())
        else:
            self.frame_all()

    def frame_selected(self) -> None:
        selected = self.node_scene.selected_node_ids()
        if selected:
            self.frame(self.node_scene.items_bounds(selected))
        else:
            self.frame_all()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt name)
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.15**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        middle = event.button() == Qt.MouseButton.MiddleButton
        space = self._space and event.button() == Qt.MouseButton.LeftButton
        if middle or space:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            delta = (event.position() - self._pan_from) / self.zoom()
            self._pan_from = event.position()
            self.pan_by_scene(delta)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = self.mapToScene(event.position().toPoint())
        if (
            event.button() == Qt.MouseButton.LeftButton
            and self.node_scene.node_at(pos) is None
            and self.node_scene.group_at(pos) is None
        ):
            self.open_search(pos)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if key == Qt.Key.Key_Tab:
            self.open_search(self.cursor_scene_pos())
            return
        if key == Qt.Key.Key_Home:
            self.frame_all()
            return
        if key == Qt.Key.Key_F and not event.modifiers():
            self.frame_selected()
            return
        if key == Qt.Key.Key_Escape and self.node_scene.wire_active():
            self.node_scene.cancel_gesture()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802, A002 (Qt name)
        return False  # Tab opens the node search instead of moving focus

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        self.context_menu.emit(self.mapToScene(event.pos()), event.globalPos())

    def cursor_scene_pos(self) -> QPointF:
        local = self.viewport().mapFromGlobal(self.cursor().pos())
        if not self.viewport().rect().contains(local):
            local = self.viewport().rect().center()
        return self.mapToScene(local)

    # -- creating nodes -----------------------------------------------------------------

    def open_search(
        self, scene_pos: QPointF, anchor: tuple[str, str, str] | None = None
    ) -> SearchPopup:
        graph = self.node_scene.graph
        specs = list(graph.registry)
        if not self.node_scene.session.scope:  # ports of a subgraph: only inside one
            specs = [s for s in specs if s.type_id not in PROXY_TYPES]
        title = "Add node"
        if anchor is not None:
            allowed = set(editing.compatible_types(graph, anchor))
            specs = [s for s in specs if s.type_id in allowed]
            title = "Add a node that fits this wire"
        else:
            specs += blueprint_specs(graph.registry.blueprints)
        popup = SearchPopup(specs, self, title=title, models=model_names(specs))
        popup.chosen.connect(lambda type_id: self.create_node(type_id, scene_pos, anchor))
        self.popup = popup
        popup.popup(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)))
        return popup

    def create_node(
        self, type_id: str, scene_pos: QPointF, anchor: tuple[str, str, str] | None = None
    ) -> str | None:
        graph = self.node_scene.graph
        position = (round(scene_pos.x() / 10) * 10, round(scene_pos.y() / 10) * 10)
        if type_id.startswith(BLUEPRINT_PREFIX):
            return self.add_blueprint(type_id[len(BLUEPRINT_PREFIX) :], position)
        if anchor is not None:
            if anchor[1] == "in":  # the new node feeds the anchor: put it to the left
                position = (position[0] - 232, position[1])
            command, node_id = editing.add_connected(graph, type_id, position, anchor)
        else:
            command = AddNode(type_id, position, label=f"Add {graph.registry[type_id].title}")
            node_id = None
        command = place_clear(self.node_scene, command)  # never on top of another node
        if not self.node_scene.push(command):
            return None
        node_id = node_id or command.node_id
        self.node_scene.select([node_id])
        return node_id

    def add_blueprint(self, name: str, position: tuple[float, float]) -> str | None:
        """A linked instance of blueprint ``name`` (one undo step)."""
        library = self.node_scene.graph.registry.blueprints
        blueprint = library.get(name) if library is not None else None
        if blueprint is None:
            self.node_scene.status_message.emit(f"no blueprint named {name!r} any more")
            return None
        command = AddBlueprint(blueprint, position, label=f"Add {name}")
        if not self.node_scene.push(command):
            return None
        self.node_scene.select([command.node_id])
        return command.node_id

    def tidy(self) -> bool:
        """Lay out the selected nodes (or all of them) in columns: one undo step."""
        selected = self.node_scene.selected_node_ids()
        command = tidy_command(self.node_scene, selected if len(selected) > 1 else None)
        if command is None:
            return False
        return self.node_scene.push(command)

    # -- dropped files --------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()  # not the scene's: no item takes files
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            super().dropEvent(event)
            return
        if self.drop_files(paths, self.mapToScene(event.position().toPoint())):
            event.acceptProposedAction()

    def drop_files(self, paths: list[Path], scene_pos: QPointF | None = None) -> bool:
        """Pictures and clips become Load nodes at ``scene_pos`` (default: the middle of the
        view), one undo step; a workflow or a Studio render is handed to ``open_file``."""
        if scene_pos is None:
            scene_pos = self.mapToScene(self.viewport().rect().center())
        kinds = [(path, drops.classify(path)) for path in paths]
        opened = [
            p for p, k in kinds if k in (drops.DropKind.WORKFLOW, drops.DropKind.STUDIO_VIDEO)
        ]
        command, steps = drops.load_nodes(kinds, (scene_pos.x(), scene_pos.y()))
        unknown = [p for p, k in kinds if k is drops.DropKind.UNKNOWN]
        if unknown:
            self.node_scene.status_message.emit(drops.refusal(unknown[0]))
        if command is not None:
            command = place_clear(self.node_scene, command)
            if self.node_scene.push(command):
                self.node_scene.select([s.node_id for s in steps if s.node_id is not None])
                return True
            return False
        if opened:
            self.open_file.emit(opened[0])
            return True
        return False

    def _wire_dropped(self, pos: QPointF, anchor: tuple[str, str, str]) -> None:
        self.open_search(pos, anchor)

    # -- background ---------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, QColor(theme.BACKGROUND))
        zoom = self.zoom()
        if zoom < 0.3:
            return
        # One drawLines call per colour, hairlines without antialiasing: thousands of single
        # antialiased drawLine calls were most of the cost of a zoom step.
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for step, color in ((25.0, theme.GRID_MINOR), (125.0, theme.GRID_MAJOR)):
            if step * zoom < MIN_GRID_PX:
                continue
            painter.setPen(QPen(QColor(color), 0))
            x = math.floor(rect.left() / step) * step
            y = math.floor(rect.top() / step) * step
            lines: list[QLineF] = []
            while x < rect.right():
                lines.append(QLineF(x, rect.top(), x, rect.bottom()))
                x += step
            while y < rect.bottom():
                lines.append(QLineF(rect.left(), y, rect.right(), y))
                y += step
            painter.drawLines(lines)
        painter.restore()
