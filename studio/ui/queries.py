"""Asks the engine about cached results off the UI thread: node badges (Engine.state) and
thumbnails (Engine.output, downscaled with OpenCV). The UI only receives small QImages."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio.graph.graph import Graph
from studio.graph.types import Video
from studio.session import Session

THUMB_WIDTH = 216


def thumbnail_array(outputs: dict[str, Any] | None) -> np.ndarray | None:
    """The first picture among a node's outputs, as a small (h, w, 3) uint8 RGB array."""
    import cv2

    for value in (outputs or {}).values():
        if isinstance(value, Video) and len(value):
            picture = np.asarray(value.frames[len(value) // 2])
        elif isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[-1] == 3:
            picture = value
        elif isinstance(value, np.ndarray) and value.ndim == 2:
            picture = np.repeat((np.clip(value, 0, 1) * 255).astype(np.uint8)[..., None], 3, 2)
        else:
            continue
        picture = np.ascontiguousarray(picture, dtype=np.uint8)
        h, w = picture.shape[:2]
        if w > THUMB_WIDTH:
            size = (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w)))
            picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(picture)
    return None


def to_qimage(picture: np.ndarray) -> QImage:
    h, w = picture.shape[:2]
    return QImage(picture.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class EngineQueries(QObject):
    """One background thread answering questions about the cache."""

    thumbnail_ready = Signal(str, object)  # node id, QImage or None
    states_ready = Signal(object, int)  # {node id: "cached" | "stale"}, the session's token

    def __init__(
        self, session: Session, engine: Callable[[], Any], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-queries")
        self._generation = 0
        self._lock = threading.Lock()
        self._closed = False

    def request_states(self) -> None:
        """Ask which nodes are cached; the answer goes to the session with the token of the
        snapshot it describes (the session drops it if the graph moved on meanwhile)."""
        if self._closed:
            return
        with self._lock:
            self._generation += 1
            generation = self._generation
        snapshot, token = self.session.render_snapshot(), self.session.state_token
        self._pool.submit(self._states, snapshot, token, generation)

    def _states(self, graph: Graph, token: int, generation: int) -> None:
        try:
            states = self._engine().state(graph, output_dir=self.session.output_dir)
        except Exception:  # badges are a nicety: never let them break the editor
            return
        if generation == self._generation:
            self.states_ready.emit(states, token)

    def request_thumbnails(self, node_ids: Iterable[str]) -> None:
        ids = [n for n in node_ids if n in self.session.graph]
        if ids and not self._closed:
            self._pool.submit(self._thumbnails, self.session.render_snapshot(), ids)

    def _thumbnails(self, graph: Graph, node_ids: list[str]) -> None:
        for node_id in node_ids:
            try:
                picture = thumbnail_array(self._engine().output(graph, node_id))
            except Exception:
                picture = None
            self.thumbnail_ready.emit(node_id, None if picture is None else to_qimage(picture))

    def wait_idle(self) -> None:
        """Block until every request made so far is answered (screenshots, tests)."""
        if not self._closed:
            self._pool.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
