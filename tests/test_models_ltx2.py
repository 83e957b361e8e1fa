"""LTX-2 image-to-video on a tiny model built in code: picture, sound, steering, errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stage_helpers import run_node
from tiny_ltx2 import AUDIO_RATE, build_ltx2_i2v

from nodes.diffusion.image_to_video import family
from nodes.image_to_video import IMAGE_TO_VIDEO
from nodes.io.save_video import SAVE_VIDEO
from nodes.io.video import LOAD_VIDEO
from studio.engine.disk_cache import DiskCache
from studio.engine.events import RunEventKind
from studio.engine.models import ModelManager, classify, read_model
from studio.engine.testing import FakeRunContext
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Motion, MotionBrushValue, Video

KEYFRAME = np.random.default_rng(5).integers(0, 256, (32, 32, 3), dtype=np.uint8)
FPS = 24.0
FRAMES = 9  # the tiny VAE compresses time 4x: 4k+1 frames
SHARED = ModelManager()


pytestmark = pytest.mark.usefixtures("torch_one_thread", "offline_models")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ltx2_i2v(tmp_path_factory.mktemp("ltx2") / "i2v")


def render(folder: Path, motion: Motion | None = None, **overrides: Any) -> tuple[Video, Any]:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(
        model=str(folder),
        prompt="a cat runs",
        width=32,
        height=32,
        frames=FRAMES,
        fps=FPS,
        steps=2,
        guidance=1.0,
    )
    values.update(overrides)
    ctx = FakeRunContext(models=overrides.pop("models", SHARED))
    video = IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME, "motion": motion}, values)["video"]
    return video, ctx


def brush_motion() -> Motion:
    region = np.zeros((32, 32), np.float32)
    region[8:20, 4:14] = 1.0
    return Motion(brushes=(MotionBrushValue(region=region, trajectory=((0.3, 0.5), (0.7, 0.5))),))


def previews(ctx: FakeRunContext) -> list[Any]:
    return [e.preview for e in ctx.run_events if e.kind is RunEventKind.NODE_PREVIEW]


def test_picture_and_sound_from_one_render_with_progress_and_preview(model: Path) -> None:
    info = read_model(model)
    assert info is not None and info.kind == "image-to-video" and family(info) == "ltx2"
    assert classify("LTX2Pipeline") == "image-to-video"  # how LTX-2 checkpoints are saved
    video, ctx = render(model, guidance=3.0)  # CFG on: two passes a step, video and sound
    assert video.frames.shape == (FRAMES, 32, 32, 3) and video.frames.std() > 1
    assert ctx.progress_calls == [(1, 2), (2, 2)]
    sound = video.audio
    assert sound is not None and sound.rate == AUDIO_RATE and sound.channels == 2
    assert len(sound) == round(FRAMES / FPS * AUDIO_RATE)  # exactly the picture's duration
    assert sound.samples.std() > 1e-3 and np.abs(sound.samples).max() <= 1.0
    # No published factors for LTX-2: the first run fits the preview from its own decode,
    # and from then on every step shows one.
    assert previews(ctx) == []
    _, ctx = render(model, seed=7)
    assert len(previews(ctx)) == 2 and previews(ctx)[-1].shape == (8, 8, 3)


def test_sound_survives_the_cache_an_mp4_and_loading_it_back(model: Path, tmp_path: Path) -> None:
    video, _ = render(model)
    assert video.audio is not None
    DiskCache(tmp_path / "cache").put("cd" * 20, {"video": video})
    cached = DiskCache(tmp_path / "cache").get("cd" * 20)["video"]
    assert cached.audio.rate == AUDIO_RATE
    np.testing.assert_array_equal(cached.audio.samples, video.audio.samples)

    ctx = FakeRunContext(tmp_path / "out")
    mp4 = run_node(SAVE_VIDEO, ctx, {"video": cached}, filename="ltx2")["files"][0]
    loaded = run_node(LOAD_VIDEO, FakeRunContext(), path=mp4)["video"]
    assert len(loaded) == FRAMES and loaded.audio is not None
    assert loaded.audio.rate == AUDIO_RATE
    assert abs(loaded.audio.duration_s - video.audio.duration_s) < 0.05
    original, decoded = video.audio.samples, loaded.audio.samples[: len(video.audio)]
    for channel in range(2):  # AAC keeps each channel's waveform, in sync (no lag)
        before, after = original[:, channel], decoded[:, channel]
        assert 0.5 < after.std() / before.std() < 2  # not silent
        assert np.corrcoef(before, after)[0, 1] > 0.8


def test_brushes_steer_through_a_soft_video_condition(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diffusers import LTX2ConditionPipeline

    calls: list[dict[str, Any]] = []
    original = LTX2ConditionPipeline.__call__

    def spy(self: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(LTX2ConditionPipeline, "__call__", spy)
    plain, _ = render(model)
    steered, ctx = render(model, brush_motion(), strength=0.25)
    clip, keyframe = calls[0]["conditions"]
    assert (clip.strength, clip.index, len(clip.frames)) == (0.75, 0, FRAMES)
    assert (keyframe.strength, keyframe.index) == (1.0, 0)  # after the clip: frame 0 is hard
    np.testing.assert_array_equal(np.asarray(keyframe.frames), KEYFRAME)
    assert steered.frames.shape == plain.frames.shape and steered.audio is not None
    assert not np.array_equal(steered.frames, plain.frames)
    assert ctx.progress_calls == [(1, 2), (2, 2)]


def test_cancel_stops_within_a_step_and_returns_nothing(model: Path) -> None:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(model=str(model), width=32, height=32, frames=FRAMES, steps=2, guidance=1.0)
    ctx = FakeRunContext(models=SHARED, cancel_after=1)
    with pytest.raises(Cancelled):
        IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME}, values)
    assert ctx.progress_calls == [(1, 2)]


def test_bad_sizes_and_missing_parts_say_what_to_do(model: Path, tmp_path: Path) -> None:
    with pytest.raises(NodeError, match=r"LTX-2 model: width and height must be multiples of 32"):
        render(model, width=48, height=32)
    with pytest.raises(NodeError, match=r"needs 4k\+1 frames. Nearest valid: 9 or 13"):
        render(model, frames=10)
    broken = tmp_path / "no-vocoder"
    shutil.copytree(model, broken)
    shutil.rmtree(broken / "vocoder")
    with pytest.raises(NodeError, match=r"incomplete: .* has no vocoder \(the vocoder"):
        render(broken, models=ModelManager())


def test_fp8_storage_and_a_lora_both_reach_the_ltx2_transformer(
    model: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(1)
    tensors = {}
    for module in ("attn1.to_q", "attn1.to_v"):  # diffusers' own LoRA layout
        prefix = f"transformer.transformer_blocks.0.{module}"
        tensors[f"{prefix}.lora_A.weight"] = torch.randn(2, 16, generator=generator)
        tensors[f"{prefix}.lora_B.weight"] = torch.randn(16, 2, generator=generator)
    save_file(tensors, str(tmp_path / "style.safetensors"))
    base, _ = render(model)
    fp8, ctx = render(model, precision="fp8")
    assert ctx.said("precision fp8") and fp8.audio is not None
    assert 0 < np.abs(base.frames.astype(int) - fp8.frames.astype(int)).mean() < 12
    styled, _ = render(model, loras=[{"file": str(tmp_path / "style.safetensors"), "strength": 1}])
    assert np.abs(base.frames.astype(int) - styled.frames.astype(int)).mean() > 1


def test_sound_track_is_fitted_to_the_picture_and_refuses_nan() -> None:
    from nodes.diffusion.ltx2 import sound_track

    short = sound_track(np.full((2, 5), 0.5, np.float32), rate=10, seconds=1.0)  # padded
    assert short.samples.shape == (10, 2) and short.samples[5:].max() == 0
    long = sound_track(np.linspace(-2, 2, 40, dtype=np.float32).reshape(2, 20), 10, 1.0)
    assert long.samples.shape == (10, 2) and long.samples.min() == -1.0  # trimmed, clipped
    with pytest.raises(NodeError, match="invalid values"):
        sound_track(np.full((1, 4), np.nan, np.float32), 10, 0.4)
