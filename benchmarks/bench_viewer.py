"""The viewer on a long 1280x720 clip kept on disk (a memory-mapped .npy, as the cache keeps it).

    .venv/bin/python -m benchmarks.bench_viewer [--frames 1000] [--seconds 5] [--stall-only]

Prints: the median and 95th-percentile time to show a new frame while scrubbing (seek, read
one frame, draw it; target <= 10 ms median), the frames shown and dropped while playing at
24 fps (target: none dropped), and the process's resident memory before and after scrubbing
the whole clip (target: flat, bounded by the frame cache).

It also selects a node whose clip is only in the engine's disk cache (every chunk is
checksummed as it is read) and reports the longest UI-thread stall, measured as the longest gap
between the ticks of a 2 ms QTimer heartbeat: once with the outputs read on the UI thread, as
the viewer did before it loaded on a worker, and once through the viewer (target: < 50 ms).
Both cold (the clip evicted from the page cache) and warm.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.engine.disk_cache import DiskCache  # noqa: E402
from studio.graph.types import Video  # noqa: E402
from studio.ui.viewer.dock import ViewerPanel  # noqa: E402
from studio.ui.viewer.frame_source import FrameSource  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 24.0
SCRUB_TARGET_MS = 10.0
STALL_TARGET_MS = 50.0
HEARTBEAT_MS = 2


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


def evict(folder: Path) -> None:
    """Drop ``folder``'s files from the page cache, so the next read comes from the disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def longest_stall(app: QApplication, action: Callable[[], None], done: Callable[[], bool]) -> float:
    """The longest gap (ms) between heartbeat ticks from just before ``action`` until ``done``."""
    ticks: list[float] = []
    beat = QTimer()
    beat.setTimerType(Qt.TimerType.PreciseTimer)
    beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    beat.start(HEARTBEAT_MS)
    while len(ticks) < 5:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    first = len(ticks) - 1
    action()
    while not done():
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    mark = len(ticks)
    while len(ticks) < mark + 3:  # the tick after the last stall
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    beat.stop()
    window = ticks[first:]
    return max(b - a for a, b in zip(window, window[1:], strict=False)) * 1000


def selection_stalls(app: QApplication, clip: Video, folder: Path) -> None:
    """Select a node whose clip is only in the disk cache: the UI thread's longest stall."""
    cache = DiskCache(folder / "cache")
    started = time.perf_counter()
    cache.put("clip-key", {"video": clip})
    print(f"disk cache entry written in {time.perf_counter() - started:.1f} s")
    entry = folder / "cache" / "entries"

    def output_source(node_id: str) -> dict | None:
        return cache.get("clip-key") if node_id == "clip" else None

    def read_on_ui_thread() -> None:
        # What the viewer did before: read the outputs, open a frame source, read a frame.
        outputs = output_source("clip")
        assert outputs is not None
        source = FrameSource(outputs["video"])
        source.frame(0)
        source.close()

    panel = ViewerPanel(output_source)
    panel.resize(1400, 950)
    panel.show()
    app.processEvents()

    def select() -> None:
        panel.show_node(None)  # start from nothing on screen
        while getattr(panel, "loading", False):
            app.processEvents()
        panel.show_node("clip")

    def shown() -> bool:
        return not getattr(panel, "loading", False) and panel.a.source is not None

    results = {}
    for temperature in ("cold", "warm"):
        if temperature == "cold":
            evict(entry)
        before = longest_stall(app, read_on_ui_thread, lambda: True)
        if temperature == "cold":
            evict(entry)
        panel.show_node(None)
        gc.collect()
        anonymous = rss_mb()["RssAnon"]
        after = longest_stall(app, select, shown)
        held = rss_mb()["RssAnon"] - anonymous
        results[temperature] = (before, after)
    shutdown = getattr(panel, "shutdown", panel.close_sources)
    shutdown()
    panel.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    for temperature, (before, after) in results.items():
        verdict = "ok" if after < STALL_TARGET_MS else "OVER target"
        print(
            f"longest UI-thread stall selecting the {clip.frames.nbytes / 1e9:.2f} GB clip "
            f"({temperature} page cache): read on the UI thread (before) {before:.0f} ms, "
            f"through the viewer (after) {after:.0f} ms "
            f"(target < {STALL_TARGET_MS:.0f} ms: {verdict})"
        )
    # Engine.output decodes a clip of several disk-cache chunks with np.concatenate: the whole
    # clip lands in RAM while it is shown (a memory map only for a single-chunk clip).
    print(f"anonymous memory held while the clip is shown: {held:+.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--stall-only", action="store_true", help="only the selection stall, no scrub/playback"
    )
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
        selection_stalls(app, clip, Path(folder))
        if args.stall_only:
            return
        panel = ViewerPanel({"clip": {"video": clip}}.get)
        panel.resize(1400, 950)
        panel.show()
        app.processEvents()
        panel.show_node("clip")
        while getattr(panel, "loading", False) or panel.a.source is None:
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
        panel.shutdown()
        del clip, source


if __name__ == "__main__":
    main()
