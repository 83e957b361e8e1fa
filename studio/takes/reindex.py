"""Rebuild the takes index from the files: the files are the truth, the database an index.

A take's facts come from its sidecar ``.json`` (``metadata.take``), else from the workflow its
mp4 embeds (the number from the file name). ``studio takes reindex DIR`` runs :func:`reindex`;
a writer also adopts takes a killed writer published but never recorded
(:func:`adopt_unrecorded`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from studio.takes.db import Rating, Take, TakesDB, take_name
from studio.takes.provenance import load_json, seeds

MAIN_SUFFIXES = (".mp4", ".png")


def take_from_files(root: Path, shot: str, number: int) -> Take | None:
    """The take ``shot_vNNN`` under ``root/shot/`` as its files describe it, or None when its
    main file is missing."""
    folder = Path(root) / shot
    stem = take_name(shot, number)
    main = next(
        (folder / f"{stem}{s}" for s in MAIN_SUFFIXES if _real_file(folder / f"{stem}{s}")), None
    )
    if main is None:
        return None
    sidecar = folder / f"{stem}.json"
    data = _read_json(sidecar) or _embedded(main) or {}
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    facts = meta.get("take") if isinstance(meta.get("take"), dict) else {}
    workflow = dict(data)
    if "nodes" in workflow:
        workflow_meta = dict(meta)
        workflow_meta["take"] = {
            k: v for k, v in facts.items() if k in ("shot", "cache_key", "paths")
        }
        workflow["metadata"] = workflow_meta
    files = [main] + [
        p
        for p in sorted(folder.iterdir())
        if p != main and p.name.startswith(stem) and p.name[len(stem)] in "._"
    ]
    created = facts.get("created")
    return Take(
        shot=shot,
        number=number,
        created=float(created) if isinstance(created, (int, float)) else main.stat().st_mtime,
        node_type="SaveVideo" if main.suffix == ".mp4" else "SaveImage",
        cache_key=str(facts.get("cache_key", "")),
        workflow=json.dumps(workflow) if "nodes" in workflow else "",
        changed=_dict(facts.get("changed")),
        seeds=_dict(facts.get("seeds")) or seeds(workflow),
        nodes=_dict(facts.get("nodes")),
        versions=_dict(facts.get("versions")),
        device=str(facts.get("device", "")),
        files=[f"{shot}/{p.name}" for p in files],
        rating=Rating.NONE,
    )


def adopt_unrecorded(db: TakesDB, shot: str, numbers: set[int]) -> list[Take]:
    """Record takes of ``shot`` that are on disk but not in ``db`` (call inside a write
    transaction)."""
    recorded = {row[0] for row in db.db.execute("SELECT number FROM takes WHERE shot = ?", (shot,))}
    adopted = []
    for number in sorted(numbers - recorded):
        take = take_from_files(db.root, shot, number)
        if take is not None:
            adopted.append(db.record(take))
    return adopted


def reindex(root: Path) -> tuple[int, int]:
    """Index every take under ``root`` (``<root>/<shot>/<shot>_vNNN.mp4|png``): adds takes the
    database lacks, refreshes the facts of the others (keeping ratings and notes). Returns
    (takes found, takes added)."""
    from studio.takes.publish import _TAKE_FILE

    root = Path(root)
    found = added = 0
    with TakesDB(root) as db, db.transaction():
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
                continue
            shot = entry.name
            numbers = set()
            for name in os.listdir(entry.path):
                match = _TAKE_FILE.match(name)
                if match and match["shot"] == shot and match["rest"] in MAIN_SUFFIXES:
                    numbers.add(int(match["number"]))
            for number in sorted(numbers):
                take = take_from_files(root, shot, number)
                if take is None:
                    continue
                found += 1
                old = db.db.execute(
                    "SELECT rating, note FROM takes WHERE shot = ? AND number = ?", (shot, number)
                ).fetchone()
                if old is None:
                    added += 1
                else:
                    take.rating, take.note = (
                        Rating(old[0]) if old[0] in ("circle", "reject") else Rating.NONE,
                        old[1],
                    )
                db.replace(take)
    return found, added


def _real_file(path: Path) -> bool:
    """A regular file, not a symlink someone planted at a take's name."""
    return path.is_file() and not path.is_symlink()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return load_json(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def _embedded(main: Path) -> dict[str, Any] | None:
    if main.suffix == ".png":
        try:
            from PIL import Image

            with Image.open(main) as image:
                return load_json(image.text.get("workflow", ""))  # type: ignore[attr-defined]
        except (OSError, ValueError):
            return None
    try:
        import av

        with av.open(str(main)) as container:
            return load_json(container.metadata.get("comment", ""))
    except Exception:  # PyAV raises its own error types for damaged files
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
