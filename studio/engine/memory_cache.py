"""The memory tier: least-recently-used results within a byte budget."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from studio.engine.codecs import estimate_nbytes

DEFAULT_MEMORY_BUDGET = 2 * 1024**3


class MemoryCache:
    """Results by key, evicting the least recently used once over ``budget`` bytes.

    Thread-safe: the worker thread stores while the GUI thread asks for badges and previews.
    """

    def __init__(self, budget: int = DEFAULT_MEMORY_BUDGET) -> None:
        self.budget = budget
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def put(self, key: str, value: dict[str, Any]) -> None:
        size = estimate_nbytes(value)
        if size > self.budget:
            return  # would evict everything and still not fit
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.budget:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def discard(self, key: str) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
