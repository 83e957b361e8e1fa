"""Live feedback: while the artist drags a slider or a brush handle in Draft, re-render the
viewed branch continuously, on one worker thread, without ever getting in a final render's way.

- **Coalescing**: :meth:`LiveRenderer.request` replaces any request still waiting (the latest
  edit wins) and cancels the run in progress; the engine stops it at the running node's next
  progress step, and no node after it starts. A cancelled node caches nothing (the engine's
  rule), so a superseded run leaves only results that were complete before the newer edit.
- **No files**: live runs target one node that is not an output node and has none upstream,
  and store results in the memory tier only (:class:`LiveCache`), so they never write takes,
  renders or disk-cache entries. They never enter the queue.
- **Yielding**: :meth:`hold` cancels the live run and starts none until :meth:`release` (a
  final render or a queued job has the device meanwhile); the latest request waits.
- **The playhead first**, two ways. A request may carry a cheaper ``first`` graph (the
  sources cut to the frame under the playhead where every node on the way works frame by
  frame, see :func:`playhead_graph`); it runs before the full graph. And the full pass tells
  the target node the playhead ``frame`` (``RunContext.focus_frame``): a node that looks
  across frames (Stabilize) makes that frame first and previews it (a PREVIEW result).

Qt-free: listeners are plain callables, called on the worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from studio.engine.cache import Cache, Report
from studio.engine.cancel import CancelToken
from studio.engine.codecs import freeze
from studio.engine.events import RunEvent, RunEventKind
from studio.engine.scheduler import Engine
from studio.graph.graph import Graph


class LivePass(StrEnum):
    FIRST = "first"  # the sources cut to the playhead frame (frame-wise branches)
    PREVIEW = "preview"  # the target's own early picture of the playhead frame (focus_frame)
    FULL = "full"  # the whole branch


@dataclass(frozen=True)
class LiveResult:
    """What one live pass made: the target's outputs (None unless ``status`` is "ok")."""

    serial: int
    target: str
    live_pass: LivePass
    status: str  # "ok" | "failed" | "cancelled"
    outputs: dict[str, Any] | None
    errors: dict[str, str]
    elapsed: float


class LiveCache(Cache):
    """Reads everything ``base`` holds (memory, then disk) but stores in ``base``'s memory tier
    only: a live run writes no files, yet a draft Run after it reuses what it made."""

    def __init__(self, base: Cache) -> None:
        self.base = base
        self.memory = base.memory
        self.disk = None  # nothing written; the live engine keeps its fingerprints in memory
        self.background = False
        self.disk_min_seconds = base.disk_min_seconds
        self._pending = None
        self._writer_lock = threading.Lock()
        self._scratch = None

    @property
    def scratch_dir(self) -> Path:
        return self.base.scratch_dir

    def get(self, key: str, report: Report = lambda _: None) -> dict[str, Any] | None:
        return self.base.get(key, report)

    def contains(self, key: str) -> bool:
        return self.base.contains(key)

    def put(
        self,
        key: str,
        value: dict[str, Any],
        report: Report = lambda _: None,
        *,
        compute_seconds: float | None = None,
    ) -> None:
        freeze(value)
        self.memory.put(key, value)

    def flush(self) -> None:
        pass


def live_engine(engine: Engine) -> Engine:
    """An engine for live runs beside ``engine``: its models and cached results, no disk
    writes, its own bookkeeping (so a live run never disturbs a final one's)."""
    return Engine(
        engine.registry, LiveCache(engine.cache), device=engine._device, models=engine.models
    )


class LiveRefused(ValueError):
    """The node cannot be rendered live (it, or something it needs, writes files)."""


def check_live_target(graph: Graph, node_id: str) -> None:
    """Raise :class:`LiveRefused` if rendering ``node_id`` would run an output node."""
    for upstream in graph.upstream([node_id]):
        spec = graph.node(upstream).spec
        if spec is not None and spec.output_node:
            title = graph.node(upstream).title
            if upstream == node_id:
                raise LiveRefused(f"{title} writes files: live feedback shows the node before it")
            raise LiveRefused(f"{title} writes files and is upstream: no live feedback here")


def playhead_graph(graph: Graph, target: str, frame: int) -> Graph | None:
    """``graph`` with its clip sources cut to the one frame under the playhead, when every
    node between them and ``target`` works frame by frame (declares ``framewise``); None when
    that would not give the same frame (a node looks across frames, e.g. Stabilize)."""
    needed = graph.upstream([target])
    sources = []
    for node_id in needed:
        node = graph.node(node_id)
        spec = node.spec
        if spec is None:
            return None
        if node.type_id == "LoadVideo":
            sources.append(node)
        elif not spec.inputs:
            continue  # a still or a constant: the same for every frame
        elif not spec.framewise or node.bypass:
            return None
    if not sources:
        return None
    cut = graph.copy()
    for source in sources:
        node = cut.node(source.id)
        params = node.params_view()
        limit = int(params.get("max_frames") or 0)
        if limit and frame >= limit:
            return None
        step = max(1, int(params.get("frame_step") or 1))
        node.set_param("start_frame", int(params.get("start_frame") or 0) + frame * step)
        node.set_param("max_frames", 1)
    return cut


