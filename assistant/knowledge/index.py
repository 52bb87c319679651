"""The household's documents as searchable passages: folders are read (only what changed since the
last scan), split into passages that keep their source and page, and searched with BM25 (bm25s, with
English stemming). The assistant's own notes ("remember that the spare key is in the blue box") are
passages too. Everything lives in one SQLite file in the data folder (`knowledge/index.db`): each scan
of a file is one transaction, so a crash leaves the index as it was before that file.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import KnowledgeError
from assistant.knowledge.extract import read_document, readable

PASSAGE_WORDS = 110
"""About a paragraph: enough around an answer to hold it, short enough to read out a sentence of it."""
NOTES = "note"
"""The source of the assistant's own notes."""
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS documents (path TEXT PRIMARY KEY, title TEXT NOT NULL, kind TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, pages INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS passages (id INTEGER PRIMARY KEY, source TEXT NOT NULL, page INTEGER, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS passages_source ON passages (source);
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created REAL NOT NULL);
"""


@dataclass(frozen=True)
class Hit:
    source: str
    """The document's path, or "note"."""
    title: str
    page: int | None
    text: str
    score: float
    note_id: int | None = None

    def named(self) -> str:
        """As a reply names it: "the coffee machine manual, page 12", "your notes"."""
        if self.source == NOTES:
            return "your notes"
        return f"{self.title}, page {self.page}" if self.page else self.title

    def record(self) -> dict[str, Any]:
        return {"source": self.source, "title": self.title, "page": self.page, "text": self.text,
                "score": round(self.score, 3), "named": self.named(), "note_id": self.note_id}


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

    def record(self) -> dict[str, Any]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed, "unchanged": self.unchanged,
                "pages": self.pages, "passages": self.passages, "seconds": round(self.seconds, 3),
                "failed": [{"path": p, "why": w} for p, w in self.failed]}


def passages(text: str, words: int = PASSAGE_WORDS) -> Iterator[str]:
    """Sentences packed into passages of about `words` words; each passage after the first starts
    with the last sentence of the one before, so an answer split across the seam is whole in one."""
    sentences = [s for s in (" ".join(part.split()) for part in _SENTENCE.split(_headings_ended(text))) if s]
    current: list[str] = []
    count = 0
    fresh = False  # whether `current` holds a sentence not yet in a passage
    for sentence in sentences:
        size = len(sentence.split())
        if fresh and count + size > words:
            yield " ".join(current)
            current, count = current[-1:], len(current[-1].split())
        current.append(sentence)
        count += size
        fresh = True
    if fresh:
        yield " ".join(current)


