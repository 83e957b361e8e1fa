"""Blueprints: the shipped library, linked instances that notice and take updates, takes that
remember the version they used, and `studio blueprint` / `studio render` through the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_subgraph import Stubs, chain, normal

from studio.cli import main
from studio.engine import Cache, Engine
from studio.graph import fileformat
from studio.graph.graph import Graph
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.subgraph import Exposed
from studio.graph.subgraph_commands import MakeSubgraph, SetExposed
from studio.graph.types import PortType
from studio.session.blueprints import (
    SHIPPED,
    AddBlueprint,
    BlueprintLibrary,
    UpdateBlueprint,
    blueprint_status,
    save_blueprint,
)
from studio.session.history import History


class Recorder(Stubs):
    """The subgraph stubs plus an output node that writes what it got and the workflow."""

    def __init__(self) -> None:
        super().__init__()
        self.workflows: list[str] = []
        self.registry.register(
            NodeSpec(
                "Save",
                "Save",
                "Test",
                self._save,
                output_node=True,
                inputs=(Port("a", PortType.ANY),),
                params=(Param("name", ParamKind.STRING, "x.npy", help="File."),),
            )
        )

    def _save(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.workflows.append(ctx.workflow_json)
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        np.save(ctx.output_dir / params["name"], np.float64(inputs["a"]))
        return {}


def library_with_blueprint(stubs: Stubs, folder: Path) -> tuple[BlueprintLibrary, str]:
    g, ids = chain(stubs.registry)
    make = MakeSubgraph([ids["a1"], ids["a2"]])
    make.apply(g)
    SetExposed(make.node_id, [Exposed("gain", ids["a2"], "k", "Gain")]).apply(g)
    save_blueprint(g.node(make.node_id), folder, "Double add", "two adds")
    return BlueprintLibrary([folder]), ids["a2"]


def test_shipped_blueprints_open_with_their_ports_and_params() -> None:
    from studio.session import default_registry

    registry = default_registry(plugins=False)
    library = BlueprintLibrary([SHIPPED])
    names = [b.name for b in library.all()]
    assert names == ["Finish for delivery", "Two-shot continuity"] and not library.problems
    graph = Graph(registry)
    for bp in library.all():
        AddBlueprint(bp).apply(graph)
    finish, two = sorted(graph.nodes, key=lambda n: n.title)
    inner = [n.type_id for n in finish.subgraph.graph.nodes]
    assert [t for t in inner if not t.startswith("Subgraph")] == [
        "Stabilize",
        "Interpolate",
        "Upscale",
        "SaveVideo",
    ]
    assert [p.name for p in finish.inputs] == ["video"] and "filename" in finish.params
    assert [p.name for p in two.inputs] == ["first_shot"] and "prompt" in two.params
    frame = next(n for n in two.subgraph.graph.nodes if n.type_id == "Frame")
    assert frame.param("pick") == "last"


def test_linked_instance_notices_a_new_version_and_updates_undoably(
    tmp_path: Path,
) -> None:
    stubs = Stubs()
    library, inner_add = library_with_blueprint(stubs, tmp_path / "lib")
    stubs.registry.blueprints = library
    graph = Graph(stubs.registry)
    history = History(graph)
    add = AddBlueprint(library.get("Double add"), linked=True)
    history.push(add)
    node = graph.node(add.node_id)
    node.set_param("gain", 7.0)
    assert blueprint_status(node, library) == "current"
    saved = fileformat.dumps(graph)

    # someone changes the blueprint file: a third param exposed, another default
    bp = library.get("Double add")
    data = json.loads(bp.path.read_text())
    data["subgraph"]["exposed"].append({"name": "offset", "node": inner_add, "param": "k"})
    data["subgraph"]["exposed"][0]["node"] = next(
        k for k, v in data["subgraph"]["nodes"].items() if v["type"] == "Add" and k != inner_add
    )
    bp.path.write_text(json.dumps(data))

    reopened = fileformat.loads(saved, stubs.registry).graph  # the copy it holds, until asked
    node = reopened.node(add.node_id)
    assert normal(reopened) == normal(graph)
    assert blueprint_status(node, library) == "changed"
    history = History(reopened)
    before = normal(reopened)
    history.push(UpdateBlueprint(node.id, library.get("Double add")))
    assert blueprint_status(node, library) == "current"
    assert node.params == {"gain": 7.0, "offset": 10.0}  # kept where the name still exists
    history.undo()
    assert normal(reopened) == before and blueprint_status(node, library) == "changed"


def test_a_take_records_the_blueprint_version_it_used(tmp_path: Path) -> None:
    stubs = Recorder()
    library, _ = library_with_blueprint(stubs, tmp_path / "lib")
    graph = Graph(stubs.registry)
    add = AddBlueprint(library.get("Double add"))
    add.apply(graph)
    c = graph.add("Const", params={"value": 1.0})
    save = graph.add("Save")
    graph.connect(c.id, "out", add.node_id, "a")
    graph.connect(c.id, "out", add.node_id, "b")
    graph.connect(add.node_id, "out", save.id, "a")
    Engine(stubs.registry, Cache()).run(graph, output_dir=tmp_path)
    recorded = json.loads(stubs.workflows[-1])["nodes"][add.node_id]
    assert recorded["blueprint"]["sha256"] == library.get("Double add").sha256
    assert recorded["subgraph"]["nodes"]  # the content itself: restoring needs no library
    assert np.load(tmp_path / "x.npy") == 1 + 1 + 1 + 10


@pytest.mark.parametrize("embed", [True, False])
def test_cli_renders_subgraphs_and_lists_blueprints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], embed: bool
) -> None:
    stubs = Recorder()
    library, _ = library_with_blueprint(stubs, tmp_path / "lib")
    stubs.registry.blueprints = library
    graph = Graph(stubs.registry)
    add = AddBlueprint(library.get("Double add"), linked=not embed)
    add.apply(graph)
    graph.node(add.node_id).set_param("gain", 2.0)
    c = graph.add("Const", params={"value": 3.0})
    save = graph.add("Save")
    graph.connect(c.id, "out", add.node_id, "a")
    graph.connect(add.node_id, "out", save.id, "a")
    data = fileformat.graph_to_dict(graph)
    if not embed:  # a reference only: the library supplies the content
        del data["nodes"][add.node_id]["subgraph"]
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(data))
    assert main(["render", str(flow), "--out", str(tmp_path / "out")], registry=stubs.registry) == 0
    assert np.load(tmp_path / "out" / "x.npy") == 3 + 1 + 2

    capsys.readouterr()
    assert main(["blueprint", "list", "--json"], registry=stubs.registry) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [b["name"] for b in listed] == ["Double add"]
    assert main(["blueprint", "show", "Double add", "--json"], registry=stubs.registry) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in shown["params"]] == ["gain"]
    assert [p["name"] for p in shown["inputs"]] == ["a", "b"]
    assert main(["blueprint", "show", "Nope"], registry=stubs.registry) == 2
    assert "no blueprint named 'Nope'" in capsys.readouterr().err


def test_validate_checks_the_nodes_inside_subgraphs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stubs = Stubs()
    g, ids = chain(stubs.registry)
    MakeSubgraph([ids["a1"], ids["a2"]]).apply(g)
    g.disconnect(g.edges_into(next(n.id for n in g.nodes if n.subgraph))[0])  # input "a" unfed
    flow = tmp_path / "flow.json"
    fileformat.save(g, flow)
    assert main(["validate", str(flow)], registry=stubs.registry) == 1
    assert "Add: input 'a' (ANY) is not connected" in capsys.readouterr().out


def test_shipped_finish_for_delivery_renders_and_its_take_restores(
    tmp_path: Path, registry: Any
) -> None:
    """The real nodes: a tiny clip through the shipped blueprint with `studio render`, then
    `studio takes restore` gives back the workflow with the blueprint version it used."""
    graph = Graph(registry)
    image = graph.add("SampleImage", params={"scale": 0.25})
    clip = graph.add("ImageToVideo", params={"frames": 9, "width": 128, "height": 96})
    add = AddBlueprint(BlueprintLibrary([SHIPPED]).get("Finish for delivery"))
    add.apply(graph)
    graph.connect(image.id, "image", clip.id, "image")
    graph.connect(clip.id, "video", add.node_id, "video")
    flow = tmp_path / "shot.json"
    fileformat.save(graph, flow)
    out = tmp_path / "renders"
    assert main(["render", str(flow), "--out", str(out)], registry=registry) == 0
    assert (out / "delivery" / "delivery_v001.mp4").stat().st_size > 0
    restored = tmp_path / "restored.json"
    args = ["takes", "restore", "delivery_v001", "--dir", str(out), "--out", str(restored)]
    assert main(args, registry=registry) == 0
    again = json.loads(restored.read_text())["nodes"]
    assert again == json.loads(flow.read_text())["nodes"]
    assert again[add.node_id]["blueprint"]["sha256"] == BlueprintLibrary([SHIPPED]).all()[0].sha256