@dataclass
class _Request:
    serial: int
    graph: Graph
    target: str
    first: Graph | None
    output_dir: Path
    frame: int | None


EventListener = Callable[[int, RunEvent], None]
ResultListener = Callable[[LiveResult], None]


class LiveRenderer:
    """Re-renders one target continuously, the latest request winning (see the module doc)."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_result: ResultListener = lambda _: None,
        on_event: EventListener = lambda _s, _e: None,
    ) -> None:
        self.engine = live_engine(engine)
        self.on_result = on_result
        self.on_event = on_event
        self._lock = threading.Condition()
        self._pending: _Request | None = None
        self._running: tuple[_Request, CancelToken] | None = None
        self._holds = 0
        self._serial = 0
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._work, name="studio-live", daemon=True)
        self._thread.start()

    # -- asking -----------------------------------------------------------------------------

    def request(
        self,
        graph: Graph,
        target: str,
        *,
        first: Graph | None = None,
        output_dir: Path = Path("out"),
        frame: int | None = None,
    ) -> int:
        """Render ``target`` of ``graph`` (a snapshot nobody edits) as soon as allowed;
        returns the request's serial. ``frame``: the playhead, which the target may make
        first (a PREVIEW result). Raises :class:`LiveRefused` for output nodes."""
        check_live_target(graph, target)
        with self._lock:
            self._serial += 1
            self._pending = _Request(self._serial, graph, target, first, Path(output_dir), frame)
            if self._running is not None:
                self._running[1].cancel()  # superseded: stops at its next step
            self._idle.clear()
            self._lock.notify_all()
            return self._serial

    def cancel(self) -> None:
        """Drop the waiting request and stop the running one."""
        with self._lock:
            self._pending = None
            if self._running is not None:
                self._running[1].cancel()
            self._lock.notify_all()

    def hold(self) -> None:
        """Yield to a final render: stop the live run, start none until :meth:`release`."""
        with self._lock:
            self._holds += 1
            if self._running is not None:
                self._running[1].cancel()
                if self._pending is None:  # the artist still wants it: again on release
                    self._pending = self._running[0]

    def release(self) -> None:
        with self._lock:
            self._holds = max(0, self._holds - 1)
            self._lock.notify_all()

    @property
    def held(self) -> bool:
        return self._holds > 0

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is running or waiting (tests, benchmarks, shutdown)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pending = None
            if self._running is not None:
                self._running[1].cancel()
            self._lock.notify_all()
        self._thread.join(timeout=10)

    # -- the worker -------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._closed and (self._pending is None or self._holds):
                    if self._pending is None:
                        self._idle.set()
                    self._lock.wait()
                if self._closed:
                    self._idle.set()
                    return
                request, self._pending = self._pending, None
                assert request is not None
                token = CancelToken()
                self._running = (request, token)
            try:
                self._render(request, token)
            finally:
                with self._lock:
                    self._running = None
                    if self._pending is None:
                        self._idle.set()

    def _event(self, request: _Request, event: RunEvent) -> None:
        self.on_event(request.serial, event)
        if event.kind is RunEventKind.NODE_PREVIEW and event.node_id == request.target:
            self.on_result(
                LiveResult(
                    request.serial,
                    request.target,
                    LivePass.PREVIEW,
                    "ok",
                    {"image": event.preview},
                    {},
                    0.0,
                )
            )

    def _render(self, request: _Request, token: CancelToken) -> None:
        passes: Sequence[tuple[LivePass, Graph]] = [(LivePass.FULL, request.graph)]
        if request.first is not None:
            passes = [(LivePass.FIRST, request.first), *passes]
        for live_pass, graph in passes:
            if token.cancelled:
                return
            focus = None
            if live_pass is LivePass.FULL and request.frame is not None:
                focus = (request.target, request.frame)
            result = self.engine.run(
                graph,
                [request.target],
                output_dir=request.output_dir,
                on_event=lambda event, r=request: self._event(r, event),
                cancel=token,
                focus=focus,
            )
            self.on_result(
                LiveResult(
                    request.serial,
                    request.target,
                    live_pass,
                    result.status,
                    result.outputs.get(request.target) if result.status == "ok" else None,
                    dict(result.errors),
                    result.elapsed,
                )
            )
            if result.status != "ok":
                return
