"""The painter's running renders, one per kind, and the bar that shows the slow ones.

Kinds: "keyframe" (the picture painted over), "mask" (the node's own mask: GrabCut can take
seconds) and "input" (the mask wired into a Motion Brush). Starting a kind supersedes the one
running; a dropped task is cancelled and whatever it still sends is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from studio.ui.painter.jobs import EngineTask, Snapshot


class BusyBar(QWidget):
    """What the painter is waiting for (the keyframe, GrabCut), its progress and a Cancel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(8)
        self.cancel = QPushButton("Cancel", toolTip="Stop this render (Esc)")
        row.addWidget(self.label)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        self.kind = ""
        self.hide()

    def begin(self, kind: str, text: str) -> None:
        self.kind = kind
        self.label.setText(text)
        self.bar.setValue(0)
        self.show()

    def step(self, fraction: float) -> None:
        self.bar.setValue(round(fraction * 1000))

    def end(self) -> None:
        self.kind = ""
        self.hide()


class Renders(QObject):
    """Starts, supersedes and cancels the painter's :class:`EngineTask` s."""

    failed = Signal(str, str)  # kind, message

    def __init__(
        self,
        engine: Any,
        snapshot: Snapshot,
        bar: BusyBar,
        canvas: QWidget,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine, self.snapshot, self.bar, self.canvas = engine, snapshot, bar, canvas
        self.tasks: dict[str, EngineTask] = {}

    def start(
        self,
        kind: str,
        target: str,
        on_done: Callable[[Any], None],
        then: Callable[[dict[str, Any], Callable[[int, int], None]], Any] | None = None,
    ) -> EngineTask:
        """Run ``target`` of a fresh snapshot (and ``then`` on its outputs, on the worker);
        supersedes the running task of the same kind."""
        self.drop(kind)
        task = EngineTask(self.engine, self.snapshot(), target, then=then, parent=self)
        task.done.connect(lambda out, t=task: self._done(kind, t, out, on_done))
        task.failed.connect(lambda message, t=task: self._failed(kind, t, message))
        task.cancelled.connect(lambda t=task: self._ended(kind, t))
        task.progress.connect(lambda f, _text, t=task: self._progress(kind, t, f))
        self.tasks[kind] = task
        return task.start()

    def busy(self, kind: str, text: str) -> None:
        """Show the running ``kind`` in the bar, with a busy cursor over the canvas."""
        self.bar.begin(kind, text)
        self.canvas.viewport().setCursor(Qt.CursorShape.BusyCursor)

    def drop(self, kind: str) -> None:
        task = self.tasks.pop(kind, None)
        if task is not None:
            task.cancel()
        if self.bar.kind == kind:
            self._idle()

    def stop(self) -> None:
        for kind in list(self.tasks):
            self.drop(kind)

    def _idle(self) -> None:
        self.bar.end()
        self.canvas.viewport().unsetCursor()

    def _current(self, kind: str, task: EngineTask) -> bool:
        return self.tasks.get(kind) is task and not task.token.cancelled

    def _progress(self, kind: str, task: EngineTask, fraction: float) -> None:
        if self._current(kind, task) and self.bar.kind == kind:
            self.bar.step(fraction)

    def _ended(self, kind: str, task: EngineTask) -> bool:
        if not self._current(kind, task):
            return False
        del self.tasks[kind]
        if self.bar.kind == kind:
            self._idle()
        return True

    def _done(
        self, kind: str, task: EngineTask, outputs: Any, on_done: Callable[[Any], None]
    ) -> None:
        if self._ended(kind, task):
            on_done(outputs)

    def _failed(self, kind: str, task: EngineTask, message: str) -> None:
        if self._ended(kind, task):
            self.failed.emit(kind, message)
