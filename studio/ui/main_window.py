"""The editor window: composes the session's views (viewer, node graph, inspector, run panel)
in docks, wires them to the session, and runs renders.

The window holds no state of its own: the :class:`~studio.session.Session` owns the graph,
history, file and statuses; panels observe it through the queued-signal bridge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QMainWindow, QWidget

from studio.engine.events import RunEventKind, RunStatus
from studio.engine.scheduler import Engine
from studio.graph.flatten import SEP, flatten
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.session import NodeStatus, Session, SessionEvent, SessionEventKind, Timings
from studio.session.files import RecentFiles, discard_recovery
from studio.settings import Settings, cache_dir
from studio.ui import desktop
from studio.ui.bridge import SessionBridge
from studio.ui.canvas.breadcrumb import Breadcrumb
from studio.ui.canvas.scene import NodeScene
from studio.ui.canvas.view import NodeView
from studio.ui.canvas_commands import CanvasCommands
from studio.ui.files import AUTOSAVE_MS, Autosaver
from studio.ui.inspector.panel import Inspector
from studio.ui.live_draft import DraftControls
from studio.ui.painter import PAINTABLE
from studio.ui.queries import EngineQueries, to_qimage
from studio.ui.queue_integration import QueueIntegration
from studio.ui.run_controller import RunController
from studio.ui.run_panel import RunPanel
from studio.ui.takes_integration import TAKE_PREFIX, TakesIntegration, take_output, take_title
from studio.ui.viewer.dock import ViewerDock
from studio.ui.window_actions import build_actions, update_history_actions
from studio.ui.workflow_files import WorkflowFiles
from studio.ui.workspace import Workspace

OUTPUT_DIR_SETTING = "output_dir"  # overrides "renders beside the workflow"


class MainWindow(QMainWindow):
    """One editor window on one :class:`Session`."""

    def __init__(
        self,
        registry: NodeRegistry | None = None,
        *,
        engine: Engine | None = None,
        output_dir: Path | None = None,
        settings: Settings | None = None,
        autosave_ms: int = AUTOSAVE_MS,
        session: Session | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        override = output_dir or self.settings.get(OUTPUT_DIR_SETTING) or None
        self.session = session or Session(
            registry,
            output_dir=Path(override) if override else None,
            timings=Timings(cache_dir() / "timings.json"),
        )
        self.registry = self.session.registry
        self.recent = RecentFiles(self.settings)
        self.scene = NodeScene(self.session, self)
        self.view = NodeView(self.scene, self)
        self.breadcrumb = Breadcrumb(self.session, self.view)  # shown inside a subgraph
        self.controller = RunController(self.session, engine, self)
        self.queries = EngineQueries(self.session, lambda: self.controller.engine, self)
        self.inspector = Inspector(self.session, self)
        self.run_panel = RunPanel(self.session, self)
        self.viewer = ViewerDock(
            self._cached_output,
            self,
            title_of=self._title_of,
            image_for=self._keyframe_for,
            bind=self._viewer_reads,
            failure_of=self.session.failure,
        )
        self.workspace = Workspace(self, self.view, self.inspector, self.run_panel, self.viewer)
        self.files = WorkflowFiles(
            self,
            self.session,
            self.recent,
            self.inspector.commit_pending,
            lambda text, error: self.run_panel.add_log(text, error=error),
        )
        self.edit = CanvasCommands(self, self.session, self.scene, self.view, self.say)
        self._last_files: dict[str, list[Path]] = {}  # Save node -> what it wrote last
        self.painter_windows: dict[str, QWidget] = {}  # node id -> its open painter window
        self._pending_thumbs: set[str] = set()
        self._thumb_timer = self._single_shot(150, self._flush_thumbnails)
        self._state_timer = self._single_shot(400, self._refresh_states)
        build_actions(self)
        self.queue = QueueIntegration(self)
        self.takes = TakesIntegration(self)
        self.draft = DraftControls(self)  # after the queue: live runs yield to its jobs too
        self._connect()
        self.autosaver = Autosaver(self.session, autosave_ms, self)
        self.setAcceptDrops(True)
        self.resize(1600, 960)
        self._laid_out = False
        self.files.update_title()
        update_history_actions(self)

    def _single_shot(self, ms: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    def say(self, text: str, ms: int = 5000) -> None:
        self.statusBar().showMessage(text, ms)

    def _connect(self) -> None:
        self._bridge = SessionBridge(self.session, self)
        self._bridge.event.connect(self._on_session_event)
        self.scene.status_message.connect(lambda m: self.say(m, 8000))
        self.inspector.status_message.connect(lambda m: self.say(m, 8000))
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.node_double_clicked.connect(self._node_double_clicked)
        self.scene.group_double_clicked.connect(self.edit.edit_group)
        self.view.context_menu.connect(self._context_menu)
        self.view.open_file.connect(lambda path: self.files.drop([path]))
        self.inspector.open_painter.connect(self.open_painter)
        self.inspector.open_subgraph.connect(self.edit.open_subgraph)
        self.inspector.output_requested.connect(self.open_render)
        self.run_panel.node_activated.connect(self.edit.select_node)
        self.viewer.panel.error_requested.connect(self.show_error)
        self.controller.running_changed.connect(self._running_changed)
        self.queries.states_ready.connect(self.session.apply_cache_states)
        self.queries.thumbnail_ready.connect(self.scene.set_thumbnail)

    # -- the session --------------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        return self.session.graph

    @property
    def path(self) -> Path | None:
        return self.session.path

    def _on_session_event(self, event: SessionEvent) -> None:
        match event.kind:
            case SessionEventKind.GRAPH_REPLACED:
                self._last_files.clear()
                for painter in list(self.painter_windows.values()):  # nodes of the old graph
                    painter.close()
                self.viewer.show_node(None)
                QTimer.singleShot(0, self.view, self.view.frame_all)  # once docks are sized
                self._refresh_states()
            case SessionEventKind.HISTORY_CHANGED:
                update_history_actions(self)
                self._state_timer.start()
            case SessionEventKind.FILE_CHANGED:
                self.files.update_title()
            case SessionEventKind.STATUS_CHANGED:
                self.viewer.panel.refresh_failure(event.node_ids)
                for node_id in event.node_ids:
                    if self.session.node_status(node_id) is NodeStatus.CACHED:
                        self._pending_thumbs.add(node_id)
                if self._pending_thumbs:
                    self._thumb_timer.start()
            case SessionEventKind.RUN_EVENT:
                run = event.run_event
                if run is not None and run.kind is RunEventKind.RUN_FINISHED:
                    self._job_finished(run.status, run.elapsed, run.message)
                elif run is not None and run.kind is RunEventKind.NODE_PREVIEW:
                    self._show_preview(run.node_id, run.preview)

    def _show_preview(self, node_id: str | None, picture: Any) -> None:
        """A running node's live preview (denoising) becomes its thumbnail until it finishes."""
        if node_id in self.session.graph and picture is not None:
            self.scene.set_thumbnail(node_id, to_qimage(np.ascontiguousarray(picture)))

    def _job_finished(self, status: RunStatus | None, elapsed: float | None, message: str) -> None:
        self._state_timer.start()
        self.viewer.refresh()
        job = self.controller.job
        # run_finished is the engine's last event: the worker returns its result right after.
        result = job.wait(timeout=5) if job is not None else None
        if result is not None:
            for node_id, out in result.outputs.items():
                if out.get("files"):
                    self._last_files[node_id] = [Path(p) for p in out["files"]]
            files = [p for out in result.outputs.values() for p in out.get("files", [])]
            self.run_panel.add_files([Path(p) for p in files])
        if status is RunStatus.OK:
            self.queue.after_run()  # seeds set to increment/randomize move on
            took = f" in {elapsed:.1f} s" if elapsed is not None else ""
            self.say(f"Render finished{took}", 10000)
        elif status is RunStatus.FAILED:
            self.say(f"Render failed: {message}" if message else "Render failed", 10000)
        elif status is RunStatus.CANCELLED:
            self.say("Render cancelled", 10000)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if not self._laid_out:  # sized for the window as first shown
            self._laid_out = True
            self.workspace.apply()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        if not self.files.maybe_save():
            event.ignore()
            return
        self.controller.cancel()
        self.draft.shutdown()
        self.queue.shutdown()  # the job it renders goes back to the queue
        self.takes.shutdown()
        for timer in (self._thumb_timer, self._state_timer, self.autosaver.timer):
            timer.stop()
        discard_recovery()
        self.queries.shutdown()
        self.viewer.shutdown()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        # Dropped beside the canvas: the canvas still decides (a picture becomes a node).
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if self.view.drop_files(paths):
            event.acceptProposedAction()

    # -- selection, painter, viewer -------------------------------------------------------

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None, len(ids))
        if len(ids) == 1:
            self.viewer.show_node(self._viewer_id(ids[0]))

    def _viewer_id(self, node_id: str) -> str:
        """Inside an open subgraph the viewer shows the inner node's own cached result, which
        the engine keeps under its flat id (``subgraph/inner``)."""
        return SEP.join([*self.session.scope, node_id]) if self.session.scope else node_id

    def _node_double_clicked(self, node_id: str) -> None:
        node = self.session.view_graph.node(node_id)
        if node.subgraph is not None:
            self.edit.open_subgraph(node_id)
        elif node.type_id in PAINTABLE and not self.session.scope:
            self.open_painter(node_id)
        else:
            self.workspace.inspector.raise_()
            if self.inspector.title_field is not None:
                self.inspector.title_field.setFocus()

    def _context_menu(self, scene_pos: QPointF, global_pos: Any) -> None:
        self.edit.context_menu(
            scene_pos,
            global_pos,
            [self.act_run_sel, self.act_bypass, self.act_duplicate, self.act_copy, self.act_delete],
            [self.act_backdrop, self.act_note, self.act_frame_all, self.act_tidy],
            self.open_painter,
        )

    def open_painter(self, node_id: str) -> QWidget:
        """The painter for ``node_id``: the open one brought to the front, or a new one."""
        window = self.painter_windows.get(node_id)
        if window is not None and window.isVisible():
            window.raise_()
            window.activateWindow()
            return window
        from studio.ui.painter.window import PainterWindow

        window = PainterWindow(self.session, node_id, self.controller.engine, parent=self)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        window.destroyed.connect(lambda _=None, n=node_id: self.painter_windows.pop(n, None))
        self.painter_windows[node_id] = window
        window.show()
        return window

    def _cached_output(self, node_id: str, graph: Graph | None = None) -> dict[str, Any] | None:
        if node_id.startswith(TAKE_PREFIX):  # a take compared in the viewer: read its file
            return take_output(node_id)
        graph = self.session.render_snapshot() if graph is None else graph
        if node_id not in graph and SEP in node_id:  # a node inside a subgraph
            graph = flatten(graph).graph
        if node_id not in graph:
            return None
        try:
            return self.controller.engine.output(graph, node_id, output_dir=self.session.output_dir)
        except Exception:  # the viewer shows "not rendered yet" rather than an error
            return None

    def _read(self, graph: Graph, node_id: str) -> dict[str, Any] | None:
        return self._cached_output(node_id, graph)

    def _keyframe_for(self, node_id: str, graph: Graph | None = None) -> Any:
        return self.session.keyframe_for(node_id, self._read, graph)

    def _viewer_reads(self) -> tuple[Any, Any]:
        """The viewer reads the cache on a worker thread: bind its reads to a snapshot of the
        graph (taken here, on the UI thread), as the artist may go on editing meanwhile."""
        graph = self.session.render_snapshot()  # in Draft: the draft's results
        return (
            lambda node_id: self._cached_output(node_id, graph),
            lambda node_id: self._keyframe_for(node_id, graph),
        )

    def _title_of(self, node_id: str) -> str:
        if node_id.startswith(TAKE_PREFIX):
            return take_title(node_id)
        graph = self.graph
        if node_id not in graph and SEP in node_id:  # a node inside a subgraph
            graph = flatten(graph).graph
        return graph.node(node_id).title if node_id in graph else node_id[:8]

    def show_error(self, node_id: str) -> None:
        """Select the failed node and its error in the run log."""
        self.edit.select_node(node_id)
        self.workspace.run.raise_()
        self.run_panel.show_error(node_id)

    def reveal_outputs(self) -> None:
        folder = self.session.output_dir
        folder.mkdir(parents=True, exist_ok=True)
        desktop.reveal(folder)

    def rendered_files(self, node_id: str) -> list[Path]:
        """The files a Save node wrote last: this session's render, else what the cache has."""
        files = self._last_files.get(node_id)
        if files is None:
            files = [Path(p) for p in (self._cached_output(node_id) or {}).get("files", [])]
        return [p for p in files if p.exists()]

    def open_render(self, node_id: str, reveal: bool = False) -> bool:
        files = self.rendered_files(node_id)
        if not files:
            self.say("Nothing rendered here yet: run the graph first")
            return False
        return (desktop.reveal if reveal else desktop.open_file)(files[0])

    def show_shortcuts(self) -> None:
        from studio.ui.shortcut_sheet import ShortcutSheet

        ShortcutSheet(self).exec()

    # -- running --------------------------------------------------------------------------

    def run_all(self) -> bool:
        return self._start(None)

    def run_selected(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            self.say("Select the node to render up to")
            return False
        return self._start(ids)

    def _start(self, targets: list[str] | None) -> bool:
        self.inspector.commit_pending()
        if not self.graph.nodes:
            self.say("Nothing to render: add some nodes first")
            return False
        problem = self.controller.start(targets)
        if problem:
            self.say(f"Cannot render: {problem}", 8000)
            return False
        self.statusBar().clearMessage()  # the last run's "finished" no longer applies
        self.workspace.run.raise_()
        return True

    def cancel(self) -> None:
        if self.scene.wire_active():
            self.scene.cancel_gesture()
        elif self.controller.running:
            self.controller.cancel()
            self.say("Cancelling at the next step…")

    def _running_changed(self, running: bool) -> None:
        self.act_cancel.setEnabled(running)
        self.act_run.setEnabled(not running)
        self.act_run_sel.setEnabled(not running)

    def _flush_thumbnails(self) -> None:
        ids, self._pending_thumbs = self._pending_thumbs, set()
        missing = [n for n in ids if n in self.scene.node_items()]
        missing = [n for n in missing if self.scene.item_for(n).thumbnail is None]
        self.queries.request_thumbnails(missing)

    def _refresh_states(self) -> None:
        if self.graph.nodes:
            self.queries.request_states()
