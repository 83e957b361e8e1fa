"""GenerateKeyframe on a tiny randomly initialised Stable Diffusion pipeline built in code."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import build_flux, build_sd, one_torch_thread

from nodes.keyframe import GENERATE_KEYFRAME
from studio.engine.models import ModelManager
from studio.engine.testing import FakeRunContext
from studio.graph.spec import Cancelled, NodeError


@pytest.fixture(scope="session")
def sd_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def flux_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


@pytest.fixture(scope="module")
def manager() -> ModelManager:
    # Shared within the module so the tiny pipeline loads once, as it would in the app.
    return ModelManager()


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)


def params(model: Path, **overrides: Any) -> dict[str, Any]:
    values = GENERATE_KEYFRAME.default_params()
    values.update(
        model=str(model) if str(model) != "." else "",
        prompt="a red cat",
        width=64,
        height=48,
        steps=2,
        seed=7,
    )
    values.update(overrides)
    return values


def test_keyframe_is_an_rgb_image_of_the_asked_size_with_progress(
    sd_model: Path, manager: ModelManager
) -> None:
    ctx = FakeRunContext(models=manager)
    image = GENERATE_KEYFRAME.run(ctx, {}, params(sd_model))["image"]
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    assert image.std() > 1  # a picture, not a flat (black) frame
    assert ctx.progress_calls == [(1, 2), (2, 2)]


def test_same_seed_same_picture_other_seed_another(sd_model: Path, manager: ModelManager) -> None:
    run = GENERATE_KEYFRAME.run
    first = run(FakeRunContext(models=manager), {}, params(sd_model))["image"]
    again = run(FakeRunContext(models=manager), {}, params(sd_model))["image"]
    other = run(FakeRunContext(models=manager), {}, params(sd_model, seed=8))["image"]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert manager.loads == 1  # reused across runs, not reloaded


def test_reference_image_runs_image_to_image(sd_model: Path, manager: ModelManager) -> None:
    ctx = FakeRunContext(models=manager)
    reference = np.zeros((30, 40, 3), np.uint8)
    reference[:, 20:] = (250, 40, 40)
    p = params(sd_model, steps=4, strength=0.5)
    image = GENERATE_KEYFRAME.run(ctx, {"reference": reference}, p)["image"]
    assert image.shape == (48, 64, 3)
    assert ctx.progress_calls == [(1, 2), (2, 2)]  # strength 0.5 of 4 steps
    text_only = GENERATE_KEYFRAME.run(FakeRunContext(models=manager), {}, p)["image"]
    assert not np.array_equal(image, text_only)


def test_wrong_size_proposes_the_nearest_valid_one(sd_model: Path) -> None:
    # The tiny VAE halves the size once: sizes must be even.
    with pytest.raises(NodeError, match=r"multiples of 2\. Nearest valid size: 64x48"):
        GENERATE_KEYFRAME.run(FakeRunContext(), {}, params(sd_model, width=65, height=47))


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="no text-to-image model chosen"):
        GENERATE_KEYFRAME.run(FakeRunContext(), {}, params(Path("")))
    missing = tmp_path / "no-such-model"
    with pytest.raises(NodeError, match=f"'{missing}' not found. Looked for a folder"):
        GENERATE_KEYFRAME.run(FakeRunContext(), {}, params(missing))


def test_cancel_stops_within_a_step_and_frees_hooks(
    sd_model: Path, manager: ModelManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diffusers import DiffusionPipeline

    freed: list[int] = []
    original = DiffusionPipeline.maybe_free_model_hooks
    monkeypatch.setattr(
        DiffusionPipeline,
        "maybe_free_model_hooks",
        lambda self: (freed.append(1), original(self))[1],
    )
    ctx = FakeRunContext(models=manager, cancel_after=1)
    with pytest.raises(Cancelled):
        GENERATE_KEYFRAME.run(ctx, {}, params(sd_model, steps=3))
    assert ctx.progress_calls == [(1, 3)] and freed == [1]


def test_flux_keyframe_with_its_own_size_rule(flux_model: Path) -> None:
    ctx = FakeRunContext()
    image = GENERATE_KEYFRAME.run(ctx, {}, params(flux_model, width=32, height=24))["image"]
    assert image.shape == (24, 32, 3) and image.std() > 1 and ctx.progress_calls == [(1, 2), (2, 2)]
    with pytest.raises(NodeError, match="this Flux model: width and height must be multiples"):
        GENERATE_KEYFRAME.run(ctx, {}, params(flux_model, width=32, height=25))


def test_a_repo_id_in_the_hugging_face_cache_loads_offline(
    sd_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "hub" / "models--studio-tests--tiny-sd"
    shutil.copytree(sd_model, repo / "snapshots" / "c0ffee")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c0ffee")
    ctx = FakeRunContext()
    image = GENERATE_KEYFRAME.run(ctx, {}, params(Path("studio-tests/tiny-sd")))["image"]
    assert image.shape == (48, 64, 3)
    assert ctx.models.loaded()[0].key[0] == str((repo / "snapshots" / "c0ffee").resolve())
