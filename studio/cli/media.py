"""Media files for ``studio node`` and ``studio render --target``: read inputs, write outputs
(cv2 and PyAV directly)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from studio.cli.common import UsageError, WriteFailed

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def read_input(port_type: Any, path: Path, fps: float) -> Any:
    from studio.graph.types import PortType

    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if port_type is PortType.IMAGE:
        return read_image(path)
    if port_type is PortType.MASK:
        return read_mask(path)
    if port_type is PortType.VIDEO:
        return read_video(path, fps)
    raise UsageError(f"inputs of type {port_type.value} cannot be read from files")


def read_image(path: Path) -> Any:
    """As LoadImage reads it (any path, upright, size-checked); its error as a UsageError."""
    from nodes.io.images import read_image as load_image
    from studio.graph.spec import NodeError

    try:
        return load_image(str(path))
    except NodeError as exc:
        raise UsageError(str(exc)) from None


def read_mask(path: Path) -> Any:
    import cv2
    import numpy as np

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise UsageError(f"cannot read {path} as a mask")
    if data.ndim == 3:
        data = cv2.cvtColor(data[..., :3], cv2.COLOR_BGR2GRAY)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(data.dtype, 1.0)
    return np.clip(data.astype(np.float32) / scale, 0.0, 1.0)


def read_video(path: Path, fps: float) -> Any:
    import numpy as np

    from studio.graph.types import Video

    if path.is_dir():
        files = sorted(
            (f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
        )
        if not files:
            raise UsageError(f"{path} holds no numbered images")
        frames = [read_image(f) for f in files]
        if len({f.shape for f in frames}) != 1:
            raise UsageError(f"the images in {path} differ in size")
        return Video(np.stack(frames), fps)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        import av

        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        except (av.error.FFmpegError, IndexError) as exc:
            raise UsageError(f"cannot read {path} as a video ({exc})") from None
        if not frames:
            raise UsageError(f"{path} has no frames")
        return Video(np.stack(frames), float(rate) if rate else fps)
    return Video(read_image(path)[None], fps)  # a single image: a one-frame clip


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def write_output(port_type: Any, value: Any, folder: Path, name: str) -> list[Path]:
    """Write one output: PNG for images and masks, mp4 plus PNG frames for videos, replacing
    an earlier output of the same name. Everything is staged in a private folder first, so a
    full or read-only disk changes nothing and says so in one line (:class:`WriteFailed`)."""
    import shutil
    import tempfile

    from studio.takes.publish import STAGING_PREFIX, describe_os_error, sweep_stale

    try:
        folder.mkdir(parents=True, exist_ok=True)
        sweep_stale(folder)
        staging = Path(
            tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{_host_pid()}-", dir=folder.absolute())
        )
    except OSError as error:
        raise WriteFailed(describe_os_error(error, folder)) from None
    try:
        staged = _stage_output(port_type, value, staging, name)
        return [_replace(path, folder / path.name, staging) for path in staged]
    except OSError as error:
        raise WriteFailed(describe_os_error(error, folder)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _host_pid() -> str:
    import os

    from studio.takes.publish import host_tag

    return f"{host_tag()}-{os.getpid()}"


def _stage_output(port_type: Any, value: Any, staging: Path, name: str) -> list[Path]:
    import cv2
    import numpy as np

    from studio.graph.types import PortType

    def png(path: Path, pixels: Any) -> Path:
        ok, data = cv2.imencode(".png", pixels)
        if not ok:
            raise OSError(f"cannot encode {path.name} as PNG")
        path.write_bytes(data.tobytes())  # raises OSError (full disk) where imwrite says nothing
        return path

    if port_type is PortType.IMAGE:
        rgb = cv2.cvtColor(np.ascontiguousarray(value), cv2.COLOR_RGB2BGR)
        return [png(staging / f"{name}.png", rgb)]
    if port_type is PortType.MASK:
        return [png(staging / f"{name}.png", np.round(np.clip(value, 0, 1) * 255).astype(np.uint8))]
    if port_type is PortType.VIDEO:
        frames_dir = staging / f"{name}_frames"
        frames_dir.mkdir()
        for index, frame in enumerate(value.frames):
            png(
                frames_dir / f"{index:05d}.png",
                cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR),
            )
        frames_dir.chmod(0o755)
        path = staging / f"{name}.mp4"
        write_mp4(path, value.frames, value.fps)
        return [path, frames_dir]
    path = staging / f"{name}.json"
    path.write_text(json.dumps(value, default=_jsonable, indent=2))
    return [path]


def _replace(staged: Path, target: Path, staging: Path) -> Path:
    """Move ``staged`` over ``target``; a folder replaces a folder (the old one is moved
    aside into the staging folder first, then deleted with it)."""
    import os

    if staged.is_dir() and target.is_dir() and not target.is_symlink():
        os.rename(target, staging / f"old-{target.name}")
    os.replace(staged, target)  # replaces a symlink itself, never the file it points to
    return target


def write_mp4(path: Path, frames: Any, fps: float) -> None:
    """H.264 (yuv420p, so even sizes: an odd edge row or column is repeated)."""
    from fractions import Fraction

    import av
    import numpy as np

    height, width = frames.shape[1:3]
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    frames = np.pad(frames, pad, mode="edge") if any(p[1] for p in pad) else frames
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "17"}
        for frame in frames:
            container.mux(
                stream.encode(
                    av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                )
            )
        container.mux(stream.encode())


def _jsonable(value: Any) -> Any:
    import dataclasses

    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return str(value)
