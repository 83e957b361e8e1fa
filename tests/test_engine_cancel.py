"""Cooperative cancellation: within one progress step, and nothing cached afterwards."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from studio.engine import Cache, CancelToken, Engine, RenderJob, RunEvent
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType


class Looper:
    """A node that loops ``steps`` times, reporting progress each step."""

    def __init__(self) -> None:
        self.steps_done: list[int] = []
        self.release = threading.Event()  # worker tests: hold the loop until told
        self.release.set()
        spec = NodeSpec(
            "Loop",
            "Loop",
            "Test",
            self.run,
            outputs=(Port("out", PortType.ANY),),
            params=(Param("steps", ParamKind.INT, 10, min=1, help="Steps."),),
        )
        sink = NodeSpec(
            "Sink",
            "Sink",
            "Test",
            lambda ctx, i, p: {"out": i["a"]},
            inputs=(Port("a", PortType.ANY),),
            outputs=(Port("out", PortType.ANY),),
        )
        self.registry = NodeRegistry([spec, sink])

    def run(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        for step in range(params["steps"]):
            self.release.wait(timeout=30)
            self.steps_done.append(step)
            ctx.progress(step + 1, params["steps"])
        return {"out": np.arange(3)}


def test_cancel_from_the_event_callback_stops_within_one_step(tmp_path: Path):
    looper = Looper()
    graph = Graph(looper.registry)
    loop = graph.add("Loop").id
    sink = graph.add("Sink").id
    graph.connect(loop, "out", sink, "a")
    engine = Engine(looper.registry, Cache(tmp_path / "cache", disk_min_seconds=0))
    token = CancelToken()
    events: list[RunEvent] = []

    def listen(event: RunEvent) -> None:
        events.append(event)
        if event.kind == "node_progress" and event.step == 3:
            token.cancel()

    result = engine.run(graph, output_dir=tmp_path, on_event=listen, cancel=token)
    assert result.status == "cancelled"
    assert looper.steps_done == [0, 1, 2]  # step 3's progress call raised
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["node_cancelled", "run_finished"]
    assert (
        events[-1].status == "cancelled"
        and "node_started" not in kinds[kinds.index("node_cancelled") :]
    )
    assert engine.state(graph) == {loop: "stale", sink: "stale"}
    assert not list((tmp_path / "cache").rglob("manifest.json"))

    looper.steps_done.clear()
    assert engine.run(graph, output_dir=tmp_path).status == "ok"
    assert looper.steps_done == list(range(10))  # nothing was cached: it ran in full


def test_node_that_swallows_cancellation_caches_nothing(tmp_path: Path):
    def stubborn(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        try:
            ctx.progress(1, 2)
        except Exception:
            pass
        return {"out": 1}

    registry = NodeRegistry(
        [NodeSpec("S", "S", "T", stubborn, outputs=(Port("out", PortType.ANY),))]
    )
    graph = Graph(registry)
    graph.add("S")
    token = CancelToken()
    token.cancel()
    engine = Engine(registry, Cache(tmp_path / "c", disk_min_seconds=0))
    assert engine.run(graph, output_dir=tmp_path, cancel=token).status == "cancelled"
    assert set(engine.state(graph).values()) == {"stale"}


def test_render_job_runs_a_snapshot_on_a_thread_and_cancels(tmp_path: Path):
    looper = Looper()
    looper.release.clear()
    graph = Graph(looper.registry)
    loop = graph.add("Loop", params={"steps": 50}).id
    events: list[RunEvent] = []
    threads: set[str] = set()
    progressed = threading.Event()

    def listen(event: RunEvent) -> None:
        events.append(event)
        threads.add(threading.current_thread().name)
        if event.kind == "node_progress":
            looper.release.clear()  # hold the loop before its next step
            progressed.set()

    engine = Engine(looper.registry, Cache(tmp_path / "cache", disk_min_seconds=0))
    job = RenderJob(engine, graph.copy(), output_dir=tmp_path, on_event=listen)
    job.start()
    graph.node(loop).set_param("steps", 2)  # edits to the live graph do not reach the snapshot
    looper.release.set()
    assert progressed.wait(timeout=30)
    job.cancel()
    looper.release.set()
    result = job.wait(timeout=30)
    assert result is not None and not job.running
    assert result.status == "cancelled"
    assert threads == {"studio-render"}
    assert next(e for e in events if e.kind == "node_progress").total == 50  # the snapshot
    assert looper.steps_done == [0, 1]  # the run saw the cancel at its next progress step
    assert [e.kind for e in events][-2:] == ["node_cancelled", "run_finished"]


def test_render_job_returns_the_outputs(tmp_path: Path):
    looper = Looper()
    graph = Graph(looper.registry)
    loop = graph.add("Loop", params={"steps": 2}).id
    job = RenderJob(
        Engine(looper.registry, Cache(tmp_path / "c", disk_min_seconds=0)),
        graph,
        [loop],
        output_dir=tmp_path,
    )
    job.start()
    result = job.wait(timeout=30)
    assert result is not None and result.status == "ok"
    np.testing.assert_array_equal(result.outputs[loop]["out"], np.arange(3))


def test_render_job_reports_an_engine_bug_instead_of_vanishing(tmp_path: Path):
    looper = Looper()
    engine = Engine(looper.registry, Cache(tmp_path / "c", disk_min_seconds=0))
    graph = Graph(looper.registry)
    graph.add("Loop")
    events: list[RunEvent] = []
    job = RenderJob(engine, graph, ["no-such-node"], output_dir=tmp_path, on_event=events.append)
    job.start()
    assert job.wait(timeout=30) is None and not job.running
    assert "no-such-node" in str(job.error)
    assert events[-1].kind == "run_finished" and events[-1].status == "failed"
    assert "GraphError" in events[-1].message
