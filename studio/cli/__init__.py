"""The ``studio`` command: render, validate and inspect workflows without the editor.

    studio render WORKFLOW [--out DIR] [--target NODE] [--set NODE.PARAM=VALUE] [--events jsonl]
                           [--strip-paths]
                           [--vary NODE.PARAM=VALUES]
    studio queue add|list|run|cancel|pause|resume|retry|move|clear
    studio takes list|show|restore|rate|note|reindex|purge
    studio validate WORKFLOW
    studio nodes [--json]
    studio node TYPE --input PORT=PATH ... [--set PARAM=VALUE ...] --out DIR
    studio cache info|clear
    studio models
    studio open [WORKFLOW] [--run] [--screenshot PNG]

Exit status: 0 ok, 1 failed (or invalid), 2 unusable input (a broken workflow file, an unknown
node), 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio import __version__
from studio.cli.blueprint import add_blueprint_parser
from studio.cli.catalog import cmd_nodes, cmd_validate
from studio.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_USAGE,
    UsageError,
    WriteFailed,
    parse_value,
    printable,
)
from studio.cli.farm import add_ray_option
from studio.cli.node import cmd_node
from studio.cli.queue import add_draft_option, add_queue_parser, add_vary_option
from studio.cli.render import cmd_render
from studio.cli.system import cmd_cache, cmd_models, cmd_open
from studio.cli.takes import add_takes_parser
from studio.graph.registry import NodeRegistry

__all__ = ["main", "build_parser", "parse_value", "UsageError"]


def main(argv: Sequence[str] | None = None, *, registry: NodeRegistry | None = None) -> int:
    """Entry point. ``registry`` replaces the shipped node types (tests pass stub nodes)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, registry)
    except UsageError as exc:
        print(f"studio: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except WriteFailed as exc:
        print(f"studio: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("studio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description="Direct AI video with a node graph: render and inspect."
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser("render", help="render a workflow file")
    render.add_argument("workflow", help="the workflow .json file")
    render.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: 'renders' beside the workflow file)",
    )
    many: dict[str, Any] = {"action": "append", "default": []}  # repeatable options
    render.add_argument(
        "--target", metavar="NODE", **many, help="render only up to NODE (id, id prefix or title)"
    )
    render.add_argument(
        "--set",
        metavar="NODE.PARAM=VALUE",
        **many,
        help="override a parameter (VALUE is JSON, else text)",
    )
    render.add_argument(
        "--events", choices=["jsonl"], help="print one JSON event per line instead of progress bars"
    )
    add_vary_option(render)
    add_ray_option(render)
    add_draft_option(render)
    render.add_argument(
        "--strip-paths",
        action="store_true",
        help="write file names only, no local folders, into the outputs' embedded workflow "
        "(also the setting strip_local_paths)",
    )
    render.set_defaults(handler=cmd_render)

    add_queue_parser(sub)
    add_takes_parser(sub)
    add_blueprint_parser(sub)

    validate = sub.add_parser("validate", help="check a workflow file and list its problems")
    validate.add_argument("workflow")
    validate.set_defaults(handler=cmd_validate)

    nodes = sub.add_parser("nodes", help="list every node type with its ports and params")
    nodes.add_argument("--json", action="store_true", help="machine-readable output")
    nodes.set_defaults(handler=cmd_nodes)

    node = sub.add_parser("node", help="run one node on files")
    node.add_argument("type", help="node type, e.g. Upscale")
    node.add_argument(
        "--input",
        metavar="PORT=PATH",
        **many,
        help="an input from a file: PNG/JPEG for images and masks; an mp4, a "
        "folder of numbered PNGs or one image for videos",
    )
    node.add_argument("--set", metavar="PARAM=VALUE", **many)
    node.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    node.add_argument(
        "--fps", type=float, default=16.0, help="frame rate for videos read from images (16)"
    )
    node.set_defaults(handler=cmd_node)

    cache = sub.add_parser("cache", help="show or empty the render cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.set_defaults(handler=cmd_cache)

    models = sub.add_parser("models", help="the device and the models Studio can find")
    models.set_defaults(handler=cmd_models)

    open_ = sub.add_parser("open", help="open the editor")
    open_.add_argument("workflow", nargs="?")
    open_.add_argument("--run", action="store_true", help="render as soon as it opens")
    open_.add_argument("--screenshot", metavar="PNG", help="save a screenshot and quit")
    open_.set_defaults(handler=cmd_open)
    return parser
