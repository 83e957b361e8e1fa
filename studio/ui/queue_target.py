"""Where the queue renders: "This machine" or "Ray cluster at …" (the farm extra).

A combo box for the Queue panel and the worker each choice makes. The cluster's address comes
from ``STUDIO_RAY_ADDRESS`` or the ``ray_address`` setting; with neither, the farm is a private
Ray cluster on this machine (one worker per GPU). What the cluster offers (machines, CPUs,
GPUs) shows in the panel once joined.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QComboBox, QWidget

from studio.farm import RayFarm, resolve_address
from studio.farm.cluster import INSTALL_HINT
from studio.farm.worker import FarmWorker
from studio.queue import JobStore, QueueWorker

THIS_MACHINE = "This machine"


def ray_available() -> bool:
    try:
        import ray  # noqa: F401  (Ray is the optional farm extra)
    except ImportError:
        return False
    return True


class QueueTarget(QComboBox):
    """The render target of the queue. ``farm_factory(address)`` makes the farm (tests pass
    one with a small local cluster)."""

    def __init__(
        self,
        parent: QWidget | None = None,
        farm_factory: Callable[[str | None], RayFarm] | None = None,
    ) -> None:
        super().__init__(parent)
        self.farm_factory = farm_factory or (lambda address: RayFarm(address))
        self.address = resolve_address(None)
        self.addItem(THIS_MACHINE)
        where = f"Ray cluster at {self.address}" if self.address else "Ray cluster on this machine"
        self.addItem(where)
        if not ray_available():
            self.model().item(1).setEnabled(False)
            self.setItemData(1, INSTALL_HINT, 3)  # Qt.ToolTipRole
        self.setToolTip(
            "Where queued jobs render: here, one after another, or on a Ray cluster "
            "(STUDIO_RAY_ADDRESS or the ray_address setting; none: every GPU of this machine)"
        )

    @property
    def on_farm(self) -> bool:
        return self.currentIndex() == 1

    def make_worker(
        self,
        store: JobStore,
        engine_factory: Callable[[], Any],
        on_event: Callable[[Any], None],
        on_connected: Callable[[Any], None],
        on_problem: Callable[[str], None],
    ) -> QueueWorker | FarmWorker:
        if not self.on_farm:
            return QueueWorker(store, engine_factory(), on_event=on_event)
        return FarmWorker(
            store,
            self.farm_factory(self.address),
            on_event=on_event,
            on_connected=on_connected,
            on_problem=on_problem,
        )
