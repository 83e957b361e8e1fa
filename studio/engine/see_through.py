"""Running graphs that hold subgraphs: the engine runs the flat graph
(:func:`studio.graph.flatten.flatten`) and this module maps what it reports back to the nodes
the artist sees -- events, results and badges of inner nodes belong to their subgraph node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from studio.engine.events import EventCallback, RunEvent, RunEventKind
from studio.graph.flatten import Flat

_DONE = (RunEventKind.NODE_CACHED, RunEventKind.NODE_FINISHED)


def flat_targets(flat: Flat, targets: Sequence[str] | None) -> list[str] | None:
    """The flat nodes a render of ``targets`` needs (a subgraph: what makes its outputs)."""
    if targets is None:
        return None
    result: list[str] = []
    for target in targets:
        ports = [src for (node, _), src in flat.outputs.items() if node == target]
        if ports:
            result += [src for src, _ in ports]
        elif target in flat.origin:
            result.append(target)
        else:
            result += flat.members(target) or [target]  # unknown: the run names it
    return list(dict.fromkeys(result))


def map_outputs(
    flat: Flat, targets: Sequence[str] | None, outputs: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    mapped: dict[str, dict[str, Any]] = {}
    for (node, port), (src, src_port) in flat.outputs.items():
        if (targets is None or node in targets) and src_port in outputs.get(src, {}):
            mapped.setdefault(node, {})[port] = outputs[src][src_port]
    for node_id, values in outputs.items():
        origin = flat.origin.get(node_id, node_id)
        if origin == node_id:
            mapped[node_id] = values
        elif targets is None and origin not in mapped:
            mapped[origin] = dict(values)  # an inner sink (a Save inside) rendered by default
    return mapped


def map_ids(flat: Flat, ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(flat.origin.get(i, i) for i in ids))


def map_errors(flat: Flat, errors: dict[str, str]) -> dict[str, str]:
    mapped: dict[str, str] = {}
    for node_id, message in errors.items():
        origin = flat.origin.get(node_id, node_id)
        mapped[origin] = "; ".join(filter(None, [mapped.get(origin), message]))
    return mapped


class EventMapper:
    """Passes run events on with inner node ids replaced by their subgraph's: it starts with
    its first inner node and finishes (or counts as cached) when its last one has."""

    def __init__(self, flat: Flat, listener: EventCallback) -> None:
        self.flat = flat
        self.listener = listener
        self.pending: dict[str, set[str]] = {}
        self.ran: set[str] = set()
        self.started: set[str] = set()
        self.elapsed: dict[str, float] = {}  # per subgraph: its inner nodes' seconds so far

    def __call__(self, event: RunEvent) -> None:
        flat = self.flat
        if event.kind is RunEventKind.RUN_STARTED:
            for node_id in event.node_ids:
                origin = flat.origin.get(node_id, node_id)
                if origin != node_id:
                    self.pending.setdefault(origin, set()).add(node_id)
            self.listener(_with(event, node_ids=tuple(map_ids(flat, event.node_ids))))
            return
        node_id = event.node_id
        origin = flat.origin.get(node_id, node_id) if node_id is not None else None
        if origin is None or origin == node_id:
            self.listener(event)
            return
        members = self.pending.get(origin, set())
        if event.kind in _DONE:
            members.discard(node_id)
            if event.kind is RunEventKind.NODE_FINISHED:
                self.ran.add(origin)
                self.elapsed[origin] = self.elapsed.get(origin, 0.0) + (event.elapsed or 0.0)
            if members:
                return
            kind = RunEventKind.NODE_FINISHED if origin in self.ran else RunEventKind.NODE_CACHED
            elapsed = self.elapsed.get(origin) if origin in self.ran else event.elapsed
            self.listener(_with(event, kind=kind, node_id=origin, elapsed=elapsed))
            return
        if event.kind is RunEventKind.NODE_STARTED:
            if origin in self.started:
                return
            self.started.add(origin)
        message = event.message
        if event.kind in (RunEventKind.NODE_PROGRESS, RunEventKind.NODE_INFO) and message:
            inner = flat.graph.node(node_id).title if node_id in flat.graph else node_id
            message = f"{inner}: {message}"
        self.listener(_with(event, node_id=origin, message=message))


def _with(event: RunEvent, **changes: Any) -> RunEvent:
    from dataclasses import replace

    return replace(event, **changes)


def map_state(flat: Flat, state: dict[str, str]) -> dict[str, str]:
    """A subgraph is "stale" when any of its inner nodes is."""
    mapped: dict[str, str] = {}
    for node_id, value in state.items():
        origin = flat.origin.get(node_id, node_id)
        if mapped.get(origin) != "stale":
            mapped[origin] = value
    return mapped
