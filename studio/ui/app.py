"""Starting the editor: ``studio open WORKFLOW [--run] [--screenshot PNG]`` calls
:func:`open_editor`."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.session.files import discard_recovery, pending_recovery

HERE = Path(__file__).resolve().parent
# Heavy libraries that nodes import lazily. A C extension's first import holds Python's GIL
# for 100-200 ms, which would freeze the editor mid-render if it happened on the render
# thread; importing them once the window is up moves that cost to an idle moment.
WARM_IMPORTS = (
    "numpy",
    "cv2",
    "PIL.Image",
    "imageio.v3",
    "skimage.data",
    "skimage.io",
    "pooch",
    "scipy.ndimage",
    "av",
    "torch",
    "torch.nn.functional",
)


def warm_up_imports(modules: tuple[str, ...] = WARM_IMPORTS) -> threading.Thread:
    """Import ``modules`` on a background thread; returns the (started) thread."""

    def work() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # a missing optional library only means no warm-up for it
                continue
        if modules is WARM_IMPORTS:  # the local models too: the node search lists their names
            from studio.ui.inspector.widgets import discover_models

            for kind in ("image-to-video", "text-to-image", "upscale-model"):
                discover_models(kind)

    thread = threading.Thread(target=work, name="studio-warm-imports", daemon=True)
    thread.start()
    return thread


def application() -> QApplication:
    """The QApplication, created once, with Studio's style and icon."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Studio")
        app.setOrganizationName("studio")
    app.setStyle("Fusion")
    app.setStyleSheet((HERE / "styles" / "dark.qss").read_text(encoding="utf-8"))
    app.setWindowIcon(QIcon(str(HERE / "icons" / "studio.svg")))
    return app  # type: ignore[return-value]


def offer_recovery(window) -> bool:  # noqa: ANN001 (MainWindow, imported lazily)
    """If the last session ended with unsaved work, offer to restore it."""
    record = pending_recovery()
    if record is None:
        return False
    where = record.get("path") or "an untitled workflow"
    answer = QMessageBox.question(
        window,
        "Restore unsaved work?",
        f"Studio closed without saving changes to {where}.\nRestore them?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    if answer != QMessageBox.StandardButton.Yes:
        discard_recovery()
        return False
    path = Path(record["path"]) if record.get("path") else None
    if window.files.open_text(record["workflow"], "recovered workflow", path):
        window.session.set_unsaved()  # restored work is unsaved work
        return True
    return False


def wait_for_run(window, timeout_ms: int = 3_600_000) -> str | None:  # noqa: ANN001
    """Spin the event loop until the window's render finishes; returns its status."""
    if not window.controller.running:
        return window.controller.last_status
    loop = QEventLoop()
    window.controller.running_changed.connect(lambda running: None if running else loop.quit())
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return window.controller.last_status


def _show_something(window) -> None:  # noqa: ANN001
    """For a screenshot: select the last node before the outputs, so the inspector and the
    viewer have something to show."""
    graph = window.graph
    candidates = [
        n
        for n in graph.topological_order()
        if graph.node(n).spec is not None and not graph.node(n).spec.output_node
    ]
    if candidates and not window.scene.selected_node_ids():
        window.scene.select([candidates[-1]])
        window.view.frame_all()


def has_no_screen() -> bool:
    """True on Linux with no X11 or Wayland display and no Qt platform chosen."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )


def open_editor(path: str | None, run: bool = False, screenshot: str | None = None) -> int:
    """Open the editor on ``path``; optionally render it, save a screenshot of the window and
    exit (used for docs and smoke tests). Returns the process exit code."""
    if has_no_screen():
        if screenshot is None:
            print(
                "studio: no display found, so the editor cannot open a window. Render "
                "headless with `studio render WORKFLOW`, or take a screenshot with "
                "`studio open WORKFLOW --screenshot out.png`.",
                file=sys.stderr,
            )
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    app = application()
    from studio.ui.main_window import MainWindow

    window = MainWindow()
    unattended = screenshot is not None
    if unattended:
        window.resize(1720, 1020)
    window.show()
    if path is not None and not window.files.open_path(path) and unattended:
        return 1
    if not unattended:
        offer_recovery(window)  # after a crash, the unsaved work wins over the file
        window.queue.window_shown()  # and offers to resume a queue it left half rendered
    app.processEvents()
    window.view.frame_all()
    if not unattended:
        QTimer.singleShot(800, warm_up_imports)
    status = None
    if run:
        if not window.run_all():
            return 1 if unattended else app.exec()
        status = wait_for_run(window)
    if screenshot is not None:
        _show_something(window)
        # Let queued events (thumbnails, states) land before grabbing the pixels.
        for _ in range(3):  # states, then the thumbnails they ask for
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 200)
            window.queries.wait_idle()
        app.processEvents()
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(screenshot)
        window.session.set_clean()  # an unattended run leaves nothing to ask about
        window.close()
        return 0 if status in (None, "ok") else 1
    return app.exec()
