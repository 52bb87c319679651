"""Bring the index up to date with the disk: new and changed files are read, unchanged ones are
only stat()ed, moved ones are recognised (same inode and size, or same content) and keep their
metadata and album membership, vanished ones are forgotten.

Symbolic links are never followed (a link could lead out of the library) and hidden folders
(".thumbnails", ".git") are skipped. Only regular files are opened: a named pipe, socket or device
with a photo's name is counted in the report with its reason and never opened (a pipe would make
the read wait forever). The walk keeps its own stack, so no depth of folders can exhaust recursion.
A name that is not UTF-8 is indexed as it is (names.py says how it is stored).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core.errors import MediaError
from assistant.media.catalogue import Catalogue
from assistant.media.files import open_regular, what_it_is
from assistant.media.library import Library
from assistant.media.metadata import MediaInfo, kind_of, read_info
from assistant.media.names import shown
from assistant.media.places import Places

BATCH = 2000
"""Rows written per transaction: a crash mid-scan keeps what was read before it."""

Progress = Callable[[str, int, int], None]
"""(stage, done, total): "walk" counts files found (total 0: unknown), "read" counts files read."""


@dataclass
class ScanReport:
    added: int = 0
    changed: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    unreadable: list[str] = field(default_factory=list)
    """"name: reason" of files whose metadata could not be read; they are indexed by kind and hash."""
    skipped: list[str] = field(default_factory=list)
    """"name: reason" of what was not indexed at all: a named pipe, socket or device with a media
    name, a folder that cannot be read."""
    links_skipped: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class _Seen:
    path: str
    size: int
    mtime_ns: int
    inode: int


def content_hash(path: str, give_way: Callable[[], None] = lambda: None, follow_links: bool = True) -> str:
    """blake2b of a regular file's bytes, read up to the size it had when opened (a file that is
    still being written does not keep the read going). OSError when it is no regular file (or a
    link, unless `follow_links`)."""
    digest = hashlib.blake2b(digest_size=16)
    with open_regular(path, follow_links) as f:
        left = os.fstat(f.fileno()).st_size
        while left > 0 and (chunk := f.read(min(left, 1 << 20))):
            digest.update(chunk)
            left -= len(chunk)
            give_way()  # a long video is many chunks
    return digest.hexdigest()


class Scanner:
    def __init__(
        self, catalogue: Catalogue, library: Library, places: Places, give_way: Callable[[], None] = lambda: None
    ) -> None:
        self.catalogue = catalogue
        self.library = library
        self.places = places
        self.give_way = give_way
        """Called between folders and files: waits while the voice is in the foreground, and may raise
        MediaError to stop the scan (what was written so far is kept)."""

    def scan(self, progress: Progress | None = None) -> ScanReport:
        """Rescan every root."""
        report = ScanReport()
        start = time.perf_counter()
        for root in self.library.roots():
            if not root.is_dir():
                raise MediaError(
                    f"the library folder {shown(root)} is not there (is the disk mounted?); nothing was forgotten"
                )
            found = dict(self._walk(root, report, progress))
            self._apply(str(root), found, self.catalogue.stat_index(str(root)), report, progress)
        report.seconds = time.perf_counter() - start
        return report

    def scan_paths(self, paths: Iterable[Path]) -> ScanReport:
        """Update only these paths (what the watcher saw change): each is read, relocated or forgotten."""
        report = ScanReport()
        start = time.perf_counter()
        by_root: dict[Path, dict[str, _Seen]] = {}
        gone: dict[Path, set[str]] = {}
        for path in paths:
            root = self.library.root_of(path)
            if root is None or not path.is_relative_to(root) or _hidden(path.relative_to(root)):
                continue
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                if kind_of(path) is not None:
                    gone.setdefault(root, set()).add(str(path))
                continue
            except OSError as e:  # there but not to be looked at: the index keeps what it had
                report.skipped.append(f"{shown(path)}: {e.strerror or e}")
                continue
            if stat.S_ISDIR(st.st_mode):  # a folder moved or copied in: its files are news too
                by_root.setdefault(root, {}).update(self._walk(path, report, None))
                continue
            if kind_of(path) is None:
                continue
            if _is_link(st):
                report.links_skipped += 1
                continue
            why = what_it_is(st.st_mode)
            if why is not None:
                report.skipped.append(f"{shown(path)}: {why}")
                continue
            by_root.setdefault(root, {})[str(path)] = _Seen(str(path), st.st_size, st.st_mtime_ns, st.st_ino)
        for root in {*by_root, *gone}:
            found = by_root.get(root, {})
            wanted = set(found) | gone.get(root, set())
            index = {p: v for p, v in self.catalogue.stat_index(str(root)).items() if p in wanted}
            # A file that vanished here may have appeared elsewhere in the same batch: offer the
            # vanished rows as candidates for moves, and forget only those.
            self._apply(str(root), found, index, report, None)
        report.seconds = time.perf_counter() - start
        return report

    # --- walking ----------------------------------------------------------------------------------

    def _walk(self, root: Path, report: ScanReport, progress: Progress | None) -> Iterator[tuple[str, _Seen]]:
        stack = [str(root)]
        count = 0
        while stack:
            folder = stack.pop()
            self.give_way()
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError as e:  # its files stay as they were in the index
                report.skipped.append(f"{shown(folder)}: the folder cannot be read ({e.strerror or e})")
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_symlink():
                        report.links_skipped += 1
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    if kind_of(Path(entry.name)) is None:
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:  # gone since the folder was listed
                    continue
                why = what_it_is(st.st_mode)
                if why is not None:
                    report.skipped.append(f"{shown(entry.path)}: {why}")
                    continue
                count += 1
                if progress and count % 1000 == 0:
                    progress("walk", count, 0)
                yield entry.path, _Seen(entry.path, st.st_size, st.st_mtime_ns, st.st_ino)

    # --- comparing and reading --------------------------------------------------------------------

    def _apply(
        self,
        root: str,
        found: dict[str, _Seen],
        index: dict[str, tuple[int, int, int, int]],
        report: ScanReport,
        progress: Progress | None,
    ) -> None:
        changed, new = [], []
        for path, seen in found.items():
            known = index.get(path)
            if known is None:
                new.append(seen)
            elif (known[1], known[2]) == (seen.size, seen.mtime_ns):
                report.unchanged += 1
            else:
                changed.append(seen)
        vanished = {path: row for path, row in index.items() if path not in found}
        by_inode = {(row[1], row[3]): path for path, row in vanished.items()}
        moves, to_read = [], []
        for seen in new:
            old = by_inode.pop((seen.size, seen.inode), None)
            if old is not None and old in vanished:
                moves.append((vanished.pop(old)[0], seen))
            else:
                to_read.append(seen)
        if vanished and to_read:  # moved across file systems or copied then deleted: same content
            hashes: dict[tuple[int, str | None], str] = {}
            for path, row in vanished.items():
                hashes.setdefault((row[1], self._hash_of(row[0])), path)
            still = []
            for seen in to_read:
                key = (seen.size, _safe_hash(seen.path))
                old = hashes.pop(key, None) if key[1] else None
                if old is not None and old in vanished:
                    moves.append((vanished.pop(old)[0], seen))
                else:
                    still.append(seen)
            to_read = still
        if moves:
            self.catalogue.relocate(
                (file_id, s.path, root, _folder(root, s.path), s.mtime_ns, s.inode) for file_id, s in moves
            )
            report.moved += len(moves)
        if vanished:
            report.removed += self.catalogue.forget(row[0] for row in vanished.values())
        work = [(s, False) for s in to_read] + [(s, True) for s in changed]
        rows: list[dict[str, Any]] = []
        for done, (seen, is_change) in enumerate(work, 1):
            self.give_way()
            rows.append(self._read(root, seen, report))
            if is_change:
                report.changed += 1
            else:
                report.added += 1
            if len(rows) >= BATCH:
                self._write(rows)
                rows = []
            if progress and (done % 200 == 0 or done == len(work)):
                progress("read", done, len(work))
        if rows:
            self._write(rows)

    def _hash_of(self, file_id: int) -> str | None:
        rows = self.catalogue.query("SELECT hash FROM files WHERE id = ?", (file_id,))
        return rows[0][0] if rows else None

    def _read(self, root: str, seen: _Seen, report: ScanReport) -> dict[str, Any]:
        path = Path(seen.path)
        kind = kind_of(path)
        assert kind is not None
        row: dict[str, Any] = {
            "path": seen.path,
            "root": root,
            "folder": _folder(root, seen.path),
            "kind": kind,
            "size": seen.size,
            "mtime_ns": seen.mtime_ns,
            "inode": seen.inode,
            "hash": _safe_hash(seen.path, self.give_way),
        }
        try:
            info = read_info(path)
        except MediaError as e:
            report.unreadable.append(f"{shown(path.name)}: {e.message}")
            row["error"] = e.message
            return row
        row.update(_info_columns(info))
        return row

    def _write(self, rows: list[dict[str, Any]]) -> None:
        located = [r for r in rows if r.get("lat") is not None and r.get("lon") is not None]
        if located:
            for row, place in zip(
                located, self.places.nearest_many([(r["lat"], r["lon"]) for r in located]), strict=False
            ):
                if place is not None:
                    row["place"], row["country"] = place.name, place.country_code
        self.catalogue.upsert(rows)


def _info_columns(info: MediaInfo) -> dict[str, Any]:
    return {
        "kind": info.kind,
        "taken": info.taken,
        "camera": info.camera,
        "lat": info.lat,
        "lon": info.lon,
        "width": info.width,
        "height": info.height,
        "duration_s": info.duration_s,
        "title": info.title,
        "artist": info.artist,
        "album": info.album,
        "genre": info.genre,
        "track": info.track,
        "year": info.year,
    }


def _safe_hash(path: str, give_way: Callable[[], None] = lambda: None) -> str | None:
    """The content hash, or None when the file cannot be read (the MediaError that stops a scan,
    raised by give_way, goes through)."""
    try:
        return content_hash(path, give_way, follow_links=False)
    except OSError:
        return None


def _folder(root: str, path: str) -> str:
    parent = os.path.dirname(path)
    return "" if parent == root else os.path.relpath(parent, root)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _is_link(st: os.stat_result) -> bool:
    return stat.S_ISLNK(st.st_mode)
