"""How opening, validating and scheduling scale with graph size: 10,000 vs 100,000 nodes.

Two shapes: a chain of Reroute dots behind one Sample Image (the worst case for type
resolution and key recursion), and a wide graph of independent Sample Image -> Reroute pairs.
Each is timed through the whole pre-render path: parse the file, build the graph, validate,
and a dry-run schedule (keys and plan, nothing executes). Prints t(100k)/t(10k) per shape; near-
linear is 10, the target is at most 15.

    python -m benchmarks.bench_validate_scale
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from studio.engine import Cache, Engine
from studio.graph.fileformat import loads
from studio.graph.validate import validate
from studio.session import default_registry

TARGET_RATIO = 15.0


def _node(type_id: str, x: float, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": type_id, "position": [x, 0.0], "params": params or {}}


def _edge(src: str, src_port: str, dst: str, dst_port: str) -> dict[str, Any]:
    return {"from": {"node": src, "port": src_port}, "to": {"node": dst, "port": dst_port}}


def chain_workflow(count: int) -> dict[str, Any]:
    """One Sample Image and ``count - 1`` Reroute dots in a line."""
    nodes = {"n0": _node("SampleImage", 0.0, {"photo": "rocket"})}
    edges = []
    for i in range(1, count):
        nodes[f"n{i}"] = _node("Reroute", float(i))
        edges.append(_edge(f"n{i - 1}", "image" if i == 1 else "out", f"n{i}", "in"))
    return {"format_version": 2, "nodes": nodes, "edges": edges}


def wide_workflow(count: int) -> dict[str, Any]:
    """``count / 2`` independent Sample Image -> Reroute pairs."""
    nodes, edges = {}, []
    for i in range(count // 2):
        nodes[f"s{i}"] = _node("SampleImage", float(i), {"photo": "rocket"})
        nodes[f"r{i}"] = _node("Reroute", float(i))
        edges.append(_edge(f"s{i}", "image", f"r{i}", "in"))
    return {"format_version": 2, "nodes": nodes, "edges": edges}


def time_pipeline(data: dict[str, Any]) -> dict[str, float]:
    """Seconds for each step before a render, on one workflow."""
    registry = default_registry()
    text = json.dumps(data)
    times: dict[str, float] = {}
    start = time.perf_counter()
    graph = loads(text, registry).graph
    times["open"] = time.perf_counter() - start
    start = time.perf_counter()
    problems = [p for p in validate(graph) if p.severity == "error"]
    times["validate"] = time.perf_counter() - start
    assert not problems, problems[:3]
    engine = Engine(registry, Cache(disk=False), models=None)
    start = time.perf_counter()
    dry = engine.dry_run(graph)
    times["schedule"] = time.perf_counter() - start
    assert len(dry.keys) == len(data["nodes"]) and dry.plan
    times["total"] = sum(times.values())
    return times


def main() -> int:
    sys.setrecursionlimit(1000)  # the default: nothing may lean on a raised limit
    worst = 0.0
    for name, build in (("reroute chain", chain_workflow), ("wide graph", wide_workflow)):
        small, large = time_pipeline(build(10_000)), time_pipeline(build(100_000))
        ratio = large["total"] / small["total"]
        worst = max(worst, ratio)
        steps = ", ".join(f"{k} {small[k]:.2f}/{large[k]:.2f} s" for k in small if k != "total")
        print(
            f"{name}: 10k {small['total']:.2f} s, 100k {large['total']:.2f} s, "
            f"t(100k)/t(10k) = {ratio:.1f}  ({steps})"
        )
    print(f"worst ratio {worst:.1f} (target <= {TARGET_RATIO:g})")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
