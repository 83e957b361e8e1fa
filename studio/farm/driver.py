"""Rendering queue jobs on a Ray cluster.

Each job is one Ray task (not an actor): Ray then retries a task whose worker died, schedules
it where its resources are free, and cancels it cleanly, all for free. Workers are Ray's
long-lived processes, and :func:`studio.farm.remote.worker_engine` keeps one engine per
process, so loaded models and the memory cache still serve the next job on that worker — what
an actor per GPU would have bought. Jobs that run a node wanting an accelerator ask for
``num_gpus=1`` on a cluster with GPUs; Ray gives each its own ``CUDA_VISIBLE_DEVICES``.

A batch's shared upstream (:mod:`studio.farm.plan`) runs once, as its own task whose results
go into Ray's object store; every job that needs them receives them as task arguments, so
they travel between machines without a shared disk. Run events and worker details flow back
through a small control actor, which also carries cancellation to running tasks (checked at
every node step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.farm.cluster import ClusterInfo, FarmError, connect, import_ray
from studio.farm.plan import plan_shared
from studio.farm.remote import TaskResult, WorkerConfig, WorkerInfo, render
from studio.queue.jobs import Job, JobState
from studio.queue.worker import JobEvent, JobEventCallback, JobProgress, QueueEventKind

log = logging.getLogger(__name__)
WAIT_S = 0.1  # how often the driver forwards events and cancellations while tasks run
SHARED_PREFIX = "shared:"  # job id of a batch's shared work, in events


class FarmLost(FarmError):
    """The cluster went away mid-batch; unfinished jobs should go back to the queue."""


@dataclass
class Outcome:
    """How one job ended on the farm."""

    state: JobState
    record: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class ControlState:
    """The control actor's state: run events from tasks, cancellations from the driver."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self.cancelled: set[str] = set()

    def push(self, job_id: str, item: Any) -> None:
        self.items.append((job_id, item))

    def drain(self) -> list[tuple[str, Any]]:
        items, self.items = self.items, []
        return items

    def cancel(self, job_id: str) -> None:
        self.cancelled.add(job_id)

    def is_cancelled(self, job_id: str) -> bool:
        return job_id in self.cancelled


def _task(
    config: WorkerConfig,
    job_id: str,
    workflow: str,
    targets: list[str] | None,
    output_dir: str,
    control: Any,
    shared_keys: list[str],
    shared_work: bool,
    *shared_values: dict[str, Any],
) -> Any:
    import ray

    result = render(
        config,
        job_id,
        workflow,
        targets,
        output_dir,
        control,
        ray.get,
        shared_keys,
        shared_values,
        shared_work=shared_work,
    )
    # A blocking last call: the control actor has then taken every event this task sent.
    ray.get(control.push.remote(job_id, None))
    if shared_work:
        return (result, *result.outputs)
    return result


