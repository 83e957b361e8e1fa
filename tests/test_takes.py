"""Takes: numbered outputs that are never overwritten, tied to the graph that made them."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodes.io.images import SAVE_IMAGE
from nodes.io.save_video import SAVE_VIDEO
from studio.engine import Cache, Engine
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType, Video
from studio.takes import Rating, Take, TakesDB, TakeWriter
from studio.takes.db import DB_NAME
from studio.takes.reindex import reindex


def _run_zoom(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A tiny clip whose pixels depend on ``zoom``: stands in for a real animation."""
    ramp = np.linspace(0, 255 * params["zoom"] / 2, 16 * 24).reshape(16, 24) % 256
    frames = np.stack([np.roll(ramp, t, axis=1) for t in range(4)]).astype(np.uint8)
    return {"video": Video(np.repeat(frames[..., None], 3, axis=3), 8.0)}


ZOOM = NodeSpec(
    type_id="Zoom",
    title="Zoom",
    category="Test",
    run=_run_zoom,
    outputs=(Port("video", PortType.VIDEO),),
    params=(Param("zoom", ParamKind.FLOAT, 1.08),),
)


def shot_graph(zoom: float = 1.08) -> Graph:
    graph = Graph(NodeRegistry([ZOOM, SAVE_VIDEO, SAVE_IMAGE]))
    source = graph.add("Zoom", title="Zoom", node_id="zoom")
    source.set_param("zoom", zoom)
    graph.add("SaveVideo", title="Save shot", node_id="save")
    graph.connect("zoom", "video", "save", "video")
    return graph


def engine(tmp_path: Path) -> Engine:
    return Engine(shot_graph().registry, Cache(tmp_path / "cache"), device="cpu")


