"""ImageToVideo with a diffusion model: Wan 2.1/2.2 I2V, Wan VACE, LTX-Video, LTX-2 (picture
and sound), CogVideoX I2V, HunyuanVideo 1.5 I2V.

Wan covers 2.1 I2V and FLF2V (first-last frame), 2.2 A14B I2V (two experts, ``transformer`` and
``transformer_2``) and 2.2 TI2V-5B (saved as a ``WanPipeline``, run as image-to-video).

How motion brushes steer each family (the cut-and-drag clip is :mod:`nodes.animate`'s):

* Wan VACE -- the clip is the control video and its masks the VACE mask (white = generate),
  with the keyframe as reference image. Without brushes: the keyframe as frame 0, the rest
  masked white (plain image-to-video).
* Wan I2V -- SDEdit: the clip is encoded, noised to ``strength`` and denoised by the I2V
  model, which keeps the keyframe as its image condition.
* LTX-Video -- the clip becomes a soft LTX video condition (``1 - strength``) beside the
  keyframe as a hard frame-0 condition (LTXConditionPipeline over the same weights).
* LTX-2 -- the same, through LTX2ConditionPipeline over the LTX-2 weights: the clip a soft
  video condition at frame 0 (``1 - strength``), the keyframe a hard one on the first latent
  frame; the sound is generated alongside and kept as the clip's track
  (:mod:`nodes.diffusion.ltx2`).
* CogVideoX I2V -- SDEdit like Wan I2V: the clip's latents, noised to ``strength``, replace the
  pipeline's starting noise; the keyframe stays its image condition.
* SkyReels-V2 diffusion forcing -- SDEdit like Wan I2V (same VAE and latents), every per-frame
  schedule started part-way down; a long shot's segments each start from their slice of the
  noised clip (:mod:`nodes.diffusion.skyreels`).
* HunyuanVideo 1.5 I2V -- SDEdit like Wan I2V: the clip's latents, noised to ``strength``, are
  its ``latents`` and it runs the tail of its schedule (``sigmas``); the keyframe stays its
  image condition (:mod:`nodes.diffusion.hunyuan15`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nodes.animate import cover_crop
from nodes.diffusion import ltx2
from nodes.diffusion import pipelines as P
from nodes.diffusion.callbacks import StepCallback, free_hooks_on_error, step_callback
from nodes.diffusion.hunyuan15 import check_hunyuan15, run_hunyuan15
from nodes.diffusion.loras import apply_loras, check_loras, fast_draft
from nodes.diffusion.precision import measured_peak, resolve_precision
from nodes.diffusion.preview import LatentPreview
from nodes.diffusion.size_rules import SizeRule, size_rule
from nodes.diffusion.skyreels import run_skyreels_df
from nodes.io.images import check_image
from studio.engine.models import ModelInfo
from studio.graph.spec import NodeError, RunContext
from studio.graph.types import Audio, Motion, Video

if TYPE_CHECKING:
    from nodes.animate import GuidanceClip


def family(model: ModelInfo) -> str:
    """ "vace", "wan", "ltx", "ltx2", "cogvideox", "skyreels-df" or "hunyuan15": the families
    ImageToVideo drives."""
    name = model.pipeline_class
    if model.kind == "vace":
        return "vace"
    if name.startswith("SkyReelsV2DiffusionForcing"):
        return "skyreels-df"
    families = (("Wan", "wan"), ("LTX2", "ltx2"), ("LTX", "ltx"), ("CogVideoX", "cogvideox"))
    for prefix, fam in (*families, ("HunyuanVideo15", "hunyuan15")):  # LTX2 before LTX
        if name.startswith(prefix):
            return fam
    raise NodeError(f"model {model.name!r} ({name}) is not an image-to-video model Studio drives")


def output_size(image: np.ndarray, params: Mapping[str, Any], rule: SizeRule) -> tuple[int, int]:
    """(width, height): the params', strictly checked, or the keyframe's snapped to the rule."""
    width, height = params["width"], params["height"]
    if bool(width) != bool(height):
        raise NodeError("set both width and height, or leave both at 0 to keep the keyframe's")
    if width:
        rule.check_size(width, height)
        return width, height
    return rule.nearest_side(image.shape[1]), rule.nearest_side(image.shape[0])


def generate_video(
    ctx: RunContext,
    image: np.ndarray,
    motion: Motion,
    params: Mapping[str, Any],
    last_image: np.ndarray | None = None,
    context: np.ndarray | None = None,
) -> Video:
    """Animate ``image`` with the diffusion model in ``params['model']``.

    ``context`` (Extend): frames that lead up to ``image`` (its last one is ``image``). Wan
    VACE keeps them as the clip's first frames, so the model continues their motion; the
    other families start from ``image`` alone."""
    # 1. Check inputs before loading any weights.
    model = ctx.models.resolve(params["model"], kind="image-to-video")
    fam = family(model)
    rule = size_rule(model.folder, model.pipeline_class)
    check_image(image, "image")
    width, height = output_size(image, params, rule)
    frames, steps, strength = params["frames"], params["steps"], params["strength"]
    guidance_scale = params["guidance"]
    loras = check_loras(params.get("loras", []))
    if params.get("fast_draft"):
        steps, guidance_scale = fast_draft(ctx, loras, steps, guidance_scale)
    rule.check_frames(frames)
    if last_image is not None:
        _check_last_frame_support(model, fam)
        last_image = cover_crop(check_image(last_image, "last_image"), width, height)
    keyframe = cover_crop(image, width, height)
    if context is not None:
        context = np.stack([cover_crop(np.asarray(f), width, height) for f in context])
    steered = bool(motion.brushes) or not motion.camera.is_identity
    if fam == "hunyuan15":
        check_hunyuan15(model, loras)
    if fam == "ltx2":
        ltx2.check_components(model)
    steered_by_sdedit = ("wan", "cogvideox", "skyreels-df", "hunyuan15")
    if steered and fam in steered_by_sdedit and int(steps * strength) < 1:
        raise NodeError(f"strength {strength:g} with {steps} steps runs no step: raise either")

    # 2. The cut-and-drag guidance clip (the brushes' and camera's motion, rendered).
    guidance = (
        _guidance(ctx, image, motion, frames, params["fps"], width, height) if steered else None
    )

    # 3. Load (or reuse) the pipeline and run; on OOM retry once with a stricter policy.
    dtype = ctx.models.dtype(ctx.device)
    precision = resolve_precision(
        ctx,
        model,
        params.get("precision", "auto"),
        dtype,
        width=width,
        height=height,
        frames=frames,
    )
    # LTX takes a context through its condition pipeline, as it takes brushes.
    target = _target(fam, steered or (context is not None and len(context) > 1), model)
    fp32 = ("vae", "image_encoder") if fam in ("wan", "vace", "skyreels-df") else ()

    def attempt(policy: str) -> tuple[np.ndarray, Audio | None]:
        pipe = P.load(
            ctx, model, dtype, policy, target=target, fp32_components=fp32, precision=precision
        )
        apply_loras(pipe, loras, ctx, fuse=params.get("fuse_loras", False))
        P.configure_speedups(
            pipe, ctx, params["step_cache"], params["compile"], params.get("attention", "default")
        )
        common: dict[str, Any] = dict(
            prompt=params["prompt"],
            negative_prompt=params["negative_prompt"] or None,
            height=height,
            width=width,
            num_frames=frames,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            generator=P.generator(ctx.device, params["seed"]),
            output_type="np",
        )
        job = Job(
            ctx,
            common,
            keyframe,
            guidance,
            last_image,
            strength,
            float(params["fps"]),
            context,
            preview,
        )
        with free_hooks_on_error(pipe):
            made = _RUNNERS[fam](pipe, job)
        return made if isinstance(made, tuple) else (made, None)  # LTX-2 adds its sound

    preview = LatentPreview(ctx, model.folder, fam, rule.frame_step)
    with measured_peak(ctx):
        clip, sound = P.run_on_model(ctx, model, params["memory"], attempt)
    frames = P.to_uint8(clip[0], "clip", ctx.new_frames)
    preview.learn(frames)
    return Video(frames, float(params["fps"]), sound)


def _check_last_frame_support(model: ModelInfo, fam: str) -> None:
    if fam not in ("wan", "vace"):
        raise NodeError("a last frame needs a Wan I2V (first-last frame) or Wan VACE model")
    if fam == "wan" and _json(model.folder / "model_index.json").get("expand_timesteps"):
        # diffusers accepts last_image for TI2V-5B and silently conditions on frame 0 only.
        raise NodeError(
            f"model {model.name!r} (Wan 2.2 TI2V) keeps only the first frame: use a Wan 2.1 "
            "FLF2V, a Wan 2.2 I2V A14B or a Wan VACE model for a last frame"
        )
    if fam == "wan" and (model.folder / "image_encoder").is_dir():
        # Wan 2.1 encodes both frames with CLIP; only the FLF2V transformer has room for two.
        transformer = _json(model.folder / "transformer" / "config.json")
        if not transformer.get("pos_embed_seq_len"):
            raise NodeError(
                f"model {model.name!r} has no first-last-frame support: use a Wan 2.1 FLF2V, "
                "a Wan 2.2 I2V or a Wan VACE model for a last frame"
            )


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _target(fam: str, steered: bool, model: ModelInfo) -> str:
    if fam == "ltx":
        return "LTXConditionPipeline" if steered else "LTXImageToVideoPipeline"
    if fam == "ltx2":
        return ltx2.target(steered)
    if fam == "cogvideox":
        return "CogVideoXImageToVideoPipeline"
    if fam == "wan":
        return "WanImageToVideoPipeline"  # TI2V-5B is saved as a (text-to-video) WanPipeline
    return model.pipeline_class


def _guidance(
    ctx: RunContext, image: np.ndarray, motion: Motion, frames: int, fps: float, w: int, h: int
) -> GuidanceClip:
    from nodes.animate import cut_and_drag

    # Guidance is cheap next to denoising: check for cancel per frame, report no progress.
    return cut_and_drag(
        image,
        motion,
        frames=frames,
        fps=fps,
        size=(w, h),
        progress=lambda _done, _total: ctx.check_cancelled(),
    )


# -- one runner per family: turn the node's inputs into that pipeline's call -------------------
@dataclass(frozen=True)
class Job:
    """What every runner needs: the pipeline call's shared arguments and the node's inputs."""

    ctx: RunContext
    common: dict[str, Any]  # prompt, size, frames, steps, guidance, generator, output type
    keyframe: np.ndarray  # already at the output size
    guidance: GuidanceClip | None  # the cut-and-drag clip when brushes or a camera move steer
    last_image: np.ndarray | None
    strength: float
    fps: float
    context: np.ndarray | None = None  # Extend: frames leading up to the keyframe (VACE)

    preview: LatentPreview | None = None

    @property
    def steps(self) -> int:
        return int(self.common["num_inference_steps"])

    def callback(self, total: int) -> StepCallback:
        return step_callback(self.ctx, total, preview=self.preview)


# A runner returns the pipeline's float frames, and LTX-2's also the sound track.
Runner = Callable[[Any, Job], np.ndarray | tuple[np.ndarray, Audio]]


def _run_vace(pipe: Any, job: Job) -> np.ndarray:
    frames, (h, w) = job.common["num_frames"], job.keyframe.shape[:2]
    if job.guidance is not None:
        video = list(job.guidance.video.frames)
        masks = [(np.clip(m, 0, 1) * 255 + 0.5).astype(np.uint8) for m in job.guidance.masks]
        reference = [P.pil(job.keyframe)]
    else:
        # Plain I2V with VACE: keep frame 0, generate the rest (grey = "no content" to VACE).
        video = [job.keyframe] + [np.full((h, w, 3), 127, np.uint8)] * (frames - 1)
        masks = [np.zeros((h, w), np.uint8)] + [np.full((h, w), 255, np.uint8)] * (frames - 1)
        reference = None
    if job.context is not None and len(job.context) > 1:
        # Extension: the frames before the keyframe lead the clip and are kept (mask black),
        # so the model continues their motion; the keyframe and what follows shift along.
        lead = min(len(job.context) - 1, frames - 1)
        video = list(job.context[len(job.context) - 1 - lead : -1]) + video[: frames - lead]
        masks = [np.zeros((h, w), np.uint8)] * lead + masks[: frames - lead]
    if job.last_image is not None:
        video[-1], masks[-1] = job.last_image, np.zeros((h, w), np.uint8)
    return pipe(
        video=[P.pil(f) for f in video],
        mask=[P.pil(m) for m in masks],
        reference_images=reference,
        callback_on_step_end=job.callback(job.steps),
        **job.common,
    ).frames


def _run_wan(pipe: Any, job: Job) -> np.ndarray:
    extra: dict[str, Any] = {}
    if job.last_image is not None:
        extra["last_image"] = P.pil(job.last_image)
    if job.guidance is None:
        return pipe(
            image=P.pil(job.keyframe),
            callback_on_step_end=job.callback(job.steps),
            **extra,
            **job.common,
        ).frames
    latents, start = _sdedit_latents(pipe, job.guidance.video.frames, job.strength, job.common)
    with _skip_first_steps(pipe.scheduler, start):
        return pipe(
            image=P.pil(job.keyframe),
            latents=latents,
            callback_on_step_end=job.callback(job.steps - start),
            **extra,
            **job.common,
        ).frames


def _run_ltx(pipe: Any, job: Job) -> np.ndarray:
    callback = job.callback(job.steps)
    frame_rate = int(round(job.fps))
    if job.context is not None and len(job.context) > 1:
        return _run_ltx_extension(pipe, job, frame_rate, callback)
    if job.guidance is None:
        return pipe(
            image=P.pil(job.keyframe),
            frame_rate=frame_rate,
            callback_on_step_end=callback,
            **job.common,
        ).frames
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    conditions = [
        LTXVideoCondition(image=P.pil(job.keyframe), frame_index=0, strength=1.0),
        LTXVideoCondition(
            video=[P.pil(f) for f in job.guidance.video.frames],
            frame_index=0,
            strength=1.0 - job.strength,
        ),
    ]
    return pipe(
        conditions=conditions, frame_rate=frame_rate, callback_on_step_end=callback, **job.common
    ).frames


def _run_ltx_extension(pipe: Any, job: Job, frame_rate: int, callback: Any) -> np.ndarray:
    """Extend with LTX: the clip's last frames are a hard video condition at frame 0 (LTX keeps
    8k+1 of them), the brushes' clip from the keyframe on a soft one after them."""
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    assert job.context is not None
    context = [P.pil(f) for f in job.context]
    conditions = [LTXVideoCondition(video=context, frame_index=0, strength=1.0)]
    if job.guidance is not None:
        lead = context[:-1]
        frames = job.common["num_frames"]
        steered = lead + [P.pil(f) for f in job.guidance.video.frames][: frames - len(lead)]
        conditions.append(
            LTXVideoCondition(video=steered, frame_index=0, strength=1.0 - job.strength)
        )
    return pipe(
        conditions=conditions, frame_rate=frame_rate, callback_on_step_end=callback, **job.common
    ).frames


