"""The Queue panel: the render queue in the editor — jobs with progress and ETA, reorder, pause,
cancel one or all, and the contact sheet of a variation batch.

The jobs live in the per-user :class:`~studio.queue.JobStore` (shared with ``studio queue``);
an in-process :class:`~studio.queue.QueueWorker` renders them on its own thread while the artist
goes on editing. The worker's events reach this panel as queued signals; the panel also re-reads
the store every few seconds, so jobs added or cancelled from a terminal show up too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.farm.worker import FarmWorker
from studio.queue import Job, JobState, JobStore, QueueError, QueueEventKind, QueueWorker
from studio.queue.contact_sheet import batch_entries
from studio.queue.store import JobNotFound
from studio.ui import theme
from studio.ui.queue_target import QueueTarget

POLL_MS = 3000  # re-read the store for changes made by other processes
STATE_COLORS = {
    JobState.QUEUED: theme.STATUS_COLORS["queued"],
    JobState.RUNNING: theme.STATUS_COLORS["running"],
    JobState.PAUSED: theme.STATUS_COLORS["stale"],
    JobState.DONE: theme.STATUS_COLORS["cached"],
    JobState.FAILED: theme.STATUS_COLORS["failed"],
    JobState.CANCELLED: theme.STATUS_COLORS["cancelled"],
}


class _Bridge(QObject):
    """Carries the worker thread's events to the UI thread (queued connection)."""

    event = Signal(object)
    farm = Signal(str)  # what the Ray cluster offers, or why it could not be used


def describe(job: Job) -> str:
    """The Progress column: what a job is doing or what it made."""
    if job.state is JobState.RUNNING:
        eta = f" · {job.eta:.0f} s left" if job.eta is not None else ""
        return f"{job.progress:.0%}{eta}"
    if job.state is JobState.DONE:
        takes = job.result.get("takes") or []
        if takes:
            return ", ".join(takes)
        files = job.result.get("files") or []
        return files[0] if files else "done"
    return job.message


