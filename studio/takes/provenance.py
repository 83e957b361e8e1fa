"""What a take records about how it was made: versions, seeds, changed params, local paths.

Paths: absolute file paths in a workflow (``/home/ana/Pictures/client.png``) say who made it
and where their files live. Outputs store them relative to the folder of the file that embeds
them where they share a folder below the root and the way is short
(``../../inputs/client.png``, at most :data:`MAX_UP` levels up), else keep them; with
``strip`` (``--strip-paths``, the ``strip_local_paths`` setting) they become the bare file
name. :func:`absolute_paths` turns the relative ones back when a take is restored.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

MAX_UP = 3  # "../../../x" is a project's sibling folder; further up is someone's disk layout
PATH_KINDS = ("file", "folder")  # ParamKind values whose params hold local paths
PACKAGES = ("studio", "torch", "diffusers", "transformers", "numpy", "av", "opencv-python-headless")


def versions(
    workflow: Mapping[str, Any] | None = None, facts: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Studio's, Python's and the main packages' versions, every node type's version, and the
    node packages (plugins) whose nodes ran, from the run's ``facts``. Read from package
    metadata: importing torch only to ask its version costs seconds."""
    found: dict[str, Any] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    if "studio" not in found:
        from studio import __version__

        found["studio"] = __version__
    torch = sys.modules.get("torch")  # already imported by a node: its CUDA build tells more
    if torch is not None and getattr(torch.version, "cuda", None):
        found["cuda"] = torch.version.cuda
    nodes = {}
    for record in _nodes(workflow):
        nodes[str(record.get("type"))] = record.get("version", 1)
    if nodes:
        found["nodes"] = dict(sorted(nodes.items()))
    packages = {
        str(fact.get("package")): str(fact.get("package_version") or "")
        for fact in (facts or {}).values()
        if isinstance(fact, Mapping) and fact.get("package") not in (None, "", "studio")
    }
    if packages:
        found["node_packages"] = dict(sorted(packages.items()))
    return found


def seeds(workflow: Mapping[str, Any] | None) -> dict[str, int]:
    """The seed of every node that has one, by node title."""
    found: dict[str, int] = {}
    for node_id, record in _items(workflow):
        params = record.get("params", {})
        if isinstance(params, dict) and isinstance(params.get("seed"), int):
            found[str(record.get("title") or node_id)] = params["seed"]
    return found


def changed_params(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, list[Any]]:
    """ "Title.param" -> [before, after] for every param that differs (nodes matched by id;
    a node added or removed shows as "Title" -> [None/type, type/None])."""
    old = dict(_items(before))
    new = dict(_items(after))
    changes: dict[str, list[Any]] = {}
    for node_id in sorted(old.keys() | new.keys()):
        a, b = old.get(node_id), new.get(node_id)
        title = str((b or a or {}).get("title") or node_id)
        if a is None or b is None:
            changes[title] = [a and a.get("type"), b and b.get("type")]
            continue
        pa, pb = a.get("params", {}) or {}, b.get("params", {}) or {}
        for name in sorted(pa.keys() | pb.keys()):
            if pa.get(name) != pb.get(name):
                changes[f"{title}.{name}"] = [pa.get(name), pb.get(name)]
        if bool(a.get("bypass")) != bool(b.get("bypass")):
            changes[f"{title}.bypass"] = [bool(a.get("bypass")), bool(b.get("bypass"))]
    return changes


def portable_paths(workflow: dict[str, Any], base: Path, *, strip: bool) -> dict[str, Any]:
    """A copy of ``workflow`` whose local paths are relative to ``base`` (or stripped to the
    file name). A local path is any param text that is an absolute path, or a relative one
    that exists from here: Save nodes have no registry to ask which params hold paths, and a
    prompt is neither."""
    data = copy.deepcopy(workflow)
    for _node_id, record in _items(data):
        params = record.get("params")
        if not isinstance(params, dict):
            continue
        for name, value in params.items():
            if _is_local_path(value):
                params[name] = portable_path(value, base, strip=strip)
    return data


def _is_local_path(value: Any) -> bool:
    if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
        return False
    expanded = os.path.expanduser(value)
    if os.path.isabs(expanded):
        return True
    try:
        looks_like = os.sep in value or "/" in value or "." in value.strip(".")
        return looks_like and os.path.exists(value)
    except (OSError, ValueError):
        return False


def portable_path(value: str, base: Path, *, strip: bool) -> str:
    if strip:
        return PurePath(value.replace("\\", "/")).name
    path, start = os.path.abspath(os.path.expanduser(value)), os.path.abspath(base)
    try:
        common = os.path.commonpath([path, start])
        relative = os.path.relpath(path, start)
    except ValueError:  # another drive (Windows)
        return value
    if common == os.path.dirname(common):  # only the root in common: the path tells it all
        return value
    if Path(relative).parts[: MAX_UP + 1].count("..") > MAX_UP:
        return value
    return Path(relative).as_posix()


def absolute_paths(
    workflow: dict[str, Any], path_params: Mapping[str, Iterable[str]], base: Path
) -> dict[str, Any]:
    """Undo :func:`portable_paths` for the params ``path_params`` names (node type -> file
    and folder params): relative paths are resolved against ``base`` again."""
    data = copy.deepcopy(workflow)
    for _node_id, record in _items(data):
        params = record.get("params")
        if not isinstance(params, dict):
            continue
        for name in path_params.get(str(record.get("type")), ()):
            value = params.get(name)
            if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
                params[name] = os.path.normpath(os.path.join(os.path.abspath(base), value))
    return data


def path_params_of(registry: Any) -> dict[str, list[str]]:
    """Node type -> its file/folder params, from a node registry."""
    return {
        spec.type_id: [p.name for p in spec.params if str(p.kind) in PATH_KINDS]
        for spec in registry
    }


def load_json(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _items(workflow: Mapping[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    nodes = workflow.get("nodes") if isinstance(workflow, Mapping) else None
    if not isinstance(nodes, dict):
        return []
    return [(str(k), v) for k, v in nodes.items() if isinstance(v, dict)]


def _nodes(workflow: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [record for _id, record in _items(workflow)]
