"""A run context for calling a node's ``run`` directly: in tests, benchmarks and tools.

:class:`FakeRunContext` is the engine's own :class:`~studio.engine.context.NodeContext` with a
recorder in place of the event stream, so a node sees exactly what the engine gives it: the same
progress, info and cancellation rules, never a hand-written copy that drifts from them.

Cancellation follows the engine: ``progress`` reports the step first, then raises
:class:`~studio.graph.spec.Cancelled` if the run is cancelled; once cancelled, every later
``progress`` and ``check_cancelled`` raises too. ``cancel_after=n`` cancels the run as the n-th
progress report (1-based) is made, so that report is recorded and then raises, as a cancel
arriving mid-step does in a real run. :meth:`FakeRunContext.cancel` cancels at once.

Not for production code: nothing in ``studio`` or ``nodes`` may import this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.engine.cancel import CancelToken
from studio.engine.context import NodeContext
from studio.engine.events import RunEvent


class FakeRunContext(NodeContext):
    """A :class:`~studio.graph.spec.RunContext` that records what the node reported.

    ``models`` defaults to a fresh :class:`~studio.engine.models.ModelManager` (made on first
    use), so nodes that load weights find local models as they would in a render.
    """

    def __init__(
        self,
        output_dir: Path | str | None = None,
        workflow_json: str = "{}",
        *,
        models: Any = None,
        cancel_after: int | None = None,
        device: str = "cpu",
        node_id: str = "test-node",
    ) -> None:
        if cancel_after is not None and cancel_after < 1:
            raise ValueError(f"cancel_after counts progress reports from 1, got {cancel_after}")
        self.run_events: list[RunEvent] = []
        self.cancel_after = cancel_after
        self.token = CancelToken()
        self._own_models = models
        super().__init__(
            run_id="test-run",
            node_id=node_id,
            output_dir=Path(output_dir) if output_dir is not None else Path("."),
            cancel=self.token,
            emit=self._record,
            device=lambda: device,
            workflow_json=lambda: workflow_json,
            models=models,
        )

    def _record(self, event: RunEvent) -> None:
        self.run_events.append(event)
        if event.kind == "node_progress" and self.cancel_after is not None:
            if len(self.progress_calls) >= self.cancel_after:
                self.token.cancel()

    @property
    def models(self) -> Any:
        if self._own_models is None:
            from studio.engine.models import ModelManager

            self._own_models = ModelManager()
        return self._own_models

    def cancel(self) -> None:
        """Cancel now: the next ``progress`` or ``check_cancelled`` raises."""
        self.token.cancel()

    @property
    def progress_calls(self) -> list[tuple[int, int]]:
        """Every progress report as (step, total), in order."""
        return [(e.step or 0, e.total or 0) for e in self.run_events if e.kind == "node_progress"]

    @property
    def messages(self) -> list[str]:
        """Every ``info`` message, in order."""
        return [e.message for e in self.run_events if e.kind == "node_info"]

    def said(self, fragment: str) -> bool:
        """Whether any info message contains ``fragment``."""
        return any(fragment in m for m in self.messages)
