"""Draft mode: the same graph, cheaper, for instant feedback while directing.

Each node spec may declare what its draft does (:attr:`NodeSpec.draft`): a function from the
node's params and the :class:`DraftSettings` to the params it runs with in draft (a fraction of
the resolution, every n-th frame keeping the clip's duration, fewer diffusion steps, the fast
upscaler, the built-in animator standing in for a diffusion model if the artist asks). A node
that declares nothing runs as in final.

:func:`draft_graph` applies the declarations to a snapshot. Cache keys come from params, so
draft and final results are cached side by side, and a draft key differs from the final one
exactly where the draft changes something (a node's own params, or anything upstream of it):
switching back to Final re-renders nothing final has already rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from studio.graph.graph import Graph
from studio.graph.subgraph import inner_with_exposed, refresh_spec

DRAFT_METADATA = "draft"  # graph.metadata key: the settings a draft snapshot was made with
DRAFT_SUFFIX = "_draft"  # Save nodes' file names in draft: draft takes never mix with finals


@dataclass(frozen=True)
class DraftSettings:
    """How much cheaper a draft is. Saved in the workflow's metadata with each draft render."""

    scale: float = 0.5  # fraction of the resolution (sources, generated sizes)
    frame_step: int = 2  # every n-th frame; clips keep their duration (fps / n)
    steps_fraction: float = 0.25  # of diffusion steps (at least MIN_STEPS)
    fast_upscale: bool = True  # the cheapest upscaler instead of the chosen one
    animator: bool = False  # the built-in animator instead of a diffusion model

    MIN_STEPS = 4

    def __post_init__(self) -> None:
        if not 0.05 <= self.scale <= 1.0:
            raise ValueError(f"draft scale {self.scale} must be between 0.05 and 1")
        if not 1 <= self.frame_step <= 16:
            raise ValueError(f"draft frame step {self.frame_step} must be between 1 and 16")
        if not 0.0 < self.steps_fraction <= 1.0:
            raise ValueError(f"draft steps fraction {self.steps_fraction} must be in (0, 1]")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DraftSettings:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    # -- helpers for node declarations ---------------------------------------------------------

    def size(self, value: int, multiple: int = 16) -> int:
        """A pixel size scaled down, kept a multiple of ``multiple`` (0 stays 0: automatic)."""
        if value <= 0:
            return value
        return max(multiple, int(round(value * self.scale / multiple)) * multiple)

    def frames(self, count: int, rule: int = 1) -> int:
        """A frame count divided by the step; with ``rule`` k, kept of the form k·n + 1
        (video models want 4n+1 or 8n+1 frames)."""
        if count <= 1 or self.frame_step == 1:
            return count
        fewer = max(2, (count - 1) // self.frame_step + 1)
        if rule > 1:
            fewer = max(rule + 1, ((fewer - 1) // rule) * rule + 1)
        return fewer

    def steps(self, steps: int) -> int:
        return min(steps, max(self.MIN_STEPS, int(round(steps * self.steps_fraction))))


@dataclass
class DraftReport:
    """What the draft changed, per node id: param -> (final value, draft value)."""

    changes: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)


def is_draft(graph: Graph) -> bool:
    return DRAFT_METADATA in graph.metadata


def draft_graph(graph: Graph, settings: DraftSettings | None = None) -> tuple[Graph, DraftReport]:
    """A copy of ``graph`` with every node's draft declaration applied (``graph`` untouched)."""
    settings = settings or DraftSettings()
    copy = graph.copy()
    report = DraftReport()
    _draft_nodes(copy, settings, report, "")
    copy.metadata[DRAFT_METADATA] = settings.to_json()
    return copy, report


def _draft_nodes(graph: Graph, settings: DraftSettings, report: DraftReport, prefix: str) -> None:
    for node in graph.nodes:
        if node.subgraph is not None:
            # The nodes inside draft too: the outer node's exposed values are written in first
            # (this copy only renders), so a drafted inner value is not overridden again.
            node.subgraph.graph = inner_with_exposed(node)
            node.subgraph.exposed = []
            refresh_spec(node)
            _draft_nodes(node.subgraph.graph, settings, report, f"{prefix}{node.id}/")
            continue
        spec = node.spec
        if spec is None or spec.draft is None or node.bypass:
            continue
        params = node.params_view()
        for name, value in spec.draft(params, settings).items():
            old = params.get(name)
            if old != value:
                report.changes.setdefault(prefix + node.id, {})[name] = (old, value)
                node.set_param(name, value)
