"""Consecutive streaming nodes run at once: decode, compute and encode overlap.

Load Video -> Upscale -> Save Video ran one node after the other: the upscaler waited for the
last frame to be decoded, the encoder for the last frame to be upscaled. When a planned node
publishes its clip before filling it (``NodeSpec.stream_out``) and the next planned node reads
that clip only in frame order (``NodeSpec.stream_in``), the next one starts as soon as the clip
is published, on its own thread, and reads each chunk once its frames are written
(:mod:`studio.engine.filling`). The chain's nodes run on helper threads; the run's thread relays
their events in the order they happen (listeners hear from one thread only) and records their
results in plan order, as a one-at-a-time run would.

A producer that fails or is cancelled breaks its clip off: its reader stops and is skipped
(or cancelled). A producer that returns another clip than it published (the file held fewer
frames than it said) makes its reader start again, alone, on the clip it really made.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from studio.engine.calls import Outcome, call_node
from studio.engine.cancel import CancelToken
from studio.engine.context import NodeContext
from studio.engine.filling import Filling, track, untrack
from studio.graph.graph import Edge

if TYPE_CHECKING:
    from studio.engine.run import Run


def stream_chain(
    run: Run, plan: list[str], position: int, into: dict[str, list[Edge]]
) -> list[str]:
    """The planned nodes from ``position`` on that can run at once: each one after the first
    reads the one before's clip in frame order, and takes its other inputs from nodes that
    already finished. A single node when nothing streams."""
    chain = [plan[position]]
    while position + len(chain) < len(plan):
        current, following = chain[-1], plan[position + len(chain)]
        spec = run.graph.node(current).spec
        reader = run.graph.node(following).spec
        if spec is None or not spec.stream_out or reader is None or not reader.stream_in:
            break
        if run.actions.get(following) != "run":
            break
        edges = into.get(following, ())
        streamed = [e for e in edges if e.dst_port == reader.stream_in and e.src_node == current]
        others_ready = all(
            e.src_node in run.values for e in edges if e.dst_port != reader.stream_in
        )
        if not streamed or not others_ready:
            break
        chain.append(following)
    return chain


@dataclass
class Link:
    """One node of a running chain: its thread's outcome and what it published."""

    node_id: str
    published: dict[str, Any] | None = None
    fillings: list[tuple[Any, Filling]] = field(default_factory=list)
    outcome: Outcome | None = None
    from_published: bool = False  # started on its upstream's published (unfinished) clip
    ctx: NodeContext | None = None
    as_published: bool = False  # it returned the very outputs it published


class Publisher:
    """A chain node's ``ctx.publish`` / ``ctx.frames_ready``: tracks each published clip's
    filling and tells the run's thread it may start the reader."""

    def __init__(self, link: Link, cancel: CancelToken, tell: SimpleQueue) -> None:
        self.link, self.cancel, self.tell = link, cancel, tell

    def publish(self, outputs: Mapping[str, Any]) -> None:
        if self.link.published is not None:
            return  # published once; the node returns those very outputs
        for value in outputs.values():
            frames = getattr(value, "frames", None)
            if frames is not None and hasattr(frames, "shape"):
                filling = Filling(len(frames), self.cancel)
                track(frames, filling)
                self.link.fillings.append((frames, filling))
        self.link.published = dict(outputs)
        self.tell.put(("published", self.link.node_id, None))

    def frames_ready(self, count: int) -> None:
        for _frames, filling in self.link.fillings:
            filling.advance(count)

    def end(self, outcome: Outcome) -> None:
        """The node returned: its readers may read to the end, or must stop."""
        published = self.link.published
        if published is None:
            return
        outputs = outcome.outputs if outcome.status == "ok" else None
        same = outputs is not None and all(outputs.get(p) is v for p, v in published.items())
        self.link.as_published = same
        for _frames, filling in self.link.fillings:
            if same:
                filling.complete()
            else:  # the engine tells from the outcome whether the reader is skipped or rerun
                filling.break_off(f"the clip upstream was not finished as published "
                                  f"({outcome.status})")  # fmt: skip
        for frames, _filling in self.link.fillings:
            untrack(frames)


