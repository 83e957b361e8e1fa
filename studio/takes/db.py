"""The takes database: an SQLite index of every take written into one output folder.

It lives beside the outputs (``<out>/takes.sqlite``) so a folder of takes carries its own index
when it is moved or shared. The files stay the truth: a take whose mp4 was deleted is reported
as missing (:attr:`Take.missing`), and :func:`studio.takes.reindex.reindex` rebuilds the index
from the workflows the mp4s embed.

Journal mode: WAL, so readers (the editor's Takes panel, ``studio takes list``) never block a
render that records a take. WAL needs shared memory between the processes that open the file,
which network file systems (NFS, SMB) do not give; on a network share (detected from
``/proc/mounts`` on Linux, or ``STUDIO_TAKES_JOURNAL=delete``) the database uses SQLite's
rollback journal instead, which relies on the share's file locks. Whatever the mode, take
numbers are also protected by the file system itself: publishing a take never replaces a file
(see :mod:`studio.takes.publish`).

Schema changes are numbered steps in :data:`MIGRATIONS` (``PRAGMA user_version`` holds the
number reached), run in one transaction when a database is opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

DB_NAME = "takes.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0  # a render recording a take holds the write lock for milliseconds
NETWORK_FS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "9p", "fuse.sshfs", "afpfs", "ncpfs"}


class Rating(StrEnum):
    NONE = ""
    CIRCLE = "circle"  # a keeper
    REJECT = "reject"  # `studio takes purge --rejected` deletes its files


_RATINGS = {str(r): r for r in Rating}  # a dict lookup: Rating(text) costs microseconds


class TakesError(Exception):
    """A problem with the takes database or a take reference: one clear line for the user."""


def _v0_to_v1(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE takes (
            id INTEGER PRIMARY KEY,
            shot TEXT NOT NULL,
            number INTEGER NOT NULL,
            created REAL NOT NULL,
            node_type TEXT NOT NULL DEFAULT '',
            node_title TEXT NOT NULL DEFAULT '',
            cache_key TEXT NOT NULL DEFAULT '',
            changed TEXT NOT NULL DEFAULT '{}',
            seeds TEXT NOT NULL DEFAULT '{}',
            nodes TEXT NOT NULL DEFAULT '{}',
            versions TEXT NOT NULL DEFAULT '{}',
            device TEXT NOT NULL DEFAULT '',
            files TEXT NOT NULL DEFAULT '[]',
            rating TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            UNIQUE (shot, number)
        )
        """
    )
    # Snapshots apart: a 10 kB workflow inside each row would make every list walk it.
    db.execute(
        "CREATE TABLE snapshots (take_id INTEGER PRIMARY KEY, workflow TEXT NOT NULL DEFAULT '')"
    )
    db.execute("CREATE INDEX takes_by_key ON takes (cache_key)")
    db.execute("CREATE INDEX takes_by_created ON takes (created, number)")


# Step n brings a database from schema n to n + 1. Append; never edit a released step.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _v0_to_v1}

_FIELDS = (
    "id, shot, number, created, node_type, node_title, cache_key, workflow, changed, seeds, "
    "nodes, versions, device, files, rating, note"
).split(", ")
_STORED = [f for f in _FIELDS if f not in ("id", "workflow")]  # the takes table's own columns


def _select(with_workflow: bool = True, details: bool = True) -> str:
    """SELECT ... FROM: a take's fields in :data:`_FIELDS` order, the snapshot only if asked."""

    def column(name: str) -> str:
        # NULL, not '' or '{}': None costs nothing per row, a new str does.
        if name == "workflow":
            return "COALESCE(s.workflow, '')" if with_workflow else "NULL"
        if name in ("seeds", "nodes", "versions") and not details:
            return "NULL"
        return f"t.{name}"

    columns = ", ".join(column(f) for f in _FIELDS)
    joined = " LEFT JOIN snapshots s ON s.take_id = t.id" if with_workflow else ""
    return f"SELECT {columns} FROM takes t{joined}"


