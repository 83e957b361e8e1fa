"""10,000 structure-aware mutations of the example workflows: each is opened from a file,
validated (every 10th also through ``studio validate``) and dry-run scheduled (keys and plan,
nothing runs), with a per-case time limit. Prints the outcome counts, failures (tracebacks or
hangs: must be zero) and the slowest case.

    python -m benchmarks.bench_fuzz [CASES] [SEED]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workflow_fuzz import CASE_LIMIT_S, fuzz
from studio.session import default_registry


def main(argv: list[str]) -> int:
    cases = int(argv[0]) if argv else 10_000
    seed = int(argv[1]) if len(argv) > 1 else 9
    registry = default_registry()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        stats = fuzz(cases, seed, registry, Path(folder), cli_every=10)
    elapsed = time.perf_counter() - start
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items()))
    print(f"{stats.cases} cases (seed {seed}) in {elapsed:.0f} s: {outcomes}")
    print(
        f"slowest case {stats.slowest:.2f} s (limit {CASE_LIMIT_S:g} s; "
        f"{stats.retried} ran out of time once on the busy machine and passed when rerun "
        "with 3x the limit)"
    )
    print(f"failures (tracebacks or hangs): {len(stats.failures)}")
    for index, message in stats.failures[:20]:
        print(f"  case {index}: {message}")
    return 1 if stats.failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
