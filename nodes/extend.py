"""Extend: continue a clip past its end with its own prompt, brushes and camera move.

The next segment starts from the clip's last frame (Wan VACE and LTX also see the frames
before it, so they continue their motion). Three things keep the seam invisible:

* the new segment's frame 0 *is* the last frame, so it is dropped, not shown twice;
* ``carry motion``: the camera's drift measured over the clip's last frames continues into the
  segment when its own camera move has no pan or tilt (otherwise the picture would stop dead);
* ``seam``: the first new frames are graded towards the last frame's colour (diffusion models
  drift in exposure and tint), fading out over ``seam`` frames.

Chained Extends make a long shot; each is one cached node, so editing segment 3 re-renders only
segments 3 to N.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from nodes.audio import track
from nodes.image_to_video import BUILT_IN, IMAGE_TO_VIDEO, draft_video_params
from nodes.interpolate.flow import FlowEstimator
from nodes.timing import clip_input
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import Motion, PortType, Video

MAX_CONTEXT = 16


def camera_drift(video: Video) -> tuple[float, float]:
    """The picture's motion (px a frame, x right, y down) over the clip's last two frames:
    the median optical flow, which the camera's move dominates."""
    if len(video) < 2:
        return 0.0, 0.0
    estimator = FlowEstimator("fast")
    grey_a, grey_b = estimator.grey(video.frames[-2]), estimator.grey(video.frames[-1])
    pair = estimator.pair(grey_a, grey_b, video.width)
    ok = pair.ok_a > 0
    if ok.mean() < 0.2:  # the flow cannot follow the frame: no drift worth carrying
        return 0.0, 0.0
    flow = pair.ab[ok] / pair.scale
    return float(np.median(flow[:, 0])), float(np.median(flow[:, 1]))


def carry_motion(motion: Motion, video: Video, frames: int, info: Any) -> Motion:
    """``motion`` with the clip's drift continued linearly over ``frames`` new frames, if its
    own camera neither pans nor tilts."""
    camera = motion.camera
    if camera.pan or camera.tilt:
        return motion
    dx, dy = camera_drift(video)
    if abs(dx) < 0.05 and abs(dy) < 0.05:
        return motion
    # Pan > 0 moves the camera right, so the picture slides left: opposite to the flow.
    pan, tilt = -dx * frames / video.width, dy * frames / video.height
    info(f"carrying the clip's drift ({dx:+.2f}, {dy:+.2f} px a frame) into the extension")
    moved = dataclasses.replace(camera, pan=pan, tilt=tilt, ease="linear")
    return dataclasses.replace(motion, camera=moved)


