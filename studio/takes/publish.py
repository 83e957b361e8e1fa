"""Writing a take: stage every file privately, then publish the whole set under a new number.

1. :class:`TakeWriter` makes a private staging folder *inside the shot folder* with
   ``tempfile.mkdtemp`` (exclusive, mode 0700, never through a symlink); the Save node writes
   the mp4, poster, PNG frames there under fixed names. A full or read-only disk fails here,
   before anything is visible.
2. :meth:`TakeWriter.publish` takes the database's write lock (``BEGIN IMMEDIATE``), picks the
   next number after everything the database *and* the folder know, and moves each staged file
   to ``<shot>_v007<suffix>`` with ``os.link`` (never replaces: a name that exists fails with
   EEXIST, and the next number is tried), the main file (mp4/PNG) last, so a take whose main
   file exists is complete. Then it records the row and commits. Any failure unpublishes what
   it published.
3. The staging folder is removed on success, failure and cancellation; a process killed with
   SIGKILL leaves it behind, and the next writer in that folder sweeps staging folders whose
   process is gone (:func:`sweep_stale`), plus half-published sets with no main file and no
   database row.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from studio.engine.processes import pid_alive
from studio.takes.db import Take, TakesDB, TakesError, take_name
from studio.takes.reindex import adopt_unrecorded

STAGING_PREFIX = ".studio-tmp-"
STALE_OTHER_HOST_S = 24 * 3600  # a staging folder of another machine (a network share)
MAIN_SUFFIXES = (".mp4", ".png")
_TAKE_FILE = re.compile(r"^(?P<shot>.+)_v(?P<number>\d{3,})(?P<rest>(\.|_).*)$")


def host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", socket.gethostname())[:32] or "host"


class WriteError(TakesError):
    """A take could not be written; the message is one line naming the folder and the reason."""


def describe_os_error(error: OSError, where: Path | str) -> str:
    """``cannot write to /out/shot: No space left on device`` (no traceback, no errno)."""
    reason = error.strerror or str(error)
    return f"cannot write to {where}: {reason}"


class TakeWriter:
    """Stages one take of ``shot`` in ``out_dir/shot/`` and publishes it. Use as a context
    manager so the staging folder goes away whatever happens::

        with TakeWriter(out_dir, "shot") as writer:
            encode(writer.staged(".mp4"))
            take = writer.publish(Take(shot="shot", number=0, ...), sidecar=lambda t: "...")
    """

    def __init__(self, out_dir: Path, shot: str) -> None:
        self.out_dir = Path(out_dir)
        self.shot = shot
        self.folder = self.out_dir / shot
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not self.folder.is_dir():
                raise WriteError(f"cannot write to {self.folder}: not a folder")
            sweep_stale(self.folder)
            prefix = f"{STAGING_PREFIX}{host_tag()}-{os.getpid()}-"
            for attempt in range(5):  # a failing writer may remove the empty folder meanwhile
                try:
                    path = tempfile.mkdtemp(prefix=prefix, dir=self.folder.absolute())
                    break
                except FileNotFoundError:
                    if attempt == 4:
                        raise
                    self.folder.mkdir(parents=True, exist_ok=True)
            self.staging = Path(path)
        except OSError as error:
            raise WriteError(describe_os_error(error, self.folder)) from None
        self._suffixes: list[str] = []

    def __enter__(self) -> TakeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        try:
            self.folder.rmdir()  # a shot folder this failed take made, still empty
        except OSError:
            pass  # not empty (other takes), or gone

    def staged(self, suffix: str) -> Path:
        """Where to write the file that becomes ``<shot>_vNNN<suffix>`` (e.g. ``.mp4``,
        ``.json``, ``_poster.png``, ``_frames`` for a folder). The main file is the first
        suffix ending in .mp4 or .png that is staged."""
        if suffix not in self._suffixes:
            self._suffixes.append(suffix)
        return self.staging / f"take{suffix}"

    def staged_exists(self, suffix: str) -> bool:
        return suffix in self._suffixes and (self.staging / f"take{suffix}").exists()

    def publish(
        self,
        take: Take,
        *,
        texts: Callable[[Take], dict[str, str]] | None = None,
        db: TakesDB | None = None,
    ) -> Take:
        """Number, publish and record ``take`` (its ``files`` are filled in here).
        ``texts(take)`` returns small files to write once the number is known (the sidecar
        JSON, which names its take), by suffix. Raises :class:`WriteError`."""
        own_db = db is None
        database = TakesDB(self.out_dir) if db is None else db
        try:
            return self._publish(take, texts, database)
        finally:
            if own_db:
                database.close()

    def _publish(
        self, take: Take, texts: Callable[[Take], dict[str, str]] | None, db: TakesDB
    ) -> Take:
        main = next((s for s in self._suffixes if s in MAIN_SUFFIXES), None)
        if main is None:
            raise ValueError("nothing to publish: stage an .mp4 or .png first")
        self._published: list[tuple[Path, Path]] = []
        try:
            return self._number_and_record(take, texts, db, main)
        except BaseException as error:
            _unpublish(self._published)  # a failed commit (a full disk) must not leave files
            if isinstance(error, sqlite3.Error):
                raise WriteError(f"cannot record the take in {db.path}: {error}") from None
            raise

    def _number_and_record(
        self, take: Take, texts: Callable[[Take], dict[str, str]] | None, db: TakesDB, main: str
    ) -> Take:
        with db.transaction():
            _sweep_half_published(self.folder, self.shot, _numbers_in(self.folder, self.shot), db)
            on_disk = _numbers_in(self.folder, self.shot)
            adopt_unrecorded(db, self.shot, on_disk)  # published by a writer killed before commit
            number = max(db.max_number(self.shot), max(on_disk, default=0))
            for _attempt in range(1000):
                number += 1
                take.number = number
                take.files = []
                try:
                    if texts is not None:
                        for suffix, text in texts(take).items():
                            self.staged(suffix).write_text(text, encoding="utf-8")
                    ordered = [s for s in self._suffixes if s != main] + [main]
                    published = self._link_all(take, ordered)
                except FileExistsError:
                    continue  # another writer (not using this database) took the number
                except OSError as error:
                    raise WriteError(describe_os_error(error, self.folder)) from None
                self._published = published
                names = [target.name for _source, target in published]
                take.files = [f"{self.shot}/{n}" for n in names[-1:] + names[:-1]]
                try:
                    db.record(take)
                except TakesError:
                    _unpublish(published)
                    self._published = []
                    continue
                return take
        raise WriteError(f"cannot find a free take number for {self.shot} in {self.folder}")

    def _link_all(self, take: Take, suffixes: list[str]) -> list[tuple[Path, Path]]:
        published: list[tuple[Path, Path]] = []
        try:
            for suffix in suffixes:
                source = self.staging / f"take{suffix}"
                target = self.folder / f"{take_name(self.shot, take.number)}{suffix}"
                _publish_one(source, target)
                published.append((source, target))
        except BaseException:
            _unpublish(published)
            raise
        return published


def _publish_one(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` without ever replacing an existing ``target``. A file
    stays linked in the staging folder too (for :func:`_unpublish`) until it is discarded."""
    if source.is_dir():
        os.mkdir(target)  # the claim: EEXIST if taken
        os.rename(source, target)  # replaces the empty folder just made, atomically
        return
    try:
        os.link(source, target)  # atomic and exclusive; never follows a planted symlink
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # No hard links here (FAT, some SMB shares): claim the name exclusively, then rename.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0))
        os.close(fd)
        os.replace(source, target)


