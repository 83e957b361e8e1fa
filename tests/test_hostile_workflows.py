"""Hostile workflow files: deep nesting, many problems at once, node checks in validate."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from studio.cli import main
from studio.engine import Cache, Engine
from studio.graph.fileformat import WorkflowFileError, from_dict, load, loads
from studio.graph.validate import validate

EXAMPLE = Path(__file__).resolve().parents[1] / "resources" / "workflows" / "example.json"


def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def node_of(data: dict[str, Any], type_id: str) -> dict[str, Any]:
    return next(n for n in data["nodes"].values() if n.get("type") == type_id)


def nested(depth: int) -> Any:
    value: Any = [0.5, 0.5]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1"])
def test_a_file_nested_100000_deep_is_a_clear_error(registry, text):
    with pytest.raises(WorkflowFileError, match="nested too deeply|not valid JSON"):
        loads(text, registry, source="deep.json")


def test_shapes_nested_500_deep_are_refused_by_load_and_validate(registry, tmp_path, capsys):
    data = example()
    node_of(data, "RegionMask")["params"]["shapes"] = [
        {"kind": "rect", "op": "add", "points": nested(500)}
    ]
    with pytest.raises(WorkflowFileError, match="nested more than 64 levels deep"):
        from_dict(data, registry, source="deep.json")
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(data))  # json.dumps copes with 500 levels; Studio must too
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "nested more than 64 levels" in err and "Traceback" not in err
    # A graph built in code (the editor, --set) is refused by validate itself.
    graph = loads(EXAMPLE.read_text(), registry).graph
    mask = next(n for n in graph.nodes if n.type_id == "RegionMask")
    mask.set_param("shapes", [{"kind": "rect", "points": nested(40)}])
    assert any("nested more than 32 levels" in p.message for p in validate(graph, [mask.id]))


@pytest.mark.parametrize("depth", [50, 5000])
def test_a_deep_set_value_is_a_usage_error(tmp_path, capsys, depth):
    value = "[" * depth + "]" * depth
    argv = ["render", str(EXAMPLE), "--out", str(tmp_path), "--set", "Rocket mask.shapes=" + value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nested" in err and "Traceback" not in err


def test_every_structural_problem_is_reported_at_once(registry, tmp_path, capsys):
    data = example()
    ids = list(data["nodes"])
    data["nodes"][ids[0]]["position"] = "left"  # 1
    data["nodes"][ids[1]]["bypass"] = "yes"  # 2
    data["nodes"]["bad"] = 5  # 3
    data["edges"].append({"from": {"node": ids[2], "port": "nope"}, "to": {"node": ids[3]}})  # 4
    data["edges"].append(
        {"from": {"node": "ghost", "port": "a"}, "to": {"node": ids[3], "port": "b"}}
    )  # 5  # noqa: E501
    data["groups"] = [{"id": "g", "kind": "sticker"}]  # 6
    with pytest.raises(WorkflowFileError) as info:
        from_dict(data, registry, source="six.json")
    assert len(info.value.problems) == 6, info.value.problems
    assert str(info.value).startswith("six.json: 6 problems: ")
    path = tmp_path / "six.json"
    path.write_text(json.dumps(data))
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith("studio: error: six.json: ") for line in lines)


def test_validate_runs_each_nodes_own_checks(registry, tmp_path, capsys):
    data = example()
    node_of(data, "RegionMask")["params"]["shapes"] = [
        {"kind": "blob", "points": [[0.1, 0.1]]},
        {"kind": "rect", "points": [[0.1, 0.1], [0.2, "x"]]},
    ]
    brush = node_of(data, "MotionBrush")["params"]["brushes"][0]
    brush.update(ease="wobbly", start=0.9, end=0.2)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "shape 1: unknown kind 'blob'" in out and "shape 2: points must be" in out
    assert "rocket: needs 0 <= start < end <= 1" in out
    # A render refuses the same, before any node runs.
    graph = load(path, registry).graph
    engine = Engine(registry, Cache(disk=False))
    result = engine.run(graph, output_dir=tmp_path / "out")
    assert result.status == "failed" and result.executed == []


def test_validate_reports_bad_file_names_and_missing_models_and_loras(tmp_path, capsys):
    data = example()
    node_of(data, "SaveVideo")["params"]["filename"] = ".."
    animate = node_of(data, "ImageToVideo")["params"]
    animate["model"] = "no-such-org/no-such-model"
    animate["loras"] = [{"file": str(tmp_path / "gone.safetensors"), "strength": 1.0}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "filename '..' is empty once unsafe characters are removed" in out
    assert "image-to-video model 'no-such-org/no-such-model' not found" in out
    assert "LoRA 1: file not found" in out


def test_a_valid_example_stays_valid(registry):
    graph = loads(EXAMPLE.read_text(), registry).graph
    assert [p for p in validate(graph) if p.severity == "error"] == []


def test_loading_never_changes_the_callers_data(registry):
    data = example()
    before = copy.deepcopy(data)
    from_dict(data, registry)
    assert data == before and os.path.exists(EXAMPLE)
