"""The keyframe under a node: which wire carries the picture it works on, and that picture
when it is cached."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from studio.graph.graph import Edge, Graph
from studio.graph.types import PortType

# (graph, node id) -> that node's cached outputs, or None when nothing is stored.
OutputReader = Callable[[Graph, str], dict[str, Any] | None]


def keyframe_source(graph: Graph, node_id: str) -> Edge | None:
    """The wire that carries the picture ``node_id`` paints over.

    The nearest one upstream first (breadth first, ``image`` inputs before others): a Region
    Mask's image, or a Motion Brush's keyframe behind its Region Mask. A Motion Brush with no
    mask wired has nothing upstream: then the picture its consumer animates (the Image to
    Video's ``image``) is the keyframe."""
    found = _nearest_picture(graph, [node_id])
    if found is not None:
        return found
    consumers = sorted(graph.downstream([node_id]) - {node_id})
    return _nearest_picture(graph, consumers, skip=graph.downstream([node_id]))


def _nearest_picture(graph: Graph, start: list[str], skip: set[str] | None = None) -> Edge | None:
    queue, seen = list(start), set(start) | (skip or set())
    while queue:
        current = queue.pop(0)
        for edge in sorted(graph.edges_into(current), key=lambda e: e.dst_port != "image"):
            if skip is not None and edge.src_node in skip:
                continue
            try:
                carried = graph.resolved_output_type(edge.src_node, edge.src_port)
            except KeyError:
                carried = PortType.ANY
            if carried is PortType.IMAGE:
                return edge
            if edge.src_node not in seen:
                seen.add(edge.src_node)
                queue.append(edge.src_node)
    return None


def keyframe_for(graph: Graph, node_id: str, read: OutputReader) -> np.ndarray | None:
    """The picture :func:`keyframe_source` finds, when its node's result is cached."""
    if node_id not in graph:
        return None
    edge = keyframe_source(graph, node_id)
    if edge is None:
        return None
    value = (read(graph, edge.src_node) or {}).get(edge.src_port)
    return value if isinstance(value, np.ndarray) and value.ndim == 3 else None
