"""Cache keys fingerprint what a node reads by content: files, PNG folders, model folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from studio.engine import Cache, Engine, fingerprint
from studio.engine.fingerprint import Fingerprints
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType


def _noop(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    return {"out": params["path"]}


READER = NodeSpec(
    "Reader",
    "Reader",
    "Test",
    _noop,
    outputs=(Port("out", PortType.ANY),),
    params=(
        Param(
            "path",
            ParamKind.FILE,
            "",
            reads_file=True,
            folder_files="*.png",
            help="A file or a folder of PNGs.",
        ),
        Param("model", ParamKind.MODEL, "", model_kind="image-to-video", help="A model."),
        Param("loras", ParamKind.JSON, [], reads_file=True, help="[{file, strength}]"),
    ),
)


def key_of(engine: Engine, params: dict[str, Any]) -> str:
    graph = Graph(NodeRegistry([READER]))
    node = graph.add("Reader", params=params)
    return engine.keys(graph, output_dir=Path("out"))[node.id]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(NodeRegistry([READER]), Cache(tmp_path / "cache", disk=False))


def make_frames(folder: Path, count: int = 3) -> list[Path]:
    folder.mkdir(parents=True)
    files = []
    for i in range(count):
        files.append(folder / f"frame_{i:04d}.png")
        files[-1].write_bytes(bytes([i]) * 100)
    return files


def test_a_frame_edited_in_place_inside_a_png_folder_changes_the_key(tmp_path, engine):
    frames = make_frames(tmp_path / "shot")
    before = key_of(engine, {"path": str(tmp_path / "shot")})
    stat = frames[1].stat()
    frames[1].write_bytes(b"\x07" * 100)  # same size; the folder's own mtime does not move
    os.utime(frames[1], ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even the mtime is restored
    assert key_of(engine, {"path": str(tmp_path / "shot")}) != before


def test_the_same_content_elsewhere_keys_the_same(tmp_path, engine):
    """Keys hold no absolute paths or mtimes: another machine or folder gets cache hits."""
    make_frames(tmp_path / "a" / "shot")
    shutil.copytree(tmp_path / "a" / "shot", tmp_path / "b" / "copy")
    (tmp_path / "b" / "copy" / "frame_0000.png").touch()  # another mtime, same bytes
    one = key_of(engine, {"path": str(tmp_path / "a" / "shot")})
    assert key_of(engine, {"path": str(tmp_path / "b" / "copy")}) == one
    (tmp_path / "b" / "copy" / "frame_0000.png").rename(tmp_path / "b" / "copy" / "frame_9.png")
    assert key_of(engine, {"path": str(tmp_path / "b" / "copy")}) != one  # names matter
    single = tmp_path / "a" / "one.png"
    single.write_bytes(b"x")
    (tmp_path / "b" / "two.png").write_bytes(b"x")
    assert key_of(engine, {"path": str(single)}) == key_of(
        engine, {"path": str(tmp_path / "b" / "two.png")}
    )


def test_a_model_folder_is_fingerprinted_by_its_files(tmp_path, engine):
    model = tmp_path / "wan"
    (model / "transformer").mkdir(parents=True)
    (model / "model_index.json").write_text('{"_class_name": "WanImageToVideoPipeline"}')
    weights = model / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"\0" * 64)
    before = key_of(engine, {"model": str(model)})
    weights.write_bytes(b"\1" * 64)
    assert key_of(engine, {"model": str(model)}) != before


def test_a_named_model_is_resolved_to_its_folder(tmp_path):
    model = tmp_path / "models" / "wan"
    model.mkdir(parents=True)
    (model / "weights.bin").write_bytes(b"a")

    class Models:
        def resolve(self, value: str, kind: str = "") -> Any:
            assert kind == "image-to-video"
            return type("Info", (), {"path": model})()

    engine = Engine(NodeRegistry([READER]), Cache(disk=False), models=Models())
    before = key_of(engine, {"model": "org/wan"})
    (model / "weights.bin").write_bytes(b"b")
    assert key_of(engine, {"model": "org/wan"}) != before


def test_each_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    reads: list[str] = []
    real_hash = fingerprint._hash_file
    monkeypatch.setattr(fingerprint, "_hash_file", lambda p: reads.append(p) or real_hash(p))
    frames = make_frames(tmp_path / "shot")
    store = tmp_path / "store"
    prints = Fingerprints(store)
    first = prints.of_path(str(tmp_path / "shot"), "*.png")
    assert len(reads) == 3
    assert prints.of_path(str(tmp_path / "shot"), "*.png") == first and len(reads) == 3
    # A new process (a new memo) finds the hashes in the store.
    assert Fingerprints(store).of_path(str(tmp_path / "shot"), "*.png") == first
    assert len(reads) == 3
    frames[0].write_bytes(b"changed")
    assert prints.of_path(str(tmp_path / "shot"), "*.png") != first
    assert reads[3:] == [os.path.realpath(frames[0])]


def test_a_damaged_store_entry_is_hashed_again(tmp_path):
    file = tmp_path / "a.png"
    file.write_bytes(b"abc")
    store = tmp_path / "store"
    digest = Fingerprints(store).file(file)
    for entry in store.rglob("*"):
        if entry.is_file():
            entry.write_text("garbage")
    assert Fingerprints(store).file(file) == digest


def test_hugging_face_blobs_are_known_by_their_name(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprint, "_hash_file", lambda p: pytest.fail("read " + p))
    blobs = tmp_path / "models--org--wan" / "blobs"
    blobs.mkdir(parents=True)
    blob = blobs / ("ab" * 32)
    blob.write_bytes(b"weights")
    snapshot = tmp_path / "models--org--wan" / "snapshots" / "123"
    snapshot.mkdir(parents=True)
    (snapshot / "w.safetensors").symlink_to(blob)
    assert Fingerprints().of_path(str(snapshot), "**") == Fingerprints().of_path(
        str(snapshot), "**"
    )


def test_only_what_is_read_is_fingerprinted(tmp_path, engine):
    make_frames(tmp_path / "shot")
    before = key_of(engine, {"path": str(tmp_path / "shot")})
    (tmp_path / "shot" / "notes.txt").write_text("not a frame")
    (tmp_path / "shot" / "old").mkdir()
    (tmp_path / "shot" / "old" / "frame_0000.png").write_bytes(b"not read")
    assert key_of(engine, {"path": str(tmp_path / "shot")}) == before
    # Device and kernel files are never read; a folder that is no model is not walked.
    assert Fingerprints().of_path("/dev/zero") == "special"
    assert Fingerprints().of_model("/", "image-to-video") == "unresolved:/"


def test_files_in_a_list_param_are_fingerprinted(tmp_path, engine):
    lora = tmp_path / "style.safetensors"
    lora.write_bytes(b"one")
    loras = [{"file": str(lora), "strength": 0.8}, {"file": "", "strength": 1.0}, 5]
    before = key_of(engine, {"loras": loras})
    lora.write_bytes(b"two")
    assert key_of(engine, {"loras": loras}) != before
    copy = tmp_path / "elsewhere" / "style.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(b"two")
    moved = [dict(loras[0], file=str(copy)), *loras[1:]]
    assert key_of(engine, {"loras": moved}) == key_of(engine, {"loras": loras})


def test_a_missing_path_is_keyed_without_failing(tmp_path, engine):
    assert key_of(engine, {"path": str(tmp_path / "nope.png")})  # the node fails when it runs
    assert Fingerprints().of_path(str(tmp_path / "nope.png")) == "missing"
