"""The canvas's edit commands (delete, clipboard, duplicate, bypass, backdrops, notes) and its
context menu: each builds one model command and pushes it through the session's history."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from studio.graph import edits as editing
from studio.graph import fileformat
from studio.graph.commands import AddSlot, Macro, RemoveSlot, SetNodeAttribute, UpdateGroup
from studio.graph.graph import Node
from studio.graph.spec import slot_index
from studio.graph.subgraph_commands import ExpandSubgraph, MakeSubgraph
from studio.session import Session
from studio.ui.canvas.arrange import place_clear
from studio.ui.canvas.port_item import PortSlot
from studio.ui.canvas.scene import NodeScene
from studio.ui.canvas.view import NodeView
from studio.ui.painter import PAINTABLE

Say = Callable[[str, int], None]


class CanvasCommands:
    """Edits of the selection on ``scene``; ``say`` shows a message in the status bar."""

    def __init__(
        self, parent: QWidget, session: Session, scene: NodeScene, view: NodeView, say: Say
    ) -> None:
        self.parent, self.session, self.scene, self.view, self.say = (
            parent,
            session,
            scene,
            view,
            say,
        )

    @property
    def graph(self):  # noqa: ANN201 (the session's current Graph)
        return self.session.view_graph  # inside the open subgraph, if one is

    def delete_selected(self) -> None:
        self.scene.push(
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
        self.say(f"Copied {len(nodes)} node(s)", 4000)
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selected()

    def paste(self, at: QPointF | None = None) -> list[str]:
        return self.paste_text(QGuiApplication.clipboard().text(), at)

    def paste_text(self, text: str, at: QPointF | None = None) -> list[str]:
        if '"nodes"' not in text:
            self.say("The clipboard holds no Studio nodes", 5000)
            return []
        try:
            where = (at.x(), at.y()) if at is not None else None
            command, ids, message = editing.paste(self.graph, text, where)
            if command is not None:
                command = place_clear(self.scene, command)  # never on top of other nodes
        except fileformat.WorkflowFileError as exc:
            self.say(f"Cannot paste: {exc}", 8000)
            return []
        if self.scene.push(command):
            self.scene.select(ids)
        self.say(message, 5000)
        return ids

    def duplicate(self) -> list[str]:
        nodes, groups = self.scene.selected_node_ids(), self.scene.selected_group_ids()
        if not nodes and not groups:
            return []
        return self.paste_text(editing.selection_to_json(self.graph, nodes, groups))

    # -- subgraphs ----------------------------------------------------------------------

    def make_subgraph(self) -> None:
        """Collapse the selection into one subgraph node (one undo step)."""
        ids = self.scene.selected_node_ids()
        if not ids:
            self.say("Select the nodes to put in a subgraph first", 5000)
            return
        command = MakeSubgraph(ids)
        if self.scene.push(command):
            self.scene.select([command.node_id])
            self.say(f"Made a subgraph of {len(ids)} nodes: double-click it to open it", 5000)

    def expand_subgraph(self) -> None:
        subgraphs = [n for n in self.scene.selected_node_ids() if self.graph.node(n).subgraph]
        if not subgraphs:
            self.say("Select a subgraph node to expand", 5000)
            return
        steps = [ExpandSubgraph(n) for n in subgraphs]
        self.scene.push(steps[0] if len(steps) == 1 else Macro(steps, label="Expand subgraphs"))

    def open_subgraph(self, node_id: str | None = None) -> bool:
        """Show the inside of ``node_id`` (default: the one selected subgraph)."""
        if node_id is None:
            ids = self.scene.selected_node_ids()
            node_id = ids[0] if len(ids) == 1 else None
        if (
            node_id is None
            or node_id not in self.graph
            or self.graph.node(node_id).subgraph is None
        ):
            self.say("Select one subgraph node to open", 5000)
            return False
        self.session.open_subgraph(node_id)
        self.view.frame_all_or_everything()
        return True

    def leave_subgraph(self) -> None:
        if self.session.scope:
            left = self.session.scope[-1]
            self.session.set_scope(self.session.scope[:-1])
            self.scene.select([left])

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
            self.scene.push(
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
        self.scene.push(editing.new_group("backdrop", bounds))

    def add_note(self) -> None:
        pos = self.view.cursor_scene_pos()
        self.scene.push(editing.new_group("note", (pos.x(), pos.y(), 260.0, 120.0)))

    def edit_group(self, group_id: str) -> None:
        group = self.graph.group(group_id)
        if group.kind == "note":
            value, ok = QInputDialog.getMultiLineText(self.parent, "Note", "Text:", group.text)
            field = "text"
        else:
            value, ok = QInputDialog.getText(self.parent, "Backdrop", "Title:", text=group.title)
            field = "title"
        if ok:
            self.scene.push(UpdateGroup(group_id, {field: value}, label=f"Edit {group.kind}"))

    def context_menu(
        self,
        scene_pos: QPointF,
        global_pos: QPoint,
        node_actions: list[QAction],
        empty_actions: list[QAction],
        open_painter: Callable[[str], object],
    ) -> None:
        menu = QMenu(self.parent)
        item = self.scene.node_at(scene_pos)
        if item is not None:
            if not item.isSelected():
                self.scene.select([item.node.id])
            menu.addActions(node_actions)
            if item.node.type_id in PAINTABLE:
                menu.addAction("Open Painter…", lambda: open_painter(item.node.id))
            self._slot_actions(menu, item.node, item.port_at(scene_pos))
        else:
            menu.addAction("Add Node…", lambda: self.view.open_search(scene_pos))
            menu.addAction("Add Reroute Dot", lambda: self.view.create_node("Reroute", scene_pos))
            menu.addActions(empty_actions)
            menu.addAction("Paste Here", lambda: self.paste(scene_pos))
        menu.exec(global_pos)

    def _slot_actions(self, menu: QMenu, node: Node, slot: PortSlot | None) -> None:
        """Add/remove entries for a node's variadic inputs (a Sequence's clips)."""
        for port in node.spec.variadic_inputs() if node.spec is not None else ():
            menu.addAction(
                f"Add {port.name} Input",
                lambda p=port.name: self.scene.push(AddSlot(node.id, p)),
            )
            index = slot_index(port.name, slot.name) if slot is not None else None
            if index is not None and slot is not None and slot.side == "in":
                menu.addAction(
                    f"Remove Input {slot.name}",
                    lambda p=port.name, i=index: self.scene.push(RemoveSlot(node.id, p, i)),
                )
