"""Variants on a local Ray cluster against the same variants in-process, one after another.

    .venv/bin/python -m benchmarks.bench_farm [--variants 4] [--workers 2] [--frames 17]

The example shot, shrunk (``--frames`` frames at 256x144), with ``ImageToVideo.seed`` varied:
every variant runs Image to Video, Stabilize, Upscale and Save; the keyframe, mask and brushes
are shared. Both sides start from empty caches and pin each worker to one thread (torch and
OpenCV), so the comparison is of parallel workers, not of thread pools:

1. in-process: a :class:`~studio.queue.QueueWorker` drains the batch (shared work once, from
   its cache);
2. farm: :class:`~studio.farm.RayFarm` on a private cluster of ``--workers`` CPUs (shared work
   once, shipped through the object store; each worker keeps its own cache folder).

Also Ray's fixed cost per job: a batch of trivial jobs (a sample picture saved as a take) on
the farm minus the same batch in-process, per job. Cluster start-up and worker start-up (the
first job on each worker imports Studio) are printed apart.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from studio.engine import Cache, Engine
from studio.farm import RayFarm, WorkerConfig
from studio.graph.fileformat import load
from studio.graph.graph import Graph
from studio.queue import JobStore, QueueWorker, parse_vary, variation_jobs
from studio.session.catalog import default_registry

EXAMPLE = Path(__file__).resolve().parent.parent / "resources" / "workflows" / "example.json"


def example_shot(frames: int) -> Graph:
    graph = load(EXAMPLE, default_registry()).graph
    animate = next(n for n in graph.nodes if n.type_id == "ImageToVideo")
    animate.set_param("frames", frames)
    animate.set_param("width", 256)
    animate.set_param("height", 144)
    return graph


def trivial_shot() -> Graph:
    graph = Graph(default_registry())
    photo = graph.add("SampleImage", title="Photo")
    saver = graph.add("SaveImage", title="Save")
    graph.connect(photo.id, "image", saver.id, "image")
    return graph


def jobs_for(graph: Graph, vary: str, out: Path) -> list[Any]:
    return variation_jobs(graph, [parse_vary(vary, graph)], name="bench", output_dir=out)


def in_process(jobs: list[Any], root: Path) -> float:
    store = JobStore(root / "queue.sqlite")
    store.add(jobs)
    worker = QueueWorker(store, Engine(default_registry(), Cache(root / "cache")))
    start = time.perf_counter()
    ran = worker.drain()
    elapsed = time.perf_counter() - start
    assert all(job.state == "done" for job in ran), [job.message for job in ran]
    return elapsed


def on_farm(farm: RayFarm, jobs: list[Any]) -> float:
    start = time.perf_counter()
    outcomes = farm.render(jobs)
    elapsed = time.perf_counter() - start
    assert all(o.state == "done" for o in outcomes.values()), [o.message for o in outcomes.values()]
    return elapsed


def pin_threads() -> None:
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--trivial", type=int, default=16, help="jobs for the overhead figure")
    args = parser.parse_args()
    pin_threads()
    seeds = f"Animate (built-in).seed=1..{args.variants}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t_local = in_process(jobs_for(example_shot(args.frames), seeds, root / "a"), root / "l")

        config = WorkerConfig(cache_dir=str(root / "ray-cache-{pid}"), threads=1)
        farm = RayFarm(config=config, init_kwargs={"num_cpus": args.workers})
        start = time.perf_counter()
        info = farm.start()
        t_start = time.perf_counter() - start
        # Start every worker process (each imports Studio once) before measuring.
        t_warm = on_farm(farm, jobs_for(trivial_shot(), "Photo.photo=astronaut,coffee", root / "w"))
        t_farm = on_farm(farm, jobs_for(example_shot(args.frames), seeds, root / "b"))
        trivial = [
            job
            for i in range(args.trivial // 2)
            for job in jobs_for(trivial_shot(), "Photo.photo=astronaut,coffee", root / f"t{i}")
        ]
        t_trivial_farm = on_farm(farm, trivial)
        t_trivial_local = in_process(
            [
                job
                for i in range(args.trivial // 2)
                for job in jobs_for(trivial_shot(), "Photo.photo=astronaut,coffee", root / f"u{i}")
            ],
            root / "ul",
        )
        farm.shutdown()

    print(f"{info.describe()}; cluster start {t_start:.1f} s, worker warm-up {t_warm:.1f} s")
    print(f"{args.variants} variants of the example shot ({args.frames} frames, 256x144):")
    print(f"  in-process, one after another : {t_local:6.2f} s")
    print(f"  farm, {args.workers} workers x 1 thread     : {t_farm:6.2f} s")
    print(f"  speed-up                      : {t_local / t_farm:6.2f}x")
    per_job = (t_trivial_farm - t_trivial_local) / len(trivial)
    print(
        f"Ray's fixed cost per job ({len(trivial)} trivial jobs): "
        f"{per_job * 1000:.0f} ms ({t_trivial_farm:.2f} s on the farm vs "
        f"{t_trivial_local:.2f} s in-process)"
    )
    print(f"(cpu count here: {os.cpu_count()})")


if __name__ == "__main__":
    main()
