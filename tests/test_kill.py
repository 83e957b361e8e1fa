"""A handful of kills mid-render (the full 50 are `python -m benchmarks.bench_kill`): the next
render is right and no temporary files stay in the output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_kill import decoded, hidden, write_workflow
from studio.engine import Cache, Engine
from studio.graph.fileformat import load
from studio.session import default_registry

ROOT = Path(__file__).resolve().parents[1]


def clean_render(workflow: Path, out: Path, cache: Path) -> Path:
    registry = default_registry()
    graph = load(workflow, registry).graph
    result = Engine(registry, Cache(cache), device="cpu").run(graph, output_dir=out)
    assert result.status == "ok", result.errors
    return Path(result.outputs["save"]["files"][0])


def staging_with(out: Path, inside: str) -> bool:
    """A Save node is mid-write: its private staging folder (holding ``inside``) exists."""
    folder = out / "shot"
    try:
        entries = [p for p in folder.iterdir() if p.name.startswith(".studio-tmp-")]
        return any(not inside or (p / inside).exists() for p in entries)
    except OSError:
        return False


@pytest.mark.parametrize("kill_when", ["take_frames"])
def test_a_render_killed_mid_save_leaves_the_next_render_right(tmp_path, kill_when):
    workflow = write_workflow(tmp_path / "wf.json", "coffee", 4)
    reference = decoded(clean_render(workflow, tmp_path / "ref", tmp_path / "ref-cache"))
    out, cache = tmp_path / "out", tmp_path / "cache"
    process = subprocess.Popen(
        [sys.executable, "-m", "studio", "render", str(workflow), "--out", str(out)],
        env=dict(os.environ, STUDIO_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    inside = {"staging": "", "take_frames": "take_frames"}[kill_when]
    deadline = time.monotonic() + 120
    while process.poll() is None and not staging_with(out, inside):
        assert time.monotonic() < deadline, "the render never reached its Save node"
        time.sleep(0.002)  # polling for the kill point; no result depends on this timing
    process.send_signal(signal.SIGKILL)
    process.wait()
    mp4 = clean_render(workflow, out, cache)
    assert np.array_equal(decoded(mp4), reference)
    assert hidden(out) == []
