"""The three ways Studio upscales a frame: the shipped Real-ESRGAN, the artist's file, Lanczos.

Each returns an :class:`Upscaler` whose ``description`` is what the node tells the artist.
Networks are built once per (weights, device, precision) and kept: a clip re-render or the
next clip must not pay for loading again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nodes.upscale import ncnn_weights

if TYPE_CHECKING:
    import torch

CheckCancelled = Callable[[], None]
# Auto tiling. On the GPU a tile side bounds memory. On the CPU the limit is the pixels a tile
# feeds the net: glibc hands allocations over 32 MB back to the OS when freed, so every layer's
# activation (64 channels x 4 bytes a pixel) would page-fault fresh memory; under 110,000 px
# (28 MB) they are reused: about 30% less CPU time per 480p frame measured here.
AUTO_TILE_SIDE = {"cuda": 1024, "mps": 512}
CPU_TILE_AREA = 110_000
# x4plus works at 4x resolution in its last convs (64 channels at 16x the pixels): smaller tiles.
# On the CPU 300 x 300 px of tile keeps each of those activations near 370 MB.
PHOTO_TILE_SIDE = {"cuda": 512, "mps": 256}
PHOTO_CPU_TILE_AREA = 90_000


class WeightsMissing(Exception):
    """The shipped Real-ESRGAN weights are not installed."""


@dataclass
class Upscaler:
    description: str
    upscale: Callable[[np.ndarray, CheckCancelled], np.ndarray]
    tiling: str = ""  # how frames are split, for the artist


def torch_device(requested: str) -> tuple[str, str]:
    """The device to use and, when it differs from the one asked for, why."""
    import torch

    if requested.startswith("cuda") and not torch.cuda.is_available():
        return "cpu", "CUDA is not available in this torch build"
    if requested == "mps" and not torch.backends.mps.is_available():
        return "cpu", "MPS is not available"
    return requested or "cpu", ""


@dataclass(frozen=True)
class Tiling:
    side: int = 0  # largest core side in input pixels
    area: int = 0  # largest tile, context included, in input pixels

    def describe(self) -> str:
        if self.side:
            return f"tiles up to {self.side} px a side"
        return f"tiles up to {self.area:,} px"


def tiling_for(
    device: str, tile: int, sides: dict[str, int] = AUTO_TILE_SIDE, cpu_area: int = CPU_TILE_AREA
) -> Tiling:
    """The artist's tile side, else the device's automatic choice."""
    if tile:
        return Tiling(side=tile)
    kind = device.split(":")[0]
    return Tiling(side=sides[kind]) if kind in sides else Tiling(area=cpu_area)


def realesrgan(scale: int, device: str, tile: int, half: bool | None = None) -> Upscaler:
    """The shipped ``realesr-animevideov3`` for ``scale``; by default fp16 on CUDA, else fp32."""
    import torch
    import torch.nn.functional as F

    half = device.startswith("cuda") if half is None else half
    net, weights = _builtin_network(scale, device, half)
    dtype = torch.float16 if half else torch.float32

    def forward(x: torch.Tensor) -> torch.Tensor:
        y = net(x)
        if weights.output_scale != 1.0:
            # The shipped graph ends by resizing the net's x4 result (0.5 for x2, 0.75 for x3).
            size = (x.shape[2] * scale, x.shape[3] * scale)
            y = F.interpolate(y, size=size, mode=weights.output_resize, align_corners=False)
        return y

    tiling = tiling_for(device, tile)
    precision = "fp16" if half else "fp32"
    return Upscaler(
        description=f"Real-ESRGAN animevideov3 x{scale} on {device}, {precision}",
        upscale=_tiled(forward, scale, tiling, net.receptive_radius + 2, device, dtype),
        tiling=tiling.describe(),
    )


def realesrgan_photo(scale: int, device: str, tile: int, half: bool | None = None) -> Upscaler:
    """The shipped ``realesrgan-x4plus`` (RRDBNet, photos); x2/x3 resize its x4 like the
    animevideov3 files' own graphs do (bicubic). fp16 on CUDA by default, else fp32."""
    import torch
    import torch.nn.functional as F

    half = device.startswith("cuda") if half is None else half
    net = _photo_network(device, half)
    dtype = torch.float16 if half else torch.float32

    def forward(x: torch.Tensor) -> torch.Tensor:
        y = net(x)
        if scale != net.upscale:
            size = (x.shape[2] * scale, x.shape[3] * scale)
            y = F.interpolate(y, size=size, mode="bicubic", align_corners=False)
        return y

    tiling = tiling_for(device, tile, PHOTO_TILE_SIDE, PHOTO_CPU_TILE_AREA)
    precision = "fp16" if half else "fp32"
    note = f", its x4 resized to x{scale} (bicubic)" if scale != net.upscale else ""
    return Upscaler(
        description=f"Real-ESRGAN x4plus (photo) x{scale} on {device}, {precision}{note}",
        upscale=_tiled(forward, scale, tiling, net.receptive_radius, device, dtype),
        tiling=tiling.describe(),
    )


