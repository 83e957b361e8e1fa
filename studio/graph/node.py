"""A node in a workflow graph: its type, title, params, variadic slots and ports.

Every attribute setter notifies the owning graph's listeners, so a view never misses a change.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from studio.graph.elements import GraphError, GraphEvent, GraphEventKind
from studio.graph.spec import MAX_SLOTS, NodeSpec, Port, slot_name
from studio.graph.types import PortType

if TYPE_CHECKING:
    from studio.graph.graph import Graph


class Node:
    """A node in a graph. Attribute setters notify the graph's listeners."""

    def __init__(
        self,
        graph: Graph,
        node_id: str,
        type_id: str,
        spec: NodeSpec | None,
        *,
        title: str,
        position: tuple[float, float],
        params: dict[str, Any],
        bypass: bool = False,
        version: int | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        self._graph = graph
        self.id = node_id
        self.type_id = type_id
        self.spec = spec
        self._title = title
        self._position = (float(position[0]), float(position[1]))
        self._params = params
        self._bypass = bypass
        self.version = version if version is not None else (spec.version if spec else 1)
        # Placeholders (unknown node types) keep the file's node record verbatim.
        self.raw = raw
        # Params the file named that this node type no longer has: kept and saved back.
        self.extra_params: dict[str, Any] = {}
        # Seed param name -> what happens to it after each run (studio.graph.seeds). Saved in
        # the workflow but outside ``params``, so it never enters the cache key.
        self._seed_control: dict[str, str] = {}
        # Variadic input -> how many slots it has (a Sequence's clip_0, clip_1, ...).
        self._slots: dict[str, int] = spec.default_slots() if spec is not None else {}
        self._inputs: tuple[Port, ...] | None = None  # expanded slots, rebuilt when they change
        # A subgraph node's inner graph (studio.graph.subgraph.SubgraphDef); its spec is made
        # per instance from it.
        self.subgraph: Any = None

    @property
    def is_placeholder(self) -> bool:
        return self.spec is None

    @property
    def title(self) -> str:
        return self._title

    @title.setter
    def title(self, value: str) -> None:
        if value != self._title:
            self._title = value
            self._graph._emit(
                GraphEvent(GraphEventKind.NODE_CHANGED, node_id=self.id, field="title")
            )

    @property
    def position(self) -> tuple[float, float]:
        return self._position

    @position.setter
    def position(self, value: tuple[float, float]) -> None:
        value = (float(value[0]), float(value[1]))
        if value != self._position:
            self._position = value
            self._graph._emit(
                GraphEvent(GraphEventKind.NODE_CHANGED, node_id=self.id, field="position")
            )

    @property
    def bypass(self) -> bool:
        return self._bypass

    @bypass.setter
    def bypass(self, value: bool) -> None:
        if value != self._bypass:
            self._bypass = bool(value)
            self._graph._emit(
                GraphEvent(GraphEventKind.NODE_CHANGED, node_id=self.id, field="bypass")
            )

    def clone(self, graph: Graph, node_id: str | None = None) -> Node:
        """An independent copy of this node for ``graph`` (same id unless one is given)."""
        twin = Node(
            graph,
            node_id or self.id,
            self.type_id,
            self.spec,
            title=self.title,
            position=self.position,
            params=copy.deepcopy(self._params),
            bypass=self.bypass,
            version=self.version,
            raw=copy.deepcopy(self.raw),
        )
        twin.extra_params = copy.deepcopy(self.extra_params)
        twin._seed_control = dict(self._seed_control)
        twin._slots = dict(self._slots)
        if self.subgraph is not None:
            twin.subgraph = self.subgraph.copy()
        return twin

    @property
    def params(self) -> dict[str, Any]:
        """A copy; change values with :meth:`set_param` so listeners hear of it."""
        return copy.deepcopy(self._params)

    def params_view(self) -> Mapping[str, Any]:
        """The params without copying, read-only at the top level: for hot readers (the
        engine keys every node before each run) that promise not to change nested values."""
        return MappingProxyType(self._params)

    def param(self, name: str) -> Any:
        return copy.deepcopy(self._params.get(name))

    def set_param(self, name: str, value: Any) -> None:
        if self.spec is not None and self.spec.param(name) is None:
            raise GraphError(f"{self.title} has no parameter {name!r}")
        if self._params.get(name) != value or name not in self._params:
            self._params[name] = copy.deepcopy(value)
            self._graph._emit(
                GraphEvent(GraphEventKind.NODE_CHANGED, node_id=self.id, field="params", param=name)
            )

    @property
    def seed_control(self) -> dict[str, str]:
        """A copy: seed param -> "increment" or "randomize" (absent = fixed)."""
        return dict(self._seed_control)

    def set_seed_control(self, name: str, mode: str) -> None:
        """``mode`` "fixed" removes the entry (fixed is the default)."""
        if self.spec is not None and self.spec.param(name) is None:
            raise GraphError(f"{self.title} has no parameter {name!r}")
        current = self._seed_control.get(name, "fixed")
        if mode == current:
            return
        if mode == "fixed":
            del self._seed_control[name]
        else:
            self._seed_control[name] = mode
        self._graph._emit(
            GraphEvent(GraphEventKind.NODE_CHANGED, node_id=self.id, field="seed_control")
        )

    @property
    def slots(self) -> dict[str, int]:
        """A copy: variadic input -> its number of slots."""
        return dict(self._slots)

    def slot_count(self, port: str) -> int:
        return self._slots.get(port, 0)

    def set_slot_count(self, port: str, count: int) -> None:
        """Grow or shrink a variadic input; use the graph's commands, which move the wires."""
        spec_port = self.spec.input(port) if self.spec is not None else None
        if spec_port is None or not spec_port.variadic:
            raise GraphError(f"{self.title} has no variadic input {port!r}")
        if not 1 <= count <= MAX_SLOTS:
            raise GraphError(f"{self.title}.{port} takes 1 to {MAX_SLOTS} inputs, not {count}")
        if count < self._slots[port]:
            wired = [
                e.dst_port
                for e in self._graph.edges_into(self.id)
                if e.dst_port in spec_port.slot_names(self._slots[port])[count:]
            ]
            if wired:
                raise GraphError(f"{self.title}.{wired[0]} is connected; disconnect it first")
        if count != self._slots[port]:
            self._slots[port] = count
            self._inputs = None
            self._graph._emit(GraphEvent("node_changed", node_id=self.id, field="slots"))

    @property
    def inputs(self) -> tuple[Port, ...]:
        if self.spec is None:
            return tuple(_placeholder_ports(self.raw, "inputs"))
        if not self._slots:
            return self.spec.inputs
        if self._inputs is None:
            ports: list[Port] = []
            for port in self.spec.inputs:
                if not port.variadic:
                    ports.append(port)
                    continue
                for index in range(self._slots[port.name]):
                    help_text = f"{port.help} (input {index + 1})".strip()
                    ports.append(Port(slot_name(port.name, index), port.type, help_text, True))
            self._inputs = tuple(ports)
        return self._inputs

    @property
    def outputs(self) -> tuple[Port, ...]:
        if self.spec is not None:
            return self.spec.outputs
        return tuple(_placeholder_ports(self.raw, "outputs"))

    def input_port(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output_port(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def __repr__(self) -> str:
        return f"Node({self.type_id!r}, id={self.id[:8]}, title={self.title!r})"


def _placeholder_ports(raw: dict[str, Any] | None, key: str) -> Iterator[Port]:
    # A placeholder only knows the ports its edges mention; their types are unknown (ANY).
    for name in (raw or {}).get(f"_{key}", []):
        yield Port(name, PortType.ANY)
