"""Cache keys from content, never from ids.

key = hash(node type, node version, canonical params, upstream keys by input port, fingerprints
of the files the node reads, and for output nodes the output folder). Editing one param changes
that node's key and so every key downstream of it, and nothing else.

Nodes that must run every time (``spec.always_run``) get a key salted with a per-run nonce and
are *volatile*, as is everything downstream of them: volatile results are never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.graph.graph import Edge, Graph, Node

KEY_SCHEME = 1  # bump when the recipe below changes, so old cache entries stop matching


@dataclass
class Keys:
    """Cache keys of a set of nodes, and which of them are volatile (never cached)."""

    key: dict[str, str] = field(default_factory=dict)
    volatile: set[str] = field(default_factory=set)


def edges_by_target(graph: Graph) -> dict[str, list[Edge]]:
    index: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        index.setdefault(edge.dst_node, []).append(edge)
    return index


def compute_keys(
    graph: Graph,
    order: Iterable[str],
    *,
    output_dir: Path,
    nonce: str,
    into: dict[str, list[Edge]] | None = None,
) -> Keys:
    """Keys for the nodes in ``order``, which must list every node after its upstream nodes."""
    into = edges_by_target(graph) if into is None else into
    out_dir = os.path.abspath(output_dir)
    keys = Keys()
    for node_id in order:
        node = graph.node(node_id)
        upstream = []
        volatile = False
        for edge in into.get(node_id, ()):
            if edge.src_node not in keys.key:  # upstream outside ``order``: key it too
                sub = compute_keys(
                    graph,
                    graph.topological_order(graph.upstream([edge.src_node])),
                    output_dir=output_dir,
                    nonce=nonce,
                    into=into,
                )
                keys.key.update(sub.key)
                keys.volatile |= sub.volatile
            src_key = keys.key[edge.src_node]
            volatile = volatile or edge.src_node in keys.volatile
            upstream.append((edge.dst_port, src_key, edge.src_port))
        upstream.sort()
        spec = node.spec
        if spec is not None and spec.always_run:
            volatile = True
        recipe: list[Any] = [KEY_SCHEME, node.type_id, upstream]
        if node.bypass:
            recipe.append("bypass")
        else:
            params = node.params_view() if node.spec is not None else node.raw
            recipe += [node.version, dict(params or {}), _fingerprints(node, params)]
            if spec is not None and spec.output_node:
                recipe.append(out_dir)
        if volatile:
            recipe.append(nonce)
            keys.volatile.add(node_id)
        text = json.dumps(recipe, sort_keys=True, separators=(",", ":"), default=str)
        keys.key[node_id] = hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
    return keys


def _fingerprints(node: Node, params: Any) -> list[list[Any]]:
    if node.spec is None:
        return []
    prints: list[list[Any]] = []
    for path in node.spec.files_read(params):
        try:
            stat = path.stat()
        except OSError:
            prints.append([str(path), "missing"])
        else:
            prints.append([os.path.abspath(path), stat.st_size, stat.st_mtime_ns])
    return prints
