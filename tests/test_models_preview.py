"""Live preview while denoising: a picture every step, fitted once from one decode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import build_wan_i2v

from nodes.diffusion.preview import fit_path
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.events import RunEventKind
from studio.engine.models import ModelManager
from studio.engine.testing import FakeRunContext

KEYFRAME = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
STEPS = 3


pytestmark = pytest.mark.usefixtures("torch_one_thread", "offline_models")


def render(folder: Path, manager: ModelManager, seed: int) -> tuple[np.ndarray, FakeRunContext]:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(
        model=str(folder),
        prompt="a red sky",
        width=64,
        height=64,
        frames=9,
        steps=STEPS,
        fps=8.0,
        seed=seed,
    )
    ctx = FakeRunContext(models=manager)
    return IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME}, values)["video"].frames, ctx


def previews(ctx: FakeRunContext) -> list[Any]:
    return [e.preview for e in ctx.run_events if e.kind is RunEventKind.NODE_PREVIEW]


def test_preview_every_step_fitted_once_and_like_the_decoded_frame(tmp_path: Path) -> None:
    import cv2

    folder = build_wan_i2v(tmp_path / "wan")
    manager = ModelManager()
    _, first = render(folder, manager, seed=1)
    # Before any fit: the published Wan 2.1 factors, a preview after every step.
    kinds = [e.kind for e in first.run_events]
    assert len(previews(first)) == STEPS
    assert all(
        kinds[i + 1] is RunEventKind.NODE_PROGRESS
        for i, k in enumerate(kinds)
        if k is RunEventKind.NODE_PREVIEW
    )
    assert fit_path(folder).is_file()  # fitted once, from this run's own decode
    assert not (folder / ".studio").exists()  # the model folder (and its fingerprint) untouched

    stamp = fit_path(folder).stat().st_mtime_ns
    frames, second = render(folder, manager, seed=2)  # another take: the fit is not its own
    assert fit_path(folder).stat().st_mtime_ns == stamp  # fitted once, then reused
    shown = previews(second)
    assert len(shown) == STEPS
    last = shown[-1]
    assert last.dtype == np.uint8 and last.shape == (8, 8, 3)
    middle = frames[(3 // 2) * 4]  # latent frame 1 of 3 covers video frame 4
    target = cv2.resize(middle, (8, 8), interpolation=cv2.INTER_AREA).astype(np.float32)
    correlation = np.corrcoef(last.astype(np.float32).ravel(), target.ravel())[0, 1]
    assert correlation > 0.8, correlation
