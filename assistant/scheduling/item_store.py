"""scheduler.json: the timers, alarms and reminders on disk (TinyDB, one table per kind).

A change a tool acknowledges is written before its call returns (`insert`, `update`, `remove`).
The firing loop's own changes (a ring, a missed reminder) are written soon, in the store's one
thread and in order, so the loop never waits for the disk (`write_soon`); changes that pile up
while a write is queued go to disk together, in one write.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from assistant.core.store import open_db
from assistant.scheduling.items import _KINDS, Item, Kind, Timer

log = logging.getLogger(__name__)

SCHEMA = 1

Current = Callable[[str], tuple[Kind, int, Item] | None]
"""An item's kind, document id and latest state by id; None once it is gone."""


class ItemStore:
    def __init__(self, path: Path, lock: threading.RLock, current: Current) -> None:
        """`lock` is the scheduler's (tools change items from worker threads while the loop fires
        them); `current` reads an item's latest state when a queued write runs."""
        self._db: TinyDB = open_db(path, SCHEMA)
        self._lock = lock
        self._current = current
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="scheduler-store")
        self._writes: set[concurrent.futures.Future[Any]] = set()
        self._dirty: set[str] = set()
        self._flush_queued = False
        self._import_old_timers(path.with_name("timers.json"))

    def load(self) -> Iterator[tuple[Kind, Item, int]]:
        for kind, cls in _KINDS.items():
            for doc in self._db.table(kind).all():
                yield kind, cls(**doc), doc.doc_id

    # --- written before returning ------------------------------------------------------------

    def insert(self, kind: Kind, item: Item) -> int:
        return self._db.table(kind).insert(asdict(item))

    def insert_many(self, kind: Kind, items: list[Item]) -> list[int]:
        """Many in one write (an import, a benchmark)."""
        return self._db.table(kind).insert_multiple(asdict(i) for i in items)

    def update(self, kind: Kind, doc_id: int, item: Item) -> None:
        self._db.table(kind).update(asdict(item), doc_ids=[doc_id])

    def remove(self, kind: Kind, doc_id: int) -> None:
        self._db.table(kind).remove(doc_ids=[doc_id])

    # --- written soon -------------------------------------------------------------------------

    def write_soon(self, item_id: str) -> None:
        """Queue the item's latest state for the store's thread; several queued meanwhile go together."""
        with self._lock:
            self._dirty.add(item_id)
            if self._flush_queued:
                return
            self._flush_queued = True
        self.later(self._write_dirty)

    def later(self, work: Callable[..., Any], *args: Any) -> None:
        """Run `work` in the store's thread, after every write queued before it."""
        future = self._writer.submit(work, *args)
        self._writes.add(future)
        future.add_done_callback(self._written)

    async def flush(self) -> None:
        """Wait until every queued write is on disk."""
        while self._writes:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in list(self._writes)), return_exceptions=True)

    def _write_dirty(self) -> None:
        with self._lock:
            dirty, self._dirty, self._flush_queued = self._dirty, set(), False
            by_kind: dict[Kind, dict[int, dict[str, Any]]] = {}
            for item_id in dirty:
                found = self._current(item_id)
                if found is not None:
                    kind, doc_id, item = found
                    by_kind.setdefault(kind, {})[doc_id] = asdict(item)
            for kind, fields in by_kind.items():
                new = {f["id"]: f for f in fields.values()}

                def merge(doc: MutableMapping[str, Any], new: dict[Any, dict[str, Any]] = new) -> None:
                    doc.update(new[doc["id"]])

                self._db.table(kind).update(merge, doc_ids=list(fields))

    def _written(self, future: concurrent.futures.Future[Any]) -> None:
        self._writes.discard(future)
        if future.exception() is not None:
            log.error("could not save the scheduler: %s", future.exception())

    def _import_old_timers(self, path: Path) -> None:
        """Timers kept by the first version (timers.json) move into the database, once."""
        if not path.exists():
            return
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            timers = old.get("data", []) if isinstance(old, dict) else []
            table = self._db.table("timer")
            for t in timers:
                started, duration = float(t["started_at"]), float(t["duration_s"])
                table.insert(asdict(Timer(t["id"], t.get("name"), duration, started, ends_at=started + duration)))
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("could not import the old timers in %s (left in place): %s", path, e)
            return
        path.rename(path.with_name("timers.json.imported"))
