"""Retake docs/screenshots/painter.png: the painter opened before any render.

    .venv/bin/python docs/screenshots/painter_shot.py [OUT.png]

A Load Image of scikit-image's coffee photo feeds an Image to Video; a Motion Brush with three
brushes (the cup along a path, the spoon, the table pinned) and a camera push-in steers it.
Nothing has been rendered: the painter fetches the keyframe through the engine itself, then
the quick preview plays below the canvas.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots/painter.png")
    scratch = Path(tempfile.mkdtemp(prefix="studio-shot-"))
    os.environ["STUDIO_CACHE_DIR"] = str(scratch / "cache")
    os.environ["STUDIO_CONFIG_DIR"] = str(scratch / "config")

    import cv2
    from PySide6.QtCore import QEventLoop, QTimer
    from skimage import data

    from studio.engine.cache import Cache
    from studio.engine.scheduler import Engine
    from studio.session.catalog import default_registry
    from studio.session.session import Session
    from studio.ui.app import application
    from studio.ui.painter.window import PainterWindow

    app = application()
    photo = scratch / "coffee.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    registry = default_registry()
    session = Session(registry)
    graph = session.graph
    image = graph.add("LoadImage", params={"path": str(photo)})
    cup = [{"kind": "ellipse", "points": [[0.28, 0.12], [0.68, 0.72]]}]
    spoon = [{"kind": "polygon", "points": [[0.55, 0.55], [0.68, 0.52], [0.7, 0.72], [0.58, 0.75]]}]
    table = [{"kind": "rect", "points": [[0.0, 0.8], [0.25, 1.0]]}]
    brush = graph.add(
        "MotionBrush",
        params={
            "brushes": [
                {
                    "name": "cup",
                    "region": cup,
                    "trajectory": [[0.48, 0.42], [0.58, 0.36], [0.7, 0.34], [0.78, 0.38]],
                    "ease": "ease-in-out",
                },
                {
                    "name": "spoon",
                    "region": spoon,
                    "trajectory": [[0.62, 0.64], [0.75, 0.85]],
                    "rotation": 20.0,
                },
                {"name": "table", "region": table, "static": True},
            ],
            "pan": 0.03,
            "zoom": 1.12,
            "roll": 2.0,
        },
    )
    video = graph.add("ImageToVideo")
    graph.connect(image.id, "image", video.id, "image")
    graph.connect(brush.id, "motion", video.id, "motion")

    engine = Engine(registry, Cache(disk=False), device="cpu")
    window = PainterWindow(session, brush.id, engine)
    window.resize(1280, 900)
    window.show()
    loop = QEventLoop()
    window.keyframe_ready.connect(loop.quit)
    if not window.has_keyframe:
        loop.exec()
    window.select_brush(0)
    window.set_tool("path")
    window.preview.clip_ready.connect(loop.quit)
    window.preview.start()
    loop.exec()
    # A few frames in, so the clip shows the cup on its way.
    QTimer.singleShot(900, loop.quit)
    loop.exec()
    window.canvas.fit()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"wrote {out}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
