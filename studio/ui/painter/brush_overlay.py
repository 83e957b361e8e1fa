"""What the painter draws over the keyframe for a Motion Brush node: each brush's region,
tinted in its colour, and its path, pinned at the region's centre when static.

Computed with numpy, no widget involved: the canvas only shows the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from studio.graph.spec import NodeError
from studio.ui.painter import mask_tools
from studio.ui.painter.canvas import PathDrawing
from studio.ui.painter.mask_tools import region_colour


@dataclass
class BrushOverlay:
    rgba: np.ndarray  # the tinted regions at overlay size
    paths: list[PathDrawing]  # one per brush, in image pixels
    region_masks: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (brush, mask)
    message: str = ""  # why a brush's region could not be drawn, if one could not


def brush_overlay(
    brushes: list[dict[str, Any]],
    current: int,
    image_size: tuple[int, int],
    overlay_size: tuple[int, int],
    input_mask: Callable[[], np.ndarray | None],
) -> BrushOverlay:
    """The overlay for ``brushes`` with brush ``current`` highlighted. ``input_mask`` gives the
    mask wired into the node (None until it has been rendered) for brushes whose region is
    "input"."""
    (w, h), (ow, oh) = image_size, overlay_size
    regions: list[tuple[np.ndarray, str]] = []
    paths: list[PathDrawing] = []
    region_masks: list[tuple[int, np.ndarray]] = []
    message = ""
    for index, brush in enumerate(brushes):
        colour = region_colour(index)
        mask = None
        try:
            region = brush.get("region")
            mask = input_mask() if region == "input" else mask_tools.region_mask(region, ow, oh)
        except NodeError as error:
            message = f"{brush.get('name')}: {error}"
        if mask is not None:
            regions.append((cv2.resize(mask, (ow, oh)), colour))
            region_masks.append((index, regions[-1][0]))
        anchor = None
        if mask is not None and mask.max() > 0.5:
            ys, xs = np.nonzero(mask > 0.5)
            anchor = (xs.mean() * w / mask.shape[1], ys.mean() * h / mask.shape[0])
        points = mask_tools.to_pixels(brush.get("trajectory") or [], w, h)
        paths.append(
            PathDrawing(
                points,
                colour,
                selected=index == current,
                static=bool(brush.get("static")),
                anchor=anchor,
            )
        )
    highlight = next((i for i, (_m, c) in enumerate(regions) if c == region_colour(current)), None)
    rgba = mask_tools.tint(regions, ow, oh, highlight)
    return BrushOverlay(rgba, paths, region_masks, message)
