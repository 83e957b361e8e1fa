"""Warm start: the example workflow rendered in a new process from the disk cache.

    .venv/bin/python -m benchmarks.bench_warm_start

Both renders are ``studio render`` in a fresh process with the same (new, empty) cache folder:
the first computes everything, the second finds every result on disk. Target: warm <= 5% of
cold. Process start-up (Python, numpy, the CLI) is inside both figures.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.bench_scheduler import ROOT, time_render_subprocess

EXAMPLE = ROOT / "resources" / "workflows" / "example.json"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        cache, out = Path(folder) / "cache", Path(folder) / "out"
        cold = time_render_subprocess(EXAMPLE, out, cache_dir=cache)
        warm = time_render_subprocess(EXAMPLE, out, cache_dir=cache)
    print(
        f"example workflow: cold render {cold:.2f} s, warm start from disk cache {warm:.2f} s "
        f"= {warm / cold:.1%} of cold (target <= 5%)"
    )


if __name__ == "__main__":
    main()
