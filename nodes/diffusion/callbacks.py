"""The step callback every diffusion node hands to diffusers: progress and a hard cancel.

``ctx.progress`` raises :class:`~studio.graph.spec.Cancelled` when the artist cancelled. Raising
from ``callback_on_step_end`` aborts the pipeline within one step; setting ``pipe._interrupt``
would instead skip the remaining steps and still decode half-denoised latents into a clip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from studio.graph.spec import RunContext

StepCallback = Callable[[Any, int, int, dict[str, Any]], dict[str, Any]]


def step_callback(
    ctx: RunContext, total: int, message: str = "denoising", preview: Any = None
) -> StepCallback:
    """A ``callback_on_step_end`` reporting step ``i + 1`` of ``total`` (raises on cancel),
    and handing the latents to ``preview`` (a :class:`~nodes.diffusion.preview.LatentPreview`)."""

    def on_step_end(
        pipe: Any, step: int, _timestep: int, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if preview is not None:
            preview.on_step(pipe, callback_kwargs.get("latents"))
        ctx.progress(min(step + 1, total), total, message)
        return callback_kwargs

    return on_step_end


@contextmanager
def free_hooks_on_error(pipe: Any) -> Iterator[None]:
    """On any exception (cancel included), put the pipeline back in its idle state.

    ``maybe_free_model_hooks`` resets step-cache state and re-arms offload hooks, so the
    next run of a reused pipeline starts clean instead of from a half-finished one.
    """
    try:
        yield
    except BaseException:
        pipe.maybe_free_model_hooks()
        raise
