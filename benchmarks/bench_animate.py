"""The CPU cut-and-drag animator at Wan's working size: 81 frames at 832x480.

    .venv/bin/python -m benchmarks.bench_animate [--frames 81] [--size 832x480] [--repeats 3]

Two brushes (one drifting along a curve while turning and growing, one sliding with an ease)
plus a camera push-in with pan and roll, on scikit-image's astronaut photograph. Prints the
median wall time of the repeats, frames per second, and the ratio to the 4 s target.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nodes.animate import cut_and_drag
from nodes.shapes import rasterise
from studio.graph.types import CameraMove, Motion, MotionBrushValue

TARGET_S = 4.0


def motion(width: int, height: int) -> Motion:
    head = rasterise([{"kind": "ellipse", "points": [[0.35, 0.05], [0.65, 0.5]]}], width, height)
    patch = rasterise(
        [{"kind": "polygon", "points": [[0.1, 0.6], [0.35, 0.55], [0.4, 0.95], [0.05, 0.9]]}],
        width,
        height,
    )
    return Motion(
        brushes=(
            MotionBrushValue(
                head, ((0.5, 0.28), (0.56, 0.22), (0.62, 0.3)), rotation=8, scale=1.1, name="head"
            ),
            MotionBrushValue(
                patch,
                ((0.22, 0.75), (0.3, 0.7)),
                start=0.2,
                end=0.9,
                ease="ease-in-out",
                name="patch",
            ),
        ),
        camera=CameraMove(pan=0.03, tilt=-0.02, zoom=1.12, roll=2.0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--size", default="832x480")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from skimage import data

    keyframe = np.ascontiguousarray(data.astronaut())
    move = motion(*keyframe.shape[1::-1])
    cut_and_drag(keyframe, move, frames=2, fps=16, size=(width, height))  # warm caches/imports
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        clip = cut_and_drag(keyframe, move, frames=args.frames, fps=16, size=(width, height))
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    moved = float((clip.masks[-1] > 0.5).mean())
    print(f"cut_and_drag: {args.frames} frames at {width}x{height}, 2 brushes + camera")
    print(
        f"  {median:.2f} s (median of {args.repeats}; all: "
        f"{', '.join(f'{s:.2f}' for s in seconds)})"
    )
    print(f"  {args.frames / median:.1f} frames/s")
    print(
        f"  {median / TARGET_S:.2f} x the {TARGET_S:g} s target "
        f"({'within' if median <= TARGET_S else 'OVER'} target)"
    )
    print(f"  last frame: {moved:.0%} of pixels marked for generation")


if __name__ == "__main__":
    main()
