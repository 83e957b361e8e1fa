"""The node canvas with 500 nodes (100 shots of keyframe -> mask -> motion -> video -> upscale).

    .venv/bin/python -m benchmarks.bench_canvas [--nodes 500]

Prints: the time to build the scene from the graph; the frame time (median and worst) of
repainting the canvas when everything is in view (frame all) and at 100 % zoom; of panning at
both zooms; of zooming in steps (each re-renders every node's cache), also with a thumbnail on
every node; and of dragging 20 selected nodes. Target: every median under 16 ms (60 fps) on
this machine, and no zoom step over it. Frames are painted offscreen by Qt's raster engine,
the same code path a desktop uses minus the final blit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtGui import QColor, QFontInfo, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.graph.graph import Graph  # noqa: E402
from studio.session import Session, default_registry  # noqa: E402
from studio.ui.canvas.node_item import TITLE_FONT  # noqa: E402
from studio.ui.canvas.scene import NodeScene  # noqa: E402
from studio.ui.canvas.view import NodeView  # noqa: E402

TARGET_MS = 16.0


def build_graph(count: int) -> Graph:
    graph = Graph(default_registry())
    for shot in range(count // 5):
        x, y = (shot % 4) * 1600.0, (shot // 4) * 420.0
        image = graph.add("SampleImage", position=(x, y))
        mask = graph.add("RegionMask", position=(x + 280, y + 180))
        motion = graph.add("MotionBrush", position=(x + 560, y + 180))
        video = graph.add("ImageToVideo", position=(x + 840, y))
        upscale = graph.add("Upscale", position=(x + 1120, y))
        graph.connect(image.id, "image", mask.id, "image")
        graph.connect(mask.id, "mask", motion.id, "mask")
        graph.connect(image.id, "image", video.id, "image")
        graph.connect(motion.id, "motion", video.id, "motion")
        graph.connect(video.id, "video", upscale.id, "video")
    return graph


def frame_ms(app: QApplication, view: NodeView, action, frames: int = 30) -> list[float]:
    """Time ``action`` plus a synchronous repaint of the viewport, per frame."""
    times = []
    for i in range(frames):
        start = time.perf_counter()
        action(i)
        view.viewport().repaint()
        times.append((time.perf_counter() - start) * 1000)
    app.processEvents()
    return times


def report(name: str, times: list[float]) -> bool:
    median, worst = statistics.median(times), max(times)
    ok = median < TARGET_MS
    verdict = "ok" if ok else "SLOW"
    if ok and worst >= TARGET_MS:
        verdict = "ok (worst frame over 16 ms)"
    print(f"{name:<40} median {median:6.2f} ms   worst {worst:6.2f} ms   {verdict}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    graph = build_graph(args.nodes)
    session = Session(graph.registry)
    start = time.perf_counter()
    scene = NodeScene(session)
    session.set_graph(graph)
    build = (time.perf_counter() - start) * 1000
    view = NodeView(scene)
    view.resize(1600, 900)
    view.show()
    app.processEvents()
    print(f"{len(graph.nodes)} nodes, {len(graph.edges)} edges; scene built in {build:.0f} ms")

    ok = True
    view.frame_all()  # stops at a zoom where titles are readable
    title_px = QFontInfo(TITLE_FONT).pixelSize() * view.zoom()
    print(f"Frame All: zoom {view.zoom():.2f}, node titles {title_px:.1f} px on screen")
    ok &= report("repaint after Frame All", frame_ms(app, view, lambda i: None))
    view.frame(scene.items_bounds())  # everything in view (Home pressed twice)
    view.viewport().repaint()  # first paint fills the item caches
    print(f"everything in view: zoom {view.zoom():.2f}")
    ok &= report("repaint, everything in view", frame_ms(app, view, lambda i: None))
    ok &= report(
        "pan, everything in view", frame_ms(app, view, lambda i: view.pan_by_scene(QPointF(40, 25)))
    )
    view.zoom_by(0.45 / view.zoom())
    view.centerOn(QPointF(3000, 2000))
    view.viewport().repaint()
    ok &= report("repaint, 45 % zoom (~120 nodes)", frame_ms(app, view, lambda i: None))
    ok &= report(
        "pan, 45 % zoom", frame_ms(app, view, lambda i: view.pan_by_scene(QPointF(30, 18)))
    )
    view.zoom_by(1.0 / view.zoom())
    view.centerOn(QPointF(1600, 1200))
    view.viewport().repaint()
    ok &= report("repaint, 100 % zoom", frame_ms(app, view, lambda i: None))
    ok &= report(
        "pan, 100 % zoom", frame_ms(app, view, lambda i: view.pan_by_scene(QPointF(12, 7)))
    )
    ok &= report(
        "zoom steps (wheel)",
        frame_ms(app, view, lambda i: view.zoom_by(0.9 if i < 15 else 1 / 0.9)),
    )
    # After a run every node shows a picture (216 px wide RGB888, as the engine sends them).
    thumbnail = QImage(216, 122, QImage.Format.Format_RGB888)
    thumbnail.fill(QColor("#446688"))
    for item in scene.node_items().values():
        item.set_thumbnail(thumbnail)
    view.zoom_by(1.0 / view.zoom())
    view.centerOn(QPointF(1600, 1200))
    view.viewport().repaint()
    ok &= report(
        "zoom steps, every node with a thumbnail",
        frame_ms(app, view, lambda i: view.zoom_by(0.9 if i < 15 else 1 / 0.9)),
    )
    view.zoom_by(1.0 / view.zoom())
    view.centerOn(QPointF(1600, 1200))
    items = list(scene.node_items().values())[100:120]
    for item in items:
        item.setSelected(True)

    def move(i: int) -> None:
        for item in items:
            item.setPos(item.pos() + QPointF(3, 2))

    ok &= report("drag 20 nodes (with their wires)", frame_ms(app, view, move))
    print("all medians under 16 ms" if ok else "some frames are slower than 16 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
