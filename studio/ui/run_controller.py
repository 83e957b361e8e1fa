"""Starts and cancels renders of the session's graph on a worker thread; the session takes in
every run event on the UI thread (statuses, progress), and views observe the session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.engine.events import RunEvent, RunEventKind, RunStatus
from studio.engine.scheduler import Engine, default_engine
from studio.engine.worker import RenderJob
from studio.session import Session
from studio.ui.bridge import EngineBridge


class RunController(QObject):
    """One render at a time from the editor. ``event`` repeats each RunEvent on the UI thread
    after the session has taken it in."""

    event = Signal(object)
    running_changed = Signal(bool)

    def __init__(
        self, session: Session, engine: Engine | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._engine = engine
        self.job: RenderJob | None = None
        self.job_id: str | None = None
        self.last_status: RunStatus | None = None
        self._active = False
        self._bridge = EngineBridge(self)
        self._bridge.run_event.connect(self._on_event)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = default_engine(self.session.registry)
        return self._engine

    @property
    def running(self) -> bool:
        # Ours, not the thread's: it turns False with run_finished on the UI thread, so a
        # new render may start the moment the artist is told this one ended.
        return self._active

    def start(self, targets: Sequence[str] | None = None) -> str | None:
        """Render a snapshot of the session's graph; returns why not, or None."""
        if self.running:
            return "a render is already running"
        self.last_status = None
        job, snapshot = self.session.start_job(targets)
        self.job_id = job.id
        relay = self._bridge.on_event
        self.job = RenderJob(
            self.engine,
            snapshot,
            targets,
            output_dir=self.session.output_dir,
            on_event=lambda event, job_id=job.id: relay((job_id, event)),
        )
        self.job.start()
        self._active = True
        self.running_changed.emit(True)
        return None

    def cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()

    def _on_event(self, item: Any) -> None:
        job_id, event = item
        assert isinstance(event, RunEvent)
        self.session.feed(job_id, event)
        finished = event.kind is RunEventKind.RUN_FINISHED and job_id == self.job_id
        if finished:
            self.last_status = event.status
            self._active = False
        self.event.emit(event)
        if finished:
            self.running_changed.emit(False)
