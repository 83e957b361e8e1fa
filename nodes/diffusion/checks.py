"""The input checks the diffusion nodes share (:attr:`NodeSpec.check`): the model can be found
and the LoRAs can be used, reported by ``studio validate`` and before a render starts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nodes.diffusion.loras import check_loras
from studio.graph.spec import CheckEnv, NodeError


def diffusion_check(
    kind: str, *, required: bool
) -> Callable[[Mapping[str, Any], CheckEnv], list[str]]:
    """A check for a node with a ``model`` param of ``kind`` (``required``: empty is an error;
    otherwise empty picks a built-in path) and an optional ``loras`` list."""

    def check(params: Mapping[str, Any], env: CheckEnv) -> list[str]:
        problems = []
        value = params.get("model", "")
        if not str(value).strip():
            if required:
                problems.append(f"no {kind} model chosen: pick one in the node's 'model' param")
        elif env.models is not None:  # without a model manager, models cannot be looked up
            try:
                env.models.resolve(value, kind=kind)
            except NodeError as exc:
                problems.append(str(exc))
        try:
            check_loras(params.get("loras", []))
        except NodeError as exc:
            problems.append(str(exc))
        return problems

    return check
