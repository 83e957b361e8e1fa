"""The two cache tiers: encoding by type, damage detection, budgets, and a warm restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from studio.engine import Cache, Engine, RunEvent, codecs, disk_cache
from studio.engine.disk_cache import CorruptEntry, DiskCache
from studio.engine.memory_cache import MemoryCache
from studio.graph.graph import Graph
from studio.graph.types import CameraMove, CameraPath, Motion, MotionBrushValue, Video

ROOT = Path(__file__).resolve().parents[1]


def sample_value() -> dict:
    rng = np.random.default_rng(0)
    brush = MotionBrushValue(
        region=rng.random((8, 8), dtype=np.float32),
        trajectory=((0.1, 0.2), (0.5, 0.6)),
        name="boat",
        scale=1.5,
    )
    return {
        "video": Video(rng.integers(0, 255, (5, 6, 8, 3), dtype=np.uint8), 24.0),
        "mask": rng.random((6, 8), dtype=np.float32),
        "motion": Motion(brushes=(brush,), camera=CameraMove(pan=0.1, zoom=1.2)),
        "path": CameraPath(
            raw=np.zeros((5, 4)), smoothed=np.ones((5, 4)), cuts=(2,), luma_before=np.arange(5.0)
        ),
        "files": [Path("out/a.mp4"), "b.png"],
        "meta": {"n": 3, "ok": True, "none": None, "ratio": float("inf"), "t": (1, 2)},
    }


def assert_same(value: dict, loaded: dict) -> None:
    assert set(loaded) == set(value)
    np.testing.assert_array_equal(loaded["video"].frames, value["video"].frames)
    assert loaded["video"].fps == 24.0
    np.testing.assert_array_equal(loaded["mask"], value["mask"])
    assert loaded["mask"].dtype == np.float32
    brush = loaded["motion"].brushes[0]
    assert brush.trajectory == ((0.1, 0.2), (0.5, 0.6)) and brush.name == "boat"
    np.testing.assert_array_equal(brush.region, value["motion"].brushes[0].region)
    assert loaded["motion"].camera == CameraMove(pan=0.1, zoom=1.2)
    assert loaded["path"].cuts == (2,) and loaded["path"].luma_after is None
    np.testing.assert_array_equal(loaded["path"].luma_before, np.arange(5.0))
    assert loaded["files"] == [Path("out/a.mp4"), "b.png"]
    assert loaded["meta"] == {"n": 3, "ok": True, "none": None, "ratio": float("inf"), "t": (1, 2)}


def test_disk_round_trip_keeps_every_type(tmp_path):
    disk = DiskCache(tmp_path)
    value = sample_value()
    disk.put("ab" * 20, value)
    loaded = DiskCache(tmp_path).get("ab" * 20)
    assert_same(value, loaded)
    assert isinstance(loaded["video"].frames, np.memmap)  # one chunk: mapped, not copied
    files = list((tmp_path / "entries").rglob("*"))
    assert not any(f.suffix == ".pkl" for f in files)


def test_a_long_video_is_one_memory_map_checksummed_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(disk_cache, "CHECKSUM_CHUNK", 2 * 6 * 8 * 3)  # two frames a chunk
    frames = np.arange(5 * 6 * 8 * 3, dtype=np.uint32).astype(np.uint8).reshape(5, 6, 8, 3)
    disk = DiskCache(tmp_path)
    disk.put("cd" * 20, {"video": Video(frames, 8.0)})
    entry = tmp_path / "entries" / "cd" / ("cd" * 20)
    (blob,) = entry.glob("*.npy")
    loaded = disk.get("cd" * 20)["video"].frames
    assert isinstance(loaded, np.memmap)  # not copied into memory, however long
    np.testing.assert_array_equal(loaded, frames)
    del loaded
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF  # damage the last frame: found by the last chunk's checksum
    blob.write_bytes(bytes(data))
    with pytest.raises(CorruptEntry, match="fails its checksum at bytes"):
        disk.get("cd" * 20)


def test_values_it_cannot_encode_are_refused_not_pickled(tmp_path):
    with pytest.raises(codecs.UnsupportedValue, match="object"):
        DiskCache(tmp_path).put("ef" * 20, {"x": object()})
    assert not list((tmp_path / "entries").rglob("manifest.json"))
    messages: list[str] = []
    cache = Cache(tmp_path, disk_min_seconds=0)
    cache.put("ef" * 20, {"x": object()}, messages.append)
    cache.flush()
    assert cache.get("ef" * 20) is not None  # still served from memory
    assert "cannot store" in messages[0]


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest", "manifest-bit", "missing"])
def test_damaged_entry_is_detected_and_discarded(tmp_path, damage):
    key = "12" * 20
    DiskCache(tmp_path).put(key, {"a": np.arange(1000)})
    entry = tmp_path / "entries" / key[:2] / key
    blob = entry / "0.npy"
    if damage == "flip":
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0xFF
        blob.write_bytes(bytes(data))
    elif damage == "truncate":
        blob.write_bytes(blob.read_bytes()[:100])
    elif damage == "manifest":
        (entry / "manifest.json").write_text('{"format": 1, "key"')
    elif damage == "manifest-bit":
        manifest = entry / "manifest.json"
        manifest.write_text(manifest.read_text().replace('"format": 2', '"format": 7'))
    else:
        blob.unlink()
    messages: list[str] = []
    assert Cache(tmp_path, disk_min_seconds=0).get(key, messages.append) is None
    assert "damaged" in messages[0]
    assert not entry.exists()


def test_corrupt_entry_is_recomputed_with_a_message(tmp_path):
    from test_engine_scheduler import Stubs, chain

    stubs = Stubs()
    graph = Graph(stubs.registry)
    a, b = chain(graph, "Const", "Add")
    Engine(stubs.registry, Cache(tmp_path / "c", disk_min_seconds=0)).run(
        graph, output_dir=tmp_path
    )
    key = Engine(stubs.registry, Cache(tmp_path / "c", disk_min_seconds=0)).keys(graph)[b]
    for blob in (tmp_path / "c" / "entries" / key[:2] / key).glob("*.npy"):
        blob.write_bytes(blob.read_bytes()[:-3] + b"???")
    stubs.calls.clear()
    events: list[RunEvent] = []
    fresh = Engine(
        stubs.registry, Cache(tmp_path / "c", disk_min_seconds=0)
    )  # a new process: memory is empty
    result = fresh.run(graph, output_dir=tmp_path, on_event=events.append)
    assert result.status == "ok" and stubs.calls == [b]
    info = [e for e in events if e.kind == "node_info"]
    assert info[0].node_id == b and "damaged" in info[0].message
    assert fresh.run(graph, output_dir=tmp_path).cached == [b]


def test_full_disk_does_not_fail_the_run(tmp_path, monkeypatch):
    from test_engine_scheduler import Stubs, chain

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", full)
    stubs = Stubs()
    graph = Graph(stubs.registry)
    (a,) = chain(graph, "Const")
    events: list[RunEvent] = []
    threads: set[str] = set()

    def listen(event: RunEvent) -> None:
        events.append(event)
        threads.add(threading.current_thread().name)

    result = Engine(stubs.registry, Cache(tmp_path / "c", disk_min_seconds=0)).run(
        graph, output_dir=tmp_path, on_event=listen
    )
    assert result.status == "ok"
    assert threads == {threading.current_thread().name}  # not the cache's writer thread
    info = [e.message for e in events if e.kind == "node_info"]
    assert len(info) == 1 and "No space left" in info[0]
    assert not list((tmp_path / "c").rglob("manifest.json"))
    assert not list((tmp_path / "c" / "tmp").iterdir())  # the half-written entry is gone


def test_memory_tier_evicts_least_recently_used():
    memory = MemoryCache(budget=3 * 8400)
    for key in "abc":
        memory.put(key, {"x": np.zeros(1000)})  # 8 kB each
    assert memory.get("a") is not None  # now b is the oldest
    memory.put("d", {"x": np.zeros(1000)})
    assert "b" not in memory and all(k in memory for k in "acd")
    memory.put("huge", {"x": np.zeros(10_000)})  # bigger than the budget: not kept
    assert "huge" not in memory and len(memory) == 3


def test_disk_tier_evicts_least_recently_used(tmp_path):
    disk = DiskCache(tmp_path, budget=3 * 9000)
    keys = [c * 40 for c in "1234"]
    for key in keys[:3]:
        disk.put(key, {"x": np.zeros(1000)})
        os.utime(tmp_path / "entries" / key[:2] / key / "manifest.json")
    disk.get(keys[0])  # used again: keys[1] is now the oldest
    old = tmp_path / "entries" / keys[1][:2] / keys[1] / "manifest.json"
    os.utime(old, (1, 1))
    disk._index = None  # as if in a new process
    disk.put(keys[3], {"x": np.zeros(1000)})
    assert keys[1] not in disk
    assert all(k in disk for k in (keys[0], keys[2], keys[3]))
    assert DiskCache(tmp_path).info()["entries"] == 3
    assert DiskCache(tmp_path).clear() == 3 and DiskCache(tmp_path).info()["entries"] == 0


WARM_START = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from studio.engine import Cache, Engine
    from studio.graph.fileformat import load
    from studio.graph.registry import NodeRegistry
    from studio.graph.spec import NodeSpec, Param, ParamKind, Port
    from studio.graph.types import PortType, Video

    ran = []
    def clip(ctx, inputs, params):
        ran.append(ctx.node_id)
        frames = np.full((4, 8, 8, 3), params["level"], np.uint8)
        return {"video": Video(frames, 12.0)}
    def brighten(ctx, inputs, params):
        ran.append(ctx.node_id)
        return {"video": Video(inputs["video"].frames + 1, inputs["video"].fps)}
    registry = NodeRegistry([
        NodeSpec("Clip", "Clip", "T", clip, outputs=(Port("video", PortType.VIDEO),),
                 params=(Param("level", ParamKind.INT, 0, help="."),)),
        NodeSpec("Brighten", "Brighten", "T", brighten,
                 inputs=(Port("video", PortType.VIDEO),),
                 outputs=(Port("video", PortType.VIDEO),)),
    ])
    graph = load(sys.argv[1], registry).graph
    result = Engine(registry, Cache(disk_min_seconds=0)).run(graph, output_dir=sys.argv[2])
    (video,) = [o["video"] for o in result.outputs.values()]
    print(json.dumps({"ran": ran, "cached": result.cached, "first": int(video.frames[0, 0, 0, 0]),
                      "mapped": isinstance(video.frames, np.memmap)}))
    """
)


