"""Streaming between nodes: a reader starts on its producer's published clip and reads each
chunk once its frames are written; results are the same as one node at a time; a failing,
cancelled or length-changing producer never leaves a wrong result or a scratch file."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine import Cache, CancelToken, Engine, RunEvent
from studio.engine.filling import Filling, track, untrack
from studio.engine.frames import read_ahead, windows
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType, Video

SIZE = (6, 8, 3)  # 6x8 px: 16 frames make several chunks (see CHUNK)
CHUNK = 4


class Nodes:
    """Make (publishes, then writes frame i as the value i + 1), Double (reads Make's clip in
    order, writes 2x) and Keep (a plain node at the end). ``gate(i)`` runs before Make writes
    frame i: tests hold or steer the producer there."""

    def __init__(self) -> None:
        self.gate: Callable[[int], None] = lambda index: None
        self.read_by_double: list[int] = []  # frame indices Double read, in order
        self.double_read_first = threading.Event()
        make = NodeSpec(
            "Make", "Make", "Test", self.make, stream_out=True,
            outputs=(Port("video", PortType.VIDEO),),
            params=(
                Param("frames", ParamKind.INT, 16, min=1, help="Frames written."),
                Param("says", ParamKind.INT, 0, min=0, help="Frames published (0: frames)."),
                Param("fail_at", ParamKind.INT, -1, min=-1, help="Fail before this frame."),
            ),
        )  # fmt: skip
        double = NodeSpec(
            "Double", "Double", "Test", self.double, stream_in="video", stream_out=True,
            inputs=(Port("video", PortType.VIDEO),), outputs=(Port("video", PortType.VIDEO),),
        )  # fmt: skip
        keep = NodeSpec(
            "Keep", "Keep", "Test", lambda ctx, i, p: {"video": i["video"]},
            inputs=(Port("video", PortType.VIDEO),), outputs=(Port("video", PortType.VIDEO),),
        )  # fmt: skip
        self.registry = NodeRegistry([make, double, keep])

    def make(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        count, says = params["frames"], params["says"] or params["frames"]
        frames = ctx.new_frames((says, *SIZE))
        video = Video(frames, 12.0)
        ctx.publish({"video": video})
        for index in range(count):
            self.gate(index)
            if index == params["fail_at"]:
                raise NodeError(f"broke at frame {index}")
            frames[index] = index + 1
            ctx.frames_ready(index + 1)
            ctx.progress(index + 1, count)
        if count != says:  # the source held fewer frames than it said
            return {"video": Video(np.array(frames[:count]), 12.0)}
        return {"video": video}

    def double(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        video = inputs["video"]
        out = ctx.new_frames(video.frames.shape)
        doubled = Video(out, video.fps)
        ctx.publish({"video": doubled})
        for window in read_ahead(video.frames, chunk=CHUNK):
            for index in range(window.start, window.end):
                out[index] = window[index] * 2
                self.read_by_double.append(index)
                self.double_read_first.set()
                ctx.frames_ready(index + 1)
                ctx.progress(index + 1, len(video))
        return {"video": doubled}


def chain(nodes: Nodes, **make_params: Any) -> tuple[Graph, dict[str, str]]:
    graph = Graph(nodes.registry)
    ids = {"Make": graph.add("Make", params=make_params).id}
    ids |= {name: graph.add(name).id for name in ("Double", "Keep")}
    graph.connect(ids["Make"], "video", ids["Double"], "video")
    graph.connect(ids["Double"], "video", ids["Keep"], "video")
    return graph, ids


def render(
    tmp_path: Path,
    nodes: Nodes,
    graph: Graph,
    *,
    overlap: bool = True,
    cancel: CancelToken | None = None,
    on_event: Callable[[RunEvent], None] = lambda event: None,
) -> tuple[Any, list[RunEvent], Engine]:
    engine = Engine(nodes.registry, Cache(tmp_path / "cache", disk_min_seconds=0))
    engine.overlap = overlap
    events: list[RunEvent] = []
    threads: set[int] = set()

    def listen(event: RunEvent) -> None:
        events.append(event)
        threads.add(threading.get_ident())
        on_event(event)

    result = engine.run(graph, output_dir=tmp_path / "out", on_event=listen, cancel=cancel)
    assert threads == {threading.get_ident()}, "events came from more than one thread"
    return result, events, engine


def kinds(events: list[RunEvent], node_id: str) -> list[str]:
    return [e.kind for e in events if e.node_id == node_id and e.kind != "node_progress"]


def scratch_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "cache").rglob("*.npy") if "scratch" in p.parent.name]


@pytest.fixture(autouse=True)
def spill_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_SPILL_BYTES", "0")  # every clip a mapped scratch file


def test_the_reader_works_on_frames_while_the_producer_still_writes(tmp_path: Path) -> None:
    nodes = Nodes()
    waited: list[bool] = []

    def gate(index: int) -> None:
        if index == 12:  # Make holds here until Double has read a frame: only at once can it
            waited.append(nodes.double_read_first.wait(timeout=60))

    nodes.gate = gate
    graph, ids = chain(nodes)
    result, events, _engine = render(tmp_path, nodes, graph)
    assert result.status == "ok", result.errors
    assert waited == [True], "Double read nothing while Make was unfinished"
    order = [(e.kind, e.node_id) for e in events if e.kind in ("node_started", "node_finished")]
    assert order.index(("node_started", ids["Double"])) < order.index(
        ("node_finished", ids["Make"])
    )
    assert nodes.read_by_double == list(range(16))  # each frame once, in order
    assert result.executed == [ids["Make"], ids["Double"], ids["Keep"]]
    frames = result.outputs[ids["Keep"]]["video"].frames
    np.testing.assert_array_equal(frames[:, 0, 0, 0], 2 * np.arange(1, 17))


def test_overlapped_results_are_bit_identical_to_one_node_at_a_time(tmp_path: Path) -> None:
    outputs, cached = [], []
    for overlap in (False, True):
        nodes = Nodes()
        graph, ids = chain(nodes)
        result, _events, engine = render(tmp_path / str(overlap), nodes, graph, overlap=overlap)
        outputs.append(np.array(result.outputs[ids["Keep"]]["video"].frames))
        # What the cache kept (the scratch files it adopted) is what was made.
        cached.append(np.array(engine.output(graph, ids["Double"])["video"].frames))
        assert not scratch_files(tmp_path / str(overlap))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(cached[0], cached[1])
    np.testing.assert_array_equal(cached[1], outputs[1])


def test_a_failing_producer_skips_its_reader_and_leaves_no_scratch(tmp_path: Path) -> None:
    nodes = Nodes()
    graph, ids = chain(nodes, fail_at=9)
    result, events, engine = render(tmp_path, nodes, graph)
    assert result.status == "failed"
    assert result.errors == {ids["Make"]: "broke at frame 9"}
    assert kinds(events, ids["Double"])[-1] == "node_skipped"
    assert kinds(events, ids["Keep"]) == ["node_skipped"]
    assert not scratch_files(tmp_path)
    assert engine.state(graph) == {i: "stale" for i in ids.values()}


def test_cancel_wakes_a_reader_waiting_for_frames(tmp_path: Path) -> None:
    nodes = Nodes()
    token = CancelToken()
    release = threading.Event()
    # Make stops at frame 1 until the test lets it go; Double waits for frame 3 (its first
    # chunk) meanwhile, and only the cancel can wake it.
    nodes.gate = lambda index: release.wait(timeout=60) if index == 1 else None
    graph, ids = chain(nodes)

    def on_event(event: RunEvent) -> None:
        if event.kind == "node_started" and event.node_id == ids["Double"]:
            token.cancel()
            release.set()

    result, events, engine = render(tmp_path, nodes, graph, cancel=token, on_event=on_event)
    assert result.status == "cancelled"
    assert kinds(events, ids["Make"])[-1] == "node_cancelled"
    assert kinds(events, ids["Double"])[-1] == "node_cancelled"
    assert "node_started" not in kinds(events, ids["Keep"])
    assert not scratch_files(tmp_path)
    assert not list((tmp_path / "cache").rglob("manifest.json"))
    assert engine.state(graph) == {i: "stale" for i in ids.values()}


def test_a_producer_that_returns_another_clip_restarts_its_reader(tmp_path: Path) -> None:
    nodes = Nodes()
    graph, ids = chain(nodes, frames=10, says=16)  # published 16 frames, made 10
    result, events, _engine = render(tmp_path, nodes, graph)
    assert result.status == "ok", result.errors
    frames = result.outputs[ids["Keep"]]["video"].frames
    np.testing.assert_array_equal(frames[:, 0, 0, 0], 2 * np.arange(1, 11))
    infos = [e.message for e in events if e.kind == "node_info" and e.node_id == ids["Double"]]
    assert any("starting again" in message for message in infos)
    assert result.executed == [ids["Make"], ids["Double"], ids["Keep"]]
    assert not scratch_files(tmp_path)


def test_a_temporal_window_waits_for_its_neighbours_on_a_clip_being_written() -> None:
    frames = np.zeros((11, 2, 2, 3), np.uint8)
    filling = Filling(len(frames), CancelToken())
    track(frames, filling)
    seen: list[tuple[int, int, int, list[int]]] = []  # start, end, ready then, block values

    def read() -> None:
        for window in windows(frames, chunk=3, before=2, after=1):
            seen.append((window.start, window.end, filling.ready, list(window.block[:, 0, 0, 0])))

    reader = threading.Thread(target=read)
    reader.start()
    for index in range(len(frames)):
        frames[index] = index + 1
        filling.advance(index + 1)
    reader.join(timeout=60)
    untrack(frames)
    assert [(start, end) for start, end, _ready, _values in seen] == [
        (0, 3), (3, 6), (6, 9), (9, 11)
    ]  # fmt: skip
    for start, end, ready, values in seen:
        first, last = max(0, start - 2), min(11, end + 1)
        assert ready >= last, f"window {start}..{end} was handed out before frame {last - 1}"
        assert values == list(range(first + 1, last + 1))  # neighbours included, all written


def test_load_upscale_save_overlap_and_save_the_same_frames(tmp_path: Path) -> None:
    import av
    from stream_clips import write_pan_clip

    from studio.session.catalog import default_registry

    clip = write_pan_clip(tmp_path / "pan.mp4", frames=20, size=(64, 48))
    registry = default_registry(plugins=False)
    graph = Graph(registry)
    load = graph.add("LoadVideo", params={"path": str(clip)}).id
    up = graph.add("Upscale", params={"method": "lanczos"}).id
    save = graph.add("SaveVideo", params={"filename": "shot"}).id
    graph.connect(load, "video", up, "video")
    graph.connect(up, "video", save, "video")
    decoded = []
    for overlap in (False, True):
        engine = Engine(registry, Cache(tmp_path / f"cache{overlap}", disk_min_seconds=0))
        engine.overlap = overlap
        events: list[RunEvent] = []
        result = engine.run(graph, output_dir=tmp_path / f"out{overlap}", on_event=events.append)
        assert result.status == "ok", result.errors
        order = [(e.kind, e.node_id) for e in events if e.kind in ("node_started", "node_finished")]
        started_early = [
            order.index(("node_started", reader)) < order.index(("node_finished", producer))
            for producer, reader in ((load, up), (up, save))
        ]
        assert started_early == [overlap, overlap]
        with av.open(result.outputs[save]["files"][0]) as movie:
            decoded.append(np.stack([f.to_ndarray(format="rgb24") for f in movie.decode(video=0)]))
    assert decoded[0].shape == (20, 96, 128, 3)
    np.testing.assert_array_equal(decoded[0], decoded[1])


def test_progress_of_nodes_running_at_once_is_kept_apart(capsys: pytest.CaptureFixture) -> None:
    from studio.cli.progress import ProgressPrinter
    from studio.queue.worker import JobProgress

    printer, job = ProgressPrinter({"a": "Load", "b": "Upscale"}), JobProgress()
    events = [
        RunEvent("run_started", "r", None, node_ids=("a", "b")),
        RunEvent("node_started", "r", "a"),
        RunEvent("node_progress", "r", "a", step=3, total=10),
        RunEvent("node_started", "r", "b"),
        RunEvent("node_progress", "r", "b", step=1, total=10),
        RunEvent("node_progress", "r", "a", step=5, total=10),
    ]
    for event in events:
        printer(event)
        job.update(event)
    assert printer.bars["a"].n == 5 and printer.bars["b"].n == 1
    assert job.fraction == pytest.approx((0.5 + 0.1) / 2)
    for event in (RunEvent("node_finished", "r", "a", elapsed=1.0),
                  RunEvent("node_progress", "r", "b", step=10, total=10)):  # fmt: skip
        printer(event)
        job.update(event)
    assert list(printer.bars) == ["b"] and printer.bars["b"].n == 10
    assert job.fraction == pytest.approx(1.0)
    printer(RunEvent("run_finished", "r", None, status="ok", elapsed=2.0))
    assert not printer.bars and "Load: done in 1.00 s" in capsys.readouterr().err


def test_a_three_node_chain_restarts_everything_after_a_changed_clip(tmp_path: Path) -> None:
    nodes = Nodes()
    graph = Graph(nodes.registry)
    make = graph.add("Make", params={"frames": 9, "says": 14}).id
    first, second = graph.add("Double").id, graph.add("Double").id
    graph.connect(make, "video", first, "video")
    graph.connect(first, "video", second, "video")
    gc.disable()  # no scratch file may wait for the garbage collector (cycles via tracebacks)
    try:
        result, events, engine = render(tmp_path, nodes, graph)
    finally:
        gc.enable()
    assert result.status == "ok", result.errors
    frames = result.outputs[second]["video"].frames
    np.testing.assert_array_equal(frames[:, 0, 0, 0], 4 * np.arange(1, 10))
    assert result.executed == [make, first, second]
    assert engine.state(graph) == {make: "cached", first: "cached", second: "cached"}
    assert not scratch_files(tmp_path)
