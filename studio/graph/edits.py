"""Multi-node edits as single model commands: delete, duplicate, paste, splice, connect.

Pure functions of the graph (no Qt): the canvas and the menus call them and push the result
through the session's history, so each action is one undo step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from studio.graph import fileformat
from studio.graph.commands import (
    AddGroup,
    AddNode,
    Command,
    Connect,
    Disconnect,
    Macro,
    RemoveGroup,
    RemoveNode,
    SetNodeAttribute,
)
from studio.graph.graph import Edge, Graph, Group, new_id
from studio.graph.spec import slot_name
from studio.graph.subgraph_commands import AddSubgraphCopy
from studio.graph.types import PortType


def connect_problem(graph: Graph, edge: Edge) -> str | None:
    """Why ``edge`` cannot be made; an occupied input is fine (the new wire replaces it)."""
    if graph.edge_into(edge.dst_node, edge.dst_port) == edge:
        return "already connected"
    return graph.connection_problem(edge, replacing=True)


def delete(
    graph: Graph, node_ids: Iterable[str], group_ids: Iterable[str] = (), edges: Iterable[Edge] = ()
) -> Command | None:
    node_ids = [n for n in node_ids if n in graph]
    doomed = set(node_ids)
    steps: list[Command] = [
        Disconnect(e) for e in edges if e in graph.edges and not {e.src_node, e.dst_node} & doomed
    ]
    steps += [RemoveNode(n) for n in node_ids]
    steps += [RemoveGroup(g) for g in group_ids]
    if not steps:
        return None
    return Macro(steps, label=f"Delete {_count(len(node_ids), 'node')}" if node_ids else "Delete")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def move(
    graph: Graph,
    positions: dict[str, tuple[float, float]],
    rects: dict[str, tuple[float, float, float, float]] | None = None,
) -> Command | None:
    from studio.graph.commands import UpdateGroup

    steps: list[Command] = [
        SetNodeAttribute(n, "position", p)
        for n, p in positions.items()
        if n in graph and graph.node(n).position != p
    ]
    for group_id, rect in (rects or {}).items():
        if tuple(graph.group(group_id).rect) != rect:
            steps.append(UpdateGroup(group_id, {"rect": rect}, label="Move backdrop"))
    if not steps:
        return None
    return Macro(
        steps,
        label="Move" if len(steps) > 1 else steps[0].label.replace("Change node", "Move node"),
    )


def selection_to_json(graph: Graph, node_ids: Iterable[str], group_ids: Iterable[str] = ()) -> str:
    """The selected nodes, the edges between them and the groups, as a workflow document."""
    wanted = set(node_ids)
    data = fileformat.graph_to_dict(graph)
    data["nodes"] = {k: v for k, v in data["nodes"].items() if k in wanted}
    data["edges"] = [
        e for e in data["edges"] if e["from"]["node"] in wanted and e["to"]["node"] in wanted
    ]
    groups = set(group_ids)
    data["groups"] = [g for g in data["groups"] if g["id"] in groups]
    data["metadata"] = {}
    return json.dumps(data, indent=1)


def paste(
    graph: Graph,
    text: str,
    at: tuple[float, float] | None = None,
    offset: tuple[float, float] = (40.0, 40.0),
) -> tuple[Command | None, list[str], str]:
    """Commands that add the workflow in ``text`` with fresh ids.

    Returns (command, new node ids, message). Placed with its top-left at ``at``, or shifted by
    ``offset`` from where it was copied. Raises WorkflowFileError when ``text`` is not a workflow.
    """
    loaded = fileformat.loads(text, graph.registry, source="clipboard")
    source = loaded.graph
    skipped = [n for n in source.nodes if n.is_placeholder]
    nodes = [n for n in source.nodes if not n.is_placeholder]
    if not nodes and not source.groups:
        return None, [], "nothing to paste" + (" (unknown node types)" if skipped else "")
    xs = [n.position[0] for n in nodes] + [g.rect[0] for g in source.groups]
    ys = [n.position[1] for n in nodes] + [g.rect[1] for g in source.groups]
    dx, dy = offset if at is None else (at[0] - min(xs), at[1] - min(ys))
    ids = {n.id: new_id() for n in nodes}
    steps: list[Command] = []
    for g in source.groups:
        x, y, w, h = g.rect
        steps.append(
            AddGroup(Group(new_id(), g.kind, g.title, g.text, (x + dx, y + dy, w, h), g.color))
        )
    for n in nodes:
        if n.subgraph is not None:  # no type to add by name: a copy of the whole node
            at_pos = (n.position[0] + dx, n.position[1] + dy)
            steps.append(AddSubgraphCopy(n, ids[n.id], at_pos))  # bypass included
            continue
        steps.append(
            AddNode(
                n.type_id,
                (n.position[0] + dx, n.position[1] + dy),
                params=n.params,
                title=n.title,
                node_id=ids[n.id],
            )
        )
        if n.bypass:
            steps.append(SetNodeAttribute(ids[n.id], "bypass", True))
    for e in source.edges:
        if e.src_node in ids and e.dst_node in ids:
            steps.append(Connect(Edge(ids[e.src_node], e.src_port, ids[e.dst_node], e.dst_port)))
    message = f"pasted {_count(len(nodes), 'node')}"
    if skipped:
        message += f"; skipped {_count(len(skipped), 'unknown node')}"
    return Macro(steps, label="Paste"), list(ids.values()), message


def add_connected(
    graph: Graph, type_id: str, position: tuple[float, float], anchor: tuple[str, str, str]
) -> tuple[Command, str]:
    """Add a node of ``type_id`` and wire it to ``anchor`` = (node id, side, port), where side
    says which end of the new wire the anchor is ("out": the anchor feeds the new node)."""
    spec = graph.registry[type_id]
    node_id = new_id()
    steps: list[Command] = [AddNode(type_id, position, node_id=node_id)]
    anchor_node, side, port = anchor
    if side == "out":
        out_type = graph.resolved_output_type(anchor_node, port)
        target = next((p for p in spec.inputs if p.type.accepts(out_type)), None)
        if target is not None:  # a variadic input takes the wire in its first slot
            name = slot_name(target.name, 0) if target.variadic else target.name
            steps.append(Connect(Edge(anchor_node, port, node_id, name)))
    else:
        in_port = graph.node(anchor_node).input_port(port)
        in_type = in_port.type if in_port else PortType.ANY
        source = next((p for p in spec.outputs if in_type.accepts(p.type)), None)
        if source is not None:
            steps.append(Connect(Edge(node_id, source.name, anchor_node, port)))
    return Macro(steps, label=f"Add {spec.title}"), node_id


def compatible_types(graph: Graph, anchor: tuple[str, str, str]) -> list[str]:
    """Node types that can take the wire held at ``anchor`` (see :func:`add_connected`)."""
    anchor_node, side, port = anchor
    result = []
    if side == "out":
        out_type = graph.resolved_output_type(anchor_node, port)
        for spec in graph.registry:
            if any(p.type.accepts(out_type) for p in spec.inputs):
                result.append(spec.type_id)
    else:
        in_port = graph.node(anchor_node).input_port(port)
        in_type = in_port.type if in_port else PortType.ANY
        for spec in graph.registry:
            if any(in_type.accepts(p.type) for p in spec.outputs):
                result.append(spec.type_id)
    return result


def splice(graph: Graph, node_id: str, edge: Edge) -> list[Command] | None:
    """Commands that put an unconnected node into ``edge``, or None if the types do not allow."""
    node = graph.node(node_id)
    if node.spec is None or graph.edges_into(node_id) or graph.edges_from(node_id):
        return None
    carried = graph.resolved_output_type(edge.src_node, edge.src_port)
    dst_port = graph.node(edge.dst_node).input_port(edge.dst_port)
    if dst_port is None:
        return None
    inp = next((p for p in node.inputs if p.type.accepts(carried)), None)
    out = next((p for p in node.outputs if dst_port.type.accepts(p.type)), None)
    if inp is None or out is None:
        return None
    return [
        Disconnect(edge),
        Connect(Edge(edge.src_node, edge.src_port, node_id, inp.name)),
        Connect(Edge(node_id, out.name, edge.dst_node, edge.dst_port)),
    ]


def new_group(kind: str, rect: tuple[float, float, float, float], title: str = "") -> AddGroup:
    color = "#3b4a5c" if kind == "backdrop" else "#5c5236"
    label = "Add backdrop" if kind == "backdrop" else "Add note"
    return AddGroup(
        Group(
            new_id(),
            kind,
            title=title or ("Backdrop" if kind == "backdrop" else ""),
            text="" if kind == "backdrop" else "Double-click to edit this note",
            rect=rect,
            color=color,
        ),
        label=label,
    )


def bounds_of(
    positions: Iterable[tuple[float, float]], pad: float = 40.0
) -> tuple[float, float, float, float] | None:
    points = list(positions)
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (
        min(xs) - pad,
        min(ys) - pad - 30,
        max(xs) - min(xs) + 232 + 2 * pad,
        max(ys) - min(ys) + 200 + 2 * pad,
    )
