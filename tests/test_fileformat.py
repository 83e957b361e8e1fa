"""The workflow file: round trips, migrations, placeholders, malformed files, atomic saves."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from test_graph_model import REGISTRY, pipeline, snapshot

from studio.graph import fileformat
from studio.graph.fileformat import WorkflowFileError, dumps, load, loads, save
from studio.graph.graph import Graph, Group
from studio.graph.migrations import CURRENT_FORMAT_VERSION


def v2(**changes: object) -> dict:
    data = {
        "format_version": 2,
        "metadata": {"fps": 16},
        "nodes": {
            "k": {
                "type": "Key",
                "version": 1,
                "title": "Keyframe",
                "position": [0, 0],
                "params": {"seed": 3},
                "bypass": False,
            },
            "v": {
                "type": "I2V",
                "version": 1,
                "title": "Shot",
                "position": [200, 0],
                "params": {"frames": 49},
                "bypass": False,
            },
        },
        "edges": [{"from": {"node": "k", "port": "image"}, "to": {"node": "v", "port": "image"}}],
        "groups": [],
    }
    data.update(changes)
    return data


def test_save_and_load_round_trip(tmp_path):
    graph = Graph(REGISTRY)
    key, i2v, up = pipeline(graph)
    graph.node(i2v).set_param("frames", 81)
    graph.node(up).bypass = True
    graph.add_group(Group("g", "note", text="sky too dark", rect=(1.0, 2.0, 3.0, 4.0)))
    graph.metadata = {"author": "me"}
    save(graph, tmp_path / "w.json")
    loaded = load(tmp_path / "w.json", REGISTRY)
    assert loaded.warnings == []
    assert snapshot(loaded.graph) == snapshot(graph)
    assert loaded.graph.node(i2v).param("frames") == 81 and loaded.graph.node(up).bypass


def test_format_1_is_migrated():
    old = {
        "format_version": 1,
        "nodes": [
            {"id": "k", "type": "Key", "pos": [5, 6], "params": {"seed": 9}},
            {"id": "v", "type": "I2V", "params": {}},
        ],
        "edges": [["k", "image", "v", "image"]],
    }
    graph = loads(json.dumps(old), REGISTRY).graph
    assert graph.node("k").position == (5.0, 6.0) and graph.node("k").param("seed") == 9
    assert graph.node("v").param("frames") == 33  # default filled in
    assert graph.edge_into("v", "image").src_node == "k"
    assert json.loads(dumps(graph))["format_version"] == CURRENT_FORMAT_VERSION


def test_unknown_node_type_is_a_placeholder_saved_back_unchanged(tmp_path):
    data = v2()
    alien = {
        "type": "FancyGrade",
        "version": 4,
        "title": "Grade",
        "position": [400, 0],
        "params": {"lut": "film.cube", "mix": 0.5},
        "bypass": False,
        "custom": {"x": 1},
    }
    data["nodes"]["g"] = alien
    data["edges"].append(
        {"from": {"node": "v", "port": "video"}, "to": {"node": "g", "port": "clip"}}
    )
    loaded = loads(json.dumps(data), REGISTRY)
    assert any("FancyGrade" in w for w in loaded.warnings)
    node = loaded.graph.node("g")
    assert node.is_placeholder and [p.name for p in node.inputs] == ["clip"]
    saved = json.loads(dumps(loaded.graph))
    assert saved["nodes"]["g"] == alien
    assert saved["edges"] == data["edges"]


def test_unknown_params_are_kept_with_a_warning():
    data = v2()
    data["nodes"]["v"]["params"]["old_knob"] = 3
    loaded = loads(json.dumps(data), REGISTRY)
    assert any("old_knob" in w for w in loaded.warnings)
    assert json.loads(dumps(loaded.graph))["nodes"]["v"]["params"]["old_knob"] == 3


def broken(**changes: object) -> str:
    return json.dumps(v2(**changes))


def _with_node(key: str, value: object) -> str:
    data = v2()
    data["nodes"]["k"][key] = value
    return json.dumps(data)


MALFORMED = [
    ("{", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"nodes": {}}', "'format_version' is missing"),
    ('{"format_version": "2"}', "'format_version' is missing or not a whole number"),
    ('{"format_version": 99}', "newer Studio"),
    ('{"format_version": 2, "x": NaN}', "NaN is not allowed"),
    (broken(nodes=[]), "'nodes' must be an object"),
    (broken(edges={}), "'edges' must be a list"),
    (
        broken(edges=[{"from": {"node": "k", "port": "image"}, "to": {"node": "zz", "port": "a"}}]),
        "names node 'zz', which is missing",
    ),
    (
        broken(
            edges=[{"from": {"node": "k", "port": "nope"}, "to": {"node": "v", "port": "image"}}]
        ),
        "from output 'nope'",
    ),
    (
        broken(
            edges=[{"from": {"node": "k", "port": "image"}, "to": {"node": "v", "port": "image"}}]
            * 2
        ),
        "has two edges",
    ),
    (
        broken(
            edges=[{"from": {"node": "k", "port": "image"}, "to": {"node": "v", "port": "motion"}}]
        ),
        "(IMAGE) to Shot.motion (MOTION)",
    ),
    (broken(edges=[["k", "image", "v", "image"]]), "edge #1 must be an object"),
    (_with_node("position", [1e12, 0]), "absurd position"),
    (_with_node("position", "left"), "'position' must be two numbers"),
    (_with_node("params", [1]), "'params' must be an object"),
    (_with_node("bypass", "yes"), "'bypass' must be true or false"),
    (_with_node("version", -1), "'version' must be a whole number"),
    (_with_node("type", 5), "has no 'type'"),
    (broken(groups=[{"id": "a", "kind": "sticker"}]), "unknown kind 'sticker'"),
    (broken(groups=[{"id": "a"}, {"id": "a"}]), "duplicate group id 'a'"),
    (
        '{"format_version": 1, "nodes": [{"id": "a", "type": "Key"}, {"id": "a", "type": "Key"}]}',
        "duplicate node id 'a'",
    ),
    (
        '{"format_version": 2, "nodes": {"a": {"type": "Key"}, "a": {"type": "I2V"}}}',
        "duplicate key 'a'",
    ),
]


@pytest.mark.parametrize(("text", "reason"), MALFORMED)
def test_malformed_files_give_one_clear_error(text, reason):
    with pytest.raises(WorkflowFileError) as info:
        loads(text, REGISTRY, source="shot.json")
    assert reason in str(info.value)
    assert str(info.value).startswith("shot.json")


def test_cycle_in_a_file_is_refused():
    data = v2()
    data["nodes"]["u1"] = {"type": "Up"}
    data["nodes"]["u2"] = {"type": "Up"}
    data["edges"] += [
        {"from": {"node": "u1", "port": "video"}, "to": {"node": "u2", "port": "video"}},
        {"from": {"node": "u2", "port": "video"}, "to": {"node": "u1", "port": "video"}},
    ]
    with pytest.raises(WorkflowFileError, match="form a cycle"):
        loads(json.dumps(data), REGISTRY)


def test_missing_and_huge_files(tmp_path, monkeypatch):
    with pytest.raises(WorkflowFileError, match="cannot open"):
        load(tmp_path / "nope.json", REGISTRY)
    big = tmp_path / "big.json"
    big.write_text("{}")
    monkeypatch.setattr(fileformat, "MAX_FILE_BYTES", 1)
    with pytest.raises(WorkflowFileError, match="not a workflow file"):
        load(big, REGISTRY)


@pytest.mark.parametrize("failing", ["replace", "write"])
def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch, failing):
    path = tmp_path / "w.json"
    graph = loads(json.dumps(v2()), REGISTRY).graph
    save(graph, path)
    original = path.read_bytes()
    graph.node("v").set_param("frames", 97)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "replace":
        monkeypatch.setattr(os, "replace", boom)
    else:
        monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        save(graph, path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["w.json"]  # no temp file left behind


def test_loading_does_not_change_the_caller_data():
    data = v2()
    before = copy.deepcopy(data)
    fileformat.from_dict(data, REGISTRY)
    assert data == before


def test_edited_workflow_saves_what_was_shown(tmp_path: Path):
    graph = loads(json.dumps(v2()), REGISTRY).graph
    graph.node("k").set_param("seed", 11)
    save(graph, tmp_path / "w.json")
    assert json.loads((tmp_path / "w.json").read_text())["nodes"]["k"]["params"] == {"seed": 11}
