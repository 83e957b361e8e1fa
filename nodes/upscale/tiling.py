"""Upscale one frame in overlapping tiles so memory stays bounded whatever the frame size.

Each tile is run with ``overlap`` extra input pixels of context on every side that has image
there, and only its core is kept. When ``overlap`` covers the network's receptive radius, the
stitched frame equals the untiled one: at the image border a tile sees the same zero padding
the whole frame would, and inside it sees real pixels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

Forward = Callable[["torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class Tile:
    """A core region ``[y0, y1) x [x0, x1)`` and the larger context region fed to the net."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int


def tile_grid(
    height: int, width: int, overlap: int, *, tile: int = 0, max_area: int = 0
) -> list[Tile]:
    """Equal cores, each with context. ``tile`` caps a core's side; else ``max_area`` caps the
    pixels a tile feeds the net (context included); with neither the frame is one tile."""
    if tile > 0:
        rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    elif max_area > 0:
        rows, cols = grid_for_area(height, width, overlap, max_area)
    else:
        rows, cols = 1, 1
    ys = [round(i * height / rows) for i in range(rows + 1)]
    xs = [round(i * width / cols) for i in range(cols + 1)]
    tiles = []
    for y0, y1 in zip(ys, ys[1:], strict=False):
        for x0, x1 in zip(xs, xs[1:], strict=False):
            context = (max(0, y0 - overlap), min(height, y1 + overlap))
            context += (max(0, x0 - overlap), min(width, x1 + overlap))
            tiles.append(Tile(y0, y1, x0, x1, *context))
    return tiles


@functools.lru_cache(maxsize=64)  # called per frame; every frame of a clip has one size
def grid_for_area(height: int, width: int, overlap: int, max_area: int) -> tuple[int, int]:
    """The rows x cols split whose tiles stay under ``max_area`` pixels with the least work."""
    best: tuple[int, int, int, int] | None = None  # (pixels fed to the net, tiles, rows, cols)
    for rows in range(1, height + 1):
        tall = _context_span(height, rows, overlap)
        wide_max = max_area // tall
        cols = next(
            (c for c in range(1, width + 1) if _context_span(width, c, overlap) <= wide_max), 0
        )
        if cols:
            work = rows * cols * tall * _context_span(width, cols, overlap)
            best = min(best or (work, rows * cols, rows, cols), (work, rows * cols, rows, cols))
        if tall <= 2 * overlap + 1:  # more rows only add overlap
            break
    return (best[2], best[3]) if best else (height, width)


def _context_span(length: int, parts: int, overlap: int) -> int:
    # The largest context a part gets: inner parts have overlap on both sides.
    core = math.ceil(length / parts)
    sides = 0 if parts == 1 else 1 if parts == 2 else 2
    return min(length, core + sides * overlap)


def upscale_frame(
    forward: Forward,
    frame: np.ndarray,
    scale: int,
    *,
    overlap: int,
    tile: int = 0,
    max_area: int = 0,
    device: str,
    dtype: torch.dtype,
    check_cancelled: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 -> (H*scale, W*scale, 3) uint8 through ``forward``.

    ``forward`` maps a (1, 3, h, w) tensor in [0, 1] to (1, 3, h*scale, w*scale); it must
    treat every input pixel alike (no dependence on the tile's position).
    """
    import torch

    height, width = frame.shape[:2]
    image = torch.from_numpy(np.array(frame)).to(device)  # a copy: cached frames are read-only
    # uint8 travels to the device; the float conversion happens there.
    image = image.permute(2, 0, 1).unsqueeze(0).to(dtype).div_(255.0)
    image = image.contiguous(memory_format=torch.channels_last)
    out = np.empty((height * scale, width * scale, 3), dtype=np.uint8)
    with torch.inference_mode():
        for t in tile_grid(height, width, overlap, tile=tile, max_area=max_area):
            check_cancelled()
            patch = image[:, :, t.cy0 : t.cy1, t.cx0 : t.cx1]
            result = forward(patch.contiguous(memory_format=torch.channels_last))
            top, left = (t.y0 - t.cy0) * scale, (t.x0 - t.cx0) * scale
            core = result[
                0, :, top : top + (t.y1 - t.y0) * scale, left : left + (t.x1 - t.x0) * scale
            ]
            out[t.y0 * scale : t.y1 * scale, t.x0 * scale : t.x1 * scale] = _to_uint8(core)
    return out


def _to_uint8(chw: torch.Tensor) -> np.ndarray:
    import torch

    pixels = chw.float().clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    return pixels.permute(1, 2, 0).cpu().numpy()
