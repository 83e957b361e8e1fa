"""The queue worker: takes jobs from a :class:`JobStore` in order and renders them with an engine.

Plain Python (threads and events, no Qt), so the CLI, the editor and a render farm drive the same
code. Progress goes to the database at most every ``report_interval`` seconds; the answer tells
the worker whether the user paused or cancelled the job meanwhile (from any process), and the
render then stops at its next step.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from studio.engine.cancel import CancelToken
from studio.engine.events import RunEvent, ignore_event
from studio.engine.scheduler import Engine, RunResult
from studio.queue.jobs import Job, JobState
from studio.queue.store import HEARTBEAT_SECONDS, JobNotFound, JobStore, new_worker_id

log = logging.getLogger(__name__)


class QueueEventKind(StrEnum):
    JOB_STARTED = "job_started"
    JOB_PROGRESS = "job_progress"  # at most every report_interval seconds
    JOB_FINISHED = "job_finished"
    JOB_REQUEUED = "job_requeued"  # an interrupted job put back at the head of the queue
    RUN = "run"  # an engine event of the job's render (``run_event``)


@dataclass(frozen=True)
class JobEvent:
    """Something that happened to a job. ``RUN`` events carry the engine's own event."""

    kind: QueueEventKind
    job_id: str
    state: JobState | None = None
    progress: float = 0.0
    eta: float | None = None
    message: str = ""
    run_event: RunEvent | None = None

    def to_json(self) -> dict[str, Any]:
        if self.run_event is not None:
            return {**self.run_event.to_json(), "job_id": self.job_id}
        data: dict[str, Any] = {"kind": str(self.kind), "job_id": self.job_id}
        if self.state is not None:
            data["state"] = str(self.state)
        if self.kind is QueueEventKind.JOB_PROGRESS:
            data["progress"] = round(self.progress, 4)
            if self.eta is not None:
                data["eta"] = round(self.eta, 1)
        if self.message:
            data["message"] = self.message
        return data


JobEventCallback = Callable[[JobEvent], None]


def _ignore(event: JobEvent) -> None:
    pass


