"""Moving files without ever losing one: every batch of moves is written to the journal (in the
index, committed to disk) before the first file moves, each move is one atomic rename that never
replaces an existing file, and undo puts back whatever the disk shows was moved.

After a crash at any point each file is either at its old path or its new one (as the journal
says), and `undo` restores all of them. Nothing is ever deleted.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core.errors import MediaError
from assistant.media.catalogue import Catalogue, kept
from assistant.media.library import Library

CHUNK = 200
"""Moves recorded as done per transaction."""

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
try:
    _renameat2: Any = ctypes.CDLL(None, use_errno=True).renameat2
except AttributeError:  # an old C library: link and unlink do the same job, less atomically
    _renameat2 = None


def move_no_replace(src: str, dst: str) -> None:
    """Rename `src` to `dst`, failing with FileExistsError rather than replacing anything."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), dst)
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EXDEV):
            raise OSError(code, os.strerror(code), src)
    try:
        os.link(src, dst)  # fails if dst exists; for a moment the file has both names, never none
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        _copy_across(src, dst)
    os.unlink(src)


def _copy_across(src: str, dst: str) -> None:
    """Another file system: a full, synced copy under a temporary name first, then its final name."""
    temp = f"{dst}.partial-{os.getpid()}"
    shutil.copy2(src, temp)
    with open(temp, "rb") as f:
        os.fsync(f.fileno())
    try:
        os.link(temp, dst)
    finally:
        os.unlink(temp)


@dataclass(frozen=True)
class Move:
    file: int | None
    src: str
    dst: str


@dataclass
class MoveReport:
    batch: int | None
    what: str
    moved: int = 0
    planned: list[Move] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "what": self.what,
            "moved": self.moved,
            "dry_run": self.dry_run,
            "planned": [{"from": m.src, "to": m.dst} for m in self.planned],
            "failed": self.failed,
        }


