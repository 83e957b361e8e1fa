"""Undoable edits of a graph, written against the model only (the session's History runs these).

Each command has ``apply`` and ``revert``; ``apply`` after ``revert`` restores the same state.
A drag of many nodes, or any multi-node action, is one :class:`Macro`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.graph.graph import Edge, Graph, GraphError, Group, Node
from studio.graph.spec import slot_name


class Command:
    """Base class: a reversible edit with a label for the Edit menu."""

    label: str = "Edit"

    def apply(self, graph: Graph) -> None:
        raise NotImplementedError

    def revert(self, graph: Graph) -> None:
        raise NotImplementedError


@dataclass
class AddNode(Command):
    type_id: str
    position: tuple[float, float] = (0.0, 0.0)
    params: dict[str, Any] | None = None
    title: str | None = None
    node_id: str | None = None  # fixed on first apply so redo re-creates the same node
    label: str = "Add node"

    def apply(self, graph: Graph) -> None:
        node = graph.add(
            self.type_id,
            title=self.title,
            position=self.position,
            params=self.params,
            node_id=self.node_id,
        )
        self.node_id = node.id

    def revert(self, graph: Graph) -> None:
        assert self.node_id is not None
        graph.remove(self.node_id)


@dataclass
class RemoveNode(Command):
    node_id: str
    label: str = "Delete node"
    _node: Node | None = field(default=None, repr=False)
    _edges: list[Edge] = field(default_factory=list, repr=False)

    def apply(self, graph: Graph) -> None:
        self._node, self._edges = graph.remove(self.node_id)

    def revert(self, graph: Graph) -> None:
        assert self._node is not None
        graph.insert_node(self._node)
        for edge in self._edges:
            graph.insert_edge(edge)


@dataclass
class Connect(Command):
    edge: Edge
    label: str = "Connect"
    # Connecting into an occupied input replaces the old wire (as in Nuke and ComfyUI).
    replace: bool = True
    _replaced: Edge | None = field(default=None, repr=False)

    def apply(self, graph: Graph) -> None:
        old = graph.edge_into(self.edge.dst_node, self.edge.dst_port)
        if old is not None and self.replace:
            graph.disconnect(old)
            self._replaced = old
        try:
            graph.connect(
                self.edge.src_node, self.edge.src_port, self.edge.dst_node, self.edge.dst_port
            )
        except Exception:
            if self._replaced is not None:
                graph.insert_edge(self._replaced)
                self._replaced = None
            raise

    def revert(self, graph: Graph) -> None:
        graph.disconnect(self.edge)
        if self._replaced is not None:
            graph.insert_edge(self._replaced)


@dataclass
class Disconnect(Command):
    edge: Edge
    label: str = "Disconnect"

    def apply(self, graph: Graph) -> None:
        graph.disconnect(self.edge)

    def revert(self, graph: Graph) -> None:
        graph.insert_edge(self.edge)


@dataclass
class AddSlot(Command):
    """One more slot at the end of a variadic input (a Sequence's next clip)."""

    node_id: str
    port: str
    label: str = "Add input"

    def apply(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        node.set_slot_count(self.port, node.slot_count(self.port) + 1)

    def revert(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        node.set_slot_count(self.port, node.slot_count(self.port) - 1)


@dataclass
class RemoveSlot(Command):
    """Remove slot ``index`` of a variadic input: its wire goes, later slots move up one (so
    clips keep their order), and undo puts every wire back where it was."""

    node_id: str
    port: str
    index: int
    label: str = "Remove input"
    _edges: list[Edge] = field(default_factory=list, repr=False)
    _moved: list[Edge] = field(default_factory=list, repr=False)

    def apply(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        count = node.slot_count(self.port)
        if not 0 <= self.index < count:
            raise GraphError(f"{node.title}.{self.port} has no input {self.index + 1}")
        if count == 1:
            raise GraphError(f"{node.title}.{self.port} keeps at least one input")
        later = {slot_name(self.port, i): i for i in range(self.index, count)}
        self._edges = [e for e in graph.edges_into(self.node_id) if e.dst_port in later]
        for edge in self._edges:
            graph.disconnect(edge)
        node.set_slot_count(self.port, count - 1)
        self._moved = []
        for edge in self._edges:
            position = later[edge.dst_port]
            if position > self.index:
                moved = Edge(
                    edge.src_node, edge.src_port, edge.dst_node, slot_name(self.port, position - 1)
                )
                graph.insert_edge(moved)
                self._moved.append(moved)

    def revert(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        for edge in self._moved:
            graph.disconnect(edge)
        node.set_slot_count(self.port, node.slot_count(self.port) + 1)
        for edge in self._edges:
            graph.insert_edge(edge)


@dataclass
class SetParam(Command):
    node_id: str
    name: str
    value: Any
    label: str = "Change parameter"
    _old: Any = field(default=None, repr=False)

    def apply(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        self._old = node.param(self.name)
        node.set_param(self.name, copy.deepcopy(self.value))

    def revert(self, graph: Graph) -> None:
        graph.node(self.node_id).set_param(self.name, self._old)


@dataclass
class SetNodeAttribute(Command):
    """Rename (``title``), move (``position``) or bypass (``bypass``) one node."""

    node_id: str
    attribute: str
    value: Any
    label: str = "Change node"
    _old: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.attribute not in ("title", "position", "bypass"):
            raise ValueError(f"cannot set node attribute {self.attribute!r}")

    def apply(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        self._old = getattr(node, self.attribute)
        setattr(node, self.attribute, self.value)

    def revert(self, graph: Graph) -> None:
        setattr(graph.node(self.node_id), self.attribute, self._old)


@dataclass
class AddGroup(Command):
    group: Group
    label: str = "Add backdrop"

    def apply(self, graph: Graph) -> None:
        graph.add_group(copy.deepcopy(self.group))

    def revert(self, graph: Graph) -> None:
        graph.remove_group(self.group.id)


@dataclass
class RemoveGroup(Command):
    group_id: str
    label: str = "Delete backdrop"
    _group: Group | None = field(default=None, repr=False)

    def apply(self, graph: Graph) -> None:
        self._group = graph.remove_group(self.group_id)

    def revert(self, graph: Graph) -> None:
        assert self._group is not None
        graph.add_group(self._group)


@dataclass
class UpdateGroup(Command):
    group_id: str
    changes: dict[str, Any]
    label: str = "Change backdrop"
    _old: dict[str, Any] = field(default_factory=dict, repr=False)

    def apply(self, graph: Graph) -> None:
        group = graph.group(self.group_id)
        self._old = {name: getattr(group, name) for name in self.changes}
        graph.update_group(self.group_id, **self.changes)

    def revert(self, graph: Graph) -> None:
        graph.update_group(self.group_id, **self._old)


@dataclass
class Macro(Command):
    """Several commands as one undo step; a failing step rolls back the ones before it."""

    commands: Sequence[Command]
    label: str = "Edit"

    def apply(self, graph: Graph) -> None:
        done: list[Command] = []
        try:
            for command in self.commands:
                command.apply(graph)
                done.append(command)
        except Exception:
            for command in reversed(done):
                command.revert(graph)
            raise

    def revert(self, graph: Graph) -> None:
        for command in reversed(self.commands):
            command.revert(graph)
