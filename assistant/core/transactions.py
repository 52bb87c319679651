"""One SQLite transaction under a thread lock: all of it is on disk when the block ends, or none of it
(the media catalogue and the knowledge index each keep one connection shared by their threads)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from assistant.core.store import StoreError

_CAUSES = (
    ("full", "the disk is full"),
    ("readonly", "the folder is read-only"),
    ("read-only", "the folder is read-only"),
    ("disk i/o", "the disk reported an error"),
    ("unable to open", "the file cannot be opened"),
)


def store_failure(e: sqlite3.Error, path: Path | str) -> StoreError | None:
    """A write the disk refused (full, read-only, failing), as a sentence that says what to do; None
    for any other SQLite error (a bug, or a database locked by another process: the caller's to say)."""
    text = str(e).lower()
    cause = next((said for key, said in _CAUSES if key in text), None)
    if cause is None:
        return None
    return StoreError(
        f"cannot save {path}: {cause}; nothing was changed. Free some space or make the folder "
        "writable, then try again",
        code="disk_full" if "full" in text else "store",
    )


@contextmanager
def locked_transaction(
    db: sqlite3.Connection, lock: AbstractContextManager[Any], path: Path | str = "the index"
) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock at once, so a second process (an `assistant knowledge`
    command beside the running assistant) is refused before anything is written, never halfway;
    anything raised inside rolls the whole block back, and so does a failed COMMIT. SQLite may have
    rolled back already (a full disk): then the error that did it is the one raised, as a
    StoreError when the disk refused the write."""
    with lock:
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            failure = store_failure(e, path)
            if failure is None:
                raise
            raise failure from e
