"""The window's actions (menus, toolbar and shortcuts) in one table-like place."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def make_action(
    parent: QWidget,
    text: str,
    slot: Callable[[], object],
    shortcut: str | QKeySequence.StandardKey | list[str] | None = None,
    tip: str = "",
    *,
    local_to: QWidget | None = None,
) -> QAction:
    """An action; ``local_to`` limits its shortcut to that widget (canvas keys such as Delete
    must not fire while the artist types in the inspector)."""
    action = QAction(text, parent)
    action.triggered.connect(lambda _checked=False: slot())
    if isinstance(shortcut, list):
        action.setShortcuts([QKeySequence(s) for s in shortcut])
    elif shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(
            f"{text.replace('&', '').rstrip('…')}"
            + (f" ({action.shortcut().toString()})" if not action.shortcut().isEmpty() else "")
            + f"\n{tip}"
        )
    if local_to is not None:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        local_to.addAction(action)
    return action
