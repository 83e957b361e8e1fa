"""Cache keys from content, never from ids.

key = hash(node type, node version, canonical params, upstream keys by input port, and for output
nodes the output folder). A param that names a file, folder or model enters as the content
fingerprint of what it names (:mod:`studio.engine.fingerprint`), not as its path: editing a frame
inside a PNG folder changes the key, and moving the shot to another machine or folder does not.
Editing one param changes that node's key and so every key downstream of it, and nothing else.

Nodes that must run every time (``spec.always_run``) get a key salted with a per-run nonce and
are *volatile*, as is everything downstream of them: volatile results are never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.engine.fingerprint import Fingerprints
from studio.graph.graph import Edge, Graph, Node
from studio.graph.spec import ParamKind

# Bump when the recipe below changes, so old cache entries stop matching.
# 2: files, folders and models enter by content fingerprint instead of path, size and mtime.
KEY_SCHEME = 2
_DEFAULT_PRINTS = Fingerprints()  # in-memory memo for callers that bring none


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
    prints: Fingerprints | None = None,
) -> Keys:
    """Keys for the nodes in ``order`` (listed after their upstream nodes); any upstream node
    missing from ``order`` is keyed too."""
    into = edges_by_target(graph) if into is None else into
    prints = _DEFAULT_PRINTS if prints is None else prints
    order = list(order)
    listed = set(order)
    if any(e.src_node not in listed for n in order for e in into.get(n, ())):
        order = graph.topological_order(graph.upstream(order))
    out_dir = os.path.abspath(output_dir)
    keys = Keys()
    for node_id in order:
        node = graph.node(node_id)
        upstream = []
        volatile = False
        for edge in into.get(node_id, ()):
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
        elif spec is None:
            recipe += [node.version, node.raw]
        else:
            recipe += [node.version, _keyed_params(node, node.params_view(), prints)]
            if spec.package_version:  # a third-party node: its package's version too
                recipe.append([spec.package, spec.package_version])
            if spec.output_node:
                recipe.append(out_dir)
        if volatile:
            recipe.append(nonce)
            keys.volatile.add(node_id)
        text = json.dumps(recipe, sort_keys=True, separators=(",", ":"), default=str)
        keys.key[node_id] = hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
    return keys


def _keyed_params(node: Node, params: Mapping[str, Any], prints: Fingerprints) -> dict[str, Any]:
    """The params as they enter the key: what a file, folder or model param names enters as
    its content fingerprint instead of its path."""
    assert node.spec is not None
    keyed = dict(params)
    for param in node.spec.params:
        value = keyed.get(param.name)
        if param.reads_file and isinstance(value, list):
            # A list of files (LoRAs: file + strength): each file enters by its content.
            keyed[param.name] = [
                {**item, "file": {"content": prints.of_path(item["file"])}}
                if isinstance(item, dict) and isinstance(item.get("file"), str) and item["file"]
                else item
                for item in value
            ]
            continue
        if not isinstance(value, str) or not value:
            continue
        if param.reads_file:
            keyed[param.name] = {"content": prints.of_path(value, param.folder_files)}
        elif param.kind is ParamKind.MODEL:
            keyed[param.name] = {"model": prints.of_model(value, param.model_kind)}
    return keyed
