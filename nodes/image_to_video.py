"""ImageToVideo: animate a keyframe, steered by motion brushes and a camera move.

With no model chosen it runs Studio's CPU *cut-and-drag* animator (:mod:`nodes.animate`).
With a diffusion model chosen (Wan, LTX, LTX-2, CogVideoX, HunyuanVideo 1.5 through diffusers)
the same cut-and-drag clip and its masks become the model's guidance
(:mod:`nodes.diffusion.image_to_video`); LTX-2 also makes the clip's sound track.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nodes.diffusion.checks import diffusion_check
from nodes.diffusion.loras import fast_draft_param, fuse_param, lora_param
from nodes.diffusion.params import (
    ATTENTION_BACKENDS,
    STEP_CACHES,
    guidance_param,
    memory_param,
    steps_param,
)
from nodes.diffusion.precision import precision_param
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import Motion, PortType

BUILT_IN = ""  # the ``model`` value that selects the CPU cut-and-drag animator


def run_image_to_video(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    image = inputs["image"]
    motion = inputs.get("motion") or Motion()
    if params["model"] != BUILT_IN:
        from nodes.diffusion.image_to_video import generate_video

        return {"video": generate_video(ctx, image, motion, params, inputs.get("last_image"))}
    if inputs.get("last_image") is not None:
        raise NodeError("a last frame needs a diffusion model (Wan I2V or Wan VACE)")

    from nodes.animate import cut_and_drag
    from nodes.animate_seed import moves, vary_motion

    if params["seed"] and not moves(motion):
        ctx.info(
            f"seed {params['seed']} changes nothing here: the built-in animator varies the "
            "brushes' timing and paths, and nothing moves (no motion brush, no camera move)"
        )
    motion = vary_motion(motion, params["seed"])
    size = (params["width"], params["height"]) if params["width"] and params["height"] else None
    if bool(params["width"]) != bool(params["height"]):
        raise NodeError("set both width and height, or leave both at 0 to keep the keyframe's")
    clip = cut_and_drag(
        image,
        motion,
        frames=params["frames"],
        fps=params["fps"],
        size=size,
        progress=ctx.progress,
        info=ctx.info,
        new_frames=ctx.new_frames,
        focus=ctx.focus_frame,
        preview=ctx.preview,
    )
    return {"video": clip.video}


DRAFT_FRAME_RULE = 8  # k*8 + 1 frames: every diffusion family's rule at once
DRAFT_SIZE_MULTIPLE = 32  # every diffusion family's size step at once


def draft_video_params(params: Mapping[str, Any], settings: Any, built_in: str) -> dict[str, Any]:
    """The draft of a video generator (Image to Video, Extend): fewer pixels, frames and steps.

    The draft is planned without loading (or even finding) the model, so for a diffusion model
    it keeps the strictest rule of every family Studio drives: 8n+1 frames (LTX, LTX-2, CogVideoX;
    also 4n+1 for Wan, HunyuanVideo 1.5) and sizes in multiples of 32 (LTX-2; also 16
    for the others). Any model then accepts its draft."""
    model = params["model"]
    if settings.animator:
        model = built_in
    draft: dict[str, Any] = {"model": model, "steps": settings.steps(int(params["steps"]))}
    diffusion = model != built_in
    draft["frames"] = settings.frames(
        int(params["frames"]), rule=DRAFT_FRAME_RULE if diffusion else 1
    )
    if "fps" in params and draft["frames"] != params["frames"]:
        draft["fps"] = float(params["fps"]) * (draft["frames"] - 1) / max(1, params["frames"] - 1)
    for side in ("width", "height"):
        if side in params:
            draft[side] = settings.size(int(params[side]), DRAFT_SIZE_MULTIPLE if diffusion else 16)
    return draft


IMAGE_TO_VIDEO = NodeSpec(
    type_id="ImageToVideo",
    accelerator=lambda params: params.get("model") != BUILT_IN,
    draft=lambda params, settings: draft_video_params(params, settings, BUILT_IN),
    draft_help="half the size, every 2nd frame (same duration), a quarter of the steps; "
    "the built-in animator if draft asks for it",
    title="Image to Video",
    category="Video",
    aliases=("i2v", "img2vid", "image2video", "animate"),
    tags=(
        "wan",
        "wan2.1",
        "wan2.2",
        "vace",
        "ltx",
        "ltx-video",
        "ltx-2",
        "audio",
        "cogvideox",
        "hunyuan",
        "hunyuanvideo",
        "diffusion",
        "fps",
        "frames",
    ),
    # 3: CogVideoX follows the brushes (SDEdit); Wan 2.2 TI2V runs as I2V.
    # 4: the built-in animator varies its performance with the seed (seed 0 as before).
    version=4,
    help=(
        "Animates the keyframe. Motion brushes move their regions along their paths and the "
        "camera move applies to the whole frame. With no model chosen, Studio's built-in "
        "cut-and-drag animator renders on the CPU; with a diffusion model (Wan, LTX, LTX-2, "
        "CogVideoX, HunyuanVideo 1.5) the brushes steer the model. LTX-2 also makes the clip's "
        "sound."
    ),
    run=run_image_to_video,
    check=diffusion_check("image-to-video", required=False),
    inputs=(
        Port("image", PortType.IMAGE, "The keyframe: the first frame of the clip."),
        Port("motion", PortType.MOTION, "Motion brushes and camera move.", optional=True),
        Port(
            "last_image",
            PortType.IMAGE,
            "Optional last frame (Wan 2.1 FLF2V, Wan 2.2 I2V A14B, Wan VACE).",
            optional=True,
        ),
    ),
    outputs=(Port("video", PortType.VIDEO),),
    params=(
        Param(
            "model",
            ParamKind.MODEL,
            BUILT_IN,
            model_kind="image-to-video",
            help="A diffusion model folder, or empty for the built-in CPU animator.",
        ),
        Param("prompt", ParamKind.TEXT, "", help="What happens in the shot (diffusion models)."),
        Param("negative_prompt", ParamKind.TEXT, "", help="What to avoid (diffusion models)."),
        Param(
            "seed",
            ParamKind.SEED,
            0,
            min=0,
            max=2**32 - 1,
            help="Same seed, same settings: same clip. The built-in animator plays the brushes "
            "exactly as drawn at seed 0; any other seed is another take of the same direction "
            "(timing, paths and camera varied a little).",
        ),
        Param(
            "frames",
            ParamKind.INT,
            33,
            min=1,
            max=1025,
            step=1,
            help="Clip length in frames. Wan and HunyuanVideo 1.5 need 4k+1, LTX, LTX-2 and "
            "CogVideoX 8k+1.",
        ),
        Param(
            "fps",
            ParamKind.FLOAT,
            16.0,
            min=1.0,
            max=120.0,
            step=1.0,
            help="Frames per second of the clip.",
        ),
        Param(
            "width",
            ParamKind.INT,
            0,
            min=0,
            max=4096,
            step=16,
            help="Output width in pixels; 0 keeps the keyframe's.",
        ),
        Param(
            "height",
            ParamKind.INT,
            0,
            min=0,
            max=4096,
            step=16,
            help="Output height in pixels; 0 keeps the keyframe's.",
        ),
        steps_param("Denoising steps (diffusion)."),
        guidance_param("Classifier-free guidance scale (diffusion)."),
        Param(
            "strength",
            ParamKind.FLOAT,
            0.7,
            min=0.0,
            max=1.0,
            step=0.05,
            help="For models without VACE: how far the model may depart from the "
            "cut-and-drag guidance clip (SDEdit). 1.0 ignores it.",
        ),
        memory_param(),
        precision_param(),
        lora_param(),
        fuse_param(),
        fast_draft_param(),
        Param(
            "step_cache",
            ParamKind.CHOICE,
            "off",
            choices=STEP_CACHES,
            help="Reuse transformer work between steps: faster, slightly different.",
        ),
        Param(
            "compile",
            ParamKind.BOOL,
            False,
            help="torch.compile the transformer's repeated blocks (slow first run).",
        ),
        Param(
            "attention",
            ParamKind.CHOICE,
            "default",
            choices=tuple(ATTENTION_BACKENDS),
            help="Attention kernel (GPU): flash and sage need their packages installed; "
            "unavailable ones fall back to the default.",
        ),
    ),
)

SPECS = (IMAGE_TO_VIDEO,)
