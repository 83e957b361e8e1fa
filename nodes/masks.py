"""RegionMask: a mask over the keyframe, painted as resolution-independent vector shapes.

The ``shapes`` param (written by the editor's painter) is a list of shapes in normalised
coordinates, drawn in order; see :mod:`nodes.shapes` for the schema::

    [{"kind": "stroke" | "polygon" | "rect" | "ellipse",
      "op": "add" | "subtract",              # default "add"
      "points": [[x, y], ...],               # 0..1 across width / down height
      "radius": 0.02,                        # strokes: fraction of the shorter side
      "feather": 0.0}]                       # optional per-shape softening, same unit

With ``subject`` on, the painted area only marks roughly where the subject is: its bounding box
seeds OpenCV's GrabCut, which finds the subject's own outline inside it.
Then grow/shrink, feather and invert apply, in that order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from nodes.io.images import check_image
from nodes.shapes import rasterise, shapes_problems
from studio.graph.spec import CheckEnv, NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType

GRABCUT_MAX_SIDE = 512  # GrabCut runs on a downscaled copy: seconds become tens of milliseconds


def run_region_mask(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    image = check_image(inputs.get("image"), "image")
    height, width = image.shape[:2]
    steps = 2 + (params["grabcut_iterations"] if params["subject"] else 0)
    ctx.progress(0, steps)
    mask = rasterise(params["shapes"], width, height)
    if mask.max() < 0.5:
        raise NodeError(
            "nothing is painted: draw a stroke, rectangle, ellipse or polygon over the image "
            "(the 'shapes' list is empty or every shape was erased)"
        )
    if params["subject"]:
        # GrabCut reports each iteration: a cancel stops it between two (tenths of a second).
        mask = subject_mask(
            image,
            mask,
            params["grabcut_iterations"],
            lambda done, total: ctx.progress(done, steps, "GrabCut"),
        )
        ctx.info(f"GrabCut kept {mask.mean():.0%} of the frame as the subject")
    ctx.progress(steps - 1, steps)
    side = min(width, height)
    mask = grow(mask, params["grow"] / 100.0 * side)
    if params["feather"] > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), params["feather"] / 100.0 * side)
    if params["invert"]:
        mask = 1.0 - mask
    if mask.max() < 0.5:
        raise NodeError(
            f"the mask came out empty after grow = {params['grow']}% and invert = "
            f"{params['invert']}: shrink less or paint a larger area"
        )
    ctx.progress(steps, steps)
    return {"mask": np.clip(mask, 0.0, 1.0).astype(np.float32)}


def grow(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Dilate (``pixels`` > 0) or erode (< 0) a mask by about ``pixels``."""
    radius = round(abs(pixels))
    if radius == 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel) if pixels > 0 else cv2.erode(mask, kernel)


def subject_mask(
    image: np.ndarray,
    painted: np.ndarray,
    iterations: int,
    step: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """GrabCut inside the bounding box of the painted area; returns a hard mask.

    Runs one iteration per call, with ``step(done, total)`` between them (for progress and
    cancellation). OpenCV keeps the colour models in ``background``/``foreground``, so N
    single iterations give exactly what one call of N iterations gives."""
    height, width = image.shape[:2]
    scale = min(1.0, GRABCUT_MAX_SIDE / max(width, height))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    area = cv2.resize(painted, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(area >= 0.5)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    if (x1 - x0) * (y1 - y0) >= 0.98 * area.size or min(x1 - x0, y1 - y0) < 4:
        raise NodeError(
            "subject mode needs a box around the subject with some background outside it, "
            f"and at least a few pixels wide; the painted box is {x1 - x0}x{y1 - y0} px of "
            f"{small.shape[1]}x{small.shape[0]}"
        )
    labels = np.zeros(small.shape[:2], np.uint8)
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    rect = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    total = max(1, int(iterations))
    for done in range(total):
        mode = cv2.GC_INIT_WITH_RECT if done == 0 else cv2.GC_EVAL
        cv2.grabCut(bgr, labels, rect, background, foreground, 1, mode)
        if step is not None:
            step(done + 1, total)
    subject = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    if subject.max() == 0:
        raise NodeError("GrabCut found no subject inside the box: draw it tighter around it")
    return cv2.resize(subject, (width, height), interpolation=cv2.INTER_LINEAR)


def check_region_mask(params: Mapping[str, Any], env: CheckEnv) -> list[str]:
    problems = shapes_problems(params["shapes"])
    shapes = params["shapes"]
    if not problems and not any(s.get("op", "add") == "add" for s in shapes):
        problems.append(
            "nothing is painted: draw a stroke, rectangle, ellipse or polygon over the image "
            "(the 'shapes' list is empty or every shape was erased)"
        )
    return problems


REGION_MASK = NodeSpec(
    type_id="RegionMask",
    draft=lambda params, settings: {
        "grabcut_iterations": min(int(params["grabcut_iterations"]), 2)
    },
    draft_help="at most 2 GrabCut iterations",
    title="Region Mask",
    category="Masks",
    aliases=("mask", "matte", "roto"),
    tags=("paint", "grabcut", "subject", "selection"),
    version=1,
    help=(
        "Paints a mask over the image with strokes, rectangles, ellipses and polygons. Shapes "
        "are stored in frame-relative coordinates, so the mask survives a keyframe resize. "
        "Subject mode turns a rough box into the subject's outline (GrabCut)."
    ),
    run=run_region_mask,
    check=check_region_mask,
    inputs=(Port("image", PortType.IMAGE, "The picture to paint over; sets the mask's size."),),
    outputs=(Port("mask", PortType.MASK, "1 inside the painted region, 0 outside."),),
    params=(
        Param(
            "shapes",
            ParamKind.JSON,
            [],
            help="The painted shapes, drawn in order (edited with the mask painter).",
        ),
        Param(
            "subject",
            ParamKind.BOOL,
            False,
            help="Treat the painted area as a box around the subject and cut the subject "
            "out with GrabCut.",
        ),
        Param(
            "grabcut_iterations",
            ParamKind.INT,
            5,
            min=1,
            max=20,
            step=1,
            help="GrabCut refinement passes (subject mode). More: slower, sometimes tighter.",
        ),
        Param(
            "grow",
            ParamKind.FLOAT,
            0.0,
            min=-20.0,
            max=20.0,
            step=0.5,
            help="Grow (+) or shrink (-) the mask, in % of the frame's shorter side.",
        ),
        Param(
            "feather",
            ParamKind.FLOAT,
            0.5,
            min=0.0,
            max=20.0,
            step=0.1,
            help="Soften the mask's edge, in % of the frame's shorter side.",
        ),
        Param("invert", ParamKind.BOOL, False, help="Swap inside and outside."),
    ),
)

SPECS = (REGION_MASK,)
