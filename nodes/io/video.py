"""Clips in: LoadVideo (a movie file or a folder of numbered PNGs). SaveVideo is in
:mod:`nodes.io.save_video`."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nodes.audio.files import read_audio
from nodes.io.images import draft_scale, read_image, scale_param, scaled
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import Audio, PortType, Video

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.avi);;PNG sequence folder (*)"
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
    clip = ClipBuffer(ctx, path.name, int(params["frame_step"]), float(params["scale"]))
    published: list[Video] = []
    if path.is_dir():
        fps = _read_sequence(ctx, clip, path, start, limit, params["sequence_fps"])
    else:

        def publish(buffer: np.ndarray) -> None:
            """The movie says how many frames it holds: hand the clip out now, so a node
            reading it frame by frame starts while the rest decodes."""
            sound = None
            if params["sound"]:
                sound = _read_sound(ctx, path, start / clip.fps, clip.expected / clip.fps)
            published.append(Video(buffer, clip.fps / clip.step, sound))
            ctx.publish({"video": published[0]})

        clip.on_exact_buffer = publish
        fps = _read_movie(ctx, clip, path, start, limit, params["on_decode_error"])
    frames = clip.finish()
    if len(frames) == 1:
        ctx.info(f"{path.name} gave a single frame: the clip is a still")
    if published and frames is published[0].frames and clip.offered == clip.expected:
        video = published[0]  # read as the movie said: the very clip handed out
    else:
        # The sound under exactly the frames read (before frame_step, which keeps the duration).
        sound = None
        if params["sound"] and path.is_file():
            sound = _read_sound(ctx, path, start / fps, clip.offered / fps)
        # Every n-th frame at 1/n of the rate: the clip keeps its duration.
        video = Video(frames, fps / clip.step, sound)
    ctx.info(f"{len(video)} frames, {video.width}x{video.height} px, {video.fps:g} fps")
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


class ClipBuffer:
    """Decoded frames gathered straight into the clip's buffer (``ctx.new_frames``: a mapped
    scratch file when the clip is long), keeping every ``step``-th frame, resized by ``scale``:
    a long clip never exists as a list of frames in memory."""

    def __init__(self, ctx: RunContext, name: str, step: int, scale: float) -> None:
        if step < 1:
            raise NodeError(f"frame_step {step} must be 1 or more")
        self.ctx, self.name, self.step, self.scale = ctx, name, step, scale
        self.offered = 0  # frames seen (before the step)
        self.count = 0  # frames kept
        self.source_shape: tuple[int, ...] | None = None
        self.buffer: np.ndarray | None = None
        self.expected = 0  # frames the source says it holds, when it says
        self.fps = DEFAULT_SEQUENCE_FPS  # the source's rate, once known
        # Called with the buffer when it is sized from ``expected`` (a movie that says its
        # length): the clip can be published before it is filled (studio.engine.filling).
        self.on_exact_buffer: Callable[[np.ndarray], None] | None = None
        self._streaming = False

    def add(self, frame: np.ndarray) -> None:
        if self.source_shape is None:
            self.source_shape = frame.shape
        elif frame.shape != self.source_shape:
            raise NodeError(
                f"{self.name} is {frame.shape[1]}x{frame.shape[0]} px but the sequence started "
                f"at {self.source_shape[1]}x{self.source_shape[0]}: every frame must be the same "
                "size"
            )
        self.offered += 1
        if (self.offered - 1) % self.step:
            return
        frame = scaled(frame, self.scale)
        if self.buffer is None or self.count == len(self.buffer):
            self._grow(frame.shape)
        assert self.buffer is not None
        self.buffer[self.count] = frame
        self.count += 1
        if self._streaming:
            self.ctx.frames_ready(self.count)

    def _grow(self, shape: tuple[int, ...]) -> None:
        wanted = -(-self.expected // self.step) if self.expected else 64
        size = max(wanted, 2 * self.count, 1)
        try:
            bigger = self.ctx.new_frames((size, *shape))
        except (OSError, MemoryError) as exc:
            raise NodeError(f"{self.name}: no room for {size} frames ({exc})") from None
        if self.buffer is not None:
            bigger[: self.count] = self.buffer[: self.count]
        self.buffer = bigger
        # Published only when sized as the source said; a source that holds more frames
        # than it said gets a new buffer, and the engine restarts whoever read the old one.
        first = self.count == 0 and self.expected and self.on_exact_buffer is not None
        self._streaming = bool(first and size == wanted)
        if self._streaming:
            assert self.on_exact_buffer is not None
            self.on_exact_buffer(bigger)

    def __len__(self) -> int:
        return self.count

    def finish(self) -> np.ndarray:
        if self.buffer is None:
            raise NodeError(f"{self.name} holds no video frames")
        return self.ctx.shrink_frames(self.buffer, self.count)


def _read_movie(
    ctx: RunContext, frames: ClipBuffer, path: Path, start: int, limit: int, on_error: str = "fail"
) -> float:
    """Decode ``path`` into ``frames``; returns its frame rate."""
    import av  # PyAV: imported here, it is only needed when a clip is read

    damaged = 0  # frames the decoder flagged corrupt (concealed), and packets it gave up on
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NodeError(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            if not 0 < fps <= 1000:
                ctx.info(f"{path.name} does not say its frame rate; assuming "
                         f"{DEFAULT_SEQUENCE_FPS:g} fps")  # fmt: skip
                fps = DEFAULT_SEQUENCE_FPS
            total = stream.frames or 0
            wanted = _wanted(total - start if total else 0, limit)
            frames.expected, frames.fps = wanted, fps
            index = -1
            for frame in _decode(av, container, stream):
                if frame is None:  # a packet that did not decode at all
                    damaged += 1
                    continue
                index += 1
                if index < start:
                    continue
                damaged += bool(frame.is_corrupt)
                frames.add(frame.to_ndarray(format="rgb24"))
                ctx.progress(frames.offered, wanted or frames.offered + 1)
                if limit and frames.offered >= limit:
                    break
    except av.error.FFmpegError as error:
        raise NodeError(f"cannot read {path.name} as a video: {error}") from None
    if damaged:
        message = f"{damaged} frame(s) of {path.name} failed to decode (the file is damaged)"
        if on_error == "fail":
            raise NodeError(f"{message}; set 'on_decode_error' to warn to use it anyway")
        ctx.info(f"{message}; they were kept as the decoder concealed them")
    if not frames.offered:
        if start:
            raise NodeError(f"start frame {start} is past the end of {path.name}")
        raise NodeError(f"{path.name} holds no video frames")
    return fps


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


def _frame_number(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def _read_sequence(
    ctx: RunContext, frames: ClipBuffer, folder: Path, start: int, limit: int, fps: float
) -> float:
    """Read a folder of numbered PNGs into ``frames``; returns ``fps``."""
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"), key=_frame_number)
    if not files:
        raise NodeError(f"the folder {folder} holds no PNG frames")
    if start >= len(files):
        raise NodeError(f"start frame {start} is past the end of the sequence ({len(files)} PNGs)")
    files = files[start:]
    if limit:
        files = files[:limit]
    frames.expected = len(files)
    for index, file in enumerate(files):
        frames.name = file.name
        frames.add(read_image(str(file)))
        ctx.progress(index + 1, len(files))
    return float(fps)


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
    stream_out=True,  # a movie that says its length is handed out as it decodes
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
