"""A pytest plugin (registered by conftest.py): time per test family against tests/budgets.py.

After every run it prints one line per family (tests, wall seconds, CPU seconds, the charged
``min(wall, cpu)`` and the budget). ``STUDIO_TEST_BUDGETS=enforce`` fails the run when a family
or the whole suite is over budget; ``STUDIO_TEST_TIMES=path.json`` writes the figures (per
family and per module) for benchmarks/bench_suite_budget.py and bench_busy_suite.py;
``STUDIO_TEST_BUDGET_SCALE=1.5`` scales every budget (a machine known to be slower).
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from budgets import FAMILIES, OTHER, SUITE_LIMIT_S, family_of


def _cpu() -> float:
    # This process and the subprocesses it waited for (CLI runs, workers, ffmpeg).
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class BudgetReport:
    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)  # per module
        self.cpu: dict[str, float] = defaultdict(float)
        self.tests: dict[str, int] = defaultdict(int)
        self.started = time.perf_counter()
        self.over: list[str] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Iterator[None]:
        module = item.nodeid.split("::", 1)[0]
        wall, cpu = time.perf_counter(), _cpu()
        yield  # setup, call and teardown: module fixtures count against their module
        self.wall[module] += time.perf_counter() - wall
        self.cpu[module] += _cpu() - cpu
        self.tests[module] += 1

    def families(self) -> list[dict[str, Any]]:
        rows = []
        for family in (*FAMILIES, OTHER):
            modules = sorted(m for m in self.tests if family_of(m) is family)
            if not modules and family is OTHER:
                continue
            wall = sum(self.wall[m] for m in modules)
            cpu = sum(self.cpu[m] for m in modules)
            charged = sum(min(self.wall[m], self.cpu[m]) for m in modules)
            rows.append(
                {
                    "family": family.name,
                    "tests": sum(self.tests[m] for m in modules),
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "charged_s": round(charged, 2),
                    "budget_s": family.budget_s,
                    "modules": modules,
                }
            )
        return rows

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.tests:
            return
        rows = self.families()
        total_wall = time.perf_counter() - self.started
        self._judge(rows)
        write = terminalreporter.write_line
        terminalreporter.section("time per test family (tests/budgets.py)")
        write(f"{'family':10s} {'tests':>5s} {'wall s':>8s} {'cpu s':>8s} {'charged':>8s} budget")
        for r in rows:
            if not r["tests"]:
                continue
            flag = "  OVER" if r["family"] in self.over else ""
            write(
                f"{r['family']:10s} {r['tests']:5d} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} "
                f"{r['charged_s']:8.1f} {r['budget_s']:6.0f}{flag}"
            )
            if r["family"] == OTHER.name:
                write(f"  (no family yet: {', '.join(r['modules'])})")
        write(f"session wall {total_wall:.1f} s (limit {SUITE_LIMIT_S:.0f} s on 2 idle cores)")
        target = os.environ.get("STUDIO_TEST_TIMES")
        if target:
            modules = {
                m: {"tests": self.tests[m], "wall_s": self.wall[m], "cpu_s": self.cpu[m]}
                for m in sorted(self.tests)
            }
            data = {"session_wall_s": total_wall, "families": rows, "modules": modules}
            Path(target).write_text(json.dumps(data, indent=1))

    def _judge(self, rows: list[dict[str, Any]]) -> None:
        scale = float(os.environ.get("STUDIO_TEST_BUDGET_SCALE", "1"))
        self.over = [r["family"] for r in rows if r["charged_s"] > r["budget_s"] * scale]
        if sum(r["charged_s"] for r in rows) > SUITE_LIMIT_S * scale:
            self.over.append("suite")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # Runs before the terminal summary (the reporter prints from its own sessionfinish).
        self._judge(self.families())
        if os.environ.get("STUDIO_TEST_BUDGETS") == "enforce" and self.over and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
