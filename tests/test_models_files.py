"""Single model files: ComfyUI tree discovery from headers only, and a tiny Wan transformer in
the original key layout (.safetensors) and GGUF-quantized (.gguf) rendering through Studio."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_model_files import (
    build_wide_wan_i2v,
    load_transformer,
    write_gguf,
    write_original_safetensors,
)
from tiny_models import one_torch_thread, t5_encoder

from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.model_files import inspect_file, scan_comfy_tree
from studio.engine.models import ModelManager, discover, format_model_report, resolve_model
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError

KEYFRAME = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)


class DictSettings(dict):
    """Stands in for studio.settings.Settings (only ``get`` is used)."""


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _no_other_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)


def render(settings: DictSettings, model: str) -> np.ndarray:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(
        model=model, prompt="a cat walks", width=32, height=32, frames=5, steps=2, fps=8.0, seed=1
    )
    ctx = FakeRunContext(models=ModelManager(settings))
    video = IMAGE_TO_VIDEO.run(ctx, {"image": KEYFRAME, "motion": None}, values)["video"]
    assert ctx.progress_calls == [(1, 2), (2, 2)]
    return video.frames


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A diffusers Wan folder *without* transformer weights beside a ComfyUI tree holding the
    transformer as original-layout safetensors and as Q8_0 GGUF; plus the reference render
    made with the folder's own transformer before its weights were removed."""
    import torch
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("artist")
    folder = build_wide_wan_i2v(root / "diffusers" / "wan-i2v-tiny")
    settings = DictSettings(model_folders=[str(root / "diffusers"), str(root / "ComfyUI")])
    with one_torch_thread():
        reference = render(settings, str(folder))
        transformer = load_transformer(folder)
    models = root / "ComfyUI" / "models"
    for sub in ("diffusion_models", "vae", "text_encoders", "loras", "upscale_models"):
        (models / sub).mkdir(parents=True)
    single = write_original_safetensors(
        transformer, models / "diffusion_models" / "wan_tiny.safetensors"
    )
    gguf = write_gguf(transformer, models / "diffusion_models" / "wan_tiny-Q8_0.gguf")
    write_original_safetensors(
        transformer, models / "diffusion_models" / "wan_tiny_bf16.safetensors", torch.bfloat16
    )
    save_file(
        {
            k: v.to(torch.float8_e4m3fn)
            for k, v in t5_encoder(umt5=True, layers=2).state_dict().items()
        },
        str(models / "text_encoders" / "umt5_tiny_fp8.safetensors"),
    )
    save_file(
        {
            "blocks.0.self_attn.q.lora_A.weight": torch.zeros(4, 32),
            "blocks.0.self_attn.q.lora_B.weight": torch.zeros(32, 4),
        },
        str(models / "loras" / "wan_style.safetensors"),
    )
    save_file(
        {"body.0.weight": torch.zeros(8, 3, 3, 3)},
        str(models / "upscale_models" / "x2.safetensors"),
    )
    # The VAE as a single file in models/vae (diffusers layout, as diffusers' own repos ship it).
    vae = models / "vae" / "wan_2.1_vae.safetensors"
    (folder / "vae" / "diffusion_pytorch_model.safetensors").rename(vae)
    # And the text encoder as ComfyUI keeps it (Hugging Face names, one file).
    encoder = models / "text_encoders" / "umt5_tiny_bf16.safetensors"
    (folder / "text_encoder" / "model.safetensors").rename(encoder)
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()  # the single files must stand in for these
    return dict(
        encoder=encoder,
        vae=vae,
        folder=folder,
        settings=settings,
        reference=reference,
        single=single,
        gguf=gguf,
        models=models,
        root=root,
    )


def test_comfy_tree_is_classified_from_headers(library: dict[str, Any]) -> None:
    found = {f.name: f for f in scan_comfy_tree(library["root"] / "ComfyUI")}
    wan = found["wan_tiny.safetensors"]
    assert (wan.role, wan.family, wan.variant, wan.storage) == (
        "diffusion-model",
        "wan",
        "Wan 2.1 I2V 32-wide",
        "fp32",
    )
    assert wan.details["in_channels"] == 36 and wan.details["num_layers"] == 2
    assert found["wan_tiny_bf16.safetensors"].storage == "bf16"
    gguf = found["wan_tiny-Q8_0.gguf"]
    assert (gguf.format, gguf.family, gguf.storage) == ("gguf", "wan", "Q8_0")
    assert gguf.details == wan.details
    text = found["umt5_tiny_fp8.safetensors"]
    assert (text.role, text.storage) == ("text-encoder", "fp8_e4m3fn")
    assert text.variant.startswith("UMT5")
    assert (found["wan_style.safetensors"].role, found["wan_style.safetensors"].family) == (
        "lora",
        "wan",
    )
    assert found["x2.safetensors"].role == "upscaler"
    assert all(f.size_bytes > 0 and not f.problem for f in found.values())


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(MARKER),))


