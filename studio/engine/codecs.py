"""Encoding node outputs for the disk cache by type -- never pickle.

A value becomes a JSON tree (the manifest) plus ``.npy`` blobs. JSON primitives stand for
themselves; everything else is a tagged object ``{"$": tag, ...}``. A clip's frames are one uint8
``.npy`` file, whatever its length, so it loads as one zero-copy memory map (the disk cache
checksums it in chunks); a viewer scrubbing it pages in only the frames it shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from studio.graph.types import Audio, CameraMove, CameraPath, Motion, MotionBrushValue, Video

_DATACLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (Motion, MotionBrushValue, CameraMove, CameraPath, Audio)
}


class UnsupportedValue(TypeError):
    """A value the disk cache cannot store (it is still passed downstream and kept in memory)."""


# A writer receives a blob name and an array and saves it; a reader returns the array by name.
BlobWriter = Callable[[str, np.ndarray], None]
BlobReader = Callable[[str], np.ndarray]


def encode(value: Any, write_blob: BlobWriter) -> Any:
    """The JSON tree for ``value``; arrays go through ``write_blob``."""
    counter = iter(range(1 << 30))

    def blob(array: np.ndarray) -> str:
        name = f"{next(counter)}.npy"
        write_blob(name, array)
        return name

    def enc(item: Any) -> Any:
        if item is None or isinstance(item, (bool, int, str)):
            return item
        if isinstance(item, float):
            return item if np.isfinite(item) else {"$": "float", "v": repr(item)}
        if isinstance(item, np.generic):
            return enc(item.item())
        if isinstance(item, np.ndarray):
            if item.dtype.hasobject:
                raise UnsupportedValue("arrays of Python objects")
            return {"$": "array", "file": blob(item)}
        if isinstance(item, Video):
            return _encode_video(item, blob)
        if isinstance(item, Path):
            return {"$": "path", "v": str(item)}
        if isinstance(item, (list, tuple)):
            tag = "list" if isinstance(item, list) else "tuple"
            return {"$": tag, "items": [enc(x) for x in item]}
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                raise UnsupportedValue("dicts with keys that are not text")
            return {"$": "dict", "items": {k: enc(v) for k, v in item.items()}}
        cls_name = type(item).__name__
        if _DATACLASSES.get(cls_name) is type(item):
            fields = {f.name: enc(getattr(item, f.name)) for f in dataclasses.fields(item)}
            return {"$": "dataclass", "type": cls_name, "fields": fields}
        raise UnsupportedValue(f"values of type {cls_name}")

    return enc(value)


def _encode_video(video: Video, blob: Callable[[np.ndarray], str]) -> dict[str, Any]:
    frames = video.frames
    tree: dict[str, Any] = {
        "$": "video",
        "fps": float(video.fps),
        "shape": list(frames.shape),
        "file": blob(frames),
    }
    # Kept beside the frames, not in them: the picture stays one memory-mappable blob.
    if video.audio is not None:
        tree["audio"] = {"rate": video.audio.rate, "file": blob(video.audio.samples)}
    if video.cuts:
        tree["cuts"] = [int(c) for c in video.cuts]
    return tree


def decode(tree: Any, read_blob: BlobReader) -> Any:
    """The value a JSON tree from :func:`encode` stands for; raises ValueError if malformed."""
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if not isinstance(tree, dict):
        raise ValueError(f"unexpected {type(tree).__name__} in a cache manifest")
    tag = tree.get("$")
    if tag == "float":
        return float(tree["v"])
    if tag == "array":
        return read_blob(tree["file"])
    if tag == "video":
        frames = read_blob(tree["file"])
        if list(frames.shape) != list(tree["shape"]):
            raise ValueError("the video file does not have the recorded shape")
        audio = None
        if tree.get("audio") is not None:
            audio = Audio(np.asarray(read_blob(tree["audio"]["file"])), int(tree["audio"]["rate"]))
        return Video(frames, tree["fps"], audio, tuple(int(c) for c in tree.get("cuts", ())))
    if tag == "path":
        return Path(tree["v"])
    if tag == "list":
        return [decode(x, read_blob) for x in tree["items"]]
    if tag == "tuple":
        return tuple(decode(x, read_blob) for x in tree["items"])
    if tag == "dict":
        return {k: decode(v, read_blob) for k, v in tree["items"].items()}
    if tag == "dataclass":
        cls = _DATACLASSES.get(tree["type"])
        if cls is None:
            raise ValueError(f"unknown cached type {tree['type']!r}")
        return cls(**{k: decode(v, read_blob) for k, v in tree["fields"].items()})
    raise ValueError(f"unknown tag {tag!r} in a cache manifest")


def estimate_nbytes(value: Any) -> int:
    """Roughly how much memory ``value`` holds: array bytes plus a little per object."""
    if isinstance(value, np.ndarray):
        return _array_bytes(value) + 112
    if isinstance(value, Video):
        sound = value.audio.samples.nbytes if value.audio is not None else 0
        return _array_bytes(value.frames) + int(sound) + 200
    if isinstance(value, dict):
        return 232 + sum(estimate_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 56 + sum(estimate_nbytes(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return 64 + sum(estimate_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 64


def _array_bytes(array: np.ndarray) -> int:
    """What an array costs the memory tier: a mapped file's pages are the page cache's, which
    the kernel drops as it needs, so a mapped clip counts for a sliver of its size."""
    from studio.engine.frames import is_mapped

    return int(array.nbytes) // MAPPED_SHARE if is_mapped(array) else int(array.nbytes)


MAPPED_SHARE = 64


def freeze(value: Any) -> None:
    """Make every array in ``value`` read-only, so no node can change a cached result in place."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, Video):
        value.frames.flags.writeable = False
        if value.audio is not None:
            value.audio.samples.flags.writeable = False
    elif isinstance(value, dict):
        for item in value.values():
            freeze(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            freeze(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            freeze(getattr(value, f.name))
