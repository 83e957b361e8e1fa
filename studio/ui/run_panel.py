"""Running: a controller that drives the engine's worker thread, and the run panel showing
overall progress with ETA, the current node and step, per-node timings and a log."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.ui import theme
from studio.ui.bridge import EngineBridge


class RunController(QObject):
    """Starts and cancels renders; ``event`` carries every RunEvent on the UI thread."""

    event = Signal(object)
    running_changed = Signal(bool)

    def __init__(
        self,
        registry: NodeRegistry,
        output_dir: Path = Path("out"),
        engine: Any = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.output_dir = output_dir
        self._engine = engine
        self.job: Any = None
        self.last_status: str | None = None
        self._bridge = EngineBridge(self)
        self._bridge.run_event.connect(self._on_event)

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from studio.engine.scheduler import default_engine

            self._engine = default_engine(self.registry)
        return self._engine

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def start(self, graph: Graph, targets: Sequence[str] | None = None) -> str | None:
        """Start a render; returns why not (already running, engine missing) or None."""
        if self.running:
            return "a render is already running"
        try:
            from studio.engine.worker import RenderJob

            engine = self.engine
        except ImportError as exc:
            return f"the render engine is not available ({exc})"
        self.last_status = None
        self.job = RenderJob(
            engine, graph, targets, output_dir=self.output_dir, on_event=self._bridge.on_event
        )
        self.job.start()
        self.running_changed.emit(True)
        return None

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()

    def _on_event(self, event: Any) -> None:
        if event.kind == "run_finished":
            self.last_status = event.status
        self.event.emit(event)
        if event.kind == "run_finished":
            self.running_changed.emit(False)


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(value % 60):02d} s"


class RunPanel(QWidget):
    """What the render is doing. Clicking a failed node's row or error selects the node."""

    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph: Graph | None = None
        self._order: list[str] = []
        self._done: set[str] = set()
        self._fraction = 0.0
        self._started = 0.0
        self._rows: dict[str, QTreeWidgetItem] = {}
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.headline = QLabel("Ready")
        self.headline.setObjectName("RunHeadline")
        self.eta = QLabel("")
        self.eta.setObjectName("Dim")
        self.current = QLabel("")
        self.current.setObjectName("Dim")
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
        self.log.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.log.itemClicked.connect(self._log_clicked)
        top = QHBoxLayout()
        top.addWidget(self.headline, 1)
        top.addWidget(self.eta)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.nodes)
        split.addWidget(self.log)
        split.setSizes([340, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.current)
        layout.addWidget(split, 1)

    def _title(self, node_id: str | None) -> str:
        if node_id and self.graph is not None and node_id in self.graph:
            return self.graph.node(node_id).title
        return node_id[:8] if node_id else ""

    def _row(self, node_id: str) -> QTreeWidgetItem:
        if node_id not in self._rows:
            item = QTreeWidgetItem([self._title(node_id), "queued", ""])
            item.setData(0, Qt.ItemDataRole.UserRole, node_id)
            self.nodes.addTopLevelItem(item)
            self._rows[node_id] = item
        return self._rows[node_id]

    def _set_row(self, node_id: str, status: str, elapsed: float | None = None) -> None:
        row = self._row(node_id)
        row.setText(1, status)
        colour_of = {"done": "cached"}.get(status, status)  # rendered now or earlier: both fine
        row.setForeground(1, QColor(theme.STATUS_COLORS.get(colour_of, theme.TEXT)))
        if elapsed is not None:
            row.setText(2, _seconds(elapsed))

    def add_log(self, text: str, node_id: str | None = None, error: bool = False) -> None:
        item = QListWidgetItem(text)
        if node_id:
            item.setData(Qt.ItemDataRole.UserRole, node_id)
        if error:
            item.setForeground(QColor(theme.STATUS_COLORS["failed"]))
            item.setToolTip("Click to select the node")
        self.log.addItem(item)
        self.log.scrollToBottom()

    def handle(self, event: Any) -> None:
        kind, node_id = event.kind, event.node_id
        if kind == "run_started":
            self._order = list(event.node_ids)
            self._done.clear()
            self._fraction = 0.0
            self._started = time.monotonic()
            self._rows.clear()
            self.nodes.clear()
            for nid in self._order:
                self._set_row(nid, "queued")
            count = f"{len(self._order)} node{'' if len(self._order) == 1 else 's'}"
            self.headline.setText(f"Rendering {count}")
            self.add_log(f"Run started: {count}")
        elif kind == "node_cached":
            self._done.add(node_id)
            self._set_row(node_id, "cached")
        elif kind == "node_started":
            self._fraction = 0.0
            self._set_row(node_id, "running")
            self.current.setText(f"{self._title(node_id)}: starting")
        elif kind == "node_progress":
            if event.total:
                self._fraction = max(0.0, min(1.0, (event.step or 0) / event.total))
                step = f"step {event.step}/{event.total}"
                self.current.setText(
                    f"{self._title(node_id)}: {step}"
                    + (f" — {event.message}" if event.message else "")
                )
        elif kind == "node_info":
            self.add_log(f"{self._title(node_id)}: {event.message}", node_id)
        elif kind == "node_finished":
            self._done.add(node_id)
            self._fraction = 0.0
            self._set_row(node_id, "done", event.elapsed)
        elif kind == "node_failed":
            self._done.add(node_id)
            self._set_row(node_id, "failed", event.elapsed)
            self.add_log(f"{self._title(node_id)} failed: {event.message}", node_id, error=True)
        elif kind in ("node_skipped", "node_cancelled"):
            self._done.add(node_id)
            self._set_row(node_id, "skipped" if kind == "node_skipped" else "cancelled")
            if event.message:
                self.add_log(f"{self._title(node_id)}: {event.message}", node_id)
        elif kind == "run_finished":
            self._finish(event)
            return
        self._update_progress()

    def _update_progress(self) -> None:
        total = max(1, len(self._order))
        done = len(self._done & set(self._order)) if self._order else len(self._done)
        fraction = min(1.0, (done + self._fraction) / total)
        self.progress.setValue(round(fraction * 1000))
        elapsed = time.monotonic() - self._started
        if 0.02 < fraction < 1.0 and elapsed > 0.5:
            self.eta.setText(
                f"{_seconds(elapsed)} elapsed · about "
                f"{_seconds(elapsed * (1 - fraction) / fraction)} left"
            )
        else:
            self.eta.setText(f"{_seconds(elapsed)} elapsed")

    def _finish(self, event: Any) -> None:
        status = event.status or "failed"
        elapsed = f" in {_seconds(event.elapsed)}" if event.elapsed is not None else ""
        words = {"ok": "Finished", "failed": "Failed", "cancelled": "Cancelled"}
        self.headline.setText(f"{words.get(status, status)}{elapsed}")
        if status == "ok":
            self.progress.setValue(1000)
        for row in self._rows.values():  # a stopped run leaves no node looking as if it waits
            if row.text(1) in ("queued", "running"):
                row.setText(1, "not run")
                row.setForeground(1, QColor(theme.TEXT_DIM))
        self.current.setText(event.message if status != "ok" else "")
        self.eta.setText("")
        self.add_log(
            f"{words.get(status, status)}{elapsed}"
            + (f": {event.message}" if event.message else ""),
            error=status == "failed",
        )

    def _row_clicked(self, item: QTreeWidgetItem) -> None:
        node_id = item.data(0, Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_activated.emit(node_id)

    def _log_clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_activated.emit(node_id)
