"""Variadic inputs: slots a node grows and sheds with undo, saved in format 3, checked, run."""

from __future__ import annotations

import json

import pytest
from test_graph_model import snapshot

from studio.engine.cache import Cache
from studio.engine.scheduler import Engine
from studio.graph import commands as cmd
from studio.graph.fileformat import WorkflowFileError, dumps, loads
from studio.graph.graph import Edge, Graph, GraphError
from studio.graph.migrations import CURRENT_FORMAT_VERSION, migrate
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port, slot_index
from studio.graph.types import PortType
from studio.graph.validate import validate


def _source(ctx, inputs, params):
    return {"image": params["name"]}


def _join(ctx, inputs, params):
    # Slots in order, skipping empty ones: what a Sequence does with its clips.
    slots = sorted((slot_index("clip", k), v) for k, v in inputs.items())
    return {"image": "+".join(v for _, v in slots)}


REGISTRY = NodeRegistry(
    [
        NodeSpec(
            "Src",
            "Source",
            "Test",
            _source,
            outputs=(Port("image", PortType.ANY),),  # ANY: text stands in for pictures
            params=(Param("name", ParamKind.STRING, "a"),),
        ),
        NodeSpec(
            "Join",
            "Join",
            "Test",
            _join,
            inputs=(Port("clip", PortType.IMAGE, "A clip.", variadic=True),),
            outputs=(Port("image", PortType.ANY),),
        ),
    ]
)


def build() -> tuple[Graph, str, list[str]]:
    graph = Graph(REGISTRY)
    join = graph.add("Join").id
    sources = [graph.add("Src", params={"name": n}).id for n in "abc"]
    return graph, join, sources


def test_slots_are_inputs_that_grow_and_shrink_with_undo() -> None:
    graph, join, (a, b, c) = build()
    node = graph.node(join)
    assert [p.name for p in node.inputs] == ["clip_0", "clip_1"]
    assert all(p.optional and p.type is PortType.IMAGE for p in node.inputs)
    graph.connect(a, "image", join, "clip_0")
    graph.connect(b, "image", join, "clip_1")
    before = snapshot(graph)
    add = cmd.AddSlot(join, "clip")
    add.apply(graph)
    assert [p.name for p in node.inputs] == ["clip_0", "clip_1", "clip_2"]
    graph.connect(c, "image", join, "clip_2")
    # Removing the middle slot drops its wire and moves the later one up: order is kept.
    remove = cmd.RemoveSlot(join, "clip", 1)
    after_add = snapshot(graph)
    remove.apply(graph)
    assert node.slot_count("clip") == 2
    assert graph.edge_into(join, "clip_1").src_node == c
    assert graph.edge_into(join, "clip_0").src_node == a
    remove.revert(graph)
    assert snapshot(graph) == after_add
    remove.apply(graph)
    remove.revert(graph)
    assert snapshot(graph) == after_add
    graph.disconnect(graph.edge_into(join, "clip_2"))
    add.revert(graph)
    assert snapshot(graph) == before


def test_slot_limits_say_why() -> None:
    graph, join, (a, _, _) = build()
    graph.connect(a, "image", join, "clip_1")
    with pytest.raises(GraphError, match="clip_1 is connected"):
        graph.node(join).set_slot_count("clip", 1)
    with pytest.raises(GraphError, match="no input 3"):
        cmd.RemoveSlot(join, "clip", 2).apply(graph)
    cmd.RemoveSlot(join, "clip", 0).apply(graph)
    with pytest.raises(GraphError, match="at least one input"):
        cmd.RemoveSlot(join, "clip", 0).apply(graph)
    with pytest.raises(GraphError, match="no variadic input"):
        cmd.AddSlot(a, "image").apply(graph)
    with pytest.raises(GraphError, match="has no input 'clip_5'"):
        graph.connect(a, "image", join, "clip_5")


def test_a_variadic_input_needs_one_wire() -> None:
    graph, join, (a, _, _) = build()
    problems = [str(p) for p in validate(graph, [join])]
    assert problems == ["Join: connect at least one 'clip' input (IMAGE)"]
    graph.connect(a, "image", join, "clip_1")
    assert validate(graph, [join]) == []


