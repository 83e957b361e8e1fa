"""The small parts a graph is made of: ids, edges, backdrops and notes, change events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import uuid4


class GraphError(ValueError):
    """An edit the graph refuses, with a reason an artist can read."""


def new_id() -> str:
    return uuid4().hex


@dataclass(frozen=True)
class Edge:
    """A wire from an output port to an input port."""

    src_node: str
    src_port: str
    dst_node: str
    dst_port: str


class GraphEventKind(StrEnum):
    """What changed in a graph."""

    NODE_ADDED = "node_added"
    NODE_REMOVED = "node_removed"
    NODE_CHANGED = "node_changed"
    EDGE_ADDED = "edge_added"
    EDGE_REMOVED = "edge_removed"
    GROUP_ADDED = "group_added"
    GROUP_REMOVED = "group_removed"
    GROUP_CHANGED = "group_changed"
    CLEARED = "cleared"


@dataclass(frozen=True)
class GraphEvent:
    """One change to a graph; fields a kind does not use stay None."""

    kind: GraphEventKind
    node_id: str | None = None
    edge: Edge | None = None
    group_id: str | None = None
    field: str | None = None  # node_changed/group_changed: which attribute
    param: str | None = None  # node_changed with field "params": which param


Listener = Callable[[GraphEvent], None]


@dataclass
class Group:
    """A backdrop (a titled frame that moves the nodes on it) or a free-floating note."""

    id: str
    kind: str  # "backdrop" or "note"
    title: str = ""
    text: str = ""
    rect: tuple[float, float, float, float] = (0.0, 0.0, 400.0, 300.0)
    color: str = "#3b4252"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "text": self.text,
            "rect": list(self.rect),
            "color": self.color,
        }
