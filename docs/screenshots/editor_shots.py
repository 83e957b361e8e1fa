"""Retake docs/screenshots/editor.png and viewer.png: the editor at 1600×960 on the example shot.

    .venv/bin/python docs/screenshots/editor_shots.py [OUT_DIR]

Renders resources/workflows/example.json (a copy in a scratch folder, so its renders land
there; set STUDIO_CACHE_DIR to reuse a cache between takes), then grabs the window twice:
editor.png in the Compose workspace with the animated clip selected, and viewer.png in the
Review workspace comparing the animation (A) with its stabilized version (B), with the
camera-path plot beside the picture.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]


def settle(app, window, rounds: int = 3) -> None:  # noqa: ANN001
    from PySide6.QtCore import QEventLoop

    for _ in range(rounds):  # states, then the thumbnails they ask for, then the viewer
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 200)
        window.queries.wait_idle()
    panel = window.viewer.panel
    while panel.loading:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    app.processEvents()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
    # STUDIO_SHOT_SCRATCH: a folder kept between takes (its renders and takes are reused).
    scratch = Path(os.environ.get("STUDIO_SHOT_SCRATCH") or tempfile.mkdtemp(prefix="studio-"))
    os.environ.setdefault("STUDIO_CACHE_DIR", str(scratch / "cache"))
    os.environ["STUDIO_CONFIG_DIR"] = str(scratch / "config")
    workflow = scratch / "example.json"
    if not workflow.exists():
        shutil.copy(ROOT / "resources" / "workflows" / "example.json", workflow)

    from studio.ui.app import application, wait_for_run
    from studio.ui.main_window import MainWindow
    from studio.ui.workspace import Preset

    app = application()
    window = MainWindow()
    window.resize(1600, 960)
    window.show()
    if not window.files.open_path(workflow) or not window.run_all():
        return 1
    if wait_for_run(window) != "ok":
        return 1
    by_type = {n.type_id: n.id for n in window.graph.nodes}
    window.scene.select([by_type["ImageToVideo"]])
    settle(app, window)
    window.view.frame_all()
    window.viewer.panel.timeline.seek(22)  # the rocket on its way up
    settle(app, window)
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "editor.png"))

    window.workspace.apply(Preset.REVIEW)
    window.viewer.compare(by_type["ImageToVideo"], by_type["Stabilize"])
    settle(app, window)
    window.viewer.panel.timeline.seek(22)
    settle(app, window)
    window.grab().save(str(out / "viewer.png"))
    print(f"wrote {out / 'editor.png'} and {out / 'viewer.png'}")
    window.session.set_clean()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
