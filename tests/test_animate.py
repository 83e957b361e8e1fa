"""The cut-and-drag animator on real photographs: paths, untouched pixels, static regions, hole
fill, camera moves, guidance masks and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from stage_helpers import photo

from nodes.animate import GuidanceClip, cut_and_drag
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import CameraMove, Motion, MotionBrushValue

W, H = 192, 144


def rect_region(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    region = np.zeros((H, W), np.float32)
    region[y0:y1, x0:x1] = 1.0
    return region


def find_patch(frame: np.ndarray, patch: np.ndarray) -> tuple[int, int]:
    """Top-left corner where ``patch`` best matches ``frame`` (independent of the animator)."""
    scores = cv2.matchTemplate(frame, patch, cv2.TM_SQDIFF)
    _, _, best, _ = cv2.minMaxLoc(scores)
    return best


@pytest.fixture(scope="module")
def keyframe() -> np.ndarray:
    return photo("astronaut", (W, H))


def test_region_follows_its_path_within_a_pixel(keyframe: np.ndarray) -> None:
    x0, y0, x1, y1 = 60, 40, 100, 80
    # An L-shaped path of two equal legs: right 30 px, then down 30 px.
    path = ((80 / W, 60 / H), (110 / W, 60 / H), (110 / W, 90 / H))
    brush = MotionBrushValue(rect_region(x0, y0, x1, y1), trajectory=path)
    frames = 9
    clip = cut_and_drag(keyframe, Motion(brushes=(brush,)), frames=frames, fps=8)
    patch = keyframe[y0 + 6 : y1 - 6, x0 + 6 : x1 - 6]
    for t in range(frames):
        walked = 60.0 * t / (frames - 1)  # linear ease, arc length along the L
        expected = (min(walked, 30.0), max(0.0, walked - 30.0))
        found = find_patch(clip.video.frames[t], patch)
        moved = (found[0] - (x0 + 6), found[1] - (y0 + 6))
        assert abs(moved[0] - expected[0]) <= 1 and abs(moved[1] - expected[1]) <= 1, (t, moved)


def test_pixels_away_from_moving_regions_stay_identical(keyframe: np.ndarray) -> None:
    brush = MotionBrushValue(
        rect_region(20, 30, 60, 70),
        trajectory=((40 / W, 50 / H), (70 / W, 60 / H)),
        ease="ease-out",
    )
    clip = cut_and_drag(keyframe, Motion(brushes=(brush,)), frames=6, fps=8)
    # The region sweeps x 20..90, y 30..80; allow a feather margin around that.
    untouched = np.ones((H, W), bool)
    untouched[30 - 8 : 80 + 8, 20 - 8 : 90 + 8] = False
    for frame in clip.video.frames:
        assert np.array_equal(frame[untouched], keyframe[untouched])
    assert np.array_equal(clip.video.frames[0], keyframe)
    assert not np.array_equal(clip.video.frames[-1], keyframe)


def test_static_region_does_not_move_even_beside_a_moving_one(keyframe: np.ndarray) -> None:
    pinned = rect_region(100, 40, 140, 100)
    moving = rect_region(60, 40, 98, 100)  # touching: its hole fill would spill onto the pin
    motion = Motion(
        brushes=(
            MotionBrushValue(pinned, trajectory=((0.6, 0.5), (0.1, 0.1)), static=True),
            MotionBrushValue(moving, trajectory=((0.4, 0.5), (0.2, 0.5))),
        )
    )
    clip = cut_and_drag(keyframe, motion, frames=5, fps=8)
    inner = (slice(44, 96), slice(104, 136))
    for frame, mask in zip(clip.video.frames, clip.masks, strict=True):
        assert np.array_equal(frame[inner], keyframe[inner])
        assert mask[inner].max() == 0.0


def test_revealed_hole_is_filled_from_its_surroundings() -> None:
    image = photo("coffee", (W, H))
    x0, y0, x1, y1 = 80, 50, 120, 90
    brush = MotionBrushValue(
        rect_region(x0, y0, x1, y1), trajectory=((100 / W, 70 / H), (170 / W, 120 / H))
    )
    clip = cut_and_drag(image, Motion(brushes=(brush,)), frames=3, fps=8)
    last = clip.video.frames[-1].astype(np.float32)
    hole = last[y0:y1, x0:x1]
    ring = np.concatenate(
        [image[y0 - 8 : y0, x0:x1].reshape(-1, 3), image[y1 : y1 + 8, x0:x1].reshape(-1, 3)]
    ).astype(np.float32)
    luma = hole.mean(axis=2)
    ring_luma = ring.mean(axis=1)
    assert luma.min() >= min(ring_luma.min(), 20.0) - 5  # no black hole
    assert abs(luma.mean() - ring_luma.mean()) < 40  # its colour comes from around it
    assert not np.array_equal(hole, image[y0:y1, x0:x1].astype(np.float32))
    # The guidance mask marks the revealed hole for a diffusion model to repaint.
    assert clip.masks[-1][y0 + 4 : y1 - 4, x0 + 4 : x1 - 4].min() > 0.99
    assert clip.masks[0].max() == 0.0


def test_camera_pan_and_tilt_move_content_by_the_expected_pixels(keyframe: np.ndarray) -> None:
    camera = CameraMove(pan=0.125, tilt=0.0, ease="linear")  # camera right: picture slides left
    clip = cut_and_drag(keyframe, Motion(camera=camera), frames=3, fps=8)
    half, full = clip.video.frames[1], clip.video.frames[2]
    shift = 24  # 0.125 of 192 px
    assert np.array_equal(full[:, : W - shift], keyframe[:, shift:])
    assert np.array_equal(half[:, : W - shift // 2], keyframe[:, shift // 2 :])
    # Where the camera looks past the keyframe the mask asks for generation, elsewhere not.
    assert clip.masks[2][:, W - shift + 1 :].min() == 1.0
    assert clip.masks[2][:, : W - shift - 1].max() == 0.0
    up = cut_and_drag(
        keyframe, Motion(camera=CameraMove(tilt=0.25, ease="linear")), frames=2, fps=8
    )
    assert np.array_equal(up.video.frames[1][36:], keyframe[: H - 36])  # picture slides down


def test_rotation_turns_the_region_about_its_centroid(keyframe: np.ndarray) -> None:
    x0, y0, x1, y1 = 70, 40, 130, 100
    centre = ((x0 + x1) / 2 / W, (y0 + y1) / 2 / H)
    brush = MotionBrushValue(rect_region(x0, y0, x1, y1), trajectory=(centre, centre), rotation=90)
    clip = cut_and_drag(keyframe, Motion(brushes=(brush,)), frames=2, fps=8)
    inner = (slice(y0 + 8, y1 - 8), slice(x0 + 8, x1 - 8))
    got = clip.video.frames[-1][inner].astype(np.float32)
    expected = np.rot90(keyframe[y0:y1, x0:x1]).astype(np.float32)[8:-8, 8:-8]  # counter-clockwise
    assert np.abs(got - expected).mean() < 6


def test_size_covers_and_crops_without_distortion(keyframe: np.ndarray) -> None:
    clip = cut_and_drag(keyframe, Motion(), frames=2, fps=12, size=(96, 32))
    assert clip.video.frames.shape == (2, 32, 96, 3) and clip.video.fps == 12
    # Cover: scale by 96/192 = 0.5 to 96x72, then keep the middle 32 rows.
    expected = cv2.resize(keyframe, (96, 72), interpolation=cv2.INTER_AREA)[20:52]
    assert np.abs(clip.video.frames[0].astype(int) - expected).max() <= 1
    assert clip.masks.shape == (2, 32, 96) and clip.masks.dtype == np.float32


def test_progress_is_reported_per_frame_and_can_cancel(keyframe: np.ndarray) -> None:
    calls: list[tuple[int, int]] = []
    clip = cut_and_drag(
        keyframe, Motion(), frames=4, fps=8, progress=lambda d, t: calls.append((d, t))
    )
    assert isinstance(clip, GuidanceClip)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    def cancel(done: int, total: int) -> None:
        if done == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        cut_and_drag(keyframe, Motion(), frames=4, fps=8, progress=cancel)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"frames": 0}, "frames = 0 is out of range; use 1 to 1025"),
        ({"frames": 5000}, "frames = 5000"),
        ({"size": (8, 100)}, "width = 8 px is out of range"),
        ({"size": (100, 99999)}, "height = 99999 px"),
        ({"frames": 1025, "size": (4096, 4096)}, "too much to hold in memory"),
        ({"fps": 0}, "fps = 0"),
    ],
)
def test_absurd_sizes_and_frame_counts_are_refused(
    keyframe: np.ndarray, kwargs: dict, fragment: str
) -> None:
    args = {"frames": 4, "fps": 8.0} | kwargs
    with pytest.raises(NodeError, match=fragment.replace("(", r"\(")):
        cut_and_drag(keyframe, Motion(), **args)


def test_bad_keyframes_and_brushes_are_refused(keyframe: np.ndarray) -> None:
    with pytest.raises(NodeError, match="uint8"):
        cut_and_drag(keyframe.astype(np.float32), Motion(), frames=2, fps=8)
    with pytest.raises(NodeError, match="RGB image"):
        cut_and_drag(keyframe[..., :2], Motion(), frames=2, fps=8)
    region = rect_region(10, 10, 20, 20)
    nine = tuple(MotionBrushValue(region, ((0, 0), (1, 1))) for _ in range(9))
    with pytest.raises(NodeError, match="9 motion brushes; at most 8"):
        cut_and_drag(keyframe, Motion(brushes=nine), frames=2, fps=8)
    with pytest.raises(NodeError, match="unknown ease 'bouncy'"):
        bad = MotionBrushValue(region, ((0, 0), (1, 1)), ease="bouncy")
        cut_and_drag(keyframe, Motion(brushes=(bad,)), frames=2, fps=8)


def test_mask_at_another_resolution_is_mapped_onto_the_keyframe(keyframe: np.ndarray) -> None:
    # The same region drawn at half resolution moves the same content.
    small = cv2.resize(
        rect_region(60, 40, 100, 80), (W // 2, H // 2), interpolation=cv2.INTER_NEAREST
    )
    path = ((0.4, 0.4), (0.5, 0.4))
    full = cut_and_drag(
        keyframe, Motion((MotionBrushValue(rect_region(60, 40, 100, 80), path),)), frames=2, fps=8
    )
    half = cut_and_drag(keyframe, Motion((MotionBrushValue(small, path),)), frames=2, fps=8)
    assert np.abs(full.video.frames[1].astype(int) - half.video.frames[1]).mean() < 2


def test_example_workflow_motion_stage_lifts_the_rocket() -> None:
    """The shipped example's own params, run node by node (no engine): the subject moves up."""
    import json
    from pathlib import Path

    from nodes.io.images import SAMPLE_IMAGE
    from nodes.masks import REGION_MASK
    from nodes.motion import MOTION_BRUSH
    from studio.engine.testing import FakeRunContext

    data = json.loads(Path("resources/workflows/example.json").read_text())
    assert data["format_version"] == 2
    by_type = {record["type"]: record for record in data["nodes"].values()}
    assert set(by_type) >= {
        "SampleImage",
        "RegionMask",
        "MotionBrush",
        "ImageToVideo",
        "Stabilize",
        "Upscale",
        "SaveVideo",
    }

    def run(spec, inputs):  # type: ignore[no-untyped-def]
        params = spec.default_params() | by_type[spec.type_id]["params"]
        return spec.run(FakeRunContext(), inputs, params)

    image = run(SAMPLE_IMAGE, {})["image"]
    mask = run(REGION_MASK, {"image": image})["mask"]
    motion = run(MOTION_BRUSH, {"mask": mask})["motion"]
    assert motion.camera.zoom > 1  # a push-in
    still_camera = Motion(brushes=motion.brushes)  # so the mask shows only the brushed rocket
    clip = cut_and_drag(image, still_camera, frames=5, fps=16, size=(256, 144))
    first = np.nonzero(clip.masks[1].max(axis=1) > 0.5)[0]
    rows = np.nonzero(clip.masks[-1].max(axis=1) > 0.5)[0]
    assert 0 < mask.mean() < 0.1  # GrabCut found a slim subject, not the whole box
    assert rows.min() < first.min() - 15  # the rocket rose by more than 10 % of the frame


