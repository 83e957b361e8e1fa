"""A background worker that drains the render queue onto a Ray cluster — the farm's twin of
:class:`~studio.queue.QueueWorker`, with the same controls, so the editor's queue panel can
render "on this machine" or "on the Ray cluster at …" alike. Plain Python, no Qt."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from studio.farm.cluster import ClusterInfo, FarmError
from studio.farm.driver import RayFarm
from studio.farm.queue_runner import run_queue
from studio.queue.store import JobStore
from studio.queue.worker import JobEventCallback

log = logging.getLogger(__name__)


class FarmWorker:
    """Renders queued jobs on ``farm`` from a background thread. ``on_connected`` hears what the
    cluster offers once joined; ``on_problem`` hears why it could not join or was lost (the jobs
    it held are then back in the queue)."""

    def __init__(
        self,
        store: JobStore,
        farm: RayFarm,
        *,
        on_event: JobEventCallback = lambda event: None,
        on_connected: Callable[[ClusterInfo], None] = lambda info: None,
        on_problem: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.store = store
        self.farm = farm
        self.on_event = on_event
        self.on_connected = on_connected
        self.on_problem = on_problem
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._interrupt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the farm worker is already started")
        self._thread = threading.Thread(target=self._loop, name="studio-farm", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            self.on_connected(self.farm.start())
        except FarmError as exc:
            self.on_problem(str(exc))
            return
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    run_queue(
                        self.store, self.farm, on_event=self.on_event,
                        interrupted=self._interrupt.is_set,
                    )  # fmt: skip
                except FarmError as exc:
                    self.on_problem(str(exc))
                    return
                self._wake.wait()
        finally:
            self.farm.shutdown()

    def notify(self) -> None:
        """Jobs were added: render them."""
        self._wake.set()

    def stop(self, *, interrupt: bool = False) -> None:
        """Stop after the running jobs, or at once with ``interrupt`` (they go back to the
        queue and restart with their finished nodes from the cache)."""
        if interrupt:
            self._interrupt.set()
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
