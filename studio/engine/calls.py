"""Calling one node's ``run`` and saying how it ended, on whichever thread runs it."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

from studio.engine.context import NodeContext
from studio.engine.filling import StreamBroken
from studio.graph.graph import Node
from studio.graph.spec import Cancelled, NodeError


@dataclass
class Outcome:
    """How one node's ``run`` ended, before the run records it (:meth:`Run.settle`)."""

    status: str  # "ok" | "failed" | "cancelled" | "broken" (its streamed input broke off)
    outputs: dict[str, Any] | None = None
    message: str = ""
    trace: str | None = None
    elapsed: float = 0.0


def call_node(node: Node, ctx: NodeContext, inputs: dict[str, Any]) -> Outcome:
    """Run ``node``'s spec and say how it ended; a node that did not succeed leaves no
    scratch files. Emits only through ``ctx``, so it may run on any thread."""
    spec = node.spec
    assert spec is not None  # validation refused placeholders
    start = time.perf_counter()
    try:
        outputs = spec.run(ctx, inputs, node.params)
        ctx.check_cancelled()
    except Cancelled:
        ctx.frames.discard()  # a cancelled node leaves no scratch files
        return Outcome("cancelled")
    except StreamBroken as exc:
        ctx.frames.discard()
        return Outcome("broken", message=str(exc))
    except NodeError as exc:
        ctx.frames.discard()
        return Outcome("failed", message=str(exc) or type(exc).__name__)
    except Exception as exc:
        ctx.frames.discard()
        return Outcome("failed", message=f"{type(exc).__name__}: {exc}",
                       trace=traceback.format_exc())  # fmt: skip
    ctx.frames.release_unused(outputs)
    return Outcome("ok", outputs, elapsed=time.perf_counter() - start)
