"""SkyReels-V2 diffusion forcing image-to-video, short and long (segmented) shots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_model_files import build_skyreels_df
from tiny_models import one_torch_thread

from nodes.diffusion import skyreels
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.models import ModelManager, read_model
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import Motion, MotionBrushValue

KEYFRAME = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_skyreels_df(tmp_path_factory.mktemp("skyreels") / "df")


def render(folder: Path, frames: int, motion: Motion | None = None) -> tuple[Any, Any]:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(model=str(folder), prompt="a cat", width=32, height=32, frames=frames, steps=2)
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


def test_brushes_are_refused_with_what_would_steer(model: Path) -> None:
    region = np.zeros((32, 32), np.float32)
    region[8:20, 8:20] = 1
    motion = Motion(brushes=(MotionBrushValue(region=region, trajectory=((0.3, 0.5), (0.7, 0.5))),))
    with pytest.raises(NodeError, match="use a Wan I2V or Wan VACE model"):
        render(model, 9, motion)
