"""Path maps: the same file under another name on another machine (Houdini PDG's Path Map).

A farm's machines see shared storage at different mount points (``/Volumes/shots`` on the
artist's Mac, ``/mnt/shots`` on the render nodes). A map is a list of ``FROM=TO`` prefix pairs,
applied to a job's file params and its output folder on the worker, longest prefix first.
Written ``FROM=TO;FROM=TO`` in ``STUDIO_PATH_MAP`` or the ``path_map`` setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from studio.graph.spec import ParamKind

PATH_KINDS = (ParamKind.FILE, ParamKind.FOLDER)


class PathMapError(ValueError):
    """A path map that cannot be read: names the bad entry."""


@dataclass(frozen=True)
class PathMap:
    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str | Iterable[str] | None) -> PathMap:
        if not text:
            return cls()
        entries = text.split(";") if isinstance(text, str) else list(text)
        pairs = []
        for entry in entries:
            if not entry.strip():
                continue
            src, eq, dst = entry.partition("=")
            if not eq or not src.strip() or not dst.strip():
                raise PathMapError(f"path map entry {entry!r}: write it as FROM=TO")
            pairs.append((src.strip().rstrip("/") or "/", dst.strip().rstrip("/") or "/"))
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
        return cls(tuple(pairs))

    def apply(self, path: str) -> str:
        for src, dst in self.pairs:
            if path == src or path.startswith(src.rstrip("/") + "/"):
                return dst + path[len(src) :]
        return path

    def apply_to_workflow(self, workflow: str, registry: Any) -> str:
        """``workflow`` (file JSON) with every file/folder param mapped."""
        if not self.pairs:
            return workflow
        data = json.loads(workflow)
        for record in (data.get("nodes") or {}).values():
            spec = registry.get(record.get("type")) if isinstance(record, dict) else None
            params = record.get("params") if spec is not None else None
            if not isinstance(params, dict):
                continue
            for param in spec.params:
                value = params.get(param.name)
                if (param.kind in PATH_KINDS or param.reads_file) and isinstance(value, str):
                    params[param.name] = self.apply(value)
        return json.dumps(data)
