"""Checks a graph before a run and reports every problem at once, per node: missing inputs,
bad param values, and each node's own input checks (:attr:`NodeSpec.check`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from studio.graph.graph import Graph
from studio.graph.spec import CheckEnv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    node_id: str
    node_title: str
    message: str
    severity: str = "error"  # "error" stops a run; "warning" does not

    def __str__(self) -> str:
        return f"{self.node_title}: {self.message}"


def validate(
    graph: Graph, node_ids: Iterable[str] | None = None, *, models: Any = None
) -> list[Problem]:
    """Every problem in ``node_ids`` (default: the whole graph), errors and warnings.
    ``models`` (the model manager) lets nodes check that their models exist."""
    wanted = graph.nodes if node_ids is None else [graph.node(i) for i in node_ids]
    problems: list[Problem] = []
    # One pass over the edges: Graph.edge_into per input would scan them all for each node.
    connected: dict[str, set[str]] = {}
    for edge in graph.edges:
        connected.setdefault(edge.dst_node, set()).add(edge.dst_port)
    for node in wanted:

        def report(message: str, severity: str = "error", node=node) -> None:
            problems.append(Problem(node.id, node.title, message, severity))

        if node.spec is None:
            report(f"unknown node type {node.type_id!r} (not installed); it cannot run")
            continue
        spec = node.spec
        wired = connected.get(node.id, set())
        for port in spec.inputs:
            if port.variadic:
                slots = port.slot_names(node.slot_count(port.name))
                if not port.optional and not wired.intersection(slots):
                    report(f"connect at least one {port.name!r} input ({port.type.value})")
            elif not port.optional and port.name not in wired:
                report(f"input {port.name!r} ({port.type.value}) is not connected")
        values = node.params_view()
        params_ok = True
        for param in spec.params:
            if param.name not in values:
                report(f"parameter {param.name!r} is missing")
                params_ok = False
                continue
            issue = param.problem(values[param.name])
            if issue:
                report(f"{param.display_name}: {issue}")
                params_ok = False
        for name in node.extra_params:
            report(f"parameter {name!r} is not used by {spec.title}", "warning")
        if node.bypass and spec.outputs:
            for out in spec.outputs:
                if not any(inp.type.accepts(out.type) for inp in spec.inputs):
                    report(f"cannot be bypassed: no input carries a {out.type.value}")
        if spec.check is not None and params_ok and not node.bypass:
            env = CheckEnv(frozenset(wired), models)
            try:
                found = list(spec.check(values, env))
            except Exception as exc:  # a faulty check must not hide the other problems
                log.exception("the input check of %s failed", spec.type_id)
                found = [f"its input check failed ({type(exc).__name__}: {exc})"]
            for message in found:
                report(message)
    return problems


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
