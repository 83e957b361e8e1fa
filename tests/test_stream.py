"""Long clips in bounded memory: big clip buffers live in scratch files that the disk cache
adopts; the spilled path gives the same pixels as the in-RAM one; cancelled and failed nodes
leave no scratch files; a clip larger than the process's memory limit renders."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from stream_clips import write_pan_clip

from studio.engine import Cache, Engine
from studio.engine.cancel import CancelToken
from studio.engine.frames import SPILL_ENV, FrameAllocator, scratch_file, sweep
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeError, NodeSpec, Port
from studio.graph.types import PortType
from studio.session.catalog import default_registry

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pan_clip(tmp_path_factory.mktemp("clip") / "pan.mp4", frames=24, size=(96, 64))


def chain(registry: NodeRegistry, clip: Path) -> tuple[Graph, dict[str, str]]:
    graph = Graph(registry)
    load = graph.add("LoadVideo", title="Load")
    load.set_param("path", str(clip))
    stab = graph.add("Stabilize", title="Stabilize")
    up = graph.add("Upscale", title="Upscale")
    up.set_param("method", "lanczos")
    graph.connect(load.id, "video", stab.id, "video")
    graph.connect(stab.id, "video", up.id, "video")
    return graph, {"load": load.id, "stab": stab.id, "up": up.id}


def render(graph: Graph, ids: dict[str, str], cache: Cache, **kwargs):  # noqa: ANN201
    result = Engine(graph.registry, cache).run(graph, [ids["up"]], output_dir=Path("o"), **kwargs)
    cache.flush()
    return result


def test_spilled_clips_equal_the_in_ram_path_and_the_cache_adopts_them(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = default_registry(plugins=False)
    graph, ids = chain(registry, clip)
    monkeypatch.setenv(SPILL_ENV, str(1 << 40))  # everything in RAM
    in_ram = render(graph, ids, Cache(tmp_path / "ram"))
    monkeypatch.setenv(SPILL_ENV, "1000")  # every clip to a scratch file
    cache = Cache(tmp_path / "spill")
    spilled = render(graph, ids, cache)
    assert in_ram.status == spilled.status == "ok"
    a, b = in_ram.outputs[ids["up"]]["video"], spilled.outputs[ids["up"]]["video"]
    assert not isinstance(a.frames, np.memmap) and isinstance(b.frames, np.memmap)
    np.testing.assert_array_equal(a.frames, b.frames)  # bit-identical, every frame
    # The disk cache took the scratch files as its blobs (renamed, not copied) ...
    assert list(cache.scratch_dir.iterdir()) == []
    blob = Path(b.frames.filename)  # the mapping follows its file to the entry
    assert cache.disk is not None and cache.disk.root in blob.parents or not blob.exists()
    # ... and they read back from the cache in a new engine as the same pixels.
    again = render(graph, ids, Cache(tmp_path / "spill"))
    assert again.executed == []
    np.testing.assert_array_equal(again.outputs[ids["up"]]["video"].frames, a.frames)


def test_a_cancelled_node_leaves_no_scratch_files(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SPILL_ENV, "1000")
    graph, ids = chain(default_registry(plugins=False), clip)
    cache = Cache(tmp_path / "cache")
    token = CancelToken()

    def cancel_midway(event) -> None:  # noqa: ANN001
        if event.kind == "node_progress" and event.node_id == ids["up"] and event.step == 5:
            token.cancel()  # mid-clip: Upscale's buffer exists and is half written

    result = render(graph, ids, cache, cancel=token, on_event=cancel_midway)
    assert result.status == "cancelled"
    assert list(cache.scratch_dir.iterdir()) == []


def test_a_failed_node_leaves_no_scratch_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def run(ctx, inputs, params):  # noqa: ANN001, ANN202
        buffer = ctx.new_frames((50, 64, 64, 3))
        assert scratch_file(buffer) is not None
        raise NodeError("the model ran out of ideas")

    spec = NodeSpec("Broken", "Broken", "Test", run, outputs=(Port("video", PortType.VIDEO),))
    graph = Graph(NodeRegistry([spec]))
    node = graph.add("Broken")
    monkeypatch.setenv(SPILL_ENV, "1000")
    cache = Cache(tmp_path / "cache")
    result = Engine(graph.registry, cache).run(graph, [node.id], output_dir=tmp_path)
    assert result.status == "failed"
    assert list(cache.scratch_dir.iterdir()) == []


def test_scratch_buffers_shrink_in_place_and_orphans_are_swept(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    frames = FrameAllocator(scratch, threshold=0)
    buffer = frames.new_frames((10, 4, 4, 3))
    buffer[:] = 7
    path = scratch_file(buffer)
    assert path is not None and path.name.startswith(f"{os.getpid()}-")
    short = frames.shrink(buffer, 6)
    assert short.shape == (6, 4, 4, 3) and scratch_file(short) == path
    assert np.load(path, mmap_mode="r").shape == (6, 4, 4, 3)  # a real .npy, still whole
    del buffer, short
    assert not path.exists()  # nothing maps it any more
    dead = scratch / f"{2**22 + 12345}-{'0' * 32}.npy"  # a pid no process has
    dead.write_bytes(b"left by a killed render")
    assert sweep(scratch) == 1 and not dead.exists()


def test_a_clip_larger_than_the_memory_limit_renders(tmp_path: Path) -> None:
    """In a child whose data segment (all anonymous memory) is capped at what it uses after
    imports plus 160 MB, a clip of 160 x 480x270 frames is loaded, stabilized and upscaled x2:
    62 MB in, 249 MB out, 435 MB of clips in all, which the in-RAM path could not hold."""
    clip = write_pan_clip(tmp_path / "long.mp4", frames=160, size=(480, 270))
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        import numpy, cv2, av
        from studio.engine import Cache, Engine
        from studio.session.catalog import default_registry
        from test_stream import chain
        graph, ids = chain(default_registry(plugins=False), Path({str(clip)!r}))
        used = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmData"))
        limit = used * 1024 + 160 * 1024**2
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        result = Engine(graph.registry, Cache(Path({str(tmp_path / "cache")!r}))).run(
            graph, [ids["up"]], output_dir=Path({str(tmp_path)!r}))
        print(result.status, result.errors, file=sys.stderr)
        video = result.outputs[ids["up"]]["video"]
        print(result.status, len(video), video.width, video.height, result.errors)
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", SPILL_ENV: str(32 * 1024**2)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[:4] == ["ok", "160", "960", "540"], done.stdout


def test_a_finished_node_keeps_only_the_scratch_files_its_result_holds(tmp_path: Path) -> None:
    from studio.graph.types import Video

    frames = FrameAllocator(tmp_path / "scratch", threshold=0)
    outgrown = frames.new_frames((4, 2, 2, 3))  # e.g. a buffer a longer clip outgrew
    outgrown[:] = 7
    kept = frames.shrink(frames.new_frames((6, 2, 2, 3)), 5)
    frames.release_unused({"video": Video(kept, 12.0)})
    # Deleted now, though something (a caught traceback, say) still maps it; still readable.
    assert scratch_file(outgrown) is None and int(outgrown.max()) == 7
    assert scratch_file(kept) is not None
    assert sorted(tmp_path.joinpath("scratch").iterdir()) == [scratch_file(kept)]
