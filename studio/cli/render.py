"""``studio render``: run a workflow file to its outputs, with progress on the terminal."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    load_workflow,
    parse_value,
    printable,
    registry_or_default,
    split_assignment,
)
from studio.cli.media import write_output
from studio.cli.progress import JsonlPrinter, ProgressPrinter
from studio.engine.events import RunStatus
from studio.graph.registry import NodeRegistry
from studio.session import Session
from studio.session.session import RENDERS_FOLDER


def open_session(path: str, registry: NodeRegistry, out: Path | None) -> Session:
    """The workflow in a session (as the editor has it); a broken file is a UsageError."""
    from studio.graph.fileformat import WorkflowFileError

    session = Session(registry, output_dir=out)
    try:
        warnings = session.open(path)
    except WorkflowFileError as exc:
        raise UsageError(str(exc)) from None
    for warning in warnings:
        print(f"studio: warning: {warning}", file=sys.stderr)
    return session


def cmd_render(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine import RenderJob, default_engine
    from studio.graph.commands import SetParam
    from studio.graph.graph import GraphError

    registry = registry_or_default(registry)
    if getattr(args, "strip_paths", False) or _strip_setting():
        # As a param of every Save node, so it enters their cache keys: a take written with
        # paths is never reused as one without.
        saves = [n for n in load_workflow(args.workflow, registry).nodes if _has_strip(n)]
        args.set = list(args.set) + [f"{n.id}.strip_paths=true" for n in saves]
    if args.vary or args.ray is not None:
        if args.out is None:  # as for one render: beside the workflow
            args.out = Path(args.workflow).resolve().parent / RENDERS_FOLDER
        return render_variations(args, registry)
    session = open_session(args.workflow, registry, args.out)
    graph = session.graph
    try:
        for assignment in args.set:
            key, value = split_assignment(assignment, "NODE.PARAM")
            node_key, dot, param = key.rpartition(".")
            if not dot:
                raise UsageError(f"--set needs NODE.PARAM=VALUE, got {assignment!r}")
            session.push(SetParam(graph.find(node_key).id, param, parse_value(value)))
        targets = [graph.find(t).id for t in args.target] or None
    except GraphError as exc:
        raise UsageError(str(exc)) from None

    out = session.output_dir
    titles = {n.id: printable(n.title) for n in graph.nodes}
    printer = JsonlPrinter() if args.events == "jsonl" else ProgressPrinter(titles)
    snapshot = session.snapshot()
    if args.draft:
        from studio.graph.draft import draft_graph

        snapshot, report = draft_graph(snapshot)
        if args.events != "jsonl":
            changed = ", ".join(printable(graph.node(n).title) for n in report.changes)
            print(f"studio: draft ({changed or 'no node has a draft'})", file=sys.stderr)
    job = RenderJob(
        default_engine(session.registry),
        snapshot,
        targets,
        output_dir=out,
        on_event=printer,
    )
    job.start()
    interrupted = False
    while job.running:
        try:
            job.wait(0.2)
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop waiting for the node to notice
                return EXIT_CANCELLED
            interrupted = True
            print("studio: cancelling at the next step (Ctrl-C again to quit now)", file=sys.stderr)
            job.cancel()
    result = job.result
    if result is None:
        print(f"studio: error: the engine failed: {job.error}", file=sys.stderr)
        return EXIT_FAILED
    files = [p for outputs in result.outputs.values() for p in outputs.get("files", [])]
    for node_id in targets or []:  # "up to node X": write X's outputs for the artist to see
        node = graph.node(node_id)
        for port in node.outputs if node_id in result.outputs else ():
            if port.name in result.outputs[node_id]:
                stem = re.sub(r"[^\w-]+", "_", f"{node.title}_{port.name}").strip("_")
                value = result.outputs[node_id][port.name]
                files += write_output(port.type, value, out, stem)[:1]
    if args.events != "jsonl":
        for path in files:
            print(printable(str(path)))
    return {RunStatus.OK: EXIT_OK, RunStatus.CANCELLED: EXIT_CANCELLED}.get(
        RunStatus(result.status), EXIT_FAILED
    )


def _has_strip(node: object) -> bool:
    spec = getattr(node, "spec", None)
    return spec is not None and spec.param("strip_paths") is not None


def _strip_setting() -> bool:
    from studio.settings import Settings

    return Settings().get("strip_local_paths") is True


def render_variations(args: argparse.Namespace, registry: NodeRegistry) -> int:
    """``--vary``: one job per variant in the user's queue (so ``studio queue list``, the
    editor and ``studio queue sheet`` see the batch), rendered here in turn and nothing else;
    the variants share one engine, so shared upstream work runs once. Ctrl-C cancels the
    variants not rendered yet. With ``--ray`` the variants render on a Ray cluster instead
    (shared work still once), from a private queue that holds only this batch."""
    from studio.cli.common import EXIT_CANCELLED
    from studio.cli.farm import drain_on_farm
    from studio.cli.queue import drain, make_jobs, open_store
    from studio.engine import default_engine
    from studio.queue.jobs import JobState
    from studio.queue.store import JobStore

    jobs = make_jobs(args, registry)
    ids = [job.id for job in jobs]
    jsonl = args.events == "jsonl"
    if args.ray is not None:  # the farm driver drains a whole store
        with JobStore(Path(":memory:")) as store:
            store.add(jobs)
            code = drain_on_farm(store, args.ray, jsonl=jsonl)
            if not jsonl:
                _print_variants(store, ids)
        return code
    with open_store() as store:
        store.add(jobs)
        code = EXIT_CANCELLED  # unless drain returns: a Ctrl-C may also land outside it
        try:
            code = drain(store, default_engine(registry), jsonl=jsonl, only=ids)
        finally:
            if code == EXIT_CANCELLED:
                for job_id in ids:
                    if store.state(job_id) in (JobState.QUEUED, JobState.RUNNING):
                        store.cancel(job_id)
        if not jsonl:
            _print_variants(store, ids)
            batch = jobs[0].batch
            if batch is not None:
                print(
                    f"studio: side by side: studio queue sheet {batch[:8]} --out sheet.mp4",
                    file=sys.stderr,
                )
    return code


def _print_variants(store: Any, ids: list[str]) -> None:
    """One line per variant: its values, a tab, the files it wrote (or how it ended)."""
    for job in (store.get(job_id) for job_id in ids):
        values = ", ".join(f"{k}={v}" for k, v in job.overrides.items())
        files = " ".join(job.result.get("files", [])) or str(job.state)
        print(f"{values}\t{files}")
