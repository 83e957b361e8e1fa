"""Runs every ``benchmarks/bench_*.py`` in turn, each in its own process.

    .venv/bin/python -m benchmarks [NAME ...]

A separate process per benchmark keeps one's imports, caches and threads out of another's
figures. The exit status is 1 if any benchmark failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover(names: list[str]) -> list[str]:
    modules = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if names:
        modules = [m for m in modules if any(n in m for n in names)]
    return modules


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    failed = []
    for module in discover(names):
        print(f"== {module} ==", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", f"benchmarks.{module}"], cwd=HERE.parent)
        print(f"   ({time.perf_counter() - start:.1f} s)\n", flush=True)
        if done.returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
