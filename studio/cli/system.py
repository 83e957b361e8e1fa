"""``studio cache``, ``studio models`` and ``studio open``: the cache, the models, the editor."""

from __future__ import annotations

import argparse
import sys

from studio.cli.common import EXIT_FAILED, EXIT_OK
from studio.graph.registry import NodeRegistry


def cmd_cache(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine import Cache

    cache = Cache()
    info = cache.info()
    if args.action == "clear":
        orphans = info["disk_orphans"]
        leftovers = f" and {orphans} damaged or leftover folders" if orphans else ""
        print(f"removed {cache.clear()} cached results{leftovers} from {info['path']}")
        return EXIT_OK
    print(f"location: {info['path']}")
    print(f"entries:  {info['disk_entries']}")
    print(f"size:     {_size(info['disk_bytes'])} of {_size(info['disk_budget'])}")
    if info["disk_orphans"]:
        print(
            f"orphans:  {info['disk_orphans']} damaged or leftover folders "
            "(`studio cache clear` removes them; renders ignore them)"
        )
    return EXIT_OK


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def cmd_models(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine.models import format_model_report
    from studio.settings import Settings

    settings = Settings()
    report = format_model_report(settings=settings)
    for problem in settings.problems:
        print(f"studio: warning: {problem}", file=sys.stderr)
    print(report)
    return EXIT_OK


def cmd_open(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    try:  # Qt itself may fail to load on a server (a missing libEGL is an ImportError)
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as exc:
        print(f"studio: the editor is not available ({exc})", file=sys.stderr)
        return EXIT_FAILED
    from studio.ui.app import open_editor

    return int(open_editor(args.workflow, args.run, args.screenshot))
