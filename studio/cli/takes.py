"""``studio takes``: list, inspect, restore, rate, re-index and purge the takes of an output folder.

    studio takes list [SHOT] [--rating circle|reject|none] [--limit N] [--json] [--dir OUT]
    studio takes show TAKE [--json] [--dir OUT]
    studio takes restore TAKE --out WF.json [--dir OUT]
    studio takes rate TAKE circle|reject|none [--dir OUT]
    studio takes note TAKE TEXT [--dir OUT]
    studio takes reindex DIR
    studio takes purge --rejected [--dry-run] [--dir OUT]

TAKE is ``shot_v007`` (or a shot name: its newest take). ``--dir`` is the render's output
folder, or the workflow file whose ``renders/`` folder holds them (where ``studio render`` puts
them by default); without it, ``./renders``, else ``./out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_FAILED, EXIT_OK, UsageError, printable, registry_or_default
from studio.graph.registry import NodeRegistry
from studio.takes import Rating, Take, TakesDB, TakesError
from studio.takes.credentials import read_credentials
from studio.takes.db import DB_NAME

RATINGS = {"circle": Rating.CIRCLE, "reject": Rating.REJECT, "none": Rating.NONE}


def add_takes_parser(sub: Any) -> None:
    takes = sub.add_parser("takes", help="list, show, restore, rate and purge takes")
    actions = takes.add_subparsers(dest="takes_command", required=True, metavar="ACTION")

    def with_dir(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="the render's output folder, or its workflow file (whose renders/ it means); "
            "default: ./renders, else ./out",
        )
        return parser

    listing = with_dir(actions.add_parser("list", help="takes, newest first"))
    listing.add_argument("shot", nargs="?", help="only this shot")
    listing.add_argument("--rating", choices=sorted(RATINGS))
    listing.add_argument("--limit", type=int)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=cmd_takes_list)

    show = with_dir(actions.add_parser("show", help="everything recorded about one take"))
    show.add_argument("take")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_takes_show)

    restore = with_dir(actions.add_parser("restore", help="write the workflow that made a take"))
    restore.add_argument("take")
    restore.add_argument("--out", type=Path, required=True, help="the workflow file to write")
    restore.set_defaults(handler=cmd_takes_restore)

    rate = with_dir(actions.add_parser("rate", help="circle (keep) or reject a take"))
    rate.add_argument("take")
    rate.add_argument("rating", choices=sorted(RATINGS))
    rate.set_defaults(handler=cmd_takes_rate)

    note = with_dir(actions.add_parser("note", help="set a take's note"))
    note.add_argument("take")
    note.add_argument("text")
    note.set_defaults(handler=cmd_takes_note)

    reindex = actions.add_parser("reindex", help="rebuild a folder's takes database from files")
    reindex.add_argument("folder", type=Path)
    reindex.set_defaults(handler=cmd_takes_reindex)

    purge = with_dir(actions.add_parser("purge", help="delete the files of rejected takes"))
    purge.add_argument("--rejected", action="store_true", required=True)
    purge.add_argument("--dry-run", action="store_true", help="only say what would go")
    purge.set_defaults(handler=cmd_takes_purge)


def takes_folder(given: Path | None) -> Path:
    """Where the takes are: ``--dir`` (a workflow file means the renders folder beside it),
    else ./renders (studio render's default beside a workflow here), else ./out."""
    from studio.session.session import RENDERS_FOLDER

    if given is None:
        here = Path(RENDERS_FOLDER)
        return here if (here / DB_NAME).is_file() else Path("out")
    if given.is_file():
        return given.resolve().parent / RENDERS_FOLDER
    return given


def _open(folder: Path | None) -> TakesDB:
    folder = takes_folder(folder)
    if not (folder / DB_NAME).is_file():
        raise UsageError(
            f"no takes in {folder} (no {DB_NAME}); pass the render's output folder with --dir, "
            f"or rebuild it with `studio takes reindex {folder}`"
        )
    try:
        return TakesDB(folder, create=False)
    except TakesError as error:
        raise UsageError(str(error)) from None


def _get(db: TakesDB, name: str) -> Take:
    try:
        return db.get(name)
    except TakesError as error:
        raise UsageError(str(error)) from None


def cmd_takes_list(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    with _open(args.dir) as db:
        rating = RATINGS[args.rating] if args.rating else None
        takes = db.list(shot=args.shot, rating=rating, limit=args.limit)
    for take in takes:
        if args.json:
            print(json.dumps(_summary(take)))
        else:
            print(_line(take))
    if not takes and not args.json:
        print("no takes", file=sys.stderr)
    return EXIT_OK


def _line(take: Take) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(take.created))
    flag = {"circle": "(o)", "reject": " x "}.get(str(take.rating), "   ")
    state = "  MISSING" if take.missing else ""
    changed = ", ".join(f"{k}={_short(v[1])}" for k, v in list(take.changed.items())[:3])
    note = f"  “{printable(take.note)}”" if take.note else ""
    return f"{flag} {take.name:<24} {when}  {printable(changed)}{note}{state}"


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:21] + "..."


