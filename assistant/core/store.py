"""TinyDB files in the data directory, written crash-safely, with a schema version.

Every write goes to a temporary file that is fsynced and then renamed over the old one (and the
directory fsynced), so after a crash or power cut the file holds either the state before a write or
the state after it, never half of one: what a call acknowledged is on disk. Reads are served from
memory: TinyDB reads the whole file for every query, which at 10,000 items would cost milliseconds
per lookup.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from assistant.core.errors import AssistantError

META_TABLE = "_meta"


class StoreError(AssistantError):
    code = "store"


class SafeJSONStorage(Storage):
    """TinyDB storage: the whole database as one JSON file, replaced atomically on every write."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._cache: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._cache is None:
            try:
                raw = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return None
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as e:
                # Keep the damaged file for the person to inspect; never overwrite it silently.
                raise StoreError(
                    f"{self.path} is damaged ({e.msg}); move it aside to start fresh, nothing was changed"
                ) from e
            if not isinstance(data, dict):
                raise StoreError(f"{self.path} is not a database file; move it aside to start fresh")
            self._cache = data
        return self._cache

    def write(self, data: dict[str, Any]) -> None:
        try:
            atomic_write(self.path, json.dumps(data, separators=(",", ":"), sort_keys=True))
        except OSError as e:
            self._cache = None  # memory is ahead of the disk now: read the disk again
            raise StoreError(f"cannot save {self.path}: {e.strerror or e}") from e
        except BaseException:
            self._cache = None  # TinyDB changed the cached document before a value failed to serialize
            raise
        self._cache = data

    def close(self) -> None:
        self._cache = None


def atomic_write(path: Path, text: str) -> None:
    """Temp file, fsync, rename over `path`, fsync the directory. The file ends up readable by its
    owner only (mkstemp makes the temp file 0600), which keys and token hashes rely on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


Migration = Callable[[TinyDB], None]


STALE_TEMP_S = 600.0
"""An atomic_write's temporary file this old was left by a process killed mid-write: no write takes
minutes, so removing it cannot pull a file from under a live one."""


def sweep_stale_temps(path: Path) -> int:
    """Remove what killed writes of `path` left behind (`.<name>.XXXXXXXX`, atomic_write's temp
    files); how many. Best effort: a folder it cannot change is left as it is."""
    removed = 0
    now = time.time()
    with contextlib.suppress(OSError):
        for sibling in path.parent.glob(f".{path.name}.*"):
            with contextlib.suppress(OSError):
                st = sibling.lstat()
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime > STALE_TEMP_S:
                    sibling.unlink()
                    removed += 1
    return removed


def open_db(path: Path, schema: int, migrations: dict[int, Migration] | None = None) -> TinyDB:
    """The TinyDB at `path` at `schema`, created if missing. An older file is brought up to date by
    `migrations[v]` (from v to v + 1); a newer one is refused, so an old version never damages it."""
    sweep_stale_temps(path)
    db = TinyDB(path, storage=SafeJSONStorage)
    meta = db.table(META_TABLE)
    found = meta.get(doc_id=1)
    if found is None:
        meta.insert({"schema": schema})
        return db
    version = found.get("schema") if isinstance(found, dict) else None
    if not isinstance(version, int) or version > schema:
        db.close()
        raise StoreError(
            f"{path} has schema {version!r}, newer than this version reads ({schema}); "
            "update the assistant or move the file aside"
        )
    while version < schema:
        step = (migrations or {}).get(version)
        if step is None:
            db.close()
            raise StoreError(f"{path} has schema {version}, and no migration to {schema} exists")
        step(db)
        version += 1
        meta.update({"schema": version}, doc_ids=[1])
    return db


MIN_FREE_BYTES = 1 << 20
"""Below this much free space on the data folder's disk, nothing new is begun: a timer, its audit
entry and the conversation file together need a few KiB, and a half-written change is worse than none."""


def free_bytes(folder: Path) -> int | None:
    """The bytes an unprivileged write may still use on `folder`'s disk; None when it cannot be looked at."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def room_problem(folder: Path) -> str | None:
    """Why nothing can be kept in `folder` now (its disk full), or None. A folder that cannot even be
    looked at is left to the write that follows, which says why."""
    free = free_bytes(folder)
    if free is None or free >= MIN_FREE_BYTES:
        return None
    return f"the disk holding {folder} is full ({free // 1024} KiB free)"


def require_room(folder: Path) -> None:
    """Refuse to begin a change on a full disk, before anything is changed."""
    problem = room_problem(folder)
    if problem is not None:
        raise StoreError(f"{problem}, so nothing was changed: free some space and try again", code="disk_full")


RUNS = "a second assistant"
"""What `assistant run` writes in the lock it holds (what a second one would be)."""


class DataDirLock:
    """One writer per data folder. `assistant run` holds it while it runs; a command that would
    change the folder (ask, cancel, routines run) must get it too, so two processes never overwrite
    each other's timers. An flock: released by the kernel when the process dies, even by SIGKILL."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "assistant.lock"
        self._fd: int | None = None

    def acquire(self, what: str) -> None:
        if not self.try_acquire(what):
            doing = self.holder()
            if doing and doing != RUNS:  # another command, not the assistant: it ends by itself
                raise StoreError(
                    f"another command ({doing}) is running on {self.path.parent}, so {what} would race it: "
                    "try again when it has finished"
                )
            raise StoreError(
                f"the assistant is running on {self.path.parent}, so {what} would race it: say it to the "
                "assistant instead, or stop it first"
            )

    def try_acquire(self, what: str = "") -> bool:
        """Take the folder if no other process holds it; False when one does. `what` the holder is
        doing is written in the lock file for others to read (holder())."""
        import fcntl

        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # a read-only or full disk, a folder that is not ours
            raise StoreError(
                f"cannot use the data folder {self.path.parent}: {e.strerror or e} "
                "(is it read-only, or on a full disk?)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
        return True

    def holder(self) -> str:
        """What the process holding the folder said it is doing ("" when unknown)."""
        try:
            with self.path.open("rb") as f:
                first = f.read(256).decode("utf-8", "replace").split("\n")[0]
        except OSError:
            return ""
        return first.partition(" ")[2]

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
