"""GenerateKeyframe: a still from a prompt with any diffusers text-to-image model.

SDXL, Flux, SD3.x, Sana and SD 1.x load through diffusers' AutoPipelineForText2Image; with a
``reference`` image the same weights run as image-to-image (AutoPipelineForImage2Image).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from nodes.diffusion.checks import diffusion_check
from nodes.diffusion.loras import fast_draft_param, fuse_param, lora_param
from nodes.diffusion.params import guidance_param, memory_param, seed_param, steps_param
from nodes.diffusion.precision import precision_param
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType


def run_generate_keyframe(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    from nodes.animate import cover_crop
    from nodes.diffusion import pipelines as P
    from nodes.diffusion.callbacks import free_hooks_on_error, step_callback
    from nodes.diffusion.loras import apply_loras, check_loras, fast_draft
    from nodes.diffusion.precision import measured_peak, resolve_precision
    from nodes.diffusion.size_rules import size_rule
    from nodes.io.images import check_image

    # 1. Check inputs before touching any weights.
    model = ctx.models.resolve(params["model"], kind="text-to-image")
    width, height = params["width"], params["height"]
    size_rule(model.folder, model.pipeline_class).check_size(width, height)
    reference = inputs.get("reference")
    steps, guidance = params["steps"], params["guidance"]
    loras = check_loras(params.get("loras", []))
    if params.get("fast_draft"):
        steps, guidance = fast_draft(ctx, loras, steps, guidance)
    if reference is not None:
        reference = cover_crop(check_image(reference, "reference"), width, height)
        steps_run = min(int(steps * params["strength"]), steps)
        if steps_run < 1:
            raise NodeError(
                f"strength {params['strength']:g} with {steps} steps runs no step at all: raise "
                f"the strength to at least {1 / steps:.2f} or the steps"
            )
    else:
        steps_run = steps

    # 2. Load (or reuse) the pipeline and run, retrying once with less memory on OOM.
    dtype = ctx.models.dtype(ctx.device)
    precision = resolve_precision(
        ctx, model, params.get("precision", "auto"), dtype, width=width, height=height
    )
    auto = "AutoPipelineForImage2Image" if reference is not None else "AutoPipelineForText2Image"

    def attempt(policy: str) -> Any:
        pipe = P.load(ctx, model, dtype, policy, auto=auto, precision=precision)
        apply_loras(pipe, loras, ctx, fuse=params.get("fuse_loras", False))
        kwargs: dict[str, Any] = dict(
            prompt=params["prompt"],
            negative_prompt=params["negative_prompt"] or None,
            num_inference_steps=steps,
            guidance_scale=guidance,
            height=height,
            width=width,
            generator=P.generator(ctx.device, params["seed"]),
            output_type="np",
            callback_on_step_end=step_callback(ctx, steps_run),
        )
        if reference is not None:
            kwargs.update(image=P.pil(reference), strength=params["strength"])
        with free_hooks_on_error(pipe):
            return pipe(**_accepted(pipe, kwargs)).images[0]

    with measured_peak(ctx):
        image = P.run_on_model(ctx, model, params["memory"], attempt)
    return {"image": P.to_uint8(image, "keyframe")}


def _accepted(pipe: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Only the arguments this pipeline takes (Flux has no negative prompt in older releases)."""
    accepted = inspect.signature(pipe.__call__).parameters
    return {k: v for k, v in kwargs.items() if k in accepted and v is not None}


GENERATE_KEYFRAME = NodeSpec(
    type_id="GenerateKeyframe",
    draft=lambda params, settings: {
        "width": settings.size(int(params["width"])),
        "height": settings.size(int(params["height"])),
        "steps": settings.steps(int(params["steps"])),
    },
    draft_help="half the size, a quarter of the steps",
    accelerator=lambda params: True,
    title="Generate Keyframe",
    category="Image",
    aliases=("txt2img", "text to image", "t2i", "img2img"),
    tags=("diffusion", "sd", "sdxl", "flux", "keyframe", "prompt"),
    version=1,
    help=(
        "Paints the keyframe from a prompt with a text-to-image model (SDXL, Flux, SD3, Sana, "
        "SD 1.x). With a reference image it reworks that image instead (image-to-image)."
    ),
    run=run_generate_keyframe,
    check=diffusion_check("text-to-image", required=True),
    inputs=(
        Port(
            "reference", PortType.IMAGE, "Optional image to rework (image-to-image).", optional=True
        ),
    ),
    outputs=(Port("image", PortType.IMAGE),),
    params=(
        Param(
            "model",
            ParamKind.MODEL,
            "",
            model_kind="text-to-image",
            help="A text-to-image model folder or a Hugging Face repo id already downloaded.",
        ),
        Param("prompt", ParamKind.TEXT, "", help="What the picture shows."),
        Param(
            "negative_prompt",
            ParamKind.TEXT,
            "",
            help="What to avoid (ignored by models without one).",
        ),
        seed_param("picture"),
        steps_param("Denoising steps."),
        guidance_param("How closely to follow the prompt (classifier-free guidance scale)."),
        Param(
            "width",
            ParamKind.INT,
            1024,
            min=64,
            max=4096,
            step=16,
            help="Width in pixels; a multiple of the model's size step (8, 16 or 32).",
        ),
        Param(
            "height",
            ParamKind.INT,
            576,
            min=64,
            max=4096,
            step=16,
            help="Height in pixels; a multiple of the model's size step (8, 16 or 32).",
        ),
        Param(
            "strength",
            ParamKind.FLOAT,
            0.6,
            min=0.0,
            max=1.0,
            step=0.05,
            help="With a reference: how far to depart from it (1.0 ignores it).",
        ),
        memory_param(),
        precision_param(),
        lora_param(),
        fuse_param(),
        fast_draft_param(),
    ),
)

SPECS = (GENERATE_KEYFRAME,)
