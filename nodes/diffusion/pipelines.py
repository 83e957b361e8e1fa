"""Loading diffusers pipelines through the model manager, speed-ups, and value conversions.

Everything here imports torch and diffusers inside functions: the editor imports ``nodes`` at
start and must not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nodes.diffusion.params import ATTENTION_BACKENDS, STEP_CACHES
from nodes.diffusion.precision import apply_precision
from nodes.diffusion.single_file import load_replaced_components
from studio.engine.devices import memory_info
from studio.engine.memory import choose_policy, is_out_of_memory, run_with_oom_retry
from studio.engine.models import ModelInfo
from studio.graph.spec import NodeError, RunContext

# Wan's FasterCache fails (IndexError) and MagCache needs a calibration run: not offered.


def build_pipeline(
    model: ModelInfo,
    dtype: Any,
    target: str = "",
    auto: str = "",
    fp32_components: tuple[str, ...] = (),
    precision: str = "bf16",
) -> Any:
    """Read ``model`` from disk (never from a hub) as diffusers class ``target`` on the CPU.

    ``auto`` names a diffusers AutoPipeline ("AutoPipelineForText2Image") that maps the folder's
    own class to the right task; ``target`` names a pipeline class to read the folder's
    components into (an LTXConditionPipeline over LTX image-to-video weights). Not
    ``from_pipe``: it casts every component to one dtype, float32 unless told otherwise.
    ``fp32_components`` stay in float32 when ``dtype`` is half precision (Wan's VAE and CLIP
    image encoder lose detail in bf16, and they are small).
    """
    import diffusers
    import torch

    if fp32_components and dtype != torch.float32:
        dtype = {"default": dtype, **dict.fromkeys(fp32_components, torch.float32)}

    loader = getattr(diffusers, auto or target or "DiffusionPipeline")
    try:
        # A single-file transformer replaces the base folder's own (which may be absent).
        components = load_replaced_components(model, dtype) if model.replaces else {}
        pipe = loader.from_pretrained(
            model.folder, local_files_only=True, **components, **dtype_kwarg(dtype)
        )
    except NodeError:
        raise
    except Exception as error:
        if is_out_of_memory(error):
            raise
        raise NodeError(
            f"could not load model {model.name!r} from {model.path}: {error}"
        ) from error
    pipe.set_progress_bar_config(disable=True)
    compute = dtype.get("default", torch.float32) if isinstance(dtype, dict) else dtype
    apply_precision(pipe, precision, compute, lambda _m: None)
    return pipe


def dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """``from_pretrained``'s dtype argument: diffusers renamed ``torch_dtype`` to ``dtype``."""
    import diffusers.utils.deprecation_utils as deprecation

    renamed = hasattr(deprecation, "_TORCH_DTYPE_DEPRECATION_MESSAGE")
    return {"dtype" if renamed else "torch_dtype": dtype}


def load(
    ctx: RunContext,
    model: ModelInfo,
    dtype: Any,
    policy: str,
    *,
    target: str = "",
    auto: str = "",
    vae_tiling: bool = False,
    fp32_components: tuple[str, ...] = (),
    precision: str = "bf16",
) -> Any:
    """The pipeline for ``model`` under ``policy`` and ``precision``, reused by the model
    manager when loaded."""
    return ctx.models.load(
        model,
        lambda: build_pipeline(model, dtype, target, auto, fp32_components, precision),
        device=ctx.device,
        dtype=dtype,
        policy=policy,
        info=ctx.info,
        vae_tiling=vae_tiling,
        variant=f"{target or auto}|{precision}",
    )


def run_on_model(
    ctx: RunContext, model: ModelInfo, requested_policy: str, attempt: Callable[[str], Any]
) -> Any:
    """Pick the memory policy (``auto`` from free memory) and run ``attempt(policy)`` with
    one out-of-memory retry under the next stricter policy."""
    policy = choose_policy(
        requested_policy, memory_info(ctx.device), model.size_bytes, model.largest_component_bytes
    )
    return run_with_oom_retry(
        attempt,
        policy,
        device=ctx.device,
        info=ctx.info,
        cleanup=lambda: ctx.models.unload(model.path),
    )


def denoisers(pipe: Any) -> list[Any]:
    """The models that run every step: the UNet or transformer, and Wan 2.2's low-noise
    expert ``transformer_2`` (either Wan 2.2 expert may be absent)."""
    found = [getattr(pipe, name, None) for name in ("transformer", "transformer_2", "unet")]
    return [model for model in found if model is not None]


