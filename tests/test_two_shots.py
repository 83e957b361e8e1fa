"""The two-shot example: keyframe -> shot 1 -> Frame(last) -> shot 2 -> Extend -> Sequence ->
score -> Interpolate -> Stabilize -> Upscale -> Save, rendered small end to end."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from studio.engine.cache import Cache
from studio.engine.scheduler import Engine
from studio.graph import fileformat
from studio.graph.validate import errors, validate
from studio.session import default_registry

WORKFLOW = Path(__file__).resolve().parents[1] / "resources" / "workflows" / "two_shots.json"


@pytest.fixture(scope="module")
def graph():
    return fileformat.load(WORKFLOW, default_registry()).graph


def test_the_example_is_the_chain_the_issue_asks_for(graph) -> None:
    assert errors(validate(graph)) == []
    by_title = {n.title: n for n in graph.nodes}
    seq = by_title["Cut together"]
    assert seq.param("transition") == "crossfade" and seq.slot_count("clip") == 2
    assert by_title["To 24 fps"].param("fps") == 24.0
    chain = ["Extend shot 2", "Cut together", "Score under picture", "To 24 fps", "Stabilize",
             "Upscale 2x", "Save sequence"]  # fmt: skip
    for a, b in zip(chain, chain[1:], strict=False):
        assert any(e.dst_node == by_title[b].id for e in graph.edges_from(by_title[a].id)), (a, b)
    frame = by_title["Last frame of shot 1"]
    assert frame.param("pick") == "last"
    assert graph.edge_into(by_title["Shot 2 (built-in)"].id, "image").src_node == frame.id


def test_it_renders_small_with_sound_and_a_cut(graph, tmp_path: Path) -> None:
    by_title = {n.title: n for n in graph.nodes}
    for title in ("Shot 1 (built-in)", "Shot 2 (built-in)"):
        by_title[title].set_param("frames", 9)
    by_title["Shot 1 (built-in)"].set_param("width", 256)
    by_title["Shot 1 (built-in)"].set_param("height", 144)
    by_title["Extend shot 2"].set_param("frames", 4)
    by_title["Upscale 2x"].set_param("method", "lanczos")
    engine = Engine(graph.registry, Cache(tmp_path / "cache"))
    result = engine.run(graph, output_dir=tmp_path / "out")
    assert result.status == "ok", result.errors
    interpolated = engine.output(graph, by_title["To 24 fps"].id)["video"]
    # 9 + (9 + 4) frames at 16 fps, crossfaded over 8, then raised to 24 fps.
    assert interpolated.fps == 24.0 and len(interpolated) == (9 + 13 - 8 - 1) * 3 // 2 + 1
    assert len(interpolated.cuts) == 1 and interpolated.audio is not None
    mp4 = next((tmp_path / "out").rglob("two_shots*.mp4"))
    with av.open(str(mp4)) as container:
        assert container.streams.video[0].width == 512
        assert container.streams.audio[0].codec_context.name == "aac"
