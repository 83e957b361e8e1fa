"""The ``studio`` command, through main(argv) with stub nodes and through real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from test_engine_scheduler import Stubs

from studio.cli import main, parse_value
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType, Video

ROOT = Path(__file__).resolve().parents[1]


def workflow_file(folder: Path) -> Path:
    data = {
        "format_version": 2,
        "nodes": {
            "c0nst": {"type": "Const", "title": "Seed value", "params": {"value": 2.0}},
            "add1": {"type": "Add", "title": "Add one", "params": {"k": 1.0}},
            "save": {"type": "Save", "title": "Save", "params": {"name": "result.npy"}},
        },
        "edges": [
            {"from": {"node": "c0nst", "port": "out"}, "to": {"node": "add1", "port": "a"}},
            {"from": {"node": "add1", "port": "out"}, "to": {"node": "save", "port": "a"}},
        ],
    }
    path = folder / "flow.json"
    path.write_text(json.dumps(data))
    return path


def events_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_render_writes_outputs_and_streams_events(tmp_path, capsys):
    stubs = Stubs()
    flow = workflow_file(tmp_path)
    out = tmp_path / "renders"
    code = main(
        ["render", str(flow), "--out", str(out), "--events", "jsonl"], registry=stubs.registry
    )
    assert code == 0
    events = events_of(capsys.readouterr().out)
    assert events[0]["kind"] == "run_started" and events[0]["node_ids"] == ["c0nst", "add1", "save"]
    assert events[-1]["kind"] == "run_finished" and events[-1]["status"] == "ok"
    np.testing.assert_array_equal(np.load(out / "result.npy"), np.full((2, 2), 3.0))


def test_render_with_overrides_and_a_target(tmp_path, capsys):
    stubs = Stubs()
    flow = workflow_file(tmp_path)
    code = main(
        ["render", str(flow), "--out", str(tmp_path), "--set", "Add one.k=10", "--target", "add"],
        registry=stubs.registry,
    )
    assert code == 0
    assert stubs.calls == ["c0nst", "add1"]  # Save was not a target
    # The target's outputs are written for the artist to look at.
    assert json.loads((tmp_path / "Add_one_out.json").read_text()) == [[12.0, 12.0]] * 2
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "Add_one_out.json")
    err = captured.err
    assert "Add one: done" in err and "render ok" in err
    # The override went through JSON parsing: value [1] is not a number, so validation fails.
    stubs.calls.clear()
    assert (
        main(["render", str(flow), "--set", "Seed value.value=[1]"], registry=stubs.registry) == 1
    )
    assert stubs.calls == []
    assert "expects a number" in capsys.readouterr().err


def test_render_reports_a_failed_node_with_exit_1(tmp_path, capsys):
    stubs = Stubs()
    flow = workflow_file(tmp_path)
    data = json.loads(flow.read_text())
    data["nodes"]["add1"]["type"] = "Fail"
    data["nodes"]["add1"]["params"] = {}
    flow.write_text(json.dumps(data))
    assert main(["render", str(flow), "--out", str(tmp_path)], registry=stubs.registry) == 1
    err = capsys.readouterr().err
    assert "FAILED: the strength 7 is too high" in err and "skipped" in err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"format_version": 2, "nodes": []}', "'nodes' must be an object"),
        ('{"format_version": 9}', "newer Studio"),
    ],
)
def test_broken_workflow_is_one_line_and_exit_2(tmp_path, capsys, text, reason):
    path = tmp_path / "broken.json"
    path.write_text(text)
    for command in ("render", "validate"):
        assert main([command, str(path)], registry=Stubs().registry) == 2
        err = capsys.readouterr().err
        assert reason in err and len(err.strip().splitlines()) == 1
        assert "Traceback" not in err


def test_unknown_node_in_set_or_target_is_a_usage_error(tmp_path, capsys):
    flow = workflow_file(tmp_path)
    assert main(["render", str(flow), "--target", "nothing"], registry=Stubs().registry) == 2
    assert "no node named" in capsys.readouterr().err
    assert main(["render", str(flow), "--set", "Add one.bogus=1"], registry=Stubs().registry) == 2
    assert "no parameter 'bogus'" in capsys.readouterr().err


def test_validate_lists_every_problem(tmp_path, capsys):
    stubs = Stubs()
    flow = workflow_file(tmp_path)
    assert main(["validate", str(flow)], registry=stubs.registry) == 0
    assert "valid (3 nodes)" in capsys.readouterr().out
    data = json.loads(flow.read_text())
    data["edges"] = []
    data["nodes"]["c0nst"]["params"]["value"] = "high"
    flow.write_text(json.dumps(data))
    assert main(["validate", str(flow)], registry=stubs.registry) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert any("Seed value" in line and "high" in line for line in lines)


def test_nodes_lists_types_ports_and_params(capsys):
    assert main(["nodes", "--json"], registry=Stubs().registry) == 0
    specs = {s["type"]: s for s in json.loads(capsys.readouterr().out)}
    assert specs["Add"]["inputs"][1] == {"name": "b", "type": "ANY", "optional": True, "help": ""}
    assert specs["Const"]["params"][0]["default"] == 1.0
    assert specs["Save"]["output_node"] is True
    assert main(["nodes"], registry=Stubs().registry) == 0
    assert "param  k: float = 0.0" in capsys.readouterr().out


def test_cache_info_and_clear(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("studio.engine.cache.DEFAULT_DISK_MIN_SECONDS", 0.0)  # stubs are fast
    flow = workflow_file(tmp_path)
    main(["render", str(flow), "--out", str(tmp_path)], registry=Stubs().registry)
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    assert "entries:  3" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 3" in capsys.readouterr().out
    main(["cache", "info"])
    assert "entries:  0" in capsys.readouterr().out


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("2.5") == 2.5 and parse_value("true") is True
    assert parse_value('{"a": [1]}') == {"a": [1]} and parse_value("a cat") == "a cat"


# -- studio node --------------------------------------------------------------------------------


def _invert(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    ctx.progress(1, 1)
    image = inputs["image"]
    return {"image": 255 - image, "mask": (image[..., 0] > params["level"]).astype(np.float32)}


def _crash(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    return {"image": inputs["image"][..., 0]} if params["shape"] else {"image": 1 / 0}


def _reverse(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    video = inputs["video"]
    if len(video) < 2:
        raise NodeError(f"needs at least 2 frames, got {len(video)}")
    return {"video": Video(np.ascontiguousarray(video.frames[::-1]), video.fps)}


FILE_NODES = NodeRegistry(
    [
        NodeSpec(
            "Invert",
            "Invert",
            "T",
            _invert,
            inputs=(Port("image", PortType.IMAGE),),
            outputs=(Port("image", PortType.IMAGE), Port("mask", PortType.MASK)),
            params=(Param("level", ParamKind.INT, 128, min=0, max=255, help="Cut."),),
        ),
        NodeSpec(
            "Reverse",
            "Reverse",
            "T",
            _reverse,
            inputs=(Port("video", PortType.VIDEO),),
            outputs=(Port("video", PortType.VIDEO),),
        ),
        NodeSpec(
            "Crash",
            "Crash",
            "T",
            _crash,
            inputs=(Port("image", PortType.IMAGE),),
            outputs=(Port("image", PortType.IMAGE),),
            params=(Param("shape", ParamKind.BOOL, False, help="Wrong shape."),),
        ),
    ]
)


def test_node_runs_on_an_image_file(tmp_path, capsys):
    image = np.zeros((6, 10, 3), np.uint8)
    image[:, :5] = (200, 100, 50)
    cv2.imwrite(str(tmp_path / "in.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    code = main(
        [
            "node",
            "Invert",
            "--input",
            f"image={tmp_path / 'in.png'}",
            "--set",
            "level=150",
            "--out",
            str(out),
        ],
        registry=FILE_NODES,
    )
    assert code == 0
    result = cv2.cvtColor(cv2.imread(str(out / "image.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(result, 255 - image)
    mask = cv2.imread(str(out / "mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask[0, 0] == 255 and mask[0, 9] == 0
    assert str(out / "image.png") in capsys.readouterr().out


def test_node_runs_on_a_folder_of_frames_and_writes_mp4_and_pngs(tmp_path):
    frames_in = tmp_path / "frames"
    frames_in.mkdir()
    for i in range(11):  # 10 after 9: numeric order, not text order
        frame = np.full((16, 16, 3), i * 20, np.uint8)
        cv2.imwrite(str(frames_in / f"f{i}.png"), frame)
    out = tmp_path / "out"
    assert (
        main(
            ["node", "Reverse", "--input", f"video={frames_in}", "--out", str(out)],
            registry=FILE_NODES,
        )
        == 0
    )
    pngs = sorted((out / "video_frames").glob("*.png"))
    assert len(pngs) == 11
    assert cv2.imread(str(pngs[0]))[0, 0, 0] == 200 and cv2.imread(str(pngs[-1]))[0, 0, 0] == 0
    # The mp4 reads back as a clip of the same length.
    assert (
        main(
            [
                "node",
                "Reverse",
                "--input",
                f"video={out / 'video.mp4'}",
                "--out",
                str(tmp_path / "again"),
            ],
            registry=FILE_NODES,
        )
        == 0
    )
    again = sorted((tmp_path / "again" / "video_frames").glob("*.png"))
    assert len(again) == 11
    assert abs(int(cv2.imread(str(again[0]))[0, 0, 0]) - 0) <= 3  # lossy, but close


def test_node_errors_are_clear(tmp_path, capsys):
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), np.zeros((4, 4, 3), np.uint8))
    # A single image is a one-frame clip; the node refuses it with its own message.
    assert (
        main(
            ["node", "Reverse", "--input", f"video={image}", "--out", str(tmp_path)],
            registry=FILE_NODES,
        )
        == 1
    )
    assert "needs at least 2 frames, got 1" in capsys.readouterr().err
    for argv, reason in [
        (["node", "Nope", "--out", "x"], "unknown node type 'Nope'"),
        (["node", "Invert", "--out", "x"], "needs --input for image"),
        (
            ["node", "Invert", "--input", f"image={tmp_path}/none.png", "--out", "x"],
            "does not exist",
        ),
        (
            ["node", "Invert", "--input", f"image={image}", "--set", "level=999", "--out", "x"],
            "above the maximum",
        ),
    ]:
        assert main(argv, registry=FILE_NODES) == 2
        assert reason in capsys.readouterr().err


# -- real processes -----------------------------------------------------------------------------


def test_python_dash_m_studio_reports_a_broken_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("[]")
    done = subprocess.run(
        [sys.executable, "-m", "studio", "render", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "studio: error: broken.json is not a workflow: expected a "
        "JSON object at the top"
    )


CTRL_C = textwrap.dedent(
    """
    import signal, sys, time
    # Ctrl-C as a terminal delivers it, even where this suite runs with SIGINT ignored (a
    # background job or nohup: ignored signals are inherited, and Python then never raises
    # KeyboardInterrupt; bench_busy_suite met exactly that).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from studio.cli import main
    from studio.graph.registry import NodeRegistry
    from studio.graph.spec import NodeSpec, Port
    from studio.graph.types import PortType

    def slow(ctx, inputs, params):
        for step in range(3000):
            time.sleep(0.01)
            ctx.progress(step + 1, 3000)
        return {"out": 1}

    registry = NodeRegistry([NodeSpec("Slow", "Slow", "T", slow,
                                      outputs=(Port("out", PortType.ANY),))])
    sys.exit(main(sys.argv[1:], registry=registry))
    """
)


def test_ctrl_c_cancels_cleanly_with_exit_130(tmp_path):
    flow = tmp_path / "slow.json"
    flow.write_text(json.dumps({"format_version": 2, "nodes": {"s": {"type": "Slow"}}}))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CTRL_C,
            "render",
            str(flow),
            "--events",
            "jsonl",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:  # wait until the node is under way
        if json.loads(line)["kind"] == "node_progress":
            break
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    events = events_of(rest)
    assert events[-1]["kind"] == "run_finished" and events[-1]["status"] == "cancelled"
    assert "Traceback" not in err


def test_open_hands_over_to_the_editor(monkeypatch, capsys):
    calls = []
    fake = type(sys)("studio.ui.app")
    fake.open_editor = lambda path, run, screenshot: calls.append((path, run, screenshot)) or 7
    monkeypatch.setitem(sys.modules, "studio.ui.app", fake)
    assert main(["open", "shot.json", "--run", "--screenshot", "s.png"]) == 7
    assert main(["open"]) == 7
    assert calls == [("shot.json", True, "s.png"), (None, False, None)]
    monkeypatch.setitem(sys.modules, "PySide6.QtWidgets", None)  # Qt cannot load here
    assert main(["open"]) == 1
    assert "the editor is not available" in capsys.readouterr().err


def test_node_bugs_are_reported_not_raised(tmp_path, capsys):
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), np.zeros((4, 4, 3), np.uint8))
    argv = ["node", "Crash", "--input", f"image={image}", "--out", str(tmp_path)]
    assert main(argv, registry=FILE_NODES) == 1
    err = capsys.readouterr().err
    assert "FAILED: ZeroDivisionError: division by zero" in err and "Traceback" in err
    assert main([*argv, "--set", "shape=true"], registry=FILE_NODES) == 1
    assert "expected an (H, W, 3) uint8 image" in capsys.readouterr().err