def test_warm_start_in_a_new_process_renders_from_disk(tmp_path):
    workflow = {
        "format_version": 2,
        "nodes": {"clip": {"type": "Clip", "params": {"level": 7}}, "up": {"type": "Brighten"}},
        "edges": [
            {"from": {"node": "clip", "port": "video"}, "to": {"node": "up", "port": "video"}}
        ],
    }
    path = tmp_path / "w.json"
    path.write_text(json.dumps(workflow))
    env = dict(os.environ, STUDIO_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))

    def render() -> dict:
        done = subprocess.run(
            [sys.executable, "-c", WARM_START, str(path), str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    cold = render()
    assert cold["ran"] == ["clip", "up"] and cold["first"] == 8 and not cold["mapped"]
    warm = render()
    assert warm["ran"] == [] and warm["cached"] == ["up"]
    assert warm["first"] == 8 and warm["mapped"]


def test_budgets_come_from_the_settings(tmp_path):
    from studio.settings import Settings

    assert Cache(tmp_path, disk_min_seconds=0).disk.budget == 20 * 1024**3
    Settings().set("cache_disk_bytes", 12345)
    Settings().set("cache_memory_bytes", "lots")  # not a number: the default stands
    cache = Cache(tmp_path, disk_min_seconds=0)
    assert cache.disk.budget == 12345 and cache.memory.budget == 2 * 1024**3
    assert Cache(tmp_path, disk_budget=7).disk.budget == 7


def test_results_cheaper_than_a_disk_write_stay_in_memory(tmp_path):
    cache = Cache(tmp_path, disk_min_seconds=0.01)
    cache.put("aa" * 20, {"x": np.arange(10)}, compute_seconds=0.001)
    cache.put("bb" * 20, {"x": np.arange(10)}, compute_seconds=0.5)
    cache.flush()
    assert cache.get("aa" * 20) is not None  # memory still has it
    assert "aa" * 20 not in cache.disk and "bb" * 20 in cache.disk
