"""Live draft feedback: dragging Stabilize's smoothing (or a brush path) in Draft, with the mouse.

    .venv/bin/python -m benchmarks.bench_live_draft [--frames 96] [--size 640x360] [--moves 30]
    .venv/bin/python -m benchmarks.bench_live_draft --brush

``--brush``: the example shot in Draft with Animate (built-in) in the viewer, and the mouse
dragging the end point of the Motion Brush's path in the painter instead.

A shaky synthetic clip (tests/clips.py, a camera moving over a photo with jitter) is written as
numbered PNGs; the editor opens Load Video -> Stabilize in Draft, renders it once, shows
Stabilize in the viewer, and then the mouse drags the smoothing slider in the inspector: one
move every ``--interval`` ms, as a hand does. For each move: the time until the viewer shows
the frame under the playhead of a live render that includes that move (target: median
<= 200 ms). Meanwhile a 5 ms heartbeat on the UI thread measures its longest stall (target
<= 50 ms), with the UI thread's own CPU time between two beats, and the same loop left idle
for as long first (what the machine's load alone does). Prints the figures and the load
average (the machine is shared; say so).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

EXAMPLE = Path(__file__).resolve().parent.parent / "resources" / "workflows" / "example.json"
LATENCY_TARGET_MS = 200.0
STALL_TARGET_MS = 50.0
BEAT_MS = 5


def write_clip(folder: Path, frames: int, size: tuple[int, int]) -> None:
    import cv2

    from tests import clips

    clip = clips.shaky_clip(frames=frames, size=size)
    folder.mkdir(parents=True)
    for index, frame in enumerate(clip.video.frames):
        cv2.imwrite(str(folder / f"frame_{index + 1:04d}.png"), frame[..., ::-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--interval", type=int, default=40, help="ms between mouse moves")
    parser.add_argument(
        "--brush", action="store_true", help="drag a brush-path point of the example instead"
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    scratch = Path(tempfile.mkdtemp(prefix="studio-bench-live-"))
    os.environ["STUDIO_CACHE_DIR"] = str(scratch / "cache")
    os.environ["STUDIO_CONFIG_DIR"] = str(scratch / "config")
    write_clip(scratch / "clip", args.frames, (width, height))

    from PySide6.QtCore import QEventLoop, QPoint, QPointF, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    from studio.graph.commands import AddNode, Connect, Macro, SetParam
    from studio.graph.graph import Edge, new_id
    from studio.ui.app import application, warm_up_imports
    from studio.ui.main_window import MainWindow

    app = application()
    warm_up_imports().join()
    window = MainWindow(output_dir=scratch / "out")
    window.resize(1600, 960)
    window.show()
    session = window.session
    window.draft.set_draft(True)

    def wait_for(signal, ok=lambda *a: True) -> None:  # noqa: ANN001
        loop = QEventLoop()

        def check(*values) -> None:  # noqa: ANN002
            if ok(*values):
                loop.quit()

        signal.connect(check)
        loop.exec()
        signal.disconnect(check)

    if args.brush:  # the example shot: Motion Brush -> Animate (built-in), Animate viewed
        window.files.open_path(str(EXAMPLE))
        window.draft.set_draft(True)
        viewed = next(n.id for n in session.graph.nodes if n.type_id == "ImageToVideo")
        brush_node = next(n.id for n in session.graph.nodes if n.type_id == "MotionBrush")
    else:  # Load Video -> Stabilize, Stabilize viewed
        load, viewed = new_id(), new_id()
        session.push(
            Macro(
                [
                    AddNode("LoadVideo", (0.0, 0.0), node_id=load),
                    AddNode("Stabilize", (320.0, 0.0), node_id=viewed),
                    SetParam(load, "path", str(scratch / "clip")),
                    Connect(Edge(load, "video", viewed, "video")),
                ]
            )
        )

    start = time.perf_counter()
    window.run_all()
    wait_for(window.controller.running_changed, lambda running: not running)
    first_render = time.perf_counter() - start
    if window.controller.last_status != "ok":
        print(f"the draft render failed: {window.controller.last_status}")
        return 1
    window.scene.item_for(viewed).setSelected(True)
    app.processEvents()
    window.viewer.refresh()
    wait_for(window.viewer.panel.loaded)
    panel = window.viewer.panel
    panel.timeline.seek(panel.timeline.count // 2)  # the playhead mid-clip
    app.processEvents()

    if args.brush:
        painter = window.open_painter(brush_node)
        if not painter.has_keyframe:
            wait_for(painter.keyframe_ready)
        painter.select_brush(0)
        painter.set_tool("path")
        app.processEvents()
        widget = painter.canvas.viewport()
        x, y = painter.canvas.editable_path[-1]  # the path's end point, in keyframe pixels
        origin = painter.canvas.mapFromScene(QPointF(x, y))
        step = QPoint(2, -1)
    else:
        widget = window.inspector.editors["smoothing"].slider
        option = QStyleOptionSlider()
        widget.initStyleOption(option)
        handle = widget.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, widget
        )
        origin = handle.center()
        step = QPoint(max(1, (widget.width() - handle.width()) // (2 * args.moves)), 0)
    moves: list[float] = []  # perf_counter of each mouse move
    shown: list[tuple[float, int]] = []  # (when, serial) of each live frame on screen
    window.draft.live_shown.connect(lambda serial, _p: shown.append((time.perf_counter(), serial)))
    beats: list[tuple[float, float]] = []  # (wall, UI thread CPU) at each heartbeat
    heart = QTimer()
    heart.setInterval(BEAT_MS)
    heart.timeout.connect(lambda: beats.append((time.perf_counter(), time.thread_time())))

    # The same event loop left idle as long as the drag lasts: what the machine's load alone
    # does to a 5 ms heartbeat.
    heart.start()
    idle = QEventLoop()
    QTimer.singleShot(args.moves * args.interval + 500, idle.quit)
    idle.exec()
    heart.stop()
    idle_gaps = [(b[0] - a[0]) * 1000 for a, b in zip(beats, beats[1:], strict=False)]
    beats.clear()
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, origin)
    mover = QTimer()
    mover.setInterval(args.interval)

    def move() -> None:
        if len(moves) == args.moves:
            mover.stop()
            return
        moves.append(time.perf_counter())
        QTest.mouseMove(widget, origin + step * len(moves))

    mover.timeout.connect(move)
    heart.start()
    mover.start()
    done = QEventLoop()

    def check_done() -> None:
        if len(moves) == args.moves and window.draft.live.wait_idle(0):
            done.quit()

    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(check_done)
    poll.start()
    done.exec()
    poll.stop()
    heart.stop()
    QTest.mouseRelease(
        widget,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        origin + step * len(moves),
    )
    app.processEvents()

    requested = window.draft.requested_at
    latencies = []
    for moved in moves:
        # The first frame on screen from a request made at or after this move.
        later = [when for when, serial in shown if requested.get(serial, 0) >= moved]
        if later:
            latencies.append((min(later) - moved) * 1000)
    gaps = [(b[0] - a[0]) * 1000 for a, b in zip(beats, beats[1:], strict=False)]
    work = [(b[1] - a[1]) * 1000 for a, b in zip(beats, beats[1:], strict=False)]
    load1, load5, _ = os.getloadavg()
    what = (
        "the example, dragging the Motion Brush's path end in the painter, Animate viewed"
        if args.brush
        else f"clip {args.frames} frames {width}x{height} (draft: half size, every 2nd frame), "
        "dragging Stabilize's smoothing"
    )
    print(f"{what}; first draft render {first_render:.2f} s")
    print(
        f"{len(moves)} mouse moves every {args.interval} ms, {len(shown)} live frames shown, "
        f"{len(requested)} live requests (the rest coalesced)"
    )
    if latencies:
        print(
            f"move -> updated playhead frame on screen: median {statistics.median(latencies):.0f} "
            f"ms, p90 {statistics.quantiles(latencies, n=10)[-1]:.0f} ms, max "
            f"{max(latencies):.0f} ms (target median <= {LATENCY_TARGET_MS:.0f} ms)"
        )
    else:
        print("no live frame was shown")
    print(
        f"UI heartbeat every {BEAT_MS} ms: longest stall {max(gaps):.1f} ms, p95 "
        f"{statistics.quantiles(gaps, n=20)[-1]:.1f} ms (target <= {STALL_TARGET_MS:.0f} ms); "
        f"the UI thread's own CPU time between two beats at most {max(work):.1f} ms; "
        f"the same loop left idle: longest stall {max(idle_gaps):.1f} ms"
    )
    print(f"load average {load1:.2f} / {load5:.2f} on {os.cpu_count()} cores")
    window.session.set_clean()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
