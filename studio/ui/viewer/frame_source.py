"""Frames for the viewer: one frame at a time from a cached output, never the whole clip.

A :class:`FrameSource` wraps what a node produced (IMAGE, MASK or VIDEO) and hands out single
RGB frames. Frames live in a bounded LRU; a worker thread prefetches the ones around the
playhead. Frames of a memory-mapped clip are read with ``os.pread`` rather than through the map,
so scrubbing a long clip does not pile mapped pages into the process's resident memory.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections import OrderedDict

import numpy as np

from studio.graph.types import Video

DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024  # about 90 frames of 1280x720


def as_rgb(value: np.ndarray) -> np.ndarray:
    """An IMAGE or MASK as a contiguous (H, W, 3) uint8 RGB frame."""
    if value.ndim == 2:
        gray = np.clip(value.astype(np.float32, copy=False) * 255.0 + 0.5, 0, 255)
        return np.repeat(gray.astype(np.uint8)[:, :, None], 3, axis=2)
    if value.ndim == 3 and value.shape[2] == 3 and value.dtype == np.uint8:
        return np.ascontiguousarray(value)
    raise ValueError(f"cannot show an array of shape {value.shape} and dtype {value.dtype}")


class _MappedReader:
    """Reads frames of a C-contiguous ``np.memmap`` straight from its file."""

    def __init__(self, frames: np.memmap) -> None:
        self._frames = frames
        self._fd = os.open(frames.filename, os.O_RDONLY)
        base = np.frombuffer(frames._mmap, dtype=np.uint8)  # type: ignore[attr-defined]
        # np.memmap maps from the offset rounded down to the allocation granularity.
        start = frames.offset - frames.offset % mmap.ALLOCATIONGRANULARITY
        self._file_offset_of_zero = start - base.ctypes.data
        self._frame_bytes = int(np.prod(frames.shape[1:])) * frames.itemsize

    @staticmethod
    def usable(frames: np.ndarray) -> bool:
        return (
            isinstance(frames, np.memmap)
            and getattr(frames, "_mmap", None) is not None
            and bool(frames.filename)
            and frames[0].flags.c_contiguous
            and frames.strides[0] == frames[0].nbytes
        )

    def read(self, index: int) -> np.ndarray:
        address = self._frames[index].ctypes.data
        data = os.pread(self._fd, self._frame_bytes, self._file_offset_of_zero + address)
        return np.frombuffer(data, dtype=np.uint8).reshape(self._frames.shape[1:])

    def close(self) -> None:
        os.close(self._fd)


class FrameSource:
    """Single frames of a still or a clip, from a bounded LRU with background prefetch.

    ``frame(i)`` never reads more than one frame on the calling thread; ``prefetch(i)`` asks the
    worker to warm the frames just ahead of (and a few behind) the playhead.
    """

    def __init__(
        self,
        value: Video | np.ndarray,
        *,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        ahead: int = 12,
        behind: int = 2,
    ) -> None:
        if isinstance(value, Video):
            self._frames: np.ndarray = value.frames
            self.fps = float(value.fps)
        elif isinstance(value, np.ndarray):
            self._frames = as_rgb(value)[None]
            self.fps = 24.0
        else:
            raise TypeError(f"the viewer cannot show a {type(value).__name__}")
        self.is_video = isinstance(value, Video)
        # What the timeline marks: cut markers and the sound's waveform (and plays the sound).
        self.cuts = value.cuts if isinstance(value, Video) else ()
        self.audio = value.audio if isinstance(value, Video) else None
        self.count = int(self._frames.shape[0])
        self.height = int(self._frames.shape[1])
        self.width = int(self._frames.shape[2])
        frame_bytes = self.height * self.width * 3
        self.capacity = max(4, budget_bytes // max(1, frame_bytes))
        self.ahead, self.behind = ahead, behind
        self._reader = _MappedReader(self._frames) if _MappedReader.usable(self._frames) else None
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._wanted: list[int] = []
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._worker: threading.Thread | None = None

    # -- reading ----------------------------------------------------------------------------

    def _read(self, index: int) -> np.ndarray:
        if self._reader is not None:
            return self._reader.read(index)
        return np.array(self._frames[index], copy=True)

    def cached(self, index: int) -> np.ndarray | None:
        with self._lock:
            frame = self._cache.get(index)
            if frame is not None:
                self._cache.move_to_end(index)
            return frame

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (clamped), from the cache or read now (one frame at most).

        A miss reads on the calling thread, the UI thread when scrubbing: one ``pread`` of a
        single frame (a few MB at most), which is cheaper than a round trip to a worker. The
        prefetcher keeps the frames around the playhead cached, so playback rarely misses.
        """
        index = min(max(int(index), 0), self.count - 1)
        frame = self.cached(index)
        if frame is None:
            frame = self._read(index)
            self._store(index, frame)
        return frame

    def seed(self, index: int, frame: np.ndarray) -> None:
        """Cache frame ``index``, read elsewhere (the viewer's loader reads the first one)."""
        if 0 <= index < self.count and frame.shape == (self.height, self.width, 3):
            self._store(index, frame)

    def _store(self, index: int, frame: np.ndarray) -> None:
        with self._lock:
            self._cache[index] = frame
            self._cache.move_to_end(index)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)

    @property
    def cached_count(self) -> int:
        with self._lock:
            return len(self._cache)

    # -- prefetch ---------------------------------------------------------------------------

    def prefetch(self, index: int, direction: int = 1) -> None:
        """Warm the frames around ``index`` on the worker thread (a still needs none)."""
        if self.count <= 1 or self._closed:
            return
        step = 1 if direction >= 0 else -1
        # Never want more than the cache holds, or prefetching would evict its own frames.
        ahead = min(self.ahead, max(1, self.capacity - 1 - self.behind))
        behind = min(self.behind, max(0, self.capacity - 1 - ahead))
        order = [index + step * k for k in range(1, ahead + 1)]
        order += [index - step * k for k in range(1, behind + 1)]
        wanted = [i % self.count for i in order]
        with self._lock:
            self._wanted = [i for i in wanted if i not in self._cache]
            self._wake.notify()
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="frame-prefetch", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._wanted and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                index = self._wanted.pop(0)
                if index in self._cache:
                    continue
            frame = self._read(index)
            self._store(index, frame)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wanted = []
            self._cache.clear()
            self._wake.notify()
        if self._worker is not None:
            self._worker.join(timeout=2.0)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
