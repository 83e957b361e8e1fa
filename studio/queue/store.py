"""The render queue's database: one SQLite file per user, shared by the CLI and the editor.

SQLite in WAL mode (readers never block the writer), every change one short transaction, so a
process killed at any moment leaves either the old row or the new one. A job moves
queued -> running -> done | failed | cancelled; ``claim`` takes the next queued job atomically,
so two workers never render the same job. A worker that dies leaves its job "running"; the
next worker to start (:meth:`JobStore.requeue_orphans`) puts it back at the head of the queue,
where it restarts and takes its finished nodes from the render cache.

The file lives in the user's data folder (``STUDIO_DATA_DIR`` overrides it). WAL needs shared
memory between processes, so keep it on a local disk, not a network share.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

from studio.engine.processes import pid_alive
from studio.queue.jobs import Job, JobState

SCHEMA_VERSION = 1
# A worker on another machine that has not written a heartbeat for this long is presumed dead
# (workers beat every HEARTBEAT_SECONDS while they render, however slow the node).
STALE_SECONDS = 300.0
HEARTBEAT_SECONDS = 30.0
PENDING = (JobState.QUEUED, JobState.PAUSED)


class JobNotFound(LookupError):
    """No job (or more than one) matches the id the user gave."""


class QueueError(RuntimeError):
    """The queue database cannot be used (newer schema, not a database)."""


def _v0_to_v1(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            state TEXT NOT NULL,
            name TEXT NOT NULL,
            workflow TEXT NOT NULL,
            targets TEXT,
            overrides TEXT NOT NULL,
            output_dir TEXT NOT NULL,
            batch TEXT,
            variant INTEGER,
            created REAL NOT NULL,
            started REAL,
            finished REAL,
            progress REAL NOT NULL DEFAULT 0,
            eta REAL,
            message TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            worker TEXT,
            heartbeat REAL,
            result TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute("CREATE INDEX jobs_by_state ON jobs (state, position)")


# Schema version -> the step that upgrades a database from it. Append; never edit a step.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _v0_to_v1}


def default_path() -> Path:
    from studio.settings import data_dir

    return data_dir() / "queue.sqlite"


def new_worker_id() -> str:
    """host:pid:nonce — the nonce tells this process from an earlier one with the same pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def worker_alive(worker: str | None, heartbeat: float | None, now: float) -> bool:
    """Whether the worker that claimed a job may still be rendering it."""
    if not worker:
        return False
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname():  # another machine: trust its heartbeat for a while
        return heartbeat is not None and now - heartbeat < STALE_SECONDS
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    return pid_alive(pid)  # this process's own workers count as alive