class QueuePanel(QWidget):
    """Jobs in queue order. ``engine_factory`` makes the engine the worker renders with (once,
    when the worker starts)."""

    job_event = Signal(object)  # every JobEvent, on the UI thread
    sheet_requested = Signal(list)  # [(label, path)] of a batch's finished variants

    def __init__(
        self,
        store: JobStore,
        engine_factory: Callable[[], Any],
        parent: QWidget | None = None,
        farm_factory: Callable[[str | None], Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.engine_factory = engine_factory
        self.worker: QueueWorker | FarmWorker | None = None
        self._states: dict[str, JobState] = {}
        self._bridge = _Bridge(self)
        self._bridge.event.connect(self._on_event)
        self._bridge.farm.connect(self._on_farm)
        self.target = QueueTarget(self, farm_factory)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Job", "State", "Progress / result"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.tree.itemSelectionChanged.connect(self._update_buttons)

        self.run_button = QPushButton("Start")
        self.run_button.setToolTip("Render the waiting jobs one after another, in the background")
        self.run_button.clicked.connect(self.start)
        self.buttons: dict[str, QPushButton] = {}
        # Two short rows: the panel shares a narrow dock with the inspector.
        first, second = QHBoxLayout(), QHBoxLayout()
        first.addWidget(self.run_button)
        for name, text, tip in (
            ("up", "▲", "Move the selected waiting jobs earlier"),
            ("down", "▼", "Move the selected waiting jobs later"),
            (
                "pause",
                "Pause",
                "Hold the selected jobs back (a running one stops at its next step)",
            ),
            ("resume", "Resume", "Queue the selected paused jobs again"),
            ("cancel", "Cancel", "Cancel the selected jobs"),
            ("cancel_all", "Cancel all", "Cancel every job not finished yet"),
            ("sheet", "Sheet", "The contact sheet: the selected job's batch side by side"),
            ("clear", "Clear", "Forget finished jobs (their files stay)"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(getattr(self, name))
            (first if name in ("up", "down", "pause", "resume") else second).addWidget(button)
            self.buttons[name] = button
        first.addStretch(1)
        second.addStretch(1)
        self.status = QLabel("")
        self.status.setObjectName("Dim")
        layout = QVBoxLayout(self)
        where = QHBoxLayout()
        where.addWidget(QLabel("Render on"))
        where.addWidget(self.target, 1)
        layout.addLayout(where)
        layout.addLayout(first)
        layout.addLayout(second)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self.refresh)
        self.poll.start()
        self.refresh()

    # -- the worker ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start rendering waiting jobs (jobs a dead worker left running restart first)."""
        if self.worker is None:
            if self.target.on_farm:
                self.status.setText(f"Joining the {self.target.currentText()}…")
            self.worker = self.target.make_worker(
                self.store,
                self.engine_factory,
                self._bridge.event.emit,
                lambda info: self._bridge.farm.emit(info.describe()),
                lambda problem: self._bridge.farm.emit(f"! {problem}"),
            )
            self.worker.start()
        else:
            self.worker.notify()
        self.target.setEnabled(False)  # one target at a time: stop the queue to switch
        self.run_button.setEnabled(False)
        self.run_button.setText("Running")

    def _on_farm(self, text: str) -> None:
        if text.startswith("! "):  # could not join, or lost: its jobs are queued again
            self.status.setText(text[2:])
            self.worker = None
            self.target.setEnabled(True)
            self.run_button.setEnabled(True)
            self.run_button.setText("Start")
            self.refresh()
        else:  # what the cluster offers stays in the target's name
            self.status.setText(text)
            self.target.setItemText(1, text)

    def shutdown(self) -> None:
        """Stop the worker (the job it renders goes back to the queue) and wait for it."""
        self.poll.stop()
        if self.worker is not None:
            self.worker.stop(interrupt=True)
            self.worker.join(30)
            self.worker = None
            self.target.setEnabled(True)

    def add_jobs(self, jobs: Sequence[Job]) -> None:
        """Queue jobs (snapshots already taken) and make sure the worker renders them."""
        self.store.add(jobs)
        self.refresh()
        self.start()

    def offer_resume(self) -> bool:
        """If a killed Studio left jobs half rendered, ask whether to resume them now;
        otherwise they are paused (nothing is lost either way). True if resumed."""
        interrupted = self.store.interrupted()
        if not interrupted:
            return False
        names = "\n".join(f"• {job.name}" for job in interrupted[:8])
        answer = QMessageBox.question(
            self,
            "Resume the render queue?",
            f"Studio stopped while rendering:\n{names}\n\nResume the queue now? Finished "
            "nodes come from the cache; finished jobs are not rendered again.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.start()
            return True
        self.store.requeue_orphans()
        for job in interrupted:
            self.store.pause(job.id)
        self.refresh()
        return False

    def _on_event(self, event: Any) -> None:
        self.job_event.emit(event)
        if event.kind is not QueueEventKind.RUN:
            self.refresh()

    # -- the user's controls ------------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in self.tree.selectedItems()]

    def select(self, job_ids: Sequence[str]) -> None:
        wanted = set(job_ids)
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) in wanted)

    def _each(self, action: Callable[[str], Any]) -> None:
        for job_id in self.selected_ids():
            try:
                action(job_id)
            except (QueueError, JobNotFound) as exc:
                self.status.setText(str(exc))
        self.refresh()

    def pause(self) -> None:
        self._each(self.store.pause)

    def resume(self) -> None:
        self._each(self.store.resume)
        if self.worker is not None:
            self.worker.notify()

    def cancel(self) -> None:
        self._each(self.store.cancel)

    def cancel_all(self) -> None:
        count = self.store.cancel_all()
        self.status.setText(f"Cancelled {count} job(s)")
        self.refresh()

    def clear(self) -> None:
        self.store.remove_finished()
        self.refresh()

    def up(self) -> None:
        self._move(-1)

    def down(self) -> None:
        self._move(+1)

    def _move(self, delta: int) -> None:
        waiting = [j.id for j in self.store.jobs([JobState.QUEUED, JobState.PAUSED])]
        chosen = [i for i in self.selected_ids() if i in waiting]
        for job_id in chosen if delta < 0 else reversed(chosen):
            index = waiting.index(job_id)
            target = max(0, min(len(waiting) - 1, index + delta))
            self.store.move(job_id, target)
            waiting.insert(target, waiting.pop(index))
        self.refresh()
        self.select(chosen)

    def sheet(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        try:
            jobs = self.store.batch(ids[0])
        except JobNotFound:
            jobs = [self.store.get(ids[0])]
        entries = batch_entries(jobs)
        if not entries:
            self.status.setText("No variant of this batch has finished with a video or image yet")
            return
        self.sheet_requested.emit(entries)

    # -- view ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the store's jobs: rows update in place while the order holds (the scroll
        position and selection stay put), and are rebuilt when jobs come, go or move."""
        selected = set(self.selected_ids())
        jobs = self.store.jobs()
        tree = self.tree
        shown = [
            tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
            for i in range(tree.topLevelItemCount())
        ]
        self._states = {job.id: job.state for job in jobs}
        if shown != [job.id for job in jobs]:
            tree.blockSignals(True)  # selection is restored below, then the buttons follow
            tree.clear()
            for job in jobs:
                item = QTreeWidgetItem()
                item.setData(0, Qt.ItemDataRole.UserRole, job.id)
                tree.addTopLevelItem(item)
                item.setSelected(job.id in selected)
            tree.blockSignals(False)
        for index, job in enumerate(jobs):
            item = tree.topLevelItem(index)
            for column, text in enumerate((job.name, str(job.state), describe(job))):
                if item.text(column) != text:
                    item.setText(column, text)
            item.setForeground(1, _brush(STATE_COLORS[job.state]))
            item.setToolTip(0, f"{job.id}\n{job.output_dir}")
            item.setToolTip(2, job.message or describe(job))
        waiting = sum(1 for j in jobs if j.state is JobState.QUEUED)
        running = next((j for j in jobs if j.state is JobState.RUNNING), None)
        text = f"{waiting} waiting"
        if running is not None:
            text = f"rendering {running.name} ({describe(running)}) · {text}"
        self.status.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        states = {self.store_state(i) for i in self.selected_ids()}
        waiting = {JobState.QUEUED, JobState.PAUSED}
        self.buttons["up"].setEnabled(bool(states & waiting))
        self.buttons["down"].setEnabled(bool(states & waiting))
        self.buttons["pause"].setEnabled(bool(states & {JobState.QUEUED, JobState.RUNNING}))
        self.buttons["resume"].setEnabled(JobState.PAUSED in states)
        self.buttons["cancel"].setEnabled(bool(states & (waiting | {JobState.RUNNING})))
        self.buttons["sheet"].setEnabled(bool(states))

    def store_state(self, job_id: str) -> JobState | None:
        """The state shown for ``job_id`` (as of the last refresh)."""
        return self._states.get(job_id)


def _brush(color: str) -> Any:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(color))
