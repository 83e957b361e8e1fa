"""A damaged or unreadable disk cache never stops a render: entries are discarded and
recomputed; writes and clears are crash-safe; ``cache info`` counts orphans, clear removes them."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.cli import main
from studio.engine import Cache, Engine, RunEvent, disk_cache
from studio.engine.disk_cache import DiskCache
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType

KEY = "3a" * 20


def entry_of(root: Path, key: str = KEY) -> Path:
    return root / "entries" / key[:2] / key


class Counter:
    def __init__(self) -> None:
        self.runs = 0
        spec = NodeSpec(
            "Make",
            "Make",
            "Test",
            self.make,
            outputs=(Port("out", PortType.ANY),),
            params=(Param("n", ParamKind.INT, 5, help="Length."),),
        )
        self.registry = NodeRegistry([spec])
        self.graph = Graph(self.registry)
        self.node = self.graph.add("Make").id

    def make(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.runs += 1
        return {"out": np.arange(params["n"] * 1000)}

    def render(self, root: Path, events: list[RunEvent] | None = None) -> Any:
        engine = Engine(self.registry, Cache(root, disk_min_seconds=0))  # a fresh process
        sink = events.append if events is not None else lambda e: None
        result = engine.run(self.graph, output_dir=root / "out", on_event=sink)
        assert result.status == "ok", result.errors
        return engine.keys(self.graph)[self.node]


@pytest.mark.parametrize(
    "damage", ["utf8", "manifest-gone", "manifest-dir", "entry-is-file", "blob-dir", "empty"]
)
def test_any_damaged_entry_is_recomputed_and_cached_again(tmp_path, damage):
    counter = Counter()
    key = counter.render(tmp_path)
    entry = entry_of(tmp_path, key)
    manifest = entry / "manifest.json"
    if damage == "utf8":  # one flipped bit that breaks the UTF-8, not only the checksum
        data = bytearray(manifest.read_bytes())
        data[20] |= 0x80
        manifest.write_bytes(bytes(data))
    elif damage == "manifest-gone":
        manifest.unlink()
    elif damage == "manifest-dir":
        manifest.unlink()
        manifest.mkdir()
    elif damage == "entry-is-file":
        shutil.rmtree(entry)
        entry.write_bytes(b"junk")
    elif damage == "blob-dir":
        (blob,) = entry.glob("*.npy")
        blob.unlink()
        blob.mkdir()
    else:
        manifest.write_bytes(b"")
    events: list[RunEvent] = []
    counter.render(tmp_path, events)
    assert counter.runs == 2
    if damage != "manifest-gone":  # a missing manifest is simply "not cached"
        assert any(e.kind == "node_info" and "damaged" in e.message for e in events)
    counter.render(tmp_path)  # and it is cached again: no "Directory not empty" forever
    assert counter.runs == 2
    assert DiskCache(tmp_path).info()["orphans"] == 0


def test_an_unexpected_failure_reading_the_cache_is_a_miss(tmp_path, monkeypatch):
    cache = Cache(tmp_path, disk_min_seconds=0, background=False)
    cache.put(KEY, {"a": np.arange(3)})
    cache.memory.clear()

    def broken(key: str) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(cache.disk, "get", broken)
    messages: list[str] = []
    assert cache.get(KEY, messages.append) is None
    assert "could not be read" in messages[0]


def test_info_counts_orphans_and_clear_removes_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path))
    disk = DiskCache(tmp_path)
    for key in ("aa" * 20, "bb" * 20, "cc" * 20):
        disk.put(key, {"a": np.arange(10)})
    (entry_of(tmp_path, "bb" * 20) / "manifest.json").unlink()  # a kill left it half deleted
    (tmp_path / "trash" / "x").mkdir(parents=True)  # a kill during a clear
    info = DiskCache(tmp_path).info()
    assert info["entries"] == 2 and info["orphans"] == 2
    assert main(["cache", "info"]) == 0
    assert "orphans:  2" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 2 cached results and 2 damaged or leftover folders" in capsys.readouterr().out
    assert DiskCache(tmp_path).info() | {"path": ""} == {
        "path": "",
        "entries": 0,
        "bytes": 0,
        "budget": disk.budget,
        "orphans": 0,
    }
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_kill_during_clear_leaves_no_half_entries(tmp_path, monkeypatch):
    disk = DiskCache(tmp_path)
    for key in ("aa" * 20, "bb" * 20):
        disk.put(key, {"a": np.arange(10)})
    real_rmtree = shutil.rmtree
    deleted: list[str] = []

    def killed_midway(path: Any, *args: Any, **kwargs: Any) -> None:
        deleted.append(str(path))
        for manifest in Path(path).rglob("manifest.json"):  # the kill lands after one file
            manifest.unlink()
            break
        raise KeyboardInterrupt

    monkeypatch.setattr(disk_cache.shutil, "rmtree", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        DiskCache(tmp_path).clear()
    monkeypatch.setattr(disk_cache.shutil, "rmtree", real_rmtree)
    assert all("trash" in p for p in deleted)  # renamed away before anything was deleted
    after = DiskCache(tmp_path)
    assert after.get("aa" * 20) is None and after.get("bb" * 20) is None
    assert after.info()["entries"] == 0 and after.info()["orphans"] >= 1
    after.put("aa" * 20, {"a": np.arange(4)})
    assert list(after.get("aa" * 20)["a"]) == [0, 1, 2, 3]
    after.clear()
    assert after.info()["orphans"] == 0
