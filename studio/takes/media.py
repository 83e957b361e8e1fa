"""Reading a take's pictures back: the whole clip for the viewer, a few small frames for a
thumbnail that plays on hover. Qt-free; PyAV and Pillow are imported when used."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.graph.types import Video

MAX_FRAMES = 2000  # a take longer than this shows its first frames only


def read_take(
    path: Path, *, width: int | None = None, max_frames: int = MAX_FRAMES
) -> Video | np.ndarray:
    """A take's mp4 as a :class:`Video` (or its PNG as an RGB array), optionally scaled to
    ``width`` px wide. Raises OSError (or PyAV's errors) when the file cannot be read."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as image:
            image = image.convert("RGB")
            if width:
                image.thumbnail((width, width * 4))
            return np.asarray(image)
    import av

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 24.0
        for frame in container.decode(stream):
            if width:
                height = max(2, round(frame.height * width / frame.width / 2) * 2)
                frame = frame.reformat(width=width, height=height)
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= max_frames:
                break
    if not frames:
        raise OSError(f"{path.name} holds no frames")
    return Video(np.stack(frames), fps)
