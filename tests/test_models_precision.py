"""Precision (bf16 / fp8 layerwise storage / GGUF / int8) and the memory estimate before a run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import build_wan_i2v, one_torch_thread

from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.memory_estimate import choose_precision, estimate
from studio.engine.models import ModelManager, read_model
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError

KEYFRAME = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)


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


MEASURE = """
import ctypes, gc, json, sys
from pathlib import Path
from types import SimpleNamespace
import torch
from diffusers import WanTransformer3DModel
from nodes.diffusion.precision import apply_precision

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

def load():
    model = WanTransformer3DModel.from_pretrained(sys.argv[1])
    apply_precision(SimpleNamespace(transformer=model), sys.argv[2], torch.float32, lambda _m: 0)
    with torch.no_grad():  # touch every weight: memory-mapped pages count once read
        sum(float(p.float().sum()) for p in model.parameters())
    return model

torch.set_num_threads(1)
del_me = load()  # first-use costs (lazy imports, kernels) are not the model's
del del_me
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)  # give what it freed back, so none of it is reused
before = rss()
loaded = load()
gc.collect()
print(json.dumps(rss() - before))
"""


def test_weight_estimates_are_within_2x_of_the_measured_rss_increase(tmp_path: Path) -> None:
    """Each precision is loaded in a fresh process, as Studio loads it (from_pretrained, then
    the precision applied): in this long-lived test process, memory freed by earlier tests
    would be reused and hide part of the increase."""
    import subprocess
    import sys

    import torch
    from diffusers import WanTransformer3DModel

    folder = tmp_path / "wan-big"
    torch.manual_seed(0)
    big = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=8,
        attention_head_dim=64,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=2048,
        num_layers=4,
    )
    big.save_pretrained(folder / "transformer")
    del big
    (folder / "model_index.json").write_text(
        json.dumps(
            {"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"]}
        )
    )
    model = read_model(folder)
    assert model is not None
    repo = Path(__file__).resolve().parent.parent
    measured = {}
    for precision in ("bf16", "fp8"):
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(folder / "transformer"), precision],
            capture_output=True,
            text=True,
            cwd=repo,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        measured[precision] = json.loads(done.stdout.strip().splitlines()[-1])
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
