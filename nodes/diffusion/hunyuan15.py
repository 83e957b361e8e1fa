"""HunyuanVideo 1.5 image-to-video, through diffusers' ``HunyuanVideo15ImageToVideoPipeline``.

The pipeline differs from the other families' in three ways this module bridges:

* it takes no ``callback_on_step_end``: progress, cancel and the live preview hook into the
  scheduler's ``step`` for the run (one call per denoising step, with the new latents);
* it picks its own size, the bucket nearest the keyframe's aspect at the transformer's
  ``target_size``: for the run, its size function returns the node's width and height
  (multiples of the VAE's 16x compression, as for the other families), with a note when they
  are far from that bucket;
* classifier-free guidance is its ``guider`` component: the node's guidance is set on it for
  the run, then put back.

Motion brushes steer it by SDEdit, as they steer Wan I2V: the cut-and-drag clip is encoded by
the VAE, noised to ``strength`` and passed as ``latents``, and the pipeline runs the tail of its
own schedule (its public ``sigmas`` argument, cut ``steps * (1 - strength)`` steps in). The
keyframe stays its image condition (frame-0 latents, mask and SigLIP embedding).

It has no LoRA loader in diffusers yet: a LoRA in the list is refused before loading.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from nodes.diffusion import pipelines as P
from studio.engine.models import ModelInfo
from studio.graph.spec import NodeError

if TYPE_CHECKING:
    from nodes.diffusion.callbacks import StepCallback
    from nodes.diffusion.image_to_video import Job
    from nodes.diffusion.loras import Lora

# What each component is, for the message when one is missing.
COMPONENTS = {
    "transformer": "the video transformer",
    "vae": "the video VAE",
    "text_encoder": "the Qwen2.5-VL text encoder",
    "tokenizer": "the Qwen2 tokenizer",
    "text_encoder_2": "the ByT5 glyph text encoder",
    "tokenizer_2": "the ByT5 tokenizer",
    "image_encoder": "the SigLIP image encoder",
    "feature_extractor": "the SigLIP image processor",
    "scheduler": "the scheduler config",
    "guider": "the guider config",
}


def check_hunyuan15(model: ModelInfo, loras: list[Lora]) -> None:
    """Refuse, before loading gigabytes, what this pipeline cannot run."""
    if loras:
        raise NodeError(
            "HunyuanVideo 1.5 takes no LoRAs yet (diffusers has no LoRA loader for it): "
            "disable the LoRAs, or use a Wan or LTX model with them"
        )
    replaced = {component for component, _path in model.replaces}
    try:
        index = json.loads((model.folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    for component, what in COMPONENTS.items():
        declared = index.get(component)
        if component in replaced or not (isinstance(declared, list) and declared[0]):
            continue
        folder = model.folder / component
        if not folder.is_dir() or not any(folder.iterdir()):
            raise NodeError(
                f"model {model.name!r} is incomplete: its {component!r} folder ({what}) is "
                f"missing from {model.folder}; download the whole HunyuanVideo 1.5 I2V model"
            )


def run_hunyuan15(pipe: Any, job: Job) -> np.ndarray:
    common = dict(job.common)
    height, width = common.pop("height"), common.pop("width")
    guidance_scale = common.pop("guidance_scale")
    _note_size(job, pipe, height, width)
    total, extra = job.steps, {}
    if job.guidance is not None:
        clip = job.guidance.video.frames
        latents, sigmas = _sdedit(pipe, clip, job.strength, common, (height, width))
        total, extra = len(sigmas), {"latents": latents, "sigmas": sigmas}
    with (
        _size(pipe, height, width),
        _guidance(pipe, guidance_scale),
        _steps_reported(pipe, job.callback(total)),
    ):
        return pipe(image=P.pil(job.keyframe), **extra, **common).frames


def _note_size(job: Job, pipe: Any, height: int, width: int) -> None:
    """Say so when the shot is far from the checkpoint's own bucket (its ``target_size``):
    it runs, slower or less coherent."""
    target = int(pipe.target_size)
    bucket_h, bucket_w = pipe.video_processor.calculate_default_height_width(height, width, target)
    if not 0.5 <= (height * width) / (bucket_h * bucket_w) <= 2.0:
        job.ctx.info(
            f"{width}x{height} is far from this HunyuanVideo 1.5 model's own size at that "
            f"aspect ({bucket_w}x{bucket_h}): expect it slower or less coherent"
        )


@contextmanager
def _size(pipe: Any, height: int, width: int) -> Iterator[None]:
    """The pipeline sizes its output from ``target_size`` buckets; make it the node's."""
    processor = pipe.video_processor
    processor.calculate_default_height_width = lambda *_args, **_kwargs: (height, width)
    try:
        yield
    finally:
        del processor.calculate_default_height_width  # the class method shows again


@contextmanager
def _guidance(pipe: Any, scale: float) -> Iterator[None]:
    guider = pipe.guider
    before = guider.guidance_scale
    guider.guidance_scale = float(scale)  # 1.0 switches CFG off: one pass a step
    try:
        yield
    finally:
        guider.guidance_scale = before


@contextmanager
def _steps_reported(pipe: Any, callback: StepCallback) -> Iterator[None]:
    """Call ``callback`` after each scheduler step (the pipeline has no step callback);
    raising from it (a cancel) aborts the pipeline within that step."""
    scheduler = pipe.scheduler
    original = scheduler.step
    count = itertools.count()

    def step(model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(model_output, timestep, sample, *args, **kwargs)
        latents = out[0] if isinstance(out, tuple) else out.prev_sample
        callback(pipe, next(count), timestep, {"latents": latents})
        return out

    scheduler.step = step
    try:
        yield
    finally:
        del scheduler.step


def _sdedit(
    pipe: Any,
    frames: np.ndarray,
    strength: float,
    common: dict[str, Any],
    size: tuple[int, int],
) -> tuple[Any, list[float]]:
    """The guidance clip as latents noised to ``strength``, and the tail of the pipeline's
    own schedule (``sigmas``) that starts at that noise level."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    steps = int(common["num_inference_steps"])
    start = steps - min(int(steps * strength), steps)
    sigmas = list(np.linspace(1.0, 0.0, steps + 1)[:-1][start:])  # the pipeline's default
    device, vae = pipe._execution_device, pipe.vae
    video = pipe.video_processor.preprocess_video(
        [P.pil(f) for f in frames], height=size[0], width=size[1]
    ).to(device, dtype=vae.dtype)
    with torch.no_grad():
        clean = vae.encode(video).latent_dist.mode() * vae.config.scaling_factor
    # The sigma the pipeline will start from, through the scheduler's own shift.
    pipe.scheduler.set_timesteps(sigmas=sigmas, device=device)
    sigma = pipe.scheduler.sigmas[0].to(device)
    noise = randn_tensor(clean.shape, generator=common["generator"], device=device)
    latents = (1.0 - sigma) * clean.float() + sigma * noise
    return latents.to(pipe.transformer.dtype), sigmas
