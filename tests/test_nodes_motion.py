"""MotionBrush: brushes from shapes or the mask input, chaining, camera, clamps and errors."""

from __future__ import annotations

import numpy as np
import pytest
from stage_helpers import run_node

from nodes.motion import MOTION_BRUSH
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import CameraMove, Motion, MotionBrushValue

BOX = [{"kind": "rect", "points": [[0.2, 0.2], [0.4, 0.4]]}]
PATH = [[0.3, 0.3], [0.6, 0.4]]


def brush(**overrides: object) -> dict:
    return {"name": "boat", "region": BOX, "trajectory": PATH} | overrides


def motion_of(
    ctx: FakeRunContext | None = None, inputs: dict | None = None, **params: object
) -> Motion:
    return run_node(MOTION_BRUSH, ctx or FakeRunContext(), inputs, **params)["motion"]


def test_brush_from_shapes_carries_every_field() -> None:
    entry = brush(start=0.2, end=0.8, ease="ease-in", rotation=15, scale=1.5)
    motion = motion_of(brushes=[entry], zoom=1.2, pan=0.1)
    (value,) = motion.brushes
    assert value.name == "boat" and value.trajectory == ((0.3, 0.3), (0.6, 0.4))
    assert (value.start, value.end, value.ease) == (0.2, 0.8, "ease-in")
    assert (value.rotation, value.scale, value.static) == (15.0, 1.5, False)
    height, width = value.region.shape
    assert value.region[int(0.3 * height), int(0.3 * width)] == 1.0
    assert value.region[int(0.7 * height), int(0.7 * width)] == 0.0
    assert motion.camera == CameraMove(pan=0.1, zoom=1.2, ease="ease-in-out")


def test_region_input_uses_the_mask_at_its_own_size() -> None:
    mask = np.zeros((30, 50), np.float32)
    mask[5:15, 10:20] = 1.0
    motion = motion_of(inputs={"mask": mask}, brushes=[brush(region="input")])
    assert np.array_equal(motion.brushes[0].region, mask)
    with pytest.raises(NodeError, match="boat: its region is 'input' but the mask input is not"):
        motion_of(brushes=[brush(region="input")])


def test_unused_mask_input_is_reported() -> None:
    ctx = FakeRunContext()
    motion_of(ctx, {"mask": np.ones((4, 4), np.float32)}, brushes=[brush()])
    assert ctx.said("no brush uses it")


def test_brushes_chain_upstream_first_and_camera_replaces() -> None:
    upstream = motion_of(brushes=[brush(name="first")], tilt=0.2)
    ctx = FakeRunContext()
    chained = motion_of(ctx, {"motion": upstream}, brushes=[brush(name="second")])
    assert [b.name for b in chained.brushes] == ["first", "second"]
    assert chained.camera.tilt == 0.2  # no camera here: the upstream one is kept
    replaced = motion_of(ctx, {"motion": upstream}, brushes=[], roll=10.0)
    assert replaced.camera.roll == 10.0 and replaced.camera.tilt == 0.0
    assert ctx.said("replaces the upstream one")


def test_more_than_eight_brushes_is_refused_counting_upstream() -> None:
    region = np.ones((4, 4), np.float32)
    upstream = Motion(brushes=tuple(MotionBrushValue(region, ((0, 0), (1, 1))) for _ in range(5)))
    with pytest.raises(NodeError, match="9 motion brushes \\(5 upstream \\+ 4 here\\); at most 8"):
        motion_of(inputs={"motion": upstream}, brushes=[brush()] * 4)


def test_moving_brush_needs_two_points_but_static_does_not() -> None:
    with pytest.raises(NodeError, match="boat: a moving brush needs a trajectory of at least 2"):
        motion_of(brushes=[brush(trajectory=[[0.5, 0.5]])])
    pinned = motion_of(brushes=[brush(trajectory=[], static=True)])
    assert pinned.brushes[0].static and pinned.brushes[0].trajectory == ()


def test_trajectory_leaving_the_frame_is_clamped_and_reported() -> None:
    ctx = FakeRunContext()
    motion = motion_of(ctx, brushes=[brush(trajectory=[[0.5, 0.5], [1.4, -0.2], [0.9, 0.9]])])
    assert motion.brushes[0].trajectory == ((0.5, 0.5), (1.0, 0.0), (0.9, 0.9))
    assert ctx.said("boat: 1 trajectory point(s) left the frame")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"start": 0.8, "end": 0.2}, "needs 0 <= start < end <= 1"),
        ({"ease": "wobble"}, "unknown ease 'wobble'"),
        ({"scale": 0.0}, "scale = 0.0 is out of range"),
        ({"rotation": "lots"}, "'rotation' must be a number"),
        ({"region": [{"kind": "rect", "points": [[0.5, 0.5], [0.5, 0.5]]}]}, "region is empty"),
        ({"region": 42}, "region must be 'input' or a list of shapes"),
        ({"trajectory": [[0.1, float("nan")], [0.2, 0.2]]}, "non-finite"),
        ({"static": "yes"}, "'static' must be true or false"),
    ],
)
def test_bad_brushes_name_the_brush_and_the_problem(overrides: dict, fragment: str) -> None:
    with pytest.raises(NodeError, match=fragment):
        motion_of(brushes=[brush(**overrides)])


def test_progress_reported_and_defaults_give_an_empty_motion() -> None:
    ctx = FakeRunContext()
    motion = motion_of(ctx)
    assert motion.brushes == () and motion.camera.is_identity
    assert ctx.progress_calls
