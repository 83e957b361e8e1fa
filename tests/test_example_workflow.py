"""The bundled example shot, rendered headless end to end through `studio render`, then again
in a new process, where everything must come from the disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av

from nodes.io import read_embedded_workflow
from studio.graph import fileformat
from studio.session import default_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "workflows" / "example.json"
# Smaller than the shipped shot so the test stays quick; the pipeline is the same.
SMALLER = (
    "Animate (built-in).frames=5",
    "Animate (built-in).width=256",
    "Animate (built-in).height=144",
)


def render(out: Path, cache: Path) -> list[dict]:
    command = [sys.executable, "-m", "studio", "render", str(EXAMPLE), "--out", str(out)]
    command += ["--events", "jsonl"]
    for assignment in SMALLER:
        command += ["--set", assignment]
    env = dict(os.environ, STUDIO_CACHE_DIR=str(cache))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_example_renders_then_comes_entirely_from_cache(tmp_path):
    first = render(tmp_path / "out", tmp_path / "cache")
    assert first[-1]["kind"] == "run_finished" and first[-1]["status"] == "ok"
    started = {e["node_id"] for e in first if e["kind"] == "node_started"}
    assert len(started) == 7  # every stage ran

    video = tmp_path / "out" / "rocket_launch" / "rocket_launch_v001.mp4"  # the first take
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert stream.codec_context.name == "h264"
    assert len(frames) == 5 and frames[0].shape == (288, 512, 3)  # upscaled x2
    assert frames[-1].mean() > 10  # not a black clip

    embedded = read_embedded_workflow(video)
    assert embedded is not None
    graph = fileformat.loads(embedded, default_registry()).graph
    assert {n.type_id for n in graph.nodes} >= {"ImageToVideo", "Stabilize", "Upscale"}

    again = render(tmp_path / "out", tmp_path / "cache")  # a new process: memory cache empty
    assert again[-1]["status"] == "ok"
    assert not [e for e in again if e["kind"] == "node_started"]
    assert any(e["kind"] == "node_cached" for e in again)
    said = [e.get("message") for e in again if e["kind"] == "node_cached"]
    assert "take rocket_launch_v001" in said  # nothing new written; it says which take
