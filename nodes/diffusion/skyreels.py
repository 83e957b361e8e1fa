"""SkyReels-V2 diffusion forcing image-to-video: long shots in overlapping segments.

Diffusion forcing denoises frames at staggered noise levels, so a shot longer than the model's
base length is made segment after segment, each starting from the last ``OVERLAP_FRAMES`` of the
previous one (diffusers' ``SkyReelsV2DiffusionForcingImageToVideoPipeline``). The keyframe is
the clip's first frame, as for Wan I2V (the same VAE and latent space).

Motion brushes steer it the way they steer Wan I2V, its closest backend: SDEdit. The
cut-and-drag clip is encoded by the Wan VAE, normalised like Wan's latents and noised to
``strength``; denoising starts part-way down the schedule. Diffusion forcing gives every latent
frame its own scheduler, all deep-copied from ``pipe.scheduler`` after the pipeline's
``set_timesteps`` and all stepping through the timestep matrix that ``generate_timestep_matrix``
builds from ``pipe.scheduler.timesteps``; so truncating that one schedule (Wan's
``_skip_first_steps``) truncates the matrix to its rows at or below the start timestep and
every per-frame scheduler with it. (Studio runs it synchronously, ``ar_step=0``: all frames share
one schedule. The asynchronous mode would feed frames still waiting their turn at timestep 999,
which is wrong for frames that start from a noised clip.) The noised clip is the pipeline's
public ``latents`` for the first segment. A long shot's later segments draw fresh noise inside
the pipeline, with no argument to pass instead, so for them ``prepare_latents`` is wrapped for
the call (the same instance-level pattern as ``_skip_first_steps``) to return the matching slice
of the noised clip; their overlap frames are then replaced by the previous segment's latents,
as without brushes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from nodes.diffusion import pipelines as P

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


def run_skyreels_df(pipe: Any, job: Job) -> np.ndarray:
    frames = job.common["num_frames"]
    long_shot = frames > BASE_FRAMES
    temporal = pipe.vae_scale_factor_temporal
    count = itertools.count(1)
    latents, start, steering = None, 0, ExitStack()
    if job.guidance is not None:
        # Lazy: image_to_video imports this module to pick its runner.
        from nodes.diffusion.image_to_video import _sdedit_latents, _skip_first_steps

        noised, start = _sdedit_latents(pipe, job.guidance.video.frames, job.strength, job.common)
        latents = noised[:, :, : (min(frames, BASE_FRAMES) - 1) // temporal + 1]
        steering.enter_context(_skip_first_steps(pipe.scheduler, start))
        if long_shot:
            steering.enter_context(_later_segments_from(pipe, noised))
    total = (job.steps - start) * segments(frames, temporal)

    def on_step_end(pipe_: Any, _step: int, _t: int, kwargs: dict[str, Any]) -> dict[str, Any]:
        if job.preview is not None:
            job.preview.on_step(pipe_, kwargs.get("latents"))
        job.ctx.progress(min(next(count), total), total, "denoising")
        return kwargs

    if long_shot:
        job.ctx.info(
            f"long shot: {segments(frames, temporal)} segments of "
            f"{BASE_FRAMES} frames overlapping by {OVERLAP_FRAMES}"
        )
    with steering:
        return pipe(
            image=P.pil(job.keyframe),
            latents=latents,
            base_num_frames=min(frames, BASE_FRAMES),
            overlap_history=OVERLAP_FRAMES if long_shot else None,
            fps=int(round(job.fps)),
            callback_on_step_end=on_step_end,
            **job.common,
        ).frames


@contextmanager
def _later_segments_from(pipe: Any, noised: Any) -> Iterator[None]:
    """Start each segment after the first from its slice of the noised guidance clip."""
    original = pipe.prepare_latents

    def prepare(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        latents, length, condition, prefix = original(*args, **kwargs)
        segment = kwargs.get("long_video_iter") or 0
        if segment:  # the first segment already came in through ``latents``
            # diffusers' own arithmetic: segment k starts k * (base - overlap) latent frames in.
            step = kwargs["base_latent_num_frames"] - kwargs["overlap_history_latent_frames"]
            latents = noised[:, :, segment * step : segment * step + length].to(latents)
        return latents, length, condition, prefix

    pipe.prepare_latents = prepare
    try:
        yield
    finally:
        del pipe.prepare_latents  # the instance attribute; the class method shows again
