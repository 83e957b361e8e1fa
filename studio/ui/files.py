"""Recent files, autosave to a recovery file, and the offer to restore after a crash.

The recovery file lives in ``config_dir()/recovery``. It is written every minute while there
are unsaved changes and deleted on a clean save or close, so its presence at start-up means
the last session ended without saving.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

from studio.graph.fileformat import dumps, write_text_atomic
from studio.graph.graph import Graph
from studio.settings import Settings, config_dir

MAX_RECENT = 10
AUTOSAVE_MS = 60_000


class RecentFiles:
    """The most recently opened or saved workflows, newest first, kept in the settings."""

    KEY = "recent_files"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def paths(self) -> list[str]:
        values = self.settings.get(self.KEY, [])
        return [p for p in values if isinstance(p, str)] if isinstance(values, list) else []

    def add(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        paths = [p for p in self.paths() if p != path]
        self.settings.set(self.KEY, [path, *paths][:MAX_RECENT])

    def remove(self, path: str) -> None:
        self.settings.set(self.KEY, [p for p in self.paths() if p != path])


def recovery_dir() -> Path:
    return config_dir() / "recovery"


def recovery_file() -> Path:
    return recovery_dir() / "autosave.json"


def pending_recovery() -> dict[str, Any] | None:
    """What the last session left behind: {"workflow": text, "path": original or "", "saved_at"}.
    None when there is nothing (or only something unreadable) to restore."""
    try:
        data = json.loads(recovery_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("workflow"), str):
        return None
    return data


def discard_recovery() -> None:
    recovery_file().unlink(missing_ok=True)


class Autosaver(QObject):
    """Writes the graph to the recovery file every ``interval_ms`` while it has unsaved edits."""

    def __init__(
        self, window: Any, interval_ms: int = AUTOSAVE_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.window = window  # anything with .graph, .path and .is_dirty()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    def save_now(self) -> bool:
        if not self.window.is_dirty():
            return False
        graph: Graph = self.window.graph
        record = {
            "workflow": dumps(graph),
            "path": str(self.window.path or ""),
            "saved_at": time.time(),
        }
        try:
            write_text_atomic(recovery_file(), json.dumps(record))
        except OSError:
            return False  # a full disk must not interrupt the artist; the next tick retries
        return True
