"""The node types Studio ships, gathered into one registry for a session.

This is the only place that joins the graph layer to the ``nodes`` package, so the graph never
imports the nodes that are built on it (that was the one import cycle).
"""

from __future__ import annotations

import nodes
from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.registry import NodeRegistry


def default_registry() -> NodeRegistry:
    """Every node type shipped in ``nodes/`` plus the built-in reroute."""
    registry = NodeRegistry(BUILTIN_SPECS)
    nodes.register_all(registry)
    return registry
