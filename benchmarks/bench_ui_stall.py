"""How long the editor's event loop stalls while it renders the example workflow.

    .venv/bin/python -m benchmarks.bench_ui_stall [--workflow resources/workflows/example.json]

A QTimer beats every 5 ms on the UI thread while the engine renders on its worker thread
(with a fresh cache, so every node really runs). Prints the longest gap between beats and the
95th percentile (target: longest <= 50 ms), the render time and how many run events arrived.

By default the editor has finished its start-up warm-up (``studio.ui.app.warm_up_imports``,
as after the artist has had the window open for a few seconds). ``--cold`` skips it: then the
first import of torch / scikit-image happens on the render thread and, holding the GIL while
their C extensions initialise, stalls the UI for 100-200 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_MS = 50.0
BEAT_MS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", default="resources/workflows/example.json")
    parser.add_argument("--cold", action="store_true", help="skip the import warm-up")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="studio-bench-stall-"))
    os.environ["STUDIO_CACHE_DIR"] = str(scratch / "cache")
    os.environ["STUDIO_CONFIG_DIR"] = str(scratch / "config")

    from PySide6.QtCore import QEventLoop, QTimer

    from studio.ui.app import application, warm_up_imports
    from studio.ui.main_window import MainWindow

    app = application()
    if not args.cold:
        warm_up_imports().join()
    window = MainWindow(output_dir=scratch / "out")
    window.show()
    if not window.files.open_path(args.workflow):
        return 1
    app.processEvents()
    window.queries.wait_idle()
    app.processEvents()

    beats: list[float] = []
    events: list[object] = []
    window.controller.event.connect(events.append)
    timer = QTimer()
    timer.setInterval(BEAT_MS)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    loop = QEventLoop()
    window.controller.running_changed.connect(lambda running: None if running else loop.quit())
    timer.start()
    start = time.perf_counter()
    if not window.run_all():
        print("could not start the render")
        return 1
    loop.exec()
    elapsed = time.perf_counter() - start
    timer.stop()
    gaps = [(b - a) * 1000 for a, b in zip(beats, beats[1:], strict=False)]
    longest = max(gaps) if gaps else float("nan")
    p95 = statistics.quantiles(gaps, n=20)[-1] if len(gaps) > 20 else longest
    print(
        f"{'cold' if args.cold else 'warm'} render of {Path(args.workflow).name}: "
        f"{elapsed:.2f} s, status "
        f"{window.controller.last_status}, {len(events)} run events"
    )
    print(
        f"event-loop heartbeat every {BEAT_MS} ms: {len(gaps)} gaps, "
        f"95th percentile {p95:.1f} ms, longest stall {longest:.1f} ms "
        f"({'ok' if longest <= TARGET_MS else 'over'} the {TARGET_MS:.0f} ms target)"
    )
    window.session.set_clean()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
