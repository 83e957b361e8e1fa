"""Every node that makes a clip writes it into ``ctx.new_frames``: spilled to scratch files
(a tiny threshold) it gives the same pixels, bit for bit, as in RAM; temporal windows hand a
node the right neighbours at chunk edges."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine.cancel import CancelToken
from studio.engine.context import NodeContext
from studio.engine.frames import FrameAllocator, gather, is_mapped, prefetch, windows
from studio.graph.types import Audio, CameraMove, Motion, Video
from studio.session.catalog import default_registry

REGISTRY = default_registry(plugins=False)


def context(tmp_path: Path, threshold: int) -> NodeContext:
    return NodeContext(
        run_id="r",
        node_id="n",
        output_dir=tmp_path,
        cancel=CancelToken(),
        emit=lambda event: None,
        device=lambda: "cpu",
        workflow_json=lambda: "",
        frames=FrameAllocator(tmp_path / "scratch", threshold=threshold),
    )


def clip(count: int = 20, size: tuple[int, int] = (48, 32), fps: float = 12.0) -> Video:
    rng = np.random.default_rng(count)
    width, height = size
    base = rng.integers(0, 255, (height * 2, width * 2, 3), dtype=np.uint8)
    frames = np.stack([base[t % height : t % height + height, t : t + width] for t in range(count)])
    sound = Audio(rng.uniform(-0.5, 0.5, (int(count / fps * 8000), 1)).astype(np.float32), 8000)
    return Video(frames, fps, sound, (7,) if count > 8 else ())


def image() -> np.ndarray:
    return clip(1, (64, 48)).frames[0]


# (node, its inputs, params that differ from the defaults)
CASES: dict[str, tuple[str, Callable[[], dict[str, Any]], dict[str, Any]]] = {
    "trim": ("Trim", lambda: {"video": clip()}, {"in_point": 3.0, "out_point": 15.0}),
    "retime": (
        "Retime",
        lambda: {"video": clip()},
        {"speed": 0.7, "reverse": True, "hold_frame": 4, "hold_length": 3},
    ),
    "interpolate": ("Interpolate", lambda: {"video": clip()}, {"mode": "multiply", "factor": 2}),
    "sequence": (
        "Sequence",
        lambda: {"clip_0": clip(), "clip_1": clip(15, (40, 40), fps=24.0)},
        {"transition": "crossfade", "conform": True},
    ),
    "extend": (
        "Extend",
        lambda: {"video": clip(), "motion": Motion(camera=CameraMove(pan=0.2, zoom=1.3))},
        {"frames": 12},
    ),
    "image_to_video": (
        "ImageToVideo",
        lambda: {"image": image(), "motion": Motion(camera=CameraMove(roll=20.0))},
        {"frames": 14},
    ),
    "set_audio": ("SetAudio", lambda: {"video": clip(), "audio": None}, {"mode": "remove"}),
    "stabilize": ("Stabilize", lambda: {"video": clip(30)}, {"deflicker": True}),
    "upscale": ("Upscale", lambda: {"video": clip()}, {"method": "lanczos"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_spilled_output_is_bit_identical_to_the_in_ram_path(case: str, tmp_path: Path) -> None:
    type_id, make_inputs, changed = CASES[case]
    spec = REGISTRY[type_id]
    params = {p.name: p.default for p in spec.params} | changed
    outputs = []
    for threshold in (1 << 40, 0):  # all in RAM, then every clip in a scratch file
        ctx = context(tmp_path / str(threshold), threshold)
        outputs.append(spec.run(ctx, make_inputs(), params)["video"])
    in_ram, spilled = outputs
    assert not is_mapped(in_ram.frames)
    if case not in ("set_audio", "trim"):  # a pass-through and a view of the input
        assert is_mapped(spilled.frames), "the clip was not made in ctx.new_frames"
    np.testing.assert_array_equal(in_ram.frames, spilled.frames)
    assert in_ram.cuts == spilled.cuts and in_ram.fps == spilled.fps
    if in_ram.audio is not None:
        np.testing.assert_array_equal(in_ram.audio.samples, spilled.audio.samples)


def test_gather_is_fancy_indexing_a_chunk_at_a_time() -> None:
    frames = clip(9).frames
    source = [8, 0, 0, 3, 7, 7, 1, 2, 5, 4, 6]
    out = gather(frames, source, np.empty((len(source), *frames.shape[1:]), np.uint8), chunk=4)
    np.testing.assert_array_equal(out, frames[source])


@pytest.mark.parametrize(
    ("chunk", "before", "after"), [(4, 0, 1), (3, 2, 2), (5, 1, 0), (50, 3, 3)]
)
def test_a_temporal_window_has_the_right_neighbours_at_chunk_edges(
    chunk: int, before: int, after: int, tmp_path: Path
) -> None:
    count = 13
    stored = FrameAllocator(tmp_path, threshold=0).new_frames((count, 2, 2, 3))
    for t in range(count):
        stored[t] = t  # each frame says which it is
    seen = []
    for window in windows(stored, chunk, before, after, touch=True):
        for t in range(window.start, window.end):
            seen.append(t)
            for offset in range(-before, after + 1):
                if 0 <= t + offset < count:
                    assert int(window[t + offset][0, 0, 0]) == t + offset
        assert window.before == min(before, window.start)
        assert window.after == min(after, count - window.end)
        with pytest.raises(IndexError):
            window[window.first + len(window.block)]
    assert seen == list(range(count))  # every frame computed once, in order


def test_prefetch_reads_ahead_in_order_and_stops_with_its_consumer() -> None:
    produced: list[int] = []
    ahead = threading.Event()

    def numbers() -> Iterator[int]:
        for n in itertools.count():
            produced.append(n)
            if n == 2:
                ahead.set()
            yield n

    items = prefetch(numbers(), depth=2)
    assert next(items) == 0
    assert ahead.wait(30)  # item 2 was made while the consumer still held item 0
    assert [next(items) for _ in range(5)] == [1, 2, 3, 4, 5]
    items.close()  # the consumer stops early (cancelled): the producer stops too
    assert not any(t.name == "studio-prefetch" for t in threading.enumerate())
    assert len(produced) <= 6 + 2 + 1  # bounded: never more than the queue ahead


def test_prefetch_raises_the_producers_error_in_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(prefetch(failing(), depth=1))
    assert list(prefetch(iter([1, 2, 3]), depth=0)) == [1, 2, 3]  # 0: no thread


class Watched(np.ndarray):
    """A clip that records how it is indexed: a whole-clip read shows as a slice or array."""

    keys: list[Any]

    def __getitem__(self, key: Any) -> Any:
        Watched.keys.append(key)
        return np.asarray(self)[key]


def test_the_viewer_and_thumbnails_read_single_frames_of_a_clip() -> None:
    from studio.ui.queries import thumbnail_array
    from studio.ui.viewer.frame_source import FrameSource

    Watched.keys = []
    frames = clip(40, (320, 180)).frames.view(Watched)
    video = Video(frames, 24.0)
    Watched.keys.clear()
    thumb = thumbnail_array({"video": video})
    assert thumb is not None and thumb.shape[1] <= 216
    source = FrameSource(video, budget_bytes=8 * 320 * 180 * 3)
    try:
        for index in (0, 17, 39, 5):
            np.testing.assert_array_equal(source.frame(index), np.asarray(frames)[index])
    finally:
        source.close()
    assert Watched.keys and all(isinstance(k, (int, np.integer)) for k in Watched.keys), (
        Watched.keys
    )


def test_diffusion_output_converts_into_the_clip_buffer_a_few_frames_at_a_time(
    tmp_path: Path,
) -> None:
    from nodes.diffusion.pipelines import to_uint8
    from studio.graph.spec import NodeError

    rng = np.random.default_rng(3)
    decoded = rng.uniform(-0.2, 1.2, (21, 8, 12, 3)).astype(np.float16)
    expected = (np.clip(decoded.astype(np.float32), 0, 1) * 255.0 + 0.5).astype(np.uint8)
    out = to_uint8(decoded, "clip", FrameAllocator(tmp_path, threshold=0).new_frames)
    assert is_mapped(out)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(to_uint8(decoded[0], "image"), expected[0])
    decoded[17, 2, 3, 1] = np.nan
    with pytest.raises(NodeError, match="NaN"):
        to_uint8(decoded, "clip")


def test_a_full_disk_while_spilling_is_a_clear_error_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from studio.graph.spec import NodeError

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    frames = FrameAllocator(tmp_path / "scratch", threshold=0)
    with pytest.raises(NodeError, match="not enough disk space for a .* clip"):
        frames.new_frames((100, 64, 64, 3))
    assert list((tmp_path / "scratch").iterdir()) == [] and frames.made == []
