"""Keeping the canvas tidy: Tidy (a layered layout, one undo step), free spots for new,
pasted and spliced nodes, and backdrops that keep and fit the nodes placed on them.

The geometry lives in :mod:`studio.graph.layout` (no Qt); this module measures the scene's
items and turns the answers into model commands.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF

from studio.graph import edits as editing
from studio.graph.commands import AddGroup, AddNode, Command, Connect, Macro, SetNodeAttribute
from studio.graph.layout import Link, Rect, free_offset, layered_layout
from studio.ui.canvas.node_item import HEADER, WIDTH

if TYPE_CHECKING:
    from studio.ui.canvas.scene import NodeScene

BACKDROP_PAD = 24.0  # room kept between a backdrop's edge and the nodes on it
NEW_NODE_HEIGHT = 110.0
SPLICE_GAP = 40.0  # a node's usual height before it is drawn (no thumbnail yet)


def _rect(r: QRectF) -> Rect:
    return (r.x(), r.y(), r.width(), r.height())


def tidy_command(scene: NodeScene, node_ids: Iterable[str] | None = None) -> Command | None:
    """One undoable move that lays out ``node_ids`` (default: every node) in columns."""
    items = scene.node_items()
    ids = [n for n in (items if node_ids is None else node_ids) if n in items]
    if not ids:
        return None
    rects = {n: _rect(items[n].sceneBoundingRect()) for n in ids}
    links = [Link(e.src_node, e.dst_node) for e in scene.graph.edges]
    placed = layered_layout(rects, links)
    positions = {}
    for node_id, (x, y) in placed.items():
        pos = items[node_id].pos()
        old = rects[node_id]
        positions[node_id] = (pos.x() + x - old[0], pos.y() + y - old[1])
    command = editing.move(scene.graph, positions)
    if isinstance(command, Macro):
        command.label = "Tidy"
    elif command is not None:
        command = Macro([command], label="Tidy")
    return command


def obstacles(scene: NodeScene, skip: Iterable[str] = ()) -> list[Rect]:
    skipped = set(skip)
    return [
        _rect(item.sceneBoundingRect())
        for node_id, item in scene.node_items().items()
        if node_id not in skipped
    ]


def _new_rect(add: AddNode) -> Rect:
    x, y = add.position
    if add.type_id == "Reroute":  # a dot, centred on its position
        return (x - 14, y - 14, 28.0, 28.0)
    return (x - 12, y - 4, WIDTH + 24, NEW_NODE_HEIGHT)


def place_clear(scene: NodeScene, command: Command) -> Command:
    """Shift the nodes and backdrops ``command`` adds so they cover no existing node.

    New nodes are measured as a typical node (they have no item yet); the whole block moves
    together, so a pasted group keeps its own arrangement."""
    steps = list(command.commands) if isinstance(command, Macro) else [command]
    adds = [s for s in steps if isinstance(s, AddNode)]
    groups = [s for s in steps if isinstance(s, AddGroup)]
    if not adds:
        return command
    block = [_new_rect(a) for a in adds]
    dx, dy = free_offset(block, obstacles(scene))
    if (dx, dy) == (0.0, 0.0):
        return command
    for add in adds:
        add.position = (add.position[0] + dx, add.position[1] + dy)
    for step in groups:
        x, y, w, h = step.group.rect
        step.group.rect = (x + dx, y + dy, w, h)
    return command


def make_room_for_splice(scene: NodeScene, node_id: str, steps: list[Command]) -> list[Command]:
    """A node dropped onto a wire between two close nodes would sit on top of them: move it
    clear of the node feeding it, then push the node it feeds (and everything after that)
    right, all in the same undo step."""
    items = scene.node_items()
    links = [s.edge for s in steps if isinstance(s, Connect)]
    upstream = [e.src_node for e in links if e.dst_node == node_id and e.src_node in items]
    downstream = [e.dst_node for e in links if e.src_node == node_id and e.dst_node in items]
    mine = items[node_id].sceneBoundingRect()
    pos = items[node_id].pos()
    extra: list[Command] = []
    if upstream:
        feeder = items[upstream[0]].sceneBoundingRect()
        if mine.intersects(feeder.adjusted(0, 0, SPLICE_GAP, 0)):
            shift = _grid(feeder.right() + SPLICE_GAP - mine.left())
            pos = QPointF(pos.x() + shift, pos.y())
            mine = mine.translated(shift, 0)
            extra.append(SetNodeAttribute(node_id, "position", (pos.x(), pos.y())))
    after = scene.graph.downstream(downstream) - {node_id}
    overlap = max(
        (mine.right() + SPLICE_GAP - items[n].sceneBoundingRect().left() for n in after),
        default=0.0,
    )
    if overlap > 0:
        shift = _grid(overlap)
        moved = editing.move(
            scene.graph, {n: (items[n].pos().x() + shift, items[n].pos().y()) for n in after}
        )
        if moved is not None:
            extra.append(moved)
    return [*steps, *extra]


def _grid(distance: float) -> float:
    return math.ceil(distance / 10.0) * 10.0


class Backdrops:
    """Which nodes sit on which backdrop (their top-left corner inside it), and each backdrop
    drawn large enough to hold them: a node that grows (a thumbnail after a run) keeps its
    backdrop and the backdrop grows around it, instead of being left behind on the next drag.
    """

    def __init__(self, scene: NodeScene) -> None:
        self.scene = scene
        self.members: dict[str, set[str]] = {}

    def _holds(self, group_id: str, node_id: str) -> bool:
        group = self.scene.group_item(group_id).group
        item = self.scene.node_items().get(node_id)
        if group.kind != "backdrop" or item is None:
            return False
        x, y, w, h = group.rect
        corner = item.sceneBoundingRect().topLeft() + QPointF(12, HEADER / 2)
        return x <= corner.x() <= x + w and y <= corner.y() <= y + h

    def node_changed(self, node_id: str) -> None:
        """A node was added, moved, resized or removed."""
        for group_id in self.scene.group_ids():
            members = self.members.setdefault(group_id, set())
            inside = self._holds(group_id, node_id)
            if inside or node_id in members:
                (members.add if inside else members.discard)(node_id)
                self.fit(group_id)

    def group_changed(self, group_id: str) -> None:
        """A backdrop was added, moved or resized: its members are whatever now lies on it."""
        if group_id not in self.scene.group_ids():
            self.members.pop(group_id, None)
            return
        self.members[group_id] = {n for n in self.scene.node_items() if self._holds(group_id, n)}
        self.fit(group_id)

    def rebuild(self) -> None:
        self.members.clear()
        for group_id in self.scene.group_ids():
            self.group_changed(group_id)

    def fit(self, group_id: str) -> None:
        item = self.scene.group_item(group_id)
        x, y, w, h = item.group.rect
        right, bottom = x + w, y + h
        nodes = self.scene.node_items()
        for node_id in self.members.get(group_id, ()):
            if node_id in nodes:
                bounds = nodes[node_id].sceneBoundingRect()
                right = max(right, bounds.right() + BACKDROP_PAD)
                bottom = max(bottom, bounds.bottom() + BACKDROP_PAD)
        item.show_size(right - x, bottom - y)

    def carried(self, group_id: str) -> list[str]:
        return sorted(self.members.get(group_id, ()))