def _unpublish(published: list[tuple[Path, Path]]) -> None:
    """Undo :func:`_publish_one` for each (source, target), newest first."""
    for source, target in reversed(published):
        if source.exists():
            target.unlink(missing_ok=True)  # a second link to the staged file
        else:
            os.rename(target, source)  # it was moved: move it back


def _remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _numbers_in(folder: Path, shot: str) -> set[int]:
    numbers = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return numbers
    for name in names:
        match = _TAKE_FILE.match(name)
        if match and match["shot"] == shot:
            numbers.add(int(match["number"]))
    return numbers


def _sweep_half_published(folder: Path, shot: str, numbers: set[int], db: TakesDB) -> None:
    """Files of a take whose main file never appeared and that has no row: a writer was
    killed while publishing (we hold the write lock, so none is publishing now)."""
    recorded = {row[0] for row in db.db.execute("SELECT number FROM takes WHERE shot = ?", (shot,))}
    for number in numbers - recorded:
        stem = take_name(shot, number)
        if any((folder / f"{stem}{s}").exists() for s in MAIN_SUFFIXES):
            continue
        _remove([p for p in folder.iterdir() if _belongs(p.name, stem)])


def _belongs(name: str, stem: str) -> bool:
    return name.startswith(stem) and len(name) > len(stem) and name[len(stem)] in "._"


def sweep_stale(folder: Path) -> list[Path]:
    """Remove staging folders left by killed writers: this machine's whose process is gone,
    another machine's after a day. Returns what it removed."""
    removed = []
    host = host_tag()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(STAGING_PREFIX) or entry.is_symlink():
            continue
        parts = entry.name[len(STAGING_PREFIX) :].split("-")
        stale = False
        if len(parts) >= 3 and parts[0] == host and parts[1].isdigit():
            stale = not pid_alive(int(parts[1]))
        else:
            try:
                stale = (
                    time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_OTHER_HOST_S
                )
            except OSError:
                stale = False
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed
