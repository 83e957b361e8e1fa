"""The editor window's actions, menus and toolbar, built in one place from the window's parts.

Canvas keys (Delete, F, Home, Ctrl+C…) are local to the node graph: with the viewer focused,
Home goes to the loop start and F fits the picture instead. Undo keeps a fixed label (the
step it would undo is in the tooltip) so the toolbar never shifts when the history changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from studio.ui.actions import make_action
from studio.ui.workspace import Preset

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

StandardKey = QKeySequence.StandardKey


def build_actions(w: MainWindow) -> None:
    bar, view, edit, files = w.menuBar(), w.view, w.edit, w.files
    a = make_action
    w.act_new = a(w, "&New", files.new, StandardKey.New)
    w.act_open = a(w, "&Open…", files.open_dialog, StandardKey.Open)
    w.act_save = a(w, "&Save", files.save, StandardKey.Save)
    w.act_save_as = a(w, "Save &As…", files.save_as, "Ctrl+Shift+S")
    w.act_quit = a(w, "&Quit", w.close, StandardKey.Quit)
    w.recent_menu = QMenu("Open &Recent", w)
    w.recent_menu.aboutToShow.connect(lambda: files.fill_recent(w.recent_menu))
    w.templates_menu = QMenu("New from &Template", w)
    w.templates_menu.aboutToShow.connect(lambda: files.fill_templates(w.templates_menu))
    menu = bar.addMenu("&File")
    menu.addAction(w.act_new)
    menu.addMenu(w.templates_menu)
    menu.addAction(w.act_open)
    menu.addMenu(w.recent_menu)
    menu.addSeparator()
    menu.addActions([w.act_save, w.act_save_as])
    menu.addSeparator()
    w.act_reveal_outputs = a(
        w, "Reveal &Renders Folder", w.reveal_outputs, tip="Show where renders are written"
    )
    menu.addAction(w.act_reveal_outputs)
    menu.addSeparator()
    menu.addAction(w.act_quit)

    w.act_undo = a(w, "&Undo", w.session.undo, StandardKey.Undo)
    w.act_redo = a(w, "&Redo", w.session.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
    w.act_cut = a(w, "Cu&t", edit.cut, StandardKey.Cut, local_to=view)
    w.act_copy = a(w, "&Copy", edit.copy, StandardKey.Copy, local_to=view)
    w.act_paste = a(w, "&Paste", edit.paste, StandardKey.Paste, local_to=view)
    w.act_duplicate = a(w, "&Duplicate", edit.duplicate, "Ctrl+D", local_to=view)
    w.act_delete = a(w, "De&lete", edit.delete_selected, ["Delete", "Backspace"], local_to=view)
    w.act_select_all = a(w, "Select &All", edit.select_all, StandardKey.SelectAll, local_to=view)
    w.act_bypass = a(
        w,
        "&Bypass",
        edit.toggle_bypass,
        "Ctrl+B",
        local_to=view,
        tip="Pass the selected nodes' inputs straight through",
    )
    w.act_add = a(
        w,
        "Add &Node…",
        lambda: view.open_search(view.cursor_scene_pos()),
        tip="Search every node type (Tab on the graph)",
    )
    w.act_backdrop = a(
        w,
        "Add &Backdrop",
        edit.add_backdrop,
        "Ctrl+G",
        local_to=view,
        tip="A titled frame around the selected nodes",
    )
    w.act_note = a(w, "Add N&ote", edit.add_note)
    w.act_tidy = a(
        w,
        "&Tidy",
        view.tidy,
        "Ctrl+L",
        local_to=view,
        tip="Lay out the selected nodes (or all) in columns, inputs on the left",
    )
    w.act_reroute = a(
        w, "Add &Reroute Dot", lambda: view.create_node("Reroute", view.cursor_scene_pos())
    )
    w.act_make_subgraph = a(
        w,
        "&Make Subgraph",
        edit.make_subgraph,
        "Ctrl+Shift+G",
        local_to=view,
        tip="Collapse the selected nodes into one node; wires across the border become ports",
    )
    w.act_expand_subgraph = a(
        w,
        "E&xpand Subgraph",
        edit.expand_subgraph,
        "Ctrl+Alt+G",
        local_to=view,
        tip="Put a subgraph's nodes back in its place",
    )
    w.act_open_subgraph = a(
        w,
        "&Open Subgraph",
        edit.open_subgraph,
        "Ctrl+E",
        local_to=view,
        tip="Edit inside the selected subgraph (or double-click it)",
    )
    w.act_leave_subgraph = a(
        w,
        "&Leave Subgraph",
        edit.leave_subgraph,
        "Ctrl+Shift+E",
        local_to=view,
        tip="Back out to the graph around this subgraph",
    )
    menu = bar.addMenu("&Edit")
    menu.addActions([w.act_undo, w.act_redo])
    menu.addSeparator()
    menu.addActions(
        [w.act_cut, w.act_copy, w.act_paste, w.act_duplicate, w.act_delete, w.act_select_all]
    )
    menu.addSeparator()
    menu.addActions(
        [w.act_add, w.act_backdrop, w.act_note, w.act_reroute, w.act_bypass, w.act_tidy]
    )
    menu.addSeparator()
    menu.addActions(
        [
            w.act_make_subgraph,
            w.act_expand_subgraph,
            w.act_open_subgraph,
            w.act_leave_subgraph,
        ]
    )

    w.act_frame_all = a(
        w,
        "Frame &All",
        view.frame_all_or_everything,
        "Home",
        local_to=view,
        tip="Readable zoom from the graph's start; press again to see all of it",
    )
    w.act_frame_sel = a(w, "Frame &Selected", view.frame_selected, "F", local_to=view)
    menu = bar.addMenu("&View")
    menu.addActions([w.act_frame_all, w.act_frame_sel])
    menu.addSeparator()
    w.preset_actions: dict[Preset, QAction] = {}
    for number, preset in enumerate(Preset, start=1):
        action = a(
            w,
            f"{preset.value} Workspace",
            lambda p=preset: w.workspace.apply(p),
            f"Ctrl+{number}",
            tip=f"Arrange the panels for {preset.value.lower()}ing",
        )
        w.preset_actions[preset] = action
        menu.addAction(action)
    w.act_reset_layout = a(
        w,
        "&Reset Layout",
        lambda: w.workspace.apply(w.workspace.preset),
        tip="Put every panel back where the current workspace keeps it",
    )
    menu.addAction(w.act_reset_layout)
    menu.addSeparator()
    for dock in w.workspace.docks():
        menu.addAction(dock.toggleViewAction())
    w.view_menu = menu  # other panels add their toggles here

    w.act_run = a(w, "&Run", w.run_all, ["Ctrl+Return", "Ctrl+Enter"], tip="Render every output")
    w.act_run_sel = a(
        w,
        "Run to &Selected",
        w.run_selected,
        ["Ctrl+Shift+Return", "Ctrl+Shift+Enter"],
        tip="Render only what the selected nodes need",
    )
    w.act_cancel = a(w, "&Cancel", w.cancel, "Esc", tip="Stop the render")
    w.act_cancel.setEnabled(False)
    menu = bar.addMenu("&Run")
    menu.addActions([w.act_run, w.act_run_sel, w.act_cancel])

    w.act_shortcuts = a(
        w, "&Keyboard Shortcuts", w.show_shortcuts, ["F1", "?"], tip="Every key, by panel"
    )
    w.act_shortcuts.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    menu = bar.addMenu("&Help")
    menu.addAction(w.act_shortcuts)

    tools = w.addToolBar("Main")
    tools.setObjectName("toolbar")
    tools.setMovable(False)
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    tools.addActions([w.act_new, w.act_open, w.act_save])
    tools.addSeparator()
    tools.addActions([w.act_undo, w.act_redo])
    tools.addSeparator()
    tools.addActions([w.act_add, w.act_frame_all])
    tools.addSeparator()
    tools.addActions([w.act_run, w.act_run_sel, w.act_cancel])
    run_button = tools.widgetForAction(w.act_run)
    if run_button is not None:
        run_button.setObjectName("RunButton")
    w.toolbar = tools


def update_history_actions(w: MainWindow) -> None:
    """Enable Undo/Redo and name the step in the tooltip (the label itself never changes)."""
    history = w.session.history
    for action, can, label, verb in (
        (w.act_undo, history.can_undo(), history.undo_label(), "Undo"),
        (w.act_redo, history.can_redo(), history.redo_label(), "Redo"),
    ):
        action.setEnabled(can)
        keys = action.shortcut().toString()
        action.setToolTip(f"{verb} {label}".strip() + (f" ({keys})" if keys else ""))
        action.setStatusTip(f"{verb} {label}".strip() if can else f"Nothing to {verb.lower()}")
