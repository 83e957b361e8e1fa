"""Clips still being written: how many frames are ready, and waiting for more.

A node that streams its clip (``NodeSpec.stream_out``) hands the engine its outputs before they
are filled (``ctx.publish``) and says how many frames are written as it goes
(``ctx.frames_ready``); the engine starts the node that reads the clip in frame order
(``NodeSpec.stream_in``) at once. That reader goes through :func:`studio.engine.frames.windows`,
which waits here until the frames of each chunk are ready, so decode, compute and encode of
consecutive nodes overlap. A producer that fails, is cancelled, or returns another clip than it
published breaks the filling, and the waiting reader stops with :class:`StreamBroken`.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from studio.engine.cancel import CancelToken
from studio.graph.spec import Cancelled


class StreamBroken(Exception):
    """The clip a node was reading while it was made will not be finished as published (its
    producer failed, was cancelled, or ended with another clip); the engine decides, from the
    producer's outcome, whether the reader is skipped, cancelled or run again."""


class Filling:
    """The first :attr:`ready` of ``total`` frames of a published clip are written."""

    def __init__(self, total: int, cancel: CancelToken) -> None:
        self.total = total
        self.ready = 0
        self._broken: StreamBroken | None = None
        self._changed = threading.Condition()
        self._cancel = cancel
        cancel.on_cancel(self._wake)

    def advance(self, count: int) -> None:
        """Frames ``0..count-1`` are written (a producer never takes a frame back)."""
        with self._changed:
            if count > self.ready:
                self.ready = min(count, self.total)
                self._changed.notify_all()

    def complete(self) -> None:
        self.advance(self.total)

    def break_off(self, message: str) -> None:
        """Wake every reader with :class:`StreamBroken`: the clip will not be finished as
        published (a reader's result from it is thrown away in any case)."""
        with self._changed:
            if self._broken is None:
                self._broken = StreamBroken(message)
            self._changed.notify_all()

    def wait_for(self, count: int) -> None:
        """Return once frames ``0..count-1`` are written; raises :class:`Cancelled` or
        :class:`StreamBroken` when they never will be."""
        count = min(count, self.total)
        with self._changed:
            while True:
                if self._broken is not None:
                    raise StreamBroken(str(self._broken))
                if self.ready >= count:
                    return
                if self._cancel.cancelled:
                    raise Cancelled()
                self._changed.wait()

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()


# id(published frame array) -> (a weak reference to it, its filling), while its producer runs.
# By id: arrays are not hashable; the weak reference tells a reused id from the array itself.
_fillings: dict[int, tuple[weakref.ref[Any], Filling]] = {}
_lock = threading.Lock()


def track(frames: Any, filling: Filling) -> None:
    with _lock:
        _fillings[id(frames)] = (weakref.ref(frames), filling)


def untrack(frames: Any) -> None:
    with _lock:
        entry = _fillings.get(id(frames))
        if entry is not None and entry[0]() is frames:
            del _fillings[id(frames)]


def wait_for_frames(frames: Any, count: int) -> None:
    """Block until frames ``0..count-1`` of ``frames`` are written; at once for any clip that
    is not being filled (every finished clip)."""
    with _lock:
        entry = _fillings.get(id(frames))
    if entry is not None and entry[0]() is frames:
        entry[1].wait_for(count)
