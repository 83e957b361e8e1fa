"""One QUndoStack for every edit: each entry wraps a model command from studio.graph.commands.

Commands are applied before they are pushed, so a refused edit raises to the caller and never
enters the stack. Consecutive changes that share a ``merge_key`` (one slider drag, one typing
burst) merge into a single undo step.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoStack

from studio.graph.commands import Command, SetParam
from studio.graph.graph import Graph

_MERGE_ID = 4242


class _Entry(QUndoCommand):
    def __init__(self, graph: Graph, command: Command, merge_key: str | None) -> None:
        super().__init__(command.label)
        # The graph, not the UndoStack: an entry referring back to the stack that owns it
        # makes a cycle the garbage collector tears down in the wrong order (a segfault).
        self._graph = graph
        self.command = command
        self.merge_key = merge_key
        self._first = True

    def redo(self) -> None:
        if self._first:  # already applied by UndoStack.push
            self._first = False
            return
        self.command.apply(self._graph)

    def undo(self) -> None:
        self.command.revert(self._graph)

    def id(self) -> int:
        return _MERGE_ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt name)
        if not isinstance(other, _Entry) or other.merge_key != self.merge_key:
            return False
        mine, theirs = self.command, other.command
        if isinstance(mine, SetParam) and isinstance(theirs, SetParam):
            if (mine.node_id, mine.name) == (theirs.node_id, theirs.name):
                mine.value = theirs.value  # keep our _old: undo returns to before the drag
                return True
        return False


class UndoStack(QObject):
    """The editor's undo history, bound to the graph being edited."""

    def __init__(self, graph: Graph, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.stack = QUndoStack(self)

    def push(self, command: Command, merge_key: str | None = None) -> None:
        """Apply ``command`` to the graph and record it; raises if the model refuses it."""
        command.apply(self.graph)
        self.stack.push(_Entry(self.graph, command, merge_key))

    def set_graph(self, graph: Graph) -> None:
        """Edit another graph (after New/Open): the old history no longer applies."""
        self.stack.clear()
        self.graph = graph
        self.stack.setClean()

    def undo(self) -> None:
        self.stack.undo()

    def redo(self) -> None:
        self.stack.redo()

    def is_clean(self) -> bool:
        return self.stack.isClean()

    def set_clean(self) -> None:
        self.stack.setClean()
