"""Re-emits model and engine events as Qt signals, so views never touch threads or listeners.

Graph and session events come from the UI thread and use an automatic connection: delivered at
once when the model changes on the UI thread (so a view is never one event behind its model)
and queued should the model ever change elsewhere. Engine events come from the render worker
thread and are always queued onto the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from studio.graph.graph import Graph, GraphEvent
from studio.session import Session, SessionEvent


class GraphBridge(QObject):
    """Forwards one graph's :class:`GraphEvent` objects as the ``event`` signal."""

    event = Signal(object)

    def __init__(self, graph: Graph, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self._unsubscribe: Callable[[], None] | None = graph.subscribe(self._forward)

    def _forward(self, event: GraphEvent) -> None:
        self.event.emit(event)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class SessionBridge(QObject):
    """Forwards a :class:`Session`'s events as the ``event`` signal (see the module doc)."""

    event = Signal(object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = session.subscribe(self._forward)

    def _forward(self, event: SessionEvent) -> None:
        self.event.emit(event)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class EngineBridge(QObject):
    """Hands engine RunEvents from the worker thread to the UI thread as ``run_event``."""

    run_event = Signal(object)
    _relay = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._relay.connect(self.run_event.emit, Qt.ConnectionType.QueuedConnection)

    def on_event(self, event: Any) -> None:
        """Called by the engine, on any thread."""
        self._relay.emit(event)
