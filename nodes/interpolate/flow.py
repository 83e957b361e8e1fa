"""Motion-compensated in-between frames from two frames: DIS optical flow both ways, flows
splatted forward to the in-between time, both frames warped there and blended by visibility.

For a pixel x of the in-between frame at time t (0 = frame A, 1 = frame B):

1. ``F_ab`` and ``F_ba`` are measured with OpenCV's DIS flow (on a grey copy, at ``scale``).
2. Each pixel of A is splatted to ``x + t F_ab`` carrying the flow back to A, ``-t F_ab``;
   likewise B with ``(1 - t)``. Where two land on one pixel the one whose flow passes the
   forward-backward check wins (it is the surface in front); holes get a smoothed flow.
3. A and B are warped to time t. A pixel is *visible in A* if something of A landed near it and
   the flows agree there; where only one frame sees a pixel (what a moving object uncovers or
   covers) only that frame paints it; elsewhere the weights are ``1 - t`` and ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# quality -> (DIS preset, long side of the frames the flow fields are measured and splatted at).
# Flow fields are smooth, so splatting them on a smaller copy costs little; the frames
# themselves are always warped at full resolution.
PRESETS = {
    "fast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, 320),
    "balanced": (cv2.DISOPTICAL_FLOW_PRESET_FAST, 480),
    "best": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 1 << 30),
}
CONSISTENCY_PX = 1.5  # forward-backward disagreement (px) beyond which a pixel is occluded


@dataclass
class PairFlow:
    """Both flows of one pair of frames on the analysis copy (in its pixels), and where they
    agree; ``scale`` is analysis size / frame size."""

    ab: np.ndarray  # (H, W, 2) where each pixel of A goes in B
    ba: np.ndarray  # (H, W, 2) where each pixel of B goes in A
    ok_a: np.ndarray  # (H, W) float32: pixel of A passes the forward-backward check
    ok_b: np.ndarray
    scale: float


class FlowEstimator:
    """DIS optical flow between RGB frames, with one reusable OpenCV object per preset."""

    def __init__(self, quality: str = "balanced") -> None:
        preset, self.side = PRESETS[quality]
        self._dis = cv2.DISOpticalFlow_create(preset)

    def grey(self, frame: np.ndarray) -> np.ndarray:
        """The analysis copy of an RGB frame (grey, long side at most the preset's)."""
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.side / max(grey.shape))
        if scale < 1.0:
            size = (max(8, round(grey.shape[1] * scale)), max(8, round(grey.shape[0] * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return grey

    def pair(self, grey_a: np.ndarray, grey_b: np.ndarray, width: int) -> PairFlow:
        ab = self._dis.calc(grey_a, grey_b, None)
        ba = self._dis.calc(grey_b, grey_a, None)
        return PairFlow(ab, ba, consistent(ab, ba), consistent(ba, ab), grey_a.shape[1] / width)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    # Pixel coordinate maps, made once per size (read-only, shared by every call).
    grid = _GRIDS.get((height, width))
    if grid is None:
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        xs.flags.writeable = ys.flags.writeable = False
        grid = _GRIDS.setdefault((height, width), (xs, ys))
    return grid


def _sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """1 where following ``forward`` then ``backward`` comes back within CONSISTENCY_PX."""
    height, width = forward.shape[:2]
    xs, ys = _grid(height, width)
    back = _sample(backward, xs + forward[..., 0], ys + forward[..., 1])
    error = np.hypot(forward[..., 0] + back[..., 0], forward[..., 1] + back[..., 1])
    return (error < CONSISTENCY_PX).astype(np.float32)


def splat_flow(flow: np.ndarray, ok: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """The flow from time ``t`` back to the frame ``flow`` starts in, and how much landed on
    each pixel (its coverage). Consistent pixels outweigh occluded ones where both land."""
    height, width = flow.shape[:2]
    size = height * width
    xs, ys = _grid(height, width)
    tx = np.rint(xs + t * flow[..., 0]).astype(np.int32)
    ty = np.rint(ys + t * flow[..., 1]).astype(np.int32)
    outside = (tx < 0) | (tx >= width) | (ty < 0) | (ty >= height)
    index = ty * width + tx
    index[outside] = size  # one spare bin collects what lands outside the frame
    index = index.ravel()
    weight = (0.05 + ok).ravel()
    total = np.bincount(index, weight, size + 1)[:size]
    fx = np.bincount(index, weight * flow[..., 0].ravel(), size + 1)[:size]
    fy = np.bincount(index, weight * flow[..., 1].ravel(), size + 1)[:size]
    covered = total > 0
    scale = np.where(covered, -t / np.maximum(total, 1e-12), 0.0)
    out = np.empty((height, width, 2), np.float32)
    out[..., 0] = (fx * scale).reshape(height, width)
    out[..., 1] = (fy * scale).reshape(height, width)
    coverage = covered.reshape(height, width).astype(np.float32)
    return _fill_holes(out, coverage), coverage


def _fill_holes(flow: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Holes take the coverage-weighted average of the flow around them (normalised blur)."""
    if coverage.all():
        return flow
    source = flow.copy()  # holes hold 0 and have weight 0: already coverage-weighted
    filled = flow
    holes = coverage == 0
    size = 5
    while holes.any() and size < 4 * max(flow.shape[:2]):
        num = cv2.blur(source, (size, size))
        den = cv2.blur(coverage, (size, size))
        found = holes & (den > 1e-4)
        filled[found] = num[found] / den[found][:, None]
        holes &= ~found
        size *= 3
    return filled


def in_between(a: np.ndarray, b: np.ndarray, pair: PairFlow, t: float) -> np.ndarray:
    """The frame at time ``t`` in (0, 1) between RGB frames ``a`` and ``b``."""
    height, width = a.shape[:2]
    small = pair.ab.shape[1::-1]
    sx, sy = _grid(small[1], small[0])
    flow_ta, cover_a = splat_flow(pair.ab, pair.ok_a, t)
    flow_tb, cover_b = splat_flow(pair.ba, pair.ok_b, 1.0 - t)
    # Visible in A: something of A landed here (dilated a pixel against rounding gaps) and the
    # pixel of A it came from is not hidden in B.
    kernel = np.ones((3, 3), np.uint8)
    seen_a = cv2.dilate(cover_a, kernel) * (
        0.25 + 0.75 * _sample(pair.ok_a, sx + flow_ta[..., 0], sy + flow_ta[..., 1])
    )
    seen_b = cv2.dilate(cover_b, kernel) * (
        0.25 + 0.75 * _sample(pair.ok_b, sx + flow_tb[..., 0], sy + flow_tb[..., 1])
    )
    weight_a = (1.0 - t) * cv2.blur(seen_a, (3, 3)) + 1e-3
    weight_b = t * cv2.blur(seen_b, (3, 3)) + 1e-3
    if pair.scale != 1.0:  # fields to full size; flows in full-size pixels
        full = (width, height)
        flow_ta = cv2.resize(flow_ta, full, interpolation=cv2.INTER_LINEAR) / pair.scale
        flow_tb = cv2.resize(flow_tb, full, interpolation=cv2.INTER_LINEAR) / pair.scale
        weight_a = cv2.resize(weight_a, full, interpolation=cv2.INTER_LINEAR)
        weight_b = cv2.resize(weight_b, full, interpolation=cv2.INTER_LINEAR)
    xs, ys = _grid(height, width)
    warped_a = _sample(a, xs + flow_ta[..., 0], ys + flow_ta[..., 1]).astype(np.float32)
    warped_b = _sample(b, xs + flow_tb[..., 0], ys + flow_tb[..., 1]).astype(np.float32)
    blend = (warped_a * weight_a[..., None] + warped_b * weight_b[..., None]) / (
        weight_a + weight_b
    )[..., None]
    return np.clip(blend + 0.5, 0, 255).astype(np.uint8)


def plain_blend(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Cross-dissolve: the baseline motion compensation has to beat."""
    mix = a.astype(np.float32) * (1.0 - t) + b.astype(np.float32) * t
    return np.clip(mix + 0.5, 0, 255).astype(np.uint8)
