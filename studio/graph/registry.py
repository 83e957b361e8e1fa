"""The registry of node types available to one Studio session (passed around, never global).

The registry of everything Studio ships is built by :func:`studio.session.default_registry`:
the graph layer knows nothing of the ``nodes`` package.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from studio.graph.spec import NodeSpec


class NodeRegistry:
    """Collects :class:`NodeSpec` objects by type id."""

    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        # What became of each third-party node package (studio.session.plugins.PluginReport).
        self.plugin_reports: list[Any] = []
        # The blueprint library (studio.session.blueprints.BlueprintLibrary) that linked
        # subgraphs are resolved against when a workflow opens; None: none.
        self.blueprints: Any = None
        for spec in specs:
            self.register(spec)

    def register(self, spec: NodeSpec) -> None:
        if spec.type_id == "Subgraph":  # each subgraph node makes its own spec
            raise ValueError("node type 'Subgraph' is reserved for subgraphs")
        if spec.type_id in self._specs:
            raise ValueError(f"node type {spec.type_id!r} is registered twice")
        self._specs[spec.type_id] = spec

    def get(self, type_id: str) -> NodeSpec | None:
        return self._specs.get(type_id)

    def __getitem__(self, type_id: str) -> NodeSpec:
        spec = self._specs.get(type_id)
        if spec is None:
            raise KeyError(f"unknown node type {type_id!r}")
        return spec

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: (s.category, s.title)))

    def __len__(self) -> int:
        return len(self._specs)
