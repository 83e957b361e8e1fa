"""The editor window: canvas in the middle, inspector on the right, run panel and viewer below.

It owns the model (one Graph at a time), the undo stack and the run controller; the widgets
observe them. Files, clipboard, running and the optional viewer/painter are wired up here.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QInputDialog,
    QMainWindow,
    QMenu,
)

from studio.graph import fileformat
from studio.graph.commands import AddSlot, RemoveSlot, SetNodeAttribute, UpdateGroup
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry, default_registry
from studio.graph.spec import slot_index
from studio.settings import Settings
from studio.ui import editing
from studio.ui.actions import make_action
from studio.ui.canvas.arrange import place_clear
from studio.ui.canvas.scene import NodeScene
from studio.ui.canvas.view import NodeView
from studio.ui.files import AUTOSAVE_MS, Autosaver, RecentFiles, discard_recovery
from studio.ui.inspector.panel import Inspector
from studio.ui.painter import PAINTABLE
from studio.ui.queries import EngineQueries
from studio.ui.run_panel import RunController, RunPanel
from studio.ui.undo import UndoStack
from studio.ui.workflow_files import WorkflowFiles

RUN_EVENT_STATUS = {
    "node_cached": "cached",
    "node_finished": "cached",
    "node_failed": "failed",
    "node_skipped": "stale",
    "node_cancelled": "stale",
}


class MainWindow(WorkflowFiles, QMainWindow):
    """One editor window. ``graph`` and ``path`` are the workflow being edited."""

    def __init__(
        self,
        registry: NodeRegistry | None = None,
        *,
        engine: Any = None,
        output_dir: Path = Path("out"),
        settings: Settings | None = None,
        autosave_ms: int = AUTOSAVE_MS,
    ) -> None:
        super().__init__()
        self.registry = registry or default_registry()
        self.settings = settings or Settings()
        self.recent = RecentFiles(self.settings)
        self.graph = Graph(self.registry)
        self.path: Path | None = None
        self.undo = UndoStack(self.graph, self)
        self.scene = NodeScene(self.graph, self.undo, self)
        self.view = NodeView(self.scene, self)
        self.setCentralWidget(self.view)
        self.controller = RunController(self.registry, output_dir, engine, self)
        self.queries = EngineQueries(lambda: self.controller.engine, self)
        self.inspector = Inspector(self.graph, self.undo, self)
        self.run_panel = RunPanel(self)
        self.run_panel.graph = self.graph
        self.viewer: Any = None
        self.painter_windows: dict[str, Any] = {}  # node id -> its open painter window
        self._pending_thumbs: set[str] = set()
        self._thumb_timer = self._single_shot(150, self._flush_thumbnails)
        self._state_timer = self._single_shot(400, self._refresh_states)
        self._build_docks()
        self._build_actions()
        self._connect()
        self.autosaver = Autosaver(self, autosave_ms, self)
        self.setAcceptDrops(True)
        self.resize(1500, 920)
        self._update_title()

    def _single_shot(self, ms: int, slot: Any) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    # -- layout -------------------------------------------------------------------------

    def _dock(self, title: str, widget: Any, area: Qt.DockWidgetArea, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.inspector_dock = self._dock(
            "Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea, "inspector"
        )
        self.run_dock = self._dock(
            "Run", self.run_panel, Qt.DockWidgetArea.BottomDockWidgetArea, "run"
        )
        try:
            from studio.ui.viewer.dock import ViewerDock
        except ImportError:
            ViewerDock = None  # noqa: N806 (the viewer lands separately)
        if ViewerDock is not None:
            try:
                self.viewer = ViewerDock(
                    self._cached_output,
                    self,
                    title_of=self._title_of,
                    image_for=self._keyframe_for,
                    bind=self._viewer_reads,
                )
            except Exception as exc:  # a broken viewer must not stop the editor opening
                self.statusBar().showMessage(f"Viewer unavailable: {exc}", 8000)
                self.viewer = None
        if self.viewer is not None:
            self.viewer.setObjectName("viewer")
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.viewer)
            self.splitDockWidget(self.run_dock, self.viewer, Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock], [390], Qt.Orientation.Horizontal)
        self.resizeDocks([self.run_dock], [250], Qt.Orientation.Vertical)

    def _build_actions(self) -> None:
        bar, view = self.menuBar(), self.view
        a = make_action
        self.act_new = a(self, "&New", self.new, QKeySequence.StandardKey.New)
        self.act_open = a(self, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.act_save = a(self, "&Save", self.save, QKeySequence.StandardKey.Save)
        self.act_save_as = a(self, "Save &As…", self.save_as, "Ctrl+Shift+S")
        self.act_quit = a(self, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.templates_menu = QMenu("New from &Template", self)
        self.templates_menu.aboutToShow.connect(self._fill_templates)
        menu = bar.addMenu("&File")
        menu.addActions([self.act_new])
        menu.addMenu(self.templates_menu)
        menu.addActions([self.act_open])
        menu.addMenu(self.recent_menu)
        menu.addSeparator()
        menu.addActions([self.act_save, self.act_save_as])
        menu.addSeparator()
        menu.addAction(self.act_quit)

        self.act_undo = self.undo.stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_redo = self.undo.stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_cut = a(self, "Cu&t", self.cut, QKeySequence.StandardKey.Cut, local_to=view)
        self.act_copy = a(self, "&Copy", self.copy, QKeySequence.StandardKey.Copy, local_to=view)
        self.act_paste = a(
            self, "&Paste", self.paste, QKeySequence.StandardKey.Paste, local_to=view
        )
        self.act_duplicate = a(self, "&Duplicate", self.duplicate, "Ctrl+D", local_to=view)
        self.act_delete = a(
            self, "De&lete", self.delete_selected, ["Delete", "Backspace"], local_to=view
        )
        self.act_select_all = a(
            self, "Select &All", self.select_all, QKeySequence.StandardKey.SelectAll, local_to=view
        )
        self.act_bypass = a(
            self,
            "&Bypass",
            self.toggle_bypass,
            "Ctrl+B",
            local_to=view,
            tip="Pass the selected nodes' inputs straight through",
        )
        self.act_add = a(
            self,
            "Add &Node…",
            lambda: view.open_search(view.cursor_scene_pos()),
            tip="Search every node type (Tab)",
        )
        self.act_backdrop = a(
            self,
            "Add &Backdrop",
            self.add_backdrop,
            "Ctrl+G",
            local_to=view,
            tip="A titled frame around the selected nodes",
        )
        self.act_note = a(self, "Add N&ote", self.add_note)
        self.act_tidy = a(
            self,
            "&Tidy",
            view.tidy,
            "Ctrl+L",
            local_to=view,
            tip="Lay out the selected nodes (or all) in columns, inputs on the left",
        )
        self.act_reroute = a(
            self, "Add &Reroute Dot", lambda: view.create_node("Reroute", view.cursor_scene_pos())
        )
        menu = bar.addMenu("&Edit")
        menu.addActions([self.act_undo, self.act_redo])
        menu.addSeparator()
        menu.addActions(
            [
                self.act_cut,
                self.act_copy,
                self.act_paste,
                self.act_duplicate,
                self.act_delete,
                self.act_select_all,
            ]
        )
        menu.addSeparator()
        menu.addActions(
            [
                self.act_add,
                self.act_backdrop,
                self.act_note,
                self.act_reroute,
                self.act_bypass,
                self.act_tidy,
            ]
        )

        self.act_frame_all = a(self, "Frame &All", view.frame_all, "Home")
        self.act_frame_sel = a(self, "Frame &Selected", view.frame_selected, "F", local_to=view)
        menu = bar.addMenu("&View")
        menu.addActions([self.act_frame_all, self.act_frame_sel])
        menu.addSeparator()
        for dock in (self.inspector_dock, self.run_dock, self.viewer):
            if dock is not None:
                menu.addAction(dock.toggleViewAction())

        self.act_run = a(
            self, "&Run", self.run_all, ["Ctrl+Return", "Ctrl+Enter"], tip="Render every output"
        )
        self.act_run_sel = a(
            self,
            "Run to &Selected",
            self.run_selected,
            ["Ctrl+Shift+Return", "Ctrl+Shift+Enter"],
            tip="Render only what the selected nodes need",
        )
        self.act_cancel = a(self, "&Cancel", self.cancel, "Esc", tip="Stop the render")
        self.act_cancel.setEnabled(False)
        menu = bar.addMenu("&Run")
        menu.addActions([self.act_run, self.act_run_sel, self.act_cancel])

        tools = self.addToolBar("Main")
        tools.setObjectName("toolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tools.addActions([self.act_new, self.act_open, self.act_save])
        tools.addSeparator()
        tools.addActions([self.act_undo, self.act_redo])
        tools.addSeparator()
        tools.addActions([self.act_add, self.act_frame_all])
        tools.addSeparator()
        tools.addActions([self.act_run, self.act_run_sel, self.act_cancel])
        run_button = tools.widgetForAction(self.act_run)
        if run_button is not None:
            run_button.setObjectName("RunButton")

    def _connect(self) -> None:
        self.undo.stack.cleanChanged.connect(lambda _clean: self._update_title())
        self.undo.stack.indexChanged.connect(lambda _i: self._state_timer.start())
        self.scene.status_message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.inspector.status_message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.node_double_clicked.connect(self._node_double_clicked)
        self.scene.group_double_clicked.connect(self._group_double_clicked)
        self.view.context_menu.connect(self._context_menu)
        self.inspector.open_painter.connect(self.open_painter)
        self.run_panel.node_activated.connect(self.select_node)
        self.controller.event.connect(self._on_run_event)
        self.controller.running_changed.connect(self._running_changed)
        self.queries.states_ready.connect(self._apply_states)
        self.queries.thumbnail_ready.connect(self.scene.set_thumbnail)

    # -- the workflow -------------------------------------------------------------------

    def set_graph(self, graph: Graph, path: Path | None) -> None:
        for painter in list(self.painter_windows.values()):  # they paint nodes of the old graph
            painter.close()
        self.graph = graph
        self.path = path
        self.undo.set_graph(graph)
        self.scene.set_graph(graph)
        self.inspector.set_graph(graph)
        self.run_panel.graph = graph
        if self.viewer is not None:
            self.viewer.show_node(None)
        self._update_title()
        self.view.frame_all()
        self._refresh_states()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        if not self.maybe_save():
            event.ignore()
            return
        self.controller.cancel()
        for timer in (self._thumb_timer, self._state_timer, self.autosaver.timer):
            timer.stop()
        discard_recovery()
        self.queries.shutdown()
        if self.viewer is not None:
            self.viewer.shutdown()
        event.accept()

    # -- editing ------------------------------------------------------------------------

    def _push(self, command: Any) -> bool:
        return self.scene.push(command)

    def delete_selected(self) -> None:
        self._push(
            editing.delete(
                self.graph,
                self.scene.selected_node_ids(),
                self.scene.selected_group_ids(),
                self.scene.selected_edges(),
            )
        )

    def copy(self) -> bool:
        nodes, groups = self.scene.selected_node_ids(), self.scene.selected_group_ids()
        if not nodes and not groups:
            return False
        text = editing.selection_to_json(self.graph, nodes, groups)
        # Plain text (workflow JSON): it pastes into another window, or into a chat. A
        # QMimeData made in Python would be freed by Qt after the interpreter at exit.
        QGuiApplication.clipboard().setText(text)
        self.statusBar().showMessage(f"Copied {len(nodes)} node(s)", 4000)
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selected()

    def paste(self, at: QPointF | None = None) -> list[str]:
        return self.paste_text(QGuiApplication.clipboard().text(), at)

    def paste_text(self, text: str, at: QPointF | None = None) -> list[str]:
        if '"nodes"' not in text:
            self.statusBar().showMessage("The clipboard holds no Studio nodes", 5000)
            return []
        try:
            where = (at.x(), at.y()) if at is not None else None
            command, ids, message = editing.paste(self.graph, text, where)
            if command is not None:
                command = place_clear(self.scene, command)  # never on top of other nodes
        except fileformat.WorkflowFileError as exc:
            self.statusBar().showMessage(f"Cannot paste: {exc}", 8000)
            return []
        if self._push(command):
            self.scene.select(ids)
        self.statusBar().showMessage(message, 5000)
        return ids

    def duplicate(self) -> list[str]:
        nodes, groups = self.scene.selected_node_ids(), self.scene.selected_group_ids()
        if not nodes and not groups:
            return []
        return self.paste_text(editing.selection_to_json(self.graph, nodes, groups))

    def select_all(self) -> None:
        self.scene.select([n.id for n in self.graph.nodes])

    def select_node(self, node_id: str) -> None:
        if node_id in self.graph:
            self.scene.select([node_id])
            self.view.frame_selected()

    def toggle_bypass(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            on = not all(self.graph.node(n).bypass for n in ids)
            self._push(
                editing.Macro(
                    [SetNodeAttribute(n, "bypass", on) for n in ids],
                    label="Bypass" if on else "Un-bypass",
                )
            )

    def add_backdrop(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            rect = self.scene.items_bounds(ids).adjusted(-30, -60, 30, 30)
            bounds = (rect.x(), rect.y(), rect.width(), rect.height())
        else:
            pos = self.view.cursor_scene_pos()
            bounds = (pos.x(), pos.y(), 480.0, 320.0)
        self._push(editing.new_group("backdrop", bounds))

    def add_note(self) -> None:
        pos = self.view.cursor_scene_pos()
        self._push(editing.new_group("note", (pos.x(), pos.y(), 260.0, 120.0)))

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None, len(ids))
        if self.viewer is not None and len(ids) == 1:
            self.viewer.show_node(ids[0])

    def _node_double_clicked(self, node_id: str) -> None:
        if self.graph.node(node_id).type_id in PAINTABLE:
            self.open_painter(node_id)
        else:
            self.inspector_dock.raise_()
            if self.inspector.title_field is not None:
                self.inspector.title_field.setFocus()

    def _group_double_clicked(self, group_id: str) -> None:
        group = self.graph.group(group_id)
        field = "text" if group.kind == "note" else "title"
        if field == "text":
            value, ok = QInputDialog.getMultiLineText(self, "Note", "Text:", group.text)
        else:
            value, ok = QInputDialog.getText(self, "Backdrop", "Title:", text=group.title)
        if ok:
            self._push(UpdateGroup(group_id, {field: value}, label=f"Edit {group.kind}"))

    def _context_menu(self, scene_pos: QPointF, global_pos: Any) -> None:
        menu = QMenu(self)
        item = self.scene.node_at(scene_pos)
        if item is not None:
            if not item.isSelected():
                self.scene.select([item.node.id])
            menu.addActions(
                [
                    self.act_run_sel,
                    self.act_bypass,
                    self.act_duplicate,
                    self.act_copy,
                    self.act_delete,
                ]
            )
            if item.node.type_id in PAINTABLE:
                menu.addAction("Open Painter…", lambda: self.open_painter(item.node.id))
            self._slot_actions(menu, item.node, item.port_at(scene_pos))
        else:
            menu.addAction("Add Node…", lambda: self.view.open_search(scene_pos))
            menu.addAction("Add Reroute Dot", lambda: self.view.create_node("Reroute", scene_pos))
            menu.addActions([self.act_backdrop, self.act_note])
            menu.addAction("Paste Here", lambda: self.paste(scene_pos))
            menu.addSeparator()
            menu.addActions([self.act_frame_all, self.act_tidy])
        menu.exec(global_pos)

    def _slot_actions(self, menu: QMenu, node: Any, slot: Any) -> None:
        """Add/remove entries for a node's variadic inputs (a Sequence's clips)."""
        for port in node.spec.variadic_inputs() if node.spec is not None else ():
            menu.addAction(
                f"Add {port.name} Input", lambda p=port.name: self._push(AddSlot(node.id, p))
            )
            index = slot_index(port.name, slot.name) if slot is not None else None
            if index is not None and slot.side == "in":
                menu.addAction(
                    f"Remove Input {slot.name}",
                    lambda p=port.name, i=index: self._push(RemoveSlot(node.id, p, i)),
                )

    # -- viewer and painter -------------------------------------------------------------

    def _cached_output(self, node_id: str, graph: Graph | None = None) -> dict[str, Any] | None:
        graph = self.graph if graph is None else graph
        if node_id not in graph:
            return None
        try:
            return self.controller.engine.output(graph, node_id)
        except Exception:  # the viewer shows "not rendered yet" rather than an error
            return None

    def open_painter(self, node_id: str) -> Any:
        """The painter for ``node_id``: the open one brought to the front, or a new one."""
        window = self.painter_windows.get(node_id)
        if window is not None and window.isVisible():
            window.raise_()
            window.activateWindow()
            return window
        from studio.ui.painter.window import PainterWindow

        window = PainterWindow(
            self.graph, node_id, self.undo.push, self.controller.engine, parent=self
        )
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        window.destroyed.connect(lambda _=None, n=node_id: self.painter_windows.pop(n, None))
        self.painter_windows[node_id] = window
        window.show()
        return window

    def _viewer_reads(self) -> tuple[Any, Any]:
        """The viewer reads the cache on a worker thread: bind its reads to a snapshot of the
        graph (taken here, on the UI thread), as the artist may go on editing meanwhile."""
        data = fileformat.graph_to_dict(self.graph)
        graph = fileformat.from_dict(data, self.graph.registry).graph
        return partial(self._cached_output, graph=graph), partial(self._keyframe_for, graph=graph)

    def _title_of(self, node_id: str) -> str:
        return self.graph.node(node_id).title if node_id in self.graph else node_id[:8]

    def _keyframe_for(self, node_id: str, graph: Graph | None = None) -> Any:
        """The nearest cached picture upstream of ``node_id`` (breadth first, the ``image``
        input before others): a MotionBrush's keyframe sits behind its RegionMask."""
        import numpy as np

        graph = self.graph if graph is None else graph
        if node_id not in graph:
            return None
        queue, seen = [node_id], {node_id}
        while queue:
            current = queue.pop(0)
            edges = sorted(graph.edges_into(current), key=lambda e: e.dst_port != "image")
            for edge in edges:
                value = (self._cached_output(edge.src_node, graph) or {}).get(edge.src_port)
                if isinstance(value, np.ndarray) and value.ndim == 3:
                    return value
                if edge.src_node not in seen:
                    seen.add(edge.src_node)
                    queue.append(edge.src_node)
        return None

    # -- running ------------------------------------------------------------------------

    def run_all(self) -> bool:
        return self._start(None)

    def run_selected(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            self.statusBar().showMessage("Select the node to render up to", 5000)
            return False
        return self._start(ids)

    def _start(self, targets: list[str] | None) -> bool:
        self.inspector.commit_pending()
        if not self.graph.nodes:
            self.statusBar().showMessage("Nothing to render: add some nodes first", 5000)
            return False
        problem = self.controller.start(self.graph, targets)
        if problem:
            self.statusBar().showMessage(f"Cannot render: {problem}", 8000)
            return False
        self.run_dock.raise_()
        return True

    def cancel(self) -> None:
        if self.scene.wire_active():
            self.scene.cancel_gesture()
        elif self.controller.running:
            self.controller.cancel()
            self.statusBar().showMessage("Cancelling at the next step…", 5000)

    def _running_changed(self, running: bool) -> None:
        self.act_cancel.setEnabled(running)
        self.act_run.setEnabled(not running)
        self.act_run_sel.setEnabled(not running)

    def _on_run_event(self, event: Any) -> None:
        self.run_panel.handle(event)
        kind, node_id = event.kind, event.node_id
        if kind == "run_started":
            for nid in event.node_ids:
                self.scene.set_status(nid, "queued")
        elif kind == "node_started":
            self.scene.set_status(node_id, "running", 0.0)
        elif kind == "node_progress" and event.total:
            self.scene.set_status(node_id, "running", (event.step or 0) / event.total)
        elif kind in RUN_EVENT_STATUS and node_id is not None:
            self.scene.set_status(node_id, RUN_EVENT_STATUS[kind])
            if RUN_EVENT_STATUS[kind] == "cached":
                self._pending_thumbs.add(node_id)
                self._thumb_timer.start()
        elif kind == "run_finished":
            for nid in self.graph.topological_order():
                if self.scene.status(nid) in ("queued", "running"):
                    self.scene.set_status(nid, "stale")
            self._state_timer.start()
            if self.viewer is not None:
                self.viewer.refresh()
            if event.status == "ok":
                took = f" in {event.elapsed:.1f} s" if event.elapsed is not None else ""
                self.statusBar().showMessage(f"Render finished{took}", 10000)
            elif event.status == "failed" and event.message:
                self.statusBar().showMessage(f"Render failed: {event.message}", 10000)

    def _flush_thumbnails(self) -> None:
        ids, self._pending_thumbs = self._pending_thumbs, set()
        self.queries.request_thumbnails(self.graph, ids)

    def _refresh_states(self) -> None:
        if not self.controller.running and self.graph.nodes:
            self.queries.request_states(self.graph)

    def _apply_states(self, states: dict[str, str]) -> None:
        if self.controller.running:
            return
        cached = []
        for node_id, state in states.items():
            if node_id in self.graph and self.scene.status(node_id) != "failed":
                self.scene.set_status(node_id, state)
                if state == "cached" and self.scene.item_for(node_id).thumbnail is None:
                    cached.append(node_id)
        if cached:
            self.queries.request_thumbnails(self.graph, cached)
