"""Autosave: a timer that asks the session to write unsaved work to the recovery file.

The recovery file itself, recent files and the restore offer's data live in
:mod:`studio.session.files` (no Qt).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from studio.session import Session
from studio.session.files import recovery_file

AUTOSAVE_MS = 60_000


class Autosaver(QObject):
    """Every ``interval_ms``, writes the session's unsaved edits to the recovery file."""

    def __init__(
        self, session: Session, interval_ms: int = AUTOSAVE_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    def save_now(self) -> bool:
        return self.session.autosave(recovery_file())