@dataclass(slots=True)
class Take:
    """One take: a numbered, never-overwritten output set of a Save node.

    ``files`` are relative to the output folder (the database's folder), the mp4 or PNG first;
    ``nodes`` maps node id -> {"title", "type", "key", "seconds", "cached"} for the run that
    made it; ``changed`` maps "Title.param" -> [previous value, this value] against the
    previous take of the same shot.
    """

    shot: str
    number: int
    created: float = field(default_factory=time.time)
    node_type: str = ""
    node_title: str = ""
    cache_key: str = ""
    workflow: str = ""
    changed: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    files: list[str] = field(default_factory=list)
    rating: Rating = Rating.NONE
    note: str = ""
    id: int | None = None
    root: Path | None = None  # the output folder, set when read from a database

    @property
    def name(self) -> str:
        """``shot_v007``: how the CLI and the panel refer to a take."""
        return take_name(self.shot, self.number)

    def paths(self) -> list[Path]:
        root = self.root or Path(".")
        return [root / f for f in self.files]

    @property
    def draft(self) -> bool:
        """True for a take rendered in draft mode (its workflow says so): never to be mistaken
        for a final."""
        if not self.workflow:
            return False
        try:
            metadata = json.loads(self.workflow).get("metadata")
        except (ValueError, AttributeError):
            return False
        return isinstance(metadata, dict) and "draft" in metadata

    @property
    def missing(self) -> bool:
        """True when the take's main file (its mp4 or PNG) is gone from disk."""
        paths = self.paths()
        return not paths or not paths[0].exists()


def take_name(shot: str, number: int) -> str:
    return f"{shot}_v{number:03d}"


