"""One render: select, validate, key, plan backwards from the targets, execute forwards.

:class:`~studio.engine.scheduler.Engine` is reusable across renders and owns the cache; a
:class:`Run` is one render's plan and bookkeeping (values, errors, events, timings).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from studio.engine.calls import Outcome, call_node
from studio.engine.cancel import CancelToken
from studio.engine.context import NodeContext, StreamHooks
from studio.engine.events import EventCallback, RunEvent
from studio.engine.frames import FrameAllocator
from studio.engine.keys import compute_keys, edges_by_target
from studio.engine.outputs import output_problem
from studio.engine.overlap import run_chain, stream_chain
from studio.graph.graph import Edge, Graph, Node
from studio.graph.spec import NodeSpec, slot_name
from studio.graph.validate import Problem, validate

if TYPE_CHECKING:
    from studio.engine.scheduler import Engine

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


class Run:
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
        position = 0
        while position < len(plan):
            node_id = plan[position]
            if self.cancel.cancelled:
                return "cancelled"
            action = self.actions[node_id]
            if action == "cached":
                self.cached.append(node_id)
                note = self.values.get(node_id, {}).get("note")  # "take shot_v007"
                self.emit("node_cached", node_id, message=note if isinstance(note, str) else "")
                position += 1
                continue
            node = self.graph.node(node_id)
            edges = into.get(node_id, ())
            cause = next((blocked[e.src_node] for e in edges if e.src_node in blocked), None)
            if cause is not None:
                blocked[node_id] = cause
                self.emit("node_skipped", node_id, message=f"skipped: {cause} failed")
                position += 1
                continue
            if action == "bypass":
                done = [(node_id, self.bypass(node, self.inputs_of(node_id, into)), node.title)]
            elif self.engine.overlap and len(chain := stream_chain(self, plan, position, into)) > 1:
                done = run_chain(self, chain, key, volatile, into)  # at once, streaming
            else:
                ok = self.run_node(node, self.inputs_of(node_id, into), key[node_id],
                                   node_id in volatile)  # fmt: skip
                done = [(node_id, ok, node.title)]
            for done_id, ok, failed_title in done:
                if ok is None:
                    return "cancelled"
                if not ok:
                    blocked[done_id] = failed_title
                for edge in into.get(done_id, ()):  # free what no later node needs
                    waiting[edge.src_node] -= 1
                    if waiting[edge.src_node] == 0 and edge.src_node not in keep:
                        self.values.pop(edge.src_node, None)
            position += len(done)
        return "failed" if self.errors else "ok"

    def inputs_of(self, node_id: str, into: dict[str, list[Edge]]) -> dict[str, Any]:
        """The node's inputs from the values of the nodes upstream that have them."""
        return {
            e.dst_port: self.values[e.src_node][e.src_port]
            for e in into.get(node_id, ())
            if e.src_node in self.values and e.src_port in self.values[e.src_node]
        }

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
        ctx = self.start_node(node, key, self.on_event_safe)
        return self.settle(node, key, volatile, call_node(node, ctx, inputs))

    def start_node(
        self, node: Node, key: str, emit: EventCallback, stream: StreamHooks | None = None
    ) -> NodeContext:
        """Announce ``node`` and make its context; its events go to ``emit``."""
        node_id = node.id
        ctx = NodeContext(
            run_id=self.run_id,
            node_id=node_id,
            output_dir=self.output_dir,
            cancel=self.cancel,
            emit=emit,
            device=lambda: self.engine.device,
            workflow_json=self.workflow_json,
            models=self.engine.models,
            cache_key=key,
            run_facts=self.facts,
            frames=FrameAllocator(self.engine.cache.scratch_dir),
            focus_frame=self.focus[1] if self.focus and self.focus[0] == node_id else None,
            stream=stream,
        )
        self.emit("node_started", node_id)
        self.executed.append(node_id)
        return ctx

    def settle(self, node: Node, key: str, volatile: bool, outcome: Outcome) -> bool | None:
        """Record how a node's run ended (values, cache, events): True if it succeeded, False
        if it failed, None if it was cancelled. Called on the run's own thread."""
        node_id = node.id
        if outcome.status == "cancelled":
            self.emit("node_cancelled", node_id, message="cancelled")
            return None
        if outcome.status != "ok":
            return self.fail(node_id, outcome.message, outcome.trace)
        assert outcome.outputs is not None and node.spec is not None
        outputs = outcome.outputs
        self.seconds[node_id] = outcome.elapsed
        problem = output_problem(node.spec, outputs)
        if problem:
            return self.fail(node_id, problem)
        self.values[node_id] = outputs
        if volatile:
            self.engine._volatile[node_id] = (key, outputs)
        else:
            self.engine.cache.put(
                key,
                outputs,
                lambda m: self._notes.put((node_id, m)),
                compute_seconds=outcome.elapsed,
            )
        self.emit("node_finished", node_id, elapsed=outcome.elapsed)
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