def test_the_engine_passes_slots_by_name(tmp_path) -> None:
    graph, join, (a, b, c) = build()
    for _ in range(2):
        cmd.AddSlot(join, "clip").apply(graph)
    graph.connect(c, "image", join, "clip_0")
    graph.connect(a, "image", join, "clip_3")
    graph.connect(b, "image", join, "clip_1")
    engine = Engine(REGISTRY, Cache(tmp_path))
    result = engine.run(graph, [join], output_dir=tmp_path)
    assert result.outputs[join]["image"] == "c+b+a"
    # Moving a wire to another slot changes the result and so the cache key.
    key = engine.keys(graph)[join]
    cmd.RemoveSlot(join, "clip", 0).apply(graph)
    assert engine.keys(graph)[join] != key
    assert engine.run(graph, [join], output_dir=tmp_path).outputs[join]["image"] == "b+a"


def test_slots_round_trip_in_format_3() -> None:
    graph, join, (a, _, c) = build()
    cmd.AddSlot(join, "clip").apply(graph)
    graph.connect(a, "image", join, "clip_0")
    graph.connect(c, "image", join, "clip_2")
    data = json.loads(dumps(graph))
    assert data["format_version"] == CURRENT_FORMAT_VERSION >= 3
    assert data["nodes"][join]["slots"] == {"clip": 3}
    again = loads(dumps(graph), REGISTRY).graph
    assert snapshot(again) == snapshot(graph)
    assert again.node(join).slot_count("clip") == 3


def test_format_2_files_open_through_the_migration() -> None:
    old = {
        "format_version": 2,
        "metadata": {},
        "nodes": {"s": {"type": "Src", "params": {"name": "x"}}, "j": {"type": "Join"}},
        "edges": [{"from": {"node": "s", "port": "image"}, "to": {"node": "j", "port": "clip_1"}}],
        "groups": [],
    }
    assert migrate(json.loads(json.dumps(old)))["format_version"] == CURRENT_FORMAT_VERSION
    graph = loads(json.dumps(old), REGISTRY).graph
    assert graph.node("j").slot_count("clip") == 2  # the type's default
    assert graph.edge_into("j", "clip_1").src_node == "s"
    with pytest.raises(WorkflowFileError, match="format 2 did not have"):
        loads(json.dumps({**old, "nodes": {"j": {"type": "Join", "slots": {"clip": 3}}}}), REGISTRY)


@pytest.mark.parametrize(
    ("slots", "edge_port", "reason"),
    [
        ({"clip": 0}, "clip_0", "from 1 to 64"),
        ({"clip": "3"}, "clip_0", "from 1 to 64"),
        ({"clip": 10**9}, "clip_0", "from 1 to 64"),
        ({"other": 2}, "clip_0", "no variadic input 'other'"),
        ([], "clip_0", "'slots' must be an object"),
        ({"clip": 2}, "clip_2", "at input 'clip_2', which it lacks"),
    ],
)
def test_bad_slots_in_a_file_say_why(slots, edge_port, reason) -> None:
    data = {
        "format_version": 3,
        "nodes": {"s": {"type": "Src"}, "j": {"type": "Join", "slots": slots}},
        "edges": [{"from": {"node": "s", "port": "image"}, "to": {"node": "j", "port": edge_port}}],
    }
    with pytest.raises(WorkflowFileError, match=reason):
        loads(json.dumps(data), REGISTRY)


def test_undo_of_removing_a_slot_restores_wires_exactly() -> None:
    graph, join, (a, b, c) = build()
    cmd.AddSlot(join, "clip").apply(graph)
    for src, slot in ((a, 0), (b, 1), (c, 2)):
        graph.connect(src, "image", join, f"clip_{slot}")
    before = snapshot(graph)
    macro = cmd.Macro([cmd.RemoveSlot(join, "clip", 0), cmd.RemoveSlot(join, "clip", 0)])
    macro.apply(graph)
    assert [e.src_node for e in graph.edges_into(join)] == [c]
    assert graph.edge_into(join, "clip_0") == Edge(c, "image", join, "clip_0")
    macro.revert(graph)
    assert snapshot(graph) == before
