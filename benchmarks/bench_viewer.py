"""The viewer on a long 1280x720 clip kept on disk (a memory-mapped .npy, as the cache keeps it).

    .venv/bin/python -m benchmarks.bench_viewer [--frames 1000] [--seconds 5]

Prints: the median and 95th-percentile time to show a new frame while scrubbing (seek, read
one frame, draw it; target <= 10 ms median), the frames shown and dropped while playing at
24 fps (target: none dropped), and the process's resident memory before and after scrubbing
the whole clip (target: flat, bounded by the frame cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.graph.types import Video  # noqa: E402
from studio.ui.viewer.dock import ViewerPanel  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 24.0
SCRUB_TARGET_MS = 10.0


def rss_mb() -> dict[str, float]:
    """Resident memory from /proc: total, anonymous (heap) and file-backed (mapped) pages."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def write_clip(path: Path, frames: int) -> Video:
    """A moving gradient with a frame counter bar, written in chunks (never all in RAM)."""
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint8, shape=(frames, HEIGHT, WIDTH, 3)
    )
    x = np.linspace(0, 255, WIDTH, dtype=np.float32)
    y = np.linspace(0, 255, HEIGHT, dtype=np.float32)[:, None]
    base = np.dstack(
        [
            np.broadcast_to(x, (HEIGHT, WIDTH)),
            np.broadcast_to(y, (HEIGHT, WIDTH)),
            np.full((HEIGHT, WIDTH), 128, np.float32),
        ]
    ).astype(np.uint8)
    for t in range(frames):
        frame = np.roll(base, 4 * t, axis=1)
        frame[:24, : (t * WIDTH) // frames] = 255
        out[t] = frame
    out.flush()
    del out
    return Video(np.load(path, mmap_mode="r"), FPS)


def scrub(app: QApplication, panel: ViewerPanel, count: int) -> tuple[list[float], list[float]]:
    """Drag-like scrubbing: steps of -3..+9 frames over the whole clip.

    Returns the per-frame times (ms) and the resident memory (MB) at each tenth of the clip.
    """
    rng = np.random.default_rng(0)
    times: list[float] = []
    memory: list[float] = []
    frame = 0
    while frame < count - 10:
        if frame >= len(memory) * count / 10:
            memory.append(rss_mb()["VmRSS"])
        frame = int(np.clip(frame + rng.integers(-3, 10), 0, count - 1))
        start = time.perf_counter()
        panel.timeline.seek(frame)
        panel.picture.viewport().repaint()  # draw now, as the next event-loop pass would
        times.append((time.perf_counter() - start) * 1000)
        app.processEvents()
    memory.append(rss_mb()["VmRSS"])
    return times, memory


def playback(app: QApplication, panel: ViewerPanel, seconds: float) -> tuple[int, int]:
    timeline = panel.timeline
    timeline.seek(0)
    timeline.set_playing(True)
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    timeline.set_playing(False)
    return timeline.shown, timeline.dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        clip = write_clip(Path(folder) / "clip.npy", args.frames)
        size_gb = clip.frames.nbytes / 1e9
        print(
            f"clip: {args.frames} frames {WIDTH}x{HEIGHT} ({size_gb:.2f} GB on disk, "
            f"written in {time.perf_counter() - started:.1f} s)"
        )
        panel = ViewerPanel({"clip": {"video": clip}}.get)
        panel.resize(1400, 950)
        panel.show()
        app.processEvents()
        panel.show_node("clip")
        app.processEvents()
        source = panel.a.source
        assert source is not None
        before = rss_mb()
        times, memory = scrub(app, panel, args.frames)
        after = rss_mb()
        median, p95 = statistics.median(times), float(np.percentile(times, 95))
        verdict = "ok" if median <= SCRUB_TARGET_MS else "SLOWER than target"
        print(
            f"scrub: {len(times)} frames shown, median {median:.2f} ms, p95 {p95:.2f} ms "
            f"(target <= {SCRUB_TARGET_MS:.0f} ms median: {verdict})"
        )
        print(
            f"memory while scrubbing the whole clip: RSS {before['VmRSS']:.0f} -> "
            f"{after['VmRSS']:.0f} MB (anonymous {before['RssAnon']:.0f} -> "
            f"{after['RssAnon']:.0f} MB, file-mapped {before['RssFile']:.0f} -> "
            f"{after['RssFile']:.0f} MB); frame cache holds at most {source.capacity} frames "
            f"({source.capacity * WIDTH * HEIGHT * 3 / 1e6:.0f} MB)"
        )
        print("RSS at each tenth of the clip (MB): " + " ".join(f"{m:.0f}" for m in memory))
        late = memory[len(memory) // 2 :]
        print(
            f"RSS change over the second half of the scrub: {late[-1] - late[0]:+.0f} MB "
            "(flat once the frame cache is full)"
        )
        shown, dropped = playback(app, panel, args.seconds)
        expected = int(args.seconds * FPS)
        print(
            f"playback at {FPS:g} fps for {args.seconds:g} s: {shown} frames shown of about "
            f"{expected}, {dropped} dropped"
        )
        panel.close_sources()
        del clip, source


if __name__ == "__main__":
    main()
