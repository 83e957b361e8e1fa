"""Renders on a daemon thread so the editor stays responsive while a run goes on."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from studio.engine.cancel import CancelToken
from studio.engine.events import EventCallback, RunEvent, RunEventKind, RunStatus, ignore_event
from studio.engine.scheduler import Engine, RunResult
from studio.graph.graph import Graph


class RenderJob:
    """One render of ``graph`` on a worker thread.

    The job reads ``graph`` while it runs: give it a snapshot that nothing edits meanwhile
    (``Session.snapshot()`` / ``Graph.copy()``). ``on_event`` is called from the worker
    thread: a GUI re-emits events as queued signals.
    """

    def __init__(
        self,
        engine: Engine,
        graph: Graph,
        targets: Sequence[str] | None = None,
        *,
        output_dir: Path,
        on_event: EventCallback = ignore_event,
    ) -> None:
        self.engine = engine
        self.graph = graph
        self.targets = list(targets) if targets is not None else None
        self.output_dir = Path(output_dir)
        self.on_event = on_event
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self._token = CancelToken()
        self._thread: threading.Thread | None = None
        # Not Thread.is_alive(): a Ctrl-C that interrupts Thread.join() can leave it wrong.
        self._done = threading.Event()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a RenderJob runs once; make a new one")
        self._thread = threading.Thread(
            target=self._work, args=(self.graph,), name="studio-render", daemon=True
        )
        self._thread.start()

    def _work(self, snapshot: Graph) -> None:
        try:
            self.result = self.engine.run(
                snapshot,
                self.targets,
                output_dir=self.output_dir,
                on_event=self.on_event,
                cancel=self._token,
            )
        except BaseException as exc:  # a bug in the engine: report it rather than vanish
            self.error = exc
            self.on_event(
                RunEvent(
                    RunEventKind.RUN_FINISHED,
                    "",
                    status=RunStatus.FAILED,
                    message=f"{type(exc).__name__}: {exc}",
                )
            )
        finally:
            self._done.set()

    def cancel(self) -> None:
        """Ask the run to stop; it does so at the running node's next progress step."""
        self._token.cancel()

    @property
    def cancelled(self) -> bool:
        return self._token.cancelled

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """The result once finished; None if still running after ``timeout`` seconds."""
        if self._thread is None:
            raise RuntimeError("the job was not started")
        if not self._done.wait(timeout):
            return None
        self._thread.join()  # already past its last line: returns at once
        return self.result

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()
