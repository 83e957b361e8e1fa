"""The painter's renders: one target of a graph snapshot through the engine, off the UI thread.

The painter runs nothing itself. Its keyframe, the masks it tints (GrabCut included), the mask
wired into a Motion Brush and the quick preview's motion are the outputs of real nodes, run by
the same engine and cache as a render (so an upstream branch that was rendered comes straight
from the cache). Each :class:`EngineTask` runs on a daemon thread and reports back through
queued signals; ``cancel`` stops it at the running node's next progress step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.engine.cancel import CancelToken
from studio.engine.events import RunEvent
from studio.graph.graph import Graph
from studio.graph.spec import Cancelled, NodeError
from studio.session.keyframes import keyframe_source

__all__ = ["EngineTask", "Snapshot", "keyframe_source", "picture_of", "upstream_signature"]

Snapshot = Callable[[], Graph]
WORKER_NICENESS = 10


def upstream_signature(graph: Graph, node_id: str) -> str:
    """Everything upstream of (and including) ``node_id`` that decides its output, as text:
    equal signatures mean an earlier answer still holds, with no engine call."""
    nodes = graph.upstream([node_id])
    parts = [repr((n, graph.node(n).type_id, graph.node(n).params)) for n in sorted(nodes)]
    parts += sorted(repr(e) for e in graph.edges if e.dst_node in nodes)
    return "\n".join(parts)


class EngineTask(QObject):
    """Runs ``target`` of ``graph`` (a snapshot) through ``engine`` on a worker thread.

    ``then`` optionally turns the target's outputs into the result on the same thread (the
    quick preview animates the motion there); it may call ``report(done, total)``, which also
    raises :class:`Cancelled` once the task is cancelled.
    """

    progress = Signal(float, str)  # fraction of the whole task, what is running
    done = Signal(object)  # the target's outputs, or what ``then`` made of them
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self,
        engine: Any,
        graph: Graph,
        target: str,
        then: Callable[[dict[str, Any], Callable[[int, int], None]], Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine, self.graph, self.target, self.then = engine, graph, target, then
        self.token = CancelToken()
        self.finished = threading.Event()
        self._nodes: tuple[str, ...] = ()
        self._finished_nodes = 0
        self._titles = {n.id: n.title for n in graph.nodes}

    def start(self) -> EngineTask:
        threading.Thread(target=self._work, name="painter-task", daemon=True).start()
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the worker has finished (tests, and closing the window)."""
        return self.finished.wait(timeout)

    def _emit(self, signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window (and this object) went away meanwhile
            pass

    def _on_event(self, event: RunEvent) -> None:
        if event.kind == "run_started":
            self._nodes = event.node_ids
        elif event.kind in ("node_finished", "node_cached", "node_failed", "node_skipped"):
            self._finished_nodes += 1
        elif event.kind == "node_progress" and event.total:
            share = 0.8 if self.then is not None else 1.0
            fraction = (self._finished_nodes + (event.step or 0) / event.total) / max(
                1, len(self._nodes)
            )
            title = self._titles.get(event.node_id or "", "")
            self._emit(self.progress, share * min(1.0, fraction), title)

    def _report(self, done: int, total: int) -> None:
        if self.token.cancelled:
            raise Cancelled()
        if total:
            self._emit(self.progress, 0.8 + 0.2 * done / total, "preview")

    def _work(self) -> None:
        _yield_to_the_ui()
        try:
            result = self.engine.run(
                self.graph,
                [self.target],
                output_dir=self.engine.output_dir,
                on_event=self._on_event,
                cancel=self.token,
            )
            if result.status == "cancelled" or self.token.cancelled:
                self._emit(self.cancelled)
                return
            if result.status != "ok":
                message = result.errors.get(self.target) or next(
                    iter(result.errors.values()), "the render failed"
                )
                self._emit(self.failed, message)
                return
            outputs = result.outputs.get(self.target, {})
            self._emit(
                self.done, outputs if self.then is None else self.then(outputs, self._report)
            )
        except Cancelled:
            self._emit(self.cancelled)
        except NodeError as error:
            self._emit(self.failed, str(error))
        except Exception as error:  # a bug must reach the artist as a message, not vanish
            self._emit(self.failed, f"{type(error).__name__}: {error}")
        finally:
            self.finished.set()


def _yield_to_the_ui() -> None:
    """Lower this worker thread's CPU priority (Linux: per thread), so on a busy machine the
    UI thread wins the core and the editor keeps answering while GrabCut or a render runs."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


def picture_of(outputs: dict[str, Any], port: str) -> np.ndarray | None:
    value = outputs.get(port)
    if isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[2] == 3:
        return np.ascontiguousarray(value, dtype=np.uint8)
    return None
