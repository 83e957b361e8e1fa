"""Helpers shared by the Save nodes: safe output names, atomic writes, cached-result checks."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.graph.spec import NodeError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def output_path(output_dir: Path, filename: str, suffix: str) -> Path:
    """``output_dir/filename.suffix`` with a name that cannot escape the folder."""
    stem = _UNSAFE.sub("_", Path(str(filename)).name).strip(" .")
    if stem.lower().endswith(suffix):
        stem = stem[: -len(suffix)]
    if not stem:
        raise NodeError(f"filename {filename!r} is empty once unsafe characters are removed")
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NodeError(f"cannot create the output folder {output_dir}: {error}") from None
    return output_dir / f"{stem}{suffix}"


def temp_sibling(path: Path) -> Path:
    """A hidden name beside ``path`` to write into before renaming: readers never see halves."""
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def write_text_atomic(path: Path, text: str) -> None:
    temp = temp_sibling(path)
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def files_exist(outputs: Mapping[str, Any]) -> bool:
    """``still_valid`` for Save nodes: every file the cached run wrote is still there."""
    files = outputs.get("files")
    return bool(files) and all(Path(f).exists() for f in files)


def workflow_seeds(workflow_json: str) -> dict[str, int]:
    """The seed of every node in the workflow that has one, by node title (for metadata)."""
    try:
        nodes = json.loads(workflow_json).get("nodes", {})
    except (ValueError, AttributeError):
        return {}
    seeds: dict[str, int] = {}
    if not isinstance(nodes, dict):
        return seeds
    for node_id, record in nodes.items():
        params = record.get("params", {}) if isinstance(record, dict) else {}
        if isinstance(params, dict) and isinstance(params.get("seed"), int):
            seeds[str(record.get("title") or node_id)] = params["seed"]
    return seeds
