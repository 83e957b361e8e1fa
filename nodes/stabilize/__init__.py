"""Stabilize: remove camera micro-jitter and luma flicker from a clip.

1. Track corners on a small grey copy, frame to frame; find scene cuts (:mod:`.track`).
2. Chain the motions into a camera path per shot and smooth it (:mod:`.path`).
3. Pick one zoom per shot that hides every border, up to ``max_zoom``.
4. Warp each full-res frame once, onto the smooth path.
5. Deflicker: one gain per frame towards a smoothed luma curve (:mod:`.deflicker`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from nodes.stabilize.deflicker import apply_gain, luma_target, mean_luma
from nodes.stabilize.path import (
    SMOOTHING_MODES,
    cumulative,
    required_zoom,
    segments,
    smooth_poses,
)
from nodes.stabilize.track import MEMO
from studio.engine.frames import read_ahead
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import CameraPath, PortType, Video

MIN_SIDE = 16  # smaller frames have nothing to track
INTERPOLATIONS = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
STILL_PX = 0.01  # a correction that moves no corner further than this is skipped: exact copy


def check_inputs(spec: NodeSpec, video: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Complete ``params`` with defaults and reject anything unusable, naming the bad value."""
    if not isinstance(video, Video):
        raise NodeError(f"'video' must be a video clip, got {type(video).__name__}")
    if len(video) and min(video.height, video.width) < MIN_SIDE:
        raise NodeError(
            f"frames of {video.width}x{video.height} are too small to stabilise "
            f"(at least {MIN_SIDE} px a side)"
        )
    unknown = set(params) - {p.name for p in spec.params}
    if unknown:
        raise NodeError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    full = spec.default_params() | dict(params)
    for param in spec.params:
        problem = param.problem(full[param.name])
        if problem:
            raise NodeError(f"{param.display_name}: {problem}")
    return full


