"""Draining the render queue onto a Ray cluster (``studio queue run --ray``).

The queue stays where it is (this machine's SQLite store); this driver claims jobs from it,
renders them through :class:`~studio.farm.driver.RayFarm` and records each ending in the store,
exactly as the local worker does. Jobs of one variation batch are claimed together so their
shared upstream runs once. If the cluster disappears, every job this driver holds goes back
to the queue with a message saying so.
"""

from __future__ import annotations

from collections.abc import Callable

from studio.farm.driver import SHARED_PREFIX, FarmLost, RayFarm
from studio.queue.jobs import Job, JobState
from studio.queue.store import JobStore, new_worker_id
from studio.queue.worker import JobEvent, JobEventCallback, QueueEventKind


def claim_round(store: JobStore, worker: str, capacity: int) -> list[Job]:
    """The next jobs to send: the head of the queue, the rest of its batch, and more up to
    ``capacity`` (the cluster's width)."""
    claimed: list[Job] = []
    while True:
        waiting = store.jobs([JobState.QUEUED])
        if not waiting:
            break
        head = waiting[0]
        same_batch = bool(claimed) and head.batch is not None and head.batch == claimed[0].batch
        if claimed and not same_batch and len(claimed) >= capacity:
            break
        job = store.claim(worker)
        if job is None:
            break
        claimed.append(job)
    return claimed


def run_queue(
    store: JobStore,
    farm: RayFarm,
    *,
    on_event: JobEventCallback = lambda event: None,
    interrupted: Callable[[], bool] = lambda: False,
) -> list[Job]:
    """Render queued jobs on the farm until none is left; returns them as they ended.
    Once ``interrupted()`` is true, running jobs stop at their next step and go back to the
    queue (not cancelled), and no more jobs are claimed."""
    info = farm.start() if farm.info is None else farm.info
    worker = new_worker_id()
    for job in store.requeue_orphans():
        on_event(JobEvent(QueueEventKind.JOB_REQUEUED, job.id, job.state, message=job.message))
    capacity = max(1, int(info.gpus or info.cpus))
    finished: list[Job] = []
    while not interrupted():
        jobs = claim_round(store, worker, capacity)
        if not jobs:
            return finished

        def forward(event: JobEvent) -> None:
            if event.job_id.startswith(SHARED_PREFIX):  # a batch's shared work: no queue job
                if event.kind is QueueEventKind.RUN:
                    on_event(event)
                return
            if event.kind is QueueEventKind.JOB_PROGRESS:
                store.report(event.job_id, worker, event.progress, event.eta)
            on_event(event)

        def cancelled(job_id: str) -> bool:
            return interrupted() or store.state(job_id) is not JobState.RUNNING

        try:
            outcomes = farm.render(jobs, on_event=forward, cancelled=cancelled)
        except FarmLost as exc:
            message = f"{exc}; queued again"
            for job in jobs:
                store.release(job.id, worker, message)
                on_event(
                    JobEvent(QueueEventKind.JOB_REQUEUED, job.id, JobState.QUEUED, message=message)
                )
            raise
        for job in jobs:
            outcome = outcomes[job.id]
            if interrupted() and outcome.state is JobState.CANCELLED:
                message = "interrupted; restarts (finished nodes come from the cache)"
                store.release(job.id, worker, message)
                on_event(
                    JobEvent(QueueEventKind.JOB_REQUEUED, job.id, JobState.QUEUED, message=message)
                )
                continue
            state = store.finish(
                job.id, worker, outcome.state, result=outcome.record, message=outcome.message
            )
            on_event(JobEvent(QueueEventKind.JOB_FINISHED, job.id, state, message=outcome.message))
            finished.append(store.get(job.id))
    return finished
