"""Upgrades of older workflow files, one explicit function per format version step.

Format history:

1. (Studio 0.0, prototype) ``nodes`` was a list of ``{"id", "type", "pos", "params"}`` and
   ``edges`` a list of ``[src_id, src_port, dst_id, dst_port]``.
2. ``nodes`` keyed by id with ``position``/``version``/``title``; edges as from/to objects;
   ``groups`` for backdrops and notes.
3. Variadic inputs: a node record may carry ``slots`` ({port: count}), and edges may enter
   the slots ``port_0``, ``port_1``, ... of such a port (Sequence's clips).
4. Subgraphs: a node of type ``Subgraph`` carries its inner graph (``subgraph``: nodes, edges,
   groups, exposed params) and maybe the blueprint it came from (``blueprint``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CURRENT_FORMAT_VERSION = 4

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    nodes_in = data.get("nodes", [])
    if not isinstance(nodes_in, list):
        raise ValueError("format 1 expects 'nodes' to be a list")
    nodes: dict[str, Any] = {}
    for index, record in enumerate(nodes_in):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ValueError(f"format 1 node #{index + 1} needs an 'id'")
        record = dict(record)
        node_id = record.pop("id")
        if node_id in nodes:
            raise ValueError(f"duplicate node id {node_id!r}")
        record["position"] = record.pop("pos", [0, 0])
        record.setdefault("version", 1)
        nodes[node_id] = record
    edges = []
    for index, edge in enumerate(data.get("edges", [])):
        if not (isinstance(edge, list) and len(edge) == 4):
            raise ValueError(f"format 1 edge #{index + 1} must be [src, port, dst, port]")
        edges.append(
            {"from": {"node": edge[0], "port": edge[1]}, "to": {"node": edge[2], "port": edge[3]}}
        )
    return {
        "format_version": 2,
        "metadata": data.get("metadata", {}),
        "nodes": nodes,
        "edges": edges,
        "groups": [],
    }


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    # No format 2 node had variadic inputs, so every node keeps its type's default slots;
    # a format 2 file that names 'slots' anyway is not one this chain wrote.
    nodes = data.get("nodes", {})
    if isinstance(nodes, dict):
        for node_id, record in nodes.items():
            if isinstance(record, dict) and "slots" in record:
                raise ValueError(f"node {node_id!r} has 'slots', which format 2 did not have")
    return {**data, "format_version": 3}


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    # Format 3 had no subgraphs. A format 3 node typed "Subgraph" came from something else (a
    # node package's type of that name): it keeps its record and opens as a placeholder
    # under a type id that no longer collides with the built-in subgraph node.
    nodes = data.get("nodes", {})
    if isinstance(nodes, dict):
        for node_id, record in list(nodes.items()):
            if isinstance(record, dict) and record.get("type") == "Subgraph":
                nodes[node_id] = {**record, "type": "Subgraph (format 3)"}
    return {**data, "format_version": 4}


MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a parsed workflow up to :data:`CURRENT_FORMAT_VERSION`."""
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError("'format_version' is missing or not a whole number")
    if version > CURRENT_FORMAT_VERSION:
        raise ValueError(
            f"it was written in format {version} by a newer Studio; this one reads up to "
            f"{CURRENT_FORMAT_VERSION}"
        )
    if version < 1:
        raise ValueError(f"unknown format_version {version}")
    while version < CURRENT_FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        version = data["format_version"]
    return data
