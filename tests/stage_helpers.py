"""Running one stage node directly, and small test pictures (the run context is
:class:`studio.engine.testing.FakeRunContext`, shared with benchmarks)."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeSpec, RunContext

# The name tests written before the shared context used (same class, same arguments); new tests
# import FakeRunContext from studio.engine.testing.
FakeContext = FakeRunContext


def run_node(
    spec: NodeSpec, ctx: RunContext, inputs: dict[str, Any] | None = None, **params: Any
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
