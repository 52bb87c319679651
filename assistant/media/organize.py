"""Plans of moves: photos into folders by year and month, and duplicates into a review folder.
Planning touches nothing; the Mover carries a plan out (or shows it, for a dry run)."""

from __future__ import annotations

import calendar
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from assistant.media.catalogue import Catalogue, FileRow, from_sqlite_int, to_sqlite_int
from assistant.media.metadata import hamming, perceptual_hash
from assistant.media.moves import Move, unique_destination

REVIEW_FOLDER = "Duplicates to review"
NEAR_DISTANCE = 6
"""Perceptual hashes this close (of 64 bits) are the same picture resized or re-encoded."""


def by_year_and_month(catalogue: Catalogue, roots: list[Path]) -> tuple[list[Move], int]:
    """Photos and videos with a capture date into <root>/<year>/<MM Month>/; (moves, files left
    where they are because nobody knows when they were taken)."""
    moves: list[Move] = []
    taken_names: set[str] = set()
    undated = 0
    for root in roots:
        for row in catalogue.files("root = ? AND kind IN ('photo', 'video')", (str(root),), order="taken, path"):
            if _in_review(row):
                continue
            if not row.taken:
                undated += 1
                continue
            year, month = int(row.taken[:4]), int(row.taken[5:7])
            folder = root / f"{year}" / f"{month:02d} {calendar.month_name[month]}"
            if os.path.dirname(row.path) == str(folder):
                continue
            dst = unique_destination(folder / os.path.basename(row.path), taken_names)
            moves.append(Move(row.id, row.path, str(dst)))
    return moves, undated


@dataclass(frozen=True)
class DuplicateGroup:
    keep: FileRow
    others: list[FileRow]
    exact: bool


def exact_duplicates(catalogue: Catalogue) -> list[DuplicateGroup]:
    """Files with the same content; the one kept is the oldest in the library (first by path)."""
    rows = catalogue.files(
        "hash IN (SELECT hash FROM files WHERE hash IS NOT NULL AND size > 0 GROUP BY hash HAVING COUNT(*) > 1)",
        order="hash, mtime_ns, path",
    )
    groups: dict[str, list[FileRow]] = defaultdict(list)
    for row in rows:
        if not _in_review(row):
            groups[row.hash or ""].append(row)
    return [DuplicateGroup(g[0], g[1:], True) for g in groups.values() if len(g) > 1]


def near_duplicates(catalogue: Catalogue, progress: object = None) -> list[DuplicateGroup]:
    """Photos that are the same picture at another size or quality (not exact copies); the largest
    one is kept. Hashes are worked out once and kept in the index."""
    missing = catalogue.files("kind = 'photo' AND phash IS NULL AND error IS NULL")
    computed = []
    for row in missing:
        try:
            computed.append((row.id, to_sqlite_int(perceptual_hash(Path(row.path)))))
        except Exception:  # unreadable now: it simply takes no part
            continue
    if computed:
        catalogue.set_phash(computed)
    rows = [r for r in catalogue.files("kind = 'photo' AND phash IS NOT NULL") if not _in_review(r)]
    first_of_hash: dict[str, FileRow] = {}
    unique = []
    for row in rows:  # exact copies are the other list's business
        if row.hash and row.hash in first_of_hash:
            continue
        if row.hash:
            first_of_hash[row.hash] = row
        unique.append(row)
    hashes = [from_sqlite_int(r.phash) or 0 for r in unique]
    parent = list(range(len(unique)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Multi-index hashing: split 64 bits into 7 chunks; two hashes within distance 6 agree on at
    # least one chunk, so only photos sharing a chunk are compared.
    bounds = [(i * 64 // 7, (i + 1) * 64 // 7) for i in range(7)]
    for low, high in bounds:
        buckets: dict[int, list[int]] = defaultdict(list)
        mask = (1 << (high - low)) - 1
        for i, h in enumerate(hashes):
            buckets[(h >> low) & mask].append(i)
        for members in buckets.values():
            for a_at, a in enumerate(members):
                for b in members[a_at + 1 :]:
                    if find(a) != find(b) and hamming(hashes[a], hashes[b]) <= NEAR_DISTANCE:
                        parent[find(a)] = find(b)
    groups: dict[int, list[FileRow]] = defaultdict(list)
    for i, row in enumerate(unique):
        groups[find(i)].append(row)
    out = []
    for alike in groups.values():
        if len(alike) > 1:
            alike.sort(key=lambda r: (-(r.width or 0) * (r.height or 0), -r.size, r.path))
            out.append(DuplicateGroup(alike[0], alike[1:], False))
    return out


def to_review(groups: list[DuplicateGroup], roots: list[Path]) -> list[Move]:
    """Every file but the kept one into <its root>/Duplicates to review/<its folder>/."""
    moves: list[Move] = []
    taken: set[str] = set()
    for group in groups:
        for row in group.others:
            root = Path(row.root)
            if root not in roots:
                continue
            dst = unique_destination(root / REVIEW_FOLDER / row.folder / os.path.basename(row.path), taken)
            moves.append(Move(row.id, row.path, str(dst)))
    return moves


def _in_review(row: FileRow) -> bool:
    return row.folder == REVIEW_FOLDER or row.folder.startswith(REVIEW_FOLDER + os.sep)
