"""The keyboard shortcut sheet (F1 or ?), generated from the window's actions and the viewer's
key table, so it lists exactly the keys that work and where they work."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from studio.ui.viewer.timeline import TRANSPORT_KEYS

# Keys the views handle themselves (not actions): the canvas's and the picture's.
VIEW_KEYS = {
    "Node graph": (
        ("Tab", "Search for a node to add"),
        ("Double-click a subgraph", "Open it to edit inside"),
        ("Space + drag, middle drag", "Pan"),
        ("Wheel", "Zoom"),
    ),
    "Viewer": (("F", "Fit the frame"), ("1", "One image pixel per screen pixel")),
}


def shortcut_rows(window: QMainWindow) -> dict[str, list[tuple[str, str]]]:
    """{section: [(keys, what it does)]}: the window's actions with a shortcut, grouped by
    where they work (the node graph's keys only work with the graph focused)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    seen: set[int] = set()
    actions = window.findChildren(QAction)
    for action in actions:
        if id(action) in seen or not action.shortcuts():
            continue
        seen.add(id(action))
        keys = ", ".join(
            s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()
        )
        local = action.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut
        section = "Node graph" if local else "Anywhere"
        sections.setdefault(section, []).append((keys, action.text().replace("&", "")))
    for section, rows in VIEW_KEYS.items():
        sections.setdefault(section, []).extend(rows)
    sections.setdefault("Viewer", []).extend((k[2], k[3]) for k in TRANSPORT_KEYS)
    return sections


class ShortcutSheet(QDialog):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard Shortcuts")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Keys", "Does"])
        self.tree.setRootIsDecorated(False)
        for section, rows in shortcut_rows(window).items():
            head = QTreeWidgetItem([section, ""])
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            self.tree.addTopLevelItem(head)
            for keys, text in rows:
                self.tree.addTopLevelItem(QTreeWidgetItem([f"   {keys}", text]))
        self.tree.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(560, 640)
