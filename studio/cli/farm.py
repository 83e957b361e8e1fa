"""``--ray``: render queue jobs and variation batches on a Ray cluster (the ``farm`` extra).

studio queue run --ray [auto|HOST:PORT]
studio render WORKFLOW --vary N.P=VALUES --ray [auto|HOST:PORT]

Without an address: ``STUDIO_RAY_ADDRESS``, else the ``ray_address`` setting, else a private
cluster on this machine (handy to use every GPU of one workstation).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from studio.cli.common import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, UsageError


def add_ray_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="render on a Ray cluster: auto (the one this machine joined), HOST:PORT, or no "
        "value for STUDIO_RAY_ADDRESS / the ray_address setting / a private local cluster",
    )


def drain_on_farm(store: Any, address: str, *, jsonl: bool) -> int:
    """Render ``store``'s queue on the cluster; exit 1 if any job failed, 130 on Ctrl-C
    (the jobs it held go back to the queue)."""
    from studio.cli.progress import JsonlPrinter
    from studio.cli.queue import QueueProgressPrinter
    from studio.farm import FarmError, RayFarm
    from studio.farm.queue_runner import run_queue
    from studio.queue.jobs import JobState

    farm = RayFarm(address or None)
    try:
        info = farm.start()
    except FarmError as exc:
        raise UsageError(str(exc)) from None
    print(f"studio: {info.describe()}", file=sys.stderr)
    printer: Any = JsonlPrinter() if jsonl else QueueProgressPrinter(store)
    try:
        finished = run_queue(store, farm, on_event=printer)
    except FarmError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        for job in store.jobs([JobState.RUNNING]):
            store.release(job.id, job.worker or "", "interrupted; queued again")
        print("studio: stopped; unfinished jobs are queued again", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        farm.shutdown()
    return EXIT_FAILED if any(job.state is JobState.FAILED for job in finished) else EXIT_OK
