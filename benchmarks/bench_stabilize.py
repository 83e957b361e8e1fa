"""Stabilize against ffmpeg's vidstab (two passes) plus deflicker, on the same synthetic clips.

    .venv/bin/python -m benchmarks.bench_stabilize [--frames 120] [--size 640x360] [--repeats 3]

Each clip is a camera moving over a real photo along a smooth path, with +-3 px / +-0.5 deg
jitter and +-6% gain flicker (tests/clips.py). Both stabilisers get it losslessly: ffmpeg
reads a raw RGB file (no codec at all, so nothing is lost and its decoding costs next to
nothing) and writes raw RGB to a pipe; Studio gets the same frames in memory.
Both outputs are scored the same way: residual jitter re-tracks the output and compares its
frame-to-frame motion with the true smooth path (px RMS); flicker is the std of the
high-passed mean luma. Speed is frames per second of the whole job, median of the repeats;
ffmpeg's includes reading its input twice (measured separately and shown).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nodes.stabilize import run_stabilize
from studio.engine.testing import FakeRunContext
from tests import clips

# Textured photos: on "rocket" (a vertical truss against the sky) the re-tracking metric
# itself is ambiguous along the truss, so it would not measure the stabilisers.
CLIPS = (("astronaut", 0), ("coffee", 1), ("chelsea", 2))


@dataclass
class Result:
    jitter: float
    flicker: float
    seconds: float


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def raw_input_args(shape: tuple[int, ...], fps: float, path: Path) -> list[str]:
    _, height, width, _ = shape
    return [
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        f"{fps}",
        "-i",
        str(path),
    ]


def read_raw(cmd: list[str], shape: tuple[int, ...]) -> np.ndarray:
    done = subprocess.run(cmd, capture_output=True, check=True)
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, *shape[1:])


def run_ffmpeg(
    source: list[str], shape: tuple[int, ...], work: Path, smoothing: int, deflicker_size: int
) -> tuple[np.ndarray, float]:
    trf = work / "transforms.trf"
    detect = [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        *source,
        "-vf",
        f"vidstabdetect=shakiness=5:accuracy=15:result={trf}",
        "-f",
        "null",
        "-",
    ]
    transform = [
        ffmpeg_exe(),
        "-v",
        "error",
        *source,
        "-vf",
        f"vidstabtransform=input={trf}:smoothing={smoothing}:optzoom=1:"
        f"interpol=bilinear,deflicker=size={deflicker_size}:mode=am",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    start = time.perf_counter()
    subprocess.run(detect, check=True)
    frames = read_raw(transform, shape)
    return frames, time.perf_counter() - start


def decode_seconds(source: list[str], shape: tuple[int, ...]) -> float:
    """What ffmpeg spends just reading the input once and writing it back to the pipe."""
    start = time.perf_counter()
    read_raw(
        [ffmpeg_exe(), "-v", "error", *source, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], shape
    )
    return time.perf_counter() - start


def score(frames: np.ndarray, clip: clips.SyntheticClip, seconds: float) -> Result:
    assert frames.shape == clip.video.frames.shape, frames.shape
    return Result(clips.residual_jitter(frames, clip), clips.flicker_index(frames), seconds)


def tune_ffmpeg(clip: clips.SyntheticClip, source: list[str], work: Path) -> tuple[int, int]:
    """ffmpeg's best settings on this clip: vidstab smoothing and deflicker window."""
    shape = clip.video.frames.shape
    best_jitter = min(
        (score(run_ffmpeg(source, shape, work, s, 5)[0], clip, 0).jitter, s) for s in (10, 15, 30)
    )
    best_flicker = min(
        (score(run_ffmpeg(source, shape, work, best_jitter[1], d)[0], clip, 0).flicker, d)
        for d in (5, 9, 15)
    )
    return best_jitter[1], best_flicker[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for image, seed in CLIPS:
            clip = clips.shaky_clip(args.frames, size, image, seed=seed)
            shape = clip.video.frames.shape
            path = work / f"{image}.rgb"
            clip.video.frames.tofile(path)
            source = raw_input_args(shape, clip.video.fps, path)
            smoothing, window = tune_ffmpeg(clip, source, work)

            ours, theirs, decode = [], [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                out = run_stabilize(FakeRunContext(), {"video": clip.video}, {})
                ours.append((out["video"].frames, time.perf_counter() - start))
                theirs.append(run_ffmpeg(source, shape, work, smoothing, window))
                decode.append(decode_seconds(source, shape))
            studio = score(ours[0][0], clip, statistics.median(s for _, s in ours))
            ffmpeg = score(theirs[0][0], clip, statistics.median(s for _, s in theirs))
            before = score(clip.video.frames, clip, 0.0)
            rows.append(
                (image, before, studio, ffmpeg, 2 * statistics.median(decode), smoothing, window)
            )

    n = args.frames
    print(
        f"\nStabilize vs ffmpeg vidstab+deflicker: {len(rows)} clips of {n} frames at "
        f"{args.size}, +-3 px / +-0.5 deg jitter, +-6% flicker (median of {args.repeats})"
    )
    print(f"{'clip':<10} {'':<8} {'jitter px':>9} {'flicker':>8} {'reduction':>9} {'fps':>7}")
    for image, before, studio, ffmpeg, decode, smoothing, window in rows:
        print(f"{image:<10} {'input':<8} {before.jitter:9.3f} {before.flicker:8.3f}")
        for name, r in (("studio", studio), ("ffmpeg", ffmpeg)):
            print(
                f"{'':<10} {name:<8} {r.jitter:9.3f} {r.flicker:8.3f} "
                f"{before.flicker / r.flicker:8.1f}x {n / r.seconds:7.1f}"
            )
        print(
            f"{'':<10} ffmpeg settings: smoothing={smoothing} deflicker size={window}; "
            f"reading its input twice takes {decode:.2f} s "
            f"(fps without them {n / max(ffmpeg.seconds - decode, 1e-6):.1f})"
        )
    jitter_ratio = np.mean([f.jitter / s.jitter for _, _, s, f, *_ in rows])
    speed_ratio = np.mean([f.seconds / s.seconds for _, _, s, f, *_ in rows])
    flicker_ratio = np.mean([f.flicker / s.flicker for _, _, s, f, *_ in rows])
    print(
        f"\nmean over clips: ffmpeg's residual jitter / Studio's = {jitter_ratio:.2f}x, "
        f"ffmpeg's leftover flicker / Studio's = {flicker_ratio:.2f}x, "
        f"Studio's fps / ffmpeg's = {speed_ratio:.2f}x"
    )
    wins = all(s.jitter < f.jitter and s.seconds < f.seconds for _, _, s, f, *_ in rows)
    print(
        "Studio beats ffmpeg on jitter and speed on every clip"
        if wins
        else "Studio does NOT beat ffmpeg on every clip"
    )


if __name__ == "__main__":
    main()