def run_stabilize(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = inputs.get("video")
    p = check_inputs(STABILIZE, video, params)
    length = len(video)
    if length == 0:
        raise NodeError("the clip has no frames: nothing to stabilise")
    if length == 1:
        ctx.info("one-frame clip: passed through unchanged")
        ctx.progress(1, 1)
        still = np.array([[0.0, 0.0, 0.0, 1.0]])
        luma = np.array([mean_luma(video.frames[0])])
        path = CameraPath(still, still.copy(), (), 1.0, luma, luma.copy())
        return {"video": video, "camera_path": path}

    frames = video.frames
    height, width = video.height, video.width
    total = length * (3 if p["deflicker"] else 2)

    # 1. Motion and cuts, on a small grey copy.
    motion = MEMO.analyse(frames, p["cut_threshold"], lambda t: ctx.progress(t + 1, total))
    cuts = tuple(motion.cuts)
    if cuts:
        ctx.info(
            f"scene cut(s) at frame {', '.join(map(str, cuts))}: each shot is stabilised on its own"
        )
    if motion.featureless:
        ctx.info(f"{motion.featureless} frame(s) had too little detail to track; assumed still")
    if motion.rough:
        ctx.info(f"{motion.rough} frame(s) could only be tracked roughly (fast motion, or blur)")
    if motion.lost:
        ctx.info(
            f"tracking failed on {motion.lost} frame(s) (too fast, or blurred); assumed still there"
        )

    # 2. Camera path, smoothed per shot.
    poses = cumulative(motion.steps, cuts)
    smoothed, raw_params, smooth_params = smooth_poses(
        poses, cuts, p["mode"], p["smoothing"], (width, height), p["max_zoom"]
    )
    # Output (centred) coordinates -> input coordinates: undo the shake, keep the smooth move.
    corrections = np.linalg.inv(poses) @ smoothed

    # 3. One zoom per shot.
    zooms = _shot_zooms(ctx, corrections, cuts, (width, height), p["max_zoom"])

    # 4. Warp every frame once; measure its luma on the way. Live draft feedback wants the
    # frame under the playhead first: it is shown (before deflicker) while the rest warps.
    out = ctx.new_frames(frames.shape)  # frames may be a read-only memory map
    centre = np.array([[1, 0, (width - 1) / 2], [0, 1, (height - 1) / 2], [0, 0, 1.0]])
    flags = INTERPOLATIONS[p["interpolation"]] | cv2.WARP_INVERSE_MAP

    def warp_frame(t: int, source: np.ndarray, dst: np.ndarray) -> None:
        unzoom = np.diag([1 / zooms[t], 1 / zooms[t], 1.0])
        warp = centre @ corrections[t] @ unzoom @ np.linalg.inv(centre)
        if _moves_less_than(warp, width, height, STILL_PX):
            dst[...] = source
        else:
            cv2.warpAffine(
                source, warp[:2], (width, height), dst=dst, flags=flags,
                borderMode=cv2.BORDER_REPLICATE,
            )  # fmt: skip

    focus = ctx.focus_frame
    if focus is not None and 0 <= focus < length:
        first = np.empty_like(frames[focus])
        warp_frame(focus, frames[focus], first)
        ctx.preview(first)
    luma_before = np.empty(length)
    for t, source in _frames_ahead(frames):  # read a chunk ahead on a helper thread
        warp_frame(t, source, out[t])
        luma_before[t] = mean_luma(out[t])
        ctx.progress(length + t + 1, total)

    # 5. Deflicker towards the smoothed luma curve.
    luma_after = luma_before.copy()
    if p["deflicker"]:
        target = luma_target(luma_before, cuts, p["deflicker_window"])
        for t, frame in _frames_ahead(out):  # in place on the output buffer
            gain = target[t] / luma_before[t] if luma_before[t] > 0.5 else 1.0
            graded = apply_gain(frame, gain)
            if graded is not frame:
                out[t] = graded
                luma_after[t] = mean_luma(graded)
            ctx.progress(2 * length + t + 1, total)

    path = CameraPath(
        raw=raw_params,
        smoothed=smooth_params,
        cuts=cuts,
        zoom=float(zooms.max()),
        luma_before=luma_before,
        luma_after=luma_after,
    )
    # Timing is unchanged: the sound and cut markers pass through.
    return {"video": Video(out, video.fps, video.audio, video.cuts), "camera_path": path}


def _frames_ahead(frames: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) through the clip, read a chunk ahead on a helper thread."""
    for window in read_ahead(frames):
        for t in range(window.start, window.end):
            yield t, window[t]


def _shot_zooms(
    ctx: RunContext,
    corrections: np.ndarray,
    cuts: tuple[int, ...],
    size: tuple[int, int],
    max_zoom: float,
) -> np.ndarray:
    """Per frame, the zoom of its shot: the least that hides all borders, capped."""
    needed = required_zoom(corrections, size)
    # A border thinner than half a pixel is invisible: no zoom, edge replication covers it.
    negligible = 1.0 + 1.0 / max(size)
    zooms = np.ones(len(corrections))
    for start, end in segments(len(corrections), cuts):
        want = float(needed[start:end].max())
        if want <= negligible:
            continue
        if want > max_zoom:
            need = (
                f"would need a {want:.3f}x zoom"
                if np.isfinite(want)
                else "cannot be done by zooming (the picture leaves the frame)"
            )
            ctx.info(
                f"frames {start}-{end - 1}: hiding the moving borders {need}; zoom capped at "
                f"max_zoom {max_zoom:.3f}x, the rest is filled by repeating the edge pixels"
            )
            want = max_zoom
        else:
            ctx.info(f"frames {start}-{end - 1}: zoomed in {want:.3f}x to hide the moving borders")
        zooms[start:end] = want
    return zooms


def _moves_less_than(warp: np.ndarray, width: int, height: int, tolerance: float) -> bool:
    corners = np.array(
        [[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]],
        dtype=np.float64,
    ).T
    return bool(np.abs(warp[:2] @ corners - corners[:2]).max() < tolerance)


STABILIZE = NodeSpec(
    type_id="Stabilize",
    title="Stabilize",
    category="Video",
    aliases=("deshake", "steady", "stabilise"),
    tags=("camera path", "deflicker", "smooth", "jitter"),
    version=2,
    help=(
        "Removes camera micro-jitter and luma flicker. Tracks the picture frame to frame, "
        "smooths the camera path (each shot on its own after a scene cut), zooms in once per "
        "shot just enough to hide the borders, and evens out fast brightness flicker while "
        "keeping slow fades. The camera_path output plots the shaky and smoothed paths."
    ),
    run=run_stabilize,
    inputs=(Port("video", PortType.VIDEO, "The clip to steady."),),
    outputs=(
        Port("video", PortType.VIDEO, "The steadied clip, same size and length."),
        Port(
            "camera_path",
            PortType.CAMERA_PATH,
            "Measured and smoothed camera path, cuts, zoom and luma, for the viewer.",
        ),
    ),
    params=(
        Param(
            "mode",
            ParamKind.CHOICE,
            "gaussian",
            choices=SMOOTHING_MODES,
            help="How the path is smoothed. gaussian: a soft, floating camera. l1: a "
            "tripod-like camera made of still, steady-pan and eased segments, kept "
            "within the crop max_zoom allows. kalman: follows accelerations sooner.",
        ),
        Param(
            "smoothing",
            ParamKind.FLOAT,
            15.0,
            min=1.0,
            max=300.0,
            step=1.0,
            help="Gaussian/kalman: how many frames of shake to average (sigma). Larger is "
            "steadier but needs more zoom.",
        ),
        Param(
            "max_zoom",
            ParamKind.FLOAT,
            1.10,
            min=1.0,
            max=2.0,
            step=0.01,
            help="The most the picture may be enlarged to hide moving borders. Where more "
            "would be needed, the border is filled by repeating the edge pixels.",
        ),
        Param(
            "cut_threshold",
            ParamKind.FLOAT,
            0.5,
            min=0.05,
            max=1.0,
            step=0.05,
            help="How different consecutive frames' brightness histograms must be to count "
            "as a scene cut (0-1). Lower finds more cuts.",
        ),
        Param(
            "deflicker",
            ParamKind.BOOL,
            True,
            help="Even out fast frame-to-frame brightness changes (slow fades are kept).",
        ),
        Param(
            "deflicker_window",
            ParamKind.FLOAT,
            6.0,
            min=1.0,
            max=100.0,
            step=1.0,
            help="Frames over which brightness is averaged (sigma). Larger removes slower "
            "flicker but starts to flatten quick fades.",
        ),
        Param(
            "interpolation",
            ParamKind.CHOICE,
            "bilinear",
            choices=tuple(INTERPOLATIONS),
            help="Resampling for the warp: bicubic is sharper, bilinear faster.",
        ),
    ),
)

SPECS = (STABILIZE,)
