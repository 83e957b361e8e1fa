"""What runs on a farm worker: one job's render, or the shared upstream of a batch.

These functions run inside Ray worker processes (wrapped as tasks by :mod:`studio.farm.driver`)
but import no Ray themselves: everything they need arrives as plain arguments, and what they
report goes through ``report`` (the farm's control actor). An engine is kept per worker process,
so a worker's memory cache and loaded models serve the jobs it renders one after another.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.engine.cancel import CancelToken
from studio.engine.events import RunEvent
from studio.farm.paths import PathMap

DEFAULT_REGISTRY = "studio.farm.remote:shipped_registry"


@dataclass(frozen=True)
class WorkerConfig:
    """How workers build their engine. ``registry`` is ``"module:function"`` returning a
    :class:`~studio.graph.registry.NodeRegistry` (the shipped nodes by default);
    ``cache_dir`` None uses the worker machine's own cache folder, and ``{pid}`` in it gives
    each worker process a private one; ``path_map`` pairs as :class:`PathMap` has them."""

    registry: str = DEFAULT_REGISTRY
    cache_dir: str | None = None
    path_map: tuple[tuple[str, str], ...] = ()
    threads: int | None = None  # CPU threads per worker for torch and OpenCV (None: theirs)


@dataclass(frozen=True)
class WorkerInfo:
    """Where an attempt at a job runs (attempts > 1 are Ray's retries after a failure)."""

    job_id: str
    host: str
    pid: int
    cuda_visible_devices: str | None


@dataclass
class TaskResult:
    """A job's ending: the engine's status and the queue's JSON record of what it made
    (:func:`studio.queue.worker.job_result`), or, for shared work, the nodes' outputs."""

    status: str  # "ok" | "failed" | "cancelled"
    record: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)


class Control:
    """The driver's side of a running batch, as a worker sees it (a Ray actor handle
    in production, any object with these methods in tests)."""

    def push(self, job_id: str, item: Any) -> None: ...  # a RunEvent or a WorkerInfo

    def is_cancelled(self, job_id: str) -> bool: ...


def shipped_registry() -> Any:
    from studio.session.catalog import default_registry

    return default_registry()


_engines: dict[WorkerConfig, Any] = {}


def worker_engine(config: WorkerConfig) -> Any:
    """This process's engine for ``config`` (made once: its caches and models persist)."""
    engine = _engines.get(config)
    if engine is None:
        if config.threads:
            _pin_threads(config.threads)
        from studio.engine.cache import Cache
        from studio.engine.scheduler import Engine, default_models

        module, _, name = config.registry.partition(":")
        registry = getattr(importlib.import_module(module), name)()
        root = None
        if config.cache_dir is not None:
            root = Path(config.cache_dir.replace("{pid}", str(os.getpid())))
        engine = Engine(registry, Cache(root), models=default_models())
        _engines[config] = engine
    return engine


def _pin_threads(threads: int) -> None:
    import cv2

    cv2.setNumThreads(threads)
    try:
        import torch
    except ImportError:  # torch is optional for CPU-only node sets
        return
    torch.set_num_threads(threads)


def render(
    config: WorkerConfig,
    job_id: str,
    workflow: str,
    targets: Sequence[str] | None,
    output_dir: str,
    control: Any,
    call: Callable[[Any], Any],
    shared_keys: Sequence[str] = (),
    shared_values: Sequence[dict[str, Any]] = (),
    *,
    shared_work: bool = False,
) -> TaskResult:
    """Render one job on this worker; with ``shared_work``, compute ``targets`` only and
    return their outputs (in ``targets`` order) for the batch's other jobs.
    ``call(control.method.remote(...))`` waits for an actor answer (``ray.get``)."""
    from studio.graph.fileformat import loads
    from studio.queue.worker import job_result

    engine = worker_engine(config)
    paths = PathMap(config.path_map)
    control.push.remote(
        job_id,
        WorkerInfo(
            job_id, socket.gethostname(), os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")
        ),
    )
    for key, value in zip(shared_keys, shared_values, strict=True):
        # Results another worker computed: they arrive through Ray's object store, and the
        # engine finds them by key exactly as if this worker had computed them. (Shared work
        # that failed sends nothing: this job then computes it and reports the error itself.)
        if value:
            engine.cache.memory.put(key, value)
    graph = loads(paths.apply_to_workflow(workflow, engine.registry), engine.registry).graph
    out = Path(paths.apply(output_dir))
    token = CancelToken()

    def on_event(event: RunEvent) -> None:
        control.push.remote(job_id, event)
        if event.kind in ("node_started", "node_progress") and call(
            control.is_cancelled.remote(job_id)
        ):
            token.cancel()

    result = engine.run(graph, targets, output_dir=out, on_event=on_event, cancel=token)
    engine.cache.flush()
    record = job_result(graph, result)
    record["host"] = socket.gethostname()  # "model not found" means on that machine
    if shared_work:
        outputs = [result.outputs.get(node_id, {}) for node_id in targets or ()]
        return TaskResult(result.status, record, outputs)
    return TaskResult(result.status, record)
