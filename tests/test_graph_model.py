"""The graph model and its undoable commands, without Qt."""

from __future__ import annotations

from typing import Any

import pytest

from studio.graph import commands as cmd
from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.fileformat import graph_to_dict
from studio.graph.graph import Edge, Graph, GraphError, GraphEvent, Group
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType


def _run(ctx: Any, inputs: Any, params: Any) -> dict:
    return {}


REGISTRY = NodeRegistry(
    [
        *BUILTIN_SPECS,
        NodeSpec(
            "Key",
            "Keyframe",
            "T",
            _run,
            outputs=(Port("image", PortType.IMAGE),),
            params=(Param("seed", ParamKind.SEED, 0, min=0, help="Seed."),),
        ),
        NodeSpec(
            "I2V",
            "Image to Video",
            "T",
            _run,
            inputs=(Port("image", PortType.IMAGE), Port("motion", PortType.MOTION, optional=True)),
            outputs=(Port("video", PortType.VIDEO),),
            params=(Param("frames", ParamKind.INT, 33, min=1, max=1025, help="Length."),),
        ),
        NodeSpec(
            "Up",
            "Upscale",
            "T",
            _run,
            inputs=(Port("video", PortType.VIDEO),),
            outputs=(Port("video", PortType.VIDEO),),
            params=(Param("scale", ParamKind.CHOICE, "2", choices=("2", "4"), help="x"),),
        ),
    ]
)


@pytest.fixture
def graph() -> Graph:
    return Graph(REGISTRY)


def pipeline(graph: Graph) -> tuple[str, str, str]:
    key = graph.add("Key").id
    i2v = graph.add("I2V").id
    up = graph.add("Up").id
    graph.connect(key, "image", i2v, "image")
    graph.connect(i2v, "video", up, "video")
    return key, i2v, up


def test_wrong_type_is_refused_with_both_types_named(graph):
    key, _, up = pipeline(graph)
    with pytest.raises(GraphError, match=r"Keyframe.image \(IMAGE\) to Upscale.video \(VIDEO\)"):
        graph.connect(key, "image", up, "video")


def test_reroute_carries_the_type_of_what_feeds_it(graph):
    key, _, _ = pipeline(graph)
    dot = graph.add("Reroute").id
    graph.connect(key, "image", dot, "in")
    other_up = graph.add("Up").id
    problem = graph.connection_problem(Edge(dot, "out", other_up, "video"))
    assert problem is not None and "IMAGE" in problem and "types differ" in problem


def test_second_edge_into_an_input_is_refused(graph):
    key, i2v, _ = pipeline(graph)
    other = graph.add("Key").id
    with pytest.raises(GraphError, match="already has a connection"):
        graph.connect(other, "image", i2v, "image")
    assert graph.edge_into(i2v, "image").src_node == key


def test_replacing_an_edge_ignores_the_occupied_input_but_nothing_else(graph):
    key, i2v, up = pipeline(graph)
    other = graph.add("Key").id
    assert graph.connection_problem(Edge(other, "image", i2v, "image"), replacing=True) is None
    # Types and cycles still count; the model is unchanged by asking.
    wrong_type = graph.connection_problem(Edge(other, "image", up, "video"), replacing=True)
    assert wrong_type is not None and "types differ" in wrong_type
    up2 = graph.add("Up").id
    graph.connect(up, "video", up2, "video")
    cycle = graph.connection_problem(Edge(up2, "video", up, "video"), replacing=True)
    assert cycle is not None and "would make a cycle" in cycle
    assert graph.edge_into(i2v, "image").src_node == key


def test_cycles_are_refused(graph):
    _, i2v, up = pipeline(graph)
    up2 = graph.add("Up").id
    graph.connect(up, "video", up2, "video")
    last = graph.add("Up").id
    graph.connect(up2, "video", last, "video")
    # Feed the last node's output back into the first Upscale: up -> up2 -> last -> up.
    graph.disconnect(graph.edge_into(up, "video"))
    with pytest.raises(GraphError, match="Upscale to Upscale would make a cycle"):
        graph.connect(last, "video", up, "video")
    with pytest.raises(GraphError, match="would make a cycle"):
        graph.connect(up, "video", up, "video")
    assert graph.edge_into(up, "video") is None


