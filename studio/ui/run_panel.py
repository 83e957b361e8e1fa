"""The run panel: the viewed job's progress with an ETA from past timings, the current node
and step, per-node timings, a log, and Open/Reveal for the files a render wrote.

It reads everything from the session (job states, remaining time) as run events arrive.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.engine.events import RunEvent, RunEventKind, RunStatus
from studio.session import Job, JobNodeState, Session, SessionEvent, SessionEventKind
from studio.ui import desktop, theme
from studio.ui.bridge import SessionBridge

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
_WORDS = {RunStatus.OK: "Finished", RunStatus.FAILED: "Failed", RunStatus.CANCELLED: "Cancelled"}
_ROW_COLOUR = {
    JobNodeState.DONE: "cached",
    JobNodeState.CACHED: "cached",
    JobNodeState.QUEUED: "queued",
    JobNodeState.RUNNING: "running",
    JobNodeState.FAILED: "failed",
}


def seconds_text(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(value % 60):02d} s"


class RunPanel(QWidget):
    """What the render is doing. Clicking a failed node's row or error selects the node."""

    node_activated = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.job: Job | None = None
        self._rows: dict[str, QTreeWidgetItem] = {}
        self.progress = QProgressBar()
        self.progress.setObjectName("RunProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.headline = QLabel("Ready")
        self.headline.setObjectName("RunHeadline")
        self.eta = QLabel("")
        self.eta.setObjectName("Dim")
        self.current = QLabel("")
        self._doing: dict[str, str] = {}  # node id -> its latest step, shown while it runs
        self.current.setObjectName("Dim")
        self.current.setWordWrap(True)
        self.nodes = QTreeWidget()
        self.nodes.setHeaderLabels(["Node", "Status", "Time"])
        self.nodes.setRootIsDecorated(False)
        # The title takes whatever width is left; status and time keep to their text.
        header = self.nodes.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.nodes.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nodes.itemClicked.connect(self._row_clicked)
        self.log = QListWidget()
        self.log.setWordWrap(True)
        self.log.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.log.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.log.itemClicked.connect(self._log_clicked)
        self.log.currentItemChanged.connect(lambda *_: self._update_file_buttons())
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the selected render in its default application")
        self.open_button.clicked.connect(lambda: self._with_file(desktop.open_file))
        self.reveal_button = QPushButton("Reveal")
        self.reveal_button.setToolTip("Show the selected render in its folder")
        self.reveal_button.clicked.connect(lambda: self._with_file(desktop.reveal))
        self._update_file_buttons()
        top = QHBoxLayout()
        top.addWidget(self.headline, 1)
        top.addWidget(self.eta)
        files = QHBoxLayout()
        files.addStretch(1)
        files.addWidget(self.open_button)
        files.addWidget(self.reveal_button)
        log_box = QWidget()
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_layout.addWidget(self.log, 1)
        log_layout.addLayout(files)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.nodes)
        split.addWidget(log_box)
        split.setSizes([300, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.current)
        layout.addWidget(split, 1)
        self._tick = QTimer(self)
        self._tick.setInterval(500)
        self._tick.timeout.connect(self._update_progress)
        self._bridge = SessionBridge(session, self)
        self._bridge.event.connect(self._on_session_event)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        # Long log lines wrap: they must not widen the dock (and shrink the viewer) as they come.
        return QSize(380, 520)

    def _title(self, node_id: str | None) -> str:
        if node_id and node_id in self.session.graph:
            return self.session.graph.node(node_id).title
        return node_id[:8] if node_id else ""

    # -- session -> view ----------------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind is SessionEventKind.GRAPH_REPLACED:
            self.job = None
        if event.kind is not SessionEventKind.RUN_EVENT or event.run_event is None:
            return
        job = self.session.jobs.get(event.job_id or "")
        if job is None:
            return
        run = event.run_event
        if run.kind is RunEventKind.RUN_STARTED:
            self._begin(job)
        if job is self.job:
            self._handle(run)

    def _begin(self, job: Job) -> None:
        self.job = job
        self._rows.clear()
        self.nodes.clear()
        for node_id in job.order:
            self._row(node_id)
        count = f"{len(job.order)} node{'' if len(job.order) == 1 else 's'}"
        self.headline.setText(f"Rendering {count}")
        self.current.setText("")
        self._doing.clear()
        self._set_bar_state("running")
        self.add_log(f"Run started: {count}")
        self._tick.start()

    def _handle(self, event: RunEvent) -> None:
        kind, node_id = event.kind, event.node_id
        if kind is RunEventKind.RUN_FINISHED:
            self._finish(event)
            return
        if node_id is not None and kind is not RunEventKind.RUN_STARTED:
            self._show_row(node_id)
        title = self._title(node_id)
        match kind:
            case RunEventKind.NODE_STARTED:
                self._doing[node_id or ""] = "starting"
            case RunEventKind.NODE_PROGRESS if event.total:
                step = f"step {event.step}/{event.total}"
                self._doing[node_id or ""] = step + (f" — {event.message}" if event.message else "")
            case RunEventKind.NODE_INFO:
                self.add_log(f"{title}: {event.message}", node_id)
            case RunEventKind.NODE_CACHED if event.message:  # "take shot_v003": nothing written
                self.add_log(f"{title}: cached, {event.message}", node_id)
            case RunEventKind.NODE_FAILED:
                self.add_log(f"{title} failed: {event.message}", node_id, error=True)
            case RunEventKind.NODE_SKIPPED | RunEventKind.NODE_CANCELLED if event.message:
                self.add_log(f"{title}: {event.message}", node_id)
        self._update_progress()

    def _row(self, node_id: str) -> QTreeWidgetItem:
        if node_id not in self._rows:
            item = QTreeWidgetItem([self._title(node_id), "queued", ""])
            item.setData(0, Qt.ItemDataRole.UserRole, node_id)
            self.nodes.addTopLevelItem(item)
            self._rows[node_id] = item
        return self._rows[node_id]

    def _show_row(self, node_id: str) -> None:
        if self.job is None:
            return
        state = self.job.states.get(node_id, JobNodeState.QUEUED)
        row = self._row(node_id)
        row.setText(1, state.value)
        colour = theme.STATUS_COLORS.get(_ROW_COLOUR.get(state, ""), theme.TEXT_DIM)
        row.setForeground(1, QColor(colour))
        if node_id in self.job.elapsed:
            row.setText(2, seconds_text(self.job.elapsed[node_id]))

    def _set_bar_state(self, state: str) -> None:
        # A property the style sheet keys on: blue while running, red after a failure.
        self.progress.setProperty("state", state)
        self.progress.style().unpolish(self.progress)
        self.progress.style().polish(self.progress)

    def _update_progress(self) -> None:
        job = self.job
        if job is None:
            return
        self.progress.setValue(round(job.fraction() * 1000))
        if not job.running:
            self._tick.stop()
            return
        # Which nodes run is the job's to say; streaming nodes run at once: a line each.
        running = [n for n in job.order if job.states.get(n) is JobNodeState.RUNNING]
        self.current.setText(
            "\n".join(f"{self._title(n)}: {self._doing.get(n, 'starting')}" for n in running)
        )
        elapsed = seconds_text(time.monotonic() - job.started)
        left = self.session.remaining(job)
        if left is None:
            self.eta.setText(f"{elapsed} elapsed · estimating…")
        else:
            self.eta.setText(f"{elapsed} elapsed · about {seconds_text(left)} left")

    def _finish(self, event: RunEvent) -> None:
        self._tick.stop()
        status = event.status or RunStatus.FAILED
        elapsed = f" in {seconds_text(event.elapsed)}" if event.elapsed is not None else ""
        word = _WORDS.get(status, str(status))
        self.headline.setText(f"{word}{elapsed}")
        if self.job is not None:
            for node_id in self.job.order:
                self._show_row(node_id)
            self.progress.setValue(round(self.job.fraction() * 1000))
        if status is RunStatus.OK:
            self.progress.setValue(1000)
        # Not a full blue bar after a failure: the bar stops where the run did, in red.
        self._set_bar_state(status.value)
        if status is not RunStatus.OK and self.job is not None:
            done = sum(1 for n in self.job.order if self.job.states.get(n) in _FINISHED)
            self.progress.setValue(round(done / max(1, len(self.job.order)) * 1000))
        self.current.setText(event.message if status is not RunStatus.OK else "")
        self.eta.setText("")
        self.add_log(
            f"{word}{elapsed}" + (f": {event.message}" if event.message else ""),
            error=status is RunStatus.FAILED,
        )

    # -- log ----------------------------------------------------------------------------------

    def add_log(self, text: str, node_id: str | None = None, error: bool = False) -> None:
        item = QListWidgetItem(text)
        if node_id:
            item.setData(Qt.ItemDataRole.UserRole, node_id)
        if error:
            item.setForeground(QColor(theme.STATUS_COLORS["failed"]))
            item.setToolTip("Click to select the node")
        self.log.addItem(item)
        self.log.scrollToBottom()

    def add_files(self, paths: list[Path]) -> None:
        """Log the files a render wrote; Open and Reveal act on the selected one."""
        for path in paths:
            item = QListWidgetItem(f"Wrote {path.name}")
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            self.log.addItem(item)
        if paths:
            self.log.setCurrentRow(self.log.count() - 1)
            self.log.scrollToBottom()

    def selected_file(self) -> Path | None:
        item = self.log.currentItem()
        value = item.data(PATH_ROLE) if item is not None else None
        return Path(value) if value else None

    def _update_file_buttons(self) -> None:
        has = self.selected_file() is not None
        self.open_button.setEnabled(has)
        self.reveal_button.setEnabled(has)

    def _with_file(self, act) -> None:  # noqa: ANN001 (open_file or reveal)
        path = self.selected_file()
        if path is not None:
            act(path)

    def show_error(self, node_id: str) -> None:
        """Select the (last) error logged for ``node_id``."""
        for row in range(self.log.count() - 1, -1, -1):
            item = self.log.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == node_id:
                self.log.setCurrentItem(item)
                self.log.scrollToItem(item)
                return

    def _row_clicked(self, item: QTreeWidgetItem) -> None:
        node_id = item.data(0, Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_activated.emit(node_id)

    def _log_clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_activated.emit(node_id)


_FINISHED = (JobNodeState.CACHED, JobNodeState.DONE)
