"""Putting a clip's sound into the mp4 Save Video wrote: AAC beside the H.264 picture."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from nodes.audio import track
from nodes.audio.files import write_aac
from studio.graph.spec import NodeError
from studio.graph.types import Audio


def mux_aac(mp4: Path, audio: Audio, picture_seconds: float) -> None:
    """Rewrite ``mp4`` in place with ``audio`` (cut or padded to the picture) as an AAC track.

    The picture is copied, not re-encoded. Temporaries are created exclusively in the same
    folder and the swap is one rename, so a failure leaves ``mp4`` as it was.
    """
    import imageio_ffmpeg

    sound = track.fit(audio, picture_seconds)
    folder = mp4.parent
    fd_a, aac = tempfile.mkstemp(prefix=f".{mp4.name}.", suffix=".m4a", dir=folder)
    fd_v, out = tempfile.mkstemp(prefix=f".{mp4.name}.", suffix=".mp4", dir=folder)
    os.close(fd_a)
    os.close(fd_v)
    try:
        write_aac(sound, Path(aac))
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-i",
            str(mp4),
            "-i",
            aac,
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map_metadata",
            "0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            out,
        ]
        done = subprocess.run(command, capture_output=True, check=False)
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip()[-500:]
            raise NodeError(f"ffmpeg could not add the sound to {mp4.name}: {message}")
        os.replace(out, mp4)
    finally:
        Path(aac).unlink(missing_ok=True)
        Path(out).unlink(missing_ok=True)
