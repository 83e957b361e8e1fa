"""The node types Studio ships, gathered into one registry for a session.

This is the only place that joins the graph layer to the ``nodes`` package, so the graph never
imports the nodes that are built on it (that was the one import cycle).
"""

from __future__ import annotations

import nodes
from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.registry import NodeRegistry
from studio.session.blueprints import BlueprintLibrary
from studio.session.plugins import load_plugins


def default_registry(*, plugins: bool = True) -> NodeRegistry:
    """Every node type shipped in ``nodes/``, the built-in reroute and, with ``plugins``, the
    node packages installed beside Studio (:mod:`studio.session.plugins`); what became of
    each package is in ``registry.plugin_reports``."""
    registry = NodeRegistry(BUILTIN_SPECS)
    nodes.register_all(registry)
    if plugins:
        registry.plugin_reports = load_plugins(registry)
    registry.blueprints = BlueprintLibrary.from_settings()  # linked subgraphs resolve here
    return registry
