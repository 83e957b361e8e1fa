"""Load/Save image and video, SampleImage, and reading a rendered clip's workflow back."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from stage_helpers import photo, run_node

from nodes.io import read_embedded_workflow
from nodes.io.images import LOAD_IMAGE, PHOTOS, SAMPLE_IMAGE, SAVE_IMAGE
from nodes.io.save_video import SAVE_VIDEO
from nodes.io.video import LOAD_VIDEO
from studio.engine.testing import FakeRunContext
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Video

WORKFLOW = json.dumps(
    {
        "format_version": 2,
        "nodes": {"a1": {"type": "ImageToVideo", "title": "Animate", "params": {"seed": 1234}}},
        "edges": [],
    }
)


@pytest.fixture(scope="module")
def clip() -> Video:
    """Eight frames of a photograph drifting right: real content, small and quick to encode."""
    image = photo("chelsea", (96, 64))
    frames = np.stack([np.roll(image, 2 * t, axis=1) for t in range(8)])
    return Video(frames, 12.0)


def save_clip(tmp_path: Path, video: Video, **params: object) -> tuple[FakeRunContext, list[str]]:
    ctx = FakeRunContext(tmp_path / "out", WORKFLOW)
    files = run_node(SAVE_VIDEO, ctx, {"video": video}, **params)["files"]
    return ctx, files


# -- images --------------------------------------------------------------------------------------


def test_load_image_reads_rgb(tmp_path: Path) -> None:
    image = np.zeros((20, 30, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    cv2.imwrite(str(tmp_path / "red.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    ctx = FakeRunContext()
    loaded = run_node(LOAD_IMAGE, ctx, path=str(tmp_path / "red.png"))["image"]
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, image)
    assert ctx.said("30x20 px") and ctx.progress_calls


def test_load_image_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="no image file chosen"):
        run_node(LOAD_IMAGE, FakeRunContext(), path="")
    with pytest.raises(NodeError, match="image file not found: .*missing.png"):
        run_node(LOAD_IMAGE, FakeRunContext(), path=str(tmp_path / "missing.png"))
    (tmp_path / "junk.png").write_bytes(b"this is not a picture")
    with pytest.raises(NodeError, match="junk.png is not an image"):
        run_node(LOAD_IMAGE, FakeRunContext(), path=str(tmp_path / "junk.png"))


@pytest.mark.parametrize("name", ["astronaut", "camera", "motorcycle_left"])
def test_sample_image_gives_rgb_photographs(name: str) -> None:
    assert name in PHOTOS
    image = run_node(SAMPLE_IMAGE, FakeRunContext(), photo=name)["image"]
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert image.std() > 20  # a real photograph, not a flat fill


def test_save_image_writes_png_take_with_workflow_and_still_valid(tmp_path: Path) -> None:
    from PIL import Image

    image = photo("coffee", (40, 30))
    ctx = FakeRunContext(tmp_path, WORKFLOW)
    outputs = run_node(SAVE_IMAGE, ctx, {"image": image}, filename="../escape/key")
    path, sidecar = outputs["files"]
    assert Path(path) == tmp_path / "key" / "key_v001.png"  # never outside the output folder
    assert outputs["take"] == "key_v001"
    with Image.open(path) as png:
        assert np.array_equal(np.asarray(png), image)
        assert json.loads(png.text["workflow"])["nodes"] == json.loads(WORKFLOW)["nodes"]
    assert json.loads(Path(sidecar).read_text())["metadata"]["take"]["number"] == 1
    assert SAVE_IMAGE.still_valid is not None and SAVE_IMAGE.still_valid(outputs)
    Path(path).unlink()
    assert not SAVE_IMAGE.still_valid(outputs)


# -- SaveVideo -----------------------------------------------------------------------------------


def test_save_video_writes_h264_with_embedded_workflow(tmp_path: Path, clip: Video) -> None:
    import av

    ctx, files = save_clip(tmp_path, clip, filename="shot", crf=12)
    mp4, poster, sidecar = (Path(f) for f in files)
    folder = tmp_path / "out" / "shot"
    assert mp4 == folder / "shot_v001.mp4" and poster == folder / "shot_v001_poster.png"
    assert sidecar == folder / "shot_v001.json"
    nodes = json.loads(WORKFLOW)["nodes"]
    assert json.loads(sidecar.read_text())["nodes"] == nodes
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert json.loads(container.metadata["comment"])["nodes"] == nodes
        assert "1234" in container.metadata["description"]  # the seed
    embedded = read_embedded_workflow(mp4)
    assert embedded is not None and json.loads(embedded)["nodes"] == nodes
    sidecar.unlink()  # the mp4 alone still carries it
    assert read_embedded_workflow(mp4) == embedded
    assert ctx.said("saved take shot_v001") and len(ctx.progress_calls) >= len(clip)
    assert sorted(p.name for p in folder.iterdir()) == ["shot_v001.mp4", "shot_v001_poster.png"]


def test_saved_video_loads_back_with_fps(tmp_path: Path, clip: Video) -> None:
    _, files = save_clip(tmp_path, clip, crf=8)
    ctx = FakeRunContext()
    loaded = run_node(LOAD_VIDEO, ctx, path=files[0])["video"]
    assert loaded.fps == pytest.approx(12.0)
    assert loaded.frames.shape == clip.frames.shape
    error = np.abs(loaded.frames.astype(int) - clip.frames.astype(int)).mean()
    assert error < 3  # H.264 at crf 8 is close to lossless
    part = run_node(LOAD_VIDEO, FakeRunContext(), path=files[0], start_frame=3, max_frames=2)[
        "video"
    ]
    assert len(part) == 2
    assert np.abs(part.frames[0].astype(int) - loaded.frames[3]).mean() < 1


def test_save_video_png_sequence_and_still_valid(tmp_path: Path, clip: Video) -> None:
    ctx = FakeRunContext(tmp_path / "out", WORKFLOW)
    outputs = run_node(SAVE_VIDEO, ctx, {"video": clip}, also_png_sequence=True)
    files = outputs["files"]
    folder = Path(files[2])
    assert folder.name == "shot_v001_frames"
    pngs = sorted(folder.glob("frame_*.png"))
    assert len(pngs) == len(clip)
    assert np.array_equal(cv2.imread(str(pngs[4]))[..., ::-1], clip.frames[4])
    assert SAVE_VIDEO.still_valid is not None and SAVE_VIDEO.still_valid(outputs)
    assert not SAVE_VIDEO.still_valid({"files": files})  # a result from before takes
    Path(files[0]).unlink()
    assert not SAVE_VIDEO.still_valid(outputs)


def test_save_video_bad_clips(tmp_path: Path, clip: Video) -> None:
    empty = Video(np.zeros((0, 16, 16, 3), np.uint8), 12.0)
    with pytest.raises(NodeError, match="the clip is empty \\(0 frames\\)"):
        save_clip(tmp_path, empty)
    ctx, files = save_clip(tmp_path, Video(clip.frames[:1], 12.0), filename="still")
    assert ctx.said("single frame") and Path(files[0]).stat().st_size > 0
    ctx, _ = save_clip(tmp_path, Video(np.zeros((2, 33, 47, 3), np.uint8), 12.0), filename="odd")
    assert ctx.said("every frame is black") and ctx.said("odd side")
    with pytest.raises(NodeError, match="'video' must be a clip"):
        run_node(SAVE_VIDEO, FakeRunContext(tmp_path), {"video": clip.frames})


def test_cancelled_save_leaves_no_file(tmp_path: Path, clip: Video) -> None:
    ctx = FakeRunContext(tmp_path, WORKFLOW, cancel_after=3)
    with pytest.raises(Cancelled):
        run_node(SAVE_VIDEO, ctx, {"video": clip}, filename="halfway")
    assert list(tmp_path.iterdir()) == []


def test_read_embedded_workflow_without_one(tmp_path: Path, clip: Video) -> None:
    assert read_embedded_workflow(tmp_path / "nothing.mp4") is None
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    assert read_embedded_workflow(tmp_path / "junk.mp4") is None
    ctx = FakeRunContext(tmp_path, "")  # rendered without a workflow
    files = run_node(SAVE_VIDEO, ctx, {"video": clip}, filename="bare")["files"]
    assert files[0] == str(tmp_path / "bare" / "bare_v001.mp4")
    assert read_embedded_workflow(files[0]) is None


# -- LoadVideo -----------------------------------------------------------------------------------


def write_sequence(folder: Path, count: int, size: tuple[int, int] = (24, 16)) -> list[np.ndarray]:
    folder.mkdir()
    frames = []
    for index in range(1, count + 1):
        frame = np.full((size[1], size[0], 3), index * 10, np.uint8)
        cv2.imwrite(str(folder / f"frame_{index}.png"), frame)  # unpadded: 10 after 9
        frames.append(frame)
    return frames


def test_load_png_sequence_in_numeric_order(tmp_path: Path) -> None:
    frames = write_sequence(tmp_path / "seq", 11)
    video = run_node(LOAD_VIDEO, FakeRunContext(), path=str(tmp_path / "seq"), sequence_fps=8.0)[
        "video"
    ]
    assert len(video) == 11 and video.fps == 8.0
    assert [int(f[0, 0, 0]) for f in video.frames] == [int(f[0, 0, 0]) for f in frames]
    part = run_node(LOAD_VIDEO, FakeRunContext(), path=str(tmp_path / "seq"), start_frame=9)[
        "video"
    ]
    assert [int(f[0, 0, 0]) for f in part.frames] == [100, 110]


def test_load_video_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="no video chosen"):
        run_node(LOAD_VIDEO, FakeRunContext(), path="")
    with pytest.raises(NodeError, match="video not found"):
        run_node(LOAD_VIDEO, FakeRunContext(), path=str(tmp_path / "gone.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"not a movie at all" * 10)
    with pytest.raises(NodeError, match="cannot read junk.mp4 as a video"):
        run_node(LOAD_VIDEO, FakeRunContext(), path=str(tmp_path / "junk.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(NodeError, match="holds no PNG frames"):
        run_node(LOAD_VIDEO, FakeRunContext(), path=str(tmp_path / "empty"))
    write_sequence(tmp_path / "seq", 3)
    with pytest.raises(NodeError, match="start frame 5 is past the end"):
        run_node(LOAD_VIDEO, FakeRunContext(), path=str(tmp_path / "seq"), start_frame=5)
    cv2.imwrite(str(tmp_path / "seq" / "frame_4.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(NodeError, match="frame_4.png is 8x8 px but the sequence started at 24x16"):
        run_node(LOAD_VIDEO, FakeRunContext(), path=str(tmp_path / "seq"))


def test_one_frame_video_is_reported(tmp_path: Path) -> None:
    write_sequence(tmp_path / "one", 1)
    ctx = FakeRunContext()
    video = run_node(LOAD_VIDEO, ctx, path=str(tmp_path / "one"))["video"]
    assert len(video) == 1 and ctx.said("single frame")
