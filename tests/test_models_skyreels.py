"""SkyReels-V2 diffusion forcing image-to-video, short and long (segmented) shots, plain and
steered by motion brushes (SDEdit from the cut-and-drag clip, as Wan I2V)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_model_files import build_skyreels_df

from nodes.diffusion import skyreels
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.models import ModelManager, read_model
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import Motion, MotionBrushValue

KEYFRAME = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)


pytestmark = pytest.mark.usefixtures("torch_one_thread", "offline_models")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_skyreels_df(tmp_path_factory.mktemp("skyreels") / "df")


def render(
    folder: Path, frames: int, motion: Motion | None = None, **params: Any
) -> tuple[Any, Any]:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(model=str(folder), prompt="a cat", width=32, height=32, frames=frames, steps=2)
    values.update(params)
    ctx = FakeRunContext(models=SHARED)
    video = IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME, "motion": motion}, values)["video"]
    return video, ctx


SHARED = ModelManager()


def test_short_shot_is_image_to_video_with_progress(model: Path) -> None:
    info = read_model(model)
    assert info is not None and info.kind == "image-to-video"
    video, ctx = render(model, 9)
    assert video.frames.shape == (9, 32, 32, 3) and video.frames.std() > 1
    assert ctx.progress_calls == [(1, 2), (2, 2)]


def test_long_shot_runs_in_overlapping_segments(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skyreels, "BASE_FRAMES", 9)
    monkeypatch.setattr(skyreels, "OVERLAP_FRAMES", 5)
    video, ctx = render(model, 17)
    assert video.frames.shape[0] == 17
    assert ctx.progress_calls == [(i, 6) for i in range(1, 7)]  # 3 segments x 2 steps
    assert ctx.said("long shot: 3 segments of 9 frames overlapping by 5")


def brushes() -> Motion:
    region = np.zeros((32, 32), np.float32)
    region[8:20, 8:20] = 1
    return Motion(brushes=(MotionBrushValue(region=region, trajectory=((0.3, 0.5), (0.7, 0.5))),))


@pytest.fixture
def vae_io(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Records the latents of every clip the Wan VAE encodes (the guidance clip: more than one
    frame) and of everything it decodes (the finished shot)."""
    from diffusers import AutoencoderKLWan

    seen: dict[str, list[Any]] = {"clips": [], "decoded": []}
    encode, decode = AutoencoderKLWan.encode, AutoencoderKLWan.decode

    def recording_encode(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        out = encode(self, x, *args, **kwargs)
        if x.shape[2] > 1:
            seen["clips"].append(out.latent_dist.mode())
        return out

    def recording_decode(self: Any, z: Any, *args: Any, **kwargs: Any) -> Any:
        seen["decoded"].append(z.clone())
        return decode(self, z, *args, **kwargs)

    monkeypatch.setattr(AutoencoderKLWan, "encode", recording_encode)
    monkeypatch.setattr(AutoencoderKLWan, "decode", recording_decode)
    return seen


def distances(latents: Any, clip: Any) -> list[float]:
    """Mean distance to the guidance clip's latents per generated latent frame (0 is the key)."""
    return [float((latents[:, :, i] - clip[:, :, i]).abs().mean()) for i in range(1, clip.shape[2])]


def test_brushes_steer_a_short_shot_from_the_noised_guidance_clip(
    model: Path, vae_io: dict[str, list[Any]]
) -> None:
    plain, _ = render(model, 9, steps=8)
    steered, ctx = render(model, 9, brushes(), steps=8, strength=0.125)
    assert steered.frames.shape == (9, 32, 32, 3)
    assert ctx.progress_calls == [(1, 1)]  # every frame's schedule starts 7 of 8 steps down
    clip = vae_io["clips"][-1]
    near, far = distances(vae_io["decoded"][-1], clip), distances(vae_io["decoded"][0], clip)
    assert all(n < 0.7 * f for n, f in zip(near, far, strict=True)), (near, far)
    # At full strength the clip is drowned in the same noise the plain render starts from.
    full, _ = render(model, 9, brushes(), steps=2, strength=1.0)
    assert np.array_equal(full.frames, render(model, 9, steps=2)[0].frames)
    with pytest.raises(NodeError, match="runs no step"):
        render(model, 9, brushes(), steps=2, strength=0.2)


def test_brushes_steer_every_segment_of_a_long_shot(
    model: Path, vae_io: dict[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skyreels, "BASE_FRAMES", 9)
    monkeypatch.setattr(skyreels, "OVERLAP_FRAMES", 5)
    plain, _ = render(model, 17, steps=8)
    steered, ctx = render(model, 17, brushes(), steps=8, strength=0.125)
    assert steered.frames.shape[0] == 17
    assert ctx.progress_calls == [(1, 3), (2, 3), (3, 3)]  # 3 segments x the last step
    clip = vae_io["clips"][-1]
    near, far = distances(vae_io["decoded"][-1], clip), distances(vae_io["decoded"][0], clip)
    # Latent frames 3 and 4 come from the later segments: their slices of the clip steer them.
    assert all(n < 0.7 * f for n, f in zip(near, far, strict=True)), (near, far)
