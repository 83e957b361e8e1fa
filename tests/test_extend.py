"""Extend: the seam (no jump, motion carried; a frozen frame fails the same check), sound and
cuts kept, chained segments cached, diffusion backends (tiny models), bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from stage_helpers import FakeContext, photo, run_node

from nodes.extend import EXTEND, match_seam
from nodes.image_to_video import IMAGE_TO_VIDEO
from nodes.interpolate.flow import FlowEstimator
from studio.engine.cache import Cache
from studio.engine.scheduler import Engine
from studio.graph.graph import Graph
from studio.graph.spec import NodeError
from studio.graph.types import Audio, CameraMove, Motion, Video
from studio.session import default_registry

PAN = Motion(camera=CameraMove(pan=0.25, ease="linear"))


def shot(frames: int = 17) -> Video:
    """A real photo under a steady linear pan: motion at the clip's end to carry on."""
    image = photo("astronaut", (128, 96))
    out = run_node(IMAGE_TO_VIDEO, FakeContext(), {"image": image, "motion": PAN}, frames=frames)
    return out["video"]


def _flow(a: np.ndarray, b: np.ndarray) -> float:
    estimator = FlowEstimator("best")
    pair = estimator.pair(estimator.grey(a), estimator.grey(b), a.shape[1])
    return float(np.median(np.hypot(pair.ab[..., 0], pair.ab[..., 1])))


def seam_problems(video: Video, seam: int) -> list[str]:
    """Why the join before frame ``seam`` shows (empty: it does not). The first new frame
    must differ from the last old one no more than neighbouring frames differ inside the clip,
    and the optical flow across the seam must lie within the range of the flow inside it."""
    frames = video.frames.astype(np.int16)
    inside = range(1, seam)
    diffs = [float(np.abs(frames[t] - frames[t - 1]).mean()) for t in inside]
    jump = float(np.abs(frames[seam] - frames[seam - 1]).mean())
    flows = [_flow(video.frames[t - 1], video.frames[t]) for t in inside]
    across = _flow(video.frames[seam - 1], video.frames[seam])
    problems = []
    if jump > max(diffs) * 1.05:
        problems.append(
            f"the picture jumps {jump:.1f} at the seam; at most {max(diffs):.1f} inside"
        )
    if not min(flows) * 0.8 <= across <= max(flows) * 1.2:
        problems.append(
            f"flow across the seam {across:.2f} px outside {min(flows):.2f}..{max(flows):.2f}"
        )
    return problems


def test_built_in_extension_has_no_visible_seam() -> None:
    clip = shot()
    ctx = FakeContext()
    out = run_node(EXTEND, ctx, {"video": clip}, frames=12)["video"]
    assert len(out) == len(clip) + 12 and out.fps == clip.fps
    assert np.array_equal(out.frames[: len(clip)], clip.frames)
    assert ctx.said("carrying the clip's drift")
    assert seam_problems(out, len(clip)) == []


def test_a_frozen_frame_fails_the_seam_check() -> None:
    clip = shot()
    extended = run_node(EXTEND, FakeContext(), {"video": clip}, frames=12)["video"]
    frozen = np.concatenate([clip.frames, clip.frames[-1:], extended.frames[len(clip) :]])
    problems = seam_problems(Video(frozen, clip.fps), len(clip))
    assert problems and "flow across the seam" in problems[0]
    # Without carrying the motion, a still continuation stops dead: the check sees it too.
    still = run_node(EXTEND, FakeContext(), {"video": clip}, frames=12, carry_motion=False)
    assert seam_problems(still["video"], len(clip))


def test_the_extension_takes_its_own_camera_move() -> None:
    clip = shot()
    tilt = Motion(camera=CameraMove(tilt=0.2, ease="linear"))
    out = run_node(EXTEND, FakeContext(), {"video": clip, "motion": tilt}, frames=8)["video"]
    estimator = FlowEstimator("best")
    a, b = out.frames[-2], out.frames[-1]
    pair = estimator.pair(estimator.grey(a), estimator.grey(b), a.shape[1])
    assert np.median(pair.ab[..., 1]) > 1.0  # the picture slides down: the camera tilts up
    assert abs(np.median(pair.ab[..., 0])) < 0.5  # and no longer pans


def test_seam_grade_pulls_a_tint_back() -> None:
    last = np.full((8, 8, 3), 100, np.uint8)
    tinted = np.full((6, 8, 8, 3), (140, 100, 100), np.uint8)
    graded = match_seam(tinted, last, 4)
    assert abs(int(graded[0, 0, 0, 0]) - 100) <= 1  # at the seam: the last frame's colour
    assert graded[4, 0, 0, 0] == 140 and graded[2, 0, 0, 0] < 140  # then fades back


