"""Quick preview: a cut-and-drag clip of the brushes at half the keyframe's size, off the UI thread.

The motion is the Motion Brush node's own output, run by the engine on a snapshot of the graph
(so the preview and the render agree on every rule, and an unchanged node comes from the
cache); :func:`nodes.animate.cut_and_drag` then animates it on the same worker thread. A newer
request supersedes a running one, which stops at its next step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from studio.graph.graph import Graph
from studio.graph.spec import NodeError
from studio.graph.types import Motion, Video
from studio.ui.painter.jobs import EngineTask
from studio.ui.viewer.picture import PictureView

PREVIEW_FRAMES = 25
PREVIEW_FPS = 12.0
PREVIEW_SCALE = 0.5  # large enough to judge motion; the render is the full-size check
MAX_PREVIEW_SIDE = 640  # a 4K keyframe still previews in seconds
MIN_PREVIEW_SIDE = 96

# What the window hands over: the keyframe, a graph snapshot and the Motion Brush's id.
PreviewJob = tuple[np.ndarray, Graph, str]


def preview_size(width: int, height: int) -> tuple[int, int]:
    """Half the keyframe, even-sized, at most ``MAX_PREVIEW_SIDE`` and at least
    ``MIN_PREVIEW_SIDE`` on its shorter side (never above the keyframe itself)."""
    scale = max(PREVIEW_SCALE, MIN_PREVIEW_SIDE / max(1, min(width, height)))
    scale = min(scale, MAX_PREVIEW_SIDE / max(1, width, height), 1.0)
    return max(16, int(width * scale) // 2 * 2), max(16, int(height * scale) // 2 * 2)


def render_preview(
    image: np.ndarray, motion: Motion, progress: Callable[[int, int], None] | None = None
) -> Video:
    from nodes.animate import cut_and_drag

    width, height = preview_size(image.shape[1], image.shape[0])
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    clip = cut_and_drag(small, motion, frames=PREVIEW_FRAMES, fps=PREVIEW_FPS, progress=progress)
    return clip.video


class QuickPreview(QWidget):
    """A Preview button, progress and a status line; ``player`` (placed by the window, beside
    the canvas and as large) loops the clip."""

    clip_ready = Signal()

    def __init__(
        self,
        engine: Any,
        parent: QWidget | None = None,
        render: Callable[..., Video] = render_preview,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.render = render
        self.request: Callable[[], PreviewJob | str] | None = None
        self.clip: Video | None = None
        self.frame = 0
        self.task: EngineTask | None = None
        self.button = QPushButton(
            "▶ Quick preview", toolTip="Render a half-size cut-and-drag clip of the brushes"
        )
        self.button.clicked.connect(self.start)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(6)
        self.bar.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setProperty("muted", True)
        self.player = PictureView()
        self.player.setMinimumHeight(160)
        self.player.hide()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._next_frame)
        top = QHBoxLayout()
        top.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addStretch(1)

    @property
    def busy(self) -> bool:
        return self.task is not None

    def start(self) -> None:
        """Render the current brushes on a worker thread; a running render is superseded."""
        if self.request is None:
            return
        job = self.request()
        if isinstance(job, str):
            self.status.setText(job)
            return
        image, snapshot, node_id = job
        self.stop_render()

        def animate(outputs: dict[str, Any], report: Callable[[int, int], None]) -> Video:
            motion = outputs.get("motion")
            if not isinstance(motion, Motion):
                raise NodeError("the Motion Brush gave no motion")
            return self.render(image, motion, report)

        task = EngineTask(self.engine, snapshot, node_id, then=animate, parent=self)
        task.progress.connect(lambda f, _m, t=task: self._progress(t, f))
        task.done.connect(lambda clip, t=task: self._done(t, clip))
        task.failed.connect(lambda message, t=task: self._failed(t, message))
        task.cancelled.connect(lambda t=task: self._finished(t))
        self.task = task
        self.status.setText("Rendering preview…")
        self.bar.setValue(0)
        self.bar.show()
        task.start()

    def _progress(self, task: EngineTask, fraction: float) -> None:
        if task is self.task:
            self.bar.setValue(round(fraction * 1000))

    def _finished(self, task: EngineTask) -> bool:
        if task is not self.task:
            return False
        self.task = None
        self.bar.hide()
        return True

    def _done(self, task: EngineTask, clip: Video) -> None:
        if not self._finished(task):
            return
        self.clip, self.frame = clip, 0
        self.status.setText(f"Preview: {len(clip)} frames at {clip.width}×{clip.height}")
        self.player.show()
        self.player.set_frame(clip.frames[0])
        self.player.fit()
        self._timer.start(int(1000 / clip.fps))
        self.clip_ready.emit()

    def _failed(self, task: EngineTask, message: str) -> None:
        if self._finished(task):
            self.status.setText(f"Cannot preview: {message}")

    def _next_frame(self) -> None:
        if self.clip is None:
            return
        self.frame = (self.frame + 1) % len(self.clip)
        self.player.set_frame(self.clip.frames[self.frame])

    def stop_render(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self._finished(self.task)

    def stop(self) -> None:
        self.stop_render()
        self._timer.stop()
