"""Content fingerprints of the files and folders a node reads, for its cache key.

A fingerprint is a hash of the bytes (and, for a folder, of every file's relative name and
bytes), never of an absolute path or a modification time: the same shot rendered on another
machine, from another folder, keys the same and can share results. Hashing is memoised by
(real path, device, inode, size, mtime_ns, ctime_ns) in memory and, when a ``store`` folder is
given, on disk, so a file is read once until it changes. Files in a Hugging Face cache are
symlinks to blobs named by their own hash: that name is used and nothing is read.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

CHUNK = 1024 * 1024
# A folder with more frames than this is not something a node reads frame by frame.
MAX_FOLDER_FILES = 200_000
# A model folder holds tens of files; a walk past this is not a model (the root, a home).
MAX_TREE_FILES = 10_000
# Kernel and device trees: sizes lie (/proc/kcore) and reads may never end.
_SPECIAL = ("/proc/", "/sys/", "/dev/")
_MEMO_LIMIT = 500_000
_HF_BLOB = re.compile(r"[0-9a-f]{40,64}")

ModelResolver = Callable[[str, str], Path | None]


class Fingerprints:
    """Content hashes of files and folders, memoised by their stat.

    ``store``: a folder that keeps the memo across processes (one small file per entry).
    ``resolve_model``: turns a MODEL param's value (a repo id or name) into its folder.
    """

    def __init__(
        self, store: Path | None = None, resolve_model: ModelResolver | None = None
    ) -> None:
        self.store = Path(store) if store is not None else None
        self.resolve_model = resolve_model
        self._memo: dict[tuple[str, int, int, int, int, int], str] = {}
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------

    def of_path(self, value: str, folder_files: str = "") -> str:
        """The fingerprint of what ``value`` names: a file, or in a folder the files whose
        names match ``folder_files`` ("**": every file below it; "": a folder is not read)."""
        try:
            path = Path(value).expanduser()
            if os.path.realpath(path).startswith(_SPECIAL):
                return "special"  # never read: the node refuses such paths
            if path.is_dir():
                if not folder_files:
                    return "folder"
                if folder_files == "**":
                    return "tree:" + self.tree(path)
                return "folder:" + self.folder(path, folder_files)
            if path.is_file():
                return f"file{path.suffix.lower()}:" + self.file(path)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            return f"unreadable:{getattr(exc, 'strerror', None) or type(exc).__name__}"
        return "missing"  # the node will fail; nothing is cached for it

    def of_model(self, value: str, kind: str) -> str:
        """A MODEL param: a folder path is hashed; a name is resolved to its folder first."""
        if not value.strip():
            return ""
        path = Path(value).expanduser()
        try:
            is_model = (path / "model_index.json").is_file()
        except (OSError, ValueError):
            is_model = False
        if not is_model and self.resolve_model is not None:
            try:
                found = self.resolve_model(value, kind)
            except Exception:  # not found or not usable: the node says why when it runs
                found = None
            if found is None:
                return "unresolved:" + value
            path = found
        elif not is_model:
            return "unresolved:" + value  # the node says it is not a model when it runs
        return self.of_path(str(path), "**")

    def file(self, path: Path) -> str:
        """blake2b of the file's bytes (or its Hugging Face blob name)."""
        blob = _hf_blob_name(path)
        if blob is not None:
            return "hf:" + blob
        stat = os.stat(path)
        real = os.path.realpath(path)
        memo_key = (
            real,
            stat.st_dev,
            stat.st_ino,
            stat.st_size,
            stat.st_mtime_ns,
            stat.st_ctime_ns,
        )
        with self._lock:
            digest = self._memo.get(memo_key)
        if digest is None:
            digest = self._from_store(memo_key)
        if digest is None:
            digest = _hash_file(real)
            after = os.stat(real)
            if (after.st_size, after.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                return "changing:" + digest  # written while read: never memoised
            self._to_store(memo_key, digest)
        with self._lock:
            if len(self._memo) > _MEMO_LIMIT:
                self._memo.clear()
            self._memo[memo_key] = digest
        return digest

    def folder(self, path: Path, pattern: str) -> str:
        """One hash over the files directly in ``path`` whose lower-cased names match
        ``pattern``: each one's name and content (what a PNG-sequence reader reads)."""
        digest = hashlib.blake2b(digest_size=20)
        names = sorted(
            entry.name
            for entry in os.scandir(path)
            if fnmatch.fnmatch(entry.name.lower(), pattern) and entry.is_file()
        )
        if len(names) > MAX_FOLDER_FILES:
            raise OSError(f"more than {MAX_FOLDER_FILES} files")
        for name in names:
            try:
                content = self.file(path / name)
            except OSError as exc:
                content = f"unreadable:{exc.strerror or type(exc).__name__}"
            digest.update(f"{name}\0{content}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def tree(self, path: Path) -> str:
        """One hash over every non-hidden file under ``path``: relative name and content."""
        digest = hashlib.blake2b(digest_size=20)
        count = 0
        seen: set[str] = set()
        for root, dirs, files in os.walk(path, followlinks=True):
            real = os.path.realpath(root)
            if real in seen:  # a link loop
                dirs[:] = []
                continue
            seen.add(real)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            rel_root = os.path.relpath(root, path)
            for name in sorted(f for f in files if not f.startswith(".")):
                count += 1
                if count > MAX_TREE_FILES:
                    raise OSError(f"more than {MAX_TREE_FILES} files")
                rel = os.path.normpath(os.path.join(rel_root, name)).replace(os.sep, "/")
                try:
                    content = self.file(Path(root) / name)
                except OSError as exc:
                    content = f"unreadable:{exc.strerror or type(exc).__name__}"
                digest.update(f"{rel}\0{content}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    # -- the on-disk memo -----------------------------------------------------------------------

    def _store_file(self, memo_key: tuple[object, ...]) -> Path | None:
        if self.store is None:
            return None
        name = hashlib.blake2b(repr(memo_key).encode(), digest_size=16).hexdigest()
        return self.store / name[:2] / name

    def _from_store(self, memo_key: tuple[object, ...]) -> str | None:
        file = self._store_file(memo_key)
        if file is None:
            return None
        try:
            text = file.read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return None
        return text if re.fullmatch(r"[0-9a-f]{40}", text) else None  # damaged: hash again

    def _to_store(self, memo_key: tuple[object, ...], digest: str) -> None:
        file = self._store_file(memo_key)
        if file is None:
            return
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_name(f"{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(digest)
            os.replace(tmp, file)
        except OSError:
            pass  # a read-only or full cache only means hashing again next time


def _hash_file(path: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _hf_blob_name(path: Path) -> str | None:
    """The content hash a Hugging Face cache names its blobs by, if ``path`` links to one."""
    if not path.is_symlink():
        return None
    target = Path(os.path.realpath(path))
    if target.parent.name == "blobs" and _HF_BLOB.fullmatch(target.name) and target.is_file():
        return target.name
    return None