MARKER = ""


def test_pickled_checkpoints_are_refused_without_unpickling(tmp_path: Path) -> None:
    global MARKER
    MARKER = str(tmp_path / "code-ran")
    models = tmp_path / "models" / "checkpoints"
    models.mkdir(parents=True)
    (models / "old.ckpt").write_bytes(pickle.dumps(_Boom()))
    (models / "broken.safetensors").write_bytes(b"\xff" * 12)
    found = {f.name: f for f in scan_comfy_tree(tmp_path / "models")}
    assert "pickled" in found["old.ckpt"].problem and ".safetensors" in found["old.ckpt"].problem
    assert found["broken.safetensors"].problem
    assert not Path(MARKER).exists()


def test_single_file_and_gguf_transformers_are_completed_by_the_matching_folder(
    library: dict[str, Any],
) -> None:
    found = {m.name: m for m in discover("image-to-video", library["settings"])}
    for name, storage in (("wan_tiny.safetensors", "fp32"), ("wan_tiny-Q8_0.gguf", "Q8_0")):
        model = found[name]
        assert model.base == library["folder"] and model.folder == library["folder"]
        assert model.replaces == (
            ("text_encoder", library["encoder"]),
            ("transformer", model.path),
            ("vae", library["vae"]),
        )
        assert (model.storage, model.pipeline_class, model.problem) == (
            storage,
            "WanImageToVideoPipeline",
            "",
        )


def test_original_layout_single_file_renders_like_the_folder(library: dict[str, Any]) -> None:
    frames = render(library["settings"], str(library["single"]))
    assert np.array_equal(frames, library["reference"])


def test_gguf_q8_transformer_renders_close_to_the_folder(library: dict[str, Any]) -> None:
    frames = render(library["settings"], str(library["gguf"]))
    reference = library["reference"]
    difference = np.abs(frames.astype(int) - reference.astype(int)).mean()
    assert difference < 2.0, difference  # Q8_0 rounding only
    assert not np.array_equal(frames, reference)  # it really ran the quantized weights


def test_a_file_without_a_matching_folder_names_what_is_missing_and_what_fits(
    library: dict[str, Any], tmp_path: Path
) -> None:
    alone = DictSettings(model_folders=[str(library["root"] / "ComfyUI")])
    with pytest.raises(NodeError) as error:
        resolve_model(str(library["single"]), "image-to-video", alone)
    message = str(error.value)
    assert "wan_tiny.safetensors" in message
    assert "tokenizer, UMT5 text encoder, Wan VAE and CLIP image encoder" in message
    assert "no diffusers folder of that family" in message
    listed = {m.name: m for m in discover("image-to-video", alone)}
    assert listed["wan_tiny.safetensors"].problem  # still listed, with the reason


def test_studio_models_lists_files_with_family_size_and_storage(library: dict[str, Any]) -> None:
    report = format_model_report(settings=library["settings"])
    line = next(x for x in report.splitlines() if "wan_tiny-Q8_0.gguf" in x and "Q8_0 " in x)
    assert "Wan 2.1 I2V" in line and "KB" in line or "MB" in line or "B" in line
    assert "umt5_tiny_fp8.safetensors" in report and "fp8_e4m3fn" in report
    assert f"the rest of the pipeline from {library['folder']}" in report


def test_inspect_file_reads_no_weights(
    library: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import safetensors.torch

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(safetensors.torch, "load_file", refuse)
    assert inspect_file(library["single"]).family == "wan"


def test_upscale_models_folder_feeds_the_upscale_nodes_choices(library: dict[str, Any]) -> None:
    from nodes.upscale import UPSCALE

    param = UPSCALE.param("model")
    assert param.reads_file and param.model_kind == "upscale-model"
    choices = {m.name: m.path for m in discover(param.model_kind, library["settings"])}
    assert choices == {"x2.safetensors": library["models"] / "upscale_models" / "x2.safetensors"}


def test_a_folder_without_vae_weights_takes_the_vae_file_or_says_it_is_missing(
    library: dict[str, Any], tmp_path: Path
) -> None:
    vae = inspect_file(library["vae"], "vae")
    assert (vae.role, vae.family, vae.variant, vae.details["z_dim"]) == (
        "vae",
        "wan",
        "Wan 2.1 VAE",
        16,
    )
    tree = tmp_path / "other" / "models" / "diffusion_models"
    tree.mkdir(parents=True)
    (tree / "wan_tiny.safetensors").symlink_to(library["single"])
    settings = DictSettings(
        model_folders=[str(library["root"] / "diffusers"), str(tmp_path / "other")]
    )
    with pytest.raises(NodeError, match="no VAE weights .* wan_2.1_vae.safetensors"):
        resolve_model(str(tree / "wan_tiny.safetensors"), "image-to-video", settings)