def user_model(path: Path, scale: int, device: str, tile: int) -> Upscaler:
    """The artist's ``.pth``/``.safetensors``; its output is resized when its scale differs."""
    import torch.nn.functional as F

    stat = path.stat() if path.is_file() else None
    key = (str(path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)
    model = _user_network(key, device, device.startswith("cuda"))
    native = model.scale

    def forward(x: Any) -> Any:
        y = model.forward(x)
        if native != scale:
            size = (x.shape[2] * scale, x.shape[3] * scale)
            y = F.interpolate(
                y.float(), size=size, mode="bicubic", align_corners=False, antialias=native > scale
            )
        return y

    note = f", its x{native} resized to x{scale}" if native != scale else ""
    precision = "fp16" if str(model.dtype).endswith("float16") else "fp32"
    tiling = tiling_for(device, tile)
    return Upscaler(
        description=f"{model.name} on {device}, {precision}{note}",
        upscale=_tiled(forward, scale, tiling, model.receptive_radius + 2, device, model.dtype),
        tiling=tiling.describe(),
    )


def lanczos(scale: int, reason: str) -> Upscaler:
    import cv2

    def upscale(frame: np.ndarray, check_cancelled: CheckCancelled) -> np.ndarray:
        height, width = frame.shape[:2]
        size = (width * scale, height * scale)
        return cv2.resize(frame, size, interpolation=cv2.INTER_LANCZOS4)

    return Upscaler(description=f"Lanczos x{scale} ({reason})", upscale=upscale)


def _tiled(
    forward: Callable[[torch.Tensor], torch.Tensor],
    scale: int,
    tiling: Tiling,
    overlap: int,
    device: str,
    dtype: torch.dtype,
) -> Callable[[np.ndarray, CheckCancelled], np.ndarray]:
    from nodes.upscale.tiling import upscale_frame

    def upscale(frame: np.ndarray, check_cancelled: CheckCancelled) -> np.ndarray:
        return upscale_frame(
            forward,
            frame,
            scale,
            tile=tiling.side,
            max_area=tiling.area,
            overlap=overlap,
            device=device,
            dtype=dtype,
            check_cancelled=check_cancelled,
        )

    return upscale


@functools.lru_cache(maxsize=4)
def _builtin_network(scale: int, device: str, half: bool) -> tuple[Any, ncnn_weights.SRVGGWeights]:
    import torch

    from nodes.upscale import srvgg

    weights = ncnn_weights.load_package_weights(scale)
    if weights is None:
        raise WeightsMissing(f"{ncnn_weights.PACKAGE} is not installed")
    net = srvgg.from_ncnn(weights).to(device).to(memory_format=torch.channels_last)
    return (net.half() if half else net), weights


@functools.lru_cache(maxsize=2)
def _photo_network(device: str, half: bool) -> Any:
    import torch

    from nodes.upscale import ncnn_rrdb, rrdbnet

    weights = ncnn_rrdb.load_package_weights()
    if weights is None:
        raise WeightsMissing(f"{ncnn_weights.PACKAGE} is not installed")
    net = rrdbnet.from_ncnn(weights).to(device).to(memory_format=torch.channels_last)
    return net.half() if half else net


@functools.lru_cache(maxsize=2)
def _user_network(key: tuple[str, int, int], device: str, half: bool) -> Any:
    # ``key`` holds the file's mtime and size, so an edited file is loaded afresh.
    from nodes.upscale.user_models import load_model

    return load_model(Path(key[0]), device, half)
