"""H.264 encoding through the ffmpeg binary that imageio-ffmpeg ships (OpenCV's wheel has none).

:func:`encode_mp4` is the one place that runs ffmpeg for Save Video: raw RGB frames in on a
pipe, an mp4 out, metadata from an ffmetadata file (no command-line length limit on a large
workflow), then the clip's sound muxed in as AAC (:func:`nodes.audio.mux.mux_aac`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from nodes.audio.mux import mux_aac
from studio.engine.frames import read_ahead
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Video


def check_encodable(video: Video) -> None:
    """yuv420p halves the chroma in both directions: a side of 1 px cannot be encoded."""
    if video.width < 2 or video.height < 2:
        raise NodeError(
            f"the clip is {video.width}x{video.height} px: H.264 video (yuv420p) needs at least "
            "2 px on each side; scale or pad it before Save Video"
        )


def encode_mp4(
    video: Video,
    path: Path,
    *,
    crf: int,
    metadata: Mapping[str, str],
    work_dir: Path,
    progress: Callable[[int, int], None],
    label: str = "",
) -> None:
    """Encode ``video`` into ``path`` (which must be in a private folder: it is written in
    place). ``work_dir`` (private too) holds the metadata file and ffmpeg's log. ``progress``
    may raise :class:`Cancelled`. Raises NodeError with ffmpeg's own reason on failure, naming
    the output ``label`` (default: the file's name)."""
    import imageio_ffmpeg

    check_encodable(video)
    meta_file = work_dir / "ffmetadata.txt"
    meta_file.write_text(ffmetadata(metadata), encoding="utf-8")
    log_file = work_dir / "ffmpeg.log"
    command = ffmpeg_command(imageio_ffmpeg.get_ffmpeg_exe(), video, path, meta_file, crf=crf)
    with open(log_file, "wb") as log:  # a file, not a pipe: a chatty ffmpeg cannot stall us
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=log)
        try:
            assert process.stdin is not None
            # Chunks are read on a helper thread while this one feeds ffmpeg (encoding in its
            # own process): a frame at a time, never a whole-clip copy.
            for window in read_ahead(video.frames):
                for index in range(window.start, window.end):
                    process.stdin.write(np.ascontiguousarray(window[index]).data)
                    progress(index + 1, len(video))
            process.stdin.close()
            code = process.wait()
        except Cancelled:
            _stop(process)
            raise
        except OSError as error:  # BrokenPipe: ffmpeg died; its log says why
            code = _stop(process)
            raise NodeError(_failure(label or path.name, code, log_file, error)) from None
    if code != 0:
        raise NodeError(_failure(label or path.name, code, log_file, None))
    if video.audio is not None:
        mux_aac(path, video.audio, video.duration_s)


def ffmpeg_command(exe: str, video: Video, path: Path, meta_file: Path, *, crf: int) -> list[str]:
    # Absolute "file:" URLs: a folder named "-x" or "a:b" is never read as an option or protocol.
    def url(p: Path) -> str:
        return "file:" + os.path.abspath(p)

    return [
        exe,
        "-y",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{video.width}x{video.height}",
        "-r",
        f"{video.fps:.6g}",
        "-i",
        "pipe:0",
        "-f",
        "ffmetadata",
        "-i",
        url(meta_file),
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
        url(path),
    ]


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.kill()
    return process.wait()


def _failure(name: str, code: int, log_file: Path, error: OSError | None) -> str:
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        lines = []
    reason = lines[-1].strip() if lines else ""
    if not reason and code < 0:
        known = -code in signal.Signals._value2member_map_
        sig = signal.Signals(-code).name if known else f"signal {-code}"
        why = {"SIGXFSZ": "the file size limit (ulimit -f) was exceeded"}.get(sig, "")
        reason = f"ffmpeg was stopped by {sig}" + (f": {why}" if why else "")
    if not reason and error is not None:
        reason = error.strerror or str(error)
    reason = reason or f"ffmpeg exited with status {code}"
    reason = re.sub(r"file:/\S*", name, reason)  # our private temp path means nothing
    return f"ffmpeg could not write {name}: {reason[-300:]}"


def ffmetadata(tags: Mapping[str, str]) -> str:
    lines = [";FFMETADATA1"]
    for name, value in tags.items():
        if value:
            lines.append(f"{name}={_escape(value)}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    # ffmetadata escapes '=', ';', '#', '\' and newlines with a backslash.
    return re.sub(r"([=;#\\\n])", r"\\\1", value)
