"""knowledge/index.db: the folders, documents, passages, notes and vectors, in one SQLite file.

Every change is one transaction under one lock, rolled back if anything in it fails (a locked
database from another `assistant knowledge` process, a full disk): a crash or a refusal leaves the
index as it was. All of the index's SQL is here.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.transactions import locked_transaction, store_failure

NOTES = "note"
"""The source of the assistant's own notes."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS documents (path TEXT PRIMARY KEY, title TEXT NOT NULL, kind TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, pages INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS passages (id INTEGER PRIMARY KEY, source TEXT NOT NULL, page INTEGER, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS passages_source ON passages (source);
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created REAL NOT NULL, owner TEXT);
CREATE TABLE IF NOT EXISTS vectors (passage INTEGER PRIMARY KEY, vector BLOB NOT NULL);
"""

Chunk = tuple[int | None, str]
"""A passage: its page (None where a document has none) and its text."""
Titled = tuple[int, str, str]
"""A passage as it is searched: its id, its text, and its document's title."""


class IndexFile:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            if "owner" not in {row[1] for row in self._db.execute("PRAGMA table_info(notes)")}:
                self._db.execute("ALTER TABLE notes ADD COLUMN owner TEXT")  # an index from before issue 28
        except sqlite3.OperationalError as e:  # its -wal file cannot be made on a full or read-only disk
            self._db.close()
            failure = store_failure(e, path)
            if failure is None:
                raise
            raise failure from e
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return locked_transaction(self._db, self._lock, self.path)

    def _rows(self, sql: str, *args: Any) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- folders ----------------------------------------------------------------------------

    def folders(self) -> list[Path]:
        """The folders added with `assistant knowledge add-folder` (the config's are not kept here)."""
        return [Path(r[0]) for r in self._rows("SELECT path FROM folders ORDER BY path")]

    def add_folder(self, path: Path) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO folders VALUES (?)", (str(path),))

    def remove_folder(self, path: Path) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM folders WHERE path = ?", (str(path),)).rowcount > 0

    # --- documents --------------------------------------------------------------------------

    def known(self) -> dict[str, tuple[int, int]]:
        """Each indexed document's (mtime_ns, size) as it was read, by path."""
        return {r[0]: (r[1], r[2]) for r in self._rows("SELECT path, mtime_ns, size FROM documents")}

    def put_document(
        self,
        source: str,
        title: str,
        kind: str,
        mtime_ns: int,
        size: int,
        chunks: list[Chunk],
        error: str | None,
        vectors: np.ndarray | None = None,
    ) -> None:
        """A document's passages (and their vectors) in place of what it had, in one transaction."""
        with self._transaction() as db:
            _drop_passages(db, source)
            for n, (page, text) in enumerate(chunks):
                passage = db.execute(
                    "INSERT INTO passages (source, page, text) VALUES (?, ?, ?)", (source, page, text)
                ).lastrowid
                if vectors is not None:
                    db.execute("INSERT INTO vectors VALUES (?, ?)", (passage, vectors[n].tobytes()))
            db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                (source, title, kind, mtime_ns, size, len({p for p, _ in chunks}), error),
            )

    def drop_document(self, source: str) -> None:
        with self._transaction() as db:
            _drop_passages(db, source)
            db.execute("DELETE FROM documents WHERE path = ?", (source,))

    def documents(self) -> list[dict[str, Any]]:
        rows = self._rows("SELECT path, title, kind, pages, error FROM documents ORDER BY path")
        return [{"path": p, "title": t, "kind": k, "pages": n, "error": e} for p, t, k, n, e in rows]

    # --- notes ------------------------------------------------------------------------------

    def add_note(self, words: str, vector: np.ndarray | None, owner: str | None = None) -> int:
        """owner: the only person the note is told to (None: the household's)."""
        with self._transaction() as db:
            note_id = int(
                db.execute(
                    "INSERT INTO notes (text, created, owner) VALUES (?, ?, ?)", (words, time.time(), owner)
                ).lastrowid
                or 0
            )
            passage = db.execute(
                "INSERT INTO passages (source, page, text) VALUES (?, ?, ?)", (NOTES, note_id, words)
            ).lastrowid
            if vector is not None:
                db.execute("INSERT INTO vectors VALUES (?, ?)", (passage, vector.tobytes()))
        return note_id

    def notes(self) -> list[dict[str, Any]]:
        rows = self._rows("SELECT id, text, created, owner FROM notes ORDER BY id")
        return [{"id": i, "text": t, "created": c, "owner": o} for i, t, c, o in rows]

    def owners(self) -> dict[int, str]:
        """The owner of each note that is someone's, by the note's id."""
        return dict(self._rows("SELECT id, owner FROM notes WHERE owner IS NOT NULL"))

    def drop_note(self, note_id: int) -> bool:
        with self._transaction() as db:
            gone = db.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0
            db.execute(
                "DELETE FROM vectors WHERE passage IN (SELECT id FROM passages WHERE source = ? AND page = ?)",
                (NOTES, note_id),
            )
            db.execute("DELETE FROM passages WHERE source = ? AND page = ?", (NOTES, note_id))
        return gone

    # --- passages, as they are searched -------------------------------------------------------

    def passage(self, passage_id: int) -> tuple[str, int | None, str, str | None] | None:
        """(source, page, text, the document's title) of one passage; None once it is gone."""
        found = self._rows(
            "SELECT p.source, p.page, p.text, d.title FROM passages p LEFT JOIN documents d "
            "ON d.path = p.source WHERE p.id = ?",
            passage_id,
        )
        return found[0] if found else None

    def titled_passages(self) -> list[Titled]:
        return self._rows(
            "SELECT p.id, p.text, COALESCE(d.title, '') FROM passages p LEFT JOIN documents d "
            "ON d.path = p.source ORDER BY p.id"
        )

    def vectors(self) -> tuple[np.ndarray, list[int]]:
        """Every passage's vector, one row each, and the passages' ids in the same order."""
        rows = self._rows("SELECT passage, vector FROM vectors ORDER BY passage")
        ids = [r[0] for r in rows]
        if not rows:
            return np.zeros((0, 384), np.float32), ids
        return np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1), ids

    def without_vectors(self) -> list[Titled]:
        """Passages indexed while semantic search was off (their notes titled "your notes")."""
        return self._rows(
            "SELECT p.id, p.text, COALESCE(d.title, 'your notes') FROM passages p "
            "LEFT JOIN documents d ON d.path = p.source "
            "WHERE p.id NOT IN (SELECT passage FROM vectors)"
        )

    def put_vectors(self, ids: list[int], vectors: np.ndarray) -> None:
        """Vectors for passages that are still there (one deleted meanwhile gets none)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO vectors SELECT ?, ? WHERE EXISTS (SELECT 1 FROM passages WHERE id = ?)",
                [(pid, vectors[n].tobytes(), pid) for n, pid in enumerate(ids)],
            )


def _drop_passages(db: sqlite3.Connection, source: str) -> None:
    db.execute("DELETE FROM vectors WHERE passage IN (SELECT id FROM passages WHERE source = ?)", (source,))
    db.execute("DELETE FROM passages WHERE source = ?", (source,))
