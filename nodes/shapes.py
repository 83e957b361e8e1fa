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

import math
import reprlib
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from studio.graph.spec import NodeError

KINDS = ("stroke", "polygon", "rect", "ellipse")
OPS = ("add", "subtract")
_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT
_SUPER = 4  # supersampling factor: edges get 17 grey levels of coverage


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


def shapes_problems(shapes: Any, label: str = "shape", limit: int = 20) -> list[str]:
    """What :func:`rasterise` would refuse in ``shapes``: every bad shape (up to ``limit``)."""
    if not isinstance(shapes, (list, tuple)):
        return [f"{label}s must be a list of shapes, got {type(shapes).__name__}"]
    problems = []
    for index, shape in enumerate(shapes):
        try:
            _check_shape(shape, f"{label} {index + 1}")
        except NodeError as exc:
            problems.append(str(exc))
            if len(problems) >= limit:
                problems.append(f"(and maybe more among {len(shapes)} {label}s)")
                break
    return problems


def brief(value: Any, size: int = 80) -> str:
    """``repr`` cut to ``size`` characters, for messages about values that may be huge."""
    text = reprlib.repr(value)
    return text if len(text) <= size else text[: size - 3] + "..."


def _check_shape(shape: Any, where: str) -> tuple[str, str, np.ndarray, float, float]:
    if not isinstance(shape, dict):
        raise NodeError(f"{where}: expected an object with 'kind' and 'points', got {brief(shape)}")
    kind = shape.get("kind")
    if kind not in KINDS:
        raise NodeError(f"{where}: unknown kind {brief(kind)}; expected one of {', '.join(KINDS)}")
    op = shape.get("op", "add")
    if op not in OPS:
        raise NodeError(f"{where}: unknown op {brief(op)}; expected 'add' or 'subtract'")
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
        raise NodeError(
            f"{where}: points must be a list of [x, y] pairs, got {brief(value)}"
        ) from None
    if points.size == 0:
        return np.zeros((0, 2))
    if points.ndim != 2 or points.shape[1] != 2:
        raise NodeError(f"{where}: points must be a list of [x, y] pairs, got {brief(value)}")
    if not np.isfinite(points).all():
        raise NodeError(f"{where}: points hold a non-finite coordinate")
    # Shapes may reach past the edge (a stroke along the border); far outside is a mistake.
    if np.abs(points - 0.5).max() > 10:
        raise NodeError(f"{where}: points must be normalised (0..1), got {brief(points.tolist())}")
    return points


def _length(value: Any, what: str, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise NodeError(f"{what} must be a number, got {brief(value)}")
    if not 0 <= value <= maximum:
        raise NodeError(f"{what} = {value} is out of range; use 0 to {maximum} (of the frame)")
    return float(value)


def _draw(kind: str, points: np.ndarray, radius: float, width: int, height: int) -> np.ndarray:
    """Exact-ish coverage: draw the shape's bounding box 4x supersampled, then average down."""
    layer = np.zeros((height, width), np.float32)
    pixels = points * (width, height)  # continuous coordinates: pixel i spans [i, i + 1)
    pad = radius * min(width, height) if kind == "stroke" else 0.0
    x0 = max(0, math.floor(pixels[:, 0].min() - pad) - 1)
    y0 = max(0, math.floor(pixels[:, 1].min() - pad) - 1)
    x1 = min(width, math.ceil(pixels[:, 0].max() + pad) + 1)
    y1 = min(height, math.ceil(pixels[:, 1].max() + pad) + 1)
    if x1 <= x0 or y1 <= y0:
        return layer  # entirely outside the frame
    canvas = np.zeros(((y1 - y0) * _SUPER, (x1 - x0) * _SUPER), np.uint8)
    # OpenCV puts pixel centres on integers: continuous u lands on u * _SUPER - 0.5.
    local = (pixels - (x0, y0)) * _SUPER - 0.5
    fixed = np.rint(local * _ONE).astype(np.int32)
    if kind == "polygon":
        cv2.fillPoly(canvas, [fixed], 255, cv2.LINE_8, _SHIFT)
    elif kind in ("rect", "ellipse"):
        (ax, ay), (bx, by) = local[:2].min(axis=0), local[:2].max(axis=0)
        if kind == "rect":
            corners = np.array([[ax, ay], [bx, ay], [bx, by], [ax, by]])
            cv2.fillPoly(
                canvas, [np.rint(corners * _ONE).astype(np.int32)], 255, cv2.LINE_8, _SHIFT
            )
        else:
            centre = (round((ax + bx) / 2 * _ONE), round((ay + by) / 2 * _ONE))
            axes = (round((bx - ax) / 2 * _ONE), round((by - ay) / 2 * _ONE))
            cv2.ellipse(canvas, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
    else:
        thickness = max(1, round(2 * radius * min(width, height) * _SUPER))
        ends = np.vstack([fixed, fixed]) if len(fixed) == 1 else fixed
        # Thick OpenCV lines have round caps: a polyline of them is what a round brush leaves.
        for a, b in zip(ends[:-1], ends[1:], strict=True):
            cv2.line(
                canvas,
                (int(a[0]), int(a[1])),
                (int(b[0]), int(b[1])),
                255,
                thickness,
                cv2.LINE_8,
                _SHIFT,
            )
    small = cv2.resize(canvas, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    layer[y0:y1, x0:x1] = small.astype(np.float32) / 255.0
    return layer
