"""Kill renders and `studio cache clear` at random points; every later render must still be right.

    .venv/bin/python -m benchmarks.bench_kill [TRIALS] [SEED]

Each trial (seeded, 50 by default) starts `studio render` of a small real workflow (Sample
Image -> the built-in animator -> Save Video with a PNG sequence; one of several variants, so
takes are new, reused or re-encoded) or `studio cache clear` into one shared output folder and
cache, and SIGKILLs it after a random delay. Then a clean render of a random variant must
succeed and its take must decode to exactly the frames of a reference render of that variant
(made once in a separate folder and cache; decoded frames, not bytes: metadata differs), and
--out must hold no temporary files. Temp folders the disk cache keeps from killed writers
(swept by the cache after an hour) are counted and printed apart.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ("camera", "coffee", "chelsea")
FRAMES = (4, 6)


def write_workflow(path: Path, photo: str, frames: int) -> Path:
    from studio.graph.fileformat import save
    from studio.graph.graph import Graph
    from studio.session import default_registry

    graph = Graph(default_registry())
    graph.add("SampleImage", node_id="img").set_param("photo", photo)
    animate = graph.add("ImageToVideo", node_id="i2v")
    for name, value in {"frames": frames, "width": 64, "height": 48}.items():
        animate.set_param(name, value)
    saver = graph.add("SaveVideo", node_id="save")
    saver.set_param("filename", "shot")
    saver.set_param("also_png_sequence", True)
    graph.connect("img", "image", "i2v", "image")
    graph.connect("i2v", "video", "save", "video")
    save(graph, path)
    return path


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "studio", *args]


def _env(cache: Path) -> dict[str, str]:
    return dict(os.environ, STUDIO_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))


def render(workflow: Path, out: Path, cache: Path) -> Path:
    """Render to the end; returns the take's mp4."""
    done = subprocess.run(
        _command("render", str(workflow), "--out", str(out)),
        env=_env(cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise AssertionError(f"render failed after a kill: {done.stderr.strip()[-500:]}")
    mp4s = [line for line in done.stdout.splitlines() if line.endswith(".mp4")]
    if len(mp4s) != 1:
        raise AssertionError(f"render printed {mp4s!r}")
    return Path(mp4s[0])


def decoded(mp4: Path) -> np.ndarray:
    import av

    with av.open(str(mp4)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def hidden(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")] if folder.exists() else []


def cache_leftovers(cache: Path) -> int:
    return sum(
        len(list((cache / sub).iterdir())) for sub in ("tmp", "trash") if (cache / sub).is_dir()
    )


def run_trials(count: int, seed: int, work: Path, log=print) -> dict[str, float]:  # noqa: ANN001
    """``count`` kill trials; raises AssertionError on the first wrong result."""
    rng = random.Random(seed)
    out, cache = work / "out", work / "cache"
    references: dict[tuple[str, int], np.ndarray] = {}
    workflows: dict[tuple[str, int], Path] = {}
    span = [0.0]  # the longest clean render: kill points are drawn across it

    def variant() -> tuple[str, int]:
        key = (rng.choice(PHOTOS), rng.choice(FRAMES))
        if key not in workflows:
            workflows[key] = write_workflow(work / f"wf-{key[0]}-{key[1]}.json", *key)
            ref = work / f"ref-{key[0]}-{key[1]}"
            start = time.perf_counter()
            references[key] = decoded(render(workflows[key], ref / "out", ref / "cache"))
            span[0] = max(span[0], time.perf_counter() - start)
        return key

    killed_renders = killed_clears = exited_first = 0
    kept_in_cache = 0
    for trial in range(count):
        clear = trial > 0 and rng.random() < 0.3
        args = (
            ("cache", "clear")
            if clear
            else ("render", str(workflows[variant()]), "--out", str(out))
        )
        delay = rng.uniform(0.0, 1.0 if clear else 1.1 * span[0])
        process = subprocess.Popen(
            _command(*args), env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)  # the random kill point (seeded); nothing waits on it for ordering
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_clears += clear
            killed_renders += not clear
        else:
            exited_first += 1
        process.wait()
        key = variant()
        mp4 = render(workflows[key], out, cache)
        if not np.array_equal(decoded(mp4), references[key]):
            raise AssertionError(f"trial {trial}: {mp4.name} differs from a clean render of {key}")
        temps = hidden(out)
        if temps:
            raise AssertionError(f"trial {trial}: temporary files left in --out: {temps}")
        kept_in_cache = max(kept_in_cache, cache_leftovers(cache))
        log(
            f"trial {trial + 1}/{count}: {'cache clear' if clear else 'render'} "
            f"{'killed' if process.returncode == -signal.SIGKILL else 'finished'} "
            f"after {delay:.2f} s; next render ok ({mp4.name})"
        )
    return {
        "trials": count,
        "killed_renders": killed_renders,
        "killed_clears": killed_clears,
        "finished_before_kill": exited_first,
        "max_cache_tmp_leftovers": kept_in_cache,
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2026
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_kill-") as work:
        figures = run_trials(count, seed, Path(work))
    print(
        f"{figures['trials']} trials (seed {seed}): {figures['killed_renders']} renders and "
        f"{figures['killed_clears']} cache clears killed mid-way, "
        f"{figures['finished_before_kill']} finished before their kill point; every later "
        "render decoded identical to a clean render, no temporary files in --out; "
        f"disk-cache tmp/trash folders from killed writers (swept after 1 h): at most "
        f"{figures['max_cache_tmp_leftovers']}; {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