@dataclass
class UndoReport:
    batch: int
    what: str
    restored: int = 0
    already_back: int = 0
    conflicts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Mover:
    def __init__(self, catalogue: Catalogue, library: Library, give_way: Callable[[], None] = lambda: None) -> None:
        self.catalogue = catalogue
        self.library = library
        self.give_way = give_way
        """Called before each move: waits while the voice is in the foreground."""

    def run(
        self, what: str, moves: list[Move], dry_run: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> MoveReport:
        """Carry out a planned batch (or only show it)."""
        for move in moves:  # every path checked before anything moves
            self.library.check(move.src)
            self.library.check(
                Path(move.dst).parent if Path(move.dst).parent.exists() else self._existing_parent(move.dst)
            )
        if dry_run or not moves:
            return MoveReport(None, what, planned=moves, dry_run=dry_run)
        now = dt.datetime.now().isoformat(timespec="seconds")
        with self.catalogue.transaction() as db:
            batch = db.execute("INSERT INTO batches (what, at, state) VALUES (?, ?, 'open')", (what, now)).lastrowid
            db.executemany(
                "INSERT INTO moves (batch, file, src, dst, state) VALUES (?, ?, ?, ?, 'planned')",
                kept(db, [(batch, m.file, m.src, m.dst) for m in moves]),
            )
        assert batch is not None
        report = MoveReport(batch, what, planned=moves)
        done: list[Move] = []
        for i, move in enumerate(moves, 1):
            self.give_way()
            try:
                self._make_parents(move.dst)
                move_no_replace(move.src, move.dst)
                done.append(move)
            except OSError as e:
                report.failed.append(f"{move.src}: {e.strerror or e}")
            if len(done) >= CHUNK or i == len(moves):
                self._record(batch, done)
                report.moved += len(done)
                done = []
                if progress:
                    progress(i, len(moves))
        with self.catalogue.transaction() as db:
            db.execute("UPDATE batches SET state = 'done' WHERE id = ?", (batch,))
        return report

    def _existing_parent(self, path: str) -> Path:
        parent = Path(path).parent
        while not parent.exists():
            parent = parent.parent
        return parent

    def _make_parents(self, dst: str) -> None:
        parent = Path(dst).parent
        parent.mkdir(parents=True, exist_ok=True)
        self.library.check(parent)  # a folder on the way that is a link out of the library is refused

    def _record(self, batch: int, moves: list[Move]) -> None:
        """The moved files' new paths in the index and the journal, in one transaction."""
        with self.catalogue.transaction() as db:
            for move in moves:
                db.execute(
                    "UPDATE moves SET state = 'done' WHERE batch = ? AND src = ?", kept(db, [(batch, move.src)])[0]
                )
                if move.file is not None:
                    self._repath(db, move.file, move.dst)

    def _repath(self, db: Any, file_id: int, path: str) -> None:
        root = self.library.root_of(path)
        if root is None:
            return
        parent = os.path.dirname(path)
        folder = "" if parent == str(root) else os.path.relpath(parent, root)
        try:
            db.execute(
                "UPDATE files SET path = ?, root = ?, folder = ? WHERE id = ?",
                kept(db, [(path, str(root), folder, file_id)])[0],
            )
        except sqlite3.IntegrityError:  # another row holds that path (a rescan ran meanwhile): the next scan sorts it
            pass

    # --- undo --------------------------------------------------------------------------------------

    def batches(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.catalogue.query(
            "SELECT b.id, b.what, b.at, b.state, COUNT(m.id) FROM batches b LEFT JOIN moves m ON m.batch = b.id "
            "GROUP BY b.id ORDER BY b.id DESC LIMIT ?",
            (limit,),
        )
        return [{"batch": r[0], "what": r[1], "at": r[2], "state": r[3], "moves": r[4]} for r in rows]

    def undo(self, batch: int | None = None) -> UndoReport:
        """Put back every file of a batch (the latest not yet undone when None), by what the disk
        shows: a file still at its new path goes back; one already at its old path stays."""
        if batch is None:
            rows = self.catalogue.query("SELECT id FROM batches WHERE state != 'undone' ORDER BY id DESC LIMIT 1")
            if not rows:
                raise MediaError("there is nothing to undo")
            batch = int(rows[0][0])
        info = self.catalogue.query("SELECT what, state FROM batches WHERE id = ?", (batch,))
        if not info:
            raise MediaError(f"there is no batch of moves numbered {batch} (`assistant media undo --list` shows them)")
        if info[0][1] == "undone":
            raise MediaError(f"batch {batch} ({info[0][0]}) was already undone")
        report = UndoReport(batch, info[0][0])
        moves = self.catalogue.query("SELECT id, file, src, dst FROM moves WHERE batch = ? ORDER BY id DESC", (batch,))
        for move_id, file_id, src, dst in moves:
            at_src, at_dst = os.path.lexists(src), os.path.lexists(dst)
            if at_dst and at_src:
                if _same_file(src, dst):  # a crash between link and unlink: one file, two names
                    os.unlink(dst)
                    report.already_back += 1
                else:
                    report.conflicts.append(f"{dst}: another file now has its old name {src}; both kept")
                    continue
            elif at_dst:
                try:
                    os.makedirs(os.path.dirname(src), exist_ok=True)
                    move_no_replace(dst, src)
                    report.restored += 1
                except OSError as e:
                    report.conflicts.append(f"{dst}: {e.strerror or e}")
                    continue
            elif at_src:
                report.already_back += 1
            else:
                report.conflicts.append(f"{src}: the file is at neither place any more (moved or deleted by hand?)")
                continue
            with self.catalogue.transaction() as db:
                db.execute("UPDATE moves SET state = 'undone' WHERE id = ?", (move_id,))
                if file_id is not None:
                    self._repath(db, file_id, src)
        _remove_empty_parents({os.path.dirname(m[3]) for m in moves}, self.library)
        with self.catalogue.transaction() as db:
            db.execute(
                "UPDATE batches SET state = ? WHERE id = ?",
                ("undone" if not report.conflicts else "partly undone", batch),
            )
        return report


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _remove_empty_parents(folders: set[str], library: Library) -> None:
    """Folders a batch created and undo emptied go too (an empty folder is no file)."""
    for folder in sorted(folders, key=len, reverse=True):
        path = Path(folder)
        root = library.root_of(path)
        while root is not None and path != root and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
            path = path.parent


def unique_destination(dst: Path, taken: set[str]) -> Path:
    """`dst`, or "name (2).jpg", "name (3).jpg" … when that name is used on disk or in the plan."""
    candidate, n = dst, 1
    while str(candidate) in taken or os.path.lexists(candidate):
        n += 1
        candidate = dst.with_name(f"{dst.stem} ({n}){dst.suffix}")
    taken.add(str(candidate))
    return candidate
