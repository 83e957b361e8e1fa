"""Node packages from other people: third-party node families found through entry points.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."studio.nodes"]
    my_nodes = "my_nodes"          # a module exporting SPECS, or a callable returning specs

and its node types join the registry beside the shipped ones, with the same
:class:`~studio.graph.spec.NodeSpec` + pure ``run`` API (docs/writing-nodes.md). A package is
taken whole or not at all: one that fails to import, raises while its specs are gathered, or
declares a type id that is already taken is skipped with a message (the log, ``studio nodes``,
the editor's node search) and Studio starts without it. Workflows using its nodes still open,
with placeholders that save back unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import metadata
from types import ModuleType
from typing import Any

from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec

ENTRY_POINT_GROUP = "studio.nodes"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginReport:
    """What became of one entry point: the node types it added, or why it was skipped."""

    name: str  # the entry point's name
    package: str  # the distribution that declares it ("" if unknown)
    version: str
    types: tuple[str, ...] = ()
    error: str = ""

    @property
    def loaded(self) -> bool:
        return not self.error

    def describe(self) -> str:
        who = f"{self.package} {self.version}".strip() or self.name
        if self.error:
            return f"node package {who!r} was skipped: {self.error}"
        return f"node package {who!r}: {', '.join(self.types)}"


def load_plugins(
    registry: NodeRegistry, entry_points: Iterable[Any] | None = None
) -> list[PluginReport]:
    """Register every installed node package's specs into ``registry``; never raises."""
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    reports = [_load_one(registry, entry) for entry in entry_points]
    for report in reports:
        (log.warning if report.error else log.info)("%s", report.describe())
    return reports


def _load_one(registry: NodeRegistry, entry: Any) -> PluginReport:
    dist = getattr(entry, "dist", None)
    package = getattr(dist, "name", "") or ""
    version = getattr(dist, "version", "") or ""
    name = getattr(entry, "name", str(entry))
    try:
        specs = list(_specs_of(entry.load()))
    except Exception as exc:  # anything a third-party import or registration raises
        return PluginReport(name, package, version, error=f"{type(exc).__name__}: {exc}")
    taken = [s.type_id for s in specs if s.type_id in registry]
    seen: set[str] = set()
    twice = [s.type_id for s in specs if s.type_id in seen or seen.add(s.type_id)]
    if taken or twice:
        clash = ", ".join(sorted(set(taken + twice)))
        return PluginReport(name, package, version, error=f"node type(s) {clash} already exist")
    for spec in specs:
        registry.register(replace(spec, package=package or name, package_version=version))
    return PluginReport(name, package, version, types=tuple(s.type_id for s in specs))


def _specs_of(target: Any) -> Iterable[NodeSpec]:
    """An entry point's specs: a module's ``SPECS``, a callable's result, or an iterable."""
    if isinstance(target, ModuleType):
        target = getattr(target, "SPECS", None)
        if target is None:
            raise TypeError("the module has no SPECS tuple")
    elif callable(target) and not isinstance(target, NodeSpec):
        target = target()
    if isinstance(target, NodeSpec):
        target = (target,)
    specs = list(target)
    for spec in specs:
        if not isinstance(spec, NodeSpec):
            raise TypeError(f"expected NodeSpec objects, got {type(spec).__name__}")
    return specs
