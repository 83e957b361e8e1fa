"""Clip buffers in bounded memory: big ones live in scratch files, mapped, not in RAM.

A node that makes a clip asks its context for the buffer (``ctx.new_frames(shape)``) instead
of ``np.empty``. Up to :data:`DEFAULT_SPILL_BYTES` it gets an ordinary array; above that, a
memory map of a scratch ``.npy`` file in the cache folder. Pages of a mapped file belong to the
page cache, which the kernel writes back and drops as it needs, so a 2,400-frame clip costs
disk, not anonymous memory. When the node finishes, the disk cache *adopts* the scratch file
as the entry's blob by renaming it (no second copy); a cancelled or failed node's scratch
files are deleted, and so is an unadopted one once nothing maps it any more. Files left by a
killed process are swept when their process is gone.

Scratch files are created exclusively (``O_EXCL | O_NOFOLLOW``), never through a link.
"""

from __future__ import annotations

import errno
import mmap
import os
import re
import tempfile
import threading
import weakref
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from queue import Empty, Queue
from typing import Any, TypeVar
from uuid import uuid4

import numpy as np

from studio.engine.filling import wait_for_frames
from studio.engine.processes import pid_alive
from studio.graph.spec import NodeError

DEFAULT_SPILL_BYTES = 256 * 1024**2
SPILL_ENV = "STUDIO_SPILL_BYTES"  # tests and benchmarks move the threshold
SCRATCH_DIR = "scratch"
HEADER_BYTES = 128  # a fixed .npy header, so a buffer can be shortened in place
T = TypeVar("T")
_NAME = re.compile(r"^(\d+)-[0-9a-f]{32}\.npy$")


def spill_bytes() -> int:
    value = os.environ.get(SPILL_ENV)
    return int(value) if value and value.isdigit() else DEFAULT_SPILL_BYTES


def default_scratch_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"studio-scratch-{os.getuid()}"


class FrameAllocator:
    """Buffers for one node's run; remembers the scratch files it made so a failed or
    cancelled run can delete them (:meth:`discard`)."""

    def __init__(self, scratch_dir: Path | None = None, threshold: int | None = None) -> None:
        self.scratch_dir = scratch_dir or default_scratch_dir()
        self.threshold = spill_bytes() if threshold is None else threshold
        self.made: list[Path] = []

    def new_frames(self, shape: Sequence[int], dtype: Any = np.uint8) -> np.ndarray:
        """A writable buffer of ``shape`` (uninitialised, like ``np.empty``)."""
        shape = tuple(int(s) for s in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if nbytes <= self.threshold or nbytes == 0:
            return np.empty(shape, dtype)
        path = self._create(shape, np.dtype(dtype), nbytes)
        self.made.append(path)
        return _map(path, shape, np.dtype(dtype))

    def shrink(self, buffer: np.ndarray, length: int) -> np.ndarray:
        """``buffer`` cut to its first ``length`` items along axis 0; a scratch file is cut
        in place (header rewritten, file truncated), so it stays adoptable."""
        if length == buffer.shape[0]:
            return buffer
        path = scratch_file(buffer)
        if path is None:
            return np.array(buffer[:length])
        shape = (length, *buffer.shape[1:])
        buffer.flush()
        with open(path, "r+b") as handle:
            handle.write(_header(shape, buffer.dtype))
            handle.truncate(HEADER_BYTES + int(np.prod(shape, dtype=np.int64)) * buffer.itemsize)
        return _map(path, shape, buffer.dtype)

    def discard(self) -> None:
        """Delete every scratch file this allocator made (the node failed or was cancelled)."""
        for path in self.made:
            _unlink(path)
        self.made.clear()

    def release_unused(self, outputs: Mapping[str, Any]) -> None:
        """The node succeeded: delete the scratch files it made that its ``outputs`` do not
        hold (a buffer it outgrew, a clip it published then replaced). Deleted now, not
        whenever the garbage collector frees the last mapping: a traceback caught on another
        thread can keep one alive for a while."""
        values = outputs.values() if isinstance(outputs, Mapping) else ()  # else: refused
        held = {_mapped_path(getattr(value, "frames", value)) for value in values}
        kept = [path for path in self.made if Path(os.path.abspath(path)) in held]
        for path in self.made:
            if path not in kept:
                _unlink(path)
        self.made = kept

    def _create(self, shape: tuple[int, ...], dtype: np.dtype, nbytes: int) -> Path:
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        path = self.scratch_dir / f"{os.getpid()}-{uuid4().hex}.npy"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, _header(shape, dtype))
            # The disk space is reserved now: a mapped file's page written on a full disk
            # would kill the process (SIGBUS), a refused reservation is a clear error.
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, HEADER_BYTES + nbytes)
            else:
                os.ftruncate(fd, HEADER_BYTES + nbytes)
        except OSError as exc:
            os.close(fd)
            _unlink(path)
            if exc.errno == errno.ENOSPC:
                raise NodeError(
                    f"not enough disk space for a {nbytes / 1024**3:.2f} GB clip in "
                    f"{self.scratch_dir}: free some space or clear the cache"
                ) from None
            raise OSError(exc.errno, f"cannot make a scratch file in {self.scratch_dir}: "
                          f"{exc.strerror}") from None  # fmt: skip
        os.close(fd)
        return path


