"""Turning a parsed workflow (plain dicts and lists) into a :class:`Graph`, checked field by field.

Every structural problem of a file is collected, not only the first: a record that cannot be
used is skipped and the checks go on, and the one :class:`WorkflowFileError` raised at the end
lists them all (``.problems``). Each step is linear in the size of the file, so a 100,000-node
file opens in seconds; nesting is bounded before anything walks the data recursively.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from studio.graph.graph import Edge, Graph, GraphError, Group, Node
from studio.graph.registry import NodeRegistry
from studio.graph.seeds import parse_seed_control
from studio.graph.spec import MAX_SLOTS, nesting_path
from studio.graph.subgraph import (
    SUBGRAPH_TYPE,
    BlueprintLink,
    Exposed,
    SubgraphDef,
    make_subgraph_node,
)
from studio.graph.types import PortType

MAX_NODES = 100_000
MAX_COORDINATE = 1e7
MAX_DEPTH = 64  # a workflow nests about 8 levels (nodes, params, shapes, points)
MAX_PROBLEMS = 200  # a file broken everywhere is reported this far, then summed up
_SHOWN = 12  # problems spelled out in the exception's one-line message


class WorkflowFileError(ValueError):
    """A workflow file that cannot be opened, with the reasons in plain words: ``problems``
    lists every one found; the message shows the first few."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems) if problems else [message]
        super().__init__(message)

    @classmethod
    def of(cls, source: str, problems: list[str]) -> WorkflowFileError:
        if len(problems) == 1:
            return cls(f"{source}: {problems[0]}", [f"{source}: {problems[0]}"])
        shown = "; ".join(problems[:_SHOWN])
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        return cls(
            f"{source}: {len(problems)} problems: {shown}{more}",
            [f"{source}: {p}" for p in problems],
        )


@dataclass
class LoadedWorkflow:
    graph: Graph
    warnings: list[str] = field(default_factory=list)


class _Fatal(Exception):
    """Too many problems to go on."""


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def expect(self, condition: bool, message: str) -> bool:
        if not condition:
            self.add(message)
        return condition

    def add(self, message: str) -> None:
        self.items.append(message)
        if len(self.items) >= MAX_PROBLEMS:
            self.items.append("too many problems; stopped looking")
            raise _Fatal


def check_nesting(data: Any, source: str) -> None:
    """Refuse data nested deeper than :data:`MAX_DEPTH` (before anything recurses into it)."""
    path = nesting_path(data, MAX_DEPTH)
    if path is not None:
        where = " → ".join(str(p) for p in path[:8])
        raise WorkflowFileError(
            f"{source}: data is nested more than {MAX_DEPTH} levels deep (at {where} → …); "
            "not a workflow"
        )


def build(data: dict[str, Any], registry: NodeRegistry, source: str) -> LoadedWorkflow:
    """The graph ``data`` describes, or one WorkflowFileError listing every problem."""
    problems = _Problems()
    graph = Graph(registry)
    warnings: list[str] = []
    try:
        _build(data, graph, warnings, problems)
    except _Fatal:
        pass
    if problems.items:
        raise WorkflowFileError.of(source, problems.items)
    return LoadedWorkflow(graph, warnings)


def _build(data: dict[str, Any], graph: Graph, warnings: list[str], problems: _Problems) -> None:
    metadata = data.get("metadata", {})
    if problems.expect(isinstance(metadata, dict), "'metadata' must be an object"):
        graph.metadata = metadata

    nodes = data.get("nodes", {})
    if not problems.expect(isinstance(nodes, dict), "'nodes' must be an object keyed by node id"):
        nodes = {}
    if not problems.expect(
        len(nodes) <= MAX_NODES, f"{len(nodes)} nodes is more than Studio can open"
    ):
        return
    edges = data.get("edges", [])
    if not problems.expect(isinstance(edges, list), "'edges' must be a list"):
        edges = []
    parsed: list[Edge] = []
    for index, record in enumerate(edges):
        edge = _parse_edge(index, record, problems)
        if edge is not None:
            parsed.append(edge)
    ports_used = _ports_used(parsed)

    unusable: set[str] = set()  # nodes already reported: their edges are not reported again
    for node_id, record in nodes.items():
        node = _parse_node(graph, node_id, record, ports_used, warnings, problems)
        if node is None:
            unusable.add(node_id)
        else:
            graph.insert_node(node)

    seen_inputs: set[tuple[str, str]] = set()
    for edge in parsed:
        if edge.src_node in unusable or edge.dst_node in unusable:
            continue
        ok = True
        for end, node_id in (("source", edge.src_node), ("target", edge.dst_node)):
            ok = (
                problems.expect(
                    node_id in graph, f"an edge's {end} names node {node_id!r}, which is missing"
                )
                and ok
            )
        if not ok:
            continue
        slot = (edge.dst_node, edge.dst_port)
        if not problems.expect(
            slot not in seen_inputs,
            f"input {edge.dst_port!r} of node {edge.dst_node!r} has two edges",
        ):
            continue
        seen_inputs.add(slot)
        src, dst = graph.node(edge.src_node), graph.node(edge.dst_node)
        if not (src.is_placeholder or dst.is_placeholder):
            if not problems.expect(
                src.output_port(edge.src_port) is not None,
                f"an edge leaves {src.title!r} from output {edge.src_port!r}, which it lacks",
            ) or not problems.expect(
                dst.input_port(edge.dst_port) is not None,
                f"an edge enters {dst.title!r} at input {edge.dst_port!r}, which it lacks",
            ):
                continue
        graph.insert_edge(edge)
    try:
        graph.topological_order()
    except GraphError:
        problems.add("its edges form a cycle")
    else:
        _check_types(graph, problems)

    groups = data.get("groups", [])
    if not problems.expect(isinstance(groups, list), "'groups' must be a list"):
        groups = []
    for record in groups:
        group = _parse_group(record, problems)
        if group is None:
            continue
        try:
            graph.add_group(group)
        except GraphError as exc:
            problems.add(str(exc))


def _ports_used(edges: list[Edge]) -> dict[str, tuple[set[str], set[str]]]:
    # One pass: placeholders learn their ports from here instead of scanning all edges each.
    used: dict[str, tuple[set[str], set[str]]] = {}
    for edge in edges:
        used.setdefault(edge.dst_node, (set(), set()))[0].add(edge.dst_port)
        used.setdefault(edge.src_node, (set(), set()))[1].add(edge.src_port)
    return used


def _check_types(graph: Graph, problems: _Problems) -> None:
    memo: dict[tuple[str, str], PortType] = {}
    for edge in graph.edges:
        src, dst = graph.node(edge.src_node), graph.node(edge.dst_node)
        if src.is_placeholder or dst.is_placeholder:
            continue
        out_type = graph.resolved_output_type(src.id, edge.src_port, memo)
        in_type = dst.input_port(edge.dst_port).type  # type: ignore[union-attr]
        problems.expect(
            in_type.accepts(out_type),
            f"an edge joins {src.title}.{edge.src_port} "
            f"({out_type.value}) to {dst.title}.{edge.dst_port} ({in_type.value})",
        )


def _parse_node(
    graph: Graph,
    node_id: Any,
    record: Any,
    ports_used: dict[str, tuple[set[str], set[str]]],
    warnings: list[str],
    problems: _Problems,
) -> Node | None:
    if not problems.expect(
        isinstance(node_id, str) and 0 < len(node_id) <= 64, f"bad node id {node_id!r}"
    ):
        return None
    if not problems.expect(isinstance(record, dict), f"node {node_id!r} must be an object"):
        return None
    type_id = record.get("type")
    if not problems.expect(isinstance(type_id, str) and type_id, f"node {node_id!r} has no 'type'"):
        return None
    count = len(problems.items)
    title = record.get("title", type_id)
    if not problems.expect(isinstance(title, str), f"node {node_id!r}: 'title' must be text"):
        title = type_id
    position = _parse_position(record.get("position", [0, 0]), f"node {node_id!r}", problems)
    bypass = record.get("bypass", False)
    if not problems.expect(
        isinstance(bypass, bool), f"node {node_id!r}: 'bypass' must be true or false"
    ):
        bypass = False
    params = record.get("params", {})
    if not problems.expect(
        isinstance(params, dict), f"node {node_id!r}: 'params' must be an object"
    ):
        params = {}
    version = record.get("version", 1)
    if not problems.expect(
        isinstance(version, int) and not isinstance(version, bool) and 0 <= version < 10**6,
        f"node {node_id!r}: 'version' must be a whole number",
    ):
        version = 1
    if len(problems.items) > count:
        return None

    if type_id == SUBGRAPH_TYPE:
        defn = _parse_subgraph(graph, node_id, title, record, warnings, problems)
        if defn is not None:
            node = make_subgraph_node(
                graph, defn, node_id=node_id, title=title, position=position, params=params
            )
            node.bypass = bypass
            return node
        if len(problems.items) > count:
            return None
    spec = graph.registry.get(type_id) if type_id != SUBGRAPH_TYPE else None
    if spec is None:
        what = f"a {type_id!r} node, which this install does not have"
        if type_id == SUBGRAPH_TYPE:
            name = record.get("blueprint", {}).get("name", "?")
            what = f"a subgraph of blueprint {name!r}, which no blueprint folder has"
        warnings.append(
            f"{title!r} is {what}; it is kept as a placeholder and saved back unchanged"
        )
        raw = dict(record)
        inputs, outputs = ports_used.get(node_id, (set(), set()))
        raw["_inputs"], raw["_outputs"] = sorted(inputs), sorted(outputs)
        return Node(
            graph,
            node_id,
            type_id,
            None,
            title=title,
            position=position,
            params=dict(params),
            bypass=bypass,
            version=version,
            raw=raw,
        )

    if version > spec.version:
        warnings.append(
            f"{title!r} was saved by a newer {type_id} (version {version}; this install has "
            f"{spec.version}); results may differ"
        )
    values = spec.default_params()
    extra: dict[str, Any] = {}
    for name, value in params.items():
        if spec.param(name) is None:
            extra[name] = value
        else:
            values[name] = value
    if extra:
        warnings.append(
            f"{title!r}: {type_id} has no parameter(s) {', '.join(sorted(extra))}; "
            "they are kept in the file but not used"
        )
    node = Node(
        graph,
        node_id,
        type_id,
        spec,
        title=title,
        position=position,
        params=values,
        bypass=bypass,
        version=spec.version,
    )
    node.extra_params = extra
    for name, mode in parse_seed_control(record.get("seed_control", {}), spec, title, warnings):
        node.set_seed_control(name, mode)
    if not _parse_slots(node, record.get("slots", {}), problems):
        return None
    return node


def _parse_subgraph(
    graph: Graph,
    node_id: str,
    title: str,
    record: dict[str, Any],
    warnings: list[str],
    problems: _Problems,
) -> SubgraphDef | None:
    """The inner graph of a subgraph record: inline, or from the blueprint library when the
    record only links to one. None (with no problem added): an unknown blueprint, which
    opens as a placeholder and saves back unchanged."""
    where = f"subgraph {title!r}"
    link = None
    if "blueprint" in record:
        link = _parse_link(record["blueprint"], where, problems)
        if link is None:
            return None
    body = record.get("subgraph")
    library = graph.registry.blueprints
    if body is None:
        found = library.get(link.name) if (link is not None and library is not None) else None
        if found is None:
            return None  # caller makes a placeholder and warns
        body = found.body
        link = BlueprintLink(link.name, found.sha256, link.linked)
    if not problems.expect(isinstance(body, dict), f"{where}: 'subgraph' must be an object"):
        return None
    inner = Graph(graph.registry)
    inner_problems = _Problems()
    try:
        _build(body, inner, warnings, inner_problems)
    except _Fatal:
        pass
    for message in inner_problems.items:
        problems.add(f"{where}: {message}")
    if inner_problems.items:
        return None
    exposed: list[Exposed] = []
    names: set[str] = set()
    records = body.get("exposed", [])
    if not problems.expect(isinstance(records, list), f"{where}: 'exposed' must be a list"):
        return None
    for item in records:
        ok = isinstance(item, dict) and all(
            isinstance(item.get(k), str) for k in ("name", "node", "param")
        )
        if not problems.expect(ok, f"{where}: each exposed param needs text name, node, param"):
            continue
        ok = item["node"] in inner and item["name"] not in names
        if not problems.expect(ok, f"{where}: exposed {item['name']!r} is unknown or twice"):
            continue
        names.add(item["name"])
        exposed.append(Exposed(item["name"], item["node"], item["param"], item.get("label", "")))
    return SubgraphDef(inner, exposed, link)


def parse_subgraph_body(
    body: Any, registry: NodeRegistry, source: str
) -> tuple[SubgraphDef, list[str]]:
    """A subgraph record's body (a blueprint's) as a :class:`SubgraphDef`, with warnings; any
    problem is one WorkflowFileError listing them."""
    problems = _Problems()
    warnings: list[str] = []
    defn = None
    try:
        defn = _parse_subgraph(
            Graph(registry), "blueprint", source, {"subgraph": body}, warnings, problems
        )
    except _Fatal:
        pass
    if problems.items or defn is None:
        raise WorkflowFileError.of(source, problems.items or ["not a subgraph"])
    return defn, warnings


def _parse_link(value: Any, where: str, problems: _Problems) -> BlueprintLink | None:
    ok = isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"]
    if not problems.expect(bool(ok), f"{where}: 'blueprint' needs a 'name'"):
        return None
    sha = value.get("sha256", "")
    linked = value.get("linked", True)
    if not problems.expect(
        isinstance(sha, str) and isinstance(linked, bool), f"{where}: bad 'blueprint' record"
    ):
        return None
    return BlueprintLink(value["name"], sha, linked)


def _parse_slots(node: Node, slots: Any, problems: _Problems) -> bool:
    """``slots``: how many inputs each variadic port has (format 3); absent means the
    defaults. Edges into slots beyond these counts are reported by the edge checks."""
    where = f"node {node.id!r}"
    if not problems.expect(isinstance(slots, dict), f"{where}: 'slots' must be an object"):
        return False
    ok = True
    for port, count in slots.items():
        spec_port = node.spec.input(port) if node.spec is not None else None
        if not problems.expect(
            spec_port is not None and spec_port.variadic,
            f"{where}: {node.type_id} has no variadic input {port!r}",
        ):
            ok = False
            continue
        if not problems.expect(
            isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= MAX_SLOTS,
            f"{where}: 'slots' for {port!r} must be a whole number from 1 to {MAX_SLOTS}",
        ):
            ok = False
            continue
        node.set_slot_count(port, count)
    return ok


def _parse_edge(index: int, record: Any, problems: _Problems) -> Edge | None:
    where = f"edge #{index + 1}"
    if not problems.expect(isinstance(record, dict), f"{where} must be an object"):
        return None
    ends = []
    for key in ("from", "to"):
        end = record.get(key)
        if not problems.expect(isinstance(end, dict), f"{where} needs a '{key}' object"):
            return None
        node, port = end.get("node"), end.get("port")
        if not problems.expect(
            isinstance(node, str) and isinstance(port, str),
            f"{where}: '{key}' needs text 'node' and 'port'",
        ):
            return None
        ends.append((node, port))
    return Edge(ends[0][0], ends[0][1], ends[1][0], ends[1][1])


def _parse_group(record: Any, problems: _Problems) -> Group | None:
    if not problems.expect(isinstance(record, dict), "each group must be an object"):
        return None
    group_id = record.get("id")
    if not problems.expect(isinstance(group_id, str) and group_id, "a group has no 'id'"):
        return None
    count = len(problems.items)
    kind = record.get("kind", "backdrop")
    problems.expect(kind in ("backdrop", "note"), f"group {group_id!r}: unknown kind {kind!r}")
    rect = record.get("rect", [0, 0, 400, 300])
    if problems.expect(
        isinstance(rect, list) and len(rect) == 4 and all(_finite(v) for v in rect),
        f"group {group_id!r}: 'rect' must be four numbers",
    ):
        problems.expect(
            all(abs(v) <= MAX_COORDINATE for v in rect), f"group {group_id!r}: absurd 'rect'"
        )
    fields = {k: record.get(k, "") for k in ("title", "text")}
    for name, value in fields.items():
        problems.expect(isinstance(value, str), f"group {group_id!r}: '{name}' must be text")
    color = record.get("color", "#3b4252")
    problems.expect(isinstance(color, str), f"group {group_id!r}: 'color' must be text")
    if len(problems.items) > count:
        return None
    return Group(
        group_id, kind, fields["title"], fields["text"], tuple(float(v) for v in rect), color
    )  # type: ignore[arg-type]


def _parse_position(value: Any, where: str, problems: _Problems) -> tuple[float, float]:
    if not problems.expect(
        isinstance(value, list) and len(value) == 2 and all(_finite(v) for v in value),
        f"{where}: 'position' must be two numbers",
    ):
        return 0.0, 0.0
    if not problems.expect(
        all(abs(v) <= MAX_COORDINATE for v in value), f"{where}: absurd position {value}"
    ):
        return 0.0, 0.0
    return float(value[0]), float(value[1])


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
