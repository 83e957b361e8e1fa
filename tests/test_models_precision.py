"""Precision (bf16 / fp8 layerwise storage / GGUF / int8) and the memory estimate before a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import build_wan_i2v

from benchmarks.bench_memory_estimate import measure_here, write_rss_model
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.memory_estimate import choose_precision, estimate
from studio.engine.models import ModelManager, read_model
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError

KEYFRAME = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)


pytestmark = pytest.mark.usefixtures("torch_one_thread", "offline_models")


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wan_i2v(tmp_path_factory.mktemp("precision") / "wan")


def render(folder: Path, manager: ModelManager, **extra: Any) -> tuple[np.ndarray, Any]:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(
        model=str(folder), prompt="a cat", width=32, height=32, frames=5, steps=2, fps=8.0, seed=1
    )
    values.update(extra)
    ctx = FakeRunContext(models=manager)
    return IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME}, values)["video"].frames, ctx


def test_fp8_storage_runs_close_to_full_precision_as_its_own_loaded_model(wan: Path) -> None:
    manager = ModelManager()
    full, _ = render(wan, manager, precision="bf16")
    fp8, ctx8 = render(wan, manager, precision="fp8")
    assert ctx8.said("precision fp8: Estimated peak") and ctx8.said("an estimate")
    assert manager.loads == 2  # a pipeline per precision, never one mutated under another's key
    assert not np.array_equal(full, fp8)
    assert np.abs(full.astype(int) - fp8.astype(int)).mean() < 12
    pipe = manager.loaded()[-1].pipeline
    import torch

    assert pipe.transformer.blocks[0].attn1.to_q.weight.dtype == torch.float8_e4m3fn
    assert render(wan, manager, precision="auto")[0].tobytes() == full.tobytes()  # CPU: bf16


def test_precisions_that_cannot_run_here_say_why(wan: Path) -> None:
    with pytest.raises(NodeError, match="'gguf' keeps a .gguf file's weights"):
        render(wan, ModelManager(), precision="gguf")
    with pytest.raises(NodeError, match="int8 weights need CUDA.*unavailable on this cpu"):
        render(wan, ModelManager(), precision="int8")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and glibc's malloc_trim")
def test_weight_estimates_are_within_2x_of_the_measured_rss_increase(tmp_path: Path) -> None:
    """Measured in this process, each load after the memory freed so far is handed back to the
    OS (earlier tests freed plenty, which a load would otherwise reuse unseen). A fresh process
    per precision (``benchmarks/bench_memory_estimate.py``) measures the same figures but costs
    ~10 s of imports each."""
    folder = write_rss_model(tmp_path / "wan-rss")
    model = read_model(folder)
    assert model is not None
    measured = measure_here(folder / "transformer", ("bf16", "fp8"))
    for precision, increase in measured.items():
        guess = estimate(model, precision, "fp32").weights
        assert guess / 2 <= increase <= guess * 2, (precision, guess, increase)
    assert estimate(model, "fp8", "fp32").weights < estimate(model, "bf16", "fp32").weights / 3


def test_auto_picks_what_fits_free_vram(wan: Path) -> None:
    model = read_model(wan)
    assert model is not None
    full = estimate(model, "bf16", "bf16", width=832, height=480, frames=81).total
    fp8 = estimate(model, "fp8", "bf16", width=832, height=480, frames=81).total
    size = dict(width=832, height=480, frames=81)
    assert fp8 < full
    assert choose_precision(model, full + 1, "bf16", cuda=True, **size) == "bf16"
    assert choose_precision(model, fp8 + 1, "bf16", cuda=True, **size) == "fp8"
    assert choose_precision(model, None, "bf16", cuda=False, **size) == "bf16"
