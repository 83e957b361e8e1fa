"""Rasterise resolution-independent vector shapes into masks (RegionMask and MotionBrush).

A shape is a JSON object; coordinates are normalised: x in 0..1 across the width, y in 0..1 down
the height, so a mask survives a keyframe resize. Lengths (``radius``, ``feather``) are fractions
of the frame's shorter side::

    {"kind": "stroke",  "op": "add", "points": [[x, y], ...], "radius": 0.03}
    {"kind": "polygon", "op": "add", "points": [[x, y], [x, y], [x, y], ...]}
    {"kind": "rect",    "op": "subtract", "points": [[x0, y0], [x1, y1]]}   # two corners
    {"kind": "ellipse", "op": "add", "points": [[x0, y0], [x1, y1]], "feather": 0.01}  # its box

``op`` defaults to "add"; "subtract" erases what earlier shapes painted. Shapes apply in order.
A stroke is a round brush dragged through its points (one point = a dab). ``feather`` (optional,
default 0) softens that shape's edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from studio.graph.spec import NodeError

KINDS = ("stroke", "polygon", "rect", "ellipse")
OPS = ("add", "subtract")
_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


def rasterise(
    shapes: Sequence[Any], width: int, height: int, *, label: str = "shape"
) -> np.ndarray:
    """Draw ``shapes`` into a (height, width) float32 mask in [0, 1]."""
    if not isinstance(shapes, (list, tuple)):
        raise NodeError(f"{label}s must be a list of shapes, got {type(shapes).__name__}")
    mask = np.zeros((height, width), np.float32)
    for index, shape in enumerate(shapes):
        where = f"{label} {index + 1}"
        kind, op, points, radius, feather = _check_shape(shape, where)
        layer = _draw(kind, points, radius, width, height)
        if feather > 0:
            sigma = feather * min(width, height)
            layer = cv2.GaussianBlur(layer, (0, 0), sigma)
        if op == "add":
            np.maximum(mask, layer, out=mask)
        else:
            mask *= 1.0 - layer
    return mask


def _check_shape(shape: Any, where: str) -> tuple[str, str, np.ndarray, float, float]:
    if not isinstance(shape, dict):
        raise NodeError(f"{where}: expected an object with 'kind' and 'points', got {shape!r}")
    kind = shape.get("kind")
    if kind not in KINDS:
        raise NodeError(f"{where}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    op = shape.get("op", "add")
    if op not in OPS:
        raise NodeError(f"{where}: unknown op {op!r}; expected 'add' or 'subtract'")
    points = _points(shape.get("points"), where)
    needed = {"stroke": 1, "polygon": 3, "rect": 2, "ellipse": 2}[kind]
    if len(points) < needed:
        raise NodeError(f"{where}: a {kind} needs at least {needed} points, got {len(points)}")
    radius = _length(shape.get("radius", 0.02), f"{where}: radius", 1.0)
    if kind == "stroke" and radius <= 0:
        raise NodeError(f"{where}: a stroke needs a radius above 0, got {radius}")
    feather = _length(shape.get("feather", 0.0), f"{where}: feather", 0.5)
    return kind, op, points, radius, feather


def _points(value: Any, where: str) -> np.ndarray:
    try:
        points = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise NodeError(f"{where}: points must be a list of [x, y] pairs, got {value!r}") from None
    if points.size == 0:
        return np.zeros((0, 2))
    if points.ndim != 2 or points.shape[1] != 2:
        raise NodeError(f"{where}: points must be a list of [x, y] pairs, got {value!r}")
    if not np.isfinite(points).all():
        raise NodeError(f"{where}: points hold a non-finite coordinate")
    # Shapes may reach past the edge (a stroke along the border); far outside is a mistake.
    if np.abs(points - 0.5).max() > 10:
        raise NodeError(f"{where}: points must be normalised (0..1), got {points.tolist()}")
    return points


def _length(value: Any, what: str, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise NodeError(f"{what} must be a number, got {value!r}")
    if not 0 <= value <= maximum:
        raise NodeError(f"{what} = {value} is out of range; use 0 to {maximum} (of the frame)")
    return float(value)


def _draw(kind: str, points: np.ndarray, radius: float, width: int, height: int) -> np.ndarray:
    # Draw on 8 bits (OpenCV anti-aliases only there) with sub-pixel coordinates.
    canvas = np.zeros((height, width), np.uint8)
    pixels = points * (width, height)
    fixed = np.rint(pixels * _ONE).astype(np.int32)
    if kind == "polygon":
        cv2.fillPoly(canvas, [fixed], 255, cv2.LINE_AA, _SHIFT)
    elif kind == "rect":
        (x0, y0), (x1, y1) = pixels.min(axis=0), pixels.max(axis=0)
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        cv2.fillPoly(canvas, [np.rint(corners * _ONE).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
    elif kind == "ellipse":
        (x0, y0), (x1, y1) = pixels[:2].min(axis=0), pixels[:2].max(axis=0)
        centre = (round((x0 + x1) / 2 * _ONE), round((y0 + y1) / 2 * _ONE))
        axes = (round((x1 - x0) / 2 * _ONE), round((y1 - y0) / 2 * _ONE))
        cv2.ellipse(canvas, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    else:
        thickness = max(1, round(2 * radius * min(width, height)))
        if len(fixed) == 1:
            fixed = np.vstack([fixed, fixed])
        # A polyline with round joins and caps is what a round brush leaves.
        for a, b in zip(fixed[:-1], fixed[1:], strict=True):
            cv2.line(
                canvas,
                tuple(int(v) for v in a),
                tuple(int(v) for v in b),
                255,
                thickness,
                cv2.LINE_AA,
                _SHIFT,
            )
    return canvas.astype(np.float32) / 255.0
