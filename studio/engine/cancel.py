"""Cooperative cancellation shared between whoever asks (CLI, GUI) and the running nodes."""

from __future__ import annotations

import threading
from collections.abc import Callable


class CancelToken:
    """Set once by :meth:`cancel`; nodes notice at their next ``ctx.progress`` call."""

    def __init__(self) -> None:
        self._event = threading.Event()
        # Reentrant: Ctrl-C's handler may cancel on the thread that holds it in on_cancel.
        self._lock = threading.RLock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once) when the run is cancelled, at once if it already is: for
        a thread blocked on something other than progress, so cancel wakes it."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
