"""RegionMask and the shape rasteriser: shapes, ops, resolution independence, GrabCut, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from stage_helpers import run_node

from nodes.masks import REGION_MASK
from nodes.shapes import rasterise
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError

RECT = {"kind": "rect", "points": [[0.25, 0.25], [0.75, 0.75]]}


def region(image: np.ndarray, **params: object) -> np.ndarray:
    return run_node(REGION_MASK, FakeRunContext(), {"image": image}, **params)["mask"]


def blank(width: int = 80, height: int = 60) -> np.ndarray:
    return np.full((height, width, 3), 128, np.uint8)


def test_rect_covers_its_normalised_box_at_the_image_size() -> None:
    mask = region(blank(80, 60), shapes=[RECT], feather=0.0)
    assert mask.shape == (60, 80) and mask.dtype == np.float32
    assert mask[16:44, 21:59].min() == 1.0  # inside the box x 20..60, y 15..45
    assert mask[:13].max() == 0.0 and mask[:, 62:].max() == 0.0
    assert abs(mask.sum() - 40 * 30) < 0.05 * 40 * 30


def test_subtract_erases_and_shapes_apply_in_order() -> None:
    hole = {"kind": "ellipse", "op": "subtract", "points": [[0.4, 0.4], [0.6, 0.6]]}
    mask = rasterise([RECT, hole], 100, 100)
    assert mask[50, 50] == 0.0 and mask[30, 30] == 1.0
    # Added again after the subtraction, the ellipse is back.
    again = rasterise([RECT, hole, dict(hole, op="add")], 100, 100)
    assert again[50, 50] == 1.0


def test_stroke_and_polygon_paint_where_drawn() -> None:
    stroke = {"kind": "stroke", "points": [[0.1, 0.5], [0.9, 0.5]], "radius": 0.05}
    triangle = {"kind": "polygon", "points": [[0.5, 0.0], [1.0, 1.0], [0.0, 1.0]]}
    mask = rasterise([stroke], 200, 100)
    assert mask[50, 20:180].min() == 1.0  # along the line
    assert mask[46, 100] == 1.0 and mask[43, 100] == 0.0  # 5 px radius around y = 50
    tri = rasterise([triangle], 100, 100)
    assert tri[90, 50] == 1.0 and tri[10, 5] == 0.0 and tri[10, 95] == 0.0


def test_mask_is_resolution_independent() -> None:
    shapes = [RECT, {"kind": "ellipse", "points": [[0.1, 0.1], [0.4, 0.5]]}]
    small = region(blank(160, 90), shapes=shapes)
    large = region(blank(640, 360), shapes=shapes)
    upscaled = cv2.resize(small, (640, 360), interpolation=cv2.INTER_LINEAR)
    intersection = np.minimum(upscaled > 0.5, large > 0.5).sum()
    union = np.maximum(upscaled > 0.5, large > 0.5).sum()
    assert intersection / union > 0.97


def test_grow_feather_and_invert() -> None:
    image = blank(100, 100)
    base = region(image, shapes=[RECT], feather=0.0)
    grown = region(image, shapes=[RECT], feather=0.0, grow=5.0)
    shrunk = region(image, shapes=[RECT], feather=0.0, grow=-5.0)
    assert shrunk.sum() < base.sum() < grown.sum()
    assert grown[22, 50] == 1.0 and base[22, 50] == 0.0  # 5 % of 100 px = 5 px out
    soft = region(image, shapes=[RECT], feather=3.0)
    assert 0.2 < soft[25, 50] < 0.8  # the edge is soft
    inverted = region(image, shapes=[RECT], feather=0.0, invert=True)
    assert np.allclose(inverted, 1.0 - base)


def test_grabcut_finds_the_subject_inside_a_rough_box() -> None:
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal((40, 120, 40), 12, (120, 160, 3)), 0, 255).astype(np.uint8)
    cv2.circle(image, (80, 60), 25, (220, 40, 40), -1)
    disc = np.zeros((120, 160), np.uint8)
    cv2.circle(disc, (80, 60), 25, 1, -1)
    box = {"kind": "rect", "points": [[40 / 160, 20 / 120], [120 / 160, 100 / 120]]}
    ctx = FakeRunContext()
    outputs = run_node(REGION_MASK, ctx, {"image": image}, shapes=[box], subject=True, feather=0.0)
    mask = outputs["mask"]
    found = mask > 0.5
    iou = np.logical_and(found, disc).sum() / np.logical_or(found, disc).sum()
    assert iou > 0.85
    assert ctx.said("GrabCut kept")


def test_grabcut_one_iteration_at_a_time_matches_one_call_and_cancels_between() -> None:
    from nodes.masks import subject_mask
    from studio.graph.spec import Cancelled

    rng = np.random.default_rng(1)
    image = np.clip(rng.normal((40, 120, 40), 20, (120, 160, 3)), 0, 255).astype(np.uint8)
    cv2.ellipse(image, (80, 60), (30, 20), 15, 0, 360, (200, 60, 50), -1)
    painted = np.zeros((120, 160), np.float32)
    painted[25:95, 35:125] = 1.0
    # The same five iterations done by OpenCV in one call.
    labels = np.zeros((120, 160), np.uint8)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    models = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(bgr, labels, (35, 25, 90, 70), *models, 5, cv2.GC_INIT_WITH_RECT)
    whole = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    steps: list[tuple[int, int]] = []
    stepped = subject_mask(image, painted, 5, lambda done, total: steps.append((done, total)))
    assert np.array_equal(stepped, whole)
    assert steps == [(i, 5) for i in range(1, 6)]
    box = {"kind": "rect", "points": [[35 / 160, 25 / 120], [125 / 160, 95 / 120]]}
    ctx = FakeRunContext(cancel_after=3)  # the start, then two GrabCut iterations
    with pytest.raises(Cancelled):
        run_node(REGION_MASK, ctx, {"image": image}, shapes=[box], subject=True)
    assert ctx.progress_calls == [(0, 7), (1, 7), (2, 7)]


def test_nothing_painted_is_a_clear_error() -> None:
    with pytest.raises(NodeError, match="nothing is painted"):
        region(blank(), shapes=[])
    erased = [RECT, dict(RECT, op="subtract")]
    with pytest.raises(NodeError, match="nothing is painted"):
        region(blank(), shapes=erased)
    with pytest.raises(NodeError, match="empty after grow"):
        region(blank(), shapes=[{"kind": "rect", "points": [[0.5, 0.5], [0.52, 0.52]]}], grow=-10.0)


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [
        ({"kind": "blob", "points": [[0, 0]]}, "shape 1: unknown kind 'blob'"),
        ({"kind": "polygon", "points": [[0, 0], [1, 1]]}, "needs at least 3 points"),
        ({"kind": "rect", "op": "xor", "points": [[0, 0], [1, 1]]}, "unknown op 'xor'"),
        ({"kind": "rect", "points": "here"}, "list of \\[x, y\\] pairs"),
        ({"kind": "rect", "points": [[0, 0], [300, 400]]}, "must be normalised"),
        ({"kind": "stroke", "points": [[0, 0]], "radius": -1}, "radius = -1 is out of range"),
        ("rect", "expected an object"),
    ],
)
def test_malformed_shapes_name_the_problem(shape: object, fragment: str) -> None:
    with pytest.raises(NodeError, match=fragment):
        region(blank(), shapes=[shape])


def test_bad_image_input_is_a_clear_error() -> None:
    with pytest.raises(NodeError, match="'image' must be an \\(H, W, 3\\) uint8"):
        region(np.zeros((10, 10), np.float32), shapes=[RECT])
    with pytest.raises(NodeError, match="'image' needs an image"):
        region(None, shapes=[RECT])  # type: ignore[arg-type]