def match_seam(
    new: np.ndarray, reference: np.ndarray, frames: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Grade the first ``frames`` new frames towards ``reference``'s colour (per channel mean
    and spread), fully at the seam and not at all after it. ``out`` (may be ``new`` itself)
    receives the graded frames in place; without it only a graded copy is made."""
    if frames <= 0 or not len(new):
        return new if out is None else out
    ref = reference.reshape(-1, 3).astype(np.float32)
    first = new[0].reshape(-1, 3).astype(np.float32)
    mean_r, std_r = ref.mean(axis=0), ref.std(axis=0) + 1e-3
    mean_n, std_n = first.mean(axis=0), first.std(axis=0) + 1e-3
    if np.abs(mean_r - mean_n).max() < 0.5 and np.abs(std_r / std_n - 1).max() < 0.01:
        return new if out is None else out
    if out is None:
        out = new.copy()
    for t in range(min(frames, len(new))):
        weight = 1.0 - t / frames
        frame = new[t].astype(np.float32)
        graded = (frame - mean_n) * (std_r / std_n) + mean_r
        out[t] = np.clip(frame + weight * (graded - frame) + 0.5, 0, 255).astype(np.uint8)
    return out


def run_extend(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = clip_input(inputs)
    motion = inputs.get("motion") or Motion()
    count = params["frames"]
    last = np.array(video.frames[-1])
    if params["carry_motion"]:
        motion = carry_motion(motion, video, count, ctx.info)
    if params["model"] == BUILT_IN:
        if inputs.get("last_image") is not None:
            raise NodeError("a last frame needs a diffusion model (Wan I2V or Wan VACE)")
        from nodes.animate import cut_and_drag
        from nodes.animate_seed import vary_motion

        clip = cut_and_drag(
            last,
            vary_motion(motion, params["seed"]),
            frames=count + 1,
            fps=video.fps,
            progress=ctx.progress,
            info=ctx.info,
            new_frames=ctx.new_frames,
        )
        new = clip.video.frames[1:]
    else:
        new = _continue_with_model(ctx, video, motion, params, inputs.get("last_image"))
    # The whole clip goes into one buffer (a scratch file when long): the source is copied
    # frame-range by frame-range, never gathered in RAM.
    frames = ctx.new_frames((len(video) + len(new), *new.shape[1:]))
    frames[: len(video)] = video.frames
    frames[len(video) :] = new
    match_seam(new, last, params["seam"], out=frames[len(video) :])
    out = Video(frames, video.fps, None, video.cuts)
    if video.audio is not None:  # a longer track plays on under the extension
        out = dataclasses.replace(out, audio=track.fit(video.audio, out.duration_s))
    ctx.info(f"{len(video)} + {len(new)} frames = {len(out)} ({out.duration_s:.2f} s)")
    return {"video": out}


def _continue_with_model(
    ctx: RunContext,
    video: Video,
    motion: Motion,
    params: Mapping[str, Any],
    last_image: np.ndarray | None,
) -> np.ndarray:
    from nodes.diffusion.image_to_video import family, generate_video
    from nodes.diffusion.size_rules import size_rule

    model = ctx.models.resolve(params["model"], kind="image-to-video")
    rule = size_rule(model.folder, model.pipeline_class)
    fam, wanted = family(model), min(len(video), params["context"])
    # VACE keeps any number of leading frames; LTX's conditions keep 8k+1 (its latent step).
    lead = {"vace": wanted, "ltx": (wanted - 1) // 8 * 8 + 1}.get(fam, 1)
    count = params["frames"]
    # The model's frame rule (4k+1, 8k+1) counts the context too: round up, then keep ``count``.
    total = lead + count
    if (total - 1) % rule.frame_step:
        total = ((total - 1) // rule.frame_step + 1) * rule.frame_step + 1
    width, height = rule.nearest_side(video.width), rule.nearest_side(video.height)
    run_params = dict(params, frames=total, width=width, height=height, fps=video.fps)
    context = np.asarray(video.frames[-lead:]) if lead > 1 else None
    made = generate_video(ctx, np.array(video.frames[-1]), motion, run_params, last_image, context)
    new = made.frames[lead : lead + count]
    if (width, height) != (video.width, video.height):
        ctx.info(f"the model ran at {width}x{height}; resized to the clip's size")
        resized = ctx.new_frames((len(new), video.height, video.width, 3))
        for index, frame in enumerate(new):
            resized[index] = cv2.resize(frame, (video.width, video.height))
        new = resized
    return np.ascontiguousarray(new)


_SHARED = {p.name: p for p in IMAGE_TO_VIDEO.params if p.name not in ("width", "height", "fps")}

EXTEND = NodeSpec(
    type_id="Extend",
    draft=lambda params, settings: draft_video_params(params, settings, BUILT_IN),
    draft_help="every 2nd frame (the clip's rate is halved upstream), a quarter of the steps",
    title="Extend",
    category="Video",
    version=1,
    help="Continues a clip past its end: the new frames start from its last frame with their "
    "own prompt, motion brushes and camera move, and the seam is blended (motion carried, "
    "colour matched). Chain Extends for a long shot. Works with the built-in animator and "
    "with the diffusion models Image to Video drives (Wan VACE also sees the frames before "
    "the last one; LTX 8k+1 of them).",
    run=run_extend,
    inputs=(
        Port("video", PortType.VIDEO, "The clip to continue."),
        Port("motion", PortType.MOTION, "Brushes and camera move for the new frames.", True),
        Port(
            "last_image",
            PortType.IMAGE,
            "Optional frame to end on (Wan first-last-frame, Wan VACE).",
            optional=True,
        ),
    ),
    outputs=(Port("video", PortType.VIDEO, "The clip and its continuation."),),
    params=(
        _SHARED["model"],
        _SHARED["prompt"],
        _SHARED["negative_prompt"],
        _SHARED["seed"],
        Param(
            "frames",
            ParamKind.INT,
            32,
            min=1,
            max=1024,
            step=1,
            help="How many new frames to add (diffusion models are run for the context plus "
            "these, rounded up to their frame rule).",
        ),
        Param(
            "context",
            ParamKind.INT,
            5,
            min=1,
            max=MAX_CONTEXT,
            step=1,
            help="How many of the clip's last frames the model continues from: Wan VACE keeps "
            "them all, LTX 1, 9 or 17 (8k+1); the others start from the last frame alone.",
        ),
        Param(
            "seam",
            ParamKind.INT,
            8,
            min=0,
            max=64,
            step=1,
            help="Over this many new frames the colour is graded from the last frame's to the "
            "model's own; 0 leaves the new frames as they are.",
        ),
        Param(
            "carry_motion",
            ParamKind.BOOL,
            True,
            help="When the camera move below neither pans nor tilts, keep the drift the clip "
            "ends with, so the picture does not stop dead at the seam.",
        ),
        *(
            p
            for name, p in _SHARED.items()
            if name not in ("model", "prompt", "negative_prompt", "seed", "frames")
        ),
    ),
)

SPECS = (EXTEND,)
