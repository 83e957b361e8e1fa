"""``studio blueprint list|show``: the saved subgraphs a node search offers."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.cli.common import EXIT_OK, UsageError, printable
from studio.graph.registry import NodeRegistry


def add_blueprint_parser(sub: Any) -> None:
    parser = sub.add_parser("blueprint", help="list and show blueprints (saved subgraphs)")
    actions = parser.add_subparsers(dest="blueprint_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every blueprint in the library folders")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=cmd_blueprint_list)
    show = actions.add_parser("show", help="one blueprint's ports, params and nodes")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_blueprint_show)


def _library(registry: NodeRegistry | None) -> Any:
    from studio.session.blueprints import BlueprintLibrary

    library = getattr(registry, "blueprints", None)
    return library if library is not None else BlueprintLibrary.from_settings()


def cmd_blueprint_list(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    library = _library(registry)
    blueprints = library.all()
    for problem in library.problems:
        print(f"studio: warning: {printable(problem)}", flush=True)
    for bp in blueprints:
        if args.json:
            print(json.dumps(_summary(bp)))
        else:
            print(f"{printable(bp.name)}  ({bp.sha256[:12]})  {printable(bp.description)}")
            print(f"    {printable(str(bp.path))}")
    return EXIT_OK


def _summary(bp: Any) -> dict[str, Any]:
    return {
        "name": bp.name,
        "description": bp.description,
        "path": str(bp.path),
        "sha256": bp.sha256,
    }


def cmd_blueprint_show(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.cli.common import registry_or_default
    from studio.graph.fileparse import WorkflowFileError
    from studio.graph.graph import Graph
    from studio.graph.subgraph import make_subgraph_node
    from studio.session.blueprints import instance_def

    library = _library(registry)
    bp = library.get(args.name)
    if bp is None:
        names = ", ".join(b.name for b in library.all()) or "none"
        raise UsageError(f"no blueprint named {args.name!r} (there are: {names})")
    graph = Graph(registry_or_default(registry))
    try:
        defn = instance_def(bp, graph, linked=True)
    except WorkflowFileError as exc:
        raise UsageError(str(exc)) from None
    node = make_subgraph_node(graph, defn, node_id="bp", title=bp.name, position=(0, 0))
    data = {
        **_summary(bp),
        "inputs": [{"name": p.name, "type": p.type.value} for p in node.inputs],
        "outputs": [{"name": p.name, "type": p.type.value} for p in node.outputs],
        "params": [
            {"name": p.name, "label": p.display_name, "default": p.default}
            for p in node.spec.params
        ],
        "nodes": [
            {"id": n.id, "type": n.type_id, "title": n.title}
            for n in defn.graph.nodes
            if n.type_id not in ("Subgraph Input", "Subgraph Output")
        ],
    }
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    print(f"{printable(bp.name)}  ({bp.sha256[:12]})")
    if bp.description:
        print(f"    {printable(bp.description)}")
    for group in ("inputs", "outputs"):
        for p in data[group]:
            print(f"    {group[:-1]:6} {printable(p['name'])}: {p['type']}")
    for p in data["params"]:
        print(f"    param  {printable(p['name'])} ({printable(p['label'])}) = {p['default']!r}")
    print("    nodes  " + " → ".join(printable(n["title"]) for n in data["nodes"]))
    return EXIT_OK