def _run_cogvideox(pipe: Any, job: Job) -> np.ndarray:
    if job.guidance is None:
        return pipe(
            image=P.pil(job.keyframe),
            callback_on_step_end=job.callback(job.steps),
            **job.common,
        ).frames
    latents, start = _cogvideox_sdedit_latents(
        pipe, job.guidance.video.frames, job.strength, job.common
    )
    with _skip_first_steps(pipe.scheduler, start):
        return pipe(
            image=P.pil(job.keyframe),
            latents=latents,
            callback_on_step_end=job.callback(job.steps - start),
            **job.common,
        ).frames


_RUNNERS: dict[str, Runner] = {
    "vace": _run_vace,
    "wan": _run_wan,
    "ltx": _run_ltx,
    "ltx2": ltx2.run_ltx2,
    "cogvideox": _run_cogvideox,
    "skyreels-df": run_skyreels_df,
    "hunyuan15": run_hunyuan15,
}


# -- SDEdit (Wan I2V, CogVideoX I2V): start from the noised guidance clip, skip first steps ----
def _sdedit_latents(
    pipe: Any, frames: np.ndarray, strength: float, common: Mapping[str, Any]
) -> tuple[Any, int]:
    """The guidance clip encoded, normalised like Wan's latents and noised to ``strength``;
    and how many leading steps of the schedule that noise level skips."""
    import torch

    vae = pipe.vae
    encoded = _encode_clip(pipe, frames, common).float()
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean).view(shape).to(encoded)
    std = torch.tensor(vae.config.latents_std).view(shape).to(encoded)
    return _noised(pipe, (encoded - mean) / std, strength, common)


