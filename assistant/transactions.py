"""One SQLite transaction under a thread lock: all of it is on disk when the block ends, or none of it
(the media catalogue and the knowledge index each keep one connection shared by their threads)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


@contextmanager
def locked_transaction(db: sqlite3.Connection, lock: AbstractContextManager[Any]) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock at once, so a second process (an `assistant knowledge`
    command beside the running assistant) is refused before anything is written, never halfway;
    anything raised inside rolls the whole block back, and so does a failed COMMIT. SQLite may have
    rolled back already (a full disk): then the error that did it is the one raised."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
