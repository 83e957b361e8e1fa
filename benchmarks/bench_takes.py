"""10,000 takes: the query behind `studio takes list` stays under 100 ms in-process.

    .venv/bin/python -m benchmarks.bench_takes

Fills a takes database with 10,000 takes of 40 shots (each with a ~6 KB workflow snapshot,
per-node facts and versions, as renders record them; files on disk for every tenth take), then
times, in this process: ``TakesDB.list()`` (every take, newest first), one shot's takes, the
circled takes, and the whole `studio takes list` command (query + missing-file checks +
formatting, output discarded). The process start-up of `studio takes list` is printed apart.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from studio.cli import main as studio
from studio.takes import Rating, Take, TakesDB

ROOT = Path(__file__).resolve().parents[1]
COUNT, SHOTS = 10_000, 40
TARGET_S = 0.100


def fill(root: Path) -> None:
    workflow = json.dumps(
        {
            "format_version": 2,
            "nodes": {
                f"n{i}": {"type": "Stage", "title": f"Stage {i}", "params": {"x": "y" * 200}}
                for i in range(24)
            },
            "edges": [],
        }
    )
    nodes = {f"n{i}": {"title": f"Stage {i}", "key": "k" * 40, "seconds": 1.5} for i in range(8)}
    with TakesDB(root) as db, db.transaction():
        for index in range(COUNT):
            shot, number = f"shot{index % SHOTS:02d}", index // SHOTS + 1
            files = [f"{shot}/{shot}_v{number:03d}.mp4", f"{shot}/{shot}_v{number:03d}.json"]
            if index % 10 == 0:
                (root / shot).mkdir(exist_ok=True)
                (root / files[0]).write_bytes(b"")
            db.record(
                Take(
                    shot=shot,
                    number=number,
                    created=1.8e9 + index,
                    cache_key=f"{index:040d}",
                    workflow=workflow,
                    changed={"Stage 3.x": [index - 1, index]},
                    seeds={"Animate": index},
                    nodes=nodes,
                    versions={"studio": "0.1.0", "torch": "2.13.0"},
                    files=files,
                    rating=Rating.CIRCLE if index % 50 == 0 else Rating.NONE,
                )
            )


def best_of(runs: int, action) -> float:  # noqa: ANN001
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_takes-") as work:
        root = Path(work)
        start = time.perf_counter()
        fill(root)
        filled = time.perf_counter() - start
        with TakesDB(root) as db:
            assert len(db.list()) == COUNT
            every = best_of(5, db.list)
            one_shot = best_of(5, lambda: db.list(shot="shot07"))
            circled = best_of(5, lambda: db.list(rating=Rating.CIRCLE))

        def command() -> None:
            with contextlib.redirect_stdout(io.StringIO()) as text:
                assert studio(["takes", "list", "--dir", str(root)]) == 0
            assert text.getvalue().count("\n") == COUNT

        listing = best_of(3, command)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "studio", "takes", "list", "--dir", str(root)],
            env=env,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        process = time.perf_counter() - start
    ms = {name: value * 1000 for name, value in locals().items() if isinstance(value, float)}
    print(f"filled {COUNT} takes of {SHOTS} shots in {filled:.1f} s")
    print(f"TakesDB.list() of all {COUNT}: {ms['every']:.1f} ms (target < 100 ms)")
    print(f"one shot ({COUNT // SHOTS} takes): {ms['one_shot']:.1f} ms")
    print(f"circled ({COUNT // 50} takes): {ms['circled']:.1f} ms")
    print(f"`studio takes list` in-process, query + file checks + text: {ms['listing']:.1f} ms")
    print(f"`studio takes list` as a new process, start-up included: {ms['process']:.0f} ms")
    print(f"(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if every > TARGET_S:
        raise SystemExit(f"the takes query took {every * 1000:.0f} ms (> {TARGET_S * 1000:.0f})")


if __name__ == "__main__":
    main()
