"""The workflow file: versioned JSON, loaded defensively and saved atomically.

Layout (``format_version`` 4; a ``Subgraph`` node's record also holds ``"subgraph"``:
``{"nodes", "edges", "groups", "exposed": [{"name", "node", "param", "label"}]}`` and maybe
``"blueprint": {"name", "sha256", "linked"}``)::

    {"format_version": 3, "app": "studio 0.1.0", "metadata": {...},
     "nodes": {"<id>": {"type": "Upscale", "version": 1, "title": "...",
                        "position": [x, y], "params": {"scale": 2}, "bypass": false},
               "<id>": {"type": "Sequence", ..., "slots": {"clip": 3}}},
     "edges": [{"from": {"node": "<id>", "port": "video"},
                "to": {"node": "<id>", "port": "video"}}],
     "groups": [{"id": "...", "kind": "backdrop", "title": "...", "rect": [x, y, w, h], ...}]}

Nothing in a file is ever executed: it is parsed with :func:`json.loads` and checked field by
field; any problem becomes one :class:`WorkflowFileError` naming it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from studio import __version__
from studio.graph.fileparse import LoadedWorkflow, WorkflowFileError, build, check_nesting
from studio.graph.graph import Graph, Node
from studio.graph.migrations import CURRENT_FORMAT_VERSION, migrate
from studio.graph.registry import NodeRegistry
from studio.graph.subgraph import SubgraphDef

__all__ = ["LoadedWorkflow", "WorkflowFileError", "dumps", "load", "loads", "from_dict", "save"]

MAX_FILE_BYTES = 64 * 1024 * 1024


# -- writing ----------------------------------------------------------------------------------


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    return {
        "format_version": CURRENT_FORMAT_VERSION,
        "app": f"studio {__version__}",
        "metadata": graph.metadata,
        **graph_body(graph),
    }


def graph_body(graph: Graph) -> dict[str, Any]:
    """Nodes, edges and groups: a whole workflow's, or a subgraph's inside its node record."""
    nodes: dict[str, Any] = {}
    for node in graph.nodes:
        nodes[node.id] = _node_record(node)
    return {
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
    record = {
        "type": node.type_id,
        "version": node.version,
        "title": node.title,
        "position": list(node.position),
        "params": params,
        "bypass": node.bypass,
    }
    if node.seed_control:  # optional: files without it read as "every seed fixed"
        record["seed_control"] = node.seed_control
    if node.slots:  # format 3: variadic inputs and how many slots each has
        record["slots"] = node.slots
    if node.subgraph is not None:  # format 4: the inner graph and what it exposes
        record["subgraph"] = subgraph_record(node.subgraph)
        if node.subgraph.blueprint is not None:
            record["blueprint"] = node.subgraph.blueprint.to_dict()
    return record


def subgraph_record(defn: SubgraphDef) -> dict[str, Any]:
    return {**graph_body(defn.graph), "exposed": [e.to_dict() for e in defn.exposed]}


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
    """Read a workflow file. Only a regular file of at most :data:`MAX_FILE_BYTES` is read, and
    never more than that: a device (/dev/zero), a FIFO or a folder is refused before reading."""
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise WorkflowFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise WorkflowFileError(f"{path.name} is a folder; not a workflow file")
        if not stat.S_ISREG(info.st_mode):
            raise WorkflowFileError(f"{path.name} is not a regular file; not a workflow file")
        raise WorkflowFileError(f"{path.name} is {info.st_size / 1e6:.0f} MB; not a workflow file")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_FILE_BYTES + 1)  # the file may grow while it is read
        except OSError as exc:
            raise WorkflowFileError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise WorkflowFileError(f"{path.name} is over {MAX_FILE_BYTES / 1e6:.0f} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WorkflowFileError(f"cannot read {path.name}: {exc}") from None
    return loads(text, registry, source=path.name)


def loads(text: str, registry: NodeRegistry, source: str = "workflow") -> LoadedWorkflow:
    return from_dict(parse_json(text, source), registry, source=source)


def parse_json(text: str, source: str = "workflow") -> Any:
    """Strict JSON (no NaN, no duplicate keys); any problem is a :class:`WorkflowFileError`.
    (:func:`from_dict` then bounds the nesting.)"""
    try:
        data = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicates
        )
    except json.JSONDecodeError as exc:
        raise WorkflowFileError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise WorkflowFileError(f"{source} is nested too deeply to be a workflow") from None
    except ValueError as exc:
        raise WorkflowFileError(f"{source}: {exc}") from None
    return data


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
    check_nesting(data, source)
    try:
        data = migrate(data)
    except ValueError as exc:
        raise WorkflowFileError(f"{source}: {exc}") from None
    return build(data, registry, source)
