"""Blueprints: subgraphs saved to a library folder for reuse across workflows.

A blueprint file (``*.json``) holds ``{"format_version", "kind": "blueprint", "name",
"description", "subgraph": {nodes, edges, groups, exposed}}``. The library reads the folders
of the ``blueprint_folders`` setting first, then the shipped ``resources/blueprints``; a name
found twice is the first folder's. A blueprint's version is the hash of its ``subgraph``:
instances record it, so a linked instance can tell when its file changed, and a take (whose
workflow embeds the instance's content and hash) restores the graph that made it.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.graph.commands import Command
from studio.graph.fileformat import parse_json, subgraph_record, write_text_atomic
from studio.graph.fileparse import WorkflowFileError, parse_subgraph_body
from studio.graph.graph import Edge, Graph, GraphError, Node, new_id
from studio.graph.migrations import CURRENT_FORMAT_VERSION, migrate
from studio.graph.subgraph import (
    BlueprintLink,
    SubgraphDef,
    content_hash,
    make_subgraph_node,
    refresh_spec,
)

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).resolve().parents[2] / "resources" / "blueprints"
MAX_BLUEPRINT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Blueprint:
    name: str
    description: str
    path: Path
    body: dict[str, Any]  # the subgraph record: nodes, edges, groups, exposed
    sha256: str


class BlueprintLibrary:
    """The blueprints in ``folders`` (earlier folders win), read when asked (a file saved by
    another window or an editor shows up at the next look)."""

    def __init__(self, folders: Iterable[Path | str]) -> None:
        self.folders = [Path(f).expanduser() for f in folders]
        self.problems: list[str] = []  # files that could not be read, from the last scan

    @classmethod
    def from_settings(cls, settings: Any = None) -> BlueprintLibrary:
        from studio.settings import Settings, data_dir

        if settings is None:
            settings = Settings()
        # The artist's own folders, then Studio's data folder (where Save as Blueprint writes
        # when no folder is set), then the shipped ones.
        folders = [*(settings.get("blueprint_folders", []) or []), data_dir() / "blueprints"]
        return cls([*folders, SHIPPED])

    def all(self) -> list[Blueprint]:
        found: dict[str, Blueprint] = {}
        self.problems = []
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                try:
                    blueprint = read_blueprint(path)
                except WorkflowFileError as exc:
                    self.problems.append(str(exc))
                    continue
                found.setdefault(blueprint.name, blueprint)
        return sorted(found.values(), key=lambda b: b.name.lower())

    def get(self, name: str) -> Blueprint | None:
        return next((b for b in self.all() if b.name == name), None)

    @property
    def save_folder(self) -> Path:
        """Where new blueprints go: the first folder (the shipped one is never written)."""
        writable = [f for f in self.folders if f != SHIPPED]
        return writable[0] if writable else self.folders[0]


def read_blueprint(path: Path) -> Blueprint:
    try:
        if path.stat().st_size > MAX_BLUEPRINT_BYTES:
            raise WorkflowFileError(f"{path.name} is too big to be a blueprint")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowFileError(f"cannot read blueprint {path.name}: {exc}") from None
    data = parse_json(text, path.name)
    if not isinstance(data, dict) or data.get("kind") != "blueprint":
        raise WorkflowFileError(f"{path.name} is not a blueprint file")
    body = data.get("subgraph")
    if not isinstance(body, dict):
        raise WorkflowFileError(f"{path.name}: 'subgraph' must be an object")
    try:  # the body is a graph like a workflow's: it migrates the same way
        migrated = migrate({**body, "format_version": data.get("format_version")})
    except ValueError as exc:
        raise WorkflowFileError(f"{path.name}: {exc}") from None
    migrated.pop("format_version", None)
    name = data.get("name") or path.stem
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise WorkflowFileError(f"{path.name}: 'name' and 'description' must be text")
    return Blueprint(name, description, path, migrated, content_hash(migrated))


def blueprint_body(defn: SubgraphDef) -> dict[str, Any]:
    return subgraph_record(defn)


def save_blueprint(
    node: Node, folder: Path, name: str, description: str = "", *, overwrite: bool = False
) -> Blueprint:
    """Write ``node``'s subgraph (with its current exposed values as the defaults) to
    ``folder``/<name>.json, atomically. An existing file is kept unless ``overwrite``."""
    if node.subgraph is None:
        raise GraphError(f"{node.title} is not a subgraph")
    name = name.strip()
    if not name:
        raise GraphError("a blueprint needs a name")
    defn = node.subgraph.copy()
    for exposed in defn.exposed:  # the instance's values become the blueprint's defaults
        if exposed.name in node.params_view():
            defn.graph.node(exposed.node)._params[exposed.param] = node.param(exposed.name)
    body = blueprint_body(defn)
    path = Path(folder) / f"{_file_stem(name)}.json"
    if path.exists() and not overwrite:
        raise GraphError(f"{path} already exists; choose another name or overwrite it")
    data = {
        "format_version": CURRENT_FORMAT_VERSION,
        "kind": "blueprint",
        "name": name,
        "description": description,
        "subgraph": body,
    }
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    return Blueprint(name, description, path, body, content_hash(body))


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .") or "blueprint"


def instance_def(blueprint: Blueprint, graph: Graph, *, linked: bool) -> SubgraphDef:
    defn, _warnings = parse_subgraph_body(blueprint.body, graph.registry, blueprint.name)
    defn.blueprint = BlueprintLink(blueprint.name, blueprint.sha256, linked)
    return defn


def blueprint_status(node: Node, library: BlueprintLibrary | None) -> str | None:
    """For a linked instance: "current", "changed" (its file has another version) or
    "missing"; None for anything else."""
    link = node.subgraph.blueprint if node.subgraph is not None else None
    if link is None or not link.linked or library is None:
        return None
    found = library.get(link.name)
    if found is None:
        return "missing"
    return "current" if found.sha256 == link.sha256 else "changed"


@dataclass
class AddBlueprint(Command):
    """A new instance of a blueprint: linked (follows the file) or an embedded copy."""

    blueprint: Blueprint
    position: tuple[float, float] = (0.0, 0.0)
    linked: bool = True
    node_id: str | None = None
    label: str = "Add blueprint"

    def apply(self, graph: Graph) -> None:
        defn = instance_def(self.blueprint, graph, linked=self.linked)
        self.node_id = self.node_id or new_id()
        node = make_subgraph_node(
            graph, defn, node_id=self.node_id, title=self.blueprint.name, position=self.position
        )
        graph.insert_node(node)

    def revert(self, graph: Graph) -> None:
        assert self.node_id is not None
        graph.remove(self.node_id)


@dataclass
class UpdateBlueprint(Command):
    """Bring a linked instance to its blueprint's current version: exposed values whose name
    is still exposed stay; wires into ports the new version lacks are removed (undo puts
    everything back)."""

    node_id: str
    blueprint: Blueprint
    label: str = "Update blueprint"
    _old: tuple[SubgraphDef, dict[str, Any], Any] | None = None
    _dropped: list[Edge] | None = None

    def apply(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        if node.subgraph is None:
            raise GraphError(f"{node.title} is not a subgraph")
        linked = node.subgraph.blueprint.linked if node.subgraph.blueprint else True
        defn = instance_def(self.blueprint, graph, linked=linked)
        self._old = (node.subgraph, copy.deepcopy(node._params), node.spec)
        values = {k: v for k, v in node._params.items()}
        node.subgraph = defn
        node._params = {}
        refresh_spec(node)
        for name in node._params:
            if name in values:
                node._params[name] = values[name]
        ins = {p.name for p in node.inputs}
        outs = {p.name for p in node.outputs}
        self._dropped = [e for e in graph.edges_into(node.id) if e.dst_port not in ins] + [
            e for e in graph.edges_from(node.id) if e.src_port not in outs
        ]
        for edge in self._dropped:
            graph.disconnect(edge)
        graph._emit_changed(node.id, "spec")

    def revert(self, graph: Graph) -> None:
        assert self._old is not None
        node = graph.node(self.node_id)
        node.subgraph, node._params, node.spec = self._old
        node._inputs = None
        for edge in self._dropped or []:
            graph.insert_edge(edge)
        graph._emit_changed(node.id, "spec")
