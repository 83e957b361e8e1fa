"""Draft and final: draft keys differ from final ones exactly where the draft changes
something; Final after Draft re-runs only what final never rendered; draft takes are apart
and say they are drafts."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodes.diffusion.size_rules import SizeRule
from studio.engine import Cache, Engine
from studio.graph.draft import DraftSettings, draft_graph, is_draft
from studio.graph.fileformat import load
from studio.graph.graph import Graph
from studio.session.catalog import default_registry

EXAMPLE = Path(__file__).resolve().parent.parent / "resources" / "workflows" / "example.json"


@pytest.fixture(scope="module")
def registry():
    return default_registry(plugins=False)


def small_example(registry) -> Graph:
    graph = load(EXAMPLE, registry).graph
    animate = next(n for n in graph.nodes if n.type_id == "ImageToVideo")
    animate.set_param("frames", 9)
    animate.set_param("width", 128)
    animate.set_param("height", 80)
    for node in graph.nodes:
        if node.type_id == "Upscale":
            node.set_param("method", "lanczos")  # its draft changes nothing then
    return graph


def by_type(graph: Graph, keys: dict[str, str]) -> dict[str, str]:
    return {graph.node(n).type_id: k for n, k in keys.items()}


def test_draft_keys_differ_only_where_the_draft_changes_something(registry) -> None:
    graph = small_example(registry)
    draft, report = draft_graph(graph)
    engine = Engine(registry, Cache(disk=False))
    final_keys = by_type(graph, engine.keys(graph))
    draft_keys = by_type(draft, engine.keys(draft))
    changed = {graph.node(n).type_id for n in report.changes}
    assert "Upscale" not in changed  # already Lanczos: its draft is the final
    assert {"SampleImage", "RegionMask", "ImageToVideo", "SaveVideo"} <= changed
    # The keyframe's draft changes its pixels, so every node downstream of it has a new key ...
    assert all(final_keys[t] != draft_keys[t] for t in final_keys)
    # ... while a draft that changes nothing keys exactly as final.
    untouched = Graph(registry)
    untouched.add("SampleImage").set_param("photo", "coffee")
    keys_final = engine.keys(untouched)
    draft_untouched, _ = draft_graph(untouched, DraftSettings(scale=1.0))
    assert engine.keys(draft_untouched) == keys_final  # scale 1: the draft changes nothing
    assert is_draft(draft_untouched) and not is_draft(untouched)


def test_the_draft_declarations_keep_durations_and_model_rules(registry) -> None:
    graph = Graph(registry)
    i2v = graph.add("ImageToVideo")
    i2v.set_param("model", "some/wan-model")
    i2v.set_param("frames", 81)
    i2v.set_param("fps", 16.0)
    i2v.set_param("width", 832)
    i2v.set_param("height", 480)
    i2v.set_param("steps", 40)
    draft, report = draft_graph(graph)
    params = draft.node(i2v.id).params
    assert params["frames"] == 41
    assert params["fps"] * 2 == pytest.approx(16.0)  # same duration
    assert (params["width"], params["height"]) == (416, 256)
    assert params["steps"] == 10
    # Planned without the model: the draft suits every family's size and frame rule.
    for rule in (
        SizeRule(16, 4, "Wan"),
        SizeRule(32, 8, "LTX-Video"),
        SizeRule(32, 8, "LTX-2"),
        SizeRule(16, 4, "HunyuanVideo 1.5"),
    ):
        rule.check_size(params["width"], params["height"])
        rule.check_frames(params["frames"])
    i2v.set_param("frames", 121)
    i2v.set_param("height", 544)
    longer = draft_graph(graph)[0].node(i2v.id).params
    assert longer["frames"] == 57 and longer["height"] == 256  # 8n+1, a multiple of 32
    assert longer["frames"] / longer["fps"] == pytest.approx(121 / 16.0, rel=0.02)
    standin, _ = draft_graph(graph, DraftSettings(animator=True))
    assert standin.node(i2v.id).params["model"] == ""  # the built-in animator stands in


def test_final_after_draft_reruns_only_what_final_never_rendered(registry, tmp_path: Path) -> None:
    graph = small_example(registry)
    engine = Engine(registry, Cache(tmp_path / "cache"))
    draft, _ = draft_graph(graph)
    first = engine.run(draft, output_dir=tmp_path / "out")
    assert first.status == "ok"
    final = engine.run(graph, output_dir=tmp_path / "out")
    assert final.status == "ok"
    # Every node whose final key differs from its draft key ran; nothing else did.
    ran = {graph.node(n).type_id for n in final.executed}
    assert "SampleImage" in ran and "SaveVideo" in ran
    again = engine.run(graph, output_dir=tmp_path / "out")
    assert again.executed == []  # final is cached now, beside the draft
    draft_again = engine.run(draft, output_dir=tmp_path / "out")
    assert draft_again.executed == []  # and the draft still is

    takes = sorted(p.name for p in (tmp_path / "out").rglob("*_v001.mp4"))
    assert takes == ["rocket_launch_draft_v001.mp4", "rocket_launch_v001.mp4"]
    [sidecar] = (tmp_path / "out").rglob("rocket_launch_draft_v001.json")
    text = sidecar.read_text()
    assert '"scale": 0.5' in text  # the draft's settings, recorded with the take
    final_sidecar = next((tmp_path / "out").rglob("rocket_launch_v001.json")).read_text()
    assert '"scale": 0.5' not in final_sidecar


def test_studio_render_draft_writes_a_half_size_draft_take(registry, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from studio.cli import main
    from studio.graph.fileformat import save

    graph = Graph(registry)
    photo = graph.add("SampleImage", title="Photo")
    saver = graph.add("SaveImage", title="Save")
    saver.set_param("filename", "still")
    graph.connect(photo.id, "image", saver.id, "image")
    workflow = tmp_path / "still.json"
    save(graph, workflow)
    out = tmp_path / "out"
    assert main(["render", str(workflow), "--out", str(out)]) == 0
    assert main(["render", str(workflow), "--out", str(out), "--draft"]) == 0
    final = np.asarray(Image.open(out / "still" / "still_v001.png"))
    draft = np.asarray(Image.open(out / "still_draft" / "still_draft_v001.png"))
    assert draft.shape[0] * 2 == final.shape[0] and draft.shape[1] * 2 == final.shape[1]
    from studio.takes import TakesDB

    db = TakesDB(out)
    assert db.get("still_draft_v001").draft and not db.get("still_v001").draft
