"""HunyuanVideo 1.5 image-to-video on a tiny model: discovery, a render, SDEdit steering."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_hunyuan15 import SPATIAL, TEMPORAL, build_hunyuan15_i2v

from nodes.diffusion.image_to_video import family
from nodes.diffusion.size_rules import size_rule
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.events import RunEventKind
from studio.engine.models import ModelManager, discover, read_model
from studio.engine.testing import FakeRunContext
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Motion, MotionBrushValue

KEYFRAME = np.random.default_rng(3).integers(0, 256, (24, 32, 3), dtype=np.uint8)
SHARED = ModelManager()


pytestmark = pytest.mark.usefixtures("torch_one_thread", "offline_models")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hunyuan15_i2v(tmp_path_factory.mktemp("hunyuan15") / "hy15-i2v")


def brush(to_x: float) -> Motion:
    region = np.zeros((24, 32), np.float32)
    region[6:18, 8:20] = 1
    stroke = MotionBrushValue(region=region, trajectory=((0.4, 0.5), (to_x, 0.5)))
    return Motion(brushes=(stroke,))


def render(
    folder: Path, motion: Motion | None = None, **params: Any
) -> tuple[np.ndarray, FakeRunContext]:
    ctx = FakeRunContext(models=SHARED)
    values = IMAGE_TO_VIDEO.default_params()
    values.update(model=str(folder), prompt="a cat", width=32, height=24, frames=9, steps=2)
    values.update(params)
    video = IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME, "motion": motion}, values)["video"]
    return video.frames, ctx


def test_discovery_finds_an_image_to_video_model(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_MODELS", str(model.parent))
    found = [m for m in discover("image-to-video") if m.path == model]
    assert len(found) == 1 and found[0].kind == "image-to-video"
    info = read_model(model)
    assert info is not None and family(info) == "hunyuan15"
    rule = size_rule(model, info.pipeline_class)
    assert (rule.multiple, rule.frame_step) == (SPATIAL, TEMPORAL)


def test_render_has_the_nodes_size_frames_guidance_and_a_preview(model: Path) -> None:
    frames, ctx = render(model)
    # Width and height are the node's (the pipeline's own bucket at target 32 is 32x32).
    assert frames.shape == (9, 24, 32, 3) and frames.std() > 1
    assert ctx.progress_calls == [(1, 2), (2, 2)]
    pipe = SHARED.loaded()[0].pipeline
    assert pipe.guider.guidance_scale == 6.0  # the node's guidance is set for the run only
    assert "step" not in vars(pipe.scheduler)
    passes: list[int] = []
    hook = pipe.transformer.register_forward_pre_hook(lambda *_args: passes.append(1))
    try:
        _, second = render(model, seed=1, guidance=1.0)
    finally:
        hook.remove()
    assert len(passes) == 2  # guidance 1 (the guider's own is 6): no CFG, one pass a step
    # The first run fitted the latent preview (4 channels); the next shows one a step.
    shown = [e.preview for e in second.run_events if e.kind is RunEventKind.NODE_PREVIEW]
    assert len(shown) == 2 and shown[-1].shape == (24 // SPATIAL, 32 // SPATIAL, 3)


def test_brushes_steer_by_sdedit(model: Path) -> None:
    plain, _ = render(model, seed=4, steps=4)
    # Strength 1 starts from pure noise: the guidance clip is ignored.
    ignored, _ = render(model, brush(0.9), seed=4, steps=4, strength=1.0)
    assert np.abs(ignored.astype(int) - plain.astype(int)).max() <= 1
    # Strength 0.25 starts from the clip noised to the last step's level: one step of four.
    right, ctx = render(model, brush(0.9), seed=4, steps=4, strength=0.25)
    assert ctx.progress_calls == [(1, 1)]
    left, _ = render(model, brush(0.1), seed=4, steps=4, strength=0.25)
    assert np.abs(right.astype(int) - plain.astype(int)).mean() > 5
    # Where the brush went matters (the clips differ only around the moved region).
    assert np.abs(right.astype(int) - left.astype(int)).mean() > 0.5
    with pytest.raises(NodeError, match="runs no step"):
        render(model, brush(0.9), steps=4, strength=0.2)


def test_cancel_stops_within_a_step_and_leaves_the_pipeline_clean(model: Path) -> None:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(model=str(model), prompt="a cat", width=64, height=48, frames=9, steps=2)
    ctx = FakeRunContext(models=SHARED, cancel_after=1)
    with pytest.raises(Cancelled):
        IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME}, values)
    assert ctx.progress_calls == [(1, 2)]
    # Four times the area of its own 32x24 bucket at that aspect: said, and run anyway.
    assert ctx.said("64x48 is far from this HunyuanVideo 1.5 model's own size")
    pipe = SHARED.loaded()[0].pipeline
    assert "step" not in vars(pipe.scheduler)
    assert "calculate_default_height_width" not in vars(pipe.video_processor)
    assert pipe.guider.guidance_scale == 6.0


def test_missing_component_and_loras_are_clear_errors(model: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    broken = tmp_path / "hy15-no-byt5"
    shutil.copytree(model, broken, ignore=shutil.ignore_patterns("text_encoder_2"))
    with pytest.raises(NodeError, match="'text_encoder_2' folder .the ByT5 glyph text encoder"):
        render(broken)
    lora = tmp_path / "style.safetensors"
    save_file(
        {
            "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": torch.ones(2, 16),
            "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": torch.ones(16, 2),
        },
        str(lora),
    )
    with pytest.raises(NodeError, match="HunyuanVideo 1.5 takes no LoRAs"):
        render(model, loras=[{"file": str(lora), "strength": 1.0}])