def _cogvideox_sdedit_latents(
    pipe: Any, frames: np.ndarray, strength: float, common: Mapping[str, Any]
) -> tuple[Any, int]:
    """The guidance clip as CogVideoX latents ([B, F, C, H, W], scaled like the ones it
    decodes) noised to ``strength``; and how many leading steps that skips."""
    import torch

    encoded = _encode_clip(pipe, frames, common).permute(0, 2, 1, 3, 4)
    clean = encoded * pipe.vae_scaling_factor_image
    # CogVideoX 1.5 pads the latent frames to its temporal patch and drops the padding after
    # denoising; pad the same way (with the first frame, as it pads the image latents).
    patch_t = pipe.transformer.config.patch_size_t
    if patch_t and clean.shape[1] % patch_t:
        pad = clean[:, :1].repeat(1, patch_t - clean.shape[1] % patch_t, 1, 1, 1)
        clean = torch.cat([pad, clean], dim=1)
    return _noised(pipe, clean.to(pipe.transformer.dtype), strength, common)


def _encode_clip(pipe: Any, frames: np.ndarray, common: Mapping[str, Any]) -> Any:
    """The clip through the pipeline's own video preprocessing and VAE: [B, C, F, H, W]."""
    import torch

    vae = pipe.vae
    video = pipe.video_processor.preprocess_video(
        [P.pil(f) for f in frames], height=common["height"], width=common["width"]
    ).to(pipe._execution_device, dtype=vae.dtype)
    with torch.no_grad():
        return vae.encode(video).latent_dist.mode()


