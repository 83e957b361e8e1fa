"""SaveVideo: each render writes a new take, ``<out>/<shot>/<shot>_v007.mp4``, never overwriting.

A take is the H.264 mp4 (the workflow embedded in its ``comment`` tag, the seeds in its
``description``), a sidecar ``<shot>_v007.json`` (the workflow plus the take's facts), a poster
``<shot>_v007_poster.png`` and, when asked, ``<shot>_v007_frames/`` with every frame as a PNG.
All of it is staged in a private folder and published together or not at all
(:mod:`studio.takes.publish`). :func:`read_embedded_workflow` gets the workflow back so a clip
reopens its workflow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nodes.io.encode import check_encodable, encode_mp4
from nodes.io.files import (
    draft_filename,
    embedded_workflow,
    filename_check,
    recall_take,
    shot_name,
    sign,
    signing_key,
    strip_paths_wanted,
    take_identity,
    take_params,
    take_still_valid,
    write_take,
)
from studio.engine.frames import chunk_frames
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType, Video
from studio.takes import TakeWriter
from studio.takes.provenance import seeds


def run_save_video(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = inputs.get("video")
    if not isinstance(video, Video):
        raise NodeError(f"'video' must be a clip, got {type(video).__name__}")
    if len(video) == 0:
        raise NodeError("the clip is empty (0 frames): nothing to save")
    check_encodable(video)
    if len(video) == 1:
        ctx.info("the clip has a single frame; saving a one-frame video")
    if video.width % 2 or video.height % 2:
        ctx.info(
            f"{video.width}x{video.height} has an odd side; H.264 needs even sides, cropped by 1 px"
        )
    shot = shot_name(params["filename"], ".mp4")
    key = take_identity(ctx, video.frames, video.fps, dict(params), ctx.workflow_json)
    strip = strip_paths_wanted(params)
    base = Path(ctx.output_dir) / shot  # embedded paths are relative to the take's folder
    workflow = embedded_workflow(ctx, shot, key, base, strip=strip)
    credentials = signing_key(params)  # before the encode: a missing certificate fails at once

    def stage(writer: TakeWriter) -> None:
        tags = {"comment": json.dumps(workflow) if workflow is not None else ""}
        found = seeds(workflow)
        if found:
            tags["description"] = "studio seeds " + json.dumps(found)
        encode_mp4(
            video,
            writer.staged(".mp4"),
            crf=params["crf"],
            metadata=tags,
            work_dir=writer.staging,
            progress=ctx.progress,
            label=f"a new take of {shot}",
        )
        if credentials is not None:
            sign(writer.staged(".mp4"), credentials, f"{shot}.mp4", workflow)
        # Every frame is written now (the clip may have been streamed in as it was made).
        if all_black(video.frames):
            ctx.info("every frame is black: check the nodes upstream")
        _write_png(writer.staged("_poster.png"), video.frames[len(video) // 2])
        if params["also_png_sequence"]:
            _write_png_sequence(ctx, video, writer.staged("_frames"))

    result = write_take(ctx, shot, key, workflow, "SaveVideo", stage)
    ctx.info(f"saved take {result['take']}: {result['files'][0]}")
    return result


def all_black(frames: Any) -> bool:
    """Whether every frame is (nearly) black; reads a chunk at a time, stops at the first
    that is not."""
    step = chunk_frames(frames)
    return all(int(frames[i : i + step].max()) < 8 for i in range(0, len(frames), step))


def _write_png(path: Path, frame: Any) -> None:
    from PIL import Image

    Image.fromarray(frame).save(path, format="PNG")


def _write_png_sequence(ctx: RunContext, video: Video, folder: Path) -> None:
    folder.mkdir()  # inside the private staging folder
    for index in range(len(video)):
        _write_png(folder / f"frame_{index + 1:05d}.png", video.frames[index])
        ctx.progress(index + 1, len(video))
    folder.chmod(0o755)


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
    draft=draft_filename,
    draft_help="writes <name>_draft takes",
    title="Save Video",
    category="Output",
    aliases=("write video", "export", "render", "mp4"),
    tags=("h264", "file", "output", "fps"),
    version=2,
    help="Writes each new render as a numbered take, <out>/<shot>/<shot>_v001.mp4 (H.264, "
    "yuv420p, plays everywhere; its sound as AAC) with a sidecar .json and a poster PNG, never "
    "overwriting; "
    "the workflow is embedded so the clip can reopen it. An unchanged graph writes nothing and "
    "says which take it already is.",
    run=run_save_video,
    stream_in="video",  # read in frame order (the encode), then the poster once all is written
    check=filename_check(".mp4"),
    inputs=(Port("video", PortType.VIDEO, "The clip to save."),),
    params=(
        Param(
            "filename",
            ParamKind.STRING,
            "shot",
            help="The shot name: takes go to <out>/<name>/<name>_v001.mp4, _v002, ...",
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
            help="Also write every frame as a PNG into '<shot>_v001_frames/' for compositing.",
        ),
        *take_params(),
    ),
    output_node=True,
    still_valid=take_still_valid,
    recall=recall_take,
)