class TakesDB:
    """The takes of one output folder. API for the render queue and the editor:

    - ``TakesDB(out_dir)`` opens (creating or migrating) ``out_dir/takes.sqlite``;
    - ``next_number(shot)`` / ``record(take)`` (``record`` raises :class:`TakeNumberTaken`
      when the number was taken meanwhile; :func:`studio.takes.publish.publish_take` does
      the numbering, publishing and recording together);
    - ``list(shot=None, rating=None, limit=None)`` newest first, ``get("shot_v007")``,
      ``by_key(cache_key)`` (the take a Save node with that key already wrote),
      ``rate(name, Rating.CIRCLE)``, ``set_note(name, text)``, ``delete(name)``.

    Thread use: one connection per object; make one per thread.
    """

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        self.root = Path(root)
        self.path = self.root / DB_NAME
        if not create and not self.path.exists():
            raise TakesError(f"no takes database in {self.root} (no {DB_NAME})")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.journal = _set_journal(self.db, self.root)
            self.db.execute(
                "PRAGMA synchronous=NORMAL" if self.journal == "wal" else "PRAGMA synchronous=FULL"
            )
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise TakesError(f"cannot open the takes database {self.path}: {error}") from None
        except OSError as error:
            raise TakesError(
                f"cannot open the takes database {self.path}: {error.strerror or error}"
            ) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> TakesDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (BEGIN IMMEDIATE): two processes numbering takes
        are serialised here, never both reading the same "highest number"."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled back already (a full disk)
                self.db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        if self.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # up to date: no write lock (readers such as the editor's badges stay cheap)
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise TakesError(
                    f"{self.path} was written by a newer Studio (schema {version}; this one "
                    f"reads up to {SCHEMA_VERSION})"
                )
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](db)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")

    # -- writing ---------------------------------------------------------------------------

    def max_number(self, shot: str) -> int:
        row = self.db.execute("SELECT MAX(number) FROM takes WHERE shot = ?", (shot,)).fetchone()
        return int(row[0] or 0)

    def record(self, take: Take) -> Take:
        """Insert ``take``; raises :class:`TakeNumberTaken` if its number is already used."""
        values = _row_values(take)
        try:
            cursor = self.db.execute(
                f"INSERT INTO takes ({', '.join(_STORED)}) VALUES ({', '.join('?' * len(values))})",
                values,
            )
        except sqlite3.IntegrityError:
            raise TakeNumberTaken(take.name) from None
        take.id = cursor.lastrowid
        self.db.execute(
            "INSERT OR REPLACE INTO snapshots (take_id, workflow) VALUES (?, ?)",
            (take.id, take.workflow),
        )
        take.root = self.root
        return take

    def replace(self, take: Take) -> Take:
        """Insert or overwrite the row of ``take.shot``/``take.number`` (reindexing)."""
        self._delete("shot = ? AND number = ?", (take.shot, take.number))
        return self.record(take)

    def _delete(self, where: str, args: tuple[Any, ...]) -> None:
        self.db.execute(
            f"DELETE FROM snapshots WHERE take_id IN (SELECT id FROM takes WHERE {where})", args
        )
        self.db.execute(f"DELETE FROM takes WHERE {where}", args)

    def rate(self, name: str, rating: Rating) -> Take:
        take = self.get(name)
        self.db.execute("UPDATE takes SET rating = ? WHERE id = ?", (str(rating), take.id))
        take.rating = rating
        return take

    def set_note(self, name: str, note: str) -> Take:
        take = self.get(name)
        self.db.execute("UPDATE takes SET note = ? WHERE id = ?", (note, take.id))
        take.note = note
        return take

    def delete(self, name: str) -> None:
        take = self.get(name)
        self._delete("id = ?", (take.id,))

    # -- reading ---------------------------------------------------------------------------

    def list(
        self,
        shot: str | None = None,
        rating: Rating | None = None,
        limit: int | None = None,
        *,
        with_workflow: bool = False,
        details: bool = False,
    ) -> TakeList:
        """Takes newest first (by time, then number), optionally of one shot or rating.
        For speed (10,000 takes list in well under 100 ms) a listed take has no ``workflow``
        unless ``with_workflow`` and empty ``seeds``/``nodes``/``versions`` unless
        ``details``; :meth:`get` returns everything."""
        where, args = [], []
        if shot is not None:
            where.append("t.shot = ?")
            args.append(shot)
        if rating is not None:
            where.append("t.rating = ?")
            args.append(str(rating))
        sql = _select(with_workflow, details)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY t.created DESC, t.number DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return TakeList(self, self.db.execute(sql, args).fetchall())

    def shots(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT shot FROM takes ORDER BY shot")]

    def get(self, name: str) -> Take:
        """The take called ``name`` (``shot_v007``, or ``shot`` for its newest take)."""
        shot, number = parse_take_name(name)
        if number is None:
            row = self.db.execute(
                f"{_select()} WHERE t.shot = ? ORDER BY t.number DESC LIMIT 1",
                (shot,),
            ).fetchone()
        else:
            row = self.db.execute(
                f"{_select()} WHERE t.shot = ? AND t.number = ?", (shot, number)
            ).fetchone()
        if row is None:
            raise TakesError(f"no take {name!r} in {self.path}")
        return self._take(row)

    def by_key(self, cache_key: str) -> list[Take]:
        """Takes a Save node with this cache key wrote, newest first."""
        rows = self.db.execute(
            f"{_select()} WHERE t.cache_key = ? ORDER BY t.number DESC", (cache_key,)
        )
        return [self._take(row) for row in rows]

    def previous(self, shot: str, number: int) -> Take | None:
        row = self.db.execute(
            f"{_select()} WHERE t.shot = ? AND t.number < ? ORDER BY t.number DESC LIMIT 1",
            (shot, number),
        ).fetchone()
        return self._take(row) if row else None

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM takes").fetchone()[0])

    def _take(self, row: Sequence[Any], *parsed: Any) -> Take:
        changed, seeds, nodes, versions, files = parsed or (
            _json(row[8] or "{}", {}),
            _json(row[9] or "{}", {}),
            _json(row[10] or "{}", {}),
            _json(row[11] or "{}", {}),
            _json(row[13] or "[]", []),
        )
        return Take(
            id=row[0],
            shot=row[1],
            number=row[2],
            created=row[3],
            node_type=row[4],
            node_title=row[5],
            cache_key=row[6],
            workflow=row[7] or "",
            changed=changed if isinstance(changed, dict) else {},
            seeds=seeds if isinstance(seeds, dict) else {},
            nodes=nodes if isinstance(nodes, dict) else {},
            versions=versions if isinstance(versions, dict) else {},
            device=row[12],
            files=files if isinstance(files, list) else [],
            rating=_RATINGS.get(row[14], Rating.NONE),
            note=row[15],
            root=self.root,
        )


class TakeList(Sequence[Take]):
    """The result of :meth:`TakesDB.list`: rows become :class:`Take` objects when first read,
    so a view showing 20 of 10,000 takes builds 20. Iterating builds them all, parsing each
    JSON column in one call rather than 10,000 (parsing tiny documents one by one costs more
    than the query)."""

    def __init__(self, db: TakesDB, rows: list[Any]) -> None:
        self._db = db
        self._rows = rows
        self._takes: list[Take | None] = [None] * len(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        take = self._takes[index]
        if take is None:
            take = self._takes[index] = self._db._take(self._rows[index])
        return take

    def __iter__(self) -> Iterator[Take]:
        missing = [n for n, take in enumerate(self._takes) if take is None]
        if len(missing) > 64:
            columns = {
                i: _json_column([self._rows[n][i] or "null" for n in missing])
                for i in (8, 9, 10, 11, 13)
            }
            for k, n in enumerate(missing):
                parsed = [columns[i][k] for i in (8, 9, 10, 11, 13)]
                self._takes[n] = self._db._take(self._rows[n], *parsed)
        return (self[n] for n in range(len(self)))

    def names(self) -> list[str]:
        """Every take's name, without building the takes."""
        return [take_name(row[1], row[2]) for row in self._rows]

    def shots_and_numbers(self) -> list[tuple[str, int]]:
        return [(row[1], row[2]) for row in self._rows]


class TakeNumberTaken(TakesError):
    """Another process recorded this take number first."""


def parse_take_name(name: str) -> tuple[str, int | None]:
    """``"shot_v007"`` -> ("shot", 7); ``"shot"`` -> ("shot", None)."""
    stem, sep, digits = name.rpartition("_v")
    if sep and stem and digits.isdigit():
        return stem, int(digits)
    return name, None


def _row_values(take: Take) -> tuple[Any, ...]:
    return (
        take.shot,
        int(take.number),
        float(take.created),
        take.node_type,
        take.node_title,
        take.cache_key,
        json.dumps(take.changed, default=str),
        json.dumps(take.seeds),
        json.dumps(take.nodes, default=str),
        json.dumps(take.versions, default=str),
        take.device,
        json.dumps([str(f) for f in take.files]),
        str(take.rating),
        take.note,
    )


def _json_column(texts: list[str]) -> list[Any]:
    """Parse many small JSON texts in one call; a damaged one is None (the rest still parse)."""
    try:
        return json.loads("[" + ",".join(texts) + "]")
    except (TypeError, ValueError):
        return [_json(text, {}) if str(text).startswith("{") else _json(text, []) for text in texts]


def _json(text: str, default: Any) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return default
    return value if isinstance(value, type(default)) else default


def _set_journal(db: sqlite3.Connection, root: Path) -> str:
    """WAL on local disks; the rollback journal on network shares (WAL is unsafe there)."""
    wanted = os.environ.get("STUDIO_TAKES_JOURNAL") or (
        "delete" if on_network_share(root) else "wal"
    )
    mode = db.execute(f"PRAGMA journal_mode={'wal' if wanted == 'wal' else 'delete'}").fetchone()
    return str(mode[0]).lower()


def on_network_share(path: Path) -> bool:
    """Whether ``path`` is on a network file system (Linux: from /proc/mounts; else False)."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    target = os.path.realpath(path)
    best, best_type = "", ""
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, best_type = mount_point, parts[2]
    return best_type in NETWORK_FS
