"""A render job: a frozen snapshot of a workflow plus what to render and where.

A job is made when it is queued: the workflow is serialised then, with its overrides (``--set``,
a variant's values) already applied, so editing the graph afterwards never changes a queued job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import uuid4

from studio.graph.fileformat import dumps
from studio.graph.graph import Graph


class JobState(StrEnum):
    QUEUED = "queued"  # waiting its turn
    RUNNING = "running"  # a worker renders it
    PAUSED = "paused"  # held back until resumed
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass
class Job:
    """One render in the queue. ``overrides`` records the values applied to the snapshot
    ("Node title.param" -> value), for people and for the takes it makes."""

    id: str
    name: str
    workflow: str  # the workflow file's JSON text at the time it was queued
    output_dir: Path
    targets: list[str] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    state: JobState = JobState.QUEUED
    position: int = 0
    batch: str | None = None  # the variation batch it belongs to
    variant: int | None = None  # its index in the batch
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    progress: float = 0.0  # 0..1
    eta: float | None = None  # seconds left, while running
    message: str = ""  # the last error, or what the job is doing
    attempts: int = 0  # how many times a worker took it (> 1 after a restart)
    worker: str | None = None
    result: dict[str, Any] = field(default_factory=dict)  # files, takes, executed, cached

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def to_json(self) -> dict[str, Any]:
        """Everything but the workflow text, JSON-ready (``studio queue list --json``)."""
        return {
            "id": self.id,
            "name": self.name,
            "state": str(self.state),
            "position": self.position,
            "output_dir": str(self.output_dir),
            "targets": self.targets,
            "overrides": self.overrides,
            "batch": self.batch,
            "variant": self.variant,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "progress": self.progress,
            "eta": self.eta,
            "message": self.message,
            "attempts": self.attempts,
            "result": self.result,
        }


def new_job(
    graph: Graph,
    *,
    name: str,
    output_dir: Path,
    targets: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    batch: str | None = None,
    variant: int | None = None,
) -> Job:
    """A job holding a snapshot of ``graph`` as it is now (overrides already applied to it)."""
    return Job(
        id=uuid4().hex,
        name=name,
        workflow=dumps(graph),
        output_dir=Path(output_dir).absolute(),
        targets=list(targets) if targets is not None else None,
        overrides=dict(overrides or {}),
        batch=batch,
        variant=variant,
    )