class JobStore:
    """The queue: jobs in order, with their state, progress and results. Thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Autocommit: every write below opens its own BEGIN IMMEDIATE transaction.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "PRAGMA synchronous=NORMAL"
            )  # WAL: durable at checkpoints, no torn rows
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise QueueError(f"{self.path} is not a usable queue database: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise QueueError(
                    f"{self.path} was written by a newer Studio (queue schema {version}; this "
                    f"one knows up to {SCHEMA_VERSION})"
                )
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](db)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- adding and reading -------------------------------------------------------------------

    def add(self, jobs: Job | Iterable[Job]) -> list[Job]:
        """Append jobs to the end of the queue, in one transaction (a batch is all or nothing)."""
        batch = [jobs] if isinstance(jobs, Job) else list(jobs)
        now = time.time()
        with self._write() as db:
            last = db.execute("SELECT COALESCE(MAX(position), 0) FROM jobs").fetchone()[0]
            for offset, job in enumerate(batch, start=1):
                job.position = last + offset
                job.created = job.created or now
                job.state = JobState.QUEUED
                db.execute(
                    "INSERT INTO jobs (id, position, state, name, workflow, targets, overrides,"
                    " output_dir, batch, variant, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        job.id,
                        job.position,
                        str(job.state),
                        job.name,
                        job.workflow,
                        None if job.targets is None else json.dumps(job.targets),
                        json.dumps(job.overrides),
                        str(job.output_dir),
                        job.batch,
                        job.variant,
                        job.created,
                    ),
                )
        return batch

    def jobs(self, states: Iterable[JobState] | None = None) -> list[Job]:
        """Jobs in queue order (finished ones keep their place)."""
        query, args = "SELECT * FROM jobs", ()
        if states is not None:
            wanted = tuple(str(s) for s in states)
            query += f" WHERE state IN ({','.join('?' * len(wanted))})"
            args = wanted
        with self._lock:
            rows = self._db.execute(query + " ORDER BY position", args).fetchall()
        return [_job(row) for row in rows]

    def get(self, key: str) -> Job:
        """The job whose id is ``key`` or starts with it (``studio queue cancel 3fa2``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE id = ? OR id LIKE ? ESCAPE '\\'"
                " ORDER BY position LIMIT 3",
                (key, _like_prefix(key)),
            ).fetchall()
        exact = [r for r in rows if r["id"] == key]
        if exact:
            return _job(exact[0])
        if not key or not rows:
            raise JobNotFound(f"no job {key!r} in the queue")
        if len(rows) > 1:
            raise JobNotFound(f"{key!r} matches more than one job; give more of its id")
        return _job(rows[0])

    def batch(self, key: str | None = None) -> list[Job]:
        """The jobs of a variation batch, in variant order: the batch whose id starts with
        ``key``, or the batch of job ``key``; with no key, the most recently queued batch."""
        with self._lock:
            if key is None:
                row = self._db.execute(
                    "SELECT batch FROM jobs WHERE batch IS NOT NULL ORDER BY created DESC, "
                    "position DESC LIMIT 1"
                ).fetchone()
            else:
                row = self._db.execute(
                    "SELECT batch FROM jobs WHERE batch IS NOT NULL AND (batch LIKE ? ESCAPE '\\'"
                    " OR id = ? OR id LIKE ? ESCAPE '\\') LIMIT 1",
                    (_like_prefix(key), key, _like_prefix(key)),
                ).fetchone()
            if row is None:
                raise JobNotFound(
                    "no variation batch in the queue" if key is None else f"no batch {key!r}"
                )
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE batch = ? ORDER BY variant", (row[0],)
            ).fetchall()
        return [_job(r) for r in rows]

    def state(self, job_id: str) -> JobState:
        with self._lock:
            row = self._db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r} in the queue")
        return JobState(row[0])

    # -- the user's controls ------------------------------------------------------------------

    def move(self, key: str, index: int) -> None:
        """Put a waiting job at ``index`` (0 = next) among the waiting jobs."""
        job = self.get(key)
        if job.state not in PENDING:
            raise QueueError(f"job {job.short_id} is {job.state}; only waiting jobs can move")
        with self._write() as db:
            rows = db.execute(
                "SELECT id, position FROM jobs WHERE state IN (?, ?) ORDER BY position",
                tuple(str(s) for s in PENDING),
            ).fetchall()
            ids = [r["id"] for r in rows if r["id"] != job.id]
            positions = [r["position"] for r in rows]
            ids.insert(max(0, min(index, len(ids))), job.id)
            for job_id, position in zip(ids, positions, strict=True):
                db.execute("UPDATE jobs SET position = ? WHERE id = ?", (position, job_id))

    def pause(self, key: str) -> Job:
        """Hold a job back. A running job stops at its next step (its finished nodes stay
        cached) and waits, paused, until resumed."""
        return self._transition(key, (JobState.QUEUED, JobState.RUNNING), JobState.PAUSED)

    def resume(self, key: str) -> Job:
        return self._transition(key, (JobState.PAUSED,), JobState.QUEUED)

    def cancel(self, key: str) -> Job:
        """Cancel a waiting job, or stop a running one at its next step."""
        return self._transition(
            key, (JobState.QUEUED, JobState.PAUSED, JobState.RUNNING), JobState.CANCELLED
        )

    def retry(self, key: str) -> Job:
        """Queue a failed or cancelled job again (at the end)."""
        job = self._transition(key, (JobState.FAILED, JobState.CANCELLED), JobState.QUEUED)
        with self._write() as db:
            last = db.execute("SELECT COALESCE(MAX(position), 0) FROM jobs").fetchone()[0]
            db.execute("UPDATE jobs SET position = ? WHERE id = ?", (last + 1, job.id))
        return self.get(job.id)

    def cancel_all(self) -> int:
        """Cancel every job not finished yet; returns how many."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET state = ?, finished = ? WHERE state IN (?, ?, ?)",
                (str(JobState.CANCELLED), time.time(), *map(str, (*PENDING, JobState.RUNNING))),
            )
            return cursor.rowcount

    def remove_finished(self) -> int:
        """Forget done, failed and cancelled jobs (their files stay)."""
        with self._write() as db:
            finished = [str(s) for s in JobState if s.finished]
            return db.execute(
                f"DELETE FROM jobs WHERE state IN ({','.join('?' * len(finished))})", finished
            ).rowcount

    def _transition(self, key: str, allowed: tuple[JobState, ...], to: JobState) -> Job:
        job = self.get(key)
        with self._write() as db:
            now_state = JobState(
                db.execute("SELECT state FROM jobs WHERE id = ?", (job.id,)).fetchone()[0]
            )
            if now_state not in allowed:
                raise QueueError(f"job {job.short_id} is {now_state}; it cannot become {to}")
            finished = time.time() if to.finished else None
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, eta = NULL WHERE id = ?",
                (str(to), finished, job.id),
            )
        return self.get(job.id)

    # -- what workers do ----------------------------------------------------------------------

    def claim(self, worker: str, only: Collection[str] | None = None) -> Job | None:
        """Take the next queued job for ``worker`` (atomically: no two workers get one job);
        ``only`` limits it to those job ids (``studio render --vary`` renders its own batch)."""
        now = time.time()
        query, args = "SELECT id FROM jobs WHERE state = ?", [str(JobState.QUEUED)]
        if only is not None:
            ids = list(only)
            query += f" AND id IN ({','.join('?' * len(ids))})"
            args += ids
        with self._write() as db:
            row = db.execute(query + " ORDER BY position LIMIT 1", args).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = ?, worker = ?, started = ?, heartbeat = ?, progress = 0,"
                " eta = NULL, message = '', attempts = attempts + 1 WHERE id = ?",
                (str(JobState.RUNNING), worker, now, now, row["id"]),
            )
        return self.get(row["id"])

    def report(
        self, job_id: str, worker: str, progress: float, eta: float | None, message: str = ""
    ) -> JobState:
        """Record a running job's progress; returns its state, which the user may have changed
        (paused or cancelled) meanwhile: the worker then stops the render."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET progress = ?, eta = ?, message = ?, heartbeat = ?"
                " WHERE id = ? AND worker = ? AND state = ?",
                (progress, eta, message, time.time(), job_id, worker, str(JobState.RUNNING)),
            )
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobState(row[0]) if row is not None else JobState.CANCELLED

    def heartbeat(self, job_id: str, worker: str) -> None:
        """The worker rendering ``job_id`` is alive (a slow node may report no progress for
        minutes; workers on other machines are judged by this)."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET heartbeat = ? WHERE id = ? AND worker = ? AND state = ?",
                (time.time(), job_id, worker, str(JobState.RUNNING)),
            )

    def finish(
        self,
        job_id: str,
        worker: str,
        state: JobState,
        *,
        result: dict[str, Any] | None = None,
        message: str = "",
    ) -> JobState:
        """Record how a job ended, unless the user paused or cancelled it meanwhile (their
        choice stands). Returns the state the job is left in."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, eta = NULL, message = ?, result = ?,"
                " progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END"
                " WHERE id = ? AND worker = ? AND state = ?",
                (
                    str(state),
                    time.time(),
                    message,
                    json.dumps(result or {}),
                    str(state),
                    job_id,
                    worker,
                    str(JobState.RUNNING),
                ),
            )
            if state is not JobState.DONE and result:  # keep what a stopped job made
                db.execute(
                    "UPDATE jobs SET result = ? WHERE id = ? AND worker = ?",
                    (json.dumps(result), job_id, worker),
                )
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobState(row[0]) if row is not None else JobState.CANCELLED

    def release(self, job_id: str, worker: str, message: str) -> JobState:
        """Give a running job back to the queue, at its head (its worker could not finish it:
        a render farm went away). Returns the state it is left in."""
        with self._write() as db:
            first = db.execute("SELECT COALESCE(MIN(position), 0) FROM jobs").fetchone()[0]
            db.execute(
                "UPDATE jobs SET state = ?, worker = NULL, position = ?, eta = NULL, message = ?"
                " WHERE id = ? AND worker = ? AND state = ?",
                (str(JobState.QUEUED), first - 1, message, job_id, worker, str(JobState.RUNNING)),
            )
        return self.state(job_id)

    def interrupted(self) -> list[Job]:
        """Jobs left "running" by a worker that is gone (killed, crashed, machine rebooted)."""
        now = time.time()
        return [
            job
            for job in self.jobs([JobState.RUNNING])
            if not worker_alive(job.worker, _heartbeat(self, job.id), now)
        ]

    def requeue_orphans(self) -> list[Job]:
        """Put interrupted jobs back at the head of the queue, in their order; returns them."""
        orphans = self.interrupted()
        if not orphans:
            return []
        with self._write() as db:
            first = db.execute("SELECT COALESCE(MIN(position), 0) FROM jobs").fetchone()[0]
            for offset, job in enumerate(orphans):
                db.execute(
                    "UPDATE jobs SET state = ?, worker = NULL, position = ?, eta = NULL,"
                    " message = ? WHERE id = ? AND state = ? AND worker IS ?",
                    (
                        str(JobState.QUEUED),
                        first - len(orphans) + offset,
                        "interrupted; restarts (finished nodes come from the cache)",
                        job.id,
                        str(JobState.RUNNING),
                        job.worker,
                    ),
                )
        return [self.get(job.id) for job in orphans]


def _heartbeat(store: JobStore, job_id: str) -> float | None:
    with store._lock:
        row = store._db.execute("SELECT heartbeat FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else row[0]


def _like_prefix(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        name=row["name"],
        workflow=row["workflow"],
        output_dir=Path(row["output_dir"]),
        targets=None if row["targets"] is None else json.loads(row["targets"]),
        overrides=json.loads(row["overrides"]),
        state=JobState(row["state"]),
        position=row["position"],
        batch=row["batch"],
        variant=row["variant"],
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        progress=row["progress"],
        eta=row["eta"],
        message=row["message"],
        attempts=row["attempts"],
        worker=row["worker"],
        result=json.loads(row["result"] or "{}"),
    )
