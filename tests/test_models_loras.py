"""LoRAs on the diffusion nodes: diffusers' loaders, checked against a hand merge W + s*BA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import build_wan22_i2v, build_wan_i2v, one_torch_thread

from nodes.diffusion.loras import Lora, apply_loras, check_loras
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine import Engine
from studio.engine.models import ModelManager
from studio.engine.testing import FakeRunContext
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeError

KEYFRAME = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
RANK, ALPHA = 2, 1.0  # diffusers scales a ComfyUI LoRA by alpha / rank
TARGETS = {  # original (ComfyUI) name -> diffusers module, in both blocks of the tiny Wan
    "self_attn.q": "attn1.to_q",
    "cross_attn.v": "attn2.to_v",
    "ffn.0": "ffn.net.0.proj",
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _no_other_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)


def write_lora(path: Path, seed: int, dim: int = 24, ffn: int = 32) -> dict[str, Any]:
    """A ComfyUI-layout Wan LoRA; returns {diffusers module: (A, B)} for the hand merge."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors, pairs = {}, {}
    for block in range(2):
        for original, module in TARGETS.items():
            out_features = ffn if original == "ffn.0" else dim
            down = torch.randn(RANK, dim, generator=generator) * 0.5
            up = torch.randn(out_features, RANK, generator=generator) * 0.5
            prefix = f"diffusion_model.blocks.{block}.{original}"
            tensors[f"{prefix}.lora_down.weight"] = down
            tensors[f"{prefix}.lora_up.weight"] = up
            tensors[f"{prefix}.alpha"] = torch.tensor(ALPHA)
            pairs[f"blocks.{block}.{module}"] = (down, up)
    save_file(tensors, str(path))
    return pairs


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("lora")
    folder = build_wan_i2v(root / "wan")
    loras = root / "ComfyUI" / "models" / "loras"
    loras.mkdir(parents=True)
    pairs = write_lora(loras / "style.safetensors", seed=5)
    write_lora(loras / "lightx2v_i2v_4steps.safetensors", seed=6)
    return dict(folder=folder, root=root, loras=loras, pairs=pairs, manager=ModelManager())


def load_pipe(folder: Path) -> Any:
    from diffusers import WanImageToVideoPipeline

    return WanImageToVideoPipeline.from_pretrained(folder, local_files_only=True)


def forward(transformer: Any) -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 36, 2, 8, 8, generator=generator)
    text = torch.randn(1, 6, 32, generator=generator)
    image = torch.randn(1, 5, 4, generator=generator)
    with torch.no_grad():
        return transformer(x, torch.tensor([700]), text, encoder_hidden_states_image=image).sample


STRENGTH = 0.7


@pytest.fixture(scope="module")
def hand_merged(setup: dict[str, Any]) -> tuple[Any, Any]:
    """The plain transformer's output, and the output with W + s*BA merged by hand: computed
    once for both ways of applying the LoRA."""
    import torch
    from diffusers import WanTransformer3DModel

    transformer = WanTransformer3DModel.from_pretrained(setup["folder"] / "transformer")
    plain = forward(transformer)
    with torch.no_grad():
        for module, (down, up) in setup["pairs"].items():
            layer = transformer.get_submodule(module)
            layer.weight += STRENGTH * (ALPHA / RANK) * (up @ down)
    return plain, forward(transformer)


@pytest.mark.parametrize("fuse", [False, True], ids=["adapters", "fused"])
def test_lora_effect_equals_the_hand_merge(
    setup: dict[str, Any], hand_merged: tuple[Any, Any], fuse: bool
) -> None:
    import torch

    plain, expected = hand_merged
    assert (expected - plain).abs().max() > 1e-2
    pipe = load_pipe(setup["folder"])
    lora = Lora(setup["loras"] / "style.safetensors", STRENGTH)
    apply_loras(pipe, [lora], FakeRunContext(), fuse=fuse)
    torch.testing.assert_close(forward(pipe.transformer), expected, rtol=1e-4, atol=1e-5)
    apply_loras(pipe, [], FakeRunContext())  # and off again: the plain model
    torch.testing.assert_close(forward(pipe.transformer), plain)


def render(
    setup: dict[str, Any], loras: list[dict[str, Any]], **extra: Any
) -> tuple[np.ndarray, Any]:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(
        model=str(setup["folder"]),
        prompt="a cat walks",
        width=32,
        height=32,
        frames=5,
        steps=2,
        fps=8.0,
        seed=1,
        loras=loras,
    )
    values.update(extra)
    ctx = FakeRunContext(models=setup["manager"])
    return IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME}, values)["video"].frames, ctx


