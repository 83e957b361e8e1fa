"""Cooperative cancellation shared between whoever asks (CLI, GUI) and the running nodes."""

from __future__ import annotations

import threading


class CancelToken:
    """Set once by :meth:`cancel`; nodes notice at their next ``ctx.progress`` call."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
