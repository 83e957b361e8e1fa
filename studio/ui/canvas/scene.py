"""The scene mirrors the session's graph: an item per node, edge and group, kept in dicts by id.

It redraws from graph and session events only (badges read the session's statuses; the scene
keeps no copy). User gestures (moving, wiring, dropping onto a wire) become model commands
pushed through the session's history when the gesture ends.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from studio.graph import edits as editing
from studio.graph.commands import Command, Connect, Disconnect, Macro
from studio.graph.graph import Edge, GraphError, GraphEvent, GraphEventKind, Node
from studio.graph.types import PortType
from studio.session import NodeStatus, Session, SessionEvent, SessionEventKind
from studio.ui.bridge import GraphBridge, SessionBridge
from studio.ui.canvas.arrange import Backdrops, make_room_for_splice
from studio.ui.canvas.backdrop_item import BackdropItem
from studio.ui.canvas.edge_item import EdgeItem
from studio.ui.canvas.node_item import NodeItem, RerouteItem
from studio.ui.canvas.port_item import PortSlot

SCENE_EXTENT = 200_000.0


class NodeScene(QGraphicsScene):
    """Items for one graph. ``status_message`` tells the window what happened (or was refused)."""

    status_message = Signal(str)
    node_double_clicked = Signal(str)
    group_double_clicked = Signal(str)
    # A wire dropped into empty space: (scene pos, anchor (node id, side, port)).
    wire_dropped = Signal(QPointF, object)

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.setSceneRect(QRectF(-SCENE_EXTENT / 2, -SCENE_EXTENT / 2, SCENE_EXTENT, SCENE_EXTENT))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._groups: dict[str, BackdropItem] = {}
        self._adjacent: dict[str, set[Edge]] = {}
        self._wire: EdgeItem | None = None
        self._wire_anchor: tuple[str, str, str] | None = None  # (node, side, port) held fixed
        self._wire_detached: Edge | None = None
        self._refused_at: tuple[str, str, str] | None = None
        self._gesture = False
        # True during a burst of zoom steps: thumbnails are scaled without filtering, which
        # was a third of a zoom frame; the view repaints them smoothly once zooming pauses.
        self.draft = False
        self.graph = session.graph
        self.backdrops = Backdrops(self)
        self._bridge = GraphBridge(self.graph, self)
        self._bridge.event.connect(self._on_event)
        self._session_bridge = SessionBridge(session, self)
        self._session_bridge.event.connect(self._on_session_event)
        self._rebuild()

    # -- binding ------------------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind in (SessionEventKind.GRAPH_REPLACED, SessionEventKind.SCOPE_CHANGED):
            self._bridge.close()
            self.graph = self.session.view_graph
            self._bridge = GraphBridge(self.graph, self)
            self._bridge.event.connect(self._on_event)
            self._rebuild()
        elif event.kind is SessionEventKind.STATUS_CHANGED:
            for node_id in event.node_ids:
                self._show_status(node_id)

    def _rebuild(self) -> None:
        self._cancel_wire()
        for item in [*self._edges.values(), *self._nodes.values(), *self._groups.values()]:
            self.removeItem(item)
        self._nodes.clear()
        self._edges.clear()
        self._groups.clear()
        self._adjacent.clear()
        for group in self.graph.groups:
            self._add_group(group.id)
        for node in self.graph.nodes:
            self._add_node(node)
        for edge in self.graph.edges:
            self._add_edge(edge)
        self.backdrops.rebuild()

    def close(self) -> None:
        self._bridge.close()
        self._session_bridge.close()

    # -- lookups (own dicts: PySide6 6.8-6.12 can delete items reached via scene.items()) --

    def item_for(self, node: Node | str) -> NodeItem:
        return self._nodes[node if isinstance(node, str) else node.id]

    def edge_item(self, edge: Edge) -> EdgeItem:
        return self._edges[edge]

    def group_item(self, group_id: str) -> BackdropItem:
        return self._groups[group_id]

    def node_items(self) -> dict[str, NodeItem]:
        return dict(self._nodes)

    def group_ids(self) -> list[str]:
        return list(self._groups)

    def selected_node_ids(self) -> list[str]:
        return [node_id for node_id, item in self._nodes.items() if item.isSelected()]

    def selected_group_ids(self) -> list[str]:
        return [group_id for group_id, item in self._groups.items() if item.isSelected()]

    def selected_edges(self) -> list[Edge]:
        return [edge for edge, item in self._edges.items() if item.isSelected()]

    def select(self, node_ids: list[str]) -> None:
        wanted = set(node_ids)
        self.clearSelection()
        for node_id, item in self._nodes.items():
            if node_id in wanted:
                item.setSelected(True)

    def node_at(self, pos: QPointF) -> NodeItem | None:
        hits = [
            i
            for i in self._nodes.values()
            if i.sceneBoundingRect().contains(pos) and i.shape().contains(i.mapFromScene(pos))
        ]
        return max(hits, key=lambda i: i.zValue(), default=None)

    def group_at(self, pos: QPointF) -> BackdropItem | None:
        return next(
            (g for g in reversed(self._groups.values()) if g.sceneBoundingRect().contains(pos)),
            None,
        )

    def items_bounds(self, node_ids: list[str] | None = None) -> QRectF:
        rect = QRectF()
        for node_id, item in self._nodes.items():
            if node_ids is None or node_id in node_ids:
                rect = rect.united(item.sceneBoundingRect())
        if node_ids is None:
            for item in self._groups.values():
                rect = rect.united(item.sceneBoundingRect())
        return rect

    # -- model -> view ------------------------------------------------------------------

    def _on_event(self, event: GraphEvent) -> None:
        # Statuses are the session's business: it hears the same edits and says what changed.
        match event.kind:
            case GraphEventKind.NODE_ADDED:
                self._add_node(self.graph.node(event.node_id))
                self.backdrops.node_changed(event.node_id)
            case GraphEventKind.NODE_REMOVED:
                item = self._nodes.pop(event.node_id, None)
                if item is not None:
                    self.removeItem(item)
                self._adjacent.pop(event.node_id, None)
                self.backdrops.node_changed(event.node_id)
            case GraphEventKind.NODE_CHANGED:
                item = self._nodes.get(event.node_id)
                if item is None:
                    return
                if event.field == "position":
                    item.setPos(QPointF(*item.node.position))
                else:
                    item.refresh()
                self.backdrops.node_changed(event.node_id)  # moved, or grew or shrank
            case GraphEventKind.EDGE_ADDED:
                self._add_edge(event.edge)
            case GraphEventKind.EDGE_REMOVED:
                self._remove_edge(event.edge)
            case GraphEventKind.GROUP_ADDED:
                self._add_group(event.group_id)
                self.backdrops.group_changed(event.group_id)
            case GraphEventKind.GROUP_REMOVED:
                item = self._groups.pop(event.group_id, None)
                if item is not None:
                    self.removeItem(item)
                self.backdrops.group_changed(event.group_id)
            case GraphEventKind.GROUP_CHANGED:
                if event.group_id in self._groups:
                    self._groups[event.group_id].refresh()
                self.backdrops.group_changed(event.group_id)
            case GraphEventKind.CLEARED:
                self._rebuild()

    def _add_node(self, node: Node) -> None:
        cls = RerouteItem if node.type_id == "Reroute" else NodeItem
        item = cls(node, self._node_moved)
        item.set_status(self.session.node_status(node.id), self.session.node_progress(node.id))
        self._nodes[node.id] = item
        self._adjacent.setdefault(node.id, set())
        self.addItem(item)

    def _add_edge(self, edge: Edge) -> None:
        if edge.src_node not in self._nodes or edge.dst_node not in self._nodes:
            return
        item = EdgeItem(edge, self._edge_type(edge))
        self._edges[edge] = item
        self._adjacent.setdefault(edge.src_node, set()).add(edge)
        self._adjacent.setdefault(edge.dst_node, set()).add(edge)
        self._nodes[edge.src_node].connected.add(("out", edge.src_port))
        self._nodes[edge.dst_node].connected.add(("in", edge.dst_port))
        self._nodes[edge.src_node].update()
        self._nodes[edge.dst_node].update()
        self.addItem(item)
        self._place_edge(edge)
        # A reroute's colour depends on what feeds it: recolour the wires after it.
        for later in self.graph.downstream([edge.dst_node]):
            for e in self._adjacent.get(later, ()):
                if e in self._edges:
                    self._edges[e].set_type(self._edge_type(e))

    def _remove_edge(self, edge: Edge) -> None:
        item = self._edges.pop(edge, None)
        if item is not None:
            self.removeItem(item)
        for node_id, side, port in (
            (edge.src_node, "out", edge.src_port),
            (edge.dst_node, "in", edge.dst_port),
        ):
            self._adjacent.get(node_id, set()).discard(edge)
            node_item = self._nodes.get(node_id)
            if node_item is not None:
                still = any(
                    (e.src_node, e.src_port) == (node_id, port)
                    if side == "out"
                    else (e.dst_node, e.dst_port) == (node_id, port)
                    for e in self._adjacent.get(node_id, ())
                )
                if not still:
                    node_item.connected.discard((side, port))
                node_item.update()

    def _edge_type(self, edge: Edge) -> PortType:
        try:
            return self.graph.resolved_output_type(edge.src_node, edge.src_port)
        except KeyError:
            return PortType.ANY

    def _place_edge(self, edge: Edge) -> None:
        item = self._edges.get(edge)
        if item is not None:
            item.set_ends(
                self._nodes[edge.src_node].port_scene_pos("out", edge.src_port),
                self._nodes[edge.dst_node].port_scene_pos("in", edge.dst_port),
            )

    def _node_moved(self, item: NodeItem) -> None:
        for edge in self._adjacent.get(item.node.id, ()):
            self._place_edge(edge)

    def _add_group(self, group_id: str) -> None:
        item = BackdropItem(self.graph.group(group_id), self._backdrop_pressed)
        self._groups[group_id] = item
        self.addItem(item)

    # -- status and thumbnails ------------------------------------------------------------

    def _show_status(self, node_id: str) -> None:
        item = self._nodes.get(node_id)
        if item is None:
            return
        status = self.session.node_status(node_id)
        item.set_status(status, self.session.node_progress(node_id))
        if status is NodeStatus.STALE and item.thumbnail is not None:
            self.set_thumbnail(node_id, None)  # an out-of-date picture would mislead

    def status(self, node_id: str) -> NodeStatus:
        """The badge shown (read from the session, for tests and menus)."""
        return self.session.node_status(node_id)

    def set_thumbnail(self, node_id: str, image: QImage | None) -> None:
        item = self._nodes.get(node_id)
        if item is not None:
            item.set_thumbnail(image)
            for edge in self._adjacent.get(node_id, ()):
                self._place_edge(edge)
            self.backdrops.node_changed(node_id)

    # -- gestures -----------------------------------------------------------------------

    def push(self, command: Command | None) -> bool:
        """Push ``command``; a refusal goes to the status bar instead of raising."""
        if command is None:
            return False
        try:
            self.session.push_in_view(command)
        except (GraphError, KeyError, ValueError) as exc:
            self.status_message.emit(str(exc))
            return False
        return True

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            item = self.node_at(event.scenePos())
            slot = None
            if isinstance(item, RerouteItem):
                alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
                slot = item.port_at(event.scenePos(), whole=alt)
            elif item is not None:
                slot = item.port_at(event.scenePos())
            if item is not None and slot is not None:
                self._start_wire(item, slot, event.scenePos())
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._gesture = True
            for item in self._nodes.values():
                item.snapping = item.isSelected()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._wire is not None:
            self._drag_wire(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._wire is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_wire(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if self._gesture and event.button() == Qt.MouseButton.LeftButton:
            self._gesture = False
            for item in self._nodes.values():
                item.snapping = False
            self.commit_moves()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        item = self.node_at(event.scenePos())
        if item is not None:
            self.node_double_clicked.emit(item.node.id)
            event.accept()
            return
        group = self.group_at(event.scenePos())
        if group is not None:
            self.group_double_clicked.emit(group.group.id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def commit_moves(self) -> None:
        """Turn whatever the user dragged into one undo step (or a splice into a wire)."""
        positions = {
            node_id: (item.pos().x(), item.pos().y())
            for node_id, item in self._nodes.items()
            if (item.pos().x(), item.pos().y()) != item.node.position
        }
        rects = {
            group_id: item.rect_now()
            for group_id, item in self._groups.items()
            if item.rect_now() != tuple(item.group.rect)
        }
        for item in self._groups.values():
            item.carried = []
        command = editing.move(self.graph, positions, rects)
        if command is None:
            return
        if len(positions) == 1 and not rects:
            node_id = next(iter(positions))
            spliced = self._splice_command(node_id)
            if spliced is not None:
                spliced = make_room_for_splice(self, node_id, spliced)
                command = Macro([command, *spliced], label="Insert into wire")
        if not self.push(command):
            # Refused: put the items back where the model says they are.
            for node_id in positions:
                self._nodes[node_id].setPos(QPointF(*self._nodes[node_id].node.position))
            for group_id in rects:
                self._groups[group_id].refresh()

    def _splice_command(self, node_id: str) -> list[Command] | None:
        item = self._nodes[node_id]
        if self._adjacent.get(node_id):
            return None
        probe = item.sceneBoundingRect().adjusted(12, 4, -12, -4)
        for edge, edge_item in self._edges.items():
            if edge_item.shape().intersects(probe):
                steps = editing.splice(self.graph, node_id, edge)
                if steps is not None:
                    return steps
        return None

    def _backdrop_pressed(self, backdrop: BackdropItem) -> None:
        # The nodes placed on a backdrop ride along with it (selected ones move by themselves).
        backdrop.carried = [
            (self._nodes[n], self._nodes[n].pos() - backdrop.pos())
            for n in self.backdrops.carried(backdrop.group.id)
            if n in self._nodes and not self._nodes[n].isSelected()
        ]

    # -- wiring -------------------------------------------------------------------------

    def _start_wire(self, item: NodeItem, slot: PortSlot, pos: QPointF) -> None:
        node_id = item.node.id
        self._wire_detached = None
        if slot.side == "in":
            existing = self.graph.edge_into(node_id, slot.name)
            if existing is not None:
                # Pick the wire up from its input, as in Nuke: it stays attached at its source.
                self._wire_detached = existing
                self._edges[existing].hide()
                self._wire_anchor = (existing.src_node, "out", existing.src_port)
            else:
                self._wire_anchor = (node_id, "in", slot.name)
        else:
            self._wire_anchor = (node_id, "out", slot.name)
        anchor_node, side, port = self._wire_anchor
        port_type = (
            self.graph.resolved_output_type(anchor_node, port) if side == "out" else slot.type
        )
        self._wire = EdgeItem(None, port_type)
        self.addItem(self._wire)
        self._highlight_targets()
        self._drag_wire(pos)

    def _highlight_targets(self) -> None:
        assert self._wire_anchor is not None
        anchor_node, side, port = self._wire_anchor
        if side == "out":
            blocked = self.graph.upstream([anchor_node])
            carried = self.graph.resolved_output_type(anchor_node, port)
        else:
            blocked = self.graph.downstream([anchor_node])
            in_port = self.graph.node(anchor_node).input_port(port)
            wanted = in_port.type if in_port else PortType.ANY
        for node_id, item in self._nodes.items():
            accepting: dict[tuple[str, str], bool] = {}
            for slot in item.slots:
                if node_id in blocked or slot.side == side:
                    accepting[(slot.side, slot.name)] = False
                elif side == "out":
                    accepting[(slot.side, slot.name)] = slot.type.accepts(carried)
                else:
                    accepting[(slot.side, slot.name)] = wanted.accepts(
                        self.graph.resolved_output_type(node_id, slot.name)
                    )
            item.set_accepting(accepting)

    def _drag_wire(self, pos: QPointF) -> None:
        assert self._wire is not None and self._wire_anchor is not None
        anchor_node, side, port = self._wire_anchor
        fixed = self._nodes[anchor_node].port_scene_pos(side, port)
        target = self._target_slot(pos)
        end = pos
        refused = False
        if target is not None:
            item, slot = target
            if (item.accepting or {}).get((slot.side, slot.name)):
                end = item.port_scene_pos(slot.side, slot.name)
            else:  # no snap onto a port that will not take the wire: it turns red instead
                refused = True
                self._say_refused(item, slot)
        self._wire.set_refused(refused)
        if side == "out":
            self._wire.set_ends(fixed, end)
        else:
            self._wire.set_ends(end, fixed)

    def _say_refused(self, item: NodeItem, slot: PortSlot) -> None:
        """Why the port under the cursor refuses the wire, once per port hovered."""
        assert self._wire_anchor is not None
        key = (item.node.id, slot.side, slot.name)
        if key == self._refused_at:
            return
        self._refused_at = key
        anchor_node, side, port = self._wire_anchor
        if side == "out":
            edge = Edge(anchor_node, port, item.node.id, slot.name)
        else:
            edge = Edge(item.node.id, slot.name, anchor_node, port)
        problem = editing.connect_problem(self.graph, edge)
        if problem:
            self.status_message.emit(f"Cannot connect: {problem}")

    def _target_slot(self, pos: QPointF) -> tuple[NodeItem, PortSlot] | None:
        """The port under ``pos`` on the far side of the wire; over a node body, its first
        accepting port."""
        assert self._wire_anchor is not None
        want = "in" if self._wire_anchor[1] == "out" else "out"
        item = self.node_at(pos)
        if item is None:
            return None
        if isinstance(item, RerouteItem):
            slot = item.input_slot() if want == "in" else item.port_at(pos, whole=True)
            return (item, slot) if slot is not None else None
        slot = item.port_at(pos)
        if slot is not None and slot.side == want:
            return item, slot
        accepting = item.accepting or {}
        first = next(
            (s for s in item.slots if s.side == want and accepting.get((want, s.name))), None
        )
        if first is not None:
            return item, first
        # Over a node with nothing that fits: aim at its first port so the drop says why.
        return next(((item, s) for s in item.slots if s.side == want), None)

    def _finish_wire(self, pos: QPointF) -> None:
        anchor, detached = self._wire_anchor, self._wire_detached
        target = self._target_slot(pos)
        self._cancel_wire()
        assert anchor is not None
        anchor_node, side, port = anchor
        if target is None:
            if detached is not None:
                self.push(Disconnect(detached))
            elif self.node_at(pos) is None:
                self.wire_dropped.emit(pos, anchor)
            return
        other_node, slot = target[0].node.id, target[1]
        if side == "out":
            edge = Edge(anchor_node, port, other_node, slot.name)
        else:
            edge = Edge(other_node, slot.name, anchor_node, port)
        if edge == detached:
            return
        steps: list[Command] = [Disconnect(detached)] if detached is not None else []
        # The wire being moved cannot block its replacement: it leaves the same source.
        problem = editing.connect_problem(self.graph, edge)
        if problem:
            self.status_message.emit(f"Cannot connect: {problem}")
            return
        steps.append(Connect(edge))
        if self.push(Macro(steps, label="Connect") if len(steps) > 1 else steps[0]):
            self.status_message.emit(
                f"Connected {self.graph.node(edge.src_node).title}.{edge.src_port} → "
                f"{self.graph.node(edge.dst_node).title}.{edge.dst_port}"
            )

    def _cancel_wire(self) -> None:
        if self._wire is not None:
            self.removeItem(self._wire)
            self._wire = None
        if self._wire_detached is not None and self._wire_detached in self._edges:
            self._edges[self._wire_detached].show()
        self._wire_anchor = None
        self._wire_detached = None
        self._refused_at = None
        for item in self._nodes.values():
            item.set_accepting(None)

    def wire_active(self) -> bool:
        return self._wire is not None

    def cancel_gesture(self) -> None:
        self._cancel_wire()
