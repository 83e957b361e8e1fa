"""LTX-2 image-to-video: picture and sound from one model (diffusers' LTX-2 pipelines).

LTX-2 denoises a video latent and an audio latent together; the audio VAE and the vocoder turn
the audio latent into a waveform that starts with frame 0. Studio keeps it as the clip's own
track (:attr:`~studio.graph.types.Video.audio`, float samples at the vocoder's rate), fitted to
the picture's duration, so Save Video muxes it and the cache keeps it.

* Plain shot: ``LTX2ImageToVideoPipeline`` with the keyframe as its image.
* Steered shot (motion brushes, camera move): ``LTX2ConditionPipeline`` over the same weights,
  as LTX-Video is steered: the cut-and-drag clip is a soft video condition at frame 0 with
  strength ``1 - strength``, and the keyframe a hard (strength 1) condition on the first frame,
  applied after it so that frame 0 stays the keyframe.

Guidance: with ``guidance`` above 1 the pipelines' own defaults for the audio guidance,
spatio-temporal guidance (STG) and modality guidance apply; at 1 or below (distilled models,
fast drafts) every guidance pass is off, so a step costs one forward pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nodes.audio.track import fit
from nodes.diffusion import pipelines as P
from nodes.diffusion.callbacks import StepCallback, step_callback
from studio.engine.models import ModelInfo
from studio.graph.spec import NodeError
from studio.graph.types import Audio

if TYPE_CHECKING:
    from nodes.diffusion.image_to_video import Job

# What each component of an LTX-2 folder does, for the message when one is missing.
COMPONENTS = {
    "transformer": "the audio-video denoiser",
    "vae": "the video VAE",
    "audio_vae": "the audio VAE",
    "vocoder": "the vocoder that turns the audio latents into sound",
    "connectors": "the text connectors",
    "text_encoder": "the Gemma 3 text encoder",
    "tokenizer": "the Gemma tokenizer",
    "scheduler": "the scheduler",
}
STG_BLOCK = 28  # diffusers' default STG block (LTX-2.3); needs a transformer that deep


def check_components(model: ModelInfo) -> None:
    """Refuse a folder that lacks a part of the LTX-2 pipeline before loading any weights."""
    replaced = {component for component, _file in model.replaces}
    missing = [
        name for name in COMPONENTS if name not in replaced and not (model.folder / name).is_dir()
    ]
    if missing:
        parts = ", ".join(f"{name} ({COMPONENTS[name]})" for name in missing)
        raise NodeError(
            f"LTX-2 model {model.name!r} is incomplete: {model.folder} has no {parts}. "
            "Copy the whole LTX-2 diffusers folder (every component) into it."
        )


def target(steered: bool) -> str:
    """The pipeline class to read the LTX-2 weights into."""
    return "LTX2ConditionPipeline" if steered else "LTX2ImageToVideoPipeline"


def run_ltx2(pipe: Any, job: Job) -> tuple[np.ndarray, Audio]:
    """Render the shot; returns the pipeline's float frames and the sound track."""
    frame_rate = float(job.fps)
    extra = _guidance_args(pipe, float(job.common["guidance_scale"]))
    # Pad the prompt no longer than the tokenizer reads (LTX-2's default is 1024 tokens).
    extra["max_sequence_length"] = min(1024, int(pipe.tokenizer.model_max_length))
    callback = _callback(job, job.common)
    if job.guidance is None:
        out = pipe(
            image=P.pil(job.keyframe),
            frame_rate=frame_rate,
            callback_on_step_end=callback,
            **extra,
            **job.common,
        )
    else:
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        conditions = [
            # The clip first: the keyframe's condition then overwrites its first latent frame.
            LTX2VideoCondition(
                frames=[P.pil(f) for f in job.guidance.video.frames],
                index=0,
                strength=1.0 - job.strength,
            ),
            LTX2VideoCondition(frames=P.pil(job.keyframe), index=0, strength=1.0),
        ]
        out = pipe(
            conditions=conditions,
            frame_rate=frame_rate,
            callback_on_step_end=callback,
            **extra,
            **job.common,
        )
    rate = int(pipe.vocoder.config.output_sampling_rate)
    frames = job.common["num_frames"]
    return out.frames, sound_track(out.audio[0], rate, frames / frame_rate)


def sound_track(waveform: Any, rate: int, seconds: float) -> Audio:
    """The vocoder's (channels, samples) output as an :class:`Audio` track of ``seconds``:
    LTX-2's audio latents start with frame 0 and cover about the picture's duration."""
    if hasattr(waveform, "detach"):  # a torch tensor (what diffusers returns today)
        waveform = waveform.detach().float().cpu().numpy()
    samples = np.asarray(waveform, np.float32).reshape(-1, np.shape(waveform)[-1]).T
    if not np.isfinite(samples).all():
        raise NodeError(
            "the model produced invalid values (NaN) for the sound; this usually means fp16 "
            "overflow: try another seed, or a GPU with bfloat16"
        )
    track = Audio(np.ascontiguousarray(np.clip(samples, -1.0, 1.0)), rate)
    return fit(track, seconds)


def _guidance_args(pipe: Any, guidance: float) -> dict[str, Any]:
    if guidance <= 1.0:
        return dict(
            audio_guidance_scale=1.0,
            stg_scale=0.0,
            audio_stg_scale=0.0,
            modality_scale=1.0,
            audio_modality_scale=1.0,
        )
    if pipe.transformer.config.num_layers <= STG_BLOCK:
        return dict(stg_scale=0.0, audio_stg_scale=0.0)  # no block to perturb: STG is off
    return {}


def _callback(job: Job, common: dict[str, Any]) -> StepCallback:
    """Progress and cancel per step (the shared callback), and the live preview on the
    latents unpacked from LTX-2's token sequence to (B, C, F, H, W)."""
    report = step_callback(job.ctx, job.steps)

    def on_step_end(pipe: Any, step: int, t: int, kwargs: dict[str, Any]) -> dict[str, Any]:
        if job.preview is not None:
            job.preview.on_step(pipe, _unpacked(pipe, kwargs.get("latents"), common))
        return report(pipe, step, t, kwargs)

    return on_step_end


def _unpacked(pipe: Any, latents: Any, common: dict[str, Any]) -> Any:
    if latents is None or latents.ndim != 3:
        return latents
    frames = (common["num_frames"] - 1) // pipe.vae_temporal_compression_ratio + 1
    height = common["height"] // pipe.vae_spatial_compression_ratio
    width = common["width"] // pipe.vae_spatial_compression_ratio
    patch, patch_t = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
    tokens = (frames // patch_t) * (height // patch) * (width // patch)
    if latents.shape[1] != tokens:
        return None  # keyframe tokens appended after the clip's: no plain grid to show
    return pipe._unpack_latents(latents, frames, height, width, patch, patch_t)
