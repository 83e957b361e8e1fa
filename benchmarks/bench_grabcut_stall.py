"""How long the painter's event loop stalls while GrabCut ("box → subject") runs.

    .venv/bin/python -m benchmarks.bench_grabcut_stall [--size 1920x1080] [--rounds 3]

Opens the painter on a Region Mask fed by a Load Image of a real photograph (scikit-image's
astronaut, scaled to ``--size``), waits for the keyframe, then drags a box around the subject
with real mouse events. A QTimer beats every 5 ms on the UI thread until the GrabCut mask is
shown; the longest gap between beats is the stall the artist feels (target: <= 50 ms). For
comparison it times the same Region Mask run on the calling thread, as the painter did before
(the whole GrabCut was then one UI freeze), and the longest gap of the same event loop left
idle for 3 s: on a busy shared machine that noise floor is part of every figure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_MS = 50.0
BEAT_MS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    scratch = Path(tempfile.mkdtemp(prefix="studio-bench-grabcut-"))
    os.environ["STUDIO_CACHE_DIR"] = str(scratch / "cache")
    os.environ["STUDIO_CONFIG_DIR"] = str(scratch / "config")

    import cv2
    import numpy as np
    from PySide6.QtCore import QEventLoop, QPointF, Qt, QTimer
    from PySide6.QtTest import QTest
    from skimage import data

    from nodes.masks import run_region_mask
    from studio.engine.cache import Cache
    from studio.engine.scheduler import Engine
    from studio.engine.testing import FakeRunContext
    from studio.session.catalog import default_registry
    from studio.session.session import Session
    from studio.ui.app import application
    from studio.ui.painter.window import PainterWindow

    app = application()
    photo = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    path = scratch / "keyframe.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    registry = default_registry()
    engine = Engine(registry, Cache(disk=False), device="cpu")
    session = Session(registry)
    graph = session.graph
    image = graph.add("LoadImage", params={"path": str(path)})
    mask = graph.add("RegionMask")
    graph.connect(image.id, "image", mask.id, "image")

    window = PainterWindow(session, mask.id, engine)
    window.resize(1200, 760)
    window.show()
    loop = QEventLoop()
    window.keyframe_ready.connect(loop.quit)
    if not window.has_keyframe:
        loop.exec()
    window.canvas.fit()
    app.processEvents()
    window.set_tool("subject")
    # The astronaut's head and shoulders, as an artist would box them.
    box = [(0.25 * width, 0.05 * height), (0.75 * width, 0.95 * height)]

    def at(x: float, y: float):
        return window.canvas.mapFromScene(QPointF(x, y))

    def heartbeat(seconds: float) -> float:
        """The longest gap between beats of an idle event loop: this machine's own noise."""
        beats: list[float] = [time.perf_counter()]
        timer = QTimer()
        timer.setInterval(BEAT_MS)
        timer.timeout.connect(lambda: beats.append(time.perf_counter()))
        idle = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), idle.quit)
        timer.start()
        idle.exec()
        timer.stop()
        return max((b - a) * 1000 for a, b in zip(beats, beats[1:], strict=False))

    baseline = heartbeat(3.0)
    stalls, waits, work = [], [], []
    for round_ in range(args.rounds):
        graph.node(mask.id).set_param("shapes", [])
        graph.node(mask.id).set_param("subject", False)
        graph.node(mask.id).set_param("grabcut_iterations", 5 + round_)  # never cached
        app.processEvents()
        beats: list[float] = []
        cpu: list[float] = []  # the UI thread's own CPU time at each beat

        def beat(beats=beats, cpu=cpu) -> None:
            beats.append(time.perf_counter())
            cpu.append(time.thread_time())

        timer = QTimer()
        timer.setInterval(BEAT_MS)
        timer.timeout.connect(beat)
        done = QEventLoop()
        window.overlay_ready.connect(done.quit)
        timer.start()
        start = time.perf_counter()
        beat()
        viewport = window.canvas.viewport()
        QTest.mousePress(
            viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*box[0])
        )
        QTest.mouseMove(viewport, at(*box[1]))
        QTest.mouseRelease(
            viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*box[1])
        )
        done.exec()
        beat()
        timer.stop()
        window.overlay_ready.disconnect(done.quit)
        gaps = [(b - a) * 1000 for a, b in zip(beats, beats[1:], strict=False)]
        stalls.append(max(gaps))
        work.append(max((b - a) * 1000 for a, b in zip(cpu, cpu[1:], strict=False)))
        waits.append(beats[-1] - start)

    params = dict(graph.node(mask.id).params)
    ctx = FakeRunContext()
    start = time.perf_counter()
    run_region_mask(ctx, {"image": window.keyframe}, params)
    inline = time.perf_counter() - start
    covered = float(np.mean(run_region_mask(ctx, {"image": window.keyframe}, params)["mask"]))

    print(f"GrabCut box → subject on a {width}x{height} keyframe, {args.rounds} rounds")
    print(
        f"  mask shown after {min(waits):.2f}-{max(waits):.2f} s (subject: {covered:.0%} of frame)"
    )
    print(
        f"  longest UI stall while it ran: {max(stalls):.1f} ms "
        f"(rounds: {', '.join(f'{s:.1f}' for s in stalls)}; "
        f"{'ok' if max(stalls) <= TARGET_MS else 'over'} the {TARGET_MS:.0f} ms target)"
    )
    print(
        f"  most UI-thread CPU time between two beats: {max(work):.1f} ms (the editor's own "
        "work; the rest of a stall is waiting for a core on a loaded machine)"
    )
    print(f"  load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  longest gap of the idle event loop over 3 s (machine noise): {baseline:.1f} ms")
    print(
        f"  the same Region Mask run on the UI thread (as before): {inline * 1000:.0f} ms "
        f"frozen, {inline * 1000 / max(stalls):.0f}x the stall now"
    )
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
