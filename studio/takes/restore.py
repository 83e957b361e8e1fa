"""Restoring a take: the workflow that made it, ready to open or render again.

The snapshot goes through the workflow file format's one migration chain
(:func:`studio.graph.fileformat.loads`), so a take made by an older Studio opens in this one;
paths stored relative to the take's folder become absolute again, and the take's own facts
(``metadata.take``) are dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.graph.registry import NodeRegistry
from studio.takes.db import Take, TakesError
from studio.takes.provenance import absolute_paths, load_json, path_params_of


def restore_workflow(take: Take, registry: NodeRegistry) -> Any:
    """The graph that made ``take`` (a :class:`studio.graph.fileformat.LoadedWorkflow`).
    Raises TakesError when the take holds no readable workflow."""
    from studio.graph.fileformat import WorkflowFileError, loads

    data = load_json(take.workflow) if take.workflow else None
    if data is None or "nodes" not in data:
        data = _from_files(take)
    if data is None:
        raise TakesError(f"take {take.name} carries no workflow (it was rendered without one)")
    meta = data.get("metadata")
    if isinstance(meta, dict) and "take" in meta:
        data["metadata"] = {k: v for k, v in meta.items() if k != "take"}
    base = (take.root or Path(".")) / take.shot
    data = absolute_paths(data, path_params_of(registry), base)
    try:
        return loads(json.dumps(data), registry, source=take.name)
    except WorkflowFileError as error:
        raise TakesError(f"the workflow of take {take.name} cannot be read: {error}") from None


def _from_files(take: Take) -> dict[str, Any] | None:
    from studio.takes.reindex import take_from_files

    if take.root is None:
        return None
    found = take_from_files(take.root, take.shot, take.number)
    return load_json(found.workflow) if found is not None and found.workflow else None


def settings_commands(graph: Any, take: Take, registry: NodeRegistry) -> tuple[Any, list[str]]:
    """ "Restore this take's settings" on the graph being edited, as one undoable step: a
    :class:`~studio.graph.commands.Macro` setting every param (and bypass) of the nodes the
    graph shares with the take (by id) to the take's values, or None when nothing differs;
    and the titles of the take's nodes this graph no longer has (their settings cannot
    come back this way: restore the whole workflow to a file for those)."""
    from studio.graph.commands import Macro, SetNodeAttribute, SetParam

    restored = restore_workflow(take, registry).graph
    commands: list[Any] = []
    missing: list[str] = []
    for node in restored.nodes:
        if node.id not in graph or graph.node(node.id).type_id != node.type_id:
            missing.append(node.title)
            continue
        current = graph.node(node.id)
        for name, value in node.params_view().items():
            if current.spec is not None and current.spec.param(name) is None:
                continue
            if current.param(name) != value:
                commands.append(SetParam(node.id, name, json.loads(json.dumps(value))))
        if current.bypass != node.bypass:
            commands.append(SetNodeAttribute(node.id, "bypass", node.bypass))
    macro = Macro(commands, label=f"Restore settings of {take.name}") if commands else None
    return macro, missing
