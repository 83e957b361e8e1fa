"""The disk tier: content-addressed entries that survive a restart.

Each entry is a folder ``entries/<key[:2]>/<key>/`` holding ``.npy`` blobs and a
``manifest.json`` (the encoded value plus size and CRC-32 of every blob; its first line is
the CRC-32 of the rest). Entries are written to ``tmp/`` and renamed into place, so readers see
a whole entry or none; a damaged entry (failed checksum, missing blob, undecodable or missing
manifest, a file where a folder should be) is deleted and reported, never loaded, and the next
result for its key replaces it. Deleting (a damaged entry, eviction, ``clear``) first renames the
folder into ``trash/``, so a kill mid-delete leaves trash that ``info`` counts as orphans and
``clear`` removes, never a half entry. Least recently used entries are evicted past the budget.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np

from studio.engine import codecs, frames

DEFAULT_DISK_BUDGET = 20 * 1024**3
MANIFEST = "manifest.json"
ENTRY_FORMAT = 2  # 2: blobs carry one CRC-32 per CHECKSUM_CHUNK bytes
CHECKSUM_CHUNK = 64 * 1024 * 1024
_STALE_TMP_S = 3600.0
TRASH = "trash"


class CorruptEntry(Exception):
    """A cache entry that failed its checks; it has been deleted."""


class _CrcWriter:
    """A file wrapper that checksums what passes through it, one CRC-32 per
    :data:`CHECKSUM_CHUNK` bytes (so blobs are read only once, and damage is located)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.size = 0
        self.crcs: list[int] = [0]

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        while len(view):
            room = CHECKSUM_CHUNK - self.size % CHECKSUM_CHUNK
            part, view = view[:room], view[room:]
            self.crcs[-1] = zlib.crc32(part, self.crcs[-1])
            self.size += len(part)
            if self.size % CHECKSUM_CHUNK == 0:
                self.crcs.append(0)
        return self.handle.write(data)

    @property
    def chunk_crcs(self) -> list[int]:
        return self.crcs[:-1] if self.size and self.size % CHECKSUM_CHUNK == 0 else self.crcs


@dataclass
class _Scan:
    index: dict[str, tuple[int, float]]  # key -> (bytes, last use)
    orphans: int  # entry folders without a manifest, stale temp folders, trash


