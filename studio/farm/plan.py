"""Which work the jobs of a batch share, so a farm computes it once.

Variants of one workflow differ in a few params; every node upstream of those params has the
same cache key in every variant. The *shared frontier* is the set of shared nodes whose results
some variant actually consumes from a node it does not share: computing just those once and
handing their results to every variant runs the shared upstream once across the cluster. Pure
Python (no Ray), so it is tested on its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from studio.engine.keys import compute_keys, edges_by_target
from studio.graph.graph import Graph


@dataclass
class SharedWork:
    """``targets[i]``: node ids to compute in job ``i``'s graph, whose results every job
    sharing their keys receives; ``keys[i]``: their cache keys, in the same order;
    ``needs[j]``: the keys job ``j`` should be handed."""

    targets: dict[int, list[str]] = field(default_factory=dict)
    keys: dict[int, list[str]] = field(default_factory=dict)
    needs: dict[int, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.targets)


def job_keys(graph: Graph, targets: Sequence[str] | None, nonce: str) -> tuple[dict, set]:
    """Cache keys of the nodes a render of ``targets`` involves, and the volatile ones."""
    from studio.engine.scheduler import default_targets

    wanted = list(targets) if targets else default_targets(graph)
    order = graph.topological_order(graph.upstream(wanted))
    # Output nodes key their output folder; it is the same for every variant of a batch and
    # never shared anyway, since a variant's Save node is downstream of what varies.
    keys = compute_keys(graph, order, output_dir=graph_output_placeholder(), nonce=nonce)
    return keys.key, keys.volatile


def graph_output_placeholder():  # noqa: ANN201 - a Path, kept lazy for import cost
    from pathlib import Path

    return Path("/studio-farm-output")


def plan_shared(
    graphs: Sequence[Graph], targets: Sequence[Sequence[str] | None], nonce: str = "farm"
) -> SharedWork:
    """The shared frontier of ``graphs`` (the jobs of one batch); empty with fewer than two."""
    work = SharedWork()
    if len(graphs) < 2:
        return work
    per_job = [job_keys(g, t, nonce) for g, t in zip(graphs, targets, strict=True)]
    counts = Counter(key for keys, _ in per_job for key in set(keys.values()))
    shared = {key for key, n in counts.items() if n >= 2}
    owner: dict[str, tuple[int, str]] = {}  # key -> (job index, node id) that computes it
    for j, (graph, (keys, volatile)) in enumerate(zip(graphs, per_job, strict=True)):
        into = edges_by_target(graph)
        needed: list[str] = []
        for node_id, key in keys.items():
            if key in shared or node_id in volatile:
                continue
            # A node this job computes itself: which of its inputs come from shared work?
            for edge in into.get(node_id, ()):
                src_key = keys.get(edge.src_node)
                if src_key in shared and edge.src_node not in volatile and src_key not in needed:
                    needed.append(src_key)
                    owner.setdefault(src_key, (j, edge.src_node))
        if needed:
            work.needs[j] = needed
    for key, (j, node_id) in owner.items():
        work.targets.setdefault(j, []).append(node_id)
        work.keys.setdefault(j, []).append(key)
    return work