def _summary(take: Take) -> dict[str, Any]:
    return {
        "take": take.name,
        "shot": take.shot,
        "number": take.number,
        "created": take.created,
        "rating": str(take.rating) or None,
        "note": take.note,
        "missing": take.missing,
        "files": [str(p) for p in take.paths()],
        "changed": take.changed,
        "seeds": take.seeds,
    }


def cmd_takes_show(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    with _open(args.dir) as db:
        take = _get(db, args.take)
    data = _summary(take) | {
        "node": take.node_title or take.node_type,
        "cache_key": take.cache_key,
        "device": take.device,
        "versions": take.versions,
        "nodes": take.nodes,
        "credentials": read_credentials(take.paths()[0]) if not take.missing else None,
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    for name, value in data.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, indent=2) if value else "-"
        print(f"{name + ':':<10} {printable(str(value))}")
    return EXIT_OK


def cmd_takes_restore(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.graph.fileformat import save
    from studio.takes.restore import restore_workflow

    registry = registry_or_default(registry)
    with _open(args.dir) as db:
        take = _get(db, args.take)
    try:
        loaded = restore_workflow(take, registry)
    except TakesError as error:
        raise UsageError(str(error)) from None
    for warning in loaded.warnings:
        print(f"studio: warning: {printable(warning)}", file=sys.stderr)
    try:
        save(loaded.graph, args.out)
    except OSError as error:
        print(f"studio: error: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote the workflow of {take.name} to {args.out}")
    return EXIT_OK


def cmd_takes_rate(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    with _open(args.dir) as db:
        take = _get(db, args.take)
        db.rate(take.name, RATINGS[args.rating])
    print(f"{take.name}: {args.rating}")
    return EXIT_OK


def cmd_takes_note(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    with _open(args.dir) as db:
        take = _get(db, args.take)
        db.set_note(take.name, args.text)
    return EXIT_OK


def cmd_takes_reindex(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.takes.reindex import reindex

    if not args.folder.is_dir():
        raise UsageError(f"{args.folder} is not a folder")
    try:
        found, added = reindex(args.folder)
    except TakesError as error:
        raise UsageError(str(error)) from None
    print(f"{found} takes in {args.folder} ({added} newly indexed)")
    return EXIT_OK


def cmd_takes_purge(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    freed = 0
    with _open(args.dir) as db:
        rejected = db.list(rating=Rating.REJECT)
        for take in rejected:
            size = sum(_size(p) for p in take.paths())
            freed += size
            verb = "would delete" if args.dry_run else "deleting"
            print(f"{verb} {take.name} ({size / 1e6:.1f} MB)")
            if args.dry_run:
                continue
            for path in take.paths():
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            db.delete(take.name)
    verb = "would free" if args.dry_run else "freed"
    print(f"{len(rejected)} rejected takes; {verb} {freed / 1e6:.1f} MB")
    return EXIT_OK


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0
