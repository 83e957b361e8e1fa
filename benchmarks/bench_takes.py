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


def fill_panel(root: Path) -> tuple[float, float]:
    """The editor's Takes panel re-reading 10,000 takes and painting the visible rows."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from studio.ui.takes_panel import TakesPanel

    app = QApplication.instance() or QApplication([])
    panel = TakesPanel(lambda: root)
    panel.resize(500, 800)
    panel.show()

    def refill() -> None:
        panel.refresh()
        panel.list.viewport().repaint()

    took = best_of(3, refill)
    assert panel.model.rowCount() == COUNT
    panel.shutdown()
    panel.close()
    app.processEvents()
    return took


def best_of(runs: int, action) -> tuple[float, float]:  # noqa: ANN001
    """The best (wall, CPU) seconds of ``runs`` calls. CPU time is what the call costs on an
    idle machine; wall time on a busy one also counts the other processes."""
    times = []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        action()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(t[0] for t in times), min(t[1] for t in times)


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
        panel_fill = fill_panel(root)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "studio", "takes", "list", "--dir", str(root)],
            env=env,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        process = time.perf_counter() - start

    def show(label: str, took: tuple[float, float], target: bool = False) -> None:
        wall, cpu = took
        goal = " (target < 100 ms)" if target else ""
        print(f"{label}: {wall * 1000:.1f} ms wall, {cpu * 1000:.1f} ms CPU{goal}")

    print(f"filled {COUNT} takes of {SHOTS} shots in {filled:.1f} s")
    show(f"TakesDB.list() of all {COUNT}", every, True)
    show(f"one shot ({COUNT // SHOTS} takes)", one_shot)
    show(f"circled ({COUNT // 50} takes)", circled)
    show("`studio takes list` in-process, query + file checks + text", listing)
    show(f"Takes panel filled with {COUNT} (query, model, first paint)", panel_fill, True)
    print(f"`studio takes list` as a new process, start-up included: {process * 1000:.0f} ms")
    load = os.getloadavg()[0]
    print(f"(load average while measuring: {load:.1f} on {os.cpu_count()} cores)")
    # On a busy machine wall time measures the other processes; judge by CPU time there.
    busy = load > (os.cpu_count() or 1)
    for label, took in (("the takes query", every), ("filling the panel", panel_fill)):
        cost = took[1] if busy else took[0]
        if cost > TARGET_S:
            raise SystemExit(f"{label} took {cost * 1000:.0f} ms (> {TARGET_S * 1000:.0f})")


if __name__ == "__main__":
    main()
