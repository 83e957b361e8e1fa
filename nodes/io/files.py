"""What the Save nodes share: shot names, takes (numbered, never overwritten), cached-result
checks tied to the files written, local-path privacy and the one-line write errors.

A Save node's result is ``{"files": [...], "take": "shot_v007", "note": ..., "key": ...,
"stat": [size, mtime_ns]}``. :func:`take_still_valid` trusts it only while the main file is
the very file that take wrote (same size and modification time) and the take's sidecar
records the same cache key, so a render whose files were replaced, deleted or written by
another workflow runs again instead of calling stale files "cached". :func:`recall_take`
finds a take by cache key in the takes database when the cache has lost it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from studio.graph.draft import DRAFT_SUFFIX
from studio.graph.spec import NodeError, Param, ParamKind, RunContext
from studio.takes import Take, TakesDB, TakesError, TakeWriter
from studio.takes.db import DB_NAME
from studio.takes.provenance import changed_params, load_json, portable_paths, seeds, versions

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
STRIP_PATHS_ENV = "STUDIO_STRIP_PATHS"  # "1": outputs carry file names only (--strip-paths)
STRIP_PATHS_HELP = (
    "Write only file names, not local folders, into the outputs' embedded workflow and "
    "sidecar (also: studio render --strip-paths, or the setting strip_local_paths). Otherwise "
    "paths are stored relative to the take's folder where they are near it."
)


CREDENTIALS_HELP = (
    "Sign the file with a C2PA manifest saying it is AI-generated (which models, the "
    "workflow's hash), with your own certificate and key from the settings file "
    "('content_credentials'). Off by default."
)
CREDENTIALS_LABEL = "Content credentials (C2PA)"


def take_params() -> tuple[Param, ...]:
    """The params every Save node has for what its takes carry: local paths, credentials."""
    return (
        Param("strip_paths", ParamKind.BOOL, False, help=STRIP_PATHS_HELP),
        Param(
            "content_credentials",
            ParamKind.BOOL,
            False,
            label=CREDENTIALS_LABEL,
            help=CREDENTIALS_HELP,
        ),
    )


def signing_key(params: Mapping[str, Any]) -> Any:
    """The user's signing key when the Save node's ``content_credentials`` is on, else None."""
    if not params.get("content_credentials"):
        return None
    from studio.takes.credentials import CredentialsError, signing_key_from_settings

    try:
        return signing_key_from_settings()
    except CredentialsError as error:
        raise NodeError(str(error)) from None


def sign(path: Path, key: Any, title: str, workflow: dict[str, Any] | None) -> None:
    """Embed content credentials in a staged file (``key`` from :func:`signing_key`)."""
    from studio.takes.credentials import CredentialsError, sign_file

    try:
        sign_file(path, key, title, workflow)
    except CredentialsError as error:
        raise NodeError(str(error)) from None


def shot_name(filename: str, suffix: str) -> str:
    """The shot a Save node writes: its ``filename`` param made safe (no folders, no
    control characters, no leading '-' that a tool could read as an option)."""
    stem = _UNSAFE.sub("_", Path(str(filename)).name).strip(" .")
    if stem.lower().endswith(suffix):
        stem = stem[: -len(suffix)].rstrip(" .")
    stem = stem.lstrip("-")
    if not stem:
        raise NodeError(f"filename {filename!r} is empty once unsafe characters are removed")
    return stem


def filename_check(suffix: str) -> Callable[[Mapping[str, Any], Any], list[str]]:
    """The Save nodes' :attr:`NodeSpec.check`: a ``filename`` that leaves a shot name."""

    def check(params: Mapping[str, Any], env: Any) -> list[str]:
        try:
            shot_name(params["filename"], suffix)
        except NodeError as exc:
            return [str(exc)]
        return []

    return check


def strip_paths_wanted(params: Mapping[str, Any]) -> bool:
    if params.get("strip_paths"):
        return True
    if os.environ.get(STRIP_PATHS_ENV) == "1":
        return True
    from studio.settings import Settings

    return Settings().get("strip_local_paths") is True


def take_identity(ctx: RunContext, *parts: Any) -> str:
    """The cache key the engine gave this node; a content hash for contexts without one."""
    key = getattr(ctx, "cache_key", "")
    if key:
        return key
    digest = hashlib.blake2b(digest_size=20)
    for part in parts:
        if isinstance(part, np.ndarray) and part.ndim > 1:
            for item in part:  # a clip hashed frame by frame: never a whole-clip copy
                digest.update(np.ascontiguousarray(item).data)
        else:
            digest.update(part if isinstance(part, bytes) else repr(part).encode())
    return "content-" + digest.hexdigest()


def embedded_workflow(
    ctx: RunContext, shot: str, key: str, base: Path, *, strip: bool
) -> dict[str, Any] | None:
    """The workflow to embed: local paths made relative to ``base`` (or stripped) and a
    ``metadata.take`` naming the shot and cache key. None when the run has no workflow."""
    data = load_json(ctx.workflow_json or "")
    if data is None:
        return None
    data = portable_paths(data, base, strip=strip)
    meta = data.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta["take"] = {"shot": shot, "cache_key": key, "paths": "stripped" if strip else "relative"}
    data["metadata"] = meta
    return data