def test_sound_and_cut_markers_are_kept() -> None:
    frames = np.full((8, 16, 16, 3), 90, np.uint8)
    sound = Audio(np.full((16000, 1), 0.25, np.float32), 8000)  # 2 s under 1 s of picture
    clip = Video(frames, 8.0, sound, cuts=(4,))
    out = run_node(EXTEND, FakeContext(), {"video": clip}, frames=4)["video"]
    assert out.cuts == (4,) and len(out) == 12
    assert out.audio.duration_s == pytest.approx(1.5)  # the music plays on under the new frames
    assert out.audio.samples[-1, 0] == pytest.approx(0.25)


def test_bad_input_says_why() -> None:
    empty = Video(np.zeros((0, 8, 8, 3), np.uint8), 8.0)
    with pytest.raises(NodeError, match="empty"):
        run_node(EXTEND, FakeContext(), {"video": empty})
    clip = Video(np.zeros((3, 16, 16, 3), np.uint8), 8.0)
    with pytest.raises(NodeError, match="needs a diffusion model"):
        run_node(EXTEND, FakeContext(), {"video": clip, "last_image": clip.frames[0]})


def test_editing_segment_three_reruns_only_segments_three_on(tmp_path: Path) -> None:
    graph = Graph(default_registry())
    key = graph.add("SampleImage").id
    shot_node = graph.add("ImageToVideo", params={"frames": 5, "width": 64, "height": 48})
    graph.connect(key, "image", shot_node.id, "image")
    previous, segments = shot_node.id, []
    for _ in range(4):
        segment = graph.add("Extend", params={"frames": 3, "carry_motion": False}).id
        graph.connect(previous, "video", segment, "video")
        segments.append(previous := segment)
    engine = Engine(graph.registry, Cache(tmp_path / "cache", disk_min_seconds=0))
    first = engine.run(graph, output_dir=tmp_path)
    assert first.status == "ok" and len(first.outputs[segments[-1]]["video"]) == 5 + 4 * 3
    graph.node(segments[2]).set_param("seed", 7)
    again = engine.run(graph, output_dir=tmp_path)
    assert again.executed == segments[2:]


# -- diffusion backends (tiny random models built in code) -------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    from tiny_models import build_ltx_i2v, build_wan_i2v, build_wan_vace, one_torch_thread

    root = tmp_path_factory.mktemp("extend-models")
    with one_torch_thread():
        yield {
            "wan": build_wan_i2v(root / "wan"),
            "vace": build_wan_vace(root / "vace"),
            "ltx": build_ltx_i2v(root / "ltx"),
        }


def _spy_context():
    from test_diffusion_video import SHARED, SpyManager

    from studio.engine.testing import FakeRunContext

    spy = SpyManager()
    return FakeRunContext(models=spy), spy, SHARED


def test_vace_extension_keeps_the_last_frames_as_context(tiny) -> None:
    ctx, spy, _ = _spy_context()
    frames = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    clip = Video(frames, 8.0)
    params = {"model": str(tiny["vace"]), "frames": 6, "context": 3, "steps": 2}
    params.update(seam=0, carry_motion=False)  # random frames: no drift to carry
    out = run_node(EXTEND, ctx, {"video": clip}, **params)["video"]
    assert len(out) == 12 and np.array_equal(out.frames[:6], frames)
    call = spy.calls[0]
    assert call["num_frames"] == 9  # 3 context + 6 new, on Wan's 4k+1 rule
    control = np.stack([np.asarray(f) for f in call["video"]])
    masks = np.stack([np.asarray(m) for m in call["mask"]])
    assert np.array_equal(control[:3], frames[-3:])  # the clip's end leads the new clip
    assert masks[:3].max() == 0 and masks[3:].min() == 255


def test_wan_i2v_extension_starts_from_the_last_frame(tiny) -> None:
    ctx, spy, _ = _spy_context()
    frames = np.random.default_rng(2).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    params = {"model": str(tiny["wan"]), "frames": 4, "steps": 2}
    out = run_node(EXTEND, ctx, {"video": Video(frames, 8.0)}, **params)["video"]
    assert len(out) == 8
    call = spy.calls[0]
    assert call["num_frames"] == 5 and np.array_equal(np.asarray(call["image"]), frames[-1])


def test_ltx_extension_conditions_on_the_last_nine_frames(tiny) -> None:
    ctx, spy, _ = _spy_context()
    frames = np.random.default_rng(3).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    params = {"model": str(tiny["ltx"]), "frames": 8, "context": 12, "steps": 2}
    params.update(carry_motion=False)
    out = run_node(EXTEND, ctx, {"video": Video(frames, 8.0)}, **params)["video"]
    assert len(out) == 18
    call = spy.calls[0]
    assert call["num_frames"] == 17  # 9 context + 8 new, on LTX's 8k+1 rule
    (condition,) = call["conditions"]
    assert condition.strength == 1.0 and condition.frame_index == 0
    kept = np.stack([np.asarray(f) for f in condition.video])
    assert np.array_equal(kept, frames[-9:])
