"""``studio node``: run one node type on files, without a workflow."""

from __future__ import annotations

import argparse
import time
import traceback
from pathlib import Path
from typing import Any

from studio.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    parse_value,
    registry_or_default,
    split_assignment,
)
from studio.cli.media import read_input, write_output
from studio.cli.progress import ProgressPrinter
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Port, slot_index


def cmd_node(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine import CancelToken, RunEvent, default_models
    from studio.engine.context import NodeContext
    from studio.engine.outputs import output_problem
    from studio.graph.spec import Cancelled, NodeError

    registry = registry_or_default(registry)
    spec = registry.get(args.type)
    if spec is None:
        known = ", ".join(s.type_id for s in registry)
        raise UsageError(f"unknown node type {args.type!r}; known: {known}")
    inputs: dict[str, Any] = {}
    for assignment in args.input:
        name, path = split_assignment(assignment, "PORT")
        port = spec.input(name) or _slot(spec, name)
        if port is None:
            raise UsageError(f"{spec.title} has no input {name!r}")
        inputs[name] = read_input(port.type, Path(path), args.fps)
    missing = [
        p.name
        for p in spec.inputs
        if not p.optional
        and p.name not in inputs
        and not (p.variadic and any(slot_index(p.name, n) is not None for n in inputs))
    ]
    if missing:
        raise UsageError(f"{spec.title} needs --input for {', '.join(missing)}")
    params = spec.default_params()
    for assignment in args.set:
        name, value = split_assignment(assignment, "PARAM")
        param = spec.param(name)
        if param is None:
            raise UsageError(f"{spec.title} has no parameter {name!r}")
        params[name] = parse_value(value)
        problem = param.problem(params[name])
        if problem:
            raise UsageError(f"{param.display_name}: {problem}")

    printer = ProgressPrinter({"node": spec.title})
    ctx = NodeContext(
        run_id="cli",
        node_id="node",
        output_dir=args.out,
        cancel=CancelToken(),
        emit=printer,
        device=_device,
        workflow_json=lambda: "{}",
        models=default_models(),
    )
    printer(RunEvent("node_started", "cli", "node"))
    start = time.perf_counter()
    try:
        outputs = spec.run(ctx, inputs, params)
        problem = output_problem(spec, outputs)
        if problem:
            raise NodeError(problem)
    except (NodeError, Cancelled) as exc:
        printer(RunEvent("node_failed", "cli", "node", message=str(exc) or "cancelled"))
        return EXIT_FAILED
    except Exception as exc:  # a bug in the node: its message and where it happened
        message = f"{type(exc).__name__}: {exc}"
        printer(
            RunEvent(
                "node_failed", "cli", "node", message=message, traceback=traceback.format_exc()
            )
        )
        return EXIT_FAILED
    printer(RunEvent("node_finished", "cli", "node", elapsed=time.perf_counter() - start))
    for port in spec.outputs:
        if port.name in outputs:
            for path in write_output(port.type, outputs[port.name], args.out, port.name):
                print(path)
    for path in outputs.get("files", []):
        print(path)
    return EXIT_OK


def _device() -> str:
    from studio.engine.context import detect_device

    return detect_device()


def _slot(spec: NodeSpec, name: str) -> Port | None:
    """The variadic input that ``name`` (``clip_0``, ``clip_1``, ...) is a slot of."""
    return next((p for p in spec.variadic_inputs() if slot_index(p.name, name) is not None), None)
