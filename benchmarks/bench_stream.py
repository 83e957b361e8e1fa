"""Long clips in bounded memory: peak anonymous memory and speed against clip length.

    .venv/bin/python -m benchmarks.bench_stream                  # 150, 600 and 2,400 frames
    .venv/bin/python -m benchmarks.bench_stream --frames 150 600 # fewer sizes

A real 960x544 H.264 clip (``tests/stream_clips.write_pan_clip``) goes through
Load Video -> Upscale x2 (lanczos) -> Save Video, and through Load Video -> Stabilize (the
example workflow's settings: the defaults) -> Save Video. Each case runs in a fresh child
process with its own cache folder; a thread samples the child's ``RssAnon`` (anonymous
memory: mapped clip pages belong to the page cache, which the kernel writes back and drops)
every 10 ms, and the child reports the peak above what it used after imports, the wall time
of the render and frames per second. Printed: the 2,400/150 peak ratio (target <= 1.25, and
under 1.5 GB), throughput at 600 frames against the in-RAM path (``STUDIO_SPILL_BYTES``
huge: every clip in RAM, as before), against no read-ahead (``STUDIO_PREFETCH=0``), and
against one node at a time (``OVERLAP_ENV=0``: no overlap of decode, upscale and encode across
nodes, studio.engine.overlap). ``--pipelines upscale --frames 600`` measures only the last.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (960, 544)
IN_RAM = str(1 << 50)
OVERLAP_ENV = "BENCH_STREAM_OVERLAP"  # "0": the engine runs one node at a time


def anon_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(pipeline: str, clip: Path, work: Path) -> dict[str, float]:
    from studio.engine import Cache, Engine
    from studio.graph.graph import Graph
    from studio.session.catalog import default_registry

    graph = Graph(default_registry(plugins=False))
    load = graph.add("LoadVideo")
    load.set_param("path", str(clip))
    middle = graph.add("Upscale" if pipeline == "upscale" else "Stabilize")
    if pipeline == "upscale":
        middle.set_param("method", "lanczos")
        middle.set_param("scale", 2)
    save = graph.add("SaveVideo")
    save.set_param("filename", "bench")
    graph.connect(load.id, "video", middle.id, "video")
    graph.connect(middle.id, "video", save.id, "video")
    base = anon_mb()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], anon_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    engine = Engine(graph.registry, Cache(work / "cache"))
    engine.overlap = os.environ.get(OVERLAP_ENV) != "0"
    result = engine.run(graph, [middle.id, save.id], output_dir=work / "out")
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak[0] = max(peak[0], anon_mb())
    if result.status != "ok":
        raise SystemExit(f"render {result.status}: {result.errors}")
    frames = len(result.outputs[middle.id]["video"])
    return {"base_mb": base, "peak_mb": peak[0] - base, "seconds": seconds, "fps": frames / seconds}


def run_case(pipeline: str, clip: Path, settings: dict[str, str]) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-stream-", dir=clip.parent))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("STUDIO_SPILL_BYTES", "STUDIO_PREFETCH", OVERLAP_ENV):
        env.pop(name, None)
    env.update(settings)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_stream", "--child", pipeline, str(clip),
             str(work)],
            env=env, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{pipeline} on {clip.name} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[150, 600, 2400])
    parser.add_argument("--pipelines", nargs="+", default=["upscale", "stabilize"])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each path at 600")
    parser.add_argument("--child", nargs=3, metavar=("PIPELINE", "CLIP", "WORK"))
    args = parser.parse_args()
    if args.child:
        pipeline, clip, work = args.child
        print(json.dumps(child(pipeline, Path(clip), Path(work))))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from stream_clips import write_pan_clip

    load = os.getloadavg()
    print(f"load average at start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as folder:
        clips = {}
        for count in args.frames:
            clips[count] = write_pan_clip(Path(folder) / f"pan{count}.mp4", count, SIZE)
        middle = 600 if 600 in clips else sorted(clips)[len(clips) // 2]
        print(f"{'pipeline':<10} {'frames':>6} {'path':<14} {'peak anon MB':>12} {'s':>7} "
              f"{'fps':>6}")  # fmt: skip
        for pipeline in args.pipelines:
            rows: dict[tuple[int, str], dict] = {}
            cases = [(n, "streamed", {}) for n in sorted(clips) if n != middle]
            # The paths at the middle size alternate, best of --repeats each: other
            # processes on a shared machine swing wall-clock speed more than any of them.
            variants = [("streamed", {}), ("in RAM", {"STUDIO_SPILL_BYTES": IN_RAM}),
                        ("no read-ahead", {"STUDIO_PREFETCH": "0"}),
                        ("one at a time", {OVERLAP_ENV: "0"})]  # fmt: skip
            cases += [(middle, *v) for _ in range(args.repeats) for v in variants]
            for count, label, settings in cases:
                row = run_case(pipeline, clips[count], settings)
                print(f"{pipeline:<10} {count:>6} {label:<14} {row['peak_mb']:>12.0f} "
                      f"{row['seconds']:>7.1f} {row['fps']:>6.1f}", flush=True)  # fmt: skip
                best = rows.get((count, label))
                if best is None or row["fps"] > best["fps"]:
                    rows[(count, label)] = dict(row, peak_mb=max(row["peak_mb"],
                                                best["peak_mb"] if best else 0))  # fmt: skip
            small, big = min(clips), max(clips)
            ratio = rows[(big, "streamed")]["peak_mb"] / rows[(small, "streamed")]["peak_mb"]
            streamed = rows[(middle, "streamed")]["fps"]
            print(f"{pipeline}: peak {big}/{small} frames = {ratio:.2f} (target <= 1.25), "
                  f"{rows[(big, 'streamed')]['peak_mb']:.0f} MB at {big} (target < 1536); "
                  f"throughput at {middle} (best of {args.repeats}): streamed/in-RAM = "
                  f"{streamed / rows[(middle, 'in RAM')]['fps']:.2f}, "
                  f"read-ahead/none = {streamed / rows[(middle, 'no read-ahead')]['fps']:.2f}, "
                  f"overlapped/one at a time = "
                  f"{streamed / rows[(middle, 'one at a time')]['fps']:.2f}",
                  flush=True)  # fmt: skip
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
