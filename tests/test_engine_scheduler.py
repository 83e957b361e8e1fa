"""The scheduler with stub nodes: what ran, what came from the cache, in what order."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine import Cache, Engine, RunEvent
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType

ANY = PortType.ANY


class Stubs:
    """A registry of stub nodes that records every run in ``calls``."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.registry = NodeRegistry(
            [
                NodeSpec(
                    "Const",
                    "Const",
                    "Test",
                    self._const,
                    version=1,
                    outputs=(Port("out", ANY),),
                    params=(Param("value", ParamKind.FLOAT, 1.0, help="The value."),),
                ),
                NodeSpec(
                    "Add",
                    "Add",
                    "Test",
                    self._add,
                    version=1,
                    inputs=(Port("a", ANY), Port("b", ANY, optional=True)),
                    outputs=(Port("out", ANY),),
                    params=(Param("k", ParamKind.FLOAT, 0.0, help="Added."),),
                ),
                NodeSpec(
                    "Fail",
                    "Fail",
                    "Test",
                    self._fail,
                    inputs=(Port("a", ANY),),
                    outputs=(Port("out", ANY),),
                    params=(Param("bug", ParamKind.BOOL, False, help="Crash."),),
                ),
                NodeSpec(
                    "Noise",
                    "Noise",
                    "Test",
                    self._noise,
                    always_run=True,
                    outputs=(Port("out", ANY),),
                ),
                NodeSpec(
                    "Save",
                    "Save",
                    "Test",
                    self._save,
                    output_node=True,
                    inputs=(Port("a", ANY),),
                    still_valid=_files_exist,
                    params=(Param("name", ParamKind.STRING, "x.npy", help="File."),),
                ),
                NodeSpec(
                    "Image",
                    "Image",
                    "Test",
                    self._image,
                    outputs=(Port("image", PortType.IMAGE),),
                    params=(Param("dtype", ParamKind.STRING, "uint8", help="dtype"),),
                ),
            ]
        )

    def _const(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(ctx.node_id)
        ctx.progress(1, 1)
        return {"out": np.full((2, 2), params["value"])}

    def _add(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(ctx.node_id)
        ctx.progress(1, 1)
        return {"out": inputs["a"] + inputs.get("b", 0) + params["k"]}

    def _fail(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(ctx.node_id)
        if params["bug"]:
            raise ZeroDivisionError("division by zero")
        raise NodeError("the strength 7 is too high")

    def _noise(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(ctx.node_id)
        return {"out": np.random.default_rng().random((2, 2))}

    def _save(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(ctx.node_id)
        path = Path(ctx.output_dir) / params["name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, inputs["a"])
        return {"files": [str(path)]}

    def _image(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(ctx.node_id)
        return {"image": np.zeros((4, 4, 3), params["dtype"])}


def _files_exist(outputs: Mapping[str, Any]) -> bool:
    return all(Path(p).exists() for p in outputs["files"])


@pytest.fixture
def stubs() -> Stubs:
    return Stubs()


@pytest.fixture
def engine(stubs: Stubs, tmp_path: Path) -> Engine:
    return Engine(stubs.registry, Cache(tmp_path / "cache", disk_min_seconds=0), device="cpu")


def chain(graph: Graph, *types: str) -> list[str]:
    """Nodes of the given types wired out -> a, in order; returns their ids."""
    ids: list[str] = []
    for type_id in types:
        node = graph.add(type_id, title=f"{type_id}{len(ids)}")
        if ids:
            graph.connect(ids[-1], "out", node.id, "a")
        ids.append(node.id)
    return ids


def test_edit_one_param_reruns_only_that_node_and_downstream(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    a, b, c = chain(graph, "Const", "Add", "Add")
    side = graph.add("Const", title="side").id
    graph.connect(side, "out", b, "b")

    first = engine.run(graph, output_dir=tmp_path)
    assert first.status == "ok"
    assert sorted(stubs.calls) == sorted([a, side, b, c])
    np.testing.assert_array_equal(first.outputs[c]["out"], np.full((2, 2), 2.0))

    stubs.calls.clear()
    again = engine.run(graph, output_dir=tmp_path)
    assert stubs.calls == [] and again.cached == [c]  # upstream of a cached node: not loaded

    graph.node(b).set_param("k", 5.0)
    stubs.calls.clear()
    edited = engine.run(graph, output_dir=tmp_path)
    assert stubs.calls == [b, c]
    assert sorted(edited.cached) == sorted([a, side])
    np.testing.assert_array_equal(edited.outputs[c]["out"], np.full((2, 2), 7.0))


def test_targets_run_only_what_they_need(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    a, b, c = chain(graph, "Const", "Add", "Add")
    other = graph.add("Const").id
    result = engine.run(graph, [b], output_dir=tmp_path)
    assert stubs.calls == [a, b]
    assert set(result.outputs) == {b}
    assert c not in result.outputs and other not in stubs.calls


def test_events_follow_the_run(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    a, b = chain(graph, "Const", "Add")
    events: list[RunEvent] = []
    engine.run(graph, output_dir=tmp_path, on_event=events.append)
    kinds = [(e.kind, e.node_id) for e in events]
    assert kinds == [
        ("run_started", None),
        ("node_started", a),
        ("node_progress", a),
        ("node_finished", a),
        ("node_started", b),
        ("node_progress", b),
        ("node_finished", b),
        ("run_finished", None),
    ]
    assert events[0].node_ids == (a, b)
    assert events[-1].status == "ok" and events[-1].elapsed >= 0
    assert len({e.run_id for e in events}) == 1
    assert events[2].to_json() == {
        "kind": "node_progress",
        "run_id": events[0].run_id,
        "node_id": a,
        "step": 1,
        "total": 1,
    }

    events.clear()
    engine.run(graph, output_dir=tmp_path, on_event=events.append)
    assert [(e.kind, e.node_id) for e in events][1] == ("node_cached", b)


def test_failure_is_isolated_to_its_branch(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    a, bad, after = chain(graph, "Const", "Fail", "Add")
    ok = graph.add("Add", title="ok branch").id
    graph.connect(a, "out", ok, "a")
    events: list[RunEvent] = []
    result = engine.run(graph, output_dir=tmp_path, on_event=events.append)

    assert result.status == "failed"
    assert result.errors == {bad: "the strength 7 is too high"}
    failed = next(e for e in events if e.kind == "node_failed")
    assert failed.node_id == bad and failed.traceback is None
    skipped = next(e for e in events if e.kind == "node_skipped")
    assert skipped.node_id == after and "Fail1" in skipped.message
    assert ok in result.outputs and after not in stubs.calls
    assert events[-1].status == "failed"

    # A failed node caches nothing: the next run tries it again.
    stubs.calls.clear()
    engine.run(graph, output_dir=tmp_path)
    assert stubs.calls == [bad]


def test_unexpected_exception_carries_a_traceback(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    _, bad = chain(graph, "Const", "Fail")
    graph.node(bad).set_param("bug", True)
    events: list[RunEvent] = []
    result = engine.run(graph, output_dir=tmp_path, on_event=events.append)
    failed = next(e for e in events if e.kind == "node_failed")
    assert failed.message == "ZeroDivisionError: division by zero"
    assert "Traceback" in failed.traceback and "_fail" in failed.traceback
    assert result.errors[bad] == failed.message


def test_output_that_breaks_the_convention_fails_clearly(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    image = graph.add("Image", params={"dtype": "float32"}).id
    result = engine.run(graph, output_dir=tmp_path)
    assert result.status == "failed"
    assert "uint8" in result.errors[image] and "float32" in result.errors[image]


def test_validation_reports_every_problem_before_running(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    lonely = graph.add("Add", title="lonely").id  # required input 'a' unconnected
    const = graph.add("Const").id
    graph.node(const).set_param("value", "loud")  # not a number
    events: list[RunEvent] = []
    result = engine.run(graph, output_dir=tmp_path, on_event=events.append)
    assert stubs.calls == []
    assert result.status == "failed"
    failed = {e.node_id: e.message for e in events if e.kind == "node_failed"}
    assert set(failed) == {lonely, const}
    assert "'a'" in failed[lonely] and "loud" in failed[const]


def test_always_run_node_and_its_downstream_rerun(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    const = graph.add("Const").id
    noise, add = chain(graph, "Noise", "Add")
    graph.connect(const, "out", add, "b")
    first = engine.run(graph, output_dir=tmp_path)
    stubs.calls.clear()
    second = engine.run(graph, output_dir=tmp_path)
    assert stubs.calls == [noise, add]  # const came from the cache
    assert second.cached == [const]
    assert not np.array_equal(first.outputs[add]["out"], second.outputs[add]["out"])
    state = engine.state(graph, output_dir=tmp_path)
    assert state == {const: "cached", noise: "stale", add: "stale"}
    np.testing.assert_array_equal(
        engine.output(graph, add, output_dir=tmp_path)["out"], second.outputs[add]["out"]
    )


def test_bypassed_node_passes_its_first_input_through(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    a, b, c = chain(graph, "Const", "Add", "Add")
    graph.node(b).set_param("k", 100.0)
    graph.node(b).bypass = True
    result = engine.run(graph, output_dir=tmp_path)
    assert stubs.calls == [a, c]
    np.testing.assert_array_equal(result.outputs[c]["out"], np.full((2, 2), 1.0))
    graph.node(b).bypass = False
    stubs.calls.clear()
    result = engine.run(graph, output_dir=tmp_path)
    assert stubs.calls == [b, c]
    np.testing.assert_array_equal(result.outputs[c]["out"], np.full((2, 2), 101.0))


def test_output_node_result_is_reused_only_while_its_files_exist(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    const, save = chain(graph, "Const", "Save")
    out = tmp_path / "renders"
    result = engine.run(graph, output_dir=out)
    saved = Path(result.outputs[save]["files"][0])
    assert saved.exists() and stubs.calls == [const, save]

    stubs.calls.clear()
    engine.run(graph, output_dir=out)
    assert stubs.calls == []
    assert engine.state(graph, output_dir=out)[save] == "cached"
    assert engine.state(graph)[save] == "cached"  # defaults to the last run's folder

    saved.unlink()
    assert engine.state(graph, output_dir=out)[save] == "stale"
    engine.run(graph, output_dir=out)
    assert stubs.calls == [save] and saved.exists()  # const still cached

    stubs.calls.clear()
    engine.run(graph, output_dir=tmp_path / "elsewhere")  # another folder: another key
    assert stubs.calls == [save]


def test_file_fingerprint_enters_the_key(tmp_path):
    calls: list[str] = []

    def read(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        calls.append(Path(params["path"]).read_text())
        return {"out": calls[-1]}

    spec = NodeSpec(
        "Read",
        "Read",
        "Test",
        read,
        outputs=(Port("out", ANY),),
        params=(Param("path", ParamKind.FILE, "", reads_file=True, help="File."),),
    )
    graph = Graph(NodeRegistry([spec]))
    source = tmp_path / "input.txt"
    source.write_text("one")
    node = graph.add("Read", params={"path": str(source)}).id
    engine = Engine(graph.registry, Cache(tmp_path / "cache", disk_min_seconds=0))
    engine.run(graph, output_dir=tmp_path)
    engine.run(graph, output_dir=tmp_path)
    assert calls == ["one"]
    source.write_text("three")  # new size (and mtime): a new key
    assert engine.run(graph, output_dir=tmp_path).outputs[node]["out"] == "three"


def test_keys_depend_on_content_not_ids(stubs, engine):
    one, two = Graph(stubs.registry), Graph(stubs.registry)
    chain(one, "Const", "Add")
    chain(two, "Const", "Add")
    assert sorted(engine.keys(one).values()) == sorted(engine.keys(two).values())
    two.nodes[0].set_param("value", 2.0)
    assert not set(engine.keys(one).values()) & set(engine.keys(two).values())


def test_cached_values_are_read_only(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    (const,) = chain(graph, "Const")
    value = engine.run(graph, output_dir=tmp_path).outputs[const]["out"]
    with pytest.raises(ValueError):
        value[0, 0] = 5


def test_validation_covers_only_the_nodes_to_run(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    a, b = chain(graph, "Const", "Add")
    broken = graph.add("Add", title="broken").id  # unconnected, but not needed for b
    result = engine.run(graph, [b], output_dir=tmp_path)
    assert result.status == "ok"
    everything = engine.run(graph, output_dir=tmp_path)
    assert everything.status == "failed" and set(everything.errors) == {broken}


def test_unknown_node_type_cannot_run(stubs, engine, tmp_path):
    from studio.graph.fileformat import loads

    data = {"format_version": 2, "nodes": {"x": {"type": "Teleport", "params": {"to": 1}}}}
    graph = loads(json.dumps(data), stubs.registry).graph
    result = engine.run(graph, output_dir=tmp_path)
    assert result.status == "failed" and "'Teleport'" in result.errors["x"]
    assert engine.state(graph) == {"x": "stale"} and engine.output(graph, "x") is None


def test_output_reads_the_cache_and_never_runs(stubs, engine, tmp_path):
    graph = Graph(stubs.registry)
    a, b, c = chain(graph, "Const", "Add", "Add")
    assert engine.output(graph, c) is None and stubs.calls == []
    engine.run(graph, [b], output_dir=tmp_path)
    np.testing.assert_array_equal(engine.output(graph, b)["out"], np.full((2, 2), 1.0))
    graph.node(c).bypass = True  # a bypassed node shows what flows through it
    np.testing.assert_array_equal(engine.output(graph, c)["out"], np.full((2, 2), 1.0))
    # From disk, in a new engine.
    fresh = Engine(stubs.registry, Cache(tmp_path / "cache", disk_min_seconds=0))
    np.testing.assert_array_equal(fresh.output(graph, a)["out"], np.full((2, 2), 1.0))
    assert stubs.calls == [a, b]


def test_a_node_not_stored_is_cached_while_what_consumes_it_is(stubs, tmp_path):
    # Cheap results stay in memory only; after a restart they are gone, but a render would not
    # run them while their consumers are cached, so the badge must not say "stale".
    graph = Graph(stubs.registry)
    a, b, c = chain(graph, "Const", "Add", "Add")
    Engine(stubs.registry, Cache(tmp_path / "c", disk_min_seconds=0)).run(
        graph, output_dir=tmp_path
    )
    fresh = Engine(stubs.registry, Cache(tmp_path / "c", disk_min_seconds=0))
    key_a = fresh.keys(graph, output_dir=tmp_path)[a]
    shutil.rmtree(tmp_path / "c" / "entries" / key_a[:2] / key_a)  # as if too cheap to store
    assert fresh.state(graph, output_dir=tmp_path) == {a: "cached", b: "cached", c: "cached"}
    graph.node(c).set_param("k", 5.0)  # now c must run, and so must a (b is still stored)
    assert fresh.state(graph, output_dir=tmp_path) == {a: "cached", b: "cached", c: "stale"}
    graph.node(b).set_param("k", 5.0)  # b and c must run, and b needs a
    assert fresh.state(graph, output_dir=tmp_path) == {a: "stale", b: "stale", c: "stale"}
