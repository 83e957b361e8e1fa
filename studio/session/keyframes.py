"""The keyframe under a node: the nearest cached picture upstream of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from studio.graph.graph import Graph

# (graph, node id) -> that node's cached outputs, or None when nothing is stored.
OutputReader = Callable[[Graph, str], dict[str, Any] | None]


def keyframe_for(graph: Graph, node_id: str, read: OutputReader) -> np.ndarray | None:
    """Breadth first up the wires, the ``image`` input before others: a MotionBrush's
    keyframe sits behind its RegionMask. None when nothing upstream is cached yet."""
    if node_id not in graph:
        return None
    queue, seen = [node_id], {node_id}
    while queue:
        current = queue.pop(0)
        edges = sorted(graph.edges_into(current), key=lambda e: e.dst_port != "image")
        for edge in edges:
            value = (read(graph, edge.src_node) or {}).get(edge.src_port)
            if isinstance(value, np.ndarray) and value.ndim == 3:
                return value
            if edge.src_node not in seen:
                seen.add(edge.src_node)
                queue.append(edge.src_node)
    return None
