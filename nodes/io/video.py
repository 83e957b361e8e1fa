"""Clips in: LoadVideo (a movie file or a folder of numbered PNGs). SaveVideo is in
:mod:`nodes.io.save_video`."""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nodes.audio.files import read_audio
from nodes.io.images import draft_scale, read_image, scale_param, scaled
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import Audio, PortType, Video

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.avi);;PNG sequence folder (*)"
MAX_BYTES = 4 * 1024**3  # decoded frames held in memory; beyond this ask for max_frames
DEFAULT_SEQUENCE_FPS = 24.0


# -- LoadVideo -----------------------------------------------------------------------------------


DECODE_ERROR_CHOICES = ("fail", "warn")


def video_path_problem(path_text: str) -> str | None:
    """Why ``path_text`` names no readable clip (judged without reading it); None if fine."""
    if not path_text:
        return "no video chosen: set 'path' to a movie file or a folder of PNGs"
    path = Path(path_text).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError:
        return f"video not found: {path}"
    if stat.S_ISDIR(mode):
        try:
            has_png = any(p.suffix.lower() == ".png" for p in path.iterdir())
        except OSError as error:
            return f"cannot list the folder {path}: {error.strerror or error}"
        return None if has_png else f"the folder {path} holds no PNG frames"
    if not stat.S_ISREG(mode):  # a pipe or device would block or never end
        return f"{path.name} is not a regular file (a device or pipe)"
    return None


def check_load_video(params: Mapping[str, Any], env: Any) -> list[str]:
    problem = video_path_problem(params["path"])
    return [problem] if problem else []


