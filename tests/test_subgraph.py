"""Subgraphs: collapse/expand as one undo step, the file format, and the engine seeing through."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from studio.engine import Cache, Engine
from studio.graph import fileformat
from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.flatten import flatten
from studio.graph.graph import Graph, GraphError
from studio.graph.migrations import migrate
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.subgraph import Exposed
from studio.graph.subgraph_commands import ExpandSubgraph, MakeSubgraph, SetExposed
from studio.graph.types import PortType
from studio.session.history import History

NUM = PortType.ANY


class Stubs:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.registry = NodeRegistry(BUILTIN_SPECS)
        for spec in (
            NodeSpec(
                "Const",
                "Const",
                "Test",
                self._const,
                outputs=(Port("out", NUM),),
                params=(Param("value", ParamKind.FLOAT, 1.0, help="v"),),
            ),
            NodeSpec(
                "Add",
                "Add",
                "Test",
                self._add,
                inputs=(Port("a", NUM), Port("b", NUM, optional=True)),
                outputs=(Port("out", NUM),),
                params=(Param("k", ParamKind.FLOAT, 0.0, help="Added."),),
                draft=lambda params, settings: {"k": 0.5},  # what a draft run changes
            ),
        ):
            self.registry.register(spec)

    def _const(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(f"const {params['value']}")
        return {"out": float(params["value"])}

    def _add(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.calls.append(f"add {params['k']}")
        return {"out": inputs["a"] + (inputs.get("b") or 0.0) + params["k"]}


def chain(registry: NodeRegistry) -> tuple[Graph, dict[str, str]]:
    """c1 -> a1 -> a2 -> a3, and c2 -> a2.b: a1 and a2 will be collapsed."""
    g = Graph(registry)
    ids = {}
    ids["c1"] = g.add("Const", params={"value": 2.0}, position=(0, 0)).id
    ids["c2"] = g.add("Const", params={"value": 5.0}, position=(0, 200)).id
    ids["a1"] = g.add("Add", params={"k": 1.0}, position=(300, 0)).id
    ids["a2"] = g.add("Add", params={"k": 10.0}, position=(600, 0)).id
    ids["a3"] = g.add("Add", params={"k": 100.0}, position=(900, 0)).id
    g.connect(ids["c1"], "out", ids["a1"], "a")
    g.connect(ids["a1"], "out", ids["a2"], "a")
    g.connect(ids["c2"], "out", ids["a2"], "b")
    g.connect(ids["a2"], "out", ids["a3"], "a")
    return g, ids


def normal(graph: Graph) -> dict[str, Any]:
    data = fileformat.graph_to_dict(graph)
    data["edges"] = sorted(json.dumps(e, sort_keys=True) for e in data["edges"])
    return data


@pytest.fixture()
def stubs() -> Stubs:
    return Stubs()


def test_collapse_expand_round_trip_is_one_undo_step(stubs: Stubs) -> None:
    g, ids = chain(stubs.registry)
    before = normal(g)
    history = History(g)
    history.push(MakeSubgraph([ids["a1"], ids["a2"]], title="Finish"))
    assert len(g.nodes) == 4
    sub = next(n for n in g.nodes if n.subgraph is not None)
    assert [p.name for p in sub.inputs] == ["a", "b"] and [p.name for p in sub.outputs] == ["out"]
    assert {(e.src_node, e.dst_port) for e in g.edges_into(sub.id)} == {
        (ids["c1"], "a"),
        (ids["c2"], "b"),
    }
    history.undo()
    assert normal(g) == before
    history.redo()
    history.push(ExpandSubgraph(sub.id))
    assert normal(g) == before  # collapse -> expand: serialised graphs equal
    history.undo()
    history.undo()
    assert normal(g) == before


def test_collapse_refuses_a_selection_a_wire_leaves_and_reenters(stubs: Stubs) -> None:
    g, ids = chain(stubs.registry)
    before = normal(g)
    with pytest.raises(GraphError, match="cycle"):
        MakeSubgraph([ids["a1"], ids["a3"]]).apply(g)
    assert normal(g) == before


def test_subgraph_saves_and_loads_with_exposed_params(stubs: Stubs, tmp_path: Any) -> None:
    g, ids = chain(stubs.registry)
    make = MakeSubgraph([ids["a1"], ids["a2"]], title="Finish")
    make.apply(g)
    sub = g.node(make.node_id)
    SetExposed(sub.id, [Exposed("strength", ids["a2"], "k", "Strength")]).apply(g)
    assert sub.params == {"strength": 10.0}
    assert sub.spec.param("strength").display_name == "Strength"
    sub.set_param("strength", 20.0)
    path = tmp_path / "w.json"
    fileformat.save(g, path)
    loaded = fileformat.load(path, stubs.registry).graph
    assert normal(loaded) == normal(g)
    again = loaded.node(sub.id)
    assert again.params == {"strength": 20.0} and [p.name for p in again.inputs] == ["a", "b"]
    # rename + a new default in one step, and undo puts the old back
    step = SetExposed(sub.id, [Exposed("gain", ids["a2"], "k")], defaults={"gain": 3.0})
    step.apply(loaded)
    assert loaded.node(sub.id).params == {"gain": 3.0}
    step.revert(loaded)
    assert loaded.node(sub.id).params == {"strength": 20.0}
    ExpandSubgraph(sub.id).apply(loaded)
    assert loaded.node(ids["a2"]).param("k") == 20.0  # the outer value is written in


def test_migration_from_format_3() -> None:
    old = {"format_version": 3, "nodes": {"x": {"type": "Subgraph", "params": {}}}, "edges": []}
    new = migrate(json.loads(json.dumps(old)))
    assert new["format_version"] == 4
    assert new["nodes"]["x"]["type"] == "Subgraph (format 3)"  # not taken for a real one
    plain = {"format_version": 3, "nodes": {"y": {"type": "Add"}}, "edges": []}
    assert migrate(plain)["nodes"] == plain["nodes"]


def test_unknown_blueprint_opens_as_placeholder_and_saves_back(stubs: Stubs) -> None:
    g, ids = chain(stubs.registry)
    data = fileformat.graph_to_dict(g)
    data["nodes"]["sg"] = {
        "type": "Subgraph",
        "title": "Hero",
        "version": 1,
        "position": [5.0, 5.0],
        "params": {"strength": 3},
        "bypass": False,
        "blueprint": {"name": "Hero shot", "sha256": "ab" * 32, "linked": True},
    }
    data["edges"].append(
        {"from": {"node": "sg", "port": "out"}, "to": {"node": ids["a1"], "port": "b"}}
    )
    loaded = fileformat.from_dict(json.loads(json.dumps(data)), stubs.registry)
    assert loaded.graph.node("sg").is_placeholder
    assert any("Hero shot" in w for w in loaded.warnings)
    assert json.loads(fileformat.dumps(loaded.graph))["nodes"]["sg"] == data["nodes"]["sg"]


def test_engine_sees_through_subgraphs(stubs: Stubs, tmp_path: Any) -> None:
    flat, flat_ids = chain(stubs.registry)
    engine = Engine(stubs.registry, Cache())
    flat_keys = engine.keys(flat, output_dir=tmp_path)
    flat_result = engine.run(flat, [flat_ids["a3"]], output_dir=tmp_path)

    nested, ids = chain(stubs.registry)  # same graph, new ids: keys are content, not ids
    make = MakeSubgraph([ids["a1"], ids["a2"]])
    make.apply(nested)
    SetExposed(make.node_id, [Exposed("k", ids["a2"], "k")]).apply(nested)
    flat_view = flatten(nested)
    view_keys = engine.keys(flat_view.graph, output_dir=tmp_path)
    assert sorted(view_keys.values()) == sorted(flat_keys.values())

    engine2 = Engine(stubs.registry, Cache())
    stubs.calls.clear()
    result = engine2.run(nested, [ids["a3"]], output_dir=tmp_path)
    assert result.status == "ok"
    assert result.outputs[ids["a3"]] == {"out": 118.0}
    assert flat_result.outputs == {flat_ids["a3"]: {"out": 118.0}}
    assert len(stubs.calls) == 5
    # the subgraph as a target: its outputs by its own port names
    assert engine2.run(nested, [make.node_id], output_dir=tmp_path).outputs == {
        make.node_id: {"out": 18.0}
    }
    stubs.calls.clear()
    nested.node(make.node_id).set_param("k", 11.0)  # one inner param: a2 and a3 re-run
    assert engine2.run(nested, [ids["a3"]], output_dir=tmp_path).outputs[ids["a3"]] == {
        "out": 119.0
    }
    assert stubs.calls == ["add 11.0", "add 100.0"]


def test_run_events_name_the_subgraph_not_its_inner_nodes(stubs: Stubs, tmp_path: Any) -> None:
    g, ids = chain(stubs.registry)
    make = MakeSubgraph([ids["a1"], ids["a2"]])
    make.apply(g)
    events = []
    engine = Engine(stubs.registry, Cache())
    engine.run(g, [ids["a3"]], output_dir=tmp_path, on_event=events.append)
    known = set(ids.values()) | {make.node_id}
    assert all(e.node_id in known for e in events if e.node_id is not None)
    started = next(e for e in events if e.kind == "run_started")
    assert make.node_id in started.node_ids and set(started.node_ids) <= known
    per_sub = [e.kind.value for e in events if e.node_id == make.node_id]
    assert per_sub == ["node_started", "node_finished"]
    assert engine.state(g, output_dir=tmp_path)[make.node_id] == "cached"
    assert engine.output(g, make.node_id, output_dir=tmp_path) == {"out": 18.0}
    events.clear()
    engine.run(g, [make.node_id], output_dir=tmp_path, on_event=events.append)
    assert [e.kind.value for e in events if e.node_id == make.node_id] == ["node_cached"]


def test_editing_inside_an_open_subgraph_is_undoable_and_merges_drags(stubs: Stubs) -> None:
    from studio.graph.commands import SetParam
    from studio.session.session import Session

    session = Session(stubs.registry)
    g, ids = chain(stubs.registry)
    session.set_graph(g)
    make = MakeSubgraph([ids["a1"], ids["a2"]])
    session.push(make)
    session.open_subgraph(make.node_id)
    assert session.view_graph is g.node(make.node_id).subgraph.graph
    steps = session.history.count
    for value in (11.0, 12.0, 13.0):  # a slider dragged: one step
        session.push_in_view(SetParam(ids["a2"], "k", value), merge_key="a2.k")
    assert session.history.count == steps + 1
    assert session.view_graph.node(ids["a2"]).param("k") == 13.0
    session.undo()
    assert session.view_graph.node(ids["a2"]).param("k") == 10.0
    session.undo()  # the subgraph itself goes: the view follows back out
    assert session.scope == [] and session.view_graph is g


def test_nodes_inside_a_subgraph_draft_too(stubs: Stubs, tmp_path: Any) -> None:
    from studio.graph.draft import draft_graph

    flat, _ = chain(stubs.registry)
    nested, ids = chain(stubs.registry)
    make = MakeSubgraph([ids["a1"], ids["a2"]])
    make.apply(nested)
    SetExposed(make.node_id, [Exposed("k", ids["a2"], "k")]).apply(nested)
    nested.node(make.node_id).set_param("k", 10.0)
    engine = Engine(stubs.registry, Cache())
    flat_draft, _ = draft_graph(flat)
    nested_draft, report = draft_graph(nested)
    assert f"{make.node_id}/{ids['a2']}" in report.changes
    assert nested.node(make.node_id).param("k") == 10.0  # the workflow itself is untouched
    flat_keys = engine.keys(flat_draft, output_dir=tmp_path)
    nested_keys = engine.keys(nested_draft, output_dir=tmp_path)
    assert sorted(flat_keys.values()) == sorted(nested_keys.values())


def test_copy_paste_of_a_subgraph_node(stubs: Stubs) -> None:
    from studio.graph import edits

    g, ids = chain(stubs.registry)
    make = MakeSubgraph([ids["a1"], ids["a2"]])
    make.apply(g)
    SetExposed(make.node_id, [Exposed("k", ids["a2"], "k")]).apply(g)
    g.node(make.node_id).set_param("k", 4.0)
    text = edits.selection_to_json(g, [make.node_id], [])
    command, new_ids, message = edits.paste(g, text, (0.0, 500.0))
    command.apply(g)
    (pasted,) = new_ids
    copy = g.node(pasted)
    assert copy.subgraph is not g.node(make.node_id).subgraph
    assert copy.params == {"k": 4.0} and [p.name for p in copy.inputs] == ["a", "b"]
    command.revert(g)
    assert pasted not in g
