"""``studio validate`` and ``studio nodes``: check a workflow file, list the node types."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from studio.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    load_workflow,
    printable,
    registry_or_default,
)
from studio.graph.registry import NodeRegistry


def cmd_validate(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine.scheduler import default_models
    from studio.graph.fileformat import WorkflowFileError
    from studio.graph.flatten import flatten
    from studio.graph.validate import validate

    try:
        graph = load_workflow(args.workflow, registry_or_default(registry), keep_errors=True)
    except WorkflowFileError as exc:  # every structural problem, one a line
        for problem in exc.problems:
            print(f"studio: error: {printable(str(problem))}", file=sys.stderr)
        return EXIT_USAGE
    # Through subgraphs: the nodes inside are checked as the render will run them.
    flat = flatten(graph).graph
    problems = validate(flat, models=default_models() if registry is None else None)
    for problem in problems:
        print(f"{problem.severity}: {printable(str(problem))}")  # titles may hold escapes
    failed = any(p.severity == "error" for p in problems)
    if not failed:
        print(f"{args.workflow}: valid ({len(graph.nodes)} nodes)")
    return EXIT_FAILED if failed else EXIT_OK


def describe_spec(spec: Any) -> dict[str, Any]:
    def port(p: Any) -> dict[str, Any]:
        entry = {"name": p.name, "type": p.type.value, "optional": p.optional, "help": p.help}
        if p.variadic:  # slots name_0, name_1, ... on each node
            entry["variadic"] = True
        return entry

    params = []
    for p in spec.params:
        entry = {"name": p.name, "kind": p.kind.value, "default": p.default, "help": p.help}
        entry.update(
            {k: getattr(p, k) for k in ("min", "max", "step") if getattr(p, k) is not None}
        )
        if p.choices:
            entry["choices"] = list(p.choices)
        params.append(entry)
    return {
        "type": spec.type_id,
        "title": spec.title,
        "category": spec.category,
        "version": spec.version,
        "package": spec.package,
        "package_version": spec.package_version,
        "help": spec.help,
        "output_node": spec.output_node,
        "always_run": spec.always_run,
        "inputs": [port(p) for p in spec.inputs],
        "outputs": [port(p) for p in spec.outputs],
        "params": params,
    }


def cmd_nodes(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    registry = registry_or_default(registry)
    specs = [describe_spec(s) for s in registry]
    skipped = [r.describe() for r in registry.plugin_reports if not r.loaded]
    for message in skipped:  # on stderr, so --json stays parseable
        print(f"studio: warning: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps(specs, indent=2, default=str))
        return EXIT_OK
    for spec in specs:
        origin = ""
        if spec["package"] != "studio":
            origin = f", from {spec['package']} {spec['package_version']}".rstrip()
        print(f"{spec['type']}  ({spec['category']}, v{spec['version']}{origin})  {spec['title']}")
        for group in ("inputs", "outputs"):
            for p in spec[group]:
                optional = ", optional" if p["optional"] else ""
                print(f"    {group[:-1]:6} {p['name']}: {p['type']}{optional}")
        for p in spec["params"]:
            limits = "".join(f" {k}={p[k]}" for k in ("min", "max") if k in p)
            choices = f" one of {', '.join(p['choices'])}" if "choices" in p else ""
            print(f"    param  {p['name']}: {p['kind']} = {p['default']!r}{limits}{choices}")
    return EXIT_OK
