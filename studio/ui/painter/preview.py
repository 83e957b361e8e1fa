"""Quick preview: a low-resolution cut-and-drag clip of the brushes, rendered off the UI thread.

The motion is built by the MotionBrush node's own ``run`` (so the preview and the render agree on
every rule) and animated by :func:`nodes.animate.cut_and_drag` at about a quarter of the
keyframe's size. A newer request supersedes a running one, which stops at its next frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Motion, Video
from studio.ui.viewer.picture import PictureView

PREVIEW_FRAMES = 25
PREVIEW_FPS = 12.0
PREVIEW_SCALE = 0.25
MIN_PREVIEW_SIDE = 96


class StubContext:
    """A RunContext for running a node's own ``run`` inside the painter: no progress, no cancel."""

    node_id = "preview"
    device = "cpu"
    output_dir = Path(".")
    workflow_json = ""
    cancelled = False
    models = None

    def __init__(self) -> None:
        self.messages: list[str] = []

    def progress(self, step: int, total: int, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass

    def info(self, message: str) -> None:
        self.messages.append(message)


def build_motion(params: Mapping[str, Any], mask: np.ndarray | None) -> Motion:
    """The Motion a MotionBrush node with ``params`` (and mask input ``mask``) outputs."""
    from nodes.motion import run_motion_brush

    return run_motion_brush(StubContext(), {"mask": mask}, params)["motion"]


def preview_size(width: int, height: int) -> tuple[int, int]:
    """About a quarter of the keyframe, even-sized, never below ``MIN_PREVIEW_SIDE``."""
    scale = max(PREVIEW_SCALE, MIN_PREVIEW_SIDE / max(1, min(width, height)))
    scale = min(scale, 1.0)
    return max(16, int(width * scale) // 2 * 2), max(16, int(height * scale) // 2 * 2)


def render_preview(
    image: np.ndarray, motion: Motion, progress: Callable[[int, int], None] | None = None
) -> Video:
    from nodes.animate import cut_and_drag

    width, height = preview_size(image.shape[1], image.shape[0])
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    clip = cut_and_drag(small, motion, frames=PREVIEW_FRAMES, fps=PREVIEW_FPS, progress=progress)
    return clip.video


class _Bridge(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)


class QuickPreview(QWidget):
    """A Preview button, a status line and a small looping player."""

    def __init__(
        self, parent: QWidget | None = None, render: Callable[..., Video] = render_preview
    ) -> None:
        super().__init__(parent)
        self.render = render
        self.request: Callable[[], tuple[np.ndarray, Motion] | str] | None = None
        self.clip: Video | None = None
        self.frame = 0
        self._generation = 0
        self._bridge = _Bridge()
        self._bridge.done.connect(self._done, Qt.ConnectionType.QueuedConnection)
        self._bridge.failed.connect(self._failed, Qt.ConnectionType.QueuedConnection)
        self.button = QPushButton(
            "▶ Quick preview", toolTip="Render a small cut-and-drag clip of the brushes"
        )
        self.button.clicked.connect(self.start)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setProperty("muted", True)
        self.player = PictureView()
        self.player.setMinimumHeight(120)
        self.player.hide()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next_frame)
        top = QHBoxLayout()
        top.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.player, 1)
        self.busy = False

    def start(self) -> None:
        """Render the current brushes on a worker thread; a running render is superseded."""
        if self.request is None:
            return
        job = self.request()
        if isinstance(job, str):
            self.status.setText(job)
            return
        image, motion = job
        self._generation += 1
        generation = self._generation
        self.busy = True
        self.status.setText("Rendering preview…")

        def progress(done: int, total: int) -> None:
            if generation != self._generation:
                raise Cancelled()

        def work() -> None:
            try:
                clip = self.render(image, motion, progress)
            except Cancelled:
                return
            except NodeError as error:
                self._bridge.failed.emit(generation, str(error))
                return
            self._bridge.done.emit(generation, clip)

        threading.Thread(target=work, name="quick-preview", daemon=True).start()

    def _done(self, generation: int, clip: Video) -> None:
        if generation != self._generation:
            return
        self.busy = False
        self.clip, self.frame = clip, 0
        self.status.setText(f"Preview: {len(clip)} frames at {clip.width}×{clip.height}")
        self.player.show()
        self.player.set_frame(clip.frames[0])
        self._timer.start(int(1000 / clip.fps))

    def _failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.busy = False
            self.status.setText(f"Cannot preview: {message}")

    def _next_frame(self) -> None:
        if self.clip is None:
            return
        self.frame = (self.frame + 1) % len(self.clip)
        self.player.set_frame(self.clip.frames[self.frame])

    def stop(self) -> None:
        self._generation += 1
        self._timer.stop()