def test_strength_zero_and_disabled_equal_no_lora_and_a_lora_changes_the_clip(
    setup: dict[str, Any],
) -> None:
    style = str(setup["loras"] / "style.safetensors")
    plain, _ = render(setup, [])
    with_lora, ctx = render(setup, [{"file": style, "strength": 0.8}])
    assert not np.array_equal(plain, with_lora) and ctx.said("style x0.8")
    assert np.array_equal(render(setup, [{"file": style, "strength": 0.0}])[0], plain)
    off = [{"file": style, "strength": 0.8, "enabled": False}]
    assert np.array_equal(render(setup, off)[0], plain)
    again, _ = render(setup, [{"file": style, "strength": 0.8}])
    assert np.array_equal(again, with_lora)  # the reused pipeline re-takes the LoRA
    assert setup["manager"].loads == 1


def test_fast_draft_runs_the_distillation_lora_at_few_steps_and_guidance_one(
    setup: dict[str, Any],
) -> None:
    style = {"file": str(setup["loras"] / "style.safetensors"), "strength": 1.0}
    with pytest.raises(NodeError, match="step-distillation LoRA"):
        render(setup, [style], fast_draft=True, steps=30)
    distill = {"file": str(setup["loras"] / "lightx2v_i2v_4steps.safetensors"), "strength": 1.0}
    _, ctx = render(setup, [distill], fast_draft=True, steps=30)
    assert ctx.progress_calls == [(i, 4) for i in range(1, 5)]
    assert ctx.said("fast draft: 4 steps at guidance 1")


def test_bad_lora_entries_are_clear_errors(setup: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="file not found"):
        check_loras([{"file": str(tmp_path / "nope.safetensors"), "strength": 1}])
    with pytest.raises(NodeError, match="outside -4..4"):
        check_loras([{"file": str(setup["loras"] / "style.safetensors"), "strength": 9}])
    (tmp_path / "old.pt").write_bytes(b"\x80\x04junk")
    with pytest.raises(NodeError, match="pickled"):
        check_loras([{"file": str(tmp_path / "old.pt"), "strength": 1}])


def test_wan_22_experts_get_the_lora_their_file_names(setup: dict[str, Any]) -> None:
    from diffusers import WanImageToVideoPipeline

    folder = build_wan22_i2v(setup["root"] / "wan22")
    pipe = WanImageToVideoPipeline.from_pretrained(folder, local_files_only=True)
    high = setup["loras"] / "distill_high_noise.safetensors"
    low = setup["loras"] / "distill_low_noise.safetensors"
    write_lora(high, seed=7)
    write_lora(low, seed=8)
    entries = check_loras(
        [
            {"file": str(high), "strength": 1},
            {"file": str(low), "strength": 1},
            {"file": str(setup["loras"] / "style.safetensors"), "strength": 0.5},
        ]
    )
    assert [e.expert for e in entries] == ["high", "low", "both"]
    apply_loras(pipe, entries, FakeRunContext())
    assert set(pipe.transformer.peft_config) == {"lora0_transformer", "lora2_transformer"}
    assert set(pipe.transformer_2.peft_config) == {"lora1_transformer_2", "lora2_transformer_2"}


def test_lora_files_and_strengths_enter_the_cache_key(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    import shutil

    lora = tmp_path / "mine.safetensors"
    shutil.copy(setup["loras"] / "style.safetensors", lora)
    engine = Engine(NodeRegistry([IMAGE_TO_VIDEO]))

    def key(strength: float) -> str:
        graph = Graph(NodeRegistry([IMAGE_TO_VIDEO]))
        node = graph.add(
            "ImageToVideo", params={"loras": [{"file": str(lora), "strength": strength}]}
        )
        return engine.keys(graph, output_dir=tmp_path)[node.id]

    first = key(1.0)
    assert key(1.0) == first and key(0.5) != first
    write_lora(lora, seed=99)  # same name, new weights
    assert key(1.0) != first
    assert IMAGE_TO_VIDEO.files_read({"loras": [{"file": str(lora), "strength": 1.0}]}) == [lora]


def test_a_lora_for_another_family_is_a_clear_error(setup: dict[str, Any], tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    flux = tmp_path / "flux_style.safetensors"
    save_file(
        {
            "transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": torch.ones(2, 8),
            "transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight": torch.ones(8, 2),
        },
        str(flux),
    )
    pipe = load_pipe(setup["folder"])
    with pytest.raises(NodeError, match="flux_style.safetensors"):
        apply_loras(pipe, check_loras([{"file": str(flux), "strength": 1}]), FakeRunContext())
    assert not getattr(pipe.transformer, "peft_config", None)  # nothing half-loaded is left