class DiskCache:
    def __init__(self, root: Path, budget: int = DEFAULT_DISK_BUDGET) -> None:
        self.root = Path(root)
        self.budget = budget
        self._index: dict[str, tuple[int, float]] | None = None  # key -> (bytes, last use)
        self._total = 0  # bytes in _index
        self._lock = threading.Lock()

    @property
    def entries_dir(self) -> Path:
        return self.root / "entries"

    def _entry(self, key: str) -> Path:
        return self.entries_dir / key[:2] / key

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self._entry(key) / MANIFEST).is_file()

    # -- writing ------------------------------------------------------------------------------

    def put(self, key: str, value: Any) -> None:
        """Store ``value``. Raises OSError (disk full...) or codecs.UnsupportedValue."""
        final = self._entry(key)
        if (final / MANIFEST).is_file():
            self._touch(final)
            return
        tmp = self.root / "tmp" / f"{key}.{uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            files: dict[str, list[Any]] = {}

            def write_blob(name: str, array: np.ndarray) -> None:
                adopted = frames.adopt(array, tmp / name, CHECKSUM_CHUNK)
                if adopted is not None:  # a node's scratch buffer: moved, not copied
                    files[name] = [adopted[0], adopted[1]]
                    return
                with open(tmp / name, "wb") as handle:
                    writer = _CrcWriter(handle)
                    np.lib.format.write_array(writer, np.asarray(array), allow_pickle=False)
                files[name] = [writer.size, writer.chunk_crcs]

            tree = codecs.encode(value, write_blob)
            total = sum(size for size, _ in files.values())
            manifest = {
                "format": ENTRY_FORMAT,
                "key": key,
                "value": tree,
                "files": files,
                "bytes": total,
            }
            body = json.dumps(manifest)
            # The manifest checks itself too: its first line is the CRC-32 of the rest.
            text = f"{zlib.crc32(body.encode()):08x}\n{body}"
            (tmp / MANIFEST).write_text(text, encoding="utf-8")
            total += len(text)
            try:
                _publish(tmp, final)
            except OSError:
                if (final / MANIFEST).is_file():
                    shutil.rmtree(tmp, ignore_errors=True)  # another process stored it first
                else:
                    # A damaged leftover (no manifest, or a file) holds the name: replace it.
                    self._remove(final)
                    _publish(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._account(key, total)

    def _account(self, key: str, size: int) -> None:
        with self._lock:
            if self._index is None:
                self._rescan()
            assert self._index is not None
            old = self._index.get(key)
            self._total += size - (old[0] if old else 0)
            self._index[key] = (size, time.time())
            if self._total > self.budget:
                self._rescan()  # other processes may have added or removed some
                self._evict()

    def _evict(self) -> None:
        assert self._index is not None
        for key, (size, _) in sorted(self._index.items(), key=lambda kv: kv[1][1]):
            if self._total <= self.budget:
                break
            self._remove(self._entry(key))
            del self._index[key]
            self._total -= size

    def _rescan(self) -> None:
        self._index = self._scan().index
        self._total = sum(size for size, _ in self._index.values())
        # Leftovers of killed processes: stale temp folders and trash.
        for leftover in _listing(self.root / "tmp"):
            try:
                if time.time() - leftover.stat().st_mtime > _STALE_TMP_S:
                    shutil.rmtree(leftover.path, ignore_errors=True)
            except OSError:
                pass
        shutil.rmtree(self.root / TRASH, ignore_errors=True)

    def _scan(self) -> _Scan:
        index: dict[str, tuple[int, float]] = {}
        orphans = 0
        for shard in _listing(self.entries_dir):
            for entry in _listing(shard.path) if shard.is_dir() else [shard]:
                try:
                    used = os.stat(os.path.join(entry.path, MANIFEST)).st_mtime
                    size = sum(f.stat().st_size for f in os.scandir(entry.path))
                except OSError:
                    orphans += 1  # no manifest: damaged, or left by a kill before this scheme
                    continue
                index[entry.name] = (size, used)
        for leftover in _listing(self.root / "tmp"):  # from processes that died mid-write
            try:
                if time.time() - leftover.stat().st_mtime > _STALE_TMP_S:
                    orphans += 1
            except OSError:
                pass
        orphans += len(_listing(self.root / TRASH))
        return _Scan(index, orphans)

    # -- reading ------------------------------------------------------------------------------

    def get(self, key: str) -> Any | None:
        """The stored value, None if absent; raises CorruptEntry for a damaged entry."""
        folder = self._entry(key)
        try:
            data = (folder / MANIFEST).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._discard(folder)
            raise CorruptEntry(f"its manifest cannot be read ({exc.strerror or exc})") from None
        try:
            text = data.decode("utf-8")
            crc, _, body = text.partition("\n")
            if crc != f"{zlib.crc32(body.encode()):08x}":
                raise ValueError("its manifest fails its checksum")
            manifest = json.loads(body)
            if manifest.get("format") != ENTRY_FORMAT or manifest.get("key") != key:
                raise ValueError("its manifest is for another entry or format")
            files = manifest["files"]
            for name, (size, crc) in files.items():
                _verify(folder / name, size, crc)

            def read_blob(name: str) -> np.ndarray:
                if name not in files:
                    raise ValueError(f"blob {name!r} is not in the manifest")
                return _load_array(folder / name)

            value = codecs.decode(manifest["value"], read_blob)
        except Exception as exc:  # whatever is wrong with it, it is not a result to trust
            self._discard(folder)
            raise CorruptEntry(str(exc) or type(exc).__name__) from None
        self._touch(folder)
        return value

    def _touch(self, folder: Path) -> None:
        try:
            os.utime(folder / MANIFEST)
        except OSError:
            pass  # read-only cache: LRU order just goes stale
        with self._lock:
            if self._index is not None and folder.name in self._index:
                self._index[folder.name] = (self._index[folder.name][0], time.time())

    def _discard(self, folder: Path) -> None:
        self._remove(folder)
        with self._lock:
            if self._index is not None:
                dropped = self._index.pop(folder.name, None)
                self._total -= dropped[0] if dropped else 0

    # -- management ---------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        scan = self._scan()
        return {
            "path": str(self.root),
            "entries": len(scan.index),
            "bytes": sum(s for s, _ in scan.index.values()),
            "budget": self.budget,
            "orphans": scan.orphans,
        }

    def clear(self) -> int:
        """Delete every entry, orphan and leftover; returns how many entries there were.
        Each folder is renamed into ``trash/`` first: a kill midway leaves no half entries."""
        count = len(self._scan().index)
        for sub in ("entries", "tmp"):
            self._remove(self.root / sub)
        shutil.rmtree(self.root / TRASH, ignore_errors=True)
        with self._lock:
            self._index = None
        return count

    def _remove(self, path: Path) -> None:
        """Rename ``path`` into the trash, then delete it there."""
        trash = self.root / TRASH
        target = trash / f"{path.name}.{uuid4().hex}"
        try:
            trash.mkdir(parents=True, exist_ok=True)
            os.rename(path, target)
        except FileNotFoundError:
            return  # already gone
        except OSError:
            target = path  # cannot rename (read-only?): delete in place, as far as it goes
        try:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink()
        except OSError:
            pass


def _listing(folder: Path | str) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(folder))
    except OSError:
        return []


def _publish(tmp: Path, final: Path) -> None:
    try:
        os.rename(tmp, final)
    except FileNotFoundError:  # first entry of its shard (a mkdir per put costs more)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, final)


def _verify(path: Path, size: int, crcs: list[int]) -> None:
    if path.stat().st_size != size:
        raise ValueError(f"{path.name} has the wrong size (half written?)")
    with open(path, "rb") as handle:
        for index, expected in enumerate(crcs):
            if zlib.crc32(handle.read(CHECKSUM_CHUNK)) != expected:
                where = f"at bytes {index * CHECKSUM_CHUNK:,}+" if len(crcs) > 1 else ""
                raise ValueError(f"{path.name} fails its checksum {where}".rstrip())


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:
        # Empty arrays cannot be memory-mapped.
        return np.load(path, allow_pickle=False)
