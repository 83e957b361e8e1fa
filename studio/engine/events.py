"""What a run reports: one plain event type, consumed alike by the CLI, the GUI and tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunEventKind(StrEnum):
    """What happened; serialised by value (``studio render --events jsonl``)."""

    RUN_STARTED = "run_started"
    NODE_CACHED = "node_cached"
    NODE_STARTED = "node_started"
    NODE_PROGRESS = "node_progress"
    NODE_PREVIEW = "node_preview"  # a picture of the result so far (live denoising preview)
    NODE_INFO = "node_info"
    NODE_FINISHED = "node_finished"
    NODE_FAILED = "node_failed"
    NODE_SKIPPED = "node_skipped"
    NODE_CANCELLED = "node_cancelled"
    RUN_FINISHED = "run_finished"


class RunStatus(StrEnum):
    """How a run ended (``run_finished``)."""

    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"


EVENT_KINDS = tuple(RunEventKind)


@dataclass(frozen=True)
class RunEvent:
    """One thing that happened during a run. Unused fields keep their defaults."""

    kind: RunEventKind
    run_id: str
    node_id: str | None = None
    step: int | None = None
    total: int | None = None
    message: str = ""  # progress message / info text / error message / skip reason
    elapsed: float | None = None  # seconds (node_finished, run_finished)
    traceback: str | None = None  # node_failed, for unexpected exceptions only
    status: RunStatus | None = None  # run_finished only
    node_ids: tuple[str, ...] = ()  # run_started: the nodes of this run in execution order
    # node_preview: an (h, w, 3) uint8 picture; never serialised (to_json leaves it out)
    preview: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Plain strings are accepted (and checked) so an unknown kind fails where it is made.
        object.__setattr__(self, "kind", RunEventKind(self.kind))
        if self.status is not None:
            object.__setattr__(self, "status", RunStatus(self.status))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict without the fields this kind of event does not use."""
        data: dict[str, Any] = {"kind": self.kind.value, "run_id": self.run_id}
        for name in ("node_id", "step", "total", "elapsed", "traceback"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.status is not None:
            data["status"] = self.status.value
        if self.message:
            data["message"] = self.message
        if self.node_ids:
            data["node_ids"] = list(self.node_ids)
        return data


EventCallback = Callable[[RunEvent], None]


def ignore_event(event: RunEvent) -> None:
    """The default listener: drops events."""
