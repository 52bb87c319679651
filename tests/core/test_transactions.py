"""A write the disk refuses comes out of a transaction as a sentence, and nothing of it is kept."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.core.store import StoreError
from assistant.core.transactions import locked_transaction, store_failure


def _made(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('the spare key is in the blue box')")
    db.commit()
    db.close()


def test_a_read_only_database_is_refused_with_a_sentence_and_keeps_what_it_had(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    _made(path)
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    with pytest.raises(StoreError) as refused:
        with locked_transaction(read_only, threading.Lock(), path) as db:
            db.execute("INSERT INTO notes VALUES ('the boiler code is 4711')")
    assert str(path) in refused.value.message and "read-only; nothing was changed" in refused.value.message
    assert not read_only.in_transaction
    assert sqlite3.connect(path).execute("SELECT count(*) FROM notes").fetchone() == (1,)


@pytest.mark.parametrize(
    "message, code",
    [
        ("database or disk is full", "disk_full"),
        ("attempt to write a readonly database", "store"),
        ("disk I/O error", "store"),
    ],
)
def test_what_the_disk_refused_is_named(message: str, code: str) -> None:
    failure = store_failure(sqlite3.OperationalError(message), "/data/index.db")
    assert failure is not None and failure.code == code and failure.message.startswith("cannot save /data/index.db: ")


def test_other_sqlite_errors_are_left_to_the_caller(tmp_path: Path) -> None:
    assert store_failure(sqlite3.OperationalError("database is locked"), "x") is None
    db = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        with locked_transaction(db, threading.Lock()) as tx:
            tx.execute("INSERT INTO missing VALUES (1)")


def test_what_a_killed_write_left_behind_is_removed_when_the_file_is_next_opened(tmp_path: Path) -> None:
    import os
    import time

    from assistant.core.store import STALE_TEMP_S, open_db

    path = tmp_path / "scheduler.json"
    old, fresh = tmp_path / ".scheduler.json.k1ll3d00", tmp_path / ".scheduler.json.wr1t1ng0"
    old.write_text('{"_meta": {"1"')
    fresh.write_text("")  # another process may be writing it right now
    long_ago = time.time() - STALE_TEMP_S - 60
    os.utime(old, (long_ago, long_ago))
    other = tmp_path / ".devices.json.k1ll3d00"
    other.write_text("")
    os.utime(other, (long_ago, long_ago))
    open_db(path, 1).close()
    assert not old.exists() and fresh.exists() and other.exists()
