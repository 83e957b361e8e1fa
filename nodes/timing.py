"""Frame, Trim and Retime: pick a still from a clip, cut it shorter, change its speed.

Each keeps the clip's sound in sync (the audio is cut, sped up or reversed with the picture) and
its cut markers where they still fall (see :func:`remap_cuts`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nodes.audio import track
from studio.engine.frames import gather
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType, Video

MAX_FRAMES = 100_000


def clip_input(inputs: Mapping[str, Any], name: str = "video") -> Video:
    """The clip on input ``name``, refusing an empty one with a clear message."""
    video = inputs.get(name)
    if not isinstance(video, Video):
        raise NodeError(f"'{name}' must be a clip, got {type(video).__name__}")
    if len(video) == 0:
        raise NodeError(f"the clip on '{name}' is empty (0 frames)")
    return video


def remap_cuts(cuts: Sequence[int], source: np.ndarray) -> tuple[int, ...]:
    """Cut markers of a clip made by showing source frame ``source[i]`` as frame ``i``: a cut
    sits at ``i`` when a source cut lies between the frames shown at ``i - 1`` and ``i``."""
    if not cuts or len(source) < 2:
        return ()
    marks = np.asarray(cuts)
    out = []
    for i in range(1, len(source)):
        low, high = sorted((int(source[i - 1]), int(source[i])))
        if np.any((marks > low) & (marks <= high)):
            out.append(i)
    return tuple(out)


# -- Frame ---------------------------------------------------------------------------------------


def frame_index(video: Video, pick: str, frame: int, time_s: float) -> int:
    count = len(video)
    if pick == "first":
        return 0
    if pick == "last":
        return count - 1
    if pick == "frame":
        index = frame if frame >= 0 else count + frame
        if not 0 <= index < count:
            raise NodeError(f"frame {frame} is outside the clip (frames 0 to {count - 1})")
        return index
    index = math.floor(time_s * video.fps + 1e-6)
    if not 0 <= index < count:
        raise NodeError(
            f"{time_s:g} s is outside the clip ({video.duration_s:.3g} s at {video.fps:g} fps)"
        )
    return index


def run_frame(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = clip_input(inputs)
    index = frame_index(video, params["pick"], params["frame"], params["time"])
    ctx.info(f"frame {index} of {len(video)}")
    return {"image": np.array(video.frames[index])}


FRAME = NodeSpec(
    type_id="Frame",
    title="Frame",
    category="Timing",
    version=1,
    help="One frame of a clip as an image: the first, the last, frame N or the frame at a time. "
    "Take the last frame of one shot as the keyframe of the next for continuity.",
    run=run_frame,
    inputs=(Port("video", PortType.VIDEO, "The clip to take a frame from."),),
    outputs=(Port("image", PortType.IMAGE, "The chosen frame."),),
    params=(
        Param(
            "pick",
            ParamKind.CHOICE,
            "last",
            choices=("first", "last", "frame", "time"),
            help="Which frame: the first, the last, the frame numbered 'frame', or the frame "
            "shown at 'time'.",
        ),
        Param(
            "frame",
            ParamKind.INT,
            0,
            min=-MAX_FRAMES,
            max=MAX_FRAMES,
            step=1,
            help="With pick 'frame': its number from 0; negative counts from the end (-1 = last).",
        ),
        Param(
            "time",
            ParamKind.FLOAT,
            0.0,
            min=0.0,
            max=36_000.0,
            step=0.1,
            help="With pick 'time': seconds from the start.",
        ),
    ),
)


# -- Trim ----------------------------------------------------------------------------------------


def trim_range(video: Video, unit: str, in_point: float, out_point: float) -> tuple[int, int]:
    """[first, end) frame indices; ``out_point`` 0 means the end of the clip."""
    scale = 1.0 if unit == "frames" else video.fps
    first = math.floor(in_point * scale + 1e-6)
    end = len(video) if out_point == 0 else math.floor(out_point * scale + 1e-6)
    end = min(end, len(video))
    what = "frames" if unit == "frames" else "s"
    if first >= len(video):
        raise NodeError(
            f"in point {in_point:g} {what} is past the end of the clip ({len(video)} frames, "
            f"{video.duration_s:.3g} s)"
        )
    if end <= first:
        raise NodeError(
            f"in {in_point:g} and out {out_point:g} {what} leave no frames: the out point must "
            "come after the in point (0 = the end of the clip)"
        )
    return first, end


def trim(video: Video, first: int, end: int) -> Video:
    # A view, even of a mapped clip: node inputs are never written, so it stays correct, and
    # the disk cache writes a view out in 16 MB pieces.
    source = np.arange(first, end)
    return Video(
        video.frames[first:end],
        video.fps,
        track.cut(video.audio, first / video.fps, end / video.fps),
        remap_cuts(video.cuts, source),
    )


def run_trim(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = clip_input(inputs)
    first, end = trim_range(video, params["unit"], params["in_point"], params["out_point"])
    ctx.info(f"frames {first} to {end - 1} of {len(video)} ({end - first} frames)")
    return {"video": trim(video, first, end)}


TRIM = NodeSpec(
    type_id="Trim",
    title="Trim",
    category="Timing",
    version=1,
    help="Keeps the part of a clip between an in point and an out point (frames or seconds); "
    "the sound is cut with it.",
    run=run_trim,
    inputs=(Port("video", PortType.VIDEO, "The clip to trim."),),
    outputs=(Port("video", PortType.VIDEO, "The trimmed clip."),),
    params=(
        Param(
            "unit",
            ParamKind.CHOICE,
            "frames",
            choices=("frames", "seconds"),
            help="Whether the in and out points count frames or seconds.",
        ),
        Param(
            "in_point",
            ParamKind.FLOAT,
            0.0,
            min=0.0,
            max=float(MAX_FRAMES),
            step=1.0,
            help="The first frame kept (or its time).",
        ),
        Param(
            "out_point",
            ParamKind.FLOAT,
            0.0,
            min=0.0,
            max=float(MAX_FRAMES),
            step=1.0,
            help="The first frame dropped after the kept part (or its time); 0 keeps to the end.",
        ),
    ),
)


# -- Retime --------------------------------------------------------------------------------------


def retime(
    video: Video,
    speed: float,
    reverse: bool,
    hold_at: int,
    hold_frames: int,
    new_frames: Callable[..., np.ndarray] = np.empty,
) -> Video:
    """The clip ``speed`` times faster (nearest frames), maybe reversed, then frame ``hold_at``
    (of the result) held for ``hold_frames`` extra frames with silence under it. The frames go
    into ``new_frames(shape)`` (a node's ``ctx.new_frames``: a scratch file when long)."""
    count = len(video)
    length = max(1, math.ceil(count / speed - 1e-9))
    source = np.minimum(np.floor(np.arange(length) * speed + 1e-6).astype(np.int64), count - 1)
    audio = track.speed(track.fit(video.audio, count / video.fps), speed) if video.audio else None
    if reverse:
        source = source[::-1]
        audio = track.reverse(audio)
    if hold_frames:
        if not 0 <= hold_at < len(source):
            raise NodeError(
                f"cannot hold frame {hold_at}: the retimed clip has frames 0 to {len(source) - 1}"
            )
        source = np.concatenate(
            [source[: hold_at + 1], np.repeat(source[hold_at], hold_frames), source[hold_at + 1 :]]
        )
        if audio is not None:
            at = (hold_at + 1) / video.fps
            gap = track.silence(hold_frames / video.fps, audio.rate, audio.channels)
            audio = track.concat([track.cut(audio, 0, at), gap, track.cut(audio, at)])
    if len(source) > MAX_FRAMES:
        raise NodeError(f"the retimed clip would have {len(source)} frames; slow it down less")
    frames = gather(video.frames, source, new_frames((len(source), *video.frames.shape[1:])))
    return Video(frames, video.fps, audio, remap_cuts(video.cuts, source))


def run_retime(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = clip_input(inputs)
    speed = params["speed"]
    if not speed > 0:
        raise NodeError(f"speed must be above 0, got {speed:g}")
    hold_at, hold = params["hold_frame"], params["hold_length"]
    out = retime(video, speed, params["reverse"], hold_at, hold, ctx.new_frames)
    if speed < 1:
        ctx.info("slowed down by repeating frames; put Interpolate after Retime for smooth motion")
    ctx.info(f"{len(video)} -> {len(out)} frames at {video.fps:g} fps")
    return {"video": out}


RETIME = NodeSpec(
    type_id="Retime",
    title="Retime",
    category="Timing",
    version=1,
    help="Changes a clip's speed (faster drops frames, slower repeats them), plays it backwards, "
    "or freezes one frame for a while. The sound follows: sped up or slowed like tape, "
    "reversed, silent under a freeze.",
    run=run_retime,
    inputs=(Port("video", PortType.VIDEO, "The clip to retime."),),
    outputs=(Port("video", PortType.VIDEO, "The retimed clip, at the same frame rate."),),
    params=(
        Param(
            "speed",
            ParamKind.FLOAT,
            1.0,
            min=0.05,
            max=20.0,
            step=0.1,
            help="2 plays twice as fast (half the frames), 0.5 half as fast.",
        ),
        Param("reverse", ParamKind.BOOL, False, help="Play the clip backwards."),
        Param(
            "hold_frame",
            ParamKind.INT,
            0,
            min=0,
            max=MAX_FRAMES,
            step=1,
            help="Which frame (of the retimed clip) to freeze when 'hold length' is above 0.",
        ),
        Param(
            "hold_length",
            ParamKind.INT,
            0,
            min=0,
            max=MAX_FRAMES,
            step=1,
            help="Freeze 'hold frame' for this many extra frames; 0 freezes nothing.",
        ),
    ),
)


SPECS = (FRAME, TRIM, RETIME)
