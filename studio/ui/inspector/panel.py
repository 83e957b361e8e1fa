"""The inspector panel: the selected node's title, help, bypass and one editor per param.

Edits become SetParam / SetNodeAttribute commands in the session's history; the panel follows
the model's events, so undo and edits made elsewhere show up here at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.engine.memory_estimate import describe_node
from studio.graph.commands import SetNodeAttribute, SetParam
from studio.graph.graph import GraphError, GraphEvent, GraphEventKind
from studio.graph.seeds import SeedControl, SetSeedControl
from studio.session import Session, SessionEvent, SessionEventKind
from studio.ui.bridge import GraphBridge, SessionBridge
from studio.ui.inspector.subgraph_rows import add_subgraph_rows, expose_menu
from studio.ui.inspector.widgets import ParamEditor, SeedEditor, make_editor
from studio.ui.painter import PAINTABLE


class Inspector(QScrollArea):
    """Shows and edits one node. ``open_painter`` asks the window to open the painter."""

    open_painter = Signal(str)
    output_requested = Signal(str, bool)  # node id, reveal (True) or open (False) its render
    status_message = Signal(str)
    open_subgraph = Signal(str)  # node id of a subgraph to edit inside

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.node_id: str | None = None
        self.graph = session.graph
        self.editors: dict[str, ParamEditor] = {}
        self.title_field: QLineEdit | None = None
        self.bypass_box: QCheckBox | None = None
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setObjectName("Inspector")
        self._bridge = GraphBridge(self.graph, self)
        self._bridge.event.connect(self._on_event)
        self._session_bridge = SessionBridge(session, self)
        self._session_bridge.event.connect(self._on_session_event)
        self.show_node(None)

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind is SessionEventKind.DRAFT_CHANGED:
            self.show_node(self.node_id)  # show (or hide) what the node's draft does
        if event.kind in (SessionEventKind.GRAPH_REPLACED, SessionEventKind.SCOPE_CHANGED):
            self._bridge.close()
            self.node_id = None  # the old graph's node: nothing to commit into the new one
            self.graph = self.session.view_graph
            self._bridge = GraphBridge(self.graph, self)
            self._bridge.event.connect(self._on_event)
            self.show_node(None)

    # -- building -----------------------------------------------------------------------

    def commit_pending(self) -> None:
        for editor in self.editors.values():
            editor.commit_pending()

    def show_node(self, node_id: str | None, selected_count: int = 1) -> None:
        if self.node_id is not None and self.node_id in self.graph:
            self.commit_pending()
        self.node_id = node_id if node_id in self.graph else None
        self.editors = {}
        self.title_field = None
        self.bypass_box = None
        self.memory_label: QLabel | None = None
        page = QWidget()
        page.setObjectName("InspectorPage")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        if self.node_id is None:
            text = (
                f"{selected_count} nodes selected"
                if selected_count > 1
                else "Select a node to edit its settings."
            )
            hint = QLabel(text)
            hint.setObjectName("Dim")
            hint.setWordWrap(True)
            layout.addWidget(hint)
            layout.addStretch(1)
            self.setWidget(page)
            return
        node = self.graph.node(self.node_id)
        self.title_field = QLineEdit(node.title)
        self.title_field.setObjectName("InspectorTitle")
        self.title_field.setToolTip("The node's name on the canvas")
        self.title_field.editingFinished.connect(self._rename)
        layout.addWidget(self.title_field)
        spec = node.spec
        kind = QLabel(
            f"{spec.title}  ·  {spec.category}" if spec else f"Unknown node type {node.type_id!r}"
        )
        kind.setObjectName("Dim")
        layout.addWidget(kind)
        if spec is None:
            note = QLabel(
                "This node type is not installed. Its settings are kept and saved "
                "back unchanged, but it cannot run."
            )
            note.setWordWrap(True)
            note.setObjectName("Warning")
            layout.addWidget(note)
            layout.addStretch(1)
            self.setWidget(page)
            return
        if spec.help:
            help_label = QLabel(spec.help)
            help_label.setWordWrap(True)
            help_label.setObjectName("Help")
            layout.addWidget(help_label)
        if self.session.draft is not None:
            draft = QLabel(f"In Draft: {spec.draft_help or 'runs as in Final'}")
            draft.setWordWrap(True)
            draft.setObjectName("DraftHelp")
            draft.setToolTip("What this node does differently in Draft (Run > Draft)")
            layout.addWidget(draft)
        self.bypass_box = QCheckBox("Bypass (pass the input through)")
        self.bypass_box.setChecked(node.bypass)
        self.bypass_box.toggled.connect(self._set_bypass)
        layout.addWidget(self.bypass_box)
        if spec.output_node:
            layout.addLayout(self._output_buttons(self.node_id))
        if node.subgraph is not None:
            add_subgraph_rows(
                self,
                layout,
                self.session,
                node,
                self._push,
                self.status_message.emit,
                self.open_subgraph.emit,
            )
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)
        values = node.params
        for param in spec.params:
            editor = make_editor(param, has_painter=node.type_id in PAINTABLE)
            editor.set_value(values.get(param.name, param.default))
            editor.edited.connect(self._param_setter(param.name))
            if isinstance(editor, SeedEditor):
                editor.set_control(node.seed_control.get(param.name, SeedControl.FIXED))
                editor.control_changed.connect(self._seed_control_setter(param.name))
            if hasattr(editor, "open_painter"):
                editor.open_painter.connect(lambda nid=self.node_id: self.open_painter.emit(nid))
            label = QLabel(param.display_name)
            label.setToolTip(param.help)
            expose_menu(label, self.session, node, param.name, self.status_message.emit)
            form.addRow(label, editor)
            self.editors[param.name] = editor
        layout.addLayout(form)

        if spec.param("precision") is not None and spec.param("model") is not None:
            # Estimated peak memory of the chosen model, precision and size (never measured).
            self.memory_label = QLabel()
            self.memory_label.setWordWrap(True)
            self.memory_label.setObjectName("Help")
            layout.addWidget(self.memory_label)
            self._show_memory_estimate()
        layout.addStretch(1)
        self.setWidget(page)

    def _output_buttons(self, node_id: str) -> QHBoxLayout:
        """Open / Reveal the file this Save node rendered last."""
        row = QHBoxLayout()
        self.open_output_button = QPushButton("Open Render")
        self.open_output_button.setToolTip("Open the file this node wrote last")
        self.open_output_button.clicked.connect(lambda: self.output_requested.emit(node_id, False))
        self.reveal_output_button = QPushButton("Reveal")
        self.reveal_output_button.setToolTip("Show the file this node wrote last in its folder")
        self.reveal_output_button.clicked.connect(lambda: self.output_requested.emit(node_id, True))
        row.addWidget(self.open_output_button)
        row.addWidget(self.reveal_output_button)
        row.addStretch(1)
        return row

    def _show_memory_estimate(self) -> None:
        if self.memory_label is None or self.node_id is None:
            return
        node = self.graph.node(self.node_id)
        model = node.spec.param("model") if node.spec is not None else None
        text = describe_node(dict(node.params), model.model_kind if model else "")
        self.memory_label.setText(text)
        self.memory_label.setVisible(bool(text))

    # -- view -> model ------------------------------------------------------------------

    def _param_setter(self, name: str) -> Callable[[Any, str | None], None]:
        def set_value(value: Any, merge_key: str | None) -> None:
            if self.node_id is None:
                return
            node = self.graph.node(self.node_id)
            if name in node.params_view() and node.param(name) == value:
                # Enter, then focus leaving the field, both finish the same edit: the second
                # changes nothing and must not become an undo step that undoes nothing.
                return
            key = f"{self.node_id}:{merge_key}" if merge_key else None
            self._push(
                SetParam(self.node_id, name, value, label=f"Change {self._display(name)}"), key
            )

        return set_value

    def _seed_control_setter(self, name: str) -> Callable[[str], None]:
        def set_mode(mode: str) -> None:
            if self.node_id is not None:
                self._push(SetSeedControl(self.node_id, name, SeedControl(mode)))

        return set_mode

    def _display(self, name: str) -> str:
        node = self.graph.node(self.node_id) if self.node_id else None
        param = node.spec.param(name) if node and node.spec else None
        return param.display_name.lower() if param else name

    def _push(self, command: Any, merge_key: str | None = None) -> None:
        try:
            self.session.push_in_view(command, merge_key)
        except (GraphError, ValueError) as exc:
            self.status_message.emit(str(exc))
            self.show_node(self.node_id)  # show the model's value again

    def _rename(self) -> None:
        if self.node_id is None or self.title_field is None:
            return
        title = self.title_field.text().strip()
        if title and title != self.graph.node(self.node_id).title:
            self._push(SetNodeAttribute(self.node_id, "title", title, label="Rename node"))

    def _set_bypass(self, on: bool) -> None:
        if self.node_id is not None and self.graph.node(self.node_id).bypass != on:
            self._push(
                SetNodeAttribute(self.node_id, "bypass", on, label="Bypass" if on else "Un-bypass")
            )

    # -- model -> view ------------------------------------------------------------------

    def _on_event(self, event: GraphEvent) -> None:
        if self.node_id is None:
            return
        gone = (GraphEventKind.NODE_REMOVED, GraphEventKind.CLEARED)
        if event.kind in gone and event.node_id in (self.node_id, None):
            self.show_node(None)
            return
        if event.kind is not GraphEventKind.NODE_CHANGED or event.node_id != self.node_id:
            return
        node = self.graph.node(self.node_id)
        if event.field == "params" and event.param in self.editors:
            self.editors[event.param].set_value(node.param(event.param))
            if event.param in ("model", "precision", "width", "height", "frames"):
                self._show_memory_estimate()
        elif event.field == "seed_control":
            for name, editor in self.editors.items():
                if isinstance(editor, SeedEditor):
                    editor.set_control(node.seed_control.get(name, SeedControl.FIXED))
        elif event.field in ("spec", "subgraph"):  # a subgraph's exposed params changed
            self.show_node(self.node_id)
        elif event.field == "title" and self.title_field is not None:
            self.title_field.setText(node.title)
        elif event.field == "bypass" and self.bypass_box is not None:
            self.bypass_box.blockSignals(True)
            self.bypass_box.setChecked(node.bypass)
            self.bypass_box.blockSignals(False)