def _headings_ended(text: str) -> str:
    """One line of text, where a line that ends without punctuation (a heading, a list item) before
    a capitalised line ends as a sentence: "Bins" + "Recycling is …" is not one sentence."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    out = []
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if following[:1].isupper() and not line.endswith((".", "!", "?", ":", ";", ",")):
            line += "."
        out.append(line)
    return " ".join(out)


def configured_folders(config: Any) -> list[Path]:
    """folders.documents and knowledge.folders from the config."""
    named = config.folders.named()
    return [*([named["documents"]] if "documents" in named else []), *(Path(f) for f in config.knowledge.folders)]


class KnowledgeIndex:
    def __init__(self, data_dir: Path, configured: list[Path] | None = None) -> None:
        """configured: folders from the config (folders.documents, knowledge.folders); more are added
        with `add_folder` and kept in the index."""
        path = data_dir / "knowledge" / "index.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.configured = [p.expanduser().resolve() for p in configured or []]
        self._bm25: tuple[Any, list[int]] | None = None

    def close(self) -> None:
        self._db.close()

    # --- folders ----------------------------------------------------------------------------

    def folders(self) -> list[Path]:
        with self._lock:
            added = [Path(r[0]) for r in self._db.execute("SELECT path FROM folders ORDER BY path")]
        return list(dict.fromkeys([*self.configured, *added]))

    def add_folder(self, folder: Path | str) -> tuple[Path, bool]:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise KnowledgeError(f"{folder} is not a folder")
        if path in self.folders():
            return path, False
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO folders VALUES (?)", (str(path),))
        return path, True

    def remove_folder(self, folder: Path | str) -> bool:
        path = Path(folder).expanduser().resolve()
        with self._lock:
            return self._db.execute("DELETE FROM folders WHERE path = ?", (str(path),)).rowcount > 0

    # --- scanning ---------------------------------------------------------------------------

    def scan(self, progress: Callable[[int, int], None] | None = None) -> ScanReport:
        """Bring the index up to date with the folders: new and changed documents are read, removed
        ones dropped, unchanged ones (same size and modification time) left alone."""
        started = time.perf_counter()
        report = ScanReport()
        on_disk: dict[str, tuple[Path, int, int]] = {}
        for root in self.folders():
            if not root.is_dir():
                report.failed.append((str(root), "the folder is not there (a disk not mounted?)"))
                continue
            for path in sorted(root.rglob("*")):
                if path.is_file() and readable(path):
                    stat = path.stat()
                    on_disk[str(path)] = (path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            known = {r[0]: (r[1], r[2]) for r in self._db.execute("SELECT path, mtime_ns, size FROM documents")}
        missing_roots = [str(r) for r in self.folders() if not r.is_dir()]
        for gone in set(known) - set(on_disk):
            if any(gone.startswith(root + "/") for root in missing_roots):
                continue  # a disk not mounted is not a deletion
            self._forget(gone)
            report.removed += 1
        todo = [(key, item) for key, item in on_disk.items() if known.get(key) != item[1:]]
        report.unchanged = len(on_disk) - len(todo)
        for done, (key, (path, mtime_ns, size)) in enumerate(todo, start=1):
            try:
                document = read_document(path)
            except KnowledgeError as e:
                report.failed.append((key, e.message))
                self._store(key, path.stem, path.suffix.lstrip("."), mtime_ns, size, [], e.message)
            else:
                chunks = [(page.number, passage) for page in document.pages for passage in passages(page.text)]
                self._store(key, document.title, document.kind, mtime_ns, size, chunks, None)
                report.pages += len(document.pages)
                report.passages += len(chunks)
            if key in known:
                report.changed += 1
            else:
                report.added += 1
            if progress:
                progress(done, len(todo))
        if todo or report.removed:
            self._bm25 = None
        report.seconds = time.perf_counter() - started
        return report

    def _store(self, source: str, title: str, kind: str, mtime_ns: int, size: int,
               chunks: list[tuple[int | None, str]], error: str | None) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM passages WHERE source = ?", (source,))
                self._db.executemany("INSERT INTO passages (source, page, text) VALUES (?, ?, ?)",
                                     [(source, page, text) for page, text in chunks])
                self._db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (source, title, kind, mtime_ns, size, len({p for p, _ in chunks}), error))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _forget(self, source: str) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM passages WHERE source = ?", (source,))
            self._db.execute("DELETE FROM documents WHERE path = ?", (source,))
            self._db.execute("COMMIT")

    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT path, title, kind, pages, error FROM documents ORDER BY path").fetchall()
        return [{"path": p, "title": t, "kind": k, "pages": n, "error": e} for p, t, k, n, e in rows]

    # --- notes ------------------------------------------------------------------------------

    def remember(self, text: str) -> int:
        words = " ".join(text.split())
        if not words:
            raise KnowledgeError("there is nothing to remember")
        with self._lock:
            self._db.execute("BEGIN")
            note_id = int(self._db.execute("INSERT INTO notes (text, created) VALUES (?, ?)",
                                           (words, time.time())).lastrowid or 0)
            self._db.execute("INSERT INTO passages (source, page, text) VALUES (?, ?, ?)", (NOTES, note_id, words))
            self._db.execute("COMMIT")
        self._bm25 = None
        return note_id

    def notes(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, text, created FROM notes ORDER BY id").fetchall()
        return [{"id": i, "text": t, "created": c} for i, t, c in rows]

    def forget(self, note_id: int) -> bool:
        with self._lock:
            self._db.execute("BEGIN")
            gone = self._db.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0
            self._db.execute("DELETE FROM passages WHERE source = ? AND page = ?", (NOTES, note_id))
            self._db.execute("COMMIT")
        self._bm25 = None
        return gone

    # --- searching --------------------------------------------------------------------------

    def search(self, query: str, k: int = 5, within: list[Path] | None = None) -> list[Hit]:
        """The best passages for `query`, best first; only those with a word in common. `within`:
        only documents under these folders (notes always)."""
        import bm25s

        retriever, ids = self._retriever()
        if not ids:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer(), show_progress=False)
        if not tokens.vocab:
            return []
        wanted = min(len(ids), k * 4 if within is not None else k)
        results, scores = retriever.retrieve(tokens, k=wanted, show_progress=False)
        picked = [(ids[int(i)], float(s)) for i, s in zip(results[0], scores[0], strict=True) if s > 0]
        roots = [str(p.resolve()) + "/" for p in within] if within is not None else None
        hits = []
        with self._lock:
            for passage_id, score in picked:
                row = self._db.execute("SELECT p.source, p.page, p.text, d.title FROM passages p LEFT JOIN documents d "
                                       "ON d.path = p.source WHERE p.id = ?", (passage_id,)).fetchone()
                if row is None:
                    continue
                source, page, text, title = row
                if roots is not None and source != NOTES and not any(source.startswith(r) for r in roots):
                    continue
                note = source == NOTES
                hits.append(Hit(source, "your notes" if note else title or Path(source).stem,
                                None if note else page, text, score, page if note else None))
        return hits[:k]

    def _retriever(self) -> tuple[Any, list[int]]:
        import bm25s

        cached = self._bm25
        if cached is not None:
            return cached
        with self._lock:
            rows = self._db.execute("SELECT p.id, p.text, COALESCE(d.title, '') FROM passages p LEFT JOIN documents d "
                                    "ON d.path = p.source ORDER BY p.id").fetchall()
        ids = [r[0] for r in rows]
        retriever = bm25s.BM25()
        if rows:
            # The title is searched with each passage: "the coffee machine manual" names what it is about.
            corpus = [f"{title}. {text}" for _, text, title in rows]
            retriever.index(bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer(), show_progress=False),
                            show_progress=False)
        self._bm25 = (retriever, ids)
        return self._bm25


_STEMMER: Any = None
"""The English Snowball stemmer, made once (search and the knowledge skill fold words alike)."""


def stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER
