"""The workflow file: versioned JSON, loaded defensively and saved atomically.

Layout (``format_version`` 2)::

    {"format_version": 2, "app": "studio 0.1.0", "metadata": {...},
     "nodes": {"<id>": {"type": "Upscale", "version": 1, "title": "...",
                        "position": [x, y], "params": {"scale": 2}, "bypass": false}},
     "edges": [{"from": {"node": "<id>", "port": "video"},
                "to": {"node": "<id>", "port": "video"}}],
     "groups": [{"id": "...", "kind": "backdrop", "title": "...", "rect": [x, y, w, h], ...}]}

Nothing in a file is ever executed: it is parsed with :func:`json.loads` and checked field by
field; any problem becomes one :class:`WorkflowFileError` naming it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import __version__
from studio.graph.graph import Edge, Graph, GraphError, Group, Node
from studio.graph.migrations import CURRENT_FORMAT_VERSION, migrate
from studio.graph.registry import NodeRegistry

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NODES = 100_000
MAX_COORDINATE = 1e7


class WorkflowFileError(ValueError):
    """A workflow file that cannot be opened, with the reason in plain words."""


@dataclass
class LoadedWorkflow:
    graph: Graph
    warnings: list[str] = field(default_factory=list)


# -- writing ----------------------------------------------------------------------------------


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for node in graph.nodes:
        nodes[node.id] = _node_record(node)
    return {
        "format_version": CURRENT_FORMAT_VERSION,
        "app": f"studio {__version__}",
        "metadata": graph.metadata,
        "nodes": nodes,
        "edges": [
            {
                "from": {"node": e.src_node, "port": e.src_port},
                "to": {"node": e.dst_node, "port": e.dst_port},
            }
            for e in graph.edges
        ],
        "groups": [g.to_dict() for g in graph.groups],
    }


def _node_record(node: Node) -> dict[str, Any]:
    if node.is_placeholder:
        # Saved back as it was read, except what the artist may have changed in the editor.
        record = dict(node.raw or {})
        record.pop("_inputs", None)
        record.pop("_outputs", None)
        record.update(title=node.title, position=list(node.position), bypass=node.bypass)
        return record
    params = node.params
    params.update(node.extra_params)
    return {
        "type": node.type_id,
        "version": node.version,
        "title": node.title,
        "position": list(node.position),
        "params": params,
        "bypass": node.bypass,
    }


def dumps(graph: Graph) -> str:
    return json.dumps(graph_to_dict(graph), indent=2, sort_keys=False) + "\n"


def save(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Write the workflow atomically: a crash or a full disk leaves the old file intact."""
    write_text_atomic(Path(path), dumps(graph))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported on this platform (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ----------------------------------------------------------------------------------


def load(path: str | os.PathLike[str], registry: NodeRegistry) -> LoadedWorkflow:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise WorkflowFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise WorkflowFileError(f"{path.name} is {size / 1e6:.0f} MB; not a workflow file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowFileError(f"cannot read {path.name}: {exc}") from None
    return loads(text, registry, source=path.name)


def loads(text: str, registry: NodeRegistry, source: str = "workflow") -> LoadedWorkflow:
    try:
        data = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicates
        )
    except json.JSONDecodeError as exc:
        raise WorkflowFileError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except ValueError as exc:
        raise WorkflowFileError(f"{source}: {exc}") from None
    return from_dict(data, registry, source=source)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a workflow file")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; two nodes with one id would lose one silently.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r} in one object")
        result[key] = value
    return result


def from_dict(data: Any, registry: NodeRegistry, source: str = "workflow") -> LoadedWorkflow:
    if not isinstance(data, dict):
        raise WorkflowFileError(f"{source} is not a workflow: expected a JSON object at the top")
    try:
        data = migrate(data)
    except ValueError as exc:
        raise WorkflowFileError(f"{source}: {exc}") from None
    try:
        return _build(data, registry)
    except (WorkflowFileError, GraphError) as exc:
        raise WorkflowFileError(f"{source}: {exc}") from None


def _build(data: dict[str, Any], registry: NodeRegistry) -> LoadedWorkflow:
    graph = Graph(registry)
    warnings: list[str] = []
    metadata = data.get("metadata", {})
    _expect(isinstance(metadata, dict), "'metadata' must be an object")
    graph.metadata = metadata

    nodes = data.get("nodes", {})
    _expect(isinstance(nodes, dict), "'nodes' must be an object keyed by node id")
    _expect(len(nodes) <= MAX_NODES, f"{len(nodes)} nodes is more than Studio can open")
    edges = data.get("edges", [])
    _expect(isinstance(edges, list), "'edges' must be a list")
    parsed_edges = [_parse_edge(i, e) for i, e in enumerate(edges)]

    for node_id, record in nodes.items():
        graph.insert_node(_parse_node(graph, node_id, record, parsed_edges, warnings))

    seen_inputs: set[tuple[str, str]] = set()
    for edge in parsed_edges:
        for end, node_id in (("source", edge.src_node), ("target", edge.dst_node)):
            _expect(node_id in graph, f"an edge's {end} names node {node_id!r}, which is missing")
        slot = (edge.dst_node, edge.dst_port)
        _expect(
            slot not in seen_inputs,
            f"input {edge.dst_port!r} of node {edge.dst_node!r} has two edges",
        )
        seen_inputs.add(slot)
        src, dst = graph.node(edge.src_node), graph.node(edge.dst_node)
        if src.is_placeholder or dst.is_placeholder:
            graph.insert_edge(edge)
            continue
        _expect(
            src.output_port(edge.src_port) is not None,
            f"an edge leaves {src.title!r} from output {edge.src_port!r}, which it lacks",
        )
        _expect(
            dst.input_port(edge.dst_port) is not None,
            f"an edge enters {dst.title!r} at input {edge.dst_port!r}, which it lacks",
        )
        graph.insert_edge(edge)
    try:
        graph.topological_order()
    except ValueError:
        raise WorkflowFileError("its edges form a cycle") from None
    for edge in graph.edges:
        src, dst = graph.node(edge.src_node), graph.node(edge.dst_node)
        if src.is_placeholder or dst.is_placeholder:
            continue
        out_type = graph.resolved_output_type(src.id, edge.src_port)
        in_type = dst.input_port(edge.dst_port).type  # type: ignore[union-attr]
        _expect(
            in_type.accepts(out_type),
            f"an edge joins {src.title}.{edge.src_port} "
            f"({out_type.value}) to {dst.title}.{edge.dst_port} ({in_type.value})",
        )

    groups = data.get("groups", [])
    _expect(isinstance(groups, list), "'groups' must be a list")
    for record in groups:
        graph.add_group(_parse_group(record))
    return LoadedWorkflow(graph, warnings)


def _parse_node(
    graph: Graph, node_id: Any, record: Any, edges: list[Edge], warnings: list[str]
) -> Node:
    _expect(isinstance(node_id, str) and 0 < len(node_id) <= 64, f"bad node id {node_id!r}")
    _expect(isinstance(record, dict), f"node {node_id!r} must be an object")
    type_id = record.get("type")
    _expect(isinstance(type_id, str) and type_id, f"node {node_id!r} has no 'type'")
    title = record.get("title", type_id)
    _expect(isinstance(title, str), f"node {node_id!r}: 'title' must be text")
    position = _parse_position(record.get("position", [0, 0]), f"node {node_id!r}")
    bypass = record.get("bypass", False)
    _expect(isinstance(bypass, bool), f"node {node_id!r}: 'bypass' must be true or false")
    params = record.get("params", {})
    _expect(isinstance(params, dict), f"node {node_id!r}: 'params' must be an object")
    version = record.get("version", 1)
    _expect(
        isinstance(version, int) and not isinstance(version, bool) and 0 <= version < 10**6,
        f"node {node_id!r}: 'version' must be a whole number",
    )

    spec = graph.registry.get(type_id)
    if spec is None:
        warnings.append(
            f"{title!r} is a {type_id!r} node, which this install does not have; it is kept "
            "as a placeholder and saved back unchanged"
        )
        raw = dict(record)
        raw["_inputs"] = sorted({e.dst_port for e in edges if e.dst_node == node_id})
        raw["_outputs"] = sorted({e.src_port for e in edges if e.src_node == node_id})
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
    return node


def _parse_edge(index: int, record: Any) -> Edge:
    where = f"edge #{index + 1}"
    _expect(isinstance(record, dict), f"{where} must be an object")
    ends = []
    for key in ("from", "to"):
        end = record.get(key)
        _expect(isinstance(end, dict), f"{where} needs a '{key}' object")
        node, port = end.get("node"), end.get("port")
        _expect(
            isinstance(node, str) and isinstance(port, str),
            f"{where}: '{key}' needs text 'node' and 'port'",
        )
        ends.append((node, port))
    return Edge(ends[0][0], ends[0][1], ends[1][0], ends[1][1])


def _parse_group(record: Any) -> Group:
    _expect(isinstance(record, dict), "each group must be an object")
    group_id = record.get("id")
    _expect(isinstance(group_id, str) and group_id, "a group has no 'id'")
    kind = record.get("kind", "backdrop")
    _expect(kind in ("backdrop", "note"), f"group {group_id!r}: unknown kind {kind!r}")
    rect = record.get("rect", [0, 0, 400, 300])
    _expect(
        isinstance(rect, list) and len(rect) == 4 and all(_finite(v) for v in rect),
        f"group {group_id!r}: 'rect' must be four numbers",
    )
    _expect(all(abs(v) <= MAX_COORDINATE for v in rect), f"group {group_id!r}: absurd 'rect'")
    fields = {k: record.get(k, "") for k in ("title", "text")}
    for name, value in fields.items():
        _expect(isinstance(value, str), f"group {group_id!r}: '{name}' must be text")
    color = record.get("color", "#3b4252")
    _expect(isinstance(color, str), f"group {group_id!r}: 'color' must be text")
    return Group(
        group_id, kind, fields["title"], fields["text"], tuple(float(v) for v in rect), color
    )  # type: ignore[arg-type]


def _parse_position(value: Any, where: str) -> tuple[float, float]:
    _expect(
        isinstance(value, list) and len(value) == 2 and all(_finite(v) for v in value),
        f"{where}: 'position' must be two numbers",
    )
    _expect(all(abs(v) <= MAX_COORDINATE for v in value), f"{where}: absurd position {value}")
    return float(value[0]), float(value[1])


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise WorkflowFileError(message)
