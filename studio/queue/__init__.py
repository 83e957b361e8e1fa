"""The render queue and variations: jobs (graph snapshots), their SQLite store and the worker.

Plain Python, no Qt: the CLI, the editor and a render farm drive the same objects.
"""

from studio.queue.jobs import Job, JobState, new_job
from studio.queue.store import JobNotFound, JobStore, QueueError
from studio.queue.variations import Variation, VariationError, parse_vary, variation_jobs
from studio.queue.worker import JobEvent, JobOutcome, QueueEventKind, QueueWorker, render_job

__all__ = [
    "Job",
    "JobEvent",
    "JobNotFound",
    "JobOutcome",
    "JobState",
    "JobStore",
    "QueueError",
    "QueueEventKind",
    "QueueWorker",
    "Variation",
    "VariationError",
    "new_job",
    "parse_vary",
    "render_job",
    "variation_jobs",
]
