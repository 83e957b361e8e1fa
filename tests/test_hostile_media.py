"""Hostile or damaged input files: checked by type, size and header before anything is read."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from stage_helpers import run_node

from nodes.io.images import LOAD_IMAGE, image_size
from nodes.io.video import LOAD_VIDEO
from studio.engine.testing import FakeRunContext
from studio.graph.fileformat import WorkflowFileError, load
from studio.graph.graph import Graph
from studio.graph.spec import NodeError
from studio.graph.validate import validate


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


def write_clip(path: Path, frames: int = 48) -> None:
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.options = {"g": "12"}
        for i in range(frames):
            image = rng.integers(0, 40, (96, 128, 3), dtype=np.uint8)
            image[:, (i * 2) % 100 : (i * 2) % 100 + 20] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_a_damaged_movie_says_how_many_frames_failed(tmp_path):
    good, bad = tmp_path / "good.mp4", tmp_path / "bad.mp4"
    write_clip(good)
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(1)
    for offset in rng.integers(len(data) // 4, len(data) * 3 // 4, 40):
        data[offset] ^= 0xFF  # bytes flipped mid-file
    bad.write_bytes(bytes(data))
    ctx = FakeRunContext()
    assert len(run_node(LOAD_VIDEO, ctx, path=str(good))["video"]) == 48
    assert not ctx.said("failed to decode")
    with pytest.raises(NodeError, match=r"\d+ frame\(s\) of bad.mp4 failed to decode") as info:
        run_node(LOAD_VIDEO, FakeRunContext(), path=str(bad))
    assert "on_decode_error" in str(info.value)
    ctx = FakeRunContext()
    video = run_node(LOAD_VIDEO, ctx, path=str(bad), on_decode_error="warn")["video"]
    assert len(video) > 0 and ctx.said("failed to decode")


def test_a_workflow_from_a_device_or_a_fifo_is_refused_without_reading(registry, fifo):
    with pytest.raises(WorkflowFileError, match="not a regular file"):
        load("/dev/zero", registry)
    with pytest.raises(WorkflowFileError, match="not a regular file"):
        load(fifo, registry)  # no writer: opening it plainly would wait forever
    with pytest.raises(WorkflowFileError, match="a folder"):
        load(fifo.parent, registry)


def test_a_huge_sparse_png_is_refused_before_reading(tmp_path, monkeypatch):
    sparse = tmp_path / "huge.png"
    with open(sparse, "wb") as handle:
        handle.write(png_header(64, 64))
        handle.truncate(16 * 1024**3)  # 16 GB, no blocks on disk
    monkeypatch.setattr(np, "fromfile", lambda *a, **k: pytest.fail("read the whole file"))
    with pytest.raises(NodeError, match="far too large for a picture"):
        run_node(LOAD_IMAGE, FakeRunContext(), path=str(sparse))


def test_a_20000_px_square_png_is_refused_by_its_header(tmp_path, monkeypatch, registry):
    big = tmp_path / "big.png"
    big.write_bytes(png_header(20000, 20000) + b"\0" * 1000)
    assert image_size(big) == (20000, 20000)
    monkeypatch.setattr(np, "fromfile", lambda *a, **k: pytest.fail("decoded it"))
    with pytest.raises(NodeError, match="20000x20000 px; at most 100 megapixels"):
        run_node(LOAD_IMAGE, FakeRunContext(), path=str(big))
    graph = Graph(registry)
    node = graph.add("LoadImage", params={"path": str(big)})
    assert any("20000x20000" in p.message for p in validate(graph, [node.id]))


def test_a_jpeg_header_is_read_without_decoding(tmp_path):
    import cv2

    path = tmp_path / "a.jpg"
    cv2.imwrite(str(path), np.zeros((30, 50, 3), np.uint8))
    assert image_size(path) == (50, 30)


def test_load_nodes_refuse_pipes(tmp_path, fifo, registry):
    with pytest.raises(NodeError, match="not a regular file"):
        run_node(LOAD_IMAGE, FakeRunContext(), path=str(fifo))
    with pytest.raises(NodeError, match="not a regular file"):
        run_node(LOAD_VIDEO, FakeRunContext(), path=str(fifo))
    graph = Graph(registry)
    video = graph.add("LoadVideo", params={"path": str(tmp_path / "missing.mp4")})
    assert [p.message for p in validate(graph, [video.id])] == [
        f"video not found: {tmp_path / 'missing.mp4'}"
    ]