class JobProgress:
    """A job's progress from its run events: every planned node weighs the same."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.total = 0
        self.done = 0
        # Fraction done of each running node (streaming nodes run several at once).
        self.running: dict[str, float] = {}
        self.message = ""

    def update(self, event: RunEvent) -> None:
        kind = event.kind
        if kind == "run_started":
            self.total = len(event.node_ids)
        elif kind == "node_started":
            self.running[event.node_id or ""] = 0.0
        elif kind == "node_progress" and event.total:
            self.running[event.node_id or ""] = min(1.0, (event.step or 0) / event.total)
        elif kind in ("node_cached", "node_finished", "node_failed", "node_skipped"):
            self.done += 1
            self.running.pop(event.node_id or "", None)

    @property
    def fraction(self) -> float:
        current = sum(self.running.values())
        return 0.0 if not self.total else min(1.0, (self.done + current) / self.total)

    @property
    def eta(self) -> float | None:
        fraction = self.fraction
        if fraction < 0.02:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed / fraction * (1.0 - fraction)


class QueueWorker:
    """Renders queued jobs one at a time. :meth:`drain` runs on the caller's thread;
    :meth:`start` runs a background thread that drains, then waits for :meth:`notify`."""

    def __init__(
        self,
        store: JobStore,
        engine: Engine,
        *,
        on_event: JobEventCallback = _ignore,
        worker_id: str | None = None,
        report_interval: float = 0.5,
        heartbeat_interval: float = HEARTBEAT_SECONDS,
        only: Collection[str] | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.on_event = on_event
        self.worker_id = worker_id or new_worker_id()
        self.report_interval = report_interval
        self.heartbeat_interval = heartbeat_interval
        self.only = set(only) if only is not None else None  # render only these jobs
        self.current: Job | None = None
        self._token: CancelToken | None = None
        self._interrupting = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- driving ------------------------------------------------------------------------------

    def drain(self) -> list[Job]:
        """Render queued jobs until none is left (or :meth:`stop`); returns the jobs it ran.
        Jobs a dead worker left running are put back at the head of the queue first."""
        for job in self.store.requeue_orphans():
            self._emit(
                JobEvent(QueueEventKind.JOB_REQUEUED, job.id, job.state, message=job.message)
            )
        ran = []
        while not self._stop.is_set():
            job = self.run_next()
            if job is None:
                break
            ran.append(job)
        return ran

    def run_next(self) -> Job | None:
        """Claim the next queued job and render it; None when the queue has nothing waiting."""
        job = self.store.claim(self.worker_id, self.only)
        if job is None:
            return None
        token = CancelToken()
        with self._lock:
            self.current, self._token, self._interrupting = job, token, False
        done = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(job.id, done), name="studio-queue-heartbeat", daemon=True
        )
        beat.start()
        try:
            job.state = self._render(job, token)
        finally:
            done.set()
            beat.join()
            with self._lock:
                self.current, self._token = None, None
        try:
            return self.store.get(job.id)
        except JobNotFound:  # forgotten ("Clear finished") the moment it ended
            return job

    def _beat(self, job_id: str, done: threading.Event) -> None:
        while not done.wait(self.heartbeat_interval):
            try:
                self.store.heartbeat(job_id, self.worker_id)
            except Exception:  # a locked or vanished database: the next beat tries again
                log.exception("queue heartbeat failed")

    def start(self) -> None:
        """Drain on a background thread, then sleep until :meth:`notify` (a job was added)."""
        if self._thread is not None:
            raise RuntimeError("the worker is already started")
        self._thread = threading.Thread(target=self._loop, name="studio-queue", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.drain()
            self._wake.wait()

    def notify(self) -> None:
        """Jobs were added: a started worker picks them up."""
        self._wake.set()

    def stop(self, *, interrupt: bool = False) -> None:
        """Stop after the current job, or at once with ``interrupt`` (the job goes back to
        the queue, to restart with its finished nodes from the cache)."""
        self._stop.set()
        self._wake.set()
        if interrupt:
            with self._lock:
                self._interrupting = True
                if self._token is not None:
                    self._token.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a started worker's thread to end; True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel_current(self) -> None:
        """Cancel the job being rendered (as the user: it ends cancelled)."""
        with self._lock:
            job = self.current
        if job is not None:
            self.store.cancel(job.id)
            with self._lock:
                if self._token is not None:
                    self._token.cancel()

    # -- one job ------------------------------------------------------------------------------

    def _render(self, job: Job, token: CancelToken) -> JobState:
        self._emit(JobEvent(QueueEventKind.JOB_STARTED, job.id, JobState.RUNNING))
        progress = JobProgress()
        last_report = [time.monotonic()]

        def on_run_event(event: RunEvent) -> None:
            progress.update(event)
            self._emit(JobEvent(QueueEventKind.RUN, job.id, run_event=event))
            now = time.monotonic()
            boundary = event.kind in ("node_finished", "node_cached", "run_started")
            if now - last_report[0] < self.report_interval and not boundary:
                return
            last_report[0] = now
            state = self.store.report(
                job.id, self.worker_id, progress.fraction, progress.eta, progress.message
            )
            self._emit(
                JobEvent(
                    QueueEventKind.JOB_PROGRESS,
                    job.id,
                    state,
                    progress=progress.fraction,
                    eta=progress.eta,
                )
            )
            if state is not JobState.RUNNING:  # paused or cancelled by the user
                token.cancel()

        outcome = render_job(self.engine, job, on_event=on_run_event, cancel=token)
        state, message = outcome.state, outcome.message
        if state is JobState.CANCELLED and self._interrupting:
            state, message = JobState.QUEUED, "interrupted; restarts from the cache"
        return self._end(job, state, outcome.result, message)

    def _end(self, job: Job, state: JobState, result: dict[str, Any], message: str) -> JobState:
        final = self.store.finish(job.id, self.worker_id, state, result=result, message=message)
        self._emit(JobEvent(QueueEventKind.JOB_FINISHED, job.id, final, message=message))
        return final

    def _emit(self, event: JobEvent) -> None:
        try:
            self.on_event(event)
        except Exception:  # a broken listener must not stop the queue
            log.exception("queue event listener failed on %s", event.kind)


@dataclass(frozen=True)
class JobOutcome:
    """How one render of a job ended: its state, what it made, and why it failed."""

    state: JobState
    result: dict[str, Any]
    message: str = ""


def render_job(
    engine: Engine,
    job: Job,
    *,
    on_event: Callable[[RunEvent], None] = ignore_event,
    cancel: CancelToken | None = None,
) -> JobOutcome:
    """Render a job's snapshot with ``engine``. Plain Python with no database: the queue
    worker calls it, and so can a worker on another machine (the job is JSON-ready text)."""
    from studio.graph.fileformat import WorkflowFileError, loads

    try:
        graph = loads(job.workflow, engine.registry, source=job.name).graph
    except WorkflowFileError as exc:
        return JobOutcome(JobState.FAILED, {}, str(exc))
    try:
        result = engine.run(
            graph, job.targets, output_dir=job.output_dir, on_event=on_event, cancel=cancel
        )
    except Exception as exc:  # a bug in the engine or a bad target: fail the job, go on
        log.exception("job %s failed", job.id)
        return JobOutcome(JobState.FAILED, {}, f"{type(exc).__name__}: {exc}")
    state = {"ok": JobState.DONE, "cancelled": JobState.CANCELLED}.get(
        result.status, JobState.FAILED
    )
    message = "; ".join(
        f"{graph.node(n).title if n in graph else n}: {m}" for n, m in result.errors.items()
    )
    return JobOutcome(state, job_result(graph, result), message)


def job_result(graph: Any, result: RunResult) -> dict[str, Any]:
    """What a finished job made, JSON-ready: its files and takes, which nodes ran and which
    came from the cache."""
    files: list[str] = []
    takes: list[str] = []
    outputs: dict[str, dict[str, Any]] = {}
    for node_id, values in result.outputs.items():
        if isinstance(values.get("take"), str):  # a Save node's take (studio.takes)
            takes.append(values["take"])
        small = {
            name: value for name, value in values.items() if name != "files" and _small_json(value)
        }
        files += [str(f) for f in values.get("files", []) if isinstance(f, str)]
        if small:
            outputs[node_id] = small
    return {
        "status": result.status,
        "files": files,
        "takes": takes,
        "outputs": outputs,
        "executed": list(result.executed),
        "cached": list(result.cached),
        "errors": dict(result.errors),
        "elapsed": round(result.elapsed, 3),
    }


def _small_json(value: Any) -> bool:
    """Whether an output is worth recording beside the job (a take id, a path, a count)."""
    if not isinstance(value, (str, int, float, bool, list, dict)):
        return False
    try:
        return len(json.dumps(value)) <= 4096
    except (TypeError, ValueError):
        return False
