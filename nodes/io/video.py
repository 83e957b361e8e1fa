"""Clips: LoadVideo (a movie file or a folder of numbered PNGs) and SaveVideo (H.264 mp4).

SaveVideo pipes raw frames into the ffmpeg binary that imageio-ffmpeg ships (OpenCV's wheel has
no H.264 encoder), embeds the workflow in the mp4's ``comment`` tag and writes it beside the clip
as ``<name>.json``; :func:`read_embedded_workflow` gets it back so a clip reopens its workflow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nodes.audio.mux import mux_aac
from nodes.io.files import (
    files_exist,
    output_path,
    temp_sibling,
    workflow_seeds,
    write_text_atomic,
)
from nodes.io.images import read_image
from studio.graph.spec import Cancelled, NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType, Video

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.avi);;PNG sequence folder (*)"
MAX_BYTES = 4 * 1024**3  # decoded frames held in memory; beyond this ask for max_frames
DEFAULT_SEQUENCE_FPS = 24.0


# -- LoadVideo -----------------------------------------------------------------------------------


def run_load_video(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    if not params["path"]:
        raise NodeError("no video chosen: set 'path' to a movie file or a folder of PNGs")
    path = Path(params["path"]).expanduser()
    start, limit = params["start_frame"], params["max_frames"]
    if path.is_dir():
        frames, fps = _read_sequence(ctx, path, start, limit, params["sequence_fps"])
    elif path.is_file():
        frames, fps = _read_movie(ctx, path, start, limit)
    else:
        raise NodeError(f"video not found: {path}")
    if len(frames) == 1:
        ctx.info(f"{path.name} gave a single frame: the clip is a still")
    video = Video(np.stack(frames), fps)
    ctx.info(f"{len(video)} frames, {video.width}x{video.height} px, {fps:g} fps")
    return {"video": video}


def _read_movie(
    ctx: RunContext, path: Path, start: int, limit: int
) -> tuple[list[np.ndarray], float]:
    import av  # PyAV: imported here, it is only needed when a clip is read

    frames: list[np.ndarray] = []
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
            for index, frame in enumerate(container.decode(stream)):
                if index < start:
                    continue
                frames.append(frame.to_ndarray(format="rgb24"))
                _check_budget(frames, path)
                ctx.progress(len(frames), wanted or len(frames) + 1)
                if limit and len(frames) >= limit:
                    break
    except av.error.FFmpegError as error:
        raise NodeError(f"cannot read {path.name} as a video: {error}") from None
    if not frames:
        if start:
            raise NodeError(f"start frame {start} is past the end of {path.name}")
        raise NodeError(f"{path.name} holds no video frames")
    if not 0 < fps <= 1000:
        ctx.info(f"{path.name} does not say its frame rate; assuming {DEFAULT_SEQUENCE_FPS:g} fps")
        fps = DEFAULT_SEQUENCE_FPS
    return frames, fps


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
    version=1,
    help="Reads a clip (mp4, mov, mkv, webm, avi) or a folder of numbered PNG frames, keeping "
    "its frame rate.",
    run=run_load_video,
    outputs=(Port("video", PortType.VIDEO, "The clip, 8-bit RGB frames."),),
    params=(
        Param(
            "path",
            ParamKind.FILE,
            "",
            file_filter=VIDEO_FILTER,
            reads_file=True,
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
    ),
)


# -- SaveVideo -----------------------------------------------------------------------------------


def run_save_video(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = inputs.get("video")
    if not isinstance(video, Video):
        raise NodeError(f"'video' must be a clip, got {type(video).__name__}")
    if len(video) == 0:
        raise NodeError("the clip is empty (0 frames): nothing to save")
    if len(video) == 1:
        ctx.info("the clip has a single frame; saving a one-frame video")
    if int(video.frames.max()) < 8:
        ctx.info("every frame is black: check the nodes upstream")
    path = output_path(ctx.output_dir, params["filename"], ".mp4")
    _encode(ctx, video, path, params["crf"])
    files = [str(path)]
    if ctx.workflow_json:
        sidecar = path.with_suffix(".json")
        write_text_atomic(sidecar, ctx.workflow_json)
        files.append(str(sidecar))
    if params["also_png_sequence"]:
        files.append(str(_write_png_sequence(ctx, video, path.with_name(path.stem + "_frames"))))
    ctx.info(f"saved {path}")
    return {"files": files}


def _encode(ctx: RunContext, video: Video, path: Path, crf: int) -> None:
    import imageio_ffmpeg

    height, width = video.height, video.width
    temp = temp_sibling(path)
    metadata = temp.with_suffix(".meta")
    metadata.write_text(_ffmetadata(ctx.workflow_json), encoding="utf-8")
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        f"{video.fps:.6g}",
        "-i",
        "-",
        "-f",
        "ffmetadata",
        "-i",
        str(metadata),
        "-map",
        "0:v",
        "-map_metadata",
        "1",
        # yuv420p needs even sides: drop the last row/column of an odd side rather than fail.
        "-vf",
        "crop=floor(iw/2)*2:floor(ih/2)*2:0:0,format=yuv420p",
        "-c:v",
        "libx264",
        "-crf",
        str(int(crf)),
        "-preset",
        "medium",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(temp),
    ]
    if width % 2 or height % 2:
        ctx.info(f"{width}x{height} has an odd side; H.264 needs even sides, cropped by 1 px")
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdin is not None
        for index in range(len(video)):
            process.stdin.write(np.ascontiguousarray(video.frames[index]).tobytes())
            ctx.progress(index + 1, len(video))
        process.stdin.close()
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.wait() != 0:
            raise NodeError(f"ffmpeg could not write {path.name}: {error.strip()[-500:]}")
        if video.audio is not None:
            mux_aac(temp, video.audio, video.duration_s)
        os.replace(temp, path)
    except (Cancelled, BrokenPipeError, OSError) as problem:
        process.kill()
        process.wait()
        if isinstance(problem, Cancelled):
            raise
        raise NodeError(f"ffmpeg could not write {path.name}: {problem}") from None
    finally:
        temp.unlink(missing_ok=True)
        metadata.unlink(missing_ok=True)


def _ffmetadata(workflow_json: str) -> str:
    """An ffmetadata file: no command-line length limit on a large workflow."""
    lines = [";FFMETADATA1"]
    if workflow_json:
        lines.append("comment=" + _escape(workflow_json))
        seeds = workflow_seeds(workflow_json)
        if seeds:
            lines.append("description=" + _escape("studio seeds " + json.dumps(seeds)))
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    # ffmetadata escapes '=', ';', '#', '\' and newlines with a backslash.
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def _write_png_sequence(ctx: RunContext, video: Video, folder: Path) -> Path:
    from PIL import Image

    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for index in range(len(video)):
            Image.fromarray(video.frames[index]).save(temp / f"frame_{index + 1:05d}.png")
            ctx.progress(index + 1, len(video))
        temp.chmod(0o755)  # mkdtemp made it private
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(temp, folder)
    finally:
        if temp.exists():
            shutil.rmtree(temp)
    return folder


def read_embedded_workflow(mp4_path: str | os.PathLike[str]) -> str | None:
    """The workflow JSON a rendered clip carries (its mp4 comment, else its sidecar .json),
    or None when it has none or cannot be read."""
    path = Path(mp4_path)
    import av

    candidates: list[str] = []
    try:
        with av.open(str(path)) as container:
            candidates.append(container.metadata.get("comment", ""))
    except (av.error.FFmpegError, OSError, ValueError):
        pass  # not a readable movie: the sidecar may still tell
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            candidates.append(sidecar.read_text(encoding="utf-8"))
        except OSError:
            pass
    for text in candidates:
        if _looks_like_workflow(text):
            return text
    return None


def _looks_like_workflow(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and "nodes" in data


SAVE_VIDEO = NodeSpec(
    type_id="SaveVideo",
    title="Save Video",
    category="Output",
    aliases=("write video", "export", "render", "mp4"),
    tags=("h264", "file", "output", "fps"),
    version=1,
    help="Writes the clip as an H.264 mp4 (yuv420p, plays everywhere) into the render's output "
    "folder, with its sound as AAC and the workflow embedded so the clip can reopen it.",
    run=run_save_video,
    inputs=(Port("video", PortType.VIDEO, "The clip to save."),),
    params=(
        Param(
            "filename",
            ParamKind.STRING,
            "shot",
            help="File name without folder; '.mp4' is added. An existing file is replaced.",
        ),
        Param(
            "crf",
            ParamKind.INT,
            18,
            min=0,
            max=51,
            step=1,
            help="H.264 quality: lower is better and larger; 18 looks lossless, 23 is "
            "ffmpeg's default.",
        ),
        Param(
            "also_png_sequence",
            ParamKind.BOOL,
            False,
            help="Also write every frame as a PNG into '<filename>_frames/' for compositing.",
        ),
    ),
    output_node=True,
    still_valid=files_exist,
)
