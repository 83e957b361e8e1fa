"""Reads what the viewer shows off the UI thread.

Asking the engine for a node's outputs can take seconds: a clip that is only in the disk cache
has every chunk checksummed before it is handed out. :class:`OutputLoader` does that on a worker
thread (the same mechanism as :mod:`studio.ui.queries`), along with the keyframe a mask is shown
over and the frame under the playhead, and hands the result back with a queued signal. Each
request gets a token; a result whose token is no longer the latest is dropped, so a slow load
never overwrites the node the artist moved on to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.graph.types import Video
from studio.ui.viewer.frame_source import as_rgb

OutputSource = Callable[[str], "dict[str, Any] | None"]
ImageFor = Callable[[str], "np.ndarray | None"]
# Called on the UI thread as a load starts; returns the functions the worker calls (for instance
# bound to a snapshot of the graph, so the artist can keep editing meanwhile).
Bind = Callable[[], "tuple[OutputSource, ImageFor | None]"]


def showable(outputs: dict[str, Any]) -> list[str]:
    """Ports whose values the picture can show: clips first, then images, then masks."""

    def rank(port: str) -> int:
        value = outputs[port]
        return 0 if isinstance(value, Video) else (2 if value.ndim == 2 else 1)

    ports = [
        p
        for p, v in outputs.items()
        if isinstance(v, Video) or isinstance(v, np.ndarray) and v.ndim in (2, 3)
    ]
    return sorted(ports, key=rank)  # stable: keeps the node's port order within a rank


@dataclass(frozen=True)
class Request:
    """One side (A or B) of a load."""

    node_id: str
    port: str | None = None  # the port shown so far: kept when the node has it too
    frame: int = 0  # the playhead: this frame is read ahead, off the UI thread
    outputs: dict[str, Any] | None = None  # already read: reuse rather than ask again
    keyframe: np.ndarray | None = None  # likewise for the picture under a mask


@dataclass
class Loaded:
    """What one side shows, read and prepared on the worker."""

    node_id: str
    outputs: dict[str, Any] | None = None
    port: str | None = None
    value: Any = None  # outputs[port]
    picture: Video | np.ndarray | None = None  # what the frame source wraps
    overlay: np.ndarray | None = None  # a mask drawn over ``picture``
    keyframe: np.ndarray | None = None  # the upstream picture a bare mask sits on
    first: tuple[int, np.ndarray] | None = None  # (index, RGB frame) read ahead


def prepare(request: Request, output_source: OutputSource, image_for: ImageFor | None) -> Loaded:
    """Read and prepare one side; runs on the worker (it may read the disk cache)."""
    outputs = request.outputs
    if outputs is None:
        outputs = output_source(request.node_id)
    ports = showable(outputs) if outputs else []
    port = request.port if request.port in ports else (ports[0] if ports else None)
    loaded = Loaded(request.node_id, outputs, port, keyframe=request.keyframe)
    if outputs is None or port is None:
        return loaded
    value = picture = loaded.value = outputs[port]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        base = next(
            (v for v in outputs.values() if isinstance(v, np.ndarray) and v.ndim == 3), None
        )
        if base is None and loaded.keyframe is None and image_for is not None:
            loaded.keyframe = image_for(request.node_id)
        base = base if base is not None else loaded.keyframe
        if base is not None:
            loaded.overlay, picture = value, base
    if isinstance(picture, Video):
        index = min(max(request.frame, 0), len(picture.frames) - 1)
        if index >= 0:
            loaded.first = (index, as_rgb(np.array(picture.frames[index])))
    else:
        # A copy: a still from the disk cache is a memmap, and this reads it here.
        picture = as_rgb(np.array(picture))
    loaded.picture = picture
    return loaded


class OutputLoader(QObject):
    """Runs :func:`prepare` for each side of a request on a worker thread.

    ``finished`` carries the request's token and a list with one :class:`Loaded` (or None) per
    side, or the exception that stopped the load. Only the latest token matters; see ``token``.
    """

    finished = Signal(int, object)

    def __init__(
        self,
        output_source: OutputSource,
        image_for: ImageFor | None = None,
        bind: Bind | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.output_source = output_source
        self.image_for = image_for
        self.bind = bind
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._token = 0
        self._futures: set[Future] = set()

    @property
    def token(self) -> int:
        """The latest request's token: results carrying any other are stale."""
        return self._token

    @property
    def busy(self) -> bool:
        """Whether a load is queued or running (stale ones included)."""
        return bool(self._futures)

    def request(self, sides: Sequence[Request | None]) -> int:
        """Start loading ``sides``; returns the token the result will carry."""
        output_source, image_for = self.output_source, self.image_for
        if self.bind is not None:
            try:
                output_source, image_for = self.bind()
            except Exception as exc:  # reported by the worker, like a failed read

                def output_source(node_id: str, exc: Exception = exc) -> None:
                    raise exc

        with self._lock:
            self._token += 1
            token = self._token
        if self._pool is None:
            # Two workers: a stale multi-gigabyte load still finishing does not hold up the next.
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="viewer-load")
        future = self._pool.submit(self._run, token, list(sides), output_source, image_for)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return token

    def cancel(self) -> None:
        """Make every request so far stale (its result, when it comes, is dropped)."""
        with self._lock:
            self._token += 1

    def _run(
        self,
        token: int,
        sides: list[Request | None],
        output_source: OutputSource,
        image_for: ImageFor | None,
    ) -> None:
        if token != self._token:
            return  # superseded while queued: skip the read altogether
        try:
            result: Any = [
                None if side is None else prepare(side, output_source, image_for) for side in sides
            ]
        except Exception as exc:  # shown in the viewer rather than lost on this thread
            result = exc
        if token != self._token:
            return
        try:
            self.finished.emit(token, result)
        except RuntimeError:  # the viewer was deleted while this load ran
            pass

    def shutdown(self, wait: bool = True) -> None:
        """Drop pending results and stop the workers (a later request starts new ones)."""
        self.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)
