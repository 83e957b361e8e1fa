"""A seed wedge through the render queue: shared upstream work runs once.

    .venv/bin/python -m benchmarks.bench_variations [--variants 8] [--frames 17] [--size 64]

Graph: Generate Keyframe (tiny SD 1.x) -> Image to Video (tiny Wan 2.1 I2V), both built in code
with random weights. Models are loaded once by a warm-up render. Then, with a new keyframe seed
(so nothing is cached):

1. reference: one render measures the keyframe node (U) and Image to Video (N, the median of
   that and two more seeds on the now-cached keyframe);
2. the batch: ``--vary ImageToVideo.seed=1..8`` queued as 8 jobs on another keyframe seed and
   drained by a :class:`~studio.queue.QueueWorker`: wall time T for the whole batch, counting
   the queue's database, keys, cache lookups and cache writes.

Prints T / (8 x N + U) (target <= 1.1) and how many times the keyframe node ran in the batch (1).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from studio.engine import Cache, Engine  # noqa: E402
from studio.engine.models import ModelManager  # noqa: E402
from studio.graph.graph import Graph  # noqa: E402
from studio.queue import JobStore, QueueWorker, parse_vary, variation_jobs  # noqa: E402
from studio.session import default_registry  # noqa: E402

TARGET = 1.1


def build_graph(sd: Path, wan: Path, size: int, frames: int) -> Graph:
    graph = Graph(default_registry())
    key = graph.add(
        "GenerateKeyframe",
        title="Keyframe",
        params={
            "model": str(sd),
            "prompt": "a red tree",
            "width": size,
            "height": size,
            "steps": 4,
        },
    )
    i2v = graph.add(
        "ImageToVideo",
        title="ImageToVideo",
        params={
            "model": str(wan),
            "prompt": "a cat walks",
            "width": size,
            "height": size,
            "frames": frames,
            "steps": 4,
            "fps": 8.0,
        },
    )
    graph.connect(key.id, "image", i2v.id, "image")
    return graph


def node_seconds(engine: Engine, graph: Graph, target: str) -> dict[str, float]:
    elapsed: dict[str, float] = {}

    def on_event(event: Any) -> None:
        if event.kind == "node_finished" and event.elapsed is not None:
            elapsed[event.node_id] = event.elapsed

    result = engine.run(graph, [target], output_dir=Path("."), on_event=on_event)
    assert result.status == "ok", result.errors
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", type=int, default=8)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()

    import torch
    from tiny_models import build_sd, build_wan_i2v

    torch.set_num_threads(1)  # tiny models: threads only add noise on a shared machine
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sd, wan = build_sd(root / "sd"), build_wan_i2v(root / "wan")
        engine = Engine(
            default_registry(), Cache(root / "cache"), device="cpu", models=ModelManager()
        )
        graph = build_graph(sd, wan, args.size, args.frames)
        key, i2v = graph.find("Keyframe"), graph.find("ImageToVideo")

        key.set_param("seed", 999)  # warm-up: loads both models
        node_seconds(engine, graph, i2v.id)

        key.set_param("seed", 1000)
        i2v.set_param("seed", 1)
        first = node_seconds(engine, graph, i2v.id)
        upstream = first[key.id]
        nodes = [first[i2v.id]]
        for seed in (2, 3):
            i2v.set_param("seed", seed)
            nodes.append(node_seconds(engine, graph, i2v.id)[i2v.id])
        node = statistics.median(nodes)

        key.set_param("seed", 1001)
        variations = [parse_vary(f"ImageToVideo.seed=1..{args.variants}", graph)]
        ran: list[str] = []

        def on_event(event: Any) -> None:
            run = event.run_event
            if run is not None and run.kind == "node_started":
                ran.append(run.node_id)

        with JobStore(root / "queue.sqlite") as store:
            start = time.perf_counter()
            jobs = variation_jobs(
                graph, variations, name="wedge", output_dir=root / "out", targets=[i2v.id]
            )
            store.add(jobs)
            done = QueueWorker(store, engine, on_event=on_event).drain()
            batch = time.perf_counter() - start
        assert [j.state.value for j in done] == ["done"] * args.variants, [j.message for j in done]

    ideal = args.variants * node + upstream
    print(
        f"keyframe (upstream) U = {upstream * 1000:.0f} ms, image to video N = {node * 1000:.0f} ms"
    )
    print(
        f"{args.variants} seed variants through the queue: {batch:.2f} s; "
        f"{args.variants} x N + U = {ideal:.2f} s"
    )
    print(f"keyframe ran {ran.count(key.id)} time(s), image to video {ran.count(i2v.id)} times")
    print(f"ratio T / ({args.variants} N + U) = {batch / ideal:.3f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
