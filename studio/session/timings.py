"""How long nodes took before, for an honest ETA: per node id, falling back to per node type.

A run's remaining time is the sum of what is left of each node's past duration. Until every
node still to run has a history (or the running one has shown enough progress to extrapolate),
the answer is None: the run panel says "estimating" instead of guessing from the elapsed share.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from studio.graph.fileformat import write_text_atomic
from studio.graph.graph import Graph
from studio.session.runs import Job, JobNodeState

_DONE = (
    JobNodeState.CACHED,
    JobNodeState.DONE,
    JobNodeState.FAILED,
    JobNodeState.SKIPPED,
    JobNodeState.CANCELLED,
    JobNodeState.NOT_RUN,
)


class Timings:
    """Past durations in seconds, kept in a small JSON file (``path=None``: memory only)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.by_node: dict[str, float] = {}
        self.by_type: dict[str, float] = {}
        if path is not None:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.by_node = {k: float(v) for k, v in data.get("nodes", {}).items()}
                self.by_type = {k: float(v) for k, v in data.get("types", {}).items()}
            except (OSError, ValueError, AttributeError, TypeError):
                pass  # no history yet (or an unreadable one): estimates start over

    def record(self, node_id: str, type_id: str, seconds: float) -> None:
        self.by_node[node_id] = seconds
        old = self.by_type.get(type_id)
        # A running mean that favours recent runs (models warm up, settings change).
        self.by_type[type_id] = seconds if old is None else 0.5 * old + 0.5 * seconds

    def save(self) -> None:
        if self.path is None:
            return
        data = {"nodes": dict(list(self.by_node.items())[-2000:]), "types": self.by_type}
        try:
            write_text_atomic(self.path, json.dumps(data))
        except OSError:
            pass  # an ETA history is not worth interrupting the artist for

    def expected(self, graph: Graph, node_id: str) -> float | None:
        if node_id in self.by_node:
            return self.by_node[node_id]
        if node_id in graph:
            return self.by_type.get(graph.node(node_id).type_id)
        return None

    def remaining(self, job: Job, graph: Graph, now: float | None = None) -> float | None:
        """Seconds left in ``job``, or None while that cannot be estimated honestly."""
        now = time.monotonic() if now is None else now
        left = 0.0
        for node_id in job.order:
            state = job.states.get(node_id)
            if state in _DONE:
                continue
            expected = self.expected(graph, node_id)
            fraction = job.progress.get(node_id, 0.0)
            if state is JobNodeState.RUNNING:
                ran = now - job.node_started.get(node_id, now)
                if fraction >= 0.1 and ran > 0:
                    # Its own pace beats history once it has shown some.
                    left += ran * (1 - fraction) / fraction
                    continue
                if expected is None:
                    return None
                left += max(0.0, expected - ran)
                continue
            if expected is None:
                return None
            left += expected
        return left
