"""Node types that belong to the graph itself rather than to a pipeline stage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.graph.spec import NodeSpec, Port, RunContext
from studio.graph.subgraph import SUBGRAPH_INPUT, SUBGRAPH_OUTPUT
from studio.graph.types import PortType


def _pass_through(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    return {"out": inputs["in"]}


REROUTE = NodeSpec(
    type_id="Reroute",
    title="Reroute",
    category="Utility",
    aliases=("dot", "elbow"),
    tags=("wire", "tidy"),
    help="A dot that tidies a wire; passes its input through unchanged.",
    run=_pass_through,
    inputs=(Port("in", PortType.ANY),),
    outputs=(Port("out", PortType.ANY),),
)

BUILTIN_SPECS: tuple[NodeSpec, ...] = (REROUTE, SUBGRAPH_INPUT, SUBGRAPH_OUTPUT)