_finalizers: dict[Path, weakref.finalize] = {}


def _map(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> np.memmap:
    old = _finalizers.pop(path, None)
    if old is not None:
        old.detach()  # a shortened buffer: the new mapping owns the file now
    array = np.memmap(path, dtype=dtype, mode="r+", offset=HEADER_BYTES, shape=shape)
    # Deleted once nothing maps it, unless the disk cache took it (renamed) meanwhile.
    _finalizers[path] = weakref.finalize(array, _forget, path)
    return array


def _forget(path: Path) -> None:
    _finalizers.pop(path, None)
    _unlink(path)


def _header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """A .npy (version 1.0) header padded to exactly :data:`HEADER_BYTES`."""
    described = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": shape}  # fmt: skip
    text = repr(described).encode("latin1")
    room = HEADER_BYTES - 10 - 1
    if len(text) > room:
        raise ValueError(f"shape {shape} does not fit a scratch header")
    body = text + b" " * (room - len(text)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # adopted by the cache (renamed), or already gone


def scratch_file(array: Any) -> Path | None:
    """The scratch file ``array`` maps as a whole (so it can be adopted), else None."""
    if not isinstance(array, np.memmap) or array.filename is None:
        return None
    path = Path(array.filename)
    if path.parent.name != SCRATCH_DIR and not path.parent.name.startswith("studio-scratch-"):
        return None
    if not _NAME.match(path.name) or array.offset != HEADER_BYTES:
        return None
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if size != HEADER_BYTES + array.nbytes or not array.flags.c_contiguous:
        return None
    return path


def adopt(array: np.ndarray, target: Path, chunk: int) -> tuple[int, list[int]] | None:
    """Move ``array``'s scratch file to ``target`` (a blob of a cache entry being written);
    returns (size, CRC-32 per ``chunk`` bytes) as the disk cache records them, or None when
    ``array`` is no whole scratch file. The mapping stays valid: it follows the file."""
    path = scratch_file(array)
    if path is None:
        return None
    array.flush()
    crcs = [0]
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(min(chunk, 16 * 1024**2)):
            view = memoryview(block)
            while len(view):
                room = chunk - size % chunk
                part, view = view[:room], view[room:]
                crcs[-1] = zlib.crc32(part, crcs[-1])
                size += len(part)
                if size % chunk == 0:
                    crcs.append(0)
    if size and size % chunk == 0:
        crcs.pop()
    os.replace(path, target)
    return size, crcs


def sweep(scratch_dir: Path) -> int:
    """Delete scratch files whose process is gone (killed mid-run); returns how many."""
    removed = 0
    try:
        names = os.listdir(scratch_dir)
    except OSError:
        return 0
    for name in names:
        match = _NAME.match(name)
        if match is None or pid_alive(int(match.group(1))):
            continue
        _unlink(scratch_dir / name)
        removed += 1
    return removed


def _mapped_path(array: Any) -> Path | None:
    """The file ``array`` (or what it views) maps, else None."""
    while isinstance(array, np.ndarray):
        if isinstance(array, np.memmap) and array.filename is not None:
            return Path(os.path.abspath(array.filename))
        array = array.base
    return None


def is_mapped(array: Any) -> bool:
    """Whether ``array`` (or what it views) is a file mapping: its pages are the page cache's."""
    while isinstance(array, np.ndarray):
        if isinstance(array, np.memmap):
            return True
        array = array.base
    return False


# -- reading clips a chunk at a time --------------------------------------------------------------

CHUNK_BYTES = 8 * 1024**2  # what a chunked pass reads at once: a few HD frames


def gather(
    frames: np.ndarray, source: Sequence[int], out: np.ndarray, chunk: int | None = None
) -> np.ndarray:
    """``out[k] = frames[source[k]]`` for every k, a chunk at a time (fancy indexing a whole
    clip would copy all of it into RAM first). Returns ``out``."""
    source = np.asarray(source, np.int64)
    chunk = chunk or chunk_frames(frames)
    for start in range(0, len(source), chunk):
        out[start : start + chunk] = frames[source[start : start + chunk]]
    return out


class Window:
    """One chunk of a temporal pass: frames ``start..end`` (exclusive) of the clip are the ones
    to compute; ``block`` holds frames ``first..first + len(block)``, which include up to
    ``before`` frames before ``start`` and ``after`` after ``end - 1`` (fewer at the clip's ends).
    """

    __slots__ = ("after", "before", "block", "end", "first", "start")

    def __init__(self, block: np.ndarray, first: int, start: int, end: int) -> None:
        self.block, self.first, self.start, self.end = block, first, start, end
        self.before, self.after = start - first, first + len(block) - end

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` of the clip (absolute), which must lie within the block."""
        if not self.first <= index < self.first + len(self.block):
            raise IndexError(f"frame {index} is outside this window {self.first}..")
        return self.block[index - self.first]


def chunk_frames(frames: np.ndarray) -> int:
    """Frames in a chunk of :data:`CHUNK_BYTES`: a few for HD, more for small clips."""
    frame_bytes = max(1, int(np.prod(frames.shape[1:], dtype=np.int64)) * frames.itemsize)
    return max(1, CHUNK_BYTES // frame_bytes)


def windows(
    frames: np.ndarray,
    chunk: int | None = None,
    before: int = 0,
    after: int = 0,
    touch: bool = False,
) -> Iterator[Window]:
    """Overlapping chunks of ``frames`` for a node that needs a temporal window: each
    :class:`Window` covers ``chunk`` frames to compute (default: :func:`chunk_frames`) plus
    ``before``/``after`` neighbours. Blocks are views, never copies; with ``touch`` a mapped
    clip's block is read from disk now (its pages fault into the page cache, which costs no
    anonymous memory), so a helper thread can read ahead (:func:`read_ahead`). A clip that
    is still being made upstream is read as its frames become ready."""
    chunk = chunk_frames(frames) if chunk is None else chunk
    if chunk < 1 or before < 0 or after < 0:
        raise ValueError(f"bad window: chunk {chunk}, before {before}, after {after}")
    count = len(frames)
    for start in range(0, count, chunk):
        end = min(count, start + chunk)
        first, last = max(0, start - before), min(count, end + after)
        wait_for_frames(frames, last)  # a clip its producer still writes (studio.engine.filling)
        block = frames[first:last]
        if touch and is_mapped(block) and block.flags.c_contiguous and block.size:
            flat = block.reshape(-1)
            int(flat[:: mmap.PAGESIZE].max())  # one byte a page: the kernel reads them all
        yield Window(block, first, start, end)


def read_ahead(
    frames: np.ndarray, chunk: int | None = None, before: int = 0, after: int = 0
) -> Iterator[Window]:
    """:func:`windows` read on a helper thread a couple of chunks ahead of the consumer
    (:func:`prefetch`): disk reads overlap the node's compute."""
    return prefetch(windows(frames, chunk, before, after, touch=True))


PREFETCH_ENV = "STUDIO_PREFETCH"  # chunks read ahead; 0 reads in the consuming thread (benchmarks)


def prefetch_depth() -> int:
    value = os.environ.get(PREFETCH_ENV)
    return int(value) if value and value.isdigit() else 2


def prefetch(items: Iterable[T], depth: int | None = None) -> Iterator[T]:
    """``items`` produced on a helper thread, up to ``depth`` ahead of the consumer (a small
    bounded queue), so reading chunk k+1 (disk, decode) overlaps computing chunk k. An error
    in the producer is raised in the consumer; a consumer that stops early (cancel, failure)
    stops the producer after at most one more item."""
    depth = prefetch_depth() if depth is None else depth
    if depth <= 0:
        yield from items
        return
    queue: Queue[tuple[str, Any]] = Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                queue.put(("item", item))
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            queue.put(("error", exc))
            return
        queue.put(("done", None))

    thread = threading.Thread(target=produce, name="studio-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # free a slot so a blocked producer can see ``stop``
            try:
                queue.get(timeout=0.05)
            except Empty:
                pass
        thread.join()
