"""``studio takes`` and takes written by real ``studio render`` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

from studio.cli import main
from studio.graph.fileformat import save
from studio.graph.graph import Graph
from studio.session import default_registry
from studio.takes import TakesDB

ROOT = Path(__file__).resolve().parents[1]


def tiny_workflow(path: Path, *, photo: str = "camera", title: str = "Save Video") -> Path:
    """Sample Image -> the built-in animator (5 frames, 64x48) -> Save Video: a real render in
    about a second."""
    graph = Graph(default_registry())
    graph.add("SampleImage", node_id="img").set_param("photo", photo)
    animate = graph.add("ImageToVideo", node_id="i2v")
    for name, value in {"frames": 5, "width": 64, "height": 48}.items():
        animate.set_param(name, value)
    graph.add("SaveVideo", node_id="save", title=title).set_param("filename", "tiny")
    graph.connect("img", "image", "i2v", "image")
    graph.connect("i2v", "video", "save", "video")
    save(graph, path)
    return path


def render(workflow: Path, out: Path, cache: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "studio", "render", str(workflow), "--out", str(out)]
    env = dict(os.environ, STUDIO_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        command + list(extra),
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def render_here(workflow: Path, out: Path, cache: Path, monkeypatch, capsys, *extra: str):  # noqa: ANN001, ANN201
    """``studio render`` in this process (no interpreter start-up): (stdout, stderr)."""
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(cache))
    capsys.readouterr()
    assert main(["render", str(workflow), "--out", str(out), *extra]) == 0
    return capsys.readouterr()


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return stdout, stderr


def frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_two_concurrent_renders_into_one_folder_get_their_own_takes(tmp_path):
    out = tmp_path / "out"
    one = tiny_workflow(tmp_path / "one.json", photo="camera")
    two = tiny_workflow(tmp_path / "two.json", photo="coffee")
    a = render(one, out, tmp_path / "cache-a")
    b = render(two, out, tmp_path / "cache-b")
    finish(a), finish(b)
    with TakesDB(out) as db:
        takes = db.list(with_workflow=True)
    assert sorted(t.name for t in takes) == ["tiny_v001", "tiny_v002"]
    photos = {
        json.loads(t.workflow)["nodes"]["img"]["params"]["photo"]: t.paths()[0] for t in takes
    }
    assert set(photos) == {"camera", "coffee"}
    assert not np.array_equal(frames(photos["camera"]), frames(photos["coffee"]))
    assert not [p for p in (out / "tiny").iterdir() if p.name.startswith(".")]


def test_restore_round_trips_through_a_fresh_process_and_an_empty_cache(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    render_here(tiny_workflow(tmp_path / "wf.json"), out, tmp_path / "cache", monkeypatch, capsys)
    restored = tmp_path / "restored.json"
    assert main(["takes", "restore", "tiny_v001", "--dir", str(out), "--out", str(restored)]) == 0
    assert "take" not in json.loads(restored.read_text()).get("metadata", {})
    again = tmp_path / "again"
    stdout, _ = finish(render(restored, again, tmp_path / "empty-cache"))
    assert str(again / "tiny" / "tiny_v001.mp4") in stdout
    assert np.array_equal(
        frames(again / "tiny" / "tiny_v001.mp4"), frames(out / "tiny" / "tiny_v001.mp4")
    )


def test_takes_commands(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    render_here(tiny_workflow(tmp_path / "wf.json"), out, tmp_path / "cache", monkeypatch, capsys)
    # Rendering the same graph again writes nothing and says which take it is.
    _, stderr = render_here(tmp_path / "wf.json", out, tmp_path / "cache2", monkeypatch, capsys)
    assert "Save Video: cached (take tiny_v001)" in stderr
    assert sorted(p.name for p in (out / "tiny").iterdir()) == [
        "tiny_v001.json",
        "tiny_v001.mp4",
        "tiny_v001_poster.png",
    ]
    capsys.readouterr()
    assert main(["takes", "list", "--dir", str(out)]) == 0
    assert "tiny_v001" in capsys.readouterr().out
    assert main(["takes", "rate", "tiny", "circle", "--dir", str(out)]) == 0
    assert main(["takes", "note", "tiny_v001", "\x1b[31mred\x1b[0m", "--dir", str(out)]) == 0
    capsys.readouterr()
    assert main(["takes", "list", "--rating", "circle", "--dir", str(out)]) == 0
    listed = capsys.readouterr().out
    assert "(o) tiny_v001" in listed and "\x1b" not in listed and "\\x1b[31mred" in listed
    assert main(["takes", "show", "tiny_v001", "--json", "--dir", str(out)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["nodes"]["i2v"]["type"] == "ImageToVideo" and shown["rating"] == "circle"
    assert main(["takes", "show", "tiny_v009", "--dir", str(out)]) == 2
    assert "no take 'tiny_v009'" in capsys.readouterr().err
    assert main(["takes", "rate", "tiny_v001", "reject", "--dir", str(out)]) == 0
    assert main(["takes", "purge", "--rejected", "--dir", str(out)]) == 0
    assert not (out / "tiny" / "tiny_v001.mp4").exists()
    assert main(["takes", "list", "--dir", str(tmp_path / "nowhere")]) == 2
    assert "no takes in" in capsys.readouterr().err


def test_takes_are_found_beside_the_workflow_by_default(tmp_path, capsys, monkeypatch):
    workflow = tiny_workflow(tmp_path / "wf.json")
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["render", str(workflow)]) == 0  # into renders/ beside the workflow
    assert (tmp_path / "renders" / "tiny" / "tiny_v001.mp4").is_file()
    capsys.readouterr()
    assert main(["takes", "list", "--dir", str(workflow)]) == 0  # the workflow names its takes
    assert "tiny_v001" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["takes", "show", "tiny"]) == 0  # ./renders by default
    assert "tiny_v001" in capsys.readouterr().out


def test_strip_paths_keeps_local_folders_out_of_the_outputs(tmp_path, capsys, monkeypatch):
    from PIL import Image

    pictures = tmp_path / "home" / "ana" / "Pictures"
    pictures.mkdir(parents=True)
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(pictures / "client_photo.png")
    graph = Graph(default_registry())
    graph.add("LoadImage", node_id="img").set_param("path", str(pictures / "client_photo.png"))
    graph.add("SaveImage", node_id="save").set_param("filename", "still")
    graph.connect("img", "image", "save", "image")
    save(graph, tmp_path / "wf.json")
    out = tmp_path / "out"
    render_here(tmp_path / "wf.json", out, tmp_path / "cache", monkeypatch, capsys, "--strip-paths")
    written = b"".join(p.read_bytes() for p in (out / "still").iterdir())
    written += b"".join(p.read_bytes() for p in out.glob("takes.sqlite*"))
    assert b"client_photo.png" in written and b"Pictures" not in written
    # Without the flag the path is stored relative to the take's folder (shared prefix gone).
    render_here(tmp_path / "wf.json", out, tmp_path / "cache", monkeypatch, capsys)
    sidecar = json.loads((out / "still" / "still_v002.json").read_text())
    assert sidecar["nodes"]["img"]["params"]["path"] == "../../home/ana/Pictures/client_photo.png"
    assert str(tmp_path) not in (out / "still" / "still_v002.json").read_text()
