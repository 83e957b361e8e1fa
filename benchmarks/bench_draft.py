"""Draft against final: the example shot rendered cold (empty caches) both ways.

    .venv/bin/python -m benchmarks.bench_draft [--rounds 2]

Each round renders the final and then the draft, each with a fresh cache folder, in this one
process (models and imports warm after a first throw-away draft render). Prints each time and
draft / final (target <= 1/8 = 0.125), and which nodes the draft changed and how.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from studio.engine import Cache, Engine
from studio.graph.draft import draft_graph
from studio.graph.fileformat import load
from studio.session.catalog import default_registry

EXAMPLE = Path(__file__).resolve().parent.parent / "resources" / "workflows" / "example.json"
TARGET = 1 / 8


def render(graph, root: Path) -> float:  # noqa: ANN001 - a Graph
    engine = Engine(graph.registry, Cache(root / "cache"))
    start = time.perf_counter()
    result = engine.run(graph, output_dir=root / "out")
    elapsed = time.perf_counter() - start
    assert result.status == "ok", result.errors
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    registry = default_registry()
    final = load(EXAMPLE, registry).graph
    draft, report = draft_graph(final)
    with tempfile.TemporaryDirectory() as tmp:
        render(draft, Path(tmp) / "warm")  # imports, weights, first-call costs
        finals, drafts = [], []
        for i in range(args.rounds):
            finals.append(render(final, Path(tmp) / f"final{i}"))
            drafts.append(render(draft, Path(tmp) / f"draft{i}"))
    print("draft changes:")
    for node_id, changes in report.changes.items():
        what = ", ".join(f"{k} {a!r}->{b!r}" for k, (a, b) in changes.items())
        print(f"  {final.node(node_id).title}: {what}")
    ratios = [d / f for d, f in zip(drafts, finals, strict=True)]
    print(f"final, cold : {', '.join(f'{t:.2f}' for t in finals)} s")
    print(f"draft, cold : {', '.join(f'{t:.2f}' for t in drafts)} s")
    print(
        f"draft / final: {', '.join(f'{r:.3f}' for r in ratios)} "
        f"(median {statistics.median(ratios):.3f}, target <= {TARGET:.3f})"
    )


if __name__ == "__main__":
    main()