def test_unknown_ports_and_params_are_refused(graph):
    key, i2v, _ = pipeline(graph)
    with pytest.raises(GraphError, match="no output 'mask'"):
        graph.connect(key, "mask", i2v, "motion")
    with pytest.raises(GraphError, match="no parameter 'strength'"):
        graph.node(i2v).set_param("strength", 1)
    with pytest.raises(GraphError, match="unknown node type"):
        graph.add("Nope")


def test_find_by_id_prefix_and_title(graph):
    key, i2v, up = pipeline(graph)
    assert graph.find(key).id == key
    assert graph.find("image to video").id == i2v
    assert graph.find(up[:6]).id == up
    graph.add("Up")
    with pytest.raises(GraphError, match="matches 2 nodes"):
        graph.find("Upscale")


def test_events_tell_listeners_what_changed(graph):
    seen: list[GraphEvent] = []
    unsubscribe = graph.subscribe(seen.append)
    key, i2v, up = pipeline(graph)
    graph.node(i2v).set_param("frames", 49)
    graph.node(i2v).set_param("frames", 49)  # no change: no event
    unsubscribe()
    graph.node(i2v).title = "Shot 1"
    assert [e.kind for e in seen] == ["node_added"] * 3 + ["edge_added"] * 2 + ["node_changed"]
    assert seen[-1].param == "frames" and seen[-1].node_id == i2v


def test_topological_order_and_traversal(graph):
    key, i2v, up = pipeline(graph)
    lone = graph.add("Key").id
    order = graph.topological_order()
    assert order.index(key) < order.index(i2v) < order.index(up) and lone in order
    assert graph.upstream([up]) == {key, i2v, up}
    assert graph.downstream([i2v]) == {i2v, up}


def snapshot(graph: Graph) -> dict:
    data = graph_to_dict(graph)
    data["edges"] = sorted(data["edges"], key=lambda e: str(e))
    return data


def test_every_command_undoes_and_redoes_exactly(graph):
    key, i2v, up = pipeline(graph)
    graph.add_group(Group("g1", "backdrop", title="Shot"))
    other = graph.add("Key").id
    commands: list[cmd.Command] = [
        cmd.AddNode("Up", position=(10, 20), params={"scale": "4"}, title="Big"),
        cmd.RemoveNode(i2v),
        cmd.SetParam(key, "seed", 42),
        cmd.SetNodeAttribute(up, "title", "Final"),
        cmd.SetNodeAttribute(up, "position", (5.0, 6.0)),
        cmd.SetNodeAttribute(up, "bypass", True),
        cmd.Connect(Edge(other, "image", i2v, "image")),  # replaces key -> i2v
        cmd.Disconnect(Edge(i2v, "video", up, "video")),
        cmd.AddGroup(Group("n1", "note", text="fix the sky")),
        cmd.RemoveGroup("g1"),
        cmd.UpdateGroup("g1", {"title": "Shot 2", "rect": (0.0, 0.0, 10.0, 10.0)}),
        cmd.Macro([cmd.SetParam(key, "seed", 1), cmd.SetNodeAttribute(key, "title", "K")]),
    ]
    for command in commands:
        before = snapshot(graph)
        command.apply(graph)
        after = snapshot(graph)
        assert after != before, command
        command.revert(graph)
        assert snapshot(graph) == before, command
        command.apply(graph)  # redo
        assert snapshot(graph) == after, command
        command.revert(graph)


def test_macro_rolls_back_when_a_step_fails(graph):
    key, i2v, up = pipeline(graph)
    before = snapshot(graph)
    macro = cmd.Macro(
        [
            cmd.SetParam(key, "seed", 7),
            cmd.RemoveNode(up),
            cmd.Connect(Edge(key, "image", i2v, "nope")),
        ]
    )
    with pytest.raises(GraphError):
        macro.apply(graph)
    assert snapshot(graph) == before


def test_failed_connect_keeps_the_wire_it_would_have_replaced(graph):
    key, i2v, up = pipeline(graph)
    before = snapshot(graph)
    with pytest.raises(GraphError, match="types differ"):
        cmd.Connect(Edge(i2v, "video", i2v, "image")).apply(graph)
    assert snapshot(graph) == before
