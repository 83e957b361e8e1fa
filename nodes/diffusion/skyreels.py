"""SkyReels-V2 diffusion forcing image-to-video: long shots in overlapping segments.

Diffusion forcing denoises frames at staggered noise levels, so a shot longer than the model's
base length is made segment after segment, each starting from the last ``OVERLAP_FRAMES`` of the
previous one (diffusers' ``SkyReelsV2DiffusionForcingImageToVideoPipeline``). The keyframe is
the clip's first frame, as for Wan I2V (the same VAE and latent space).

Motion brushes do not steer it yet: its per-frame schedulers leave no single schedule to start
part-way down (Wan I2V's SDEdit), so a steered shot is refused with a clear message.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from nodes.diffusion import pipelines as P
from studio.graph.spec import NodeError

if TYPE_CHECKING:
    from nodes.diffusion.image_to_video import Job

BASE_FRAMES = 97  # the SkyReels-V2 540P models' segment length
OVERLAP_FRAMES = 17  # frames each new segment shares with the previous one (diffusers' example)


def segments(frames: int, temporal: int = 4) -> int:
    """How many segments diffusers makes for ``frames`` (the pipeline's own arithmetic)."""
    if frames <= BASE_FRAMES:
        return 1
    latent = (frames - 1) // temporal + 1
    base = (BASE_FRAMES - 1) // temporal + 1
    overlap = (OVERLAP_FRAMES - 1) // temporal + 1
    return 1 + (latent - base - 1) // (base - overlap) + 1


def check_steering(steered: bool) -> None:
    if steered:
        raise NodeError(
            "motion brushes and camera moves do not steer SkyReels-V2 diffusion forcing yet: "
            "use a Wan I2V or Wan VACE model for a steered shot, or remove the brushes"
        )


def run_skyreels_df(pipe: Any, job: Job) -> np.ndarray:
    frames = job.common["num_frames"]
    long_shot = frames > BASE_FRAMES
    total = job.steps * segments(frames, pipe.vae_scale_factor_temporal)
    count = itertools.count(1)

    def on_step_end(pipe_: Any, _step: int, _t: int, kwargs: dict[str, Any]) -> dict[str, Any]:
        if job.preview is not None:
            job.preview.on_step(pipe_, kwargs.get("latents"))
        job.ctx.progress(min(next(count), total), total, "denoising")
        return kwargs

    if long_shot:
        job.ctx.info(
            f"long shot: {segments(frames, pipe.vae_scale_factor_temporal)} segments of "
            f"{BASE_FRAMES} frames overlapping by {OVERLAP_FRAMES}"
        )
    return pipe(
        image=P.pil(job.keyframe),
        base_num_frames=min(frames, BASE_FRAMES),
        overlap_history=OVERLAP_FRAMES if long_shot else None,
        fps=int(round(job.fps)),
        callback_on_step_end=on_step_end,
        **job.common,
    ).frames