def _noised(pipe: Any, clean: Any, strength: float, common: Mapping[str, Any]) -> tuple[Any, int]:
    from diffusers.utils.torch_utils import randn_tensor

    steps = common["num_inference_steps"]
    start = steps - min(int(steps * strength), steps)
    scheduler, device = pipe.scheduler, pipe._execution_device
    scheduler.set_timesteps(steps, device=device)
    noise = randn_tensor(
        clean.shape, generator=common["generator"], device=device, dtype=clean.dtype
    )
    timestep = scheduler.timesteps[start : start + 1]
    # Flow-matching Euler has scale_noise; UniPC (what Wan checkpoints ship) and CogVideoX's
    # DDIM/DPM have add_noise, which for flow sigmas is the same (1 - s) * x + s * noise.
    if hasattr(scheduler, "scale_noise"):
        return scheduler.scale_noise(clean, timestep, noise), start
    return scheduler.add_noise(clean, noise, timestep), start


@contextmanager
def _skip_first_steps(scheduler: Any, start: int) -> Iterator[None]:
    """Make the pipeline's own ``set_timesteps`` drop the first ``start`` steps (SDEdit)."""
    original = scheduler.set_timesteps

    def truncated(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        scheduler.timesteps = scheduler.timesteps[start:]
        if getattr(scheduler, "sigmas", None) is not None:  # CogVideoX's DDIM has none
            scheduler.sigmas = scheduler.sigmas[start:]

    scheduler.set_timesteps = truncated
    try:
        yield
    finally:
        del scheduler.set_timesteps  # the instance attribute; the class method shows again
