"""A contact sheet: the variants of a batch side by side, each labelled with its values.

Qt-free: the editor's sheet (:mod:`studio.ui.contact_sheet`) shows these tiles playing in sync,
and the same composition exports as one PNG (a frame of every variant) or one mp4 (all of them
playing together). Clips of different lengths hold their last frame; all play at the first
clip's frame rate.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio.queue.jobs import Job, JobState
from studio.queue.variations import variant_label

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LABEL_HEIGHT = 26  # pixels under each tile for its values
GAP = 4
BACKGROUND = (24, 26, 30)
TEXT = (225, 228, 232)


class SheetError(ValueError):
    """Nothing to put on a sheet, or a file that cannot be read."""


@dataclass
class SheetItem:
    """One variant: its frames ((T, H, W, 3) uint8; T = 1 for a still), fps and label."""

    label: str
    frames: np.ndarray
    fps: float = 16.0
    path: Path | None = None

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index``; past the end a clip holds its last frame."""
        return self.frames[min(index, len(self.frames) - 1)]


def read_item(path: Path, label: str, max_side: int | None = None) -> SheetItem:
    """A variant's mp4 or image, downscaled so its longer side is at most ``max_side``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        import av

        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate
                frames = [
                    _fit(f.to_ndarray(format="rgb24"), max_side) for f in container.decode(stream)
                ]
        except (av.error.FFmpegError, IndexError, OSError) as exc:
            raise SheetError(f"cannot read {path.name} as a video ({exc})") from None
        if not frames:
            raise SheetError(f"{path.name} has no frames")
        return SheetItem(label, np.stack(frames), float(rate) if rate else 16.0, path)
    if suffix in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SheetError(f"cannot read {path.name} as an image")
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return SheetItem(label, _fit(rgb, max_side)[None], 16.0, path)
    raise SheetError(f"{path.name}: a contact sheet shows videos and images, not {suffix!r}")


def _fit(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = frame.shape[:2]
    if max_side is None or max(w, h) <= max_side:
        return np.ascontiguousarray(frame)
    scale = max_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def media_file(job: Job) -> Path | None:
    """The first video (else image) a finished job wrote."""
    files = [Path(f) for f in job.result.get("files", [])]
    for suffixes in (VIDEO_SUFFIXES, IMAGE_SUFFIXES):
        for path in files:
            if path.suffix.lower() in suffixes and path.is_file():
                return path
    return None


def batch_entries(jobs: Iterable[Job]) -> list[tuple[str, Path]]:
    """(label, file) for each done variant of a batch, in variant order."""
    entries = []
    for job in sorted(jobs, key=lambda j: (j.variant is None, j.variant or 0)):
        path = media_file(job) if job.state is JobState.DONE else None
        if path is not None:
            entries.append((variant_label(job.overrides) or job.name, path))
    return entries


def grid_shape(count: int) -> tuple[int, int]:
    """(columns, rows): as square as possible, wider rather than taller."""
    if count < 1:
        raise SheetError("a contact sheet needs at least one variant")
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


def tile_size(items: Sequence[SheetItem], max_width: int) -> tuple[int, int]:
    """Every tile's size: the first item's aspect, ``max_width`` wide at most, even sides."""
    width, height = items[0].size
    scale = min(1.0, max_width / width)
    return max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2)


def sheet_length(items: Sequence[SheetItem]) -> int:
    return max(len(item.frames) for item in items)


def compose(items: Sequence[SheetItem], index: int, tile: tuple[int, int]) -> np.ndarray:
    """Frame ``index`` of the whole sheet: tiles in rows, a label strip under each."""
    columns, rows = grid_shape(len(items))
    tw, th = tile
    cell_h = th + LABEL_HEIGHT
    width = columns * tw + (columns + 1) * GAP
    height = rows * cell_h + (rows + 1) * GAP
    sheet = np.empty((height + height % 2, width + width % 2, 3), np.uint8)
    sheet[:] = BACKGROUND
    for n, item in enumerate(items):
        x = GAP + (n % columns) * (tw + GAP)
        y = GAP + (n // columns) * (cell_h + GAP)
        frame = item.frame(index)
        if frame.shape[:2] != (th, tw):
            frame = _letterbox(frame, tw, th)
        sheet[y : y + th, x : x + tw] = frame
        _label(sheet, item.label, x, y + th, tw)
    return sheet


def _letterbox(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit ``frame`` inside width x height without distorting it (variants may differ)."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, size, interpolation=interpolation)
    out = np.empty((height, width, 3), np.uint8)
    out[:] = BACKGROUND
    x0, y0 = (width - size[0]) // 2, (height - size[1]) // 2
    out[y0 : y0 + size[1], x0 : x0 + size[0]] = resized
    return out


def _label(sheet: np.ndarray, text: str, x: int, y: int, width: int) -> None:
    # OpenCV's built-in font draws ASCII only; anything else would come out as "?" anyway.
    text = text.encode("ascii", "replace").decode()
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, 1
    scale = 0.45
    while scale > 0.25 and cv2.getTextSize(text, font, scale, thickness)[0][0] > width - 8:
        scale -= 0.05
    while len(text) > 4 and cv2.getTextSize(text, font, scale, thickness)[0][0] > width - 8:
        text = text[:-4] + "..."
    baseline = y + LABEL_HEIGHT // 2 + 5
    cv2.putText(sheet, text, (x + 4, baseline), font, scale, TEXT, thickness, cv2.LINE_AA)


def frames(items: Sequence[SheetItem], tile: tuple[int, int]) -> Iterator[np.ndarray]:
    for index in range(sheet_length(items)):
        yield compose(items, index, tile)


def export_png(
    items: Sequence[SheetItem], path: Path, *, frame: int = 0, max_tile_width: int = 480
) -> Path:
    """One still of the whole sheet (frame ``frame`` of every variant), written atomically."""
    if not items:
        raise SheetError("a contact sheet needs at least one variant")
    image = compose(items, frame, tile_size(items, max_tile_width))
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise SheetError("the PNG encoder refused the sheet")
    from studio.graph.fileformat import write_bytes_atomic

    write_bytes_atomic(Path(path), data.tobytes())
    return Path(path)


def export_mp4(
    items: Sequence[SheetItem], path: Path, *, fps: float | None = None, max_tile_width: int = 480
) -> Path:
    """Every variant playing together as one H.264 mp4, encoded to a temporary file in the
    target folder and renamed into place (a failed export leaves no half file)."""
    from fractions import Fraction

    import av

    if not items:
        raise SheetError("a contact sheet needs at least one variant")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tile = tile_size(items, max_tile_width)
    rate = Fraction(fps or items[0].fps).limit_denominator(1001)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=rate)
            first = compose(items, 0, tile)
            stream.height, stream.width = first.shape[:2]
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "18"}
            for image in frames(items, tile):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
