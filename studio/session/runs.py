"""Run status per job: what each node of one render is doing, fed by the engine's RunEvents.

Several jobs may exist at once (the queue and the farm render snapshots side by side); each
keeps its own statuses. Qt-free: the session owns the jobs and views read from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from studio.engine.events import RunEvent, RunEventKind, RunStatus


class NodeStatus(StrEnum):
    """A node's badge: whether its result is up to date, and what a run is doing with it."""

    STALE = "stale"  # the next render runs it
    QUEUED = "queued"
    RUNNING = "running"
    CACHED = "cached"  # its result (or all that consumes it) is stored
    FAILED = "failed"


class JobNodeState(StrEnum):
    """What one job did with a node (a richer word than the canvas badge, for the run log)."""

    QUEUED = "queued"
    RUNNING = "running"
    CACHED = "cached"  # taken from the cache
    DONE = "done"  # rendered now
    FAILED = "failed"
    SKIPPED = "skipped"  # an upstream node failed
    CANCELLED = "cancelled"
    NOT_RUN = "not run"  # still waiting when the run stopped


_BADGE = {
    JobNodeState.QUEUED: NodeStatus.QUEUED,
    JobNodeState.RUNNING: NodeStatus.RUNNING,
    JobNodeState.CACHED: NodeStatus.CACHED,
    JobNodeState.DONE: NodeStatus.CACHED,
    JobNodeState.FAILED: NodeStatus.FAILED,
}

_ENDED = {
    RunEventKind.NODE_CACHED: JobNodeState.CACHED,
    RunEventKind.NODE_FINISHED: JobNodeState.DONE,
    RunEventKind.NODE_FAILED: JobNodeState.FAILED,
    RunEventKind.NODE_SKIPPED: JobNodeState.SKIPPED,
    RunEventKind.NODE_CANCELLED: JobNodeState.CANCELLED,
}


@dataclass
class Job:
    """One render of a snapshot. ``revisions`` are the session's per-node edit counters at
    the moment of the snapshot: a node edited since then is no longer described by this job."""

    id: str
    targets: tuple[str, ...] | None = None
    label: str = ""
    revisions: dict[str, int] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    states: dict[str, JobNodeState] = field(default_factory=dict)
    progress: dict[str, float] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)  # failure reasons by node
    elapsed: dict[str, float] = field(default_factory=dict)
    status: RunStatus | None = None  # None while it runs
    message: str = ""  # run_finished's message
    total_elapsed: float | None = None
    started: float = field(default_factory=time.monotonic)
    current: str | None = None  # the node now running
    node_started: dict[str, float] = field(default_factory=dict)  # monotonic, by node
    draft: bool = False  # rendered the draft of the graph (its pictures are drafts)

    @property
    def running(self) -> bool:
        return self.status is None

    def feed(self, event: RunEvent) -> tuple[str, ...]:
        """Take in one event; returns the node ids whose state changed."""
        kind, node_id = event.kind, event.node_id
        if kind is RunEventKind.RUN_STARTED:
            self.order = tuple(event.node_ids)
            self.states = dict.fromkeys(self.order, JobNodeState.QUEUED)
            return self.order
        if kind is RunEventKind.RUN_FINISHED:
            self.status = event.status or RunStatus.FAILED
            self.message = event.message
            self.total_elapsed = event.elapsed
            self.current = None
            waiting = [n for n, s in self.states.items() if s in _LIVE]
            for n in waiting:  # a stopped run leaves no node looking as if it waits
                self.states[n] = JobNodeState.NOT_RUN
                self.progress.pop(n, None)
            return tuple(waiting)
        if node_id is None:
            return ()
        if kind is RunEventKind.NODE_STARTED:
            self.states[node_id] = JobNodeState.RUNNING
            self.progress[node_id] = 0.0
            self.node_started[node_id] = time.monotonic()
            self.current = node_id
        elif kind is RunEventKind.NODE_PROGRESS:
            if not event.total:
                return ()
            self.progress[node_id] = max(0.0, min(1.0, (event.step or 0) / event.total))
        elif kind in _ENDED:
            self.states[node_id] = _ENDED[kind]
            self.progress.pop(node_id, None)
            if kind is RunEventKind.NODE_FAILED:
                self.messages[node_id] = event.message
            if event.elapsed is not None:
                self.elapsed[node_id] = event.elapsed
            if self.current == node_id:
                self.current = None
        else:
            return ()
        return (node_id,)

    def badge(self, node_id: str) -> NodeStatus | None:
        """The canvas badge this job gives ``node_id``, or None where it says nothing."""
        state = self.states.get(node_id)
        return None if state is None else _BADGE.get(state)

    def fraction(self) -> float:
        """How much of the job is done, 0..1 (a running node counts by its progress)."""
        if not self.order:
            return 1.0 if not self.running else 0.0
        done = sum(1 for n in self.order if self.states.get(n) not in _LIVE)
        running = sum(self.progress.get(n, 0.0) for n in self.order if n in self.progress)
        return min(1.0, (done + running) / len(self.order))


_LIVE = (JobNodeState.QUEUED, JobNodeState.RUNNING)