def test_region_of_another_shape_is_stretched_and_reported(keyframe: np.ndarray) -> None:
    messages: list[str] = []
    wide = np.zeros((10, 40), np.float32)  # 4:1, the keyframe is 4:3
    wide[3:7, 10:20] = 1.0
    brush = MotionBrushValue(wide, ((0.4, 0.5), (0.5, 0.5)), name="sign")
    clip = cut_and_drag(keyframe, Motion((brush,)), frames=2, fps=8, info=messages.append)
    assert messages and "sign: its region is 40x10 but the keyframe is 192x144" in messages[0]
    # Stretched onto the keyframe: x 48..96, y 43..101 moved right by 0.1 of the width.
    assert clip.masks[1][70, 110] > 0.99 and clip.masks[1][70, 150] == 0.0


def test_brushes_covering_the_whole_frame_say_to_use_the_camera(keyframe: np.ndarray) -> None:
    everything = MotionBrushValue(np.ones((H, W), np.float32), ((0.5, 0.5), (0.6, 0.5)))
    with pytest.raises(NodeError, match="use the camera move instead"):
        cut_and_drag(keyframe, Motion((everything,)), frames=2, fps=8)


def test_camera_push_in_and_roll_turn_about_the_centre(keyframe: np.ndarray) -> None:
    zoom = cut_and_drag(keyframe, Motion(camera=CameraMove(zoom=2.0)), frames=2, fps=8)
    # A 2x push-in shows the middle half of the keyframe, enlarged.
    middle = cv2.resize(keyframe[36:108, 48:144], (W, H), interpolation=cv2.INTER_LINEAR)
    assert np.abs(zoom.video.frames[1].astype(int) - middle).mean() < 4
    assert zoom.masks[1].max() == 0.0  # pushing in reveals nothing
    roll = cut_and_drag(keyframe, Motion(camera=CameraMove(roll=180.0)), frames=2, fps=8)
    turned = np.rot90(keyframe, 2)  # half a turn about the centre, either way
    assert np.abs(roll.video.frames[1][4:-4, 4:-4].astype(int) - turned[4:-4, 4:-4]).mean() < 4


def test_scale_grows_the_region_about_its_centroid(keyframe: np.ndarray) -> None:
    x0, y0, x1, y1 = 80, 50, 110, 80
    centre = ((x0 + x1) / 2 / W, (y0 + y1) / 2 / H)
    brush = MotionBrushValue(rect_region(x0, y0, x1, y1), trajectory=(centre, centre), scale=2.0)
    clip = cut_and_drag(keyframe, Motion(brushes=(brush,)), frames=2, fps=8)
    # Doubled about its centre (95, 65): the 30 px square now spans about 65..125 x 35..95.
    grown = cv2.resize(keyframe[y0:y1, x0:x1], (60, 60), interpolation=cv2.INTER_LINEAR)
    got = clip.video.frames[1][35:95, 65:125].astype(int)
    assert np.abs(got[6:-6, 6:-6] - grown[6:-6, 6:-6]).mean() < 8
