"""The painter's tools as plain data: turning pointer paths into the shapes nodes store.

Shapes follow :mod:`nodes.shapes`: points normalised to 0..1 of width/height, ``radius`` and
``feather`` as fractions of the frame's shorter side. Nothing here imports Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from nodes.shapes import rasterise
from studio.ui.viewer import theme

Point = tuple[float, float]

# name, key, tooltip: the tool bar is built from this table.
TOOLS: tuple[tuple[str, str, str], ...] = (
    ("brush", "B", "Brush: paint the region ([ and ] change the size, { and } the feather)"),
    ("eraser", "E", "Eraser: remove from the region ([ and ] change the size)"),
    ("polygon", "P", "Polygon / lasso: drag to lasso, or click corners and double-click to close"),
    ("rect", "R", "Rectangle: drag a box (Alt subtracts)"),
    ("ellipse", "O", "Ellipse: drag its box (Alt subtracts)"),
    ("subject", "S", "Box → subject: drag a box around the subject; GrabCut finds its outline"),
    ("path", "T", "Trajectory: drag to draw where the selected brush goes; drag a point to edit"),
)
MOTION_ONLY = {"path"}
MASK_ONLY = {"subject"}

SIZE_STEP = 1.25  # [ and ] scale the brush by this
MIN_RADIUS, MAX_RADIUS = 0.002, 0.5
MAX_FEATHER = 0.5


@dataclass
class BrushSettings:
    """Brush radius and feather as fractions of the frame's shorter side."""

    radius: float = 0.03
    feather: float = 0.0

    def bigger(self) -> None:
        self.radius = min(MAX_RADIUS, self.radius * SIZE_STEP)

    def smaller(self) -> None:
        self.radius = max(MIN_RADIUS, self.radius / SIZE_STEP)

    def softer(self) -> None:
        self.feather = min(MAX_FEATHER, round(self.feather + 0.005, 4))

    def harder(self) -> None:
        self.feather = max(0.0, round(self.feather - 0.005, 4))


def normalise(points: Sequence[Point], width: int, height: int) -> list[list[float]]:
    """Pixel points -> normalised [x, y] pairs, rounded so the saved file stays readable."""
    return [[round(x / width, 5), round(y / height, 5)] for x, y in points]


def to_pixels(points: Sequence[Sequence[float]], width: int, height: int) -> list[Point]:
    return [(float(x) * width, float(y) * height) for x, y in points]


def simplify(points: Sequence[Point], tolerance: float) -> list[Point]:
    """Drop points that lie within ``tolerance`` pixels of the line through their neighbours."""
    if len(points) < 3:
        return list(points)
    curve = np.asarray(points, np.float32).reshape(-1, 1, 2)
    kept = cv2.approxPolyDP(curve, tolerance, closed=False).reshape(-1, 2)
    return [(float(x), float(y)) for x, y in kept]


def stroke(
    points: Sequence[Point], size: tuple[int, int], brush: BrushSettings, erase: bool = False
) -> dict[str, Any]:
    """A brush or eraser stroke through pixel ``points`` on a frame of ``size`` (w, h)."""
    width, height = size
    # Keep a stroke's shape but not every mouse event: half a pixel is below what shows.
    kept = simplify(points, 0.5) if len(points) > 2 else list(points)
    shape: dict[str, Any] = {
        "kind": "stroke",
        "op": "subtract" if erase else "add",
        "points": normalise(kept, width, height),
        "radius": round(brush.radius, 5),
    }
    if brush.feather > 0:
        shape["feather"] = brush.feather
    return shape


def box(
    kind: str,
    a: Point,
    b: Point,
    size: tuple[int, int],
    subtract: bool = False,
    feather: float = 0.0,
) -> dict[str, Any]:
    """A rectangle or ellipse given two opposite corners in pixels."""
    if kind not in ("rect", "ellipse"):
        raise ValueError(f"a box shape is a rect or an ellipse, not {kind!r}")
    shape: dict[str, Any] = {
        "kind": kind,
        "op": "subtract" if subtract else "add",
        "points": normalise([a, b], *size),
    }
    if feather > 0:
        shape["feather"] = feather
    return shape


def polygon(
    points: Sequence[Point], size: tuple[int, int], subtract: bool = False, feather: float = 0.0
) -> dict[str, Any] | None:
    """A closed polygon (lasso) through pixel ``points``; None when it has no area."""
    kept = simplify(points, 1.0)
    if len(kept) < 3 or cv2.contourArea(np.asarray(kept, np.float32)) < 4.0:
        return None
    shape: dict[str, Any] = {
        "kind": "polygon",
        "op": "subtract" if subtract else "add",
        "points": normalise(kept, *size),
    }
    if feather > 0:
        shape["feather"] = feather
    return shape


def trajectory(
    points: Sequence[Point], size: tuple[int, int], max_points: int = 16
) -> list[list[float]]:
    """A drawn path as an editable trajectory: a few points, normalised."""
    tolerance = 1.0
    kept = simplify(points, tolerance)
    while len(kept) > max_points:
        tolerance *= 1.5
        kept = simplify(points, tolerance)
    return normalise(kept, *size)


def region_colour(index: int) -> str:
    return theme.REGION_COLOURS[index % len(theme.REGION_COLOURS)]


def region_mask(region: Any, width: int, height: int) -> np.ndarray | None:
    """A brush's painted region as a mask, or None for 'input' (the node's mask input)."""
    if isinstance(region, list):
        return rasterise(region, width, height)
    return None


def tint(
    masks: Sequence[tuple[np.ndarray, str]], width: int, height: int, highlight: int | None = None
) -> np.ndarray:
    """Colour each (mask, '#rrggbb') into one premultiplied-free RGBA overlay (H, W, 4) uint8.

    ``highlight`` draws that region more opaque than the others (the selected brush). Runs on
    the UI thread after every stroke, so it works in place on uint8/float32 buffers: a
    1280x720 overlay costs a few milliseconds, not tens.
    """
    if not masks:
        return np.zeros((height, width, 4), np.uint8)
    if len(masks) == 1:  # a Region Mask's overlay: one colour, the mask as alpha
        mask, colour = masks[0]
        if mask.shape != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        strength = 255.0 if highlight in (None, 0) else 255.0 * 0.55
        # Masks are 0..1: convertScaleAbs saturates above, and is several times faster than
        # numpy writes into an interleaved buffer.
        alpha = cv2.convertScaleAbs(mask, alpha=strength)
        planes = [np.full((height, width), int(colour[i : i + 2], 16), np.uint8) for i in (1, 3, 5)]
        return cv2.merge([*planes, alpha])
    # Planar float32 channels, updated in place: interleaved (H, W, 3) broadcasting was most
    # of the cost.
    planes = [np.zeros((height, width), np.float32) for _ in range(3)]
    alpha = np.zeros((height, width), np.float32)
    a = np.empty((height, width), np.float32)
    scratch = np.empty((height, width), np.float32)
    for index, (mask, colour) in enumerate(masks):
        if mask.shape != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        np.clip(mask, 0.0, 1.0, out=a)
        if highlight not in (None, index):
            a *= 0.55
        channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        for plane, value in zip(planes, channels, strict=True):
            # Later regions paint over earlier ones, as listed: plane += a * (value - plane).
            np.subtract(float(value), plane, out=scratch)
            scratch *= a
            plane += scratch
        np.maximum(alpha, a, out=alpha)
    alpha *= 255.0
    return cv2.merge([cv2.convertScaleAbs(p) for p in (*planes, alpha)])
