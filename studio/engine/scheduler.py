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
import queue
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import uuid4

from studio.engine.cache import Cache
from studio.engine.cancel import CancelToken
from studio.engine.context import NodeContext, detect_device
from studio.engine.events import EventCallback, RunEvent, ignore_event
from studio.engine.fingerprint import Fingerprints
from studio.engine.frames import FrameAllocator
from studio.engine.keys import compute_keys, edges_by_target
from studio.engine.see_through import (
    EventMapper,
    flat_targets,
    map_errors,
    map_ids,
    map_outputs,
    map_state,
)
from studio.graph.flatten import flatten
from studio.graph.graph import Edge, Graph, Node
from studio.graph.registry import NodeRegistry
from studio.graph.spec import Cancelled, NodeError, NodeSpec, slot_name
from studio.graph.types import Audio, CameraPath, Motion, PortType, Video
from studio.graph.validate import Problem, validate

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run produced: ``outputs`` by target node id, then port name."""

    status: str  # "ok" | "failed" | "cancelled"
    outputs: dict[str, dict[str, Any]]
    errors: dict[str, str]  # node id -> message
    elapsed: float
    executed: list[str] = field(default_factory=list)  # node ids that ran, in order
    cached: list[str] = field(default_factory=list)  # node ids taken from the cache


@dataclass
class DryRun:
    """A render planned but not run (:meth:`Engine.dry_run`); no keys or plan when
    ``problems`` hold errors."""

    problems: list[Problem]
    keys: dict[str, str]
    plan: list[str]  # node ids to load, run or bypass, in order
    actions: dict[str, str]  # node id -> "cached" | "run" | "bypass"


def default_targets(graph: Graph) -> list[str]:
    """Every output node plus every node whose outputs nobody consumes."""
    consumed = {e.src_node for e in graph.edges}
    return [
        n.id
        for n in graph.nodes
        if n.id not in consumed or (n.spec is not None and n.spec.output_node)
    ]


def bypass_routes(spec: NodeSpec) -> dict[str, str]:
    """For a bypassed node: output port -> the first input port whose type accepts it."""
    routes = {}
    for out in spec.outputs:
        source = next((i for i in spec.inputs if i.type.accepts(out.type)), None)
        if source is not None:  # a variadic input passes its first slot
            routes[out.name] = slot_name(source.name, 0) if source.variadic else source.name
    return routes


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
            run = _Run(self, graph, targets, Path(output_dir), on_event, cancel or CancelToken())
            run.focus = focus
            return run.go()
        run = _Run(
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
        run = _Run(
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


class _Run:
    """One render: the plan and its bookkeeping (kept off :class:`Engine`, which is reusable)."""

    def __init__(
        self,
        engine: Engine,
        graph: Graph,
        targets: Sequence[str] | None,
        output_dir: Path,
        on_event: EventCallback,
        cancel: CancelToken,
    ) -> None:
        self.engine = engine
        self.graph = graph
        self.targets = list(dict.fromkeys(targets)) if targets is not None else None
        self.output_dir = output_dir
        self.on_event = on_event
        self.cancel = cancel
        self.run_id = uuid4().hex[:12]
        self.values: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        self.executed: list[str] = []
        self.cached: list[str] = []
        self.actions: dict[str, str] = {}  # node id -> "cached" | "run" | "bypass"
        self.keys: dict[str, str] = {}
        self.seconds: dict[str, float] = {}  # node id -> how long it ran
        # Disk-cache messages come from the writer thread; the run thread emits them, so
        # listeners only ever hear from one thread.
        self._notes: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._workflow_json: str | None = None
        self.source = graph  # what takes record (the graph before subgraphs were flattened)
        self.focus: tuple[str, int] | None = None  # (node id, frame) to make first

    def emit(self, kind: str, node_id: str | None = None, **fields: Any) -> None:
        try:
            self.on_event(RunEvent(kind, self.run_id, node_id, **fields))
        except Exception:  # a broken listener must not break the render
            log.exception("run event listener failed on %s", kind)

    def select(self) -> tuple[list[str], list[str]]:
        """The targets and every node they need, in dependency order."""
        graph = self.graph
        targets = self.targets if self.targets is not None else default_targets(graph)
        for target in targets:
            graph.node(target)  # raises GraphError naming an unknown target
        return targets, graph.topological_order(graph.upstream(targets))

    def dry_run(self) -> DryRun:
        targets, order = self.select()
        problems = validate(self.graph, order, models=self.engine.models)
        if any(p.severity == "error" for p in problems):
            return DryRun(problems, {}, [], {})
        into = edges_by_target(self.graph)
        keys = compute_keys(
            self.graph,
            order,
            output_dir=self.output_dir,
            nonce=self.run_id,
            into=into,
            prints=self.engine.fingerprints,
        )
        plan, _notes = self.plan(order, targets, keys.key, keys.volatile, into)
        return DryRun(problems, keys.key, plan, dict(self.actions))

    def go(self) -> RunResult:
        start = time.perf_counter()
        graph = self.graph
        targets, order = self.select()

        problems = validate(graph, order, models=self.engine.models)
        failures = [p for p in problems if p.severity == "error"]
        if failures:
            self.emit("run_started", node_ids=tuple(order))
            for problem in failures:
                self.errors[problem.node_id] = "; ".join(
                    filter(None, [self.errors.get(problem.node_id), problem.message])
                )
                self.emit("node_failed", problem.node_id, message=problem.message)
            return self.finish("failed", targets, start)

        into = edges_by_target(graph)
        keys = compute_keys(
            graph,
            order,
            output_dir=self.output_dir,
            nonce=self.run_id,
            into=into,
            prints=self.engine.fingerprints,
        )
        self.keys = keys.key
        plan, notes = self.plan(order, targets, keys.key, keys.volatile, into)
        self.emit("run_started", node_ids=tuple(plan))
        for node_id, message in notes + [(p.node_id, p.message) for p in problems]:
            self.emit("node_info", node_id, message=message)

        status = self.execute(plan, targets, keys.key, keys.volatile, into)
        return self.finish(status, targets, start)

    def finish(self, status: str, targets: list[str], start: float) -> RunResult:
        self.engine.cache.flush()  # on disk before anyone hears the run is over
        self.emit_notes()
        elapsed = time.perf_counter() - start
        outputs = {t: self.values[t] for t in targets if t in self.values}
        self.emit("run_finished", status=status, elapsed=elapsed)
        return RunResult(status, outputs, self.errors, elapsed, self.executed, self.cached)

    # -- planning ---------------------------------------------------------------------------

    def plan(
        self,
        order: list[str],
        targets: list[str],
        key: dict[str, str],
        volatile: set[str],
        into: dict[str, list[Edge]],
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Walk back from the targets; returns the nodes to load or run, in dependency order,
        and messages (damaged cache entries) to emit once the run has started."""
        demanded = set(targets)
        notes: list[tuple[str, str]] = []
        for node_id in reversed(order):
            if node_id not in demanded:
                continue
            node = self.graph.node(node_id)
            edges = into.get(node_id, ())
            if node.bypass:
                self.actions[node_id] = "bypass"
                used = set(bypass_routes(node.spec).values()) if node.spec else set()
                demanded.update(e.src_node for e in edges if e.dst_port in used)
                continue
            if node_id not in volatile:
                value = self.engine._cached(
                    node,
                    key[node_id],
                    lambda m, n=node_id: notes.append((n, m)),
                    output_dir=self.output_dir,
                )
                if value is not None:
                    self.actions[node_id] = "cached"
                    self.values[node_id] = value
                    continue
            self.actions[node_id] = "run"
            demanded.update(e.src_node for e in edges)
        return [n for n in order if n in self.actions], notes

    # -- execution --------------------------------------------------------------------------

    def execute(
        self,
        plan: list[str],
        targets: list[str],
        key: dict[str, str],
        volatile: set[str],
        into: dict[str, list[Edge]],
    ) -> str:
        blocked: dict[str, str] = {}  # node id -> title of the failed node it waited for
        # How many planned consumers still need each node's outputs: freed at zero.
        waiting: dict[str, int] = {}
        for node_id in plan:
            if self.actions[node_id] != "cached":
                for edge in into.get(node_id, ()):
                    waiting[edge.src_node] = waiting.get(edge.src_node, 0) + 1
        keep = set(targets)
        for node_id in plan:
            if self.cancel.cancelled:
                return "cancelled"
            action = self.actions[node_id]
            if action == "cached":
                self.cached.append(node_id)
                note = self.values.get(node_id, {}).get("note")  # "take shot_v007"
                self.emit("node_cached", node_id, message=note if isinstance(note, str) else "")
                continue
            node = self.graph.node(node_id)
            edges = into.get(node_id, ())
            cause = next((blocked[e.src_node] for e in edges if e.src_node in blocked), None)
            if cause is not None:
                blocked[node_id] = cause
                self.emit("node_skipped", node_id, message=f"skipped: {cause} failed")
                continue
            inputs = {
                e.dst_port: self.values[e.src_node][e.src_port]
                for e in edges
                if e.src_node in self.values and e.src_port in self.values[e.src_node]
            }
            if action == "bypass":
                ok = self.bypass(node, inputs)
            else:
                ok = self.run_node(node, inputs, key[node_id], node_id in volatile)
            if ok is None:
                return "cancelled"
            if not ok:
                blocked[node_id] = node.title
            for edge in edges:  # free what no later node needs
                waiting[edge.src_node] -= 1
                if waiting[edge.src_node] == 0 and edge.src_node not in keep:
                    self.values.pop(edge.src_node, None)
        return "failed" if self.errors else "ok"

    def bypass(self, node: Node, inputs: Mapping[str, Any]) -> bool:
        assert node.spec is not None  # validation refused placeholders
        values = {}
        for out, inp in bypass_routes(node.spec).items():
            if inp not in inputs:
                return self.fail(node.id, f"is bypassed, but its input {inp!r} is not connected")
            values[out] = inputs[inp]
        self.values[node.id] = values
        self.emit("node_finished", node.id, message="bypassed", elapsed=0.0)
        return True

    def run_node(self, node: Node, inputs: dict[str, Any], key: str, volatile: bool) -> bool | None:
        """Run one node: True if it succeeded, False if it failed, None if cancelled."""
        spec = node.spec
        assert spec is not None  # validation refused placeholders
        node_id = node.id
        ctx = NodeContext(
            run_id=self.run_id,
            node_id=node_id,
            output_dir=self.output_dir,
            cancel=self.cancel,
            emit=self.on_event_safe,
            device=lambda: self.engine.device,
            workflow_json=self.workflow_json,
            models=self.engine.models,
            cache_key=key,
            run_facts=self.facts,
            frames=FrameAllocator(self.engine.cache.scratch_dir),
            focus_frame=self.focus[1] if self.focus and self.focus[0] == node_id else None,
        )
        self.emit("node_started", node_id)
        self.executed.append(node_id)
        start = time.perf_counter()
        try:
            outputs = spec.run(ctx, inputs, node.params)
            if self.cancel.cancelled:
                raise Cancelled()
        except Cancelled:
            ctx.frames.discard()  # a cancelled node leaves no scratch files
            self.emit("node_cancelled", node_id, message="cancelled")
            return None
        except NodeError as exc:
            ctx.frames.discard()
            return self.fail(node_id, str(exc) or type(exc).__name__)
        except Exception as exc:
            ctx.frames.discard()
            return self.fail(node_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        elapsed = time.perf_counter() - start
        self.seconds[node_id] = elapsed
        problem = output_problem(spec, outputs)
        if problem:
            return self.fail(node_id, problem)
        self.values[node_id] = outputs
        if volatile:
            self.engine._volatile[node_id] = (key, outputs)
        else:
            self.engine.cache.put(
                key, outputs, lambda m: self._notes.put((node_id, m)), compute_seconds=elapsed
            )
        self.emit("node_finished", node_id, elapsed=elapsed)
        self.emit_notes()
        return True

    def emit_notes(self) -> None:
        while not self._notes.empty():
            node_id, message = self._notes.get()
            self.emit("node_info", node_id, message=message)

    def fail(self, node_id: str, message: str, trace: str | None = None) -> bool:
        self.errors[node_id] = message
        self.emit("node_failed", node_id, message=message, traceback=trace)
        return False

    def on_event_safe(self, event: RunEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception("run event listener failed on %s", event.kind)

    def facts(self) -> dict[str, dict[str, Any]]:
        """What ran and what came from the cache so far, for outputs to record (takes)."""
        facts = {}
        for node_id, action in self.actions.items():
            finished = node_id in self.seconds or (action == "cached" and node_id in self.cached)
            if not finished:
                continue
            node = self.graph.node(node_id)
            facts[node_id] = {
                "title": node.title,
                "type": node.type_id,
                "key": self.keys.get(node_id, ""),
                "seconds": round(self.seconds[node_id], 4) if node_id in self.seconds else None,
                "cached": action == "cached",
                "package": node.spec.package if node.spec is not None else "",
                "package_version": node.spec.package_version if node.spec is not None else "",
            }
        return facts

    def workflow_json(self) -> str:
        if self._workflow_json is None:
            from studio.graph.fileformat import dumps

            self._workflow_json = dumps(self.source)
        return self._workflow_json


def output_problem(spec: NodeSpec, outputs: Any) -> str | None:
    """Why a node's return value breaks its declared outputs, or None if it is fine."""
    if not isinstance(outputs, dict):
        return f"returned {type(outputs).__name__}, not a dict of outputs (a bug in the node)"
    for port in spec.outputs:
        if port.name not in outputs:
            return f"returned no {port.name!r} output (a bug in the node)"
        problem = port_value_problem(port.type, outputs[port.name])
        if problem:
            return f"output {port.name!r}: {problem} (a bug in the node)"
    return None


def port_value_problem(port_type: PortType, value: Any) -> str | None:
    """Whether ``value`` follows the convention for ``port_type`` (see studio.graph.types)."""
    import numpy as np

    if port_type is PortType.IMAGE:
        ok = isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[-1] == 3
        if not (ok and value.dtype == np.uint8):
            return f"expected an (H, W, 3) uint8 image, got {_describe(value)}"
    elif port_type is PortType.MASK:
        ok = isinstance(value, np.ndarray) and value.ndim == 2
        if not (ok and value.dtype == np.float32):
            return f"expected an (H, W) float32 mask, got {_describe(value)}"
    else:
        expected = {
            PortType.VIDEO: Video,
            PortType.MOTION: Motion,
            PortType.CAMERA_PATH: CameraPath,
            PortType.AUDIO: Audio,
        }.get(port_type)
        if expected is not None and not isinstance(value, expected):
            return f"expected a {expected.__name__}, got {_describe(value)}"
    return None


def _describe(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return type(value).__name__
