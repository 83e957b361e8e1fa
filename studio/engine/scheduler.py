"""The engine: decides what a render needs, takes what it can from the cache, runs the rest.

A run goes:

1. pick the targets (every output node and every node nobody consumes, or those asked for)
   and the nodes they depend on, in dependency order;
2. validate those nodes; any error fails the run before anything executes;
3. key every node from content (:mod:`studio.engine.keys`);
4. plan backwards from the targets: a node whose result is cached is loaded and its upstream
   is neither run nor loaded; any other node runs and demands its inputs;
5. execute the plan forwards, emitting :class:`RunEvent` s. A failing node's downstream is
   skipped while other branches finish; cancellation stops at the next progress step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import uuid4

from studio.engine.cache import Cache
from studio.engine.cancel import CancelToken
from studio.engine.context import detect_device
from studio.engine.events import EventCallback, ignore_event
from studio.engine.fingerprint import Fingerprints
from studio.engine.keys import compute_keys
from studio.engine.run import DryRun, Run, RunResult, bypass_routes, default_targets
from studio.engine.see_through import (
    EventMapper,
    flat_targets,
    map_errors,
    map_ids,
    map_outputs,
    map_state,
)
from studio.graph.flatten import flatten
from studio.graph.graph import Graph, Node
from studio.graph.registry import NodeRegistry

log = logging.getLogger(__name__)


class Engine:
    """Renders graphs built from ``registry``'s node types, caching results in ``cache``."""

    def __init__(
        self,
        registry: NodeRegistry,
        cache: Cache | None = None,
        *,
        device: str | None = None,
        models: Any = None,
    ) -> None:
        self.registry = registry
        self.cache = cache if cache is not None else Cache()
        self.models = models
        self._device = device
        # Content hashes of the files nodes read, remembered beside the disk cache.
        disk = self.cache.disk
        self.fingerprints = Fingerprints(
            disk.root / "fingerprints" if disk is not None else None,
            resolve_model=self._model_folder if models is not None else None,
        )
        self.output_dir = Path("out")  # the last run's: the default for keys, state, output
        # Consecutive streaming nodes run at once (studio.engine.overlap); False runs one
        # node at a time, as before (benchmarks compare the two).
        self.overlap = True
        # Results of always-run nodes (never cached) from the last run, for previews.
        self._volatile: dict[str, tuple[str, dict[str, Any]]] = {}

    def _model_folder(self, value: str, kind: str) -> Path | None:
        return Path(self.models.resolve(value, kind=kind).path)

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = detect_device()
        return self._device

    def run(
        self,
        graph: Graph,
        targets: Sequence[str] | None = None,
        *,
        output_dir: Path = Path("out"),
        on_event: EventCallback = ignore_event,
        cancel: CancelToken | None = None,
        focus: tuple[str, int] | None = None,
    ) -> RunResult:
        """Render ``targets`` (default: :func:`default_targets`) and return their outputs.
        Subgraphs are seen through: their inner nodes run (and cache) one by one.
        ``focus`` (node id, frame): that node may make that frame first and preview it
        (live draft feedback; see ``RunContext.focus_frame``)."""
        self.output_dir = Path(output_dir)
        flat = flatten(graph)
        if flat.is_identity:
            run = Run(self, graph, targets, Path(output_dir), on_event, cancel or CancelToken())
            run.focus = focus
            return run.go()
        run = Run(
            self,
            flat.graph,
            flat_targets(flat, targets),
            Path(output_dir),
            EventMapper(flat, on_event),
            cancel or CancelToken(),
        )
        run.source = graph  # takes record the workflow as drawn, subgraphs and all
        run.focus = focus
        result = run.go()
        return replace(
            result,
            outputs=map_outputs(flat, targets, result.outputs),
            errors=map_errors(flat, result.errors),
            executed=map_ids(flat, result.executed),
            cached=map_ids(flat, result.cached),
        )

    def dry_run(
        self, graph: Graph, targets: Sequence[str] | None = None, *, output_dir: Path = Path("out")
    ) -> DryRun:
        """What :meth:`run` would do, without running a node: the problems, every key, and
        per planned node whether it would come from the cache, run, or be bypassed."""
        flat = flatten(graph)
        run = Run(
            self,
            flat.graph,
            flat_targets(flat, targets),
            Path(output_dir),
            ignore_event,
            CancelToken(),
        )
        return run.dry_run()

    def keys(self, graph: Graph, *, output_dir: Path | None = None) -> dict[str, str]:
        """The cache key of every node (always-run nodes get a fresh one each call).
        ``output_dir`` (for output nodes' keys) defaults to the last run's."""
        output_dir = self.output_dir if output_dir is None else output_dir
        graph = flatten(graph).graph  # inner nodes by their namespaced ids
        order = graph.topological_order()
        return compute_keys(
            graph, order, output_dir=output_dir, nonce=uuid4().hex, prints=self.fingerprints
        ).key

    def output(
        self, graph: Graph, node_id: str, *, output_dir: Path | None = None
    ) -> dict[str, Any] | None:
        """``node_id``'s outputs if they are cached (memory, then disk); never runs anything."""
        output_dir = self.output_dir if output_dir is None else output_dir
        node = graph.node(node_id)
        if node.subgraph is not None:
            flat = flatten(graph)
            values = {}
            for (outer, port), (src, src_port) in flat.outputs.items():
                got = (
                    self.output(flat.graph, src, output_dir=output_dir) if outer == node_id else {}
                )
                if got is None or (outer == node_id and src_port not in got):
                    return None
                if outer == node_id:
                    values[port] = got[src_port]
            return values
        if node.bypass and node.spec is not None:
            values = {}
            for out, inp in bypass_routes(node.spec).items():
                edge = graph.edge_into(node_id, inp)
                if edge is None:
                    return None
                upstream = self.output(graph, edge.src_node, output_dir=output_dir)
                if upstream is None or edge.src_port not in upstream:
                    return None
                values[out] = upstream[edge.src_port]
            return values
        order = graph.topological_order(graph.upstream([node_id]))
        keys = compute_keys(
            graph, order, output_dir=output_dir, nonce=uuid4().hex, prints=self.fingerprints
        )
        if node_id in keys.volatile:
            last = self._volatile.get(node_id)
            return last[1] if last is not None else None
        return self._cached(node, keys.key[node_id], output_dir=output_dir)

    def state(self, graph: Graph, *, output_dir: Path | None = None) -> dict[str, str]:
        """Node id -> "cached" or "stale", for the canvas badges: "stale" means the next full
        render runs the node. A node whose own result is not stored (results cheaper than a
        disk write are kept in memory only, so a restart drops them) is still "cached" when
        everything that consumes it is. Loads nothing but the small results of output nodes
        (to ask whether their files still exist). A subgraph is stale if an inner node is."""
        flat = flatten(graph)
        if not flat.is_identity:
            return map_state(flat, self.state(flat.graph, output_dir=output_dir))
        keys = self.keys(graph, output_dir=output_dir)
        targets = set(default_targets(graph))
        consumers: dict[str, list[str]] = {}
        for edge in graph.edges:
            consumers.setdefault(edge.src_node, []).append(edge.dst_node)
        satisfied: dict[str, bool] = {}
        for node_id in reversed(graph.topological_order()):
            node, key = graph.node(node_id), keys[node_id]
            if node.spec is not None and node.spec.output_node and node.spec.still_valid:
                fresh = (
                    self._cached(node, key, output_dir=output_dir or self.output_dir) is not None
                )
            else:
                fresh = self.cache.contains(key)
            needed_by = consumers.get(node_id, [])
            satisfied[node_id] = fresh or (
                node_id not in targets and all(satisfied[c] for c in needed_by)
            )
        return {node_id: "cached" if ok else "stale" for node_id, ok in satisfied.items()}

    def _cached(
        self,
        node: Node,
        key: str,
        report: Callable[[str], None] = lambda _: None,
        *,
        output_dir: Path | None = None,
    ) -> dict[str, Any] | None:
        value = self.cache.get(key, report)
        spec = node.spec
        if value is None and spec is not None and spec.recall is not None:
            try:  # an output the node wrote earlier (a take), though the cache lost it
                value = spec.recall(key, Path(output_dir or self.output_dir))
            except Exception:
                log.exception("recall of %s failed", spec.type_id)
                value = None
            if value is not None:
                self.cache.memory.put(key, value)
        if value is not None and spec is not None and spec.still_valid is not None:
            try:
                valid = bool(spec.still_valid(value))
            except Exception:  # a faulty check: run the node again rather than trust it
                log.exception("still_valid of %s failed", spec.type_id)
                valid = False
            if not valid:
                self.cache.discard(key)
                return None
        return value


def default_models() -> Any:
    """Studio's model manager, for the model-driven nodes (imported here, not at the top: the
    manager's module is only needed once something renders)."""
    from studio.engine.models import ModelManager

    return ModelManager()


def default_engine(registry: NodeRegistry) -> Engine:
    """The engine the CLI and the editor render with: the default cache and model manager."""
    return Engine(registry, models=default_models())