def write_take(
    ctx: RunContext,
    shot: str,
    key: str,
    workflow: dict[str, Any] | None,
    node_type: str,
    stage: Callable[[TakeWriter], None],
) -> dict[str, Any]:
    """Stage a take with ``stage(writer)``, then publish and record it. Returns the node's
    result. Raises NodeError with one line on any write problem; nothing half-written stays."""
    try:
        with TakeWriter(Path(ctx.output_dir), shot) as writer:
            stage(writer)
            previous = _previous_workflow(writer.out_dir, shot)
            facts = _facts(ctx)
            take = Take(
                shot=shot,
                number=0,
                node_type=node_type,
                node_title=_node_title(workflow, getattr(ctx, "node_id", "")),
                cache_key=key,
                workflow=json.dumps(workflow) if workflow is not None else "",
                changed=changed_params(previous, workflow) if previous is not None else {},
                seeds=seeds(workflow),
                nodes=facts,
                versions=versions(workflow, facts),
                device=_device(ctx),
            )
            main = next(s for s in (".mp4", ".png") if writer.staged_exists(s))
            stat = writer.staged(main).stat()  # a hard link keeps size and mtime
            identity = [stat.st_size, stat.st_mtime_ns]
            take = writer.publish(
                take, texts=lambda t: {".json": sidecar_text(t, workflow, identity)}
            )
    except TakesError as error:
        raise NodeError(str(error)) from None
    except OSError as error:
        raise NodeError(f"cannot write to {ctx.output_dir}: {error.strerror or error}") from None
    return take_result(take)


def sidecar_text(take: Take, workflow: dict[str, Any] | None, identity: list[int]) -> str:
    """The sidecar ``.json``: the workflow (openable as is) with the take's facts in
    ``metadata.take``."""
    data = dict(workflow) if workflow is not None else {}  # facts only: not a workflow
    meta = dict(data.get("metadata") or {})
    meta["take"] = {
        **dict(meta.get("take") or {}),
        "shot": take.shot,
        "number": take.number,
        "name": take.name,
        "created": take.created,
        "cache_key": take.cache_key,
        "main_file": identity,  # [size, mtime_ns] of the mp4/PNG as written
        "seeds": take.seeds,
        "changed": take.changed,
        "nodes": take.nodes,
        "versions": take.versions,
        "device": take.device,
    }
    data["metadata"] = meta
    return json.dumps(data, indent=1)


def take_result(take: Take) -> dict[str, Any]:
    paths = [p.absolute() for p in take.paths()]  # a cached result must not depend on the cwd
    stat = paths[0].stat()
    return {
        "files": [str(p) for p in paths],
        "take": take.name,
        "note": f"take {take.name}",
        "key": take.cache_key,
        "stat": [stat.st_size, stat.st_mtime_ns],
    }


def take_still_valid(outputs: Mapping[str, Any]) -> bool:
    """``still_valid`` for Save nodes: the main file is the one this result wrote (size and
    mtime unchanged), every other file exists, and the sidecar records this cache key."""
    files = outputs.get("files")
    stat = outputs.get("stat")
    if not files or not isinstance(stat, list) or len(stat) != 2:
        return False  # a result from before takes: run again
    main = Path(files[0])
    try:
        now = main.stat()
    except OSError:
        return False
    if [now.st_size, now.st_mtime_ns] != stat or not all(Path(f).exists() for f in files):
        return False
    return _written_by(main, outputs.get("key"))


def recall_take(key: str, output_dir: Path) -> dict[str, Any] | None:
    """``recall`` for Save nodes: the newest intact take this cache key wrote, if any."""
    if not (Path(output_dir) / DB_NAME).is_file():
        return None
    try:
        with TakesDB(output_dir, create=False) as db:
            takes = db.by_key(key)
    except TakesError:
        return None
    for take in takes:
        if take.missing or not _written_by(take.paths()[0], key):
            continue
        return take_result(take)
    return None


def _written_by(main: Path, key: Any) -> bool:
    """Whether ``main`` is still the file the take with cache key ``key`` wrote: its sidecar
    records that key and the file's size and mtime as written."""
    try:
        facts = json.loads(main.with_suffix(".json").read_text(encoding="utf-8"))
        facts = facts["metadata"]["take"]
        stat = main.stat()
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return facts.get("cache_key") == key and facts.get("main_file") == [
        stat.st_size,
        stat.st_mtime_ns,
    ]


def _previous_workflow(out_dir: Path, shot: str) -> dict[str, Any] | None:
    try:
        with TakesDB(out_dir) as db:
            latest = db.list(shot=shot, limit=1, with_workflow=True)
    except TakesError:
        return None
    return load_json(latest[0].workflow) if latest else None


def _facts(ctx: RunContext) -> dict[str, Any]:
    facts = getattr(ctx, "run_facts", None)
    return facts() if callable(facts) else {}


def _device(ctx: RunContext) -> str:
    if "torch" not in sys.modules:
        return "cpu"  # no node used torch; asking it would import it (seconds) to say so
    try:
        return str(ctx.device)
    except Exception:  # finding the device is best effort here; the take is what matters
        return ""


def _node_title(workflow: dict[str, Any] | None, node_id: str) -> str:
    nodes = (workflow or {}).get("nodes")
    record = nodes.get(node_id) if isinstance(nodes, dict) else None
    return str(record.get("title", "")) if isinstance(record, dict) else ""


def write_error(error: OSError, where: Path) -> NodeError:
    return NodeError(f"cannot write to {where}: {error.strerror or error}")


def draft_filename(params: Mapping[str, Any], settings: Any) -> dict[str, Any]:
    """A Save node's draft: the same shot name with ``_draft``, a take series of its own."""
    name = str(params.get("filename", ""))
    stem, dot, ext = name.rpartition(".") if "." in name.rsplit("/", 1)[-1] else (name, "", "")
    if stem.endswith(DRAFT_SUFFIX):
        return {}
    return {"filename": f"{stem}{DRAFT_SUFFIX}{dot}{ext}"}
