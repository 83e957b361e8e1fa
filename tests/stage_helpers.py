"""A tiny stand-in for the engine's RunContext, and small test pictures, for stage node tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.graph.spec import Cancelled, NodeSpec


class FakeContext:
    """Implements :class:`studio.graph.spec.RunContext`: records progress and info messages.

    ``cancel_after`` = n makes the n-th progress call (1-based) raise :class:`Cancelled`.
    """

    def __init__(
        self,
        output_dir: Path | None = None,
        workflow_json: str = "",
        cancel_after: int | None = None,
    ) -> None:
        self.node_id = "test-node"
        self.device = "cpu"
        self.output_dir = Path(output_dir) if output_dir is not None else Path(".")
        self.workflow_json = workflow_json
        self.progress_calls: list[tuple[int, int]] = []
        self.messages: list[str] = []
        self.cancel_after = cancel_after

    def progress(self, step: int, total: int, message: str = "") -> None:
        self.progress_calls.append((step, total))
        self.check_cancelled()

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()

    @property
    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.progress_calls) >= self.cancel_after

    def info(self, message: str) -> None:
        self.messages.append(message)

    @property
    def models(self) -> Any:
        raise AssertionError("stage nodes load no models")

    def said(self, fragment: str) -> bool:
        return any(fragment in m for m in self.messages)


def run_node(
    spec: NodeSpec, ctx: FakeContext, inputs: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    """Run ``spec`` with its default params overridden by ``params``."""
    merged = spec.default_params()
    unknown = set(params) - set(merged)
    assert not unknown, f"{spec.type_id} has no params {unknown}"
    merged.update(params)
    return spec.run(ctx, inputs or {}, merged)


def photo(name: str = "astronaut", size: tuple[int, int] | None = None) -> np.ndarray:
    """A real photograph from scikit-image, optionally resized to (width, height)."""
    import cv2
    from skimage import data

    image = np.ascontiguousarray(getattr(data, name)()[..., :3])
    if size is not None:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image
