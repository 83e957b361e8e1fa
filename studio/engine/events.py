"""What a run reports: one plain event type, consumed alike by the CLI, the GUI and tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EVENT_KINDS = (
    "run_started",
    "node_cached",
    "node_started",
    "node_progress",
    "node_info",
    "node_finished",
    "node_failed",
    "node_skipped",
    "node_cancelled",
    "run_finished",
)


@dataclass(frozen=True)
class RunEvent:
    """One thing that happened during a run. Unused fields keep their defaults."""

    kind: str
    run_id: str
    node_id: str | None = None
    step: int | None = None
    total: int | None = None
    message: str = ""  # progress message / info text / error message / skip reason
    elapsed: float | None = None  # seconds (node_finished, run_finished)
    traceback: str | None = None  # node_failed, for unexpected exceptions only
    status: str | None = None  # run_finished: "ok" | "failed" | "cancelled"
    node_ids: tuple[str, ...] = ()  # run_started: the nodes of this run in execution order

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict without the fields this kind of event does not use."""
        data: dict[str, Any] = {"kind": self.kind, "run_id": self.run_id}
        for name in ("node_id", "step", "total", "elapsed", "traceback", "status"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.message:
            data["message"] = self.message
        if self.node_ids:
            data["node_ids"] = list(self.node_ids)
        return data


EventCallback = Callable[[RunEvent], None]


def ignore_event(event: RunEvent) -> None:
    """The default listener: drops events."""
