"""Live draft feedback without Qt: the session's Draft/Final switch, and the LiveRenderer's
coalescing, cancelling, yielding and no-files rules (threads ordered by engine events)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine import Cache, Engine, RunEvent
from studio.engine.live import LivePass, LiveRefused, LiveRenderer, LiveResult, playhead_graph
from studio.graph.draft import DraftSettings, is_draft
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType
from studio.session import Session, SessionEventKind
from studio.session.catalog import default_registry

WAIT = 30  # seconds: only reached if something is broken


class Stubs:
    """Gate (waits at its first step while ``hold`` is clear) -> Sink -> Tail, and Save."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()

        def gate(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
            ctx.progress(0, 2)
            self.open.wait(WAIT)
            ctx.progress(1, 2)
            return {"out": np.full(3, params["value"])}

        def through(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
            return {"out": inputs["a"] + 1}

        def save(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
            raise AssertionError("a live run must never run an output node")

        port_in, port_out = (Port("a", PortType.ANY),), (Port("out", PortType.ANY),)
        self.registry = NodeRegistry(
            [
                NodeSpec(
                    "Gate",
                    "Gate",
                    "Test",
                    gate,
                    outputs=port_out,
                    params=(Param("value", ParamKind.FLOAT, 1.0, help="Value."),),
                ),
                NodeSpec("Sink", "Sink", "Test", through, inputs=port_in, outputs=port_out),
                NodeSpec("Tail", "Tail", "Test", through, inputs=port_in, outputs=port_out),
                NodeSpec("Save", "Save", "Test", save, inputs=port_in, output_node=True),
            ]
        )

    def chain(self) -> tuple[Graph, list[str]]:
        graph = Graph(self.registry)
        ids = [graph.add(t).id for t in ("Gate", "Sink", "Tail", "Save")]
        for a, b in zip(ids, ids[1:], strict=False):
            graph.connect(a, "out", b, "a")
        return graph, ids


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[int, RunEvent]] = []
        self.results: list[LiveResult] = []
        self.gate_waiting = threading.Event()  # serial 1's Gate reached its first step
        self.done: dict[int, threading.Event] = {}

    def on_event(self, serial: int, event: RunEvent) -> None:
        self.events.append((serial, event))
        if serial == 1 and event.kind == "node_progress" and event.step == 0:
            self.gate_waiting.set()

    def on_result(self, result: LiveResult) -> None:
        self.results.append(result)
        self.done.setdefault(result.serial, threading.Event()).set()

    def finished(self, serial: int) -> threading.Event:
        return self.done.setdefault(serial, threading.Event())

    def started(self, serial: int) -> list[str]:
        return [e.node_id for s, e in self.events if s == serial and e.kind == "node_started"]


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def live(tmp_path: Path):
    stubs = Stubs()
    cache = Cache(tmp_path / "cache", disk_min_seconds=0, background=False)
    engine = Engine(stubs.registry, cache)
    record = Recorder()
    renderer = LiveRenderer(engine, on_result=record.on_result, on_event=record.on_event)
    yield stubs, engine, renderer, record
    stubs.open.set()
    renderer.close()


def test_a_superseded_live_run_stops_and_caches_nothing(live, tmp_path: Path) -> None:
    stubs, engine, renderer, record = live
    graph, (gate, sink, tail, _save) = stubs.chain()
    stubs.open.clear()
    old = graph.copy()
    assert renderer.request(old, tail, output_dir=tmp_path / "out") == 1
    assert record.gate_waiting.wait(WAIT)  # serial 1 is inside Gate
    graph.node(gate).set_param("value", 5.0)  # the artist drags on
    newer = renderer.request(graph.copy(), tail, output_dir=tmp_path / "out")
    stubs.open.set()
    assert record.finished(newer).wait(WAIT)
    assert renderer.wait_idle(WAIT)

    first = next(r for r in record.results if r.serial == 1)
    assert first.status == "cancelled" and first.outputs is None
    assert record.started(1) == [gate]  # none of its downstream nodes started
    old_keys = engine.keys(old)
    assert not any(engine.cache.contains(old_keys[n]) for n in (gate, sink, tail))
    latest = [r for r in record.results if r.serial == newer]
    assert [r.status for r in latest] == ["ok"]
    assert latest[0].outputs is not None and list(latest[0].outputs["out"]) == [7.0] * 3
    assert record.started(newer) == [gate, sink, tail]
    # Live runs write no files: no renders, no takes, no disk-cache entries.
    assert files_under(tmp_path) == []
    # ... but what they made is reused: the same request again runs nothing.
    again = renderer.request(graph.copy(), tail, output_dir=tmp_path / "out")
    assert record.finished(again).wait(WAIT)
    assert record.started(again) == []


def test_the_latest_request_wins(live, tmp_path: Path) -> None:
    stubs, _engine, renderer, record = live
    graph, (gate, _sink, tail, _save) = stubs.chain()
    stubs.open.clear()
    renderer.request(graph.copy(), tail)
    assert record.gate_waiting.wait(WAIT)
    serials = []
    for value in (2.0, 3.0, 4.0):
        graph.node(gate).set_param("value", value)
        serials.append(renderer.request(graph.copy(), tail))
    stubs.open.set()
    assert record.finished(serials[-1]).wait(WAIT)
    assert renderer.wait_idle(WAIT)
    assert {r.serial for r in record.results} == {1, serials[-1]}  # 2 and 3 never ran
    assert list(record.results[-1].outputs["out"]) == [6.0] * 3


def test_live_runs_yield_to_a_final_render(live) -> None:
    stubs, _engine, renderer, record = live
    graph, (_gate, _sink, tail, _save) = stubs.chain()
    renderer.hold()  # a final render started
    serial = renderer.request(graph.copy(), tail)
    assert not renderer.wait_idle(0)  # waiting, not running: the worker is held
    assert record.events == []
    renderer.release()
    assert record.finished(serial).wait(WAIT)
    assert record.results[-1].status == "ok"


def test_a_hold_stops_the_live_run_and_runs_it_again_after(live) -> None:
    stubs, _engine, renderer, record = live
    graph, (gate, _sink, tail, _save) = stubs.chain()
    stubs.open.clear()
    renderer.request(graph.copy(), tail)
    assert record.gate_waiting.wait(WAIT)
    renderer.hold()
    stubs.open.set()
    assert record.finished(1).wait(WAIT)
    assert record.results[0].status == "cancelled"
    assert record.started(1) == [gate]
    renderer.release()  # the artist's last edit is rendered once the final one is done
    assert renderer.wait_idle(WAIT)
    assert [r.status for r in record.results] == ["cancelled", "ok"]


def test_output_nodes_are_never_rendered_live(live) -> None:
    stubs, _engine, renderer, _record = live
    graph, (_gate, _sink, _tail, save) = stubs.chain()
    with pytest.raises(LiveRefused, match="writes files"):
        renderer.request(graph.copy(), save)


def test_playhead_graph_cuts_sources_only_through_framewise_nodes() -> None:
    registry = default_registry(plugins=False)
    graph = Graph(registry)
    load = graph.add("LoadVideo")
    load.set_param("start_frame", 3)
    load.set_param("frame_step", 2)
    upscale = graph.add("Upscale")
    graph.connect(load.id, "video", upscale.id, "video")
    cut = playhead_graph(graph, upscale.id, 10)
    assert cut is not None
    assert cut.node(load.id).params_view()["start_frame"] == 3 + 10 * 2
    assert cut.node(load.id).params_view()["max_frames"] == 1
    assert graph.node(load.id).params_view()["start_frame"] == 3  # the graph is untouched
    stabilize = graph.add("Stabilize")
    graph.connect(upscale.id, "video", stabilize.id, "video")
    assert playhead_graph(graph, stabilize.id, 10) is None  # it looks across frames


def test_live_pass_order_first_then_full(live) -> None:
    stubs, _engine, renderer, record = live
    graph, (gate, _sink, tail, _save) = stubs.chain()
    first = graph.copy()
    first.node(gate).set_param("value", 9.0)
    serial = renderer.request(graph.copy(), tail, first=first)
    assert renderer.wait_idle(WAIT)
    passes = [(r.live_pass, r.status) for r in record.results if r.serial == serial]
    assert passes == [(LivePass.FIRST, "ok"), (LivePass.FULL, "ok")]


def test_session_draft_switch_drafts_what_renders() -> None:
    session = Session(default_registry(plugins=False))
    session.graph.add("SampleImage")
    kinds: list[SessionEventKind] = []
    session.subscribe(lambda e: kinds.append(e.kind))
    job, snapshot = session.start_job()
    assert not job.draft and not is_draft(snapshot)
    session.set_draft(DraftSettings())
    assert SessionEventKind.DRAFT_CHANGED in kinds
    job, snapshot = session.start_job()
    assert job.draft and is_draft(snapshot) and not is_draft(session.graph)
    kinds.clear()
    session.set_draft(DraftSettings())  # the same settings: no event
    assert SessionEventKind.DRAFT_CHANGED not in kinds
    session.set_draft(None)
    assert session.draft is None and not is_draft(session.render_snapshot())


def test_stabilize_makes_the_focus_frame_first_and_reuses_its_tracking(monkeypatch) -> None:
    import clips  # tests/ is on sys.path: helpers by bare name (docs/testing.md)

    from nodes.stabilize import STABILIZE, track
    from studio.engine.codecs import freeze
    from studio.engine.testing import FakeRunContext

    video = clips.shaky_clip(frames=12, size=(96, 64)).video
    freeze(video)  # as the cache holds it
    calls = []
    real = track.analyse
    monkeypatch.setattr(track, "analyse", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(track, "MEMO", track.AnalysisMemo())
    monkeypatch.setattr("nodes.stabilize.MEMO", track.MEMO)
    params = {"deflicker": False}
    plain = STABILIZE.run(FakeRunContext(), {"video": video}, params)
    ctx = FakeRunContext()
    ctx.focus_frame = 7
    smoother = STABILIZE.run(ctx, {"video": video}, {**params, "smoothing": 40.0})
    assert len(calls) == 1  # the second run (another smoothing) tracked nothing again
    previews = [e.preview for e in ctx.run_events if e.kind == "node_preview"]
    assert len(previews) == 1 and np.array_equal(previews[0], smoother["video"].frames[7])
    assert not np.array_equal(plain["video"].frames[7], smoother["video"].frames[7])
    # The same pixels in another array (the cache may map a clip anew) still hit ...
    twin = clips.shaky_clip(frames=12, size=(96, 64)).video
    STABILIZE.run(FakeRunContext(), {"video": twin}, params)
    assert len(calls) == 1
    # ... while a clip that is not frozen (could change in place) is never remembered.
    loose = clips.shaky_clip(frames=12, size=(96, 64), seed=1).video
    STABILIZE.run(FakeRunContext(), {"video": loose}, params)
    STABILIZE.run(FakeRunContext(), {"video": loose}, params)
    assert len(calls) == 3


def test_the_animator_makes_the_focus_frame_first() -> None:
    from nodes.animate import cut_and_drag
    from studio.graph.types import Motion, MotionBrushValue

    keyframe = np.zeros((48, 64, 3), np.uint8)
    keyframe[10:30, 10:30] = 200
    region = np.zeros((48, 64), np.float32)
    region[10:30, 10:30] = 1.0
    brush = MotionBrushValue(region, trajectory=((20 / 64, 20 / 48), (44 / 64, 30 / 48)))
    seen: list[np.ndarray] = []
    done: list[int] = []
    clip = cut_and_drag(
        keyframe,
        Motion(brushes=(brush,)),
        frames=7,
        fps=8,
        focus=4,
        preview=lambda frame: seen.append(frame.copy()) or done.append(len(done)),
        progress=lambda step, total: done.append(-step),
    )
    assert done[0] == 0  # the preview came before any frame of the clip
    assert len(seen) == 1 and np.array_equal(seen[0], clip.video.frames[4])
    assert not np.array_equal(seen[0], clip.video.frames[0])  # the region has moved
