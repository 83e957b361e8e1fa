"""Sequence: cut clips together in order, with a hard cut, a crossfade or a dip to black at each
join; sizes and frame rates are conformed to the first clip's (and the node says what it did).

Each clip's sound is laid at the clip's start and faded with its picture, so sound follows
picture across every cut. The output's ``cuts`` mark where each new clip starts: the viewer
draws them on its timeline and Interpolate never blends across them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from nodes.audio import track
from studio.engine.frames import gather
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext, slot_index
from studio.graph.types import Audio, PortType, Video

TRANSITIONS = ("cut", "crossfade", "dip to black")
_SHORT = {
    "cut": "cut",
    "crossfade": "crossfade",
    "dip": "dip to black",
    "dip to black": "dip to black",
}
MAX_FRAMES = 100_000


@dataclass(frozen=True)
class Join:
    """How clip ``i`` meets clip ``i + 1``: a transition and its length in output frames."""

    kind: str
    frames: int


def ordered_clips(inputs: Mapping[str, Any]) -> list[tuple[int, Video]]:
    """(slot number, clip) for every connected ``clip_N``, in slot order."""
    numbered = ((slot_index("clip", name), value) for name, value in inputs.items())
    clips = sorted(
        ((i, v) for i, v in numbered if i is not None and v is not None), key=lambda c: c[0]
    )
    if not clips:
        raise NodeError("connect at least one clip")
    for slot, clip in clips:
        if not isinstance(clip, Video):
            raise NodeError(f"clip_{slot} is not a clip ({type(clip).__name__})")
        if len(clip) == 0:
            raise NodeError(f"clip_{slot} is empty (0 frames)")
    return clips


def parse_joins(text: str, default: str, seconds: float, count: int, fps: float) -> list[Join]:
    """One :class:`Join` per cut from ``per_cut`` ("cut, crossfade 0.5, dip 1"): entry ``i``
    is the join after clip ``i + 1``; blank or missing entries take the defaults."""
    entries = [e.strip() for e in text.split(",")] if text.strip() else []
    if len(entries) > count:
        raise NodeError(
            f"'per cut' lists {len(entries)} transitions but {count + 1} clips have {count} cuts"
        )
    joins = []
    for i in range(count):
        entry = entries[i] if i < len(entries) else ""
        kind, length = default, seconds
        if entry:
            words = entry.split()
            name = " ".join(w for w in words if not _is_number(w)).lower()
            numbers = [float(w) for w in words if _is_number(w)]
            if name not in _SHORT or len(numbers) > 1 or any(n < 0 for n in numbers):
                raise NodeError(
                    f"cut {i + 1}: cannot read {entry!r}; write 'cut', 'crossfade 0.5' or "
                    "'dip 1' (seconds), separated by commas"
                )
            kind = _SHORT[name]
            length = numbers[0] if numbers else seconds
        frames = 0 if kind == "cut" else max(1, round(length * fps))
        joins.append(Join(kind, frames))
    return joins


def _is_number(word: str) -> bool:
    try:
        return math.isfinite(float(word))
    except ValueError:
        return False


def conform_frames(
    frames: np.ndarray,
    size: tuple[int, int],
    fit: str,
    new_frames: Callable[..., np.ndarray] = np.empty,
) -> np.ndarray:
    """Frames at ``size`` = (width, height): scaled to fit with black bars, to fill and
    cropped, or stretched; into ``new_frames(shape)`` (``ctx.new_frames``) when resized."""
    width, height = size
    source_h, source_w = frames.shape[1:3]
    if (source_w, source_h) == size:
        return frames
    if fit == "stretch":
        scale_w, scale_h = width / source_w, height / source_h
    else:
        pick = min if fit == "fit" else max
        scale_w = scale_h = pick(width / source_w, height / source_h)
    new_w, new_h = max(1, round(source_w * scale_w)), max(1, round(source_h * scale_h))
    method = cv2.INTER_AREA if new_w * new_h < source_w * source_h else cv2.INTER_CUBIC
    out = new_frames((len(frames), height, width, 3))
    # Where the scaled frame lands in the output, and which part of it is kept.
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    dst = (
        slice(max(0, y0), max(0, y0) + min(height, new_h)),
        slice(max(0, x0), max(0, x0) + min(width, new_w)),
    )
    src = (
        slice(max(0, -y0), max(0, -y0) + min(height, new_h)),
        slice(max(0, -x0), max(0, -x0) + min(width, new_w)),
    )
    for t, frame in enumerate(frames):
        out[t] = 0  # black bars (the buffer starts uninitialised)
        out[t][dst] = cv2.resize(frame, (new_w, new_h), interpolation=method)[src]
    return out


def conform_rate(
    video: Video, fps: float, new_frames: Callable[..., np.ndarray] = np.empty
) -> np.ndarray:
    """The clip's frames at ``fps`` by nearest frame (its duration kept), gathered into
    ``new_frames(shape)`` (``ctx.new_frames``) when the rate changes."""
    if abs(video.fps - fps) < 1e-6:
        return video.frames
    count = max(1, round(len(video) * fps / video.fps))
    source = np.minimum(np.floor(np.arange(count) * video.fps / fps + 1e-6), len(video) - 1)
    return gather(
        video.frames, source.astype(np.int64), new_frames((count, *video.frames.shape[1:]))
    )


def _ramp(length: int, rising: bool) -> np.ndarray:
    # Gains of a fade over ``length`` frames, never quite 0 or 1 at its ends.
    ramp = (np.arange(length, dtype=np.float32) + 1) / (length + 1)
    return ramp if rising else ramp[::-1]


def sequence(ctx: RunContext, clips: list[tuple[int, Video]], params: Mapping[str, Any]) -> Video:
    first = clips[0][1]
    fps = params["fps"] or first.fps
    size = (first.width, first.height)
    joins = parse_joins(
        params["per_cut"], params["transition"], params["length"], len(clips) - 1, fps
    )
    # 1. Conform every clip to the first one's size and the chosen rate; say what changed.
    pictures: list[np.ndarray] = []
    for slot, clip in clips:
        changes = []
        if (clip.width, clip.height) != size:
            if not params["conform"]:
                raise NodeError(
                    f"clip_{slot} is {clip.width}x{clip.height} but clip_{clips[0][0]} is "
                    f"{size[0]}x{size[1]}: turn on 'conform' or resize it first"
                )
            changes.append(f"{clip.width}x{clip.height} -> {size[0]}x{size[1]} ({params['fit']})")
        if abs(clip.fps - fps) > 1e-6:
            changes.append(f"{clip.fps:g} -> {fps:g} fps (nearest frames)")
        if changes:
            ctx.info(f"conformed clip_{slot}: {', '.join(changes)}")
        at_rate = conform_rate(clip, fps, ctx.new_frames)
        pictures.append(conform_frames(at_rate, size, params["fit"], ctx.new_frames))
    # 2. Where each clip starts; a crossfade overlaps its neighbours and can be no longer
    #    than either of them.
    starts = [0]
    for i, join in enumerate(joins):
        if join.kind == "crossfade":
            longest = min(len(pictures[i]), len(pictures[i + 1]))
            if join.frames > longest:
                ctx.info(f"cut {i + 1}: crossfade shortened to {longest} frames (the clip length)")
                joins[i] = join = Join("crossfade", longest)
        overlap = join.frames if join.kind == "crossfade" else 0
        starts.append(starts[-1] + len(pictures[i]) - overlap)
    total = starts[-1] + len(pictures[-1])
    if total > MAX_FRAMES:
        raise NodeError(f"the sequence would have {total} frames; that is too long")
    # 3. Lay the pictures down with their fades.
    out = ctx.new_frames((total, size[1], size[0], 3))  # every frame is written below
    gains: list[np.ndarray] = []
    written = 0  # frames before this have been laid down by earlier clips
    for i, frames in enumerate(pictures):
        gain = np.ones(len(frames), np.float32)
        for join, at_end in (
            (joins[i - 1] if i else None, False),
            (joins[i] if i < len(joins) else None, True),
        ):
            if join is None or join.kind == "cut":
                continue
            length = min(
                join.frames if join.kind == "crossfade" else max(1, join.frames // 2), len(frames)
            )
            if at_end:
                gain[len(frames) - length :] *= _ramp(length, rising=False)
            else:
                gain[:length] *= _ramp(length, rising=True)
        gains.append(gain)
        for t in range(len(frames)):
            k = starts[i] + t
            if gain[t] == 1.0:  # outside any transition: nothing else lands here
                out[k] = frames[t]
            else:  # faded, and added onto what the previous clip left in a crossfade
                under = out[k] if k < written else np.zeros_like(out[k])
                faded = under + frames[t].astype(np.float32) * gain[t]
                out[k] = np.clip(faded + 0.5, 0, 255).astype(np.uint8)
        written = max(written, starts[i] + len(frames))
        ctx.progress(i + 1, len(pictures) + 1)
    # 4. The sound: each clip's track under its picture with the same fades.
    audio = _sound(clips, pictures, starts, gains, fps)
    ctx.progress(len(pictures) + 1, len(pictures) + 1)
    cuts = tuple(s for s in starts[1:] if 0 < s < total)
    return Video(out, fps, audio, tuple(sorted(set(cuts))))


def _sound(
    clips: list[tuple[int, Video]],
    pictures: list[np.ndarray],
    starts: list[int],
    gains: list[np.ndarray],
    fps: float,
) -> Audio | None:
    tracks = [clip.audio for _, clip in clips]
    model = next((a for a in tracks if a is not None), None)
    if model is None:
        return None
    rate, channels = model.rate, max(a.channels for a in tracks if a is not None)
    total_s = (starts[-1] + len(pictures[-1])) / fps
    mix = track.silence(total_s, rate, channels)
    for audio, frames, start, gain in zip(tracks, pictures, starts, gains, strict=True):
        if audio is None:
            continue
        part = track.fit(track.conform(audio, rate, channels), len(frames) / fps)
        # The picture's per-frame gain, spread over the samples of each frame.
        per_sample = np.interp(
            np.arange(len(part)) / rate * fps - 0.5, np.arange(len(frames)), gain
        ).astype(np.float32)
        part = Audio(part.samples * per_sample[:, None], rate)
        mix = track.mix_at(mix, part, start / fps)
    return track.fit(mix, total_s)


def run_sequence(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    if params["fps"] < 0:
        raise NodeError(f"fps must be 0 (the first clip's) or above, got {params['fps']:g}")
    clips = ordered_clips(inputs)
    video = sequence(ctx, clips, params)
    ctx.info(
        f"{len(clips)} clip(s) -> {len(video)} frames, {video.width}x{video.height} at "
        f"{video.fps:g} fps; cuts at frame {', '.join(map(str, video.cuts)) or 'none'}"
    )
    return {"video": video}


SEQUENCE = NodeSpec(
    type_id="Sequence",
    title="Sequence",
    category="Timing",
    version=1,
    help="Cuts clips together in order: a hard cut, a crossfade or a dip to black at each join. "
    "Every clip is conformed to the first one's size and frame rate (the node says what it "
    "changed); each clip's sound follows its picture. Add inputs with '+ add clip'.",
    run=run_sequence,
    inputs=(Port("clip", PortType.VIDEO, "A clip, in order.", variadic=True, slots=2),),
    outputs=(Port("video", PortType.VIDEO, "The cut sequence, with cut markers."),),
    params=(
        Param(
            "transition",
            ParamKind.CHOICE,
            "cut",
            choices=TRANSITIONS,
            help="How clips meet, unless 'per cut' says otherwise.",
        ),
        Param(
            "length",
            ParamKind.FLOAT,
            0.5,
            min=0.0,
            max=60.0,
            step=0.1,
            help="Seconds a crossfade or a dip to black lasts.",
        ),
        Param(
            "per_cut",
            ParamKind.STRING,
            "",
            label="Per cut",
            help="Optional, one entry per cut, in order, separated by commas: 'cut', "
            "'crossfade 0.5', 'dip 1' (seconds). Blank entries use the defaults above.",
        ),
        Param(
            "fps",
            ParamKind.FLOAT,
            0.0,
            min=0.0,
            max=240.0,
            step=1.0,
            help="Frame rate of the sequence; 0 takes the first clip's. Other rates are "
            "conformed by nearest frame (put Interpolate first for smooth motion).",
        ),
        Param(
            "conform",
            ParamKind.BOOL,
            True,
            help="Resize clips whose size differs from the first clip's; off refuses them.",
        ),
        Param(
            "fit",
            ParamKind.CHOICE,
            "fit",
            choices=("fit", "fill", "stretch"),
            help="How a clip of another shape is resized: whole with black bars (fit), "
            "cropped to fill the frame (fill), or stretched.",
        ),
    ),
)

SPECS = (SEQUENCE,)
