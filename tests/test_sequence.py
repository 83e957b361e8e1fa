"""Sequence: order, transitions, conforming (and saying so), sound across cuts, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from stage_helpers import FakeContext, run_node
from sync_helpers import flash_clip, sync_error_frames

from nodes.sequence import SEQUENCE, parse_joins
from studio.graph.spec import NodeError
from studio.graph.types import Audio, Video


def flat(value: int, count: int, fps: float = 10.0, size=(16, 12), audio=None) -> Video:
    return Video(np.full((count, size[1], size[0], 3), value, np.uint8), fps, audio)


def levels(video: Video) -> list[int]:
    return [int(round(f.mean())) for f in video.frames]


def test_clips_follow_slot_order_with_cut_markers() -> None:
    ctx = FakeContext()
    inputs = {"clip_2": flat(30, 3), "clip_0": flat(200, 4), "clip_1": None, "clip_5": flat(90, 2)}
    out = run_node(SEQUENCE, ctx, inputs)["video"]
    assert levels(out) == [200] * 4 + [30] * 3 + [90] * 2
    assert out.cuts == (4, 7) and out.fps == 10.0
    assert ctx.said("3 clip(s) -> 9 frames")


def test_crossfade_and_dip_to_black() -> None:
    inputs = {"clip_0": flat(200, 10), "clip_1": flat(40, 10)}
    mixed = run_node(SEQUENCE, FakeContext(), inputs, transition="crossfade", length=0.4)["video"]
    assert len(mixed) == 16 and mixed.cuts == (6,)
    fade = levels(mixed)[6:10]
    assert fade == sorted(fade, reverse=True) and 40 < min(fade) and max(fade) < 200
    assert levels(mixed)[:6] == [200] * 6 and levels(mixed)[10:] == [40] * 6
    dip = run_node(SEQUENCE, FakeContext(), inputs, transition="dip to black", length=0.4)["video"]
    assert len(dip) == 20 and dip.cuts == (10,)
    assert levels(dip)[9] < 80 and levels(dip)[10] < 20  # down towards black and up again
    assert levels(dip)[:8] == [200] * 8 and levels(dip)[12:] == [40] * 8


def test_per_cut_transitions() -> None:
    joins = parse_joins("cut, crossfade 0.2,", "dip to black", 0.5, 3, 10.0)
    assert [(j.kind, j.frames) for j in joins] == [
        ("cut", 0),
        ("crossfade", 2),
        ("dip to black", 5),
    ]
    inputs = {f"clip_{i}": flat(50 * (i + 1), 6) for i in range(3)}
    out = run_node(SEQUENCE, FakeContext(), inputs, per_cut="crossfade 0.3, cut")["video"]
    assert len(out) == 15 and out.cuts == (3, 9)
    for text, reason in (("wipe", "cannot read 'wipe'"), ("cut, cut, cut", "3 transitions")):
        with pytest.raises(NodeError, match=reason):
            run_node(SEQUENCE, FakeContext(), inputs, per_cut=text)


def test_sizes_and_rates_are_conformed_and_reported() -> None:
    ctx = FakeContext()
    wide = flat(120, 10, fps=20.0, size=(32, 12))
    out = run_node(SEQUENCE, ctx, {"clip_0": flat(200, 5), "clip_1": wide})["video"]
    assert (out.width, out.height) == (16, 12) and len(out) == 5 + 5
    assert ctx.said("conformed clip_1: 32x12 -> 16x12 (fit), 20 -> 10 fps")
    bars = out.frames[-1]
    assert bars[0].mean() == 0 and bars[6].mean() == 120  # letterboxed: black above, picture
    filled = run_node(SEQUENCE, FakeContext(), {"clip_0": flat(200, 5), "clip_1": wide}, fit="fill")
    assert filled["video"].frames[-1].min() == 120
    with pytest.raises(NodeError, match="clip_1 is 32x12 but clip_0 is 16x12"):
        run_node(SEQUENCE, FakeContext(), {"clip_0": flat(200, 5), "clip_1": wide}, conform=False)


def test_bad_input_says_why() -> None:
    with pytest.raises(NodeError, match="connect at least one clip"):
        run_node(SEQUENCE, FakeContext(), {"clip_0": None})
    empty = Video(np.zeros((0, 12, 16, 3), np.uint8), 10.0)
    with pytest.raises(NodeError, match="clip_1 is empty"):
        run_node(SEQUENCE, FakeContext(), {"clip_0": flat(10, 3), "clip_1": empty})


@pytest.mark.parametrize("transition", ["cut", "crossfade", "dip to black"])
def test_sound_follows_picture_across_cuts(transition: str) -> None:
    quiet = Audio(np.zeros((8000, 2), np.float32), 8000)
    first = flat(20, 12, fps=12.0, size=(32, 24), audio=quiet)  # 1 s of dark silence
    second = flash_clip()  # flash and tone at its frame 9
    silent = flat(20, 6, fps=12.0, size=(32, 24))  # no sound at all: silence under it
    inputs = {"clip_0": first, "clip_1": second, "clip_2": silent}
    out = run_node(SEQUENCE, FakeContext(), inputs, transition=transition, length=0.25)["video"]
    assert sync_error_frames(out) <= 1.0
    assert abs(out.audio.duration_s - out.duration_s) < 1e-3
    assert np.abs(out.audio.samples[-round(0.4 * 8000) :]).max() == 0  # the silent clip