def run_chain(
    run: Run,
    chain: list[str],
    key: dict[str, str],
    volatile: set[str],
    into: dict[str, list[Edge]],
) -> list[tuple[str, bool | None, str]]:
    """Run ``chain`` (from :func:`stream_chain`) at once; returns (node id, True / False /
    None for cancelled, title of the failed node it waited for) for the nodes it settled, in
    order. A reader that must start again on its upstream's real clip, and every node after
    it, are left out: the caller runs them one at a time."""
    tell: SimpleQueue[tuple[str, str, Any]] = SimpleQueue()
    links = {node_id: Link(node_id) for node_id in chain}
    threads: list[threading.Thread] = []

    def start(index: int, from_published: bool) -> None:
        node = run.graph.node(chain[index])
        link = links[node.id]
        link.from_published = from_published
        inputs = run.inputs_of(node.id, into)
        if from_published:
            upstream = links[chain[index - 1]].published or {}
            for edge in into.get(node.id, ()):
                if edge.src_node == chain[index - 1] and edge.src_port in upstream:
                    inputs[edge.dst_port] = upstream[edge.src_port]
        publisher = Publisher(link, run.cancel, tell)
        ctx = run.start_node(node, key[node.id], lambda e: tell.put(("event", node.id, e)),
                             publisher)  # fmt: skip
        link.ctx = ctx

        def work() -> None:
            outcome = Outcome("failed", message="the node's thread stopped unexpectedly")
            try:
                outcome = call_node(node, ctx, inputs)
            finally:
                publisher.end(outcome)
                tell.put(("done", node.id, outcome))

        thread = threading.Thread(target=work, name=f"studio-node-{node.id}", daemon=True)
        threads.append(thread)
        thread.start()

    start(0, from_published=False)
    started, running = 1, 1
    settled: list[tuple[str, bool | None, str]] = []
    restart = False  # a reader read a clip that was finished otherwise: the rest runs again
    while running:
        kind, node_id, payload = tell.get()
        if kind == "event":
            run.on_event_safe(payload)
        elif kind == "published":
            in_line = chain.index(node_id) + 1 == started < len(chain) and not restart
            if in_line and not run.cancel.cancelled:
                start(started, from_published=True)
                started, running = started + 1, running + 1
        else:
            links[node_id].outcome = payload
            running -= 1
        # Record, in plan order, every node whose own and upstream's outcome are known.
        while not restart and len(settled) < started:
            link = links[chain[len(settled)]]
            if link.outcome is None:
                break
            result = _settle(run, chain, len(settled), links, settled, key, volatile)
            if result is None:
                restart = True
            else:
                settled.append(result)
        # A node that finished without publishing: its reader starts now, the usual way.
        next_in_line = not restart and len(settled) == started < len(chain)
        if next_in_line and settled[-1][1] is True and not run.cancel.cancelled:
            start(started, from_published=False)
            started, running = started + 1, running + 1
    for thread in threads:
        thread.join()
    for node_id in chain[len(settled) : started]:
        _discard(run, links[node_id])  # runs again, one at a time, after this chain
    for link in links.values():  # link -> context -> publisher -> link: a clip freed now
        link.ctx, link.published, link.fillings = None, None, []
    return settled


def _settle(
    run: Run,
    chain: list[str],
    index: int,
    links: dict[str, Link],
    settled: list[tuple[str, bool | None, str]],
    key: dict[str, str],
    volatile: set[str],
) -> tuple[str, bool | None, str] | None:
    """Record one chain node's end; None when it must run again on its upstream's real clip."""
    node = run.graph.node(chain[index])
    link = links[node.id]
    assert link.outcome is not None
    if link.from_published:
        upstream_id, upstream_ok, cause = settled[index - 1]
        upstream = links[upstream_id]
        if upstream_ok is None:  # cancelled upstream: so is what read its clip
            _discard(run, link)
            run.emit("node_cancelled", node.id, message="cancelled")
            return node.id, None, node.title
        if not upstream_ok:
            _discard(run, link)
            run.emit("node_skipped", node.id, message=f"skipped: {cause} failed")
            return node.id, False, cause
        if not upstream.as_published or link.outcome.status == "broken":
            _discard(run, link)
            run.emit("node_info", node.id, message="starting again: the clip upstream changed")
            return None
    if link.outcome.status == "broken":  # only a reader of a published clip can break off
        link.outcome = Outcome("failed", message=link.outcome.message)
    ok = run.settle(node, key[node.id], node.id in volatile, link.outcome)
    return node.id, ok, node.title


def _discard(run: Run, link: Link) -> None:
    """Forget a reader's run: what it made came from a clip not finished as it read it."""
    if link.ctx is not None:
        link.ctx.frames.discard()
    if link.outcome is not None:
        link.outcome.outputs = None
    if link.node_id in run.executed:
        run.executed.remove(link.node_id)
