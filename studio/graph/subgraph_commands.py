"""Undoable subgraph edits: collapse a selection into a subgraph node, expand one back, and
change what a subgraph exposes. Each is one undo step (the session's History runs them)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

from studio.graph.commands import Command
from studio.graph.graph import Edge, Graph, GraphError, Node, new_id
from studio.graph.subgraph import (
    INPUT_TYPE,
    OUTPUT_TYPE,
    Exposed,
    SubgraphDef,
    inner_with_exposed,
    make_subgraph_node,
    refresh_spec,
)
from studio.graph.types import PortType

_MARGIN = 260.0  # how far left/right of the selection the proxies sit inside


def _unique(name: str, taken: set[str]) -> str:
    candidate, index = name, 2
    while candidate in taken:
        candidate, index = f"{name}_{index}", index + 1
    taken.add(candidate)
    return candidate


def _bounds(nodes: Sequence[Node]) -> tuple[float, float, float, float]:
    xs = [n.position[0] for n in nodes]
    ys = [n.position[1] for n in nodes]
    return min(xs), min(ys), max(xs), max(ys)


@dataclass
class _Undo:
    removed: list[tuple[Node, list[Edge]]] = field(default_factory=list)
    added_nodes: list[str] = field(default_factory=list)
    added_edges: list[Edge] = field(default_factory=list)

    def revert(self, graph: Graph) -> None:
        for edge in reversed(self.added_edges):
            if edge in graph._edges:
                graph.disconnect(edge)
        for node_id in reversed(self.added_nodes):
            graph.remove(node_id)
        for node, _ in self.removed:
            graph.insert_node(node)
        for _, edges in self.removed:
            for edge in edges:
                if edge not in graph._edges:
                    graph.insert_edge(edge)


@dataclass
class MakeSubgraph(Command):
    """Collapse ``node_ids`` into one subgraph node. Each distinct outer output feeding the
    selection becomes one input port; each inner output read outside becomes one output."""

    node_ids: Sequence[str]
    title: str = "Subgraph"
    node_id: str | None = None  # fixed on first apply so redo makes the same node
    label: str = "Make subgraph"
    _undo: _Undo = field(default_factory=_Undo, repr=False)

    def apply(self, graph: Graph) -> None:
        chosen = list(dict.fromkeys(self.node_ids))
        if not chosen:
            raise GraphError("select the nodes to put in a subgraph first")
        nodes = [graph.node(n) for n in chosen]
        inside = set(chosen)
        edges = graph.edges
        incoming = [e for e in edges if e.dst_node in inside and e.src_node not in inside]
        outgoing = [e for e in edges if e.src_node in inside and e.dst_node not in inside]
        internal = [e for e in edges if e.src_node in inside and e.dst_node in inside]
        if graph.downstream({e.dst_node for e in outgoing}) & graph.upstream(
            {e.src_node for e in incoming}
        ):
            raise GraphError("those nodes leave the selection and come back: it would make a cycle")

        inner = Graph(graph.registry)
        for node in nodes:
            inner.insert_node(node.clone(inner))
        for edge in internal:
            inner.insert_edge(edge)
        x0, y0, x1, y1 = _bounds(nodes)
        taken: set[str] = set()
        outer_in: list[tuple[str, Edge]] = []  # (port, outer edge source half)
        by_source: dict[tuple[str, str], str] = {}
        for edge in incoming:
            source = (edge.src_node, edge.src_port)
            port = by_source.get(source)
            if port is None:
                dst = graph.node(edge.dst_node).input_port(edge.dst_port)
                kind = graph.resolved_output_type(*source)
                if kind is PortType.ANY and dst is not None:
                    kind = dst.type
                port = by_source[source] = _unique(edge.dst_port, taken)
                proxy = inner.add(
                    INPUT_TYPE,
                    title=f"In: {port}",
                    params={"name": port, "type": kind.value},
                    position=(x0 - _MARGIN, y0 + 120.0 * len(outer_in)),
                    node_id=f"in_{port}",
                )
                outer_in.append((port, edge))
            inner.insert_edge(Edge(f"in_{port}", "out", edge.dst_node, edge.dst_port))
        taken = set()
        out_ports: dict[tuple[str, str], str] = {}
        for edge in outgoing:
            source = (edge.src_node, edge.src_port)
            if source in out_ports:
                continue
            port = out_ports[source] = _unique(edge.src_port, taken)
            kind = graph.resolved_output_type(*source)
            proxy = inner.add(
                OUTPUT_TYPE,
                title=f"Out: {port}",
                params={"name": port, "type": kind.value},
                position=(x1 + _MARGIN, y0 + 120.0 * (len(out_ports) - 1)),
                node_id=f"out_{port}",
            )
            inner.insert_edge(Edge(edge.src_node, edge.src_port, proxy.id, "in"))

        self.node_id = self.node_id or new_id()
        outer = make_subgraph_node(
            graph,
            SubgraphDef(inner),
            node_id=self.node_id,
            title=self.title,
            position=((x0 + x1) / 2, (y0 + y1) / 2),
        )
        undo = self._undo = _Undo()
        try:
            for node_id in chosen:
                undo.removed.append(graph.remove(node_id))
            graph.insert_node(outer)
            undo.added_nodes.append(outer.id)
            for port, edge in outer_in:
                new = Edge(edge.src_node, edge.src_port, outer.id, port)
                graph.insert_edge(new)
                undo.added_edges.append(new)
            for edge in outgoing:
                new = Edge(
                    outer.id,
                    out_ports[(edge.src_node, edge.src_port)],
                    edge.dst_node,
                    edge.dst_port,
                )
                graph.insert_edge(new)
                undo.added_edges.append(new)
        except Exception:
            undo.revert(graph)
            raise

    def revert(self, graph: Graph) -> None:
        self._undo.revert(graph)


@dataclass
class ExpandSubgraph(Command):
    """Put a subgraph's inner nodes back in place of it (exposed values written in); inner
    ids already used outside get new ones."""

    node_id: str
    label: str = "Expand subgraph"
    _undo: _Undo = field(default_factory=_Undo, repr=False)

    def apply(self, graph: Graph) -> None:
        outer = graph.node(self.node_id)
        if outer.subgraph is None:
            raise GraphError(f"{outer.title} is not a subgraph")
        inner = inner_with_exposed(outer)
        proxies = {n.id: n for n in inner.nodes if n.type_id in (INPUT_TYPE, OUTPUT_TYPE)}
        ids = {
            n.id: (n.id if n.id not in graph or n.id == outer.id else new_id())
            for n in inner.nodes
            if n.id not in proxies
        }
        feeds = {e.dst_port: e for e in graph.edges_into(outer.id)}
        reads = graph.edges_from(outer.id)
        new_edges: list[Edge] = []
        for edge in inner.edges:
            src, dst = proxies.get(edge.src_node), proxies.get(edge.dst_node)
            if src is None and dst is None:
                new_edges.append(
                    Edge(ids[edge.src_node], edge.src_port, ids[edge.dst_node], edge.dst_port)
                )
            elif src is not None and dst is None:  # an input proxy feeding an inner node
                outside = feeds.get(str(src.param("name")))
                if outside is not None:
                    new_edges.append(
                        Edge(outside.src_node, outside.src_port, ids[edge.dst_node], edge.dst_port)
                    )
            elif dst is not None:  # into an output proxy: whoever read that port outside
                name = str(dst.param("name"))
                if src is not None:  # an input passed straight through
                    outside = feeds.get(str(src.param("name")))
                    if outside is None:
                        continue
                    origin = (outside.src_node, outside.src_port)
                else:
                    origin = (ids[edge.src_node], edge.src_port)
                for read in reads:
                    if read.src_port == name:
                        new_edges.append(Edge(*origin, read.dst_node, read.dst_port))
        undo = self._undo = _Undo()
        try:
            undo.removed.append(graph.remove(outer.id))
            for node in inner.nodes:
                if node.id in proxies:
                    continue
                twin = node.clone(graph, ids[node.id])
                graph.insert_node(twin)
                undo.added_nodes.append(twin.id)
            for edge in new_edges:
                graph.insert_edge(edge)
                undo.added_edges.append(edge)
        except Exception:
            undo.revert(graph)
            raise

    def revert(self, graph: Graph) -> None:
        self._undo.revert(graph)


@dataclass
class SetExposed(Command):
    """Replace what a subgraph exposes (expose, hide, rename, reorder): one undo step. Values
    of exposures that keep their inner param keep their outer value."""

    node_id: str
    exposed: list[Exposed]
    defaults: dict[str, object] = field(default_factory=dict)  # new exposure -> its value
    label: str = "Change exposed parameters"
    _old: list[Exposed] = field(default_factory=list, repr=False)
    _old_params: dict[str, object] = field(default_factory=dict, repr=False)

    def apply(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        if node.subgraph is None:
            raise GraphError(f"{node.title} is not a subgraph")
        names = [e.name for e in self.exposed]
        if len(names) != len(set(names)):
            raise GraphError("two exposed parameters cannot share a name")
        for e in self.exposed:
            inner = node.subgraph.graph.node(e.node)
            if inner.spec is None or inner.spec.param(e.param) is None:
                raise GraphError(f"{inner.title} has no parameter {e.param!r}")
        self._old = list(node.subgraph.exposed)
        self._old_params = node.params
        by_target = {(e.node, e.param): node._params.get(e.name) for e in self._old}
        node.subgraph.exposed = [copy.copy(e) for e in self.exposed]
        values = {}
        for e in self.exposed:
            if e.name in self.defaults:
                values[e.name] = copy.deepcopy(self.defaults[e.name])
            elif (e.node, e.param) in by_target:
                values[e.name] = by_target[(e.node, e.param)]
        node._params = values
        refresh_spec(node)
        node._graph._emit_changed(node.id, "spec")

    def revert(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        node.subgraph.exposed = self._old
        node._params = copy.deepcopy(self._old_params)
        refresh_spec(node)
        node._graph._emit_changed(node.id, "spec")


def inner_graph(graph: Graph, path: Sequence[str]) -> Graph:
    """The graph inside the subgraph nodes ``path`` (outermost first); ``graph`` for []."""
    for node_id in path:
        node = graph.node(node_id)
        if node.subgraph is None:
            raise GraphError(f"{node.title} is not a subgraph")
        graph = node.subgraph.graph
    return graph


@dataclass
class InSubgraph(Command):
    """``command`` applied inside the subgraph at ``path``: the editor's edits while a
    subgraph is open. The subgraph nodes on the path get their ports and params rebuilt (an
    edited proxy is a changed port) and tell their graph their content changed."""

    path: Sequence[str]
    command: Command
    label: str = "Edit"

    def __post_init__(self) -> None:
        self.label = self.command.label

    def apply(self, graph: Graph) -> None:
        self.command.apply(inner_graph(graph, self.path))
        self._changed(graph)

    def revert(self, graph: Graph) -> None:
        self.command.revert(inner_graph(graph, self.path))
        self._changed(graph)

    def _changed(self, graph: Graph) -> None:
        levels = [graph]
        for node_id in self.path[:-1]:
            levels.append(levels[-1].node(node_id).subgraph.graph)
        for level, node_id in reversed(list(zip(levels, self.path, strict=True))):
            refresh_spec(level.node(node_id))
            level._emit_changed(node_id, "subgraph")


@dataclass
class AddSubgraphCopy(Command):
    """Add a copy of subgraph node ``source`` (from the clipboard, a duplicate) as
    ``node_id`` at ``position``: its inner graph, exposures and blueprint link come along."""

    source: Node
    node_id: str
    position: tuple[float, float]
    label: str = "Add subgraph"

    def apply(self, graph: Graph) -> None:
        twin = self.source.clone(graph, self.node_id)
        twin._position = (float(self.position[0]), float(self.position[1]))
        graph.insert_node(twin)

    def revert(self, graph: Graph) -> None:
        graph.remove(self.node_id)
