"""The media index: one SQLite file in the data directory.

TinyDB holds the assistant's small state, but this index reaches a hundred thousand rows: TinyDB
rewrites its whole JSON file on every write and scans every row on every query, while SQLite updates
one page and answers an indexed range query in milliseconds (scripts/bench/media.py has the figures).
WAL mode with synchronous=FULL: a committed change survives a crash or a power cut.

A path whose name is not UTF-8 is stored as its bytes and read back as the same str (see names.py):
every write goes in through `kept`, which also marks the index as holding such names ("byte_names" in
meta), and only then does `query` look at every value it reads back (at 100,000 rows that look costs
as much as the query itself, so a library without such names does not pay it).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple

from assistant.core.errors import MediaError
from assistant.core.transactions import locked_transaction
from assistant.media.names import loaded, spoken_name, stored

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    folder TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash TEXT,
    taken TEXT, camera TEXT, lat REAL, lon REAL, place TEXT, country TEXT,
    width INTEGER, height INTEGER, duration_s REAL,
    title TEXT, artist TEXT, album TEXT, genre TEXT, track INTEGER, year INTEGER,
    phash INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS files_kind_taken ON files (kind, taken);
CREATE INDEX IF NOT EXISTS files_hash ON files (hash);
CREATE INDEX IF NOT EXISTS files_size_inode ON files (size, inode);
CREATE INDEX IF NOT EXISTS files_camera ON files (camera COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS files_place ON files (place COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS files_country ON files (country);
CREATE INDEX IF NOT EXISTS files_lat ON files (lat);
CREATE INDEX IF NOT EXISTS files_folder ON files (root, folder);
CREATE INDEX IF NOT EXISTS files_artist ON files (artist COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS files_album ON files (album COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS files_genre ON files (genre COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS albums (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    smart INTEGER NOT NULL,
    query TEXT NOT NULL,
    described TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS album_files (
    album TEXT NOT NULL COLLATE NOCASE REFERENCES albums (name) ON DELETE CASCADE ON UPDATE CASCADE,
    file INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    PRIMARY KEY (album, file)
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    what TEXT NOT NULL,
    at TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS moves (
    id INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL REFERENCES batches (id),
    file INTEGER,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS moves_batch ON moves (batch, state);
"""


class FileRow(NamedTuple):
    """One indexed file, as the index holds it. A NamedTuple, not a frozen dataclass: an album query
    builds thousands of them, and a tuple is made about five times faster."""

    id: int
    path: str
    root: str
    folder: str
    """The parent folder relative to its root ("" for the root itself)."""
    kind: str
    size: int
    mtime_ns: int
    inode: int
    hash: str | None
    taken: str | None
    camera: str | None
    lat: float | None
    lon: float | None
    place: str | None
    """The nearest well-known city to the GPS position."""
    country: str | None
    """Its ISO 3166 code ("FR")."""
    width: int | None
    height: int | None
    duration_s: float | None
    title: str | None
    artist: str | None
    album: str | None
    genre: str | None
    track: int | None
    year: int | None
    phash: int | None
    error: str | None


COLUMNS = FileRow._fields
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM files"


