"""Frame, Trim and Retime: the frames they pick, sound in sync, cut markers, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from stage_helpers import run_node
from sync_helpers import flash_clip, sync_error_frames

from nodes.timing import FRAME, RETIME, TRIM, remap_cuts
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import Audio, Video


def numbered(count: int = 10, fps: float = 10.0, cuts: tuple[int, ...] = ()) -> Video:
    """Frame i is filled with the value i * 10, so a frame says where it came from."""
    frames = np.repeat((np.arange(count) * 10).astype(np.uint8), 4 * 4 * 3).reshape(count, 4, 4, 3)
    return Video(frames, fps, cuts=cuts)


def ids(video: Video) -> list[int]:
    return [int(f[0, 0, 0]) // 10 for f in video.frames]


@pytest.mark.parametrize(
    ("pick", "frame", "time", "expected"),
    [
        ("first", 0, 0.0, 0),
        ("last", 0, 0.0, 9),
        ("frame", 4, 0.0, 4),
        ("frame", -2, 0.0, 8),
        ("time", 0, 0.55, 5),
    ],
)
def test_frame_picks(pick: str, frame: int, time: float, expected: int) -> None:
    out = run_node(
        FRAME, FakeRunContext(), {"video": numbered()}, pick=pick, frame=frame, time=time
    )
    assert out["image"].shape == (4, 4, 3)
    assert int(out["image"][0, 0, 0]) == expected * 10


def test_frame_outside_the_clip_says_so() -> None:
    with pytest.raises(NodeError, match="outside the clip"):
        run_node(FRAME, FakeRunContext(), {"video": numbered()}, pick="frame", frame=10)
    with pytest.raises(NodeError, match="outside the clip"):
        run_node(FRAME, FakeRunContext(), {"video": numbered()}, pick="time", time=1.0)


def test_empty_clip_is_refused_by_every_timing_node() -> None:
    empty = Video(np.zeros((0, 4, 4, 3), np.uint8), 10.0)
    for spec in (FRAME, TRIM, RETIME):
        with pytest.raises(NodeError, match="empty"):
            run_node(spec, FakeRunContext(), {"video": empty})


def test_fps_zero_is_refused_by_the_clip_type() -> None:
    with pytest.raises(ValueError, match="fps must be positive"):
        Video(np.zeros((2, 4, 4, 3), np.uint8), 0.0)


def test_trim_by_frames_and_by_seconds() -> None:
    clip = numbered()
    out = run_node(TRIM, FakeRunContext(), {"video": clip}, in_point=2.0, out_point=5.0)["video"]
    assert ids(out) == [2, 3, 4]
    out = run_node(TRIM, FakeRunContext(), {"video": clip}, unit="seconds", in_point=0.3)["video"]
    assert ids(out) == [3, 4, 5, 6, 7, 8, 9]


@pytest.mark.parametrize(("start", "end"), [(4.0, 4.0), (6.0, 3.0), (12.0, 0.0)])
def test_zero_length_trim_says_why(start: float, end: float) -> None:
    with pytest.raises(NodeError, match="no frames|past the end"):
        run_node(TRIM, FakeRunContext(), {"video": numbered()}, in_point=start, out_point=end)


def test_retime_speed_reverse_and_hold() -> None:
    clip = numbered()
    assert ids(run_node(RETIME, FakeRunContext(), {"video": clip}, speed=2.0)["video"]) == [
        0,
        2,
        4,
        6,
        8,
    ]
    slow = run_node(RETIME, FakeRunContext(), {"video": clip}, speed=0.5)["video"]
    assert ids(slow)[:6] == [0, 0, 1, 1, 2, 2] and len(slow) == 20
    back = run_node(RETIME, FakeRunContext(), {"video": clip}, reverse=True)["video"]
    assert ids(back) == list(range(9, -1, -1))
    held = run_node(RETIME, FakeRunContext(), {"video": clip}, hold_frame=3, hold_length=2)["video"]
    assert ids(held) == [0, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9]
    with pytest.raises(NodeError, match="cannot hold frame 12"):
        run_node(RETIME, FakeRunContext(), {"video": clip}, hold_frame=12, hold_length=2)


def test_cut_markers_follow_the_frames() -> None:
    clip = numbered(cuts=(4,))
    assert run_node(TRIM, FakeRunContext(), {"video": clip}, in_point=2.0)["video"].cuts == (2,)
    assert run_node(TRIM, FakeRunContext(), {"video": clip}, in_point=5.0)["video"].cuts == ()
    assert run_node(RETIME, FakeRunContext(), {"video": clip}, reverse=True)["video"].cuts == (6,)
    assert remap_cuts((4,), np.array([0, 2, 4, 6])) == (2,)
    assert remap_cuts((4,), np.array([0, 2, 3, 3, 5])) == (4,)


@pytest.mark.parametrize(
    ("spec", "params"),
    [
        (TRIM, {"in_point": 5.0, "out_point": 20.0}),
        (TRIM, {"unit": "seconds", "in_point": 0.25}),
        (RETIME, {"speed": 2.0}),
        (RETIME, {"speed": 0.5}),
        (RETIME, {"speed": 1.5}),
        (RETIME, {"reverse": True}),
        (RETIME, {"hold_frame": 3, "hold_length": 7}),
    ],
)
def test_sound_stays_in_sync(spec, params) -> None:
    clip = flash_clip()
    assert sync_error_frames(clip) < 0.01
    out = run_node(spec, FakeRunContext(), {"video": clip}, **params)["video"]
    if params.get("reverse"):  # backwards, the tone *ends* where the flash ends: flip back
        out = Video(out.frames[::-1].copy(), out.fps, Audio(out.audio.samples[::-1].copy(), 8000))
    assert sync_error_frames(out) <= 1.0
    assert abs(out.audio.duration_s - out.duration_s) <= 1 / out.fps
