"""Checks a graph before a run and reports every problem at once, per node."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from studio.graph.graph import Graph


@dataclass(frozen=True)
class Problem:
    node_id: str
    node_title: str
    message: str
    severity: str = "error"  # "error" stops a run; "warning" does not

    def __str__(self) -> str:
        return f"{self.node_title}: {self.message}"


def validate(graph: Graph, node_ids: Iterable[str] | None = None) -> list[Problem]:
    """Every problem in ``node_ids`` (default: the whole graph), errors and warnings."""
    wanted = graph.nodes if node_ids is None else [graph.node(i) for i in node_ids]
    problems: list[Problem] = []
    # One pass over the edges: Graph.edge_into per input would scan them all for each node.
    connected = {(e.dst_node, e.dst_port) for e in graph.edges}
    for node in wanted:

        def report(message: str, severity: str = "error", node=node) -> None:
            problems.append(Problem(node.id, node.title, message, severity))

        if node.spec is None:
            report(f"unknown node type {node.type_id!r} (not installed); it cannot run")
            continue
        spec = node.spec
        for port in spec.inputs:
            if not port.optional and (node.id, port.name) not in connected:
                report(f"input {port.name!r} ({port.type.value}) is not connected")
        values = node.params_view()
        for param in spec.params:
            if param.name not in values:
                report(f"parameter {param.name!r} is missing")
                continue
            issue = param.problem(values[param.name])
            if issue:
                report(f"{param.display_name}: {issue}")
        for name in node.extra_params:
            report(f"parameter {name!r} is not used by {spec.title}", "warning")
        if node.bypass and spec.outputs:
            for out in spec.outputs:
                if not any(inp.type.accepts(out.type) for inp in spec.inputs):
                    report(f"cannot be bypassed: no input carries a {out.type.value}")
    return problems


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
