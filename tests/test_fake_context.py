"""The shared FakeRunContext cancels by the engine's rule, because it is the engine's context."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from studio.engine import Cache, CancelToken, Engine, RunEvent
from studio.engine.testing import FakeRunContext
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import Cancelled, NodeSpec, Port
from studio.graph.types import PortType


def counting(done: list[int]) -> NodeSpec:
    def run(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        for step in range(6):
            done.append(step)
            ctx.progress(step + 1, 6)
        ctx.info("finished")
        return {"out": len(done)}

    return NodeSpec("Count", "Count", "Test", run, outputs=(Port("out", PortType.ANY),))


def test_cancel_after_stops_where_a_real_run_cancelled_then_stops(tmp_path: Path):
    in_engine: list[int] = []
    spec = counting(in_engine)
    graph = Graph(NodeRegistry([spec]))
    graph.add("Count")
    token = CancelToken()

    def listen(event: RunEvent) -> None:
        if event.kind == "node_progress" and event.step == 3:
            token.cancel()  # a cancel that lands while the third report is made

    engine = Engine(graph.registry, Cache(tmp_path / "c", disk=False))
    assert engine.run(graph, output_dir=tmp_path, on_event=listen, cancel=token).status == (
        "cancelled"
    )

    direct: list[int] = []
    ctx = FakeRunContext(cancel_after=3)
    with pytest.raises(Cancelled):
        counting(direct).run(ctx, {}, {})
    assert direct == in_engine == [0, 1, 2]
    assert ctx.progress_calls == [(1, 6), (2, 6), (3, 6)] and ctx.cancelled
    with pytest.raises(Cancelled):
        ctx.check_cancelled()  # stays cancelled, as the engine's token does


def test_records_info_and_cancels_on_request(tmp_path: Path):
    ctx = FakeRunContext(tmp_path, '{"nodes": {}}', node_id="n1")
    assert counting([]).run(ctx, {}, {}) == {"out": 6}
    assert ctx.messages == ["finished"] and ctx.said("finish") and not ctx.said("failed")
    assert (ctx.output_dir, ctx.workflow_json, ctx.node_id, ctx.device) == (
        tmp_path,
        '{"nodes": {}}',
        "n1",
        "cpu",
    )
    ctx.check_cancelled()
    ctx.cancel()
    with pytest.raises(Cancelled):
        ctx.progress(1, 1)
    with pytest.raises(ValueError, match="from 1"):
        FakeRunContext(cancel_after=0)
