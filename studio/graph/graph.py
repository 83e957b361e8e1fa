"""The workflow graph: nodes, edges and annotations, with plain-Python change events.

Views (the Qt canvas) subscribe with :meth:`Graph.subscribe` and redraw from events; every
mutation goes through this class so an event is never missed. Undoable edits are expressed as
commands in :mod:`studio.graph.commands`.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from studio.graph.elements import (
    Edge,
    GraphError,
    GraphEvent,
    GraphEventKind,
    Group,
    Listener,
    new_id,
)
from studio.graph.node import Node
from studio.graph.registry import NodeRegistry
from studio.graph.types import PortType

__all__ = [
    "Edge",
    "Graph",
    "GraphError",
    "GraphEvent",
    "GraphEventKind",
    "Group",
    "Listener",
    "Node",
    "new_id",
]


class Graph:
    """A workflow: nodes by id, edges, groups (backdrops and notes) and free metadata."""

    def __init__(self, registry: NodeRegistry) -> None:
        self.registry = registry
        self._nodes: dict[str, Node] = {}
        # Edges in insertion order, indexed both ways: every lookup is O(1) or O(degree), so
        # loading, validating and keying a 100,000-node graph stays near-linear.
        self._edges: dict[Edge, None] = {}
        self._into: dict[tuple[str, str], Edge] = {}  # (node, input port) -> its edge
        self._out: dict[str, dict[Edge, None]] = {}  # node -> edges leaving it
        self._in: dict[str, dict[Edge, None]] = {}  # node -> edges entering it
        self._groups: dict[str, Group] = {}
        self.metadata: dict[str, Any] = {}
        self._listeners: list[Listener] = []

    # -- events ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every :class:`GraphEvent`; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit_changed(self, node_id: str, field: str) -> None:
        self._emit(GraphEvent(GraphEventKind.NODE_CHANGED, node_id=node_id, field=field))

    def _emit(self, event: GraphEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- nodes ----------------------------------------------------------------------------

    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id {node_id!r}") from None

    def find(self, key: str) -> Node:
        """A node by id, id prefix, or title (case-insensitive) -- for the command line."""
        if key in self._nodes:
            return self._nodes[key]
        by_title = [n for n in self._nodes.values() if n.title.lower() == key.lower()]
        by_prefix = [n for n in self._nodes.values() if n.id.startswith(key)]
        matches = by_title or by_prefix
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise GraphError(f"no node named or with id {key!r}")
        raise GraphError(f"{key!r} matches {len(matches)} nodes; use the node id")

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def add(
        self,
        type_id: str,
        *,
        title: str | None = None,
        position: tuple[float, float] = (0.0, 0.0),
        params: dict[str, Any] | None = None,
        node_id: str | None = None,
        bypass: bool = False,
    ) -> Node:
        """Add a node of a registered type; unknown param names are refused."""
        spec = self.registry.get(type_id)
        if spec is None:
            raise GraphError(f"unknown node type {type_id!r}")
        values = spec.default_params()
        for name, value in (params or {}).items():
            if spec.param(name) is None:
                raise GraphError(f"{spec.title} has no parameter {name!r}")
            values[name] = copy.deepcopy(value)
        node = Node(
            self,
            node_id or new_id(),
            type_id,
            spec,
            title=title or spec.title,
            position=position,
            params=values,
            bypass=bypass,
        )
        self._insert(node)
        return node

    def insert_node(self, node: Node) -> None:
        """Insert a node built elsewhere (file loading, undo of a delete)."""
        node._graph = self
        self._insert(node)

    def _insert(self, node: Node) -> None:
        if node.id in self._nodes:
            raise GraphError(f"duplicate node id {node.id!r}")
        self._nodes[node.id] = node
        self._emit(GraphEvent(GraphEventKind.NODE_ADDED, node_id=node.id))

    def remove(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both so the removal can be undone."""
        node = self.node(node_id)
        own = {**self._in.get(node_id, {}), **self._out.get(node_id, {})}
        edges = [e for e in self._edges if e in own] if own else []
        for edge in edges:
            self.disconnect(edge)
        self._in.pop(node_id, None)
        self._out.pop(node_id, None)
        del self._nodes[node_id]
        self._emit(GraphEvent(GraphEventKind.NODE_REMOVED, node_id=node_id))
        return node, edges

    # -- edges ----------------------------------------------------------------------------

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def edges_into(self, node_id: str) -> list[Edge]:
        return list(self._in.get(node_id, ()))

    def edges_from(self, node_id: str) -> list[Edge]:
        return list(self._out.get(node_id, ()))

    def edge_into(self, node_id: str, port: str) -> Edge | None:
        return self._into.get((node_id, port))

    def _index(self, edge: Edge) -> None:
        self._edges[edge] = None
        self._into.setdefault((edge.dst_node, edge.dst_port), edge)
        self._out.setdefault(edge.src_node, {})[edge] = None
        self._in.setdefault(edge.dst_node, {})[edge] = None

    def _unindex(self, edge: Edge) -> None:
        del self._edges[edge]
        if self._into.get((edge.dst_node, edge.dst_port)) == edge:
            del self._into[(edge.dst_node, edge.dst_port)]
            # Unchecked inserts may have put two edges into one input: the other takes over.
            other = next(
                (
                    e
                    for e in self._in.get(edge.dst_node, ())
                    if e.dst_port == edge.dst_port and e != edge
                ),
                None,
            )
            if other is not None:
                self._into[(edge.dst_node, edge.dst_port)] = other
        self._out[edge.src_node].pop(edge, None)
        self._in[edge.dst_node].pop(edge, None)

    def connection_problem(self, edge: Edge, *, replacing: bool = False) -> str | None:
        """Why ``edge`` cannot be added, or None if it can.

        ``replacing``: the edge will take the place of whatever feeds its input, so an occupied
        input is no problem (the old edge cannot matter to the cycle check: a path out of the
        input's node never comes back in through that input).
        """
        if edge.src_node not in self._nodes:
            return f"no node with id {edge.src_node!r}"
        if edge.dst_node not in self._nodes:
            return f"no node with id {edge.dst_node!r}"
        src, dst = self._nodes[edge.src_node], self._nodes[edge.dst_node]
        out = src.output_port(edge.src_port)
        if out is None and not src.is_placeholder:
            return f"{src.title} has no output {edge.src_port!r}"
        inp = dst.input_port(edge.dst_port)
        if inp is None and not dst.is_placeholder:
            return f"{dst.title} has no input {edge.dst_port!r}"
        if out is not None and inp is not None:
            out_type = self.resolved_output_type(src.id, out.name)
            if not inp.type.accepts(out_type):
                return (
                    f"cannot connect {src.title}.{out.name} ({out_type.value}) to "
                    f"{dst.title}.{inp.name} ({inp.type.value}): types differ"
                )
        if not replacing and self.edge_into(dst.id, edge.dst_port) is not None:
            return f"{dst.title}.{edge.dst_port} already has a connection; remove it first"
        if edge.src_node == edge.dst_node or self._reaches(edge.dst_node, edge.src_node):
            return f"connecting {src.title} to {dst.title} would make a cycle"
        return None

    def connect(self, src_node: str, src_port: str, dst_node: str, dst_port: str) -> Edge:
        edge = Edge(src_node, src_port, dst_node, dst_port)
        problem = self.connection_problem(edge)
        if problem:
            raise GraphError(problem)
        self._index(edge)
        self._emit(GraphEvent(GraphEventKind.EDGE_ADDED, edge=edge))
        return edge

    def insert_edge(self, edge: Edge) -> None:
        """Add an edge without checks (file loading of placeholders, undo)."""
        if edge in self._edges:
            raise GraphError("that connection already exists")
        self._index(edge)
        self._emit(GraphEvent(GraphEventKind.EDGE_ADDED, edge=edge))

    def disconnect(self, edge: Edge) -> None:
        if edge not in self._edges:
            raise GraphError("that connection does not exist")
        self._unindex(edge)
        self._emit(GraphEvent(GraphEventKind.EDGE_REMOVED, edge=edge))

    def resolved_output_type(
        self, node_id: str, port: str, memo: dict[tuple[str, str], PortType] | None = None
    ) -> PortType:
        """The output's type, looking through reroute dots (ANY) to what feeds them.
        ``memo`` (shared across calls) makes typing every edge of a long chain linear."""
        node = self._nodes[node_id]
        out = node.output_port(port)
        if out is None:
            return PortType.ANY
        memo = {} if memo is None else memo
        walked: list[tuple[str, str]] = []
        seen: set[str] = set()
        result = out.type
        while True:
            known = memo.get((node.id, out.name))
            if known is not None:
                result = known
                break
            walked.append((node.id, out.name))
            result = out.type
            if out.type is not PortType.ANY or not node.inputs or node.id in seen:
                break
            seen.add(node.id)
            upstream = self.edge_into(node.id, node.inputs[0].name)
            if upstream is None:
                break
            node = self._nodes[upstream.src_node]
            out = node.output_port(upstream.src_port) or out
        for slot in walked:
            memo[slot] = result
        return result

    def _reaches(self, start: str, goal: str) -> bool:
        stack, seen = [start], set()
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current in seen:
                continue
            seen.add(current)
            stack.extend(e.dst_node for e in self._out.get(current, ()))
        return False

    # -- traversal ------------------------------------------------------------------------

    def upstream(self, node_ids: Iterable[str]) -> set[str]:
        """The given nodes and everything they depend on."""
        stack, seen = list(node_ids), set()
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(e.src_node for e in self._in.get(current, ()))
        return seen

    def downstream(self, node_ids: Iterable[str]) -> set[str]:
        """The given nodes and everything that depends on them."""
        stack, seen = list(node_ids), set()
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(e.dst_node for e in self._out.get(current, ()))
        return seen

    def topological_order(self, node_ids: Iterable[str] | None = None) -> list[str]:
        """Node ids in dependency order (stable: ties keep insertion order)."""
        wanted = set(self._nodes) if node_ids is None else set(node_ids)
        indegree = {n: 0 for n in self._nodes if n in wanted}
        children: dict[str, list[str]] = {n: [] for n in indegree}
        for e in self._edges:
            if e.src_node in indegree and e.dst_node in indegree:
                indegree[e.dst_node] += 1
                children[e.src_node].append(e.dst_node)
        ready = deque(n for n, d in indegree.items() if d == 0)
        order: list[str] = []
        while ready:
            current = ready.popleft()
            order.append(current)
            for child in children[current]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(order) != len(indegree):
            raise GraphError("the graph has a cycle")
        return order

    # -- groups ---------------------------------------------------------------------------

    @property
    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def group(self, group_id: str) -> Group:
        try:
            return self._groups[group_id]
        except KeyError:
            raise GraphError(f"no backdrop or note with id {group_id!r}") from None

    def add_group(self, group: Group) -> Group:
        if group.id in self._groups:
            raise GraphError(f"duplicate group id {group.id!r}")
        self._groups[group.id] = group
        self._emit(GraphEvent(GraphEventKind.GROUP_ADDED, group_id=group.id))
        return group

    def remove_group(self, group_id: str) -> Group:
        group = self.group(group_id)
        del self._groups[group_id]
        self._emit(GraphEvent(GraphEventKind.GROUP_REMOVED, group_id=group_id))
        return group

    def update_group(self, group_id: str, **changes: Any) -> None:
        group = self.group(group_id)
        for name, value in changes.items():
            if not hasattr(group, name) or name == "id":
                raise GraphError(f"groups have no attribute {name!r}")
            if getattr(group, name) != value:
                setattr(group, name, value)
                self._emit(GraphEvent(GraphEventKind.GROUP_CHANGED, group_id=group_id, field=name))

    def copy(self) -> Graph:
        """An independent copy with the same ids and no listeners: a snapshot a worker thread
        may read while the artist goes on editing this graph."""
        other = Graph(self.registry)
        for node in self._nodes.values():
            other._nodes[node.id] = node.clone(other)
        for edge in self._edges:
            other._index(edge)
        other._groups = {g.id: replace(g) for g in self._groups.values()}
        other.metadata = copy.deepcopy(self.metadata)
        return other

    def clear(self) -> None:
        self._nodes.clear()
        self._edges.clear()
        self._into.clear()
        self._out.clear()
        self._in.clear()
        self._groups.clear()
        self.metadata = {}
        self._emit(GraphEvent(GraphEventKind.CLEARED))
