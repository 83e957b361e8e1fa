"""The undo history: model commands, applied once, undone and redone in order.

Qt-free, so the CLI, tests and every view share one history. Consecutive edits that share a
``merge_key`` (one slider drag, one typing burst) merge into a single step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from studio.graph.commands import Command, SetParam
from studio.graph.graph import Graph
from studio.graph.subgraph_commands import InSubgraph


@dataclass
class _Step:
    command: Command
    merge_key: str | None


class History:
    """Done steps below ``index``, undone ones above it; ``clean`` is the saved position."""

    def __init__(self, graph: Graph, on_change: Callable[[], None] = lambda: None) -> None:
        self.graph = graph
        self._steps: list[_Step] = []
        self._index = 0
        self._clean: int | None = 0  # None: the saved state was dropped from the history
        self._on_change = on_change

    # -- editing ----------------------------------------------------------------------------

    def push(self, command: Command, merge_key: str | None = None) -> None:
        """Apply ``command`` and record it; raises (and records nothing) if the model refuses."""
        command.apply(self.graph)
        top = self._steps[self._index - 1] if self._index else None
        if (
            top is not None
            and merge_key is not None
            and top.merge_key == merge_key
            and self._index == len(self._steps)
            and self._clean != self._index  # never merge into the saved state
            and _merge(top.command, command)
        ):
            self._on_change()
            return
        del self._steps[self._index :]
        if self._clean is not None and self._clean > self._index:
            self._clean = None
        self._steps.append(_Step(command, merge_key))
        self._index += 1
        self._on_change()

    def undo(self) -> bool:
        if not self._index:
            return False
        self._index -= 1
        self._steps[self._index].command.revert(self.graph)
        self._on_change()
        return True

    def redo(self) -> bool:
        if self._index == len(self._steps):
            return False
        self._steps[self._index].command.apply(self.graph)
        self._index += 1
        self._on_change()
        return True

    def reset(self, graph: Graph) -> None:
        """Another graph (New/Open): the old history no longer applies."""
        self.graph = graph
        self._steps.clear()
        self._index = 0
        self._clean = 0
        self._on_change()

    # -- state ------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self._steps)

    @property
    def index(self) -> int:
        return self._index

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._steps)

    def undo_label(self) -> str:
        return self._steps[self._index - 1].command.label if self._index else ""

    def redo_label(self) -> str:
        return self._steps[self._index].command.label if self.can_redo() else ""

    def labels(self) -> list[str]:
        return [s.command.label for s in self._steps]

    def is_clean(self) -> bool:
        return self._clean == self._index

    def set_clean(self) -> None:
        self._clean = self._index
        self._on_change()

    def set_unsaved(self) -> None:
        """No position in this history is saved (work restored from a recovery file)."""
        self._clean = None
        self._on_change()


def _merge(mine: Command, theirs: Command) -> bool:
    """Fold ``theirs`` into ``mine`` (keeping mine's old value, so undo returns to before)."""
    if isinstance(mine, InSubgraph) and isinstance(theirs, InSubgraph):
        # A slider dragged inside an open subgraph: one step, like outside.
        return list(mine.path) == list(theirs.path) and _merge(mine.command, theirs.command)
    if isinstance(mine, SetParam) and isinstance(theirs, SetParam):
        if (mine.node_id, mine.name) == (theirs.node_id, theirs.name):
            mine.value = theirs.value
            return True
    return False
