"""Bringing the index up to date with the folders: new and changed documents are read, cut into
passages and embedded; removed ones dropped; unchanged ones (same size and modification time) left
alone. Each document is stored in one transaction, so a crash leaves the index as it was before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.errors import KnowledgeError
from assistant.knowledge.extract import read_document, readable
from assistant.knowledge.passages import passages
from assistant.knowledge.storage import IndexFile

Embed = Callable[[list[str]], np.ndarray | None]
"""Texts to vectors, one row each; None while semantic search is off."""


@dataclass
class ScanReport:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    pages: int = 0
    passages: int = 0
    seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) for each document that could not be read; the others are indexed all the same."""

    @property
    def touched(self) -> bool:
        """Whether the index changed (what it searches must be built again)."""
        return bool(self.added or self.changed or self.removed)

    def record(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "pages": self.pages,
            "passages": self.passages,
            "seconds": round(self.seconds, 3),
            "failed": [{"path": p, "why": w} for p, w in self.failed],
        }


def scan(
    file: IndexFile,
    folders: list[Path],
    data_dir: Path,
    embed: Embed,
    progress: Callable[[int, int], None] | None = None,
    give_way: Callable[[], None] | None = None,
) -> ScanReport:
    """`give_way` is called before each document (it waits while the voice is in the foreground)."""
    started = time.perf_counter()
    report = ScanReport()
    on_disk = _on_disk(folders, data_dir, report)
    known = file.known()
    missing_roots = [str(r) for r in folders if not r.is_dir()]
    for gone in set(known) - set(on_disk):
        if any(gone.startswith(root + "/") for root in missing_roots):
            continue  # a disk not mounted is not a deletion
        file.drop_document(gone)
        report.removed += 1
    todo = [(key, item) for key, item in on_disk.items() if known.get(key) != item[1:]]
    report.unchanged = len(on_disk) - len(todo)
    for done, (key, (path, mtime_ns, size)) in enumerate(todo, start=1):
        if give_way is not None:
            give_way()
        try:
            document = read_document(path)
        except KnowledgeError as e:
            report.failed.append((key, e.message))
            file.put_document(key, path.stem, path.suffix.lstrip("."), mtime_ns, size, [], e.message)
        else:
            chunks = [(page.number, passage) for page in document.pages for passage in passages(page.text)]
            vectors = embed([f"{document.title}. {text}" for _, text in chunks])
            file.put_document(key, document.title, document.kind, mtime_ns, size, chunks, None, vectors)
            report.pages += len(document.pages)
            report.passages += len(chunks)
        if key in known:
            report.changed += 1
        else:
            report.added += 1
        if progress:
            progress(done, len(todo))
    report.seconds = time.perf_counter() - started
    return report


def embed_missing(file: IndexFile, embed: Embed, batch: int = 256) -> int:
    """Embed the passages indexed without semantic search (an index from before it was turned on);
    returns how many."""
    rows = file.without_vectors()
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        vectors = embed([f"{title}. {text}" for _, text, title in part])
        if vectors is None:
            return 0
        file.put_vectors([pid for pid, _, _ in part], vectors)
    return len(rows)


def _on_disk(folders: list[Path], data_dir: Path, report: ScanReport) -> dict[str, tuple[Path, int, int]]:
    """Every readable document under the folders: (path, mtime_ns, size) by path."""
    found: dict[str, tuple[Path, int, int]] = {}
    for root in folders:
        if not root.is_dir():
            report.failed.append((str(root), "the folder is not there (a disk not mounted?)"))
            continue
        for path in sorted(root.rglob("*")):
            if path.is_symlink() and not _inside(path, folders, data_dir):
                report.failed.append((str(path), "a link to a file outside the household's folders: not read"))
                continue
            if path.is_file() and readable(path):
                stat = path.stat()
                found[str(path)] = (path, stat.st_mtime_ns, stat.st_size)
    return found


def _inside(link: Path, folders: list[Path], data_dir: Path) -> bool:
    """Whether a link leads into one of the household's folders, and not into the data folder: a
    link a skill left in a granted folder must not carry the vault key into the index."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop
        return False
    if target.is_relative_to(data_dir.resolve()):
        return False
    return any(target.is_relative_to(root.resolve()) for root in folders)
