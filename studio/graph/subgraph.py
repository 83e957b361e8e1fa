"""Subgraphs: one node that holds a graph of its own (Nuke's groups, ComfyUI's subgraphs).

A subgraph node's record carries an inner :class:`Graph`. Its ports are the inner
``Subgraph Input`` / ``Subgraph Output`` proxy nodes (made from the wires that crossed the
selection's border when it was collapsed), and its params are the inner params the artist
exposed (renamed, reordered, with defaults of their own). The node's :class:`NodeSpec` is made
per instance from those, so the canvas, the inspector and the connection checks treat it like
any other node. The engine never runs it: :mod:`studio.graph.flatten` splices the inner nodes
into the outer graph first, so they are keyed and cached one by one.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from studio.graph.graph import Graph, Node
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType

SUBGRAPH_TYPE = "Subgraph"
INPUT_TYPE = "Subgraph Input"
OUTPUT_TYPE = "Subgraph Output"
PROXY_TYPES = (INPUT_TYPE, OUTPUT_TYPE)


def _proxy_run(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    # Proxies are removed when a graph is flattened; one that runs is inside a graph run
    # on its own, where it passes its value through (an Output) or has nothing (an Input).
    return {"out": inputs.get("in")}


def _never_run(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    raise NodeError("a subgraph runs through its inner nodes; flatten the graph first")


_TYPE_CHOICES = tuple(t.value for t in PortType)
_PROXY_PARAMS = (
    Param("name", ParamKind.STRING, "in", help="The port's name on the subgraph node"),
    Param("type", ParamKind.CHOICE, "any", choices=_TYPE_CHOICES, help="What the port carries"),
)

SUBGRAPH_INPUT = NodeSpec(
    type_id=INPUT_TYPE,
    title="Subgraph Input",
    category="Utility",
    help="An input of the subgraph this graph is inside: what the outer wire brings.",
    run=_proxy_run,
    outputs=(Port("out", PortType.ANY),),
    params=_PROXY_PARAMS,
)
SUBGRAPH_OUTPUT = NodeSpec(
    type_id=OUTPUT_TYPE,
    title="Subgraph Output",
    category="Utility",
    help="An output of the subgraph this graph is inside.",
    run=_proxy_run,
    inputs=(Port("in", PortType.ANY),),
    params=(replace(_PROXY_PARAMS[0], default="out"), _PROXY_PARAMS[1]),
)
# Never registered (the registry reserves the type id); instances get their own spec.
SUBGRAPH_BASE = NodeSpec(
    type_id=SUBGRAPH_TYPE,
    title="Subgraph",
    category="Utility",
    help="Nodes collapsed into one; open it to edit inside.",
    run=_never_run,
)


@dataclass
class Exposed:
    """An inner param shown on the outer node, under a name (and label) of its own."""

    name: str
    node: str  # inner node id
    param: str  # the inner node's param name
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        record = {"name": self.name, "node": self.node, "param": self.param}
        if self.label:
            record["label"] = self.label
        return record


@dataclass
class BlueprintLink:
    """Where a subgraph came from: a blueprint file (by name) and the hash of the content
    this instance holds. ``linked``: the instance follows the file (shows when it changed
    and updates on request); otherwise the instance is an embedded copy."""

    name: str
    sha256: str
    linked: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "linked": self.linked}


@dataclass
class SubgraphDef:
    """What a subgraph node holds: the inner graph, its exposed params, its blueprint."""

    graph: Graph
    exposed: list[Exposed] = field(default_factory=list)
    blueprint: BlueprintLink | None = None

    def copy(self) -> SubgraphDef:
        return SubgraphDef(
            self.graph.copy(),
            [replace(e) for e in self.exposed],
            replace(self.blueprint) if self.blueprint else None,
        )

    def proxies(self, type_id: str) -> list[Node]:
        return [n for n in self.graph.nodes if n.type_id == type_id]


def proxy_port(node: Node) -> Port:
    kind = node.param("type") or "any"
    try:
        port_type = PortType(kind)
    except ValueError:
        port_type = PortType.ANY
    return Port(str(node.param("name")), port_type, help=f"inside: {node.title}")


def subgraph_spec(defn: SubgraphDef, title: str = "Subgraph") -> NodeSpec:
    """The spec of one subgraph instance: ports from its proxies, params from its exposures."""
    params: list[Param] = []
    for exposed in defn.exposed:
        inner = defn.graph.node(exposed.node)
        base = inner.spec.param(exposed.param) if inner.spec is not None else None
        if base is None:
            base = Param(exposed.param, ParamKind.JSON, None)
        params.append(
            replace(
                base,
                name=exposed.name,
                default=inner.param(exposed.param),
                label=exposed.label or base.label,
                help=f"{inner.title}: {base.help}".rstrip(": "),
            )
        )
    return NodeSpec(
        type_id=SUBGRAPH_TYPE,
        title=title,
        category="Subgraph",
        help=SUBGRAPH_BASE.help,
        run=_never_run,
        inputs=tuple(proxy_port(n) for n in defn.proxies(INPUT_TYPE)),
        outputs=tuple(proxy_port(n) for n in defn.proxies(OUTPUT_TYPE)),
        params=tuple(params),
    )


def make_subgraph_node(
    graph: Graph,
    defn: SubgraphDef,
    *,
    node_id: str,
    title: str,
    position: tuple[float, float],
    params: Mapping[str, Any] | None = None,
) -> Node:
    """A subgraph node (not inserted); params default to the inner values of the exposures."""
    spec = subgraph_spec(defn, title)
    values = spec.default_params()
    values.update({k: copy.deepcopy(v) for k, v in (params or {}).items() if spec.param(k)})
    node = Node(graph, node_id, SUBGRAPH_TYPE, spec, title=title, position=position, params=values)
    node.subgraph = defn
    return node


def refresh_spec(node: Node) -> None:
    """Rebuild the instance spec after its inner graph or exposures changed."""
    assert node.subgraph is not None
    node.spec = subgraph_spec(node.subgraph, node.spec.title if node.spec else node.title)
    node._inputs = None
    for name in list(node._params):
        if node.spec.param(name) is None:
            del node._params[name]
    for param in node.spec.params:
        node._params.setdefault(param.name, copy.deepcopy(param.default))


def inner_with_exposed(node: Node) -> Graph:
    """A copy of the inner graph with the outer node's exposed values written in."""
    assert node.subgraph is not None
    inner = node.subgraph.graph.copy()
    for exposed in node.subgraph.exposed:
        if exposed.name in node._params:
            inner.node(exposed.node)._params[exposed.param] = copy.deepcopy(
                node._params[exposed.name]
            )
    return inner


def content_hash(data: Mapping[str, Any]) -> str:
    """A blueprint's identity: the hash of its canonical JSON (positions included, so a
    tidied layout is a new version, as artists expect from 'the file changed')."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