def configure_speedups(
    pipe: Any,
    ctx: RunContext,
    step_cache: str = "off",
    compile_blocks: bool = False,
    attention: str = "default",
) -> None:
    """Switch the step cache, attention backend and block compilation of a (possibly
    reused) pipeline, on each of its denoisers alike."""
    models = denoisers(pipe)
    if step_cache not in STEP_CACHES:
        raise NodeError(f"unknown step cache {step_cache!r}; use one of {', '.join(STEP_CACHES)}")
    _set_attention(pipe, models, attention, ctx)
    current = getattr(pipe, "_studio_step_cache", "off")
    if models and step_cache != current:
        if current != "off":
            for model in models:
                model.disable_cache()
        pipe._studio_step_cache = "off"
        if step_cache != "off":
            _enable_step_cache(pipe, models, step_cache, ctx)
    if compile_blocks and not getattr(pipe, "_studio_compiled", False):
        compilable = [m for m in models if hasattr(m, "compile_repeated_blocks")]
        if not compilable:
            name = type(models[0]).__name__ if models else "the pipeline"
            ctx.info(f"compile skipped: {name} has no repeated blocks to compile")
        else:
            # Compiling the repeated block once covers all of them: a short first run.
            for model in compilable:
                model.compile_repeated_blocks(fullgraph=True)
            pipe._studio_compiled = True
    elif not compile_blocks and getattr(pipe, "_studio_compiled", False):
        ctx.info("the model stays compiled until it is unloaded")


def _set_attention(pipe: Any, models: list[Any], attention: str, ctx: RunContext) -> None:
    if attention not in ATTENTION_BACKENDS:
        raise NodeError(
            f"unknown attention backend {attention!r}; use one of {', '.join(ATTENTION_BACKENDS)}"
        )
    if attention == getattr(pipe, "_studio_attention", "default"):
        return
    setters = [getattr(m, "set_attention_backend", None) for m in models]
    if not models or None in setters:
        name = type(models[0]).__name__ if models else "the pipeline"
        ctx.info(f"attention '{attention}' skipped: {name} has no backends")
        return
    try:
        for setter in setters:
            setter(ATTENTION_BACKENDS[attention])
    except (ValueError, RuntimeError, ImportError) as error:
        # Missing package (flash-attn, sageattention) or an unsupported GPU.
        ctx.info(f"attention '{attention}' unavailable here, using the default: {error}")
        for setter in setters:
            setter("native")
        attention = "default"
    pipe._studio_attention = attention


def _enable_step_cache(pipe: Any, models: list[Any], step_cache: str, ctx: RunContext) -> None:
    name = type(models[0]).__name__
    if not all(hasattr(m, "enable_cache") for m in models):
        ctx.info(f"step cache skipped: {name} does not support one")
        return
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    enabled = []
    try:
        for model in models:
            # A config per model: its hooks keep per-model state.
            config = (
                FirstBlockCacheConfig(threshold=0.05)
                if step_cache == "first-block"
                else TaylorSeerCacheConfig()
            )
            model.enable_cache(config)
            enabled.append(model)
    except (ValueError, TypeError, NotImplementedError) as error:
        for model in enabled:
            model.disable_cache()
        ctx.info(f"step cache '{step_cache}' skipped for {name}: {error}")
        return
    pipe._studio_step_cache = step_cache


def generator(device: str, seed: int) -> Any:
    """A seeded torch.Generator where the latents are drawn: CUDA on CUDA, else the CPU
    (MPS generators are not reproducible across runs)."""
    import torch

    where = device if device.startswith("cuda") else "cpu"
    return torch.Generator(device=where).manual_seed(int(seed))


def to_uint8(
    frames: Any, what: str, new_frames: Callable[..., np.ndarray] | None = None
) -> np.ndarray:
    """diffusers' float [0, 1] output as uint8; NaNs (fp16 overflow) are an error, not black.
    Converted a few frames at a time into ``new_frames(shape)`` (a node's ``ctx.new_frames``)
    when given, so a long clip never has float copies of all of it."""
    array = np.asarray(frames)
    out = (new_frames or np.empty)(array.shape, np.uint8)
    step = 8 if array.ndim == 4 else len(array)  # a clip: 8 frames at a time; an image: whole
    for start in range(0, len(array), max(1, step)):
        part = np.asarray(array[start : start + step], dtype=np.float32)
        if not np.isfinite(part).all():
            raise NodeError(
                f"the model produced invalid values (NaN) for the {what}; this usually means "
                "fp16 overflow: try another seed, or a GPU with bfloat16"
            )
        out[start : start + step] = (np.clip(part, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out


def pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(image)
