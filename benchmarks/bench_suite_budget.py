"""The test suite against its time budgets (tests/budgets.py, docs/testing.md).

    .venv/bin/python -m benchmarks.bench_suite_budget

Runs plain ``pytest`` once with ``STUDIO_TEST_BUDGETS=enforce``: the run fails if any family
of test modules, or the whole suite, charges more than its budget. A test is charged
``min(wall, cpu)`` seconds, so other processes on the machine inflate the figure little; run it
on an otherwise idle machine all the same for the session wall time. Prints each family's
figures, the slowest modules and the whole run's wall time, and exits 1 over budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from budgets import SUITE_LIMIT_S, SUITE_TARGET_S  # noqa: E402


def main() -> int:
    script = Path(sys.executable).with_name("pytest")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "times.json"
        env = dict(os.environ, STUDIO_TEST_BUDGETS="enforce", STUDIO_TEST_TIMES=str(report))
        start = time.perf_counter()
        done = subprocess.run(
            [*command, "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if not report.exists():
            print(done.stdout[-3000:], done.stderr[-3000:])
            return 1
        data = json.loads(report.read_text())
    print(
        f"{'family':10s} {'tests':>5s} {'wall s':>7s} {'cpu s':>7s} {'charged':>7s} {'budget':>6s}"
    )
    charged = 0.0
    for family in data["families"]:
        charged += family["charged_s"]
        over = "  OVER" if family["charged_s"] > family["budget_s"] else ""
        print(
            f"{family['family']:10s} {family['tests']:5d} {family['wall_s']:7.1f} "
            f"{family['cpu_s']:7.1f} {family['charged_s']:7.1f} {family['budget_s']:6.0f}{over}"
        )
    slowest = sorted(data["modules"].items(), key=lambda kv: -min(kv[1]["wall_s"], kv[1]["cpu_s"]))[
        :8
    ]
    print("slowest modules: " + ", ".join(
        f"{Path(m).stem} {min(v['wall_s'], v['cpu_s']):.0f} s" for m, v in slowest
    ))  # fmt: skip
    print(
        f"charged {charged:.0f} s (target {SUITE_TARGET_S:.0f}, limit {SUITE_LIMIT_S:.0f}); "
        f"pytest process {seconds:.0f} s wall, session {data['session_wall_s']:.0f} s"
    )
    last = [line for line in done.stdout.splitlines() if line.strip()][-1:]
    print("pytest: " + (last[0].strip("= ") if last else f"exit {done.returncode}"))
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
