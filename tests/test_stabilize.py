"""Stabilize on synthetic clips with known ground truth (tests/clips.py): a camera moving over
a real photo along a smooth path, plus jitter and gain flicker."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import clips  # tests/ is on sys.path (rootdir conftest)
import numpy as np
import pytest

from nodes.stabilize import STABILIZE, run_stabilize
from studio.engine.testing import FakeRunContext
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import CameraPath, Video


def stabilize(video: Video, **params: Any) -> tuple[Video, CameraPath, FakeRunContext]:
    ctx = FakeRunContext()
    out = run_stabilize(ctx, {"video": video}, params)
    return out["video"], out["camera_path"], ctx


@pytest.fixture(scope="module")
def shaky() -> clips.SyntheticClip:
    return clips.shaky_clip(frames=48, size=(320, 180))


@pytest.fixture(scope="module")
def steadied(shaky: clips.SyntheticClip) -> tuple[Video, CameraPath, FakeRunContext]:
    return stabilize(shaky.video)


def test_jitter_is_removed_to_subpixel(shaky, steadied) -> None:
    video, path, _ = steadied
    before = clips.residual_jitter(shaky.video.frames, shaky)
    after = clips.residual_jitter(video.frames, shaky)
    assert before > 1.0  # the clip really shakes, by the same measure
    assert after < 0.5, f"residual jitter {after:.3f} px RMS (input {before:.3f})"


def test_flicker_is_reduced_five_fold(shaky, steadied) -> None:
    video, path, _ = steadied
    before = clips.flicker_index(shaky.video.frames)
    after = clips.flicker_index(video.frames)
    assert after * 5 <= before, f"flicker {before:.3f} -> {after:.3f}"
    # The reported curve is the output's brightness.
    assert np.allclose(path.luma_after, clips.luma_curve(video.frames), atol=0.01)
    assert np.std(np.diff(path.luma_after)) < np.std(np.diff(path.luma_before)) / 3


def test_one_zoom_hides_the_borders_within_the_cap(shaky, steadied) -> None:
    video, path, _ = steadied
    assert 1.0 < path.zoom <= 1.10
    assert video.frames.shape == shaky.video.frames.shape and video.fps == shaky.video.fps


def test_camera_path_reports_the_measured_shake(shaky, steadied) -> None:
    _, path, _ = steadied
    assert path.raw.shape == path.smoothed.shape == (48, 4)
    # The raw path carries the jitter, the smoothed one does not.
    raw_wobble = np.std(np.diff(path.raw[:, 0], 2))
    smooth_wobble = np.std(np.diff(path.smoothed[:, 0], 2))
    assert raw_wobble > 1.0 and smooth_wobble < raw_wobble / 20
    # The path is the camera's position relative to the first frame: it pans as the true one.
    true_pan = shaky.smooth[-1, 0, 2] - shaky.smooth[0, 0, 2]
    assert path.smoothed[-1, 0] - path.smoothed[0, 0] == pytest.approx(true_pan, abs=3.0)


def test_progress_is_reported_per_frame(steadied) -> None:
    _, _, ctx = steadied
    assert len(ctx.progress_calls) >= 48
    assert ctx.progress_calls[-1][0] == ctx.progress_calls[-1][1]


@pytest.mark.parametrize("mode", ["l1", "kalman"])
def test_other_smoothing_modes_also_steady(shaky, mode: str) -> None:
    video, path, _ = stabilize(shaky.video, mode=mode, deflicker=False)
    assert clips.residual_jitter(video.frames, shaky) < 0.5
    assert path.zoom <= 1.10


def test_static_clip_comes_back_unchanged() -> None:
    clip = clips.static_clip()
    video, path, _ = stabilize(clip.video)
    assert path.zoom == 1.0
    assert np.array_equal(video.frames, clip.video.frames)
    assert np.allclose(path.raw, [0, 0, 0, 1], atol=1e-6) and path.cuts == ()


def test_scene_cut_resets_the_path() -> None:
    clip = clips.cut_clip(frames=40)
    video, path, ctx = stabilize(clip.video)
    assert path.cuts == clip.cuts == (20,)
    assert np.allclose(path.raw[20], [0, 0, 0, 1])
    assert not np.allclose(path.raw[19], [0, 0, 0, 1], atol=1.0)
    assert any("cut" in m for m in ctx.messages)
    # Neither shot is pulled towards the other: both come out steady.
    assert clips.residual_jitter(video.frames, clip, skip=clip.cuts) < 0.5


def test_deflicker_keeps_the_brightness_jump_at_a_cut() -> None:
    clip = clips.cut_clip(frames=24)
    frames = clip.video.frames.copy()
    frames[12:] //= 2  # the second shot is much darker
    video, path, _ = stabilize(Video(frames, 24.0))
    assert path.cuts == (12,)
    before, after = clips.luma_curve(frames), clips.luma_curve(video.frames)
    # Frames next to the cut are not pulled towards the other shot's brightness.
    assert np.abs(after[9:15] / before[9:15] - 1).max() < 0.1


def test_cut_between_shots_with_alike_histograms_is_found_by_tracking() -> None:
    # Cat and stained tissue have similar brightness histograms (distance ~0.26, under the
    # 0.5 threshold): the cut shows because tracking breaks there.
    clip = clips.cut_clip(frames=24, images=("chelsea", "immunohistochemistry"))
    _, path, _ = stabilize(clip.video, deflicker=False)
    assert path.cuts == (12,)


def test_strong_shake_is_not_mistaken_for_cuts() -> None:
    clip = clips.shaky_clip(
        frames=24, size=(320, 180), image="coffee", jitter_px=12.0, jitter_deg=1.5, seed=3
    )
    video, path, ctx = stabilize(clip.video, deflicker=False, max_zoom=1.3)
    assert path.cuts == ()
    assert not [m for m in ctx.messages if "cut" in m or "failed" in m]
    assert clips.residual_jitter(video.frames, clip) < 0.5


def test_slow_fade_survives_deflicker() -> None:
    clip = clips.fade_clip(frames=40)
    video, path, _ = stabilize(clip.video)
    before, after = clips.luma_curve(clip.video.frames), clips.luma_curve(video.frames)
    assert after[-1] < 0.45 * after[0]  # still fades to ~40%
    assert np.max(np.abs(after / before - 1)) < 0.02


def test_flicker_on_a_fade_is_removed_but_the_fade_kept() -> None:
    flickering = clips.fade_clip(frames=40, flicker=0.06)
    clean = clips.fade_clip(frames=40)
    video, _, _ = stabilize(flickering.video)
    truth = clips.luma_curve(clean.video.frames)
    error_before = np.abs(clips.luma_curve(flickering.video.frames) / truth - 1).max()
    error_after = np.abs(clips.luma_curve(video.frames) / truth - 1).max()
    assert error_before > 0.04 and error_after < 0.03


def test_deflicker_can_be_turned_off(shaky) -> None:
    video, path, _ = stabilize(shaky.video, deflicker=False)
    assert np.array_equal(path.luma_after, path.luma_before)
    assert clips.flicker_index(video.frames) > 0.5 * clips.flicker_index(shaky.video.frames)


def test_zoom_cap_fills_the_border_by_edge_replication(shaky) -> None:
    video, path, ctx = stabilize(shaky.video, max_zoom=1.0, deflicker=False)
    assert path.zoom == 1.0
    assert any("capped" in m for m in ctx.messages)

    # No black border crept in: as few pure-black edge pixels as the input has.
    def black_edges(frames: np.ndarray) -> int:
        edges = np.concatenate(
            [frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1]], axis=1
        )
        return int((edges.max(axis=-1) == 0).sum())

    assert black_edges(video.frames) <= black_edges(shaky.video.frames) + 5


def test_featureless_clip_is_not_cut_or_shaken() -> None:
    frames = np.full((10, 64, 96, 3), 128, dtype=np.uint8)
    frames[5:] = 140  # a gentle brightness step on a flat frame
    video, path, ctx = stabilize(Video(frames, 24.0), deflicker=False)
    assert path.cuts == () and path.zoom == 1.0
    assert np.array_equal(video.frames, frames)
    assert any("too little detail" in m for m in ctx.messages)


def test_one_frame_passes_through_with_a_note() -> None:
    clip = clips.static_clip(frames=1)
    video, path, ctx = stabilize(clip.video)
    assert video is clip.video and path.zoom == 1.0
    assert ctx.messages


def test_empty_clip_is_a_clear_error() -> None:
    with pytest.raises(NodeError, match="no frames"):
        stabilize(Video(np.zeros((0, 32, 32, 3), np.uint8), 24.0))


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"max_zoom": 5.0}, "Max zoom"),
        ({"smoothing": -1.0}, "Smoothing"),
        ({"smoothing": float("nan")}, "Smoothing"),
        ({"mode": "wobbly"}, "wobbly"),
        ({"deflicker": "yes"}, "Deflicker"),
        ({"zoom": 1.2}, "zoom"),
    ],
)
def test_absurd_params_are_named(params: dict[str, Any], named: str) -> None:
    clip = clips.static_clip(frames=3)
    with pytest.raises(NodeError, match=named):
        stabilize(clip.video, **params)


def test_tiny_frames_and_wrong_input_are_errors() -> None:
    with pytest.raises(NodeError, match="too small"):
        stabilize(Video(np.zeros((4, 8, 8, 3), np.uint8), 24.0))
    with pytest.raises(NodeError, match="video clip"):
        run_stabilize(FakeRunContext(), {"video": np.zeros((4, 32, 32, 3), np.uint8)}, {})


def test_cancel_stops_the_run(shaky) -> None:
    ctx = FakeRunContext(cancel_after=10)
    with pytest.raises(Cancelled):
        run_stabilize(ctx, {"video": shaky.video}, {})
    assert ctx.progress_calls[-1][0] == 10


def test_spec_is_complete_and_registered(registry) -> None:
    assert registry["Stabilize"] is STABILIZE and STABILIZE.category == "Video"
    assert STABILIZE.version >= 1
    assert [p.name for p in STABILIZE.outputs] == ["video", "camera_path"]
    for param in STABILIZE.params:
        assert param.help and param.problem(param.default) is None
        assert param.choices or param.kind.value == "bool" or param.min is not None


def test_node_module_does_not_load_qt_or_torch() -> None:
    code = (
        "import sys, nodes.stabilize; "
        "print(any(m.startswith(('PySide6', 'torch', 'diffusers')) for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_path_smoother_keeps_a_pan_going_to_the_ends() -> None:
    from nodes.stabilize.path import local_linear

    ramp = np.linspace(-30.0, 50.0, 40)[:, None]
    assert np.allclose(local_linear(ramp, 15.0), ramp)
    noisy = ramp + np.random.default_rng(0).normal(0, 2.0, ramp.shape)
    assert np.abs(local_linear(noisy, 8.0) - ramp).max() < 2.0


def test_required_zoom_matches_the_geometry() -> None:
    from nodes.stabilize.path import required_zoom, similarity

    # Shifting 10 px right in a 201 px wide frame leaves 90 of 100 px on that side: 100/90.
    zoom = required_zoom(similarity(10.0, 0.0, 0.0, 1.0)[None], (201, 101))
    assert zoom[0] == pytest.approx(100 / 90)
    assert required_zoom(np.eye(3)[None], (201, 101))[0] == 1.0
    assert np.isinf(required_zoom(similarity(150.0, 0.0, 0.0, 1.0)[None], (201, 101))[0])