def run_load_video(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    problem = video_path_problem(params["path"])
    if problem:
        raise NodeError(problem)
    path = Path(params["path"]).expanduser()
    start, limit = params["start_frame"], params["max_frames"]
    if path.is_dir():
        frames, fps = _read_sequence(ctx, path, start, limit, params["sequence_fps"])
    else:
        frames, fps = _read_movie(ctx, path, start, limit, params["on_decode_error"])
    if len(frames) == 1:
        ctx.info(f"{path.name} gave a single frame: the clip is a still")
    # The sound under exactly the frames read (before frame_step, which keeps the duration).
    sound = None
    if params["sound"] and path.is_file():
        sound = _read_sound(ctx, path, start / fps, len(frames) / fps)
    step = int(params["frame_step"])
    if step > 1:  # every n-th frame, at 1/n the rate: the clip keeps its duration
        frames, fps = frames[::step], fps / step
    frames = [scaled(frame, params["scale"]) for frame in frames]
    video = Video(np.stack(frames), fps, sound)
    ctx.info(f"{len(video)} frames, {video.width}x{video.height} px, {fps:g} fps")
    return {"video": video}


def _read_sound(ctx: RunContext, path: Path, start_s: float, seconds: float) -> Audio | None:
    """The movie's sound from ``start_s`` for ``seconds``, or None when it has none; a sound
    track that cannot be decoded is reported and left out (the picture still loads)."""
    try:
        return read_audio(path, start_s, seconds)
    except NodeError as error:
        if "has no sound" not in str(error):
            ctx.info(f"the sound was left out: {error}")
        return None


def _read_movie(
    ctx: RunContext, path: Path, start: int, limit: int, on_error: str = "fail"
) -> tuple[list[np.ndarray], float]:
    import av  # PyAV: imported here, it is only needed when a clip is read

    frames: list[np.ndarray] = []
    damaged = 0  # frames the decoder flagged corrupt (concealed), and packets it gave up on
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NodeError(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            total = stream.frames or 0
            wanted = _wanted(total - start if total else 0, limit)
            index = -1
            for frame in _decode(av, container, stream):
                if frame is None:  # a packet that did not decode at all
                    damaged += 1
                    continue
                index += 1
                if index < start:
                    continue
                damaged += bool(frame.is_corrupt)
                frames.append(frame.to_ndarray(format="rgb24"))
                _check_budget(frames, path)
                ctx.progress(len(frames), wanted or len(frames) + 1)
                if limit and len(frames) >= limit:
                    break
    except av.error.FFmpegError as error:
        raise NodeError(f"cannot read {path.name} as a video: {error}") from None
    if damaged:
        message = f"{damaged} frame(s) of {path.name} failed to decode (the file is damaged)"
        if on_error == "fail":
            raise NodeError(f"{message}; set 'on_decode_error' to warn to use it anyway")
        ctx.info(f"{message}; they were kept as the decoder concealed them")
    if not frames:
        if start:
            raise NodeError(f"start frame {start} is past the end of {path.name}")
        raise NodeError(f"{path.name} holds no video frames")
    if not 0 < fps <= 1000:
        ctx.info(f"{path.name} does not say its frame rate; assuming {DEFAULT_SEQUENCE_FPS:g} fps")
        fps = DEFAULT_SEQUENCE_FPS
    return frames, fps


def _decode(av: Any, container: Any, stream: Any) -> Any:
    """Frames of ``stream``; None for each packet the decoder refused (so reading goes on)."""
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            yield None


def _wanted(available: int, limit: int) -> int:
    if limit and available:
        return min(limit, available)
    return limit or max(available, 0)


def _check_budget(frames: list[np.ndarray], path: Path) -> None:
    if len(frames) * frames[0].nbytes > MAX_BYTES:
        raise NodeError(
            f"{path.name} is too long to hold in memory at this size (over {len(frames)} "
            f"frames); set 'max_frames' to read part of it"
        )


def _frame_number(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def _read_sequence(
    ctx: RunContext, folder: Path, start: int, limit: int, fps: float
) -> tuple[list[np.ndarray], float]:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"), key=_frame_number)
    if not files:
        raise NodeError(f"the folder {folder} holds no PNG frames")
    if start >= len(files):
        raise NodeError(f"start frame {start} is past the end of the sequence ({len(files)} PNGs)")
    files = files[start:]
    if limit:
        files = files[:limit]
    frames: list[np.ndarray] = []
    for index, file in enumerate(files):
        frame = read_image(str(file))
        if frames and frame.shape != frames[0].shape:
            raise NodeError(
                f"{file.name} is {frame.shape[1]}x{frame.shape[0]} px but the sequence started at "
                f"{frames[0].shape[1]}x{frames[0].shape[0]}: every frame must be the same size"
            )
        frames.append(frame)
        _check_budget(frames, folder)
        ctx.progress(index + 1, len(files))
    return frames, float(fps)


LOAD_VIDEO = NodeSpec(
    type_id="LoadVideo",
    title="Load Video",
    category="Input",
    aliases=("open video", "read video", "mp4", "clip"),
    tags=("file", "footage", "fps", "frames"),
    version=3,  # 2: scale, frame_step; 3: the movie's sound
    draft=lambda params, settings: {
        **draft_scale(params, settings),
        "frame_step": int(params["frame_step"]) * settings.frame_step,
    },
    draft_help="half the resolution, every 2nd frame",
    help="Reads a clip (mp4, mov, mkv, webm, avi) or a folder of numbered PNG frames, keeping "
    "its frame rate.",
    run=run_load_video,
    check=check_load_video,
    outputs=(Port("video", PortType.VIDEO, "The clip, 8-bit RGB frames."),),
    params=(
        Param(
            "path",
            ParamKind.FILE,
            "",
            file_filter=VIDEO_FILTER,
            reads_file=True,
            folder_files="*.png",
            help="A movie file, or a folder of numbered PNGs (frame_0001.png, ...).",
        ),
        Param(
            "start_frame",
            ParamKind.INT,
            0,
            min=0,
            max=1_000_000,
            step=1,
            help="Skip this many frames from the start.",
        ),
        Param(
            "max_frames",
            ParamKind.INT,
            0,
            min=0,
            max=100_000,
            step=1,
            help="Read at most this many frames; 0 reads to the end.",
        ),
        Param(
            "sequence_fps",
            ParamKind.FLOAT,
            DEFAULT_SEQUENCE_FPS,
            min=1.0,
            max=240.0,
            step=1.0,
            help="Frame rate of a PNG sequence (movie files carry their own).",
        ),
        Param(
            "on_decode_error",
            ParamKind.CHOICE,
            "fail",
            choices=DECODE_ERROR_CHOICES,
            help="A damaged movie file (frames that fail to decode): fail, or warn and keep "
            "the frames as the decoder concealed them. Either way it says how many.",
        ),
        Param(
            "frame_step",
            ParamKind.INT,
            1,
            min=1,
            max=64,
            step=1,
            help="Keep every n-th frame (at 1/n of the frame rate, so the clip keeps its "
            "duration); draft mode doubles it.",
        ),
        scale_param(),
        Param(
            "sound",
            ParamKind.BOOL,
            True,
            help="Read the movie's sound too: the clip carries it through every node and Save "
            "Video writes it.",
        ),
    ),
)
