"""Interpolate: raise a clip's frame rate with motion-compensated in-between frames.

Each pair of neighbouring frames gets DIS optical flow both ways and occlusion-aware blending
(:mod:`nodes.interpolate.flow`). A pair across a scene cut -- a cut marker on the clip, or one
found here -- is never blended: its in-between frames repeat the nearer frame. The sound is
kept as it is: frame times do not move, only frames are added between them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nodes.interpolate.cuts import find_cuts
from nodes.interpolate.flow import FlowEstimator, PairFlow, in_between, plain_blend
from nodes.timing import clip_input
from studio.engine.frames import read_ahead
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType, Video

MAX_OUTPUT_FRAMES = 100_000
STILL = 1e-3  # in-between times this close to a source frame just show that frame


def output_positions(count: int, ratio: float) -> np.ndarray:
    """Source-time position of each output frame (frame units), from the first frame to the
    last: ``(count - 1) * ratio + 1`` frames."""
    length = math.floor((count - 1) * ratio + 1e-6) + 1
    return np.arange(length) / ratio


def cut_frames(cuts: list[int], ratio: float, length: int) -> tuple[int, ...]:
    """Where the cuts fall in the output: the first frame that shows the new shot (in-between
    frames of a cut pair show the nearer frame)."""
    marks = {math.ceil((c - 0.5) * ratio - 1e-9) for c in cuts}
    return tuple(sorted(m for m in marks if 0 < m < length))


def interpolate(
    ctx: RunContext, video: Video, ratio: float, params: Mapping[str, Any]
) -> tuple[Video, list[int]]:
    frames = video.frames
    positions = output_positions(len(video), ratio)
    if len(positions) > MAX_OUTPUT_FRAMES:
        raise NodeError(f"{len(positions)} output frames is too many; choose a lower rate")
    estimator = FlowEstimator(params["quality"])
    motion = params["method"] == "motion"
    steps = len(positions) + (len(video) if params["detect_cuts"] else 0)
    greys: dict[int, np.ndarray] = {}

    def grey(index: int) -> np.ndarray:
        if index not in greys:
            if len(greys) > 4:  # frames are visited in order: keep only the last few
                greys.pop(min(greys))
            greys[index] = estimator.grey(window[index])
        return greys[index]

    cuts = set(video.cuts)
    if params["detect_cuts"]:
        found = find_cuts(estimator, frames, lambda i: ctx.progress(i + 1, steps))
        cuts |= set(found)
    try:
        out = ctx.new_frames((len(positions), *frames.shape[1:]))
    except MemoryError:
        raise NodeError(f"not enough memory for {len(positions)} frames") from None
    pair: tuple[int, PairFlow] | None = None
    done = len(video) if params["detect_cuts"] else 0
    sources = np.minimum(np.floor(positions + STILL).astype(np.int64), len(video) - 1)
    j = 0
    # Source frames a chunk at a time (read ahead on a helper thread), each chunk with the
    # frame after it: an in-between frame blends frame i with frame i + 1.
    for window in read_ahead(frames, after=1):
        while j < len(positions) and sources[j] < window.end:
            i = int(sources[j])
            t = positions[j] - i
            if t < STILL:
                out[j] = window[i]
            elif i + 1 in cuts:  # never blend across a cut: show the nearer frame
                out[j] = window[i] if t < 0.5 else window[i + 1]
            elif not motion:
                out[j] = plain_blend(window[i], window[i + 1], t)
            else:
                if pair is None or pair[0] != i:
                    pair = (i, estimator.pair(grey(i), grey(i + 1), video.width))
                out[j] = in_between(window[i], window[i + 1], pair[1], t)
            j += 1
            ctx.progress(done + j, steps)
    fps = video.fps * ratio
    result = Video(out, fps, video.audio, cut_frames(sorted(cuts), ratio, len(out)))
    return result, sorted(cuts)


def run_interpolate(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = clip_input(inputs)
    if len(video) < 2:
        raise NodeError("a one-frame clip has nothing to interpolate between")
    if params["mode"] == "multiply":
        ratio = float(params["factor"])
    else:
        target = params["fps"]
        if not target > 0:
            raise NodeError(f"target fps must be above 0, got {target:g}")
        ratio = target / video.fps
        if abs(ratio - 1) < 1e-6:
            ctx.info(f"the clip is already {video.fps:g} fps: passed through")
            return {"video": video}
    out, cuts = interpolate(ctx, video, ratio, params)
    ctx.info(f"{len(video)} frames at {video.fps:g} fps -> {len(out)} at {out.fps:g} fps")
    if cuts:
        ctx.info(f"not blended across the cut(s) at frame {', '.join(map(str, cuts))}")
    return {"video": out}


INTERPOLATE = NodeSpec(
    type_id="Interpolate",
    draft=lambda params, settings: {
        "quality": "fast",
        # A target rate, divided like every clip's in draft: the same duration, fewer frames.
        "fps": float(params["fps"]) / settings.frame_step,
    },
    draft_help="fast optical flow; a target frame rate divided by the draft's frame step",
    title="Interpolate",
    category="Timing",
    version=1,
    help="Raises the frame rate (x2, x3, x4, or to a target like 24 fps) with motion-"
    "compensated in-between frames: optical flow both ways, occlusion-aware blending, nothing "
    "blended across scene cuts. The sound is kept in sync.",
    run=run_interpolate,
    inputs=(Port("video", PortType.VIDEO, "The clip."),),
    outputs=(Port("video", PortType.VIDEO, "The clip at the new frame rate."),),
    params=(
        Param(
            "mode",
            ParamKind.CHOICE,
            "multiply",
            choices=("multiply", "target fps"),
            help="Multiply the frame rate by 'factor', or reach the frame rate 'fps'.",
        ),
        Param("factor", ParamKind.INT, 2, min=2, max=4, step=1, help="x2, x3 or x4."),
        Param(
            "fps",
            ParamKind.FLOAT,
            24.0,
            min=1.0,
            max=240.0,
            step=1.0,
            label="Target fps",
            help="With mode 'target fps': the frame rate to reach (16 fps models -> 24 for film).",
        ),
        Param(
            "method",
            ParamKind.CHOICE,
            "motion",
            choices=("motion", "blend"),
            help="'motion' follows the movement (optical flow); 'blend' cross-dissolves "
            "neighbouring frames (fast, ghosts on motion).",
        ),
        Param(
            "quality",
            ParamKind.CHOICE,
            "balanced",
            choices=("fast", "balanced", "best"),
            help="How finely motion is measured: 'best' is about twice as slow as 'balanced'.",
        ),
        Param(
            "detect_cuts",
            ParamKind.BOOL,
            True,
            help="Find scene cuts in the clip (beside the cut markers a Sequence sets) and "
            "never blend across them.",
        ),
    ),
)

SPECS = (INTERPOLATE,)
