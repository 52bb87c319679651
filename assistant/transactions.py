"""One SQLite transaction under a thread lock: all of it is on disk when the block ends, or none of it
(the media catalogue and the knowledge index each keep one connection shared by their threads)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def locked_transaction(db: sqlite3.Connection, lock: threading.Lock) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock at once, so a second process (an `assistant knowledge`
    command beside the running assistant) is refused before anything is written, never halfway;
    anything raised inside rolls the whole block back."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
