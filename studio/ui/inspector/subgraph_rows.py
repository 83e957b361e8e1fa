"""The inspector's subgraph rows: a subgraph node's blueprint (linked or a copy, and whether
its file changed, with Update), Open and Save as Blueprint; and, inside an open subgraph, a
param's right-click menu to expose it on the subgraph node (or hide it again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph.graph import GraphError, Node
from studio.graph.subgraph import PROXY_TYPES, Exposed
from studio.graph.subgraph_commands import SetExposed, inner_graph
from studio.session import Session
from studio.session.blueprints import UpdateBlueprint, blueprint_status, save_blueprint

Push = Callable[[Any], None]


def add_subgraph_rows(
    parent: QWidget,
    layout: QVBoxLayout,
    session: Session,
    node: Node,
    push: Push,
    say: Callable[[str], None],
    open_subgraph: Callable[[str], None],
) -> None:
    library = session.registry.blueprints
    link = node.subgraph.blueprint
    if link is not None:
        status = blueprint_status(node, library)
        text = {
            "current": "up to date",
            "changed": "its blueprint file changed",
            "missing": "not in any blueprint folder (this copy is kept)",
            None: "an embedded copy",
        }[status]
        label = QLabel(f"Blueprint “{link.name}”: {text}")
        label.setWordWrap(True)
        label.setObjectName("Warning" if status == "changed" else "Dim")
        layout.addWidget(label)
        if status == "changed":
            update = QPushButton("Update to the new version")
            update.setObjectName("UpdateBlueprint")
            update.setToolTip("Take the blueprint file's current content (undoable)")
            update.clicked.connect(lambda: push(UpdateBlueprint(node.id, library.get(link.name))))
            layout.addWidget(update)
    row = QHBoxLayout()
    opener = QPushButton("Open Subgraph")
    opener.setToolTip("Edit inside (or double-click the node)")
    opener.clicked.connect(lambda: open_subgraph(node.id))
    saver = QPushButton("Save as Blueprint…")
    saver.setToolTip("Save this subgraph to the blueprint library for other workflows")
    saver.clicked.connect(lambda: _save_as_blueprint(parent, session, node, say))
    row.addWidget(opener)
    row.addWidget(saver)
    row.addStretch(1)
    layout.addLayout(row)


def _save_as_blueprint(
    parent: QWidget, session: Session, node: Node, say: Callable[[str], None]
) -> None:
    library = session.registry.blueprints
    if library is None:
        say("No blueprint library is set up")
        return
    name, ok = QInputDialog.getText(parent, "Save as Blueprint", "Blueprint name:", text=node.title)
    if not ok or not name.strip():
        return
    try:
        saved = save_blueprint(node, library.save_folder, name)
    except (GraphError, OSError) as exc:
        say(str(exc))
        return
    say(f"Saved blueprint “{saved.name}” to {saved.path}")


def expose_menu(
    label: QLabel, session: Session, node: Node, param: str, say: Callable[[str], None]
) -> None:
    """Right-click a param's label: inside an open subgraph, to show it on the subgraph; on
    a subgraph node, to rename, move or hide an exposed param."""
    if node.subgraph is not None:
        label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        label.customContextMenuRequested.connect(
            lambda pos: _exposed_menu(label, pos, session, node, param, say)
        )
        label.setToolTip(label.toolTip() + "\nRight-click to rename, move or hide it")
        return
    if not session.scope or node.type_id in PROXY_TYPES:
        return
    label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    label.customContextMenuRequested.connect(
        lambda pos: _show_menu(label, pos, session, node, param, say)
    )
    label.setToolTip(label.toolTip() + "\nRight-click to expose it on the subgraph node")


def _show_menu(
    label: QLabel, pos: QPoint, session: Session, node: Node, param: str, say: Callable[[str], None]
) -> None:
    outer_graph = inner_graph(session.graph, session.scope[:-1])
    outer = outer_graph.node(session.scope[-1])
    exposed = list(outer.subgraph.exposed)
    mine = next((e for e in exposed if e.node == node.id and e.param == param), None)
    menu = QMenu(label)
    if mine is None:
        taken = {e.name for e in exposed}
        name, index = param, 2
        while name in taken:
            name, index = f"{param}_{index}", index + 1
        action = menu.addAction(f"Expose “{param}” on {outer.title}")
        step = SetExposed(outer.id, [*exposed, Exposed(name, node.id, param)])
    else:
        action = menu.addAction(f"Hide “{mine.name}” from {outer.title}")
        step = SetExposed(outer.id, [e for e in exposed if e is not mine])
    step.label = "Expose parameter" if mine is None else "Hide parameter"
    action.triggered.connect(lambda: _push_above(session, step, say))
    menu.popup(label.mapToGlobal(pos))


def _push_above(session: Session, step: SetExposed, say: Callable[[str], None]) -> None:
    # The subgraph node lives one level up from the graph on the canvas.
    try:
        session.push_at(session.scope[:-1], step)
    except (GraphError, ValueError) as exc:
        say(str(exc))


def _exposed_menu(
    label: QLabel, pos: QPoint, session: Session, node: Node, name: str, say: Callable[[str], None]
) -> None:
    exposed = list(node.subgraph.exposed)
    index = next(i for i, e in enumerate(exposed) if e.name == name)
    menu = QMenu(label)

    def push(order: list[Exposed], text: str, defaults: dict[str, Any] | None = None) -> None:
        step = SetExposed(node.id, order, defaults or {}, label=text)
        try:
            session.push_in_view(step)
        except (GraphError, ValueError) as exc:
            say(str(exc))

    def rename() -> None:
        new, ok = QInputDialog.getText(label, "Rename parameter", "Name:", text=name)
        new = new.strip()
        if ok and new and new != name:
            item = exposed[index]
            renamed = Exposed(new, item.node, item.param, item.label if item.label else "")
            value = node.param(name)
            push(
                [*exposed[:index], renamed, *exposed[index + 1 :]], "Rename parameter", {new: value}
            )

    def move(delta: int) -> None:
        order = list(exposed)
        order.insert(index + delta, order.pop(index))
        push(order, "Reorder parameters")

    menu.addAction("Rename…", rename)
    up = menu.addAction("Move Up", lambda: move(-1))
    up.setEnabled(index > 0)
    down = menu.addAction("Move Down", lambda: move(1))
    down.setEnabled(index < len(exposed) - 1)
    menu.addAction(
        f"Hide from {node.title}",
        lambda: push([e for e in exposed if e.name != name], "Hide parameter"),
    )
    menu.popup(label.mapToGlobal(pos))
