"""A moving test clip written as an H.264 mp4 (through imageio-ffmpeg), for the bounded-memory
tests and benchmark: a real photo panned across, ``frames`` frames at ``size``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_pan_clip(path: Path, frames: int, size: tuple[int, int] = (320, 180)) -> Path:
    import imageio.v2 as imageio
    from skimage import data

    width, height = size
    photo = cv2.resize(data.astronaut(), (width * 2, height * 2))
    with imageio.get_writer(
        path, fps=24, codec="libx264", pixelformat="yuv420p", macro_block_size=1,
        ffmpeg_params=["-preset", "ultrafast", "-crf", "30"],
    ) as writer:  # fmt: skip
        for t in range(frames):
            x = int((width - 1) * (0.5 + 0.5 * np.sin(t / 9.0)))
            y = int((height - 1) * (0.5 + 0.5 * np.cos(t / 13.0)))
            writer.append_data(np.ascontiguousarray(photo[y : y + height, x : x + width]))
    return path
