"""Recent files and the recovery file that autosave writes (Qt-free; a timer in the UI calls
:meth:`studio.session.Session.autosave`).

The recovery file lives in ``config_dir()/recovery``. It is written while there are unsaved
changes and deleted on a clean save or close, so its presence at start-up means the last
session ended without saving.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.settings import Settings, config_dir

MAX_RECENT = 10


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
