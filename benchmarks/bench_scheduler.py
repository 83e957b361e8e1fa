"""Scheduler overhead, cached re-runs and incremental re-runs, measured in one run.

    .venv/bin/python -m benchmarks.bench_scheduler

Targets: a full run of 1,000 no-op nodes costs <= 50 us of scheduling per node; the fully
cached re-run <= 20 ms in all; after editing the last node of a 6-stage chain of ~50 ms
nodes exactly one node runs and the re-run costs <= 1.05x that node's own time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.engine import Cache, Engine, RunEvent
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType

ROOT = Path(__file__).resolve().parents[1]
ANY = PortType.ANY


def _noop(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    return {"out": params["n"]}


def _work(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    end = time.perf_counter() + params["seconds"]
    step = 0
    while time.perf_counter() < end:  # busy work, as a real node computes
        step += 1
        if step % 1000 == 0:
            ctx.check_cancelled()
    ctx.progress(1, 1)
    return {"out": params["n"]}


PARAMS = (
    Param("n", ParamKind.INT, 0, min=0, help="A number that makes each node distinct."),
    Param("seconds", ParamKind.FLOAT, 0.05, min=0.0, max=10.0, help="How long to compute."),
)
INPUTS = (Port("a", ANY, optional=True), Port("b", ANY, optional=True))
REGISTRY = NodeRegistry(
    [
        NodeSpec(
            "Noop",
            "No-op",
            "Bench",
            _noop,
            inputs=INPUTS,
            outputs=(Port("out", ANY),),
            params=PARAMS,
        ),
        NodeSpec(
            "Work",
            "Work",
            "Bench",
            _work,
            inputs=INPUTS,
            outputs=(Port("out", ANY),),
            params=PARAMS,
        ),
    ]
)


def wide_graph(count: int) -> Graph:
    """``count`` no-op nodes, each fed by the one before and by one halfway back."""
    graph = Graph(REGISTRY)
    ids: list[str] = []
    for i in range(count):
        node = graph.add("Noop", params={"n": i})
        if ids:
            graph.connect(ids[-1], "out", node.id, "a")
        if i >= 2:
            graph.connect(ids[i // 2], "out", node.id, "b")
        ids.append(node.id)
    return graph


def bench_overhead(
    count: int = 1000, *, disk: bool, disk_min_seconds: float | None = None
) -> tuple[float, float]:
    """Per-node scheduling overhead of a full run (s) and the time of a cached re-run (s).
    When every result goes to disk, the re-run is by a new engine (memory empty), as after
    a restart."""
    graph = wide_graph(count)
    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(Path(folder), disk=disk, disk_min_seconds=disk_min_seconds)
        engine = Engine(REGISTRY, cache, device="cpu")
        node_time = 0.0

        def listen(event: RunEvent) -> None:
            nonlocal node_time
            if event.kind == "node_finished":
                node_time += event.elapsed or 0.0

        full = engine.run(graph, output_dir=Path(folder), on_event=listen)
        assert full.status == "ok" and len(full.executed) == count
        per_node = (full.elapsed - node_time) / count
        best = min(_timed(lambda: engine.run(graph, output_dir=Path(folder))) for _ in range(5))
        if disk and disk_min_seconds == 0:  # a new process: memory empty, all from disk
            cache = Cache(Path(folder), disk_min_seconds=disk_min_seconds)
            fresh = Engine(REGISTRY, cache, device="cpu")
            best = _timed(lambda: fresh.run(graph, output_dir=Path(folder)))
    return per_node, best


def bench_incremental(stages: int = 6, seconds: float = 0.05) -> tuple[int, float, float]:
    """(nodes executed, re-run time, that node's own time) after editing the last stage."""
    graph = Graph(REGISTRY)
    ids: list[str] = []
    for i in range(stages):
        node = graph.add("Work", params={"n": i, "seconds": seconds})
        if ids:
            graph.connect(ids[-1], "out", node.id, "a")
        ids.append(node.id)
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(REGISTRY, Cache(Path(folder)), device="cpu")
        engine.run(graph, output_dir=Path(folder))
        graph.node(ids[-1]).set_param("n", 99)
        own = 0.0

        def listen(event: RunEvent) -> None:
            nonlocal own
            if event.kind == "node_finished":
                own += event.elapsed or 0.0

        start = time.perf_counter()
        result = engine.run(graph, output_dir=Path(folder), on_event=listen)
        total = time.perf_counter() - start
    return len(result.executed), total, own


def time_render_subprocess(
    workflow: Path, out_dir: Path, *, cache_dir: Path | None = None, args: tuple[str, ...] = ()
) -> float:
    """Seconds for ``studio render WORKFLOW`` in a new process (for warm-start benchmarks):
    run it twice with the same ``cache_dir`` and the second figure is the warm start."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["STUDIO_CACHE_DIR"] = str(cache_dir)
    command = [
        sys.executable,
        "-m",
        "studio",
        "render",
        str(workflow),
        "--out",
        str(out_dir),
        "--events",
        "jsonl",
        *args,
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _timed(function: Any) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    print("scheduler (1,000 no-op nodes)")
    tiers = (
        ("memory only", False, None, "cached re-run"),
        # The default: results cheaper than a disk write stay in memory (no-ops all do).
        ("memory + disk, default", True, None, "cached re-run"),
        # Worst case: every result written to disk, then all 1,000 read back by a new engine.
        ("memory + disk, every result", True, 0.0, "re-run from disk"),
    )
    for name, disk, min_seconds, rerun in tiers:
        per_node, cached = bench_overhead(disk=disk, disk_min_seconds=min_seconds)
        print(
            f"  {name:<28}: full run overhead {per_node * 1e6:7.1f} us/node (target <= 50)"
            f"   {rerun} {cached * 1e3:6.1f} ms (target <= 20)"
        )
    executed, total, own = bench_incremental()
    print(
        f"incremental (6 x 50 ms chain, last node edited): {executed} node(s) ran, "
        f"re-run {total * 1e3:.1f} ms vs node {own * 1e3:.1f} ms = {total / own:.3f}x "
        "(target 1 node, <= 1.05x)"
    )


if __name__ == "__main__":
    main()