class RayFarm:
    """A connection to a Ray cluster that renders :class:`~studio.queue.jobs.Job` s.
    ``address`` None: ``STUDIO_RAY_ADDRESS``, the ``ray_address`` setting, else a private
    local cluster (``init_kwargs`` go to ``ray.init`` then, e.g. ``num_cpus``)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        config: WorkerConfig | None = None,
        max_retries: int = 3,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.config = config or WorkerConfig()
        self.max_retries = max_retries
        self.init_kwargs = dict(init_kwargs or {})
        self.info: ClusterInfo | None = None
        self._ray: Any = None
        self._control: Any = None
        self._remote: Any = None
        self._registry: Any = None
        self._owns_ray = False

    def start(self) -> ClusterInfo:
        """Join (or start) the cluster; says what it found."""
        self._ray = import_ray()
        self._owns_ray = not self._ray.is_initialized()  # else the caller's to shut down
        self.info = connect(self.address, **self.init_kwargs)
        self._control = self._ray.remote(ControlState).options(num_cpus=0).remote()
        self._remote = self._ray.remote(_task)
        return self.info

    def registry(self) -> Any:
        if self._registry is None:
            from studio.farm.remote import worker_engine

            self._registry = worker_engine(self.config).registry
        return self._registry

    def render(
        self,
        jobs: Sequence[Job],
        *,
        on_event: JobEventCallback = lambda event: None,
        on_worker: Callable[[WorkerInfo], None] | None = None,
        cancelled: Callable[[str], bool] = lambda job_id: False,
    ) -> dict[str, Outcome]:
        """Render ``jobs`` on the cluster (their shared upstream once) and wait for all.
        ``cancelled(job_id)`` is asked while a job runs (the user cancelled it elsewhere).
        Raises :class:`FarmLost` if the cluster goes away; finished outcomes are lost then."""
        from studio.graph.fileformat import WorkflowFileError, loads

        if self._ray is None:
            self.start()
        ray = self._ray
        outcomes: dict[str, Outcome] = {}
        graphs, live = [], []
        for job in jobs:
            try:
                graphs.append(loads(job.workflow, self.registry(), source=job.name).graph)
                live.append(job)
            except WorkflowFileError as exc:
                outcomes[job.id] = Outcome(JobState.FAILED, message=str(exc))
        plan = plan_shared(graphs, [job.targets for job in live])
        pending: dict[Any, tuple[str, Job]] = {}
        shared_refs: dict[str, Any] = {}
        for j, targets in plan.targets.items():
            job = live[j]
            refs = self._submit(job, graphs[j], targets, [], [], shared=True)
            pending[refs[0]] = ("shared", job)
            shared_refs.update(zip(plan.keys[j], refs[1:], strict=True))
        for i, job in enumerate(live):
            keys = plan.needs.get(i, [])
            ref = self._submit(job, graphs[i], job.targets, keys, [shared_refs[k] for k in keys])
            pending[ref] = ("job", job)
        progress = {job.id: JobProgress() for job in live}
        running: set[str] = set()
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
                self._forward(on_event, on_worker, progress, running)
                for job_id in list(running):
                    if job_id.startswith(SHARED_PREFIX) or job_id in outcomes:
                        continue
                    if cancelled(job_id):
                        ray.get(self._control.cancel.remote(job_id))
                for ref in ready:
                    kind, job = pending.pop(ref)
                    outcome = self._outcome(ref)
                    if kind == "job":
                        outcomes[job.id] = outcome
                        running.discard(job.id)
                    elif outcome.state is not JobState.DONE:
                        log.warning("shared work of batch failed: %s", outcome.message)
            self._forward(on_event, on_worker, progress, running)
        except (ConnectionError, ray.exceptions.RaySystemError) as exc:
            raise FarmLost(f"lost the Ray cluster: {exc}") from None
        return outcomes

    def cancel(self, job_id: str) -> None:
        """Stop ``job_id`` at its next node step (it ends cancelled)."""
        if self._control is not None:
            self._ray.get(self._control.cancel.remote(job_id))

    def shutdown(self) -> None:
        """Leave the cluster (a private local one stops); a connection this process made
        before the farm started stays."""
        if self._ray is not None and self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._ray = self._control = self._remote = None

    # -- helpers ------------------------------------------------------------------------------

    def _submit(
        self,
        job: Job,
        graph: Any,
        targets: Sequence[str] | None,
        keys: list[str],
        values: list[Any],
        *,
        shared: bool = False,
    ) -> Any:
        options: dict[str, Any] = {"max_retries": self.max_retries, "retry_exceptions": False}
        if self.info is not None and self.info.gpus and _wants_accelerator(graph):
            options["num_gpus"] = 1
        if shared:
            options["num_returns"] = len(targets or ()) + 1
        job_id = SHARED_PREFIX + job.id if shared else job.id
        call = self._remote.options(**options).remote(
            self.config,
            job_id,
            job.workflow,
            list(targets) if targets is not None else None,
            str(job.output_dir),
            self._control,
            keys,
            shared,
            *values,
        )
        return call

    def _outcome(self, ref: Any) -> Outcome:
        ray = self._ray
        try:
            result: TaskResult = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return Outcome(JobState.CANCELLED, message="cancelled")
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return Outcome(JobState.FAILED, message=f"{type(cause).__name__}: {cause}")
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
            return Outcome(
                JobState.FAILED,
                message=f"its worker died {self.max_retries + 1} times: {type(exc).__name__}",
            )
        state = {"ok": JobState.DONE, "cancelled": JobState.CANCELLED}.get(
            result.status, JobState.FAILED
        )
        errors = result.record.get("errors") or {}
        message = "; ".join(str(m) for m in errors.values())
        if message and result.record.get("host"):
            message = f"on {result.record['host']}: {message}"
        return Outcome(state, result.record, message)

    def _forward(
        self,
        on_event: JobEventCallback,
        on_worker: Callable[[WorkerInfo], None] | None,
        progress: dict[str, JobProgress],
        running: set[str],
    ) -> None:
        for job_id, item in self._ray.get(self._control.drain.remote()):
            if item is None:
                continue
            if isinstance(item, WorkerInfo):
                running.add(job_id)
                if on_worker is not None:
                    on_worker(item)
                detail = f"on {item.host} (pid {item.pid})"
                on_event(
                    JobEvent(QueueEventKind.JOB_STARTED, job_id, JobState.RUNNING, message=detail)
                )
                continue
            on_event(JobEvent(QueueEventKind.RUN, job_id, run_event=item))
            tracker = progress.get(job_id)
            if tracker is not None:
                tracker.update(item)
                on_event(
                    JobEvent(
                        QueueEventKind.JOB_PROGRESS,
                        job_id,
                        JobState.RUNNING,
                        progress=tracker.fraction,
                        eta=tracker.eta,
                    )
                )


def _wants_accelerator(graph: Any) -> bool:
    return any(
        node.spec is not None
        and node.spec.accelerator is not None
        and not node.bypass
        and node.spec.accelerator(node.params_view())
        for node in graph.nodes
    )
