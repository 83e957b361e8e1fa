"""The built-in animator's seed: seed 0 plays the brushes as drawn, other seeds vary the take."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from stage_helpers import FakeContext, photo, run_node

from nodes.animate import cut_and_drag
from nodes.animate_seed import vary_motion
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.graph.types import CameraMove, Motion, MotionBrushValue

W, H = 96, 64


@pytest.fixture(scope="module")
def keyframe() -> np.ndarray:
    return photo("astronaut", (W, H))


def motion(camera: CameraMove | None = None) -> Motion:
    region = np.zeros((H, W), np.float32)
    region[20:40, 20:40] = 1.0
    pinned = np.zeros((H, W), np.float32)
    pinned[45:60, 70:90] = 1.0
    brush = MotionBrushValue(region, trajectory=((0.3, 0.45), (0.7, 0.5)), start=0.1, end=0.9)
    pin = MotionBrushValue(pinned, static=True)
    return Motion(brushes=(brush, pin), camera=camera or CameraMove())


def render(keyframe: np.ndarray, seed: int, m: Motion | None = None) -> tuple[np.ndarray, list]:
    ctx = FakeContext()
    inputs = {"image": keyframe, "motion": m if m is not None else motion()}
    video = run_node(IMAGE_TO_VIDEO, ctx, inputs, seed=seed, frames=9, fps=8.0)["video"]
    return video.frames, ctx.messages


def test_seed_zero_plays_the_brushes_as_drawn(keyframe):
    frames, _ = render(keyframe, 0)
    expected = cut_and_drag(keyframe, motion(), frames=9, fps=8.0).video.frames
    np.testing.assert_array_equal(frames, expected)


def test_a_seed_wedge_makes_distinct_takes_and_each_seed_repeats(keyframe):
    takes = {seed: render(keyframe, seed)[0] for seed in range(8)}
    for a, b in itertools.combinations(takes, 2):
        assert not np.array_equal(takes[a], takes[b]), f"seeds {a} and {b} made the same clip"
    np.testing.assert_array_equal(render(keyframe, 5)[0], takes[5])
    for clip in takes.values():  # frame 0 is the keyframe whatever the seed
        np.testing.assert_array_equal(clip[0], takes[0][0])
    # The pinned region never moves.
    for clip in takes.values():
        np.testing.assert_array_equal(clip[:, 47:58, 72:88], takes[0][:, 47:58, 72:88])


def test_the_variation_stays_small_and_keeps_what_was_asked(keyframe):
    base = motion(CameraMove(pan=0.1, zoom=1.2))
    for seed in range(1, 20):
        varied = vary_motion(base, seed)
        brush, pin = varied.brushes
        assert pin is base.brushes[1]
        assert abs(brush.start - 0.1) <= 0.05 + 1e-9 and abs(brush.end - 0.9) <= 0.05 + 1e-9
        path = np.asarray(brush.trajectory)
        np.testing.assert_allclose(path[0], (0.3, 0.45))  # starts where it was drawn
        reach = np.linalg.norm(path[-1] - path[0]) / np.linalg.norm((0.4, 0.05))
        assert 0.92 - 1e-9 <= reach <= 1.08 + 1e-9
        assert 0.09 <= varied.camera.pan <= 0.11 and 1.18 <= varied.camera.zoom <= 1.22
        assert varied.camera.tilt == 0 and varied.camera.roll == 0  # no move that was not asked


def test_a_seed_with_nothing_moving_says_it_changes_nothing(keyframe):
    still = Motion()
    a, messages = render(keyframe, 3, still)
    b, _ = render(keyframe, 4, still)
    np.testing.assert_array_equal(a, b)
    assert any("seed 3 changes nothing" in m for m in messages)
    assert render(keyframe, 0, still)[1] == []
