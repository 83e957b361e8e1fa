"""Two-tier result cache: memory (LRU, byte budget) in front of disk (content addressed).

Disk writes happen on a background thread so the next node starts at once: a result is in
the memory tier the moment it is stored, and :meth:`Cache.flush` waits until it is on disk
too (the engine flushes at the end of every run, so a new process finds it).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.engine import frames
from studio.engine.codecs import UnsupportedValue, freeze
from studio.engine.disk_cache import DEFAULT_DISK_BUDGET, CorruptEntry, DiskCache
from studio.engine.memory_cache import DEFAULT_MEMORY_BUDGET, MemoryCache

Report = Callable[[str], None]
log = logging.getLogger(__name__)
# Results cheaper than this to compute are not worth a disk entry.
DEFAULT_DISK_MIN_SECONDS = 0.005
# Results waiting for the disk; a full queue makes the run wait rather than hoard memory.
MAX_PENDING_WRITES = 16


def _ignore(message: str) -> None:
    pass


class Cache:
    """Node results by cache key. ``root=None`` uses :func:`studio.settings.cache_dir`;
    ``disk=False`` keeps results in memory only (tests, benchmarks of the scheduler).
    Budgets not given come from the settings (``cache_memory_bytes``, ``cache_disk_bytes``),
    else 2 GiB of memory and 20 GiB of disk. ``background=False`` writes to disk inside
    :meth:`put`. With background writes, ``report`` callbacks run on the writer thread.
    Results that took less than ``disk_min_seconds`` to compute stay in memory only: writing
    them costs more than computing them again (about 0.5 ms of file-system work an entry)."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        memory_budget: int | None = None,
        disk_budget: int | None = None,
        disk: bool = True,
        background: bool = True,
        disk_min_seconds: float | None = None,
    ) -> None:
        if root is None and disk:
            from studio.settings import cache_dir

            root = cache_dir()
        if memory_budget is None or disk_budget is None:
            memory_budget, disk_budget = _budgets_from_settings(memory_budget, disk_budget)
        self.memory = MemoryCache(memory_budget)
        self.disk = DiskCache(Path(root), disk_budget) if disk and root is not None else None
        self.background = background
        self.disk_min_seconds = (
            DEFAULT_DISK_MIN_SECONDS if disk_min_seconds is None else disk_min_seconds
        )
        self._pending: queue.Queue[tuple[str, dict[str, Any], Report]] | None = None
        self._writer_lock = threading.Lock()
        self._scratch: Path | None = None

    @property
    def scratch_dir(self) -> Path:
        """Where nodes' big clip buffers live while they run (:mod:`studio.engine.frames`):
        inside the cache folder, so the disk cache can adopt them by a rename. Files left by
        killed processes are swept the first time it is asked for."""
        if self._scratch is None:
            self._scratch = (
                self.disk.root / frames.SCRATCH_DIR if self.disk is not None
                else frames.default_scratch_dir()
            )  # fmt: skip
            frames.sweep(self._scratch)
        return self._scratch

    def get(self, key: str, report: Report = _ignore) -> dict[str, Any] | None:
        """A stored result: memory first, then disk (promoted to memory). A damaged disk
        entry is deleted, reported through ``report`` and treated as missing."""
        value = self.memory.get(key)
        if value is not None or self.disk is None:
            return value
        try:
            value = self.disk.get(key)
        except CorruptEntry as exc:
            log.warning("cache entry %s was damaged (%s); discarded", key, exc)
            report(f"the cached result was damaged ({exc}); computing it again")
            return None
        except Exception as exc:  # an unreadable cache must never stop a render
            log.warning("cache entry %s could not be read: %r", key, exc)
            report(f"the disk cache could not be read ({exc}); computing it again")
            return None
        if value is not None:
            self.memory.put(key, value)
        return value

    def contains(self, key: str) -> bool:
        """Whether a result is stored, without loading it (may be damaged: :meth:`get` tells)."""
        return key in self.memory or (self.disk is not None and key in self.disk)

    def put(
        self,
        key: str,
        value: dict[str, Any],
        report: Report = _ignore,
        *,
        compute_seconds: float | None = None,
    ) -> None:
        """Store in both tiers. Disk problems (full, read-only, unsupported values) are
        reported and otherwise ignored: the run goes on uncached."""
        freeze(value)  # also makes it safe for the writer thread to read while nodes run
        self.memory.put(key, value)
        if self.disk is None:
            return
        if compute_seconds is not None and compute_seconds < self.disk_min_seconds:
            return
        if not self.background:
            self._write(key, value, report)
            return
        with self._writer_lock:
            if self._pending is None:
                self._pending = queue.Queue(MAX_PENDING_WRITES)
                threading.Thread(
                    target=self._writer, name="studio-cache-writer", daemon=True
                ).start()
        self._pending.put((key, value, report))

    def flush(self) -> None:
        """Wait until every stored result is on disk (or reported as not stored)."""
        if self._pending is not None:
            self._pending.join()

    def _writer(self) -> None:
        assert self._pending is not None
        while True:
            key, value, report = self._pending.get()
            try:
                self._write(key, value, report)
            except Exception:  # never let the writer die: later results still need it
                log.exception("writing cache entry %s failed", key)
            finally:
                self._pending.task_done()

    def _write(self, key: str, value: dict[str, Any], report: Report) -> None:
        assert self.disk is not None
        try:
            self.disk.put(key, value)
        except UnsupportedValue as exc:
            report(f"not saved to the disk cache: it cannot store {exc}")
        except OSError as exc:
            report(
                f"could not write to the disk cache ({exc.strerror or exc}); "
                "going on without caching this result on disk"
            )

    def discard(self, key: str) -> None:
        self.memory.discard(key)

    def info(self) -> dict[str, Any]:
        self.flush()
        data: dict[str, Any] = {
            "memory_entries": len(self.memory),
            "memory_bytes": self.memory.nbytes,
            "memory_budget": self.memory.budget,
        }
        if self.disk is not None:
            disk = self.disk.info()
            data.update(
                path=disk["path"],
                disk_entries=disk["entries"],
                disk_bytes=disk["bytes"],
                disk_budget=disk["budget"],
                disk_orphans=disk["orphans"],
            )
        return data

    def clear(self) -> int:
        """Empty both tiers; returns how many disk entries were deleted."""
        self.flush()
        self.memory.clear()
        return self.disk.clear() if self.disk is not None else 0


def _budgets_from_settings(memory: int | None, disk: int | None) -> tuple[int, int]:
    from studio.settings import Settings

    settings = Settings()

    def budget(name: str, default: int) -> int:
        value = settings.get(name, default)
        valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return value if valid else default

    return (
        memory if memory is not None else budget("cache_memory_bytes", DEFAULT_MEMORY_BUDGET),
        disk if disk is not None else budget("cache_disk_bytes", DEFAULT_DISK_BUDGET),
    )
