"""``studio queue``: add jobs (and variation batches), list, run and control the render queue.

studio queue add WORKFLOW [--out DIR] [--target NODE] [--set N.P=V] [--vary N.P=VALUES]
studio queue list [--json]
studio queue run [--events jsonl]
studio queue cancel JOB | --all
studio queue pause JOB | resume JOB | retry JOB | move JOB INDEX | clear
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from studio.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    load_workflow,
    parse_value,
    registry_or_default,
    split_assignment,
)
from studio.cli.farm import add_ray_option, drain_on_farm
from studio.cli.progress import JsonlPrinter, ProgressPrinter
from studio.graph.registry import NodeRegistry


def add_queue_parser(sub: Any) -> None:
    queue = sub.add_parser("queue", help="the render queue: add, list, run, cancel jobs")
    actions = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="queue a workflow (one job per variant with --vary)")
    add.add_argument("workflow")
    add_render_options(add)
    add.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="queue N runs, moving seeds set to increment/randomize on between them",
    )
    add.set_defaults(handler=cmd_queue_add)

    list_ = actions.add_parser("list", help="the jobs in queue order")
    list_.add_argument("--json", action="store_true", help="machine-readable output")
    list_.set_defaults(handler=cmd_queue_list)

    run = actions.add_parser("run", help="render queued jobs until none is left")
    run.add_argument("--events", choices=["jsonl"], help="print one JSON event per line")
    add_ray_option(run)
    run.set_defaults(handler=cmd_queue_run)

    cancel = actions.add_parser(
        "cancel", help="cancel a job (a running one stops at its next step)"
    )
    cancel.add_argument("job", nargs="?", help="job id or the start of one")
    cancel.add_argument("--all", action="store_true", help="cancel every unfinished job")
    cancel.set_defaults(handler=cmd_queue_cancel)

    for name, text in (
        ("pause", "hold a job back (a running one stops; its finished nodes stay cached)"),
        ("resume", "queue a paused job again"),
        ("retry", "queue a failed or cancelled job again, at the end"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("job")
        action.set_defaults(handler=cmd_queue_control, control=name)

    move = actions.add_parser(
        "move", help="move a waiting job to INDEX among waiting jobs (0=next)"
    )
    move.add_argument("job")
    move.add_argument("index", type=int)
    move.set_defaults(handler=cmd_queue_move)

    sheet = actions.add_parser(
        "sheet", help="export a variation batch as one contact sheet (mp4 or png grid)"
    )
    sheet.add_argument("batch", nargs="?", help="batch id, or a job of it (default: the latest)")
    sheet.add_argument("--out", type=Path, required=True, help="sheet.mp4 or sheet.png")
    sheet.add_argument("--frame", type=int, default=0, help="the frame a PNG shows (0)")
    sheet.set_defaults(handler=cmd_queue_sheet)

    clear = actions.add_parser("clear", help="forget finished jobs (their files stay)")
    clear.set_defaults(handler=cmd_queue_clear)


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """--out, --target, --set and --vary, as ``studio render`` has them."""
    many: dict[str, Any] = {"action": "append", "default": []}
    parser.add_argument(
        "--out", type=Path, help="output folder (default: renders/ beside the workflow)"
    )
    parser.add_argument("--target", metavar="NODE", **many, help="render only up to NODE")
    parser.add_argument("--set", metavar="NODE.PARAM=VALUE", **many, help="override a parameter")
    add_draft_option(parser)
    add_vary_option(parser)


def add_draft_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--draft",
        action="store_true",
        help="render the draft: each node's declared cheaper settings (half size, every 2nd "
        "frame, fewer steps, the fast upscaler); takes are named <shot>_draft",
    )


def add_vary_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vary",
        metavar="NODE.PARAM=VALUES",
        action="append",
        default=[],
        help="render one variant per value: a list (1,2,5), a range (1..8, 0.1..0.5:0.1) or "
        "random seeds (rand:8); several --vary give every combination",
    )


def prepare(
    args: argparse.Namespace, registry: NodeRegistry
) -> tuple[Any, list[str] | None, dict[str, Any], list[Any]]:
    """The workflow with --set applied, the targets, the overrides and the variations."""
    from studio.graph.graph import GraphError
    from studio.queue.variations import VariationError, parse_vary

    graph = load_workflow(args.workflow, registry)
    overrides: dict[str, Any] = {}
    try:
        for assignment in args.set:
            key, value = split_assignment(assignment, "NODE.PARAM")
            node_key, dot, param = key.rpartition(".")
            if not dot:
                raise UsageError(f"--set needs NODE.PARAM=VALUE, got {assignment!r}")
            node = graph.find(node_key)
            node.set_param(param, parse_value(value))
            overrides[f"{node.title}.{param}"] = parse_value(value)
        targets = [graph.find(t).id for t in args.target] or None
        variations = [parse_vary(text, graph) for text in args.vary]
    except (GraphError, VariationError) as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "draft", False):
        from studio.graph.draft import draft_graph

        graph, _ = draft_graph(graph)
    return graph, targets, overrides, variations


def make_jobs(args: argparse.Namespace, registry: NodeRegistry) -> list[Any]:
    from studio.graph.seeds import advance_seeds
    from studio.queue.variations import VariationError, variation_jobs

    graph, targets, overrides, variations = prepare(args, registry)
    if args.out is None:  # as `studio render`: beside the workflow
        from studio.session.session import RENDERS_FOLDER

        args.out = Path(args.workflow).resolve().parent / RENDERS_FOLDER
    repeat = getattr(args, "repeat", 1)
    if not 1 <= repeat <= 1000:
        raise UsageError(f"--repeat {repeat}: use 1 to 1000")
    jobs = []
    for _ in range(repeat):
        try:
            jobs += variation_jobs(
                graph,
                variations,
                name=Path(args.workflow).stem,
                output_dir=args.out,
                targets=targets,
                overrides=overrides,
            )
        except VariationError as exc:
            raise UsageError(str(exc)) from None
        step = advance_seeds(graph)  # the workflow's own seed controls, as after a run
        if step is not None:
            step.apply(graph)
    return jobs


def open_store() -> Any:
    from studio.queue.store import JobStore, QueueError

    try:
        return JobStore()
    except QueueError as exc:
        raise UsageError(str(exc)) from None


def cmd_queue_add(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    jobs = make_jobs(args, registry_or_default(registry))
    with open_store() as store:
        store.add(jobs)
    for job in jobs:
        print(f"{job.short_id}  {job.name}")
    print(f"studio: {len(jobs)} job(s) queued; `studio queue run` renders them", file=sys.stderr)
    return EXIT_OK


def cmd_queue_list(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    with open_store() as store:
        jobs = store.jobs()
        interrupted = {job.id for job in store.interrupted()}
    if args.json:
        print(json.dumps([job.to_json() for job in jobs], indent=2))
        return EXIT_OK
    if not jobs:
        print("the queue is empty")
    for job in jobs:
        state = "interrupted" if job.id in interrupted else str(job.state)
        detail = ""
        if state == "running":
            eta = f", {job.eta:.0f} s left" if job.eta is not None else ""
            detail = f" {job.progress:4.0%}{eta}"
        elif job.state.finished and job.result.get("files"):
            detail = f" -> {', '.join(job.result['files'])}"
        elif job.message:
            detail = f" ({job.message})"
        print(f"{job.short_id}  {state:<11} {job.name}{detail}")
    return EXIT_OK


def cmd_queue_cancel(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.queue.store import JobNotFound, QueueError

    if args.all == bool(args.job):
        raise UsageError("give a JOB or --all")
    with open_store() as store:
        if args.all:
            print(f"studio: cancelled {store.cancel_all()} job(s)", file=sys.stderr)
            return EXIT_OK
        try:
            job = store.cancel(args.job)
        except (JobNotFound, QueueError) as exc:
            raise UsageError(str(exc)) from None
    print(f"{job.short_id}  {job.state}  {job.name}")
    return EXIT_OK


def cmd_queue_control(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.queue.store import JobNotFound, QueueError

    with open_store() as store:
        try:
            job = getattr(store, args.control)(args.job)
        except (JobNotFound, QueueError) as exc:
            raise UsageError(str(exc)) from None
    print(f"{job.short_id}  {job.state}  {job.name}")
    return EXIT_OK


def cmd_queue_move(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.queue.store import JobNotFound, QueueError

    with open_store() as store:
        try:
            store.move(args.job, args.index)
        except (JobNotFound, QueueError) as exc:
            raise UsageError(str(exc)) from None
    return EXIT_OK


def cmd_queue_clear(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    with open_store() as store:
        print(f"studio: forgot {store.remove_finished()} finished job(s)", file=sys.stderr)
    return EXIT_OK


def cmd_queue_run(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine import default_engine

    registry = registry_or_default(registry)
    with open_store() as store:
        if args.ray is not None:
            return drain_on_farm(store, args.ray, jsonl=args.events == "jsonl")
        return drain(store, default_engine(registry), jsonl=args.events == "jsonl")


def drain(store: Any, engine: Any, *, jsonl: bool, only: list[str] | None = None) -> int:
    """Run ``store``'s queue (or only the jobs ``only`` names) to the end on a worker thread;
    Ctrl-C stops the running job and puts it back in the queue. Exit 1 if any job failed."""
    from studio.queue.jobs import JobState
    from studio.queue.worker import QueueWorker

    printer: Any = JsonlPrinter() if jsonl else QueueProgressPrinter(store)
    worker = QueueWorker(store, engine, on_event=printer, only=only)
    done = threading.Event()
    ran: list[Any] = []

    def work() -> None:
        try:
            ran.extend(worker.drain())
        finally:
            done.set()

    threading.Thread(target=work, name="studio-queue-cli", daemon=True).start()
    interrupted = False
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            if interrupted:
                return EXIT_CANCELLED
            interrupted = True
            print("studio: stopping; the running job goes back to the queue", file=sys.stderr)
            worker.stop(interrupt=True)
    if interrupted:
        return EXIT_CANCELLED
    if not ran and not jsonl:
        print("studio: nothing is queued", file=sys.stderr)
    return EXIT_FAILED if any(job.state is JobState.FAILED for job in ran) else EXIT_OK


class QueueProgressPrinter:
    """Progress bars per job for people: a header per job, the render's bars, its ending."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.render: ProgressPrinter | None = None
        self.started = 0.0

    def __call__(self, event: Any) -> None:
        from studio.queue.worker import QueueEventKind

        if event.kind is QueueEventKind.RUN and self.render is not None:
            self.render(event.run_event)
        elif event.kind is QueueEventKind.JOB_STARTED:
            self.started = time.monotonic()
            job = self.store.get(event.job_id)
            nodes = json.loads(job.workflow).get("nodes", {})
            titles = {node_id: record.get("title", node_id) for node_id, record in nodes.items()}
            self.render = ProgressPrinter(titles)
            print(f"job {event.job_id[:8]}: {job.name}", file=sys.stderr)
        elif event.kind is QueueEventKind.JOB_FINISHED:
            message = f": {event.message}" if event.message else ""
            print(f"job {event.job_id[:8]} {event.state}{message}", file=sys.stderr)
        elif event.kind is QueueEventKind.JOB_REQUEUED:
            print(f"job {event.job_id[:8]} was interrupted; it restarts", file=sys.stderr)


def cmd_queue_sheet(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.queue.contact_sheet import (
        SheetError,
        batch_entries,
        export_mp4,
        export_png,
        read_item,
    )
    from studio.queue.store import JobNotFound

    suffix = args.out.suffix.lower()
    if suffix not in (".mp4", ".png"):
        raise UsageError(f"--out must end in .mp4 or .png, not {args.out.name!r}")
    with open_store() as store:
        try:
            jobs = store.batch(args.batch)
        except JobNotFound as exc:
            raise UsageError(str(exc)) from None
    entries = batch_entries(jobs)
    if not entries:
        raise UsageError("no variant of that batch has finished with a video or image yet")
    try:
        items = [read_item(path, label, max_side=480) for label, path in entries]
        if suffix == ".png":
            export_png(items, args.out, frame=args.frame)
        else:
            export_mp4(items, args.out)
    except SheetError as exc:
        raise UsageError(str(exc)) from None
    print(args.out)
    return EXIT_OK