class Catalogue:
    """The index, shared by the scanner, the albums, the mover and the skill. One connection guarded
    by a lock: callers run in worker threads, never on the event loop."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=10000")  # `assistant media …` beside a running assistant
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.create_function("spoken_name", 1, _spoken_name, deterministic=True)
            self._db.executescript(_SCHEMA)
            version = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as e:
            raise MediaError(
                f"the media index {path} cannot be opened ({e}); move it aside and run "
                "`assistant media scan` to build it again (your files are not touched)"
            ) from e
        if version is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) > SCHEMA_VERSION:
            raise MediaError(f"the media index {path} was written by a newer version of the assistant")
        self.lock = threading.RLock()
        self._seen_byte_names = False

    def close(self) -> None:
        with self.lock:
            self._db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One atomic, durable write: all of it is on disk when the block ends, or none of it."""
        return locked_transaction(self._db, self.lock, self.path)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            rows = self._db.execute(sql, [stored(p) for p in params]).fetchall()
            if not rows or not self._byte_names():
                return rows
        return [tuple(map(loaded, row)) if bytes in map(type, row) else row for row in rows]

    def _byte_names(self) -> bool:
        """Whether any name in the index is stored as bytes (asked each time while not: the shell's
        `assistant media scan` may have stored one beside a running assistant)."""
        if not self._seen_byte_names:
            found = self._db.execute("SELECT 1 FROM meta WHERE key = 'byte_names'").fetchone()
            self._seen_byte_names = found is not None
        return self._seen_byte_names

    def files(
        self, where: str = "", params: Sequence[Any] = (), order: str = "taken, path", limit: int | None = None
    ) -> list[FileRow]:
        sql = f"{_SELECT} {('WHERE ' + where) if where else ''} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return list(map(FileRow._make, self.query(sql, params)))

    def file(self, file_id: int) -> FileRow | None:
        rows = self.files("id = ?", (file_id,))
        return rows[0] if rows else None

    def count(self, where: str = "", params: Sequence[Any] = ()) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM files {('WHERE ' + where) if where else ''}", params)[0][0])

    # --- the scanner's writes -------------------------------------------------------------------

    def stat_index(self, root: str) -> dict[str, tuple[int, int, int, int]]:
        """path → (id, size, mtime_ns, inode) for every file under a root: what a rescan compares."""
        rows = self.query("SELECT path, id, size, mtime_ns, inode FROM files WHERE root = ?", (root,))
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def upsert(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert new files or replace changed ones by path, keeping their ids (album membership)."""
        names = [c for c in COLUMNS if c != "id"]
        sql = (
            f"INSERT INTO files ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT(path) DO UPDATE SET {', '.join(f'{n}=excluded.{n}' for n in names if n != 'path')}"
        )
        with self.transaction() as db:
            batch = kept(db, [tuple(row.get(n) for n in names) for row in rows])
            db.executemany(sql, batch)
        return len(batch)

    def relocate(self, moves: Iterable[tuple[int, str, str, str, int, int]]) -> None:
        """A file found at a new path (moved or renamed outside the assistant): (id, path, root, folder,
        mtime_ns, inode); its metadata and album membership stay."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE files SET path=?, root=?, folder=?, mtime_ns=?, inode=? WHERE id=?",
                kept(db, [(p, r, f, m, i, file_id) for file_id, p, r, f, m, i in moves]),
            )

    def forget(self, ids: Iterable[int]) -> int:
        batch = [(i,) for i in ids]
        with self.transaction() as db:
            db.executemany("DELETE FROM files WHERE id = ?", batch)
        return len(batch)

    def set_phash(self, values: Iterable[tuple[int, int | None]]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE files SET phash = ? WHERE id = ?", [(h, i) for i, h in values])

    # --- roots added with `assistant media add-folder` --------------------------------------------

    def added_roots(self) -> list[str]:
        return [r[0] for r in self.query("SELECT path FROM roots ORDER BY path")]

    def add_root(self, path: str, at: str) -> bool:
        with self.transaction() as db:
            return db.execute("INSERT OR IGNORE INTO roots VALUES (?, ?)", kept(db, [(path, at)])[0]).rowcount > 0

    def remove_root(self, path: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM roots WHERE path = ?", (stored(path),)).rowcount > 0


def _spoken_name(value: Any) -> Any:
    """SQL spoken_name(x): a name stored as bytes as it would be said (names.spoken_name)."""
    return spoken_name(loaded(value)) if isinstance(value, bytes) else value


def kept(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Parameter rows as the index stores them (`stored`); marks the index as holding byte names when
    one is, in the same transaction `db` is in."""
    out = [tuple(map(stored, row)) for row in rows]
    if any(bytes in map(type, row) for row in out):
        db.execute("INSERT OR REPLACE INTO meta VALUES ('byte_names', '1')")
    return out


def to_sqlite_int(value: int | None) -> int | None:
    """SQLite integers are signed 64-bit: a 64-bit hash is stored as its two's complement."""
    if value is None:
        return None
    return value - (1 << 64) if value >= (1 << 63) else value


def from_sqlite_int(value: int | None) -> int | None:
    if value is None:
        return None
    return value + (1 << 64) if value < 0 else value
