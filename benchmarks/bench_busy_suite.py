"""The suite on a busy machine: thread-ordering tests 20 times in a row, the whole suite 3 times.

    .venv/bin/python -m benchmarks.bench_busy_suite                 # both parts (long)
    .venv/bin/python -m benchmarks.bench_busy_suite --suite-runs 0  # only the 20 x part

While it runs, ``--burners`` processes (default: one per core) spin at full speed, so every test
thread competes for a core, as on a CI machine doing other work. Tests that order two threads
by an event pass whatever the load; a test that bets on "the other thread must have got there
by now" fails here sooner or later. Each round and each suite run is a fresh ``pytest``
process (the plain script, as `make test` calls it); ``--one-process`` puts all the rounds in
one, which also tests what piles up across hundreds of windows, threads and Ray starts.
Prints passes and times; exits 1 if any run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Everything that starts a thread or a process and then waits for it: the engine's cancel and
# worker thread, the cache's background writer, frame read-ahead, live drafts, the queue worker
# and the Ray farm's queue runner, the editor's render, viewer, painter (GrabCut), queue, takes,
# contact-sheet and workspace workers, Ctrl-C in the CLI.
THREAD_ORDERING = (
    "tests/test_engine_cancel.py",
    "tests/test_engine_cache.py",
    "tests/test_fake_context.py",
    "tests/test_stream_nodes.py",
    "tests/test_engine_overlap.py",
    "tests/test_live_draft.py",
    "tests/test_queue.py",
    "tests/test_farm.py",
    "tests/test_ui_run.py",
    "tests/test_ui_viewer.py",
    "tests/test_ui_integration.py",
    "tests/test_ui_painter.py",
    "tests/test_ui_feedback.py",
    "tests/test_ui_inspector.py",
    "tests/test_ui_live_draft.py",
    "tests/test_ui_queue_panel.py",
    "tests/test_ui_queue_window.py",
    "tests/test_ui_takes.py",
    "tests/test_ui_contact_sheet.py",
    "tests/test_ui_subgraph.py",
    "tests/test_ui_workspace.py",
    "tests/test_cli.py",  # only its Ctrl-C test: see ONLY
    "tests/test_queue_cli.py",  # only Ctrl-C and the killed worker: see ONLY
)
# Of the CLI modules, only the tests that signal or kill a child process (the others start none).
ONLY = "not (test_cli or test_queue_cli) or test_ctrl_c or test_a_killed_worker"

BURN = "while True:\n    pass\n"


def pytest_command() -> list[str]:
    script = Path(sys.executable).with_name("pytest")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest"]


def run_pytest(args: list[str], times: Path | None = None) -> tuple[bool, float, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if times is not None:
        env["STUDIO_TEST_TIMES"] = str(times)
    start = time.perf_counter()
    done = subprocess.run(
        [*pytest_command(), "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if " in " in line), "no summary")
    if done.returncode != 0:
        failed = [line for line in lines if line.startswith(("FAILED", "ERROR", "E  "))]
        summary += "\n      " + "\n      ".join(failed[:30] or lines[-15:])
        # A crash leaves no summary; pytest's faulthandler wrote where it happened to stderr.
        crash = [line for line in done.stderr.splitlines() if line.strip()][-40:]
        if crash:
            summary += "\n    stderr:\n      " + "\n      ".join(crash)
    return done.returncode == 0, seconds, summary.strip("= ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thread-runs", type=int, default=20)
    parser.add_argument("--suite-runs", type=int, default=3)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="all thread-ordering rounds in one pytest process (default: a process a round, "
        "as `make test` runs the suite once per process)",
    )
    args = parser.parse_args(argv)

    burners = [
        subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.DEVNULL)
        for _ in range(args.burners)
    ]
    failures = 0
    try:
        print(f"{args.burners} processes burning the CPU; {os.cpu_count()} cores", flush=True)
        print(f"thread-ordering tests x{args.thread_runs}: {' '.join(THREAD_ORDERING)}")
        if args.thread_runs and args.one_process:
            rounds = list(THREAD_ORDERING) * args.thread_runs
            ok, seconds, summary = run_pytest(["--keep-duplicates", "-k", ONLY, *rounds])
            failures += not ok
            verdict = "pass" if ok else "FAIL"
            print(f"  {args.thread_runs} rounds: {verdict} {seconds:6.1f} s  {summary}")
            sys.stdout.flush()
        elif args.thread_runs:
            in_a_row = 0
            for i in range(args.thread_runs):
                ok, seconds, summary = run_pytest(["-k", ONLY, *THREAD_ORDERING])
                failures += not ok
                in_a_row = in_a_row + 1 if ok else 0
                verdict = "pass" if ok else "FAIL"
                print(f"  round {i + 1}: {verdict} {seconds:6.1f} s  {summary}", flush=True)
            print(
                f"thread-ordering rounds: {in_a_row} passed in a row at the end, "
                f"{args.thread_runs - failures} of {args.thread_runs} in all",
                flush=True,
            )
        passed, times = 0, []
        for i in range(args.suite_runs):
            with tempfile.TemporaryDirectory() as tmp:
                report = Path(tmp) / "times.json"
                ok, seconds, summary = run_pytest([], report)
                charged = ""
                if report.exists():
                    families = json.loads(report.read_text())["families"]
                    charged = ", ".join(f"{f['family']} {f['charged_s']:.0f}" for f in families)
            passed += ok
            times.append(seconds)
            print(f"  suite {i + 1}: {'pass' if ok else 'FAIL'} {seconds:6.1f} s  {summary}")
            if charged:
                print(f"           min(wall, cpu) s per family: {charged}")
            sys.stdout.flush()
        failures += args.suite_runs - passed
        if times:
            print(
                f"whole suite: {passed}/{args.suite_runs} runs passed, "
                f"{min(times):.0f}-{max(times):.0f} s a run under load"
            )
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