def decoded(path: str | Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_every_changed_render_is_a_new_take_and_a_changed_back_graph_is_the_old_one(tmp_path):
    out = tmp_path / "out"
    eng = engine(tmp_path)
    first = eng.run(shot_graph(1.08), output_dir=out)
    assert first.status == "ok" and first.outputs["save"]["take"] == "shot_v001"
    second = eng.run(shot_graph(1.5), output_dir=out)
    assert second.outputs["save"]["take"] == "shot_v002"
    events: list[Any] = []
    third = eng.run(shot_graph(1.08), output_dir=out, on_event=events.append)
    # The case: zoom 1.08, 1.5, 1.08 again. The third run is take 1, whose file is
    # still the 1.08 render, and it says so.
    assert third.executed == [] and third.outputs["save"]["take"] == "shot_v001"
    cached = [e for e in events if e.kind == "node_cached" and e.node_id == "save"]
    assert cached and cached[0].message == "take shot_v001"
    again, before = third.outputs["save"]["files"][0], first.outputs["save"]["files"][0]
    assert np.array_equal(decoded(again), decoded(before))
    assert not np.array_equal(
        decoded(out / "shot" / "shot_v001.mp4"), decoded(out / "shot" / "shot_v002.mp4")
    )
    names = sorted(p.name for p in (out / "shot").iterdir())
    assert names == [f"shot_v00{n}{s}" for n in (1, 2) for s in (".json", ".mp4", "_poster.png")]


def test_an_unchanged_graph_runs_nothing_even_with_an_empty_cache(tmp_path):
    out = tmp_path / "out"
    engine(tmp_path).run(shot_graph(), output_dir=out)
    fresh = Engine(shot_graph().registry, Cache(tmp_path / "other-cache"), device="cpu")
    again = fresh.run(shot_graph(), output_dir=out)
    assert again.executed == [] and again.outputs["save"]["take"] == "shot_v001"
    assert fresh.state(shot_graph(), output_dir=out)["save"] == "cached"


def test_a_take_whose_file_was_replaced_or_deleted_is_rendered_again(tmp_path):
    out = tmp_path / "out"
    eng = engine(tmp_path)
    eng.run(shot_graph(1.5), output_dir=out)
    other = out / "other"
    eng.run(shot_graph(1.08), output_dir=other)
    mp4 = out / "shot" / "shot_v001.mp4"
    os.replace(other / "shot" / "shot_v001.mp4", mp4)  # another render's file in its place
    redo = eng.run(shot_graph(1.5), output_dir=out)
    assert "save" in redo.executed and redo.outputs["save"]["take"] == "shot_v002"
    (out / "shot" / "shot_v002.mp4").unlink()
    redo = Engine(shot_graph().registry, Cache(tmp_path / "c2"), device="cpu").run(
        shot_graph(1.5), output_dir=out
    )
    assert redo.outputs["save"]["take"] == "shot_v003"  # numbers are never reused


def test_the_database_records_the_take(tmp_path):
    out = tmp_path / "out"
    eng = engine(tmp_path)
    eng.run(shot_graph(1.08), output_dir=out)
    eng.run(shot_graph(1.5), output_dir=out)
    with TakesDB(out) as db:
        assert db.journal == "wal"
        newest, oldest = db.list()
        assert (newest.name, oldest.name) == ("shot_v002", "shot_v001")
        take = db.get("shot_v002")
        assert take.changed == {"Zoom.zoom": [1.08, 1.5]}
        assert take.nodes["zoom"]["type"] == "Zoom" and take.nodes["zoom"]["seconds"] >= 0
        assert take.cache_key and take.versions["studio"] and take.device == "cpu"
        assert take.files[0] == "shot/shot_v002.mp4" and not take.missing
        assert json.loads(take.workflow)["nodes"]["zoom"]["params"]["zoom"] == 1.5
        db.rate("shot_v001", Rating.CIRCLE)
        db.set_note("shot_v001", "the keeper")
        (out / "shot" / "shot_v002.mp4").unlink()
        assert db.get("shot_v002").missing  # the files are the truth
        assert [t.name for t in db.list(rating=Rating.CIRCLE)] == ["shot_v001"]
        assert db.get("shot").name == "shot_v002"  # a bare shot name is its newest take


def test_node_packages_are_recorded_and_old_snapshots_restore_through_the_migrations(tmp_path):
    from dataclasses import replace

    from studio.takes.restore import restore_workflow

    plugin = replace(ZOOM, package="acme-nodes", package_version="1.2.0")
    registry = NodeRegistry([plugin, SAVE_VIDEO])
    graph = Graph(registry)
    graph.add("Zoom", node_id="zoom")
    graph.add("SaveVideo", node_id="save")
    graph.connect("zoom", "video", "save", "video")
    Engine(registry, Cache(disk=False), device="cpu").run(graph, output_dir=tmp_path)
    with TakesDB(tmp_path) as db:
        take = db.get("shot_v001")
        assert take.versions["node_packages"] == {"acme-nodes": "1.2.0"}
        # A take made by an early Studio: its snapshot is in file format 1.
        take.workflow = json.dumps(
            {
                "format_version": 1,
                "nodes": [{"id": "zoom", "type": "Zoom", "pos": [0, 0], "params": {"zoom": 2.0}}],
                "edges": [],
            }
        )
    restored = restore_workflow(take, registry).graph
    assert restored.node("zoom").param("zoom") == 2.0


def test_reindex_rebuilds_the_database_from_the_files(tmp_path):
    out = tmp_path / "out"
    eng = engine(tmp_path)
    eng.run(shot_graph(1.08), output_dir=out)
    eng.run(shot_graph(1.5), output_dir=out)
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
        (out / name).unlink(missing_ok=True)
    (out / "shot" / "shot_v002.json").unlink()  # the mp4's embedded workflow must do
    assert reindex(out) == (2, 2)
    with TakesDB(out) as db:
        one, two = db.get("shot_v001"), db.get("shot_v002")
    assert one.changed == {} and one.nodes["zoom"]["type"] == "Zoom"
    assert json.loads(two.workflow)["nodes"]["zoom"]["params"]["zoom"] == 1.5


def test_old_schema_versions_are_refused_clearly_when_newer(tmp_path):
    TakesDB(tmp_path).close()
    raw = sqlite3.connect(tmp_path / DB_NAME)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(Exception, match="newer Studio"):
        TakesDB(tmp_path)


def _write_takes(out: str, shot: str, count: int, tag: int, start: Any) -> list[int]:
    start.wait()  # both processes publish at once
    numbers = []
    for index in range(count):
        with TakeWriter(Path(out), shot) as writer:
            writer.staged(".png").write_bytes(f"{tag}:{index}".encode())
            take = writer.publish(Take(shot=shot, number=0, node_title=f"{tag}:{index}"))
        numbers.append(take.number)
    return numbers


def test_take_numbers_are_unique_under_two_concurrent_processes(tmp_path):
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(2) as pool:
            jobs = [
                pool.apply_async(_write_takes, (str(tmp_path), "shot", 15, tag, start))
                for tag in (1, 2)
            ]
            start.set()
            results = [job.get(timeout=120) for job in jobs]
    numbers = results[0] + results[1]
    assert sorted(numbers) == list(range(1, 31))  # unique, none skipped, none lost
    with TakesDB(tmp_path) as db:
        for take in db.list():
            # Every file holds what its recorded writer staged for it.
            assert take.paths()[0].read_bytes().decode() == take.node_title
    assert not [p for p in (tmp_path / "shot").iterdir() if p.name.startswith(".")]
