"""Seeing through subgraphs: the flat graph the engine keys, schedules and runs.

Every subgraph node is replaced by its inner nodes (ids namespaced ``outer/inner``, exposed
values written in) and the proxies are wired through, so each inner node is keyed and cached on
its own -- keys come from content, never ids, so they equal those of the same graph built flat.
``origin`` maps each flat id back to the top-level node the canvas shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.graph.graph import Edge, Graph, Node
from studio.graph.subgraph import INPUT_TYPE, OUTPUT_TYPE, inner_with_exposed

SEP = "/"


@dataclass
class Flat:
    graph: Graph
    origin: dict[str, str] = field(default_factory=dict)  # flat id -> top-level node id
    # (top-level subgraph id, output port) -> (flat node, port) that makes it
    outputs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    @property
    def is_identity(self) -> bool:
        return not self.outputs and all(k == v for k, v in self.origin.items())

    def members(self, node_id: str) -> list[str]:
        """The flat nodes a top-level node became (itself, if it is not a subgraph)."""
        return [f for f, o in self.origin.items() if o == node_id]


def has_subgraphs(graph: Graph) -> bool:
    return any(n.subgraph is not None for n in graph.nodes)


def flatten(graph: Graph) -> Flat:
    """``graph`` itself when it holds no subgraph; otherwise a flat copy (see module doc)."""
    if not has_subgraphs(graph):
        return Flat(graph, {n.id: n.id for n in graph.nodes})
    flat = Graph(graph.registry)
    flat.metadata = graph.metadata
    result = Flat(flat)
    # (subgraph id, input port) -> inner (flat node, port)s it feeds
    feeds: dict[tuple[str, str], list[tuple[str, str]]] = {}
    # (subgraph id, output port) -> ("node", flat id, port) or ("input", input port name)
    makes: dict[tuple[str, str], tuple[str, str, str]] = {}
    for node in graph.nodes:
        if node.subgraph is None:
            flat.insert_node(_twin(node, flat, node.id))
            result.origin[node.id] = node.id
            continue
        inner = flatten(inner_with_exposed(node))
        prefix = node.id + SEP
        proxies = {n.id: n for n in inner.graph.nodes if n.type_id in (INPUT_TYPE, OUTPUT_TYPE)}
        for member in inner.graph.nodes:
            if member.id in proxies:
                continue
            twin = _twin(member, flat, prefix + member.id)
            twin.bypass = twin.bypass or node.bypass
            flat.insert_node(twin)
            result.origin[twin.id] = node.id
        for edge in inner.graph.edges:
            src, dst = proxies.get(edge.src_node), proxies.get(edge.dst_node)
            if src is None and dst is None:
                flat.insert_edge(
                    Edge(
                        prefix + edge.src_node, edge.src_port, prefix + edge.dst_node, edge.dst_port
                    )
                )
            elif dst is None:
                port = (node.id, str(src.param("name")))
                feeds.setdefault(port, []).append((prefix + edge.dst_node, edge.dst_port))
            elif src is None:
                makes[(node.id, str(dst.param("name")))] = (
                    "node",
                    prefix + edge.src_node,
                    edge.src_port,
                )
            else:  # an input wired straight to an output
                makes[(node.id, str(dst.param("name")))] = ("input", str(src.param("name")), "")

    def source(node_id: str, port: str) -> tuple[str, str] | None:
        """The flat output behind an outer output (through subgraphs and passthroughs)."""
        while (node_id, port) in makes:
            kind, a, b = makes[(node_id, port)]
            if kind == "node":
                return a, b
            upstream = graph.edge_into(node_id, a)
            if upstream is None:
                return None
            node_id, port = upstream.src_node, upstream.src_port
        if graph.node(node_id).subgraph is not None:
            return None  # an output nothing inside makes
        return node_id, port

    for edge in graph.edges:
        origin = source(edge.src_node, edge.src_port)
        if origin is None:
            continue
        if graph.node(edge.dst_node).subgraph is None:
            targets = [(edge.dst_node, edge.dst_port)]
        else:
            targets = feeds.get((edge.dst_node, edge.dst_port), [])
        for dst, port in targets:
            flat.insert_edge(Edge(origin[0], origin[1], dst, port))
    for node_id, port in makes:
        origin = source(node_id, port)
        if origin is not None:
            result.outputs[(node_id, port)] = origin
    return result


def _twin(node: Node, graph: Graph, node_id: str) -> Node:
    twin = Node(
        graph,
        node_id,
        node.type_id,
        node.spec,
        title=node.title,
        position=node.position,
        params=dict(node._params),
        bypass=node.bypass,
        version=node.version,
        raw=node.raw,
    )
    twin.extra_params = node.extra_params
    twin._seed_control = dict(node._seed_control)
    twin._slots = dict(node._slots)
    return twin
