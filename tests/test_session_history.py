"""Every edit goes through the session's history; undo and redo round-trip the saved form."""

from __future__ import annotations

import pytest
from ui_helpers import canonical, chain, stub_registry

from studio.graph import edits as editing
from studio.graph.commands import (
    AddNode,
    Connect,
    Disconnect,
    SetNodeAttribute,
    SetParam,
    UpdateGroup,
)
from studio.graph.graph import Edge, GraphError
from studio.session import Session


@pytest.fixture
def undo() -> Session:
    return Session(stub_registry())


def test_each_kind_of_edit_round_trips(undo):
    graph = undo.graph
    src, blur, anim = chain(graph, undo)
    edge = graph.edge_into(anim, "image")
    backdrop = editing.new_group("backdrop", (0.0, 0.0, 400.0, 300.0))
    edits = [
        AddNode("MaskOf", (100.0, 300.0)),
        SetParam(blur, "radius", 12.5),
        SetNodeAttribute(blur, "title", "Soften"),
        SetNodeAttribute(src, "position", (-50.0, 20.0)),
        SetNodeAttribute(blur, "bypass", True),
        Disconnect(edge),
        backdrop,
        UpdateGroup(backdrop.group.id, {"title": "Shot 1"}),
        editing.delete(graph, [src]),
    ]
    states = [canonical(graph)]
    for command in edits:
        undo.push(command)
        states.append(canonical(graph))
    assert len(set(states)) == len(states)  # every edit changed something
    for expected in reversed(states[:-1]):
        undo.undo()
        assert canonical(graph) == expected
    for expected in states[1:]:
        undo.redo()
        assert canonical(graph) == expected


def test_a_refused_edit_raises_and_leaves_no_undo_step(undo):
    src, blur, anim = chain(undo.graph, undo)
    count, before = undo.history.count, canonical(undo.graph)
    with pytest.raises(GraphError, match="cycle"):
        undo.push(Connect(Edge(blur, "image", blur, "image")))
    with pytest.raises(GraphError, match="types differ"):
        undo.push(Connect(Edge(src, "image", anim, "mask")))
    assert undo.history.count == count
    assert canonical(undo.graph) == before  # the replaced wire came back


def test_slider_drag_merges_into_one_step(undo):
    (src, blur, _) = chain(undo.graph, undo)
    steps = undo.history.count
    for value in (3.0, 4.0, 5.5, 7.0):
        undo.push(SetParam(blur, "radius", value), merge_key="drag-1")
    assert undo.history.count == steps + 1
    assert undo.graph.node(blur).param("radius") == 7.0
    undo.undo()
    assert undo.graph.node(blur).param("radius") == 2.0
    undo.redo()
    assert undo.graph.node(blur).param("radius") == 7.0
    # A new drag is a new step.
    undo.push(SetParam(blur, "radius", 1.0), merge_key="drag-2")
    assert undo.history.count == steps + 2


def test_paste_and_add_connected_are_single_steps(undo):
    graph = undo.graph
    src, blur, _ = chain(graph, undo)
    before = canonical(graph)
    command, node_id = editing.add_connected(graph, "MaskOf", (0.0, 300.0), (src, "out", "image"))
    undo.push(command)
    assert graph.edge_into(node_id, "image") == Edge(src, "image", node_id, "image")
    undo.undo()
    assert canonical(graph) == before
    text = editing.selection_to_json(graph, [src, blur])
    command, ids, message = editing.paste(graph, text)
    undo.push(command)
    assert message == "pasted 2 nodes" and len(graph.nodes) == 5
    undo.undo()
    assert canonical(graph) == before


def test_clean_state_tracks_saves(undo):
    chain(undo.graph, undo)
    assert not undo.is_clean()
    undo.set_clean()
    undo.undo()
    assert not undo.is_clean()
    undo.redo()
    assert undo.is_clean()
