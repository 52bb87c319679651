"""The household's documents as searchable passages: folders are read (only what changed since the
last scan), split into passages that keep their source and page, and searched with BM25 (bm25s, with
English stemming). The assistant's own notes ("remember that the spare key is in the blue box") are
passages too. Everything lives in one SQLite file in the data folder (`knowledge/index.db`): each scan
of a file is one transaction, so a crash leaves the index as it was before that file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.errors import KnowledgeError
from assistant.core.transactions import locked_transaction, store_failure
from assistant.knowledge.extract import read_document, readable
from assistant.knowledge.mending import Spellings
from assistant.knowledge.passages import passages
from assistant.knowledge.words import content_words, stemmer

log = logging.getLogger(__name__)

NOTES = "note"
"""The source of the assistant's own notes."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS documents (path TEXT PRIMARY KEY, title TEXT NOT NULL, kind TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, pages INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS passages (id INTEGER PRIMARY KEY, source TEXT NOT NULL, page INTEGER, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS passages_source ON passages (source);
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (passage INTEGER PRIMARY KEY, vector BLOB NOT NULL);
"""
FUSED = 20
"""Candidates each search (words, meaning) puts forward before their ranks are fused."""
RRF_K = 60
"""Reciprocal rank fusion's damping (Cormack et al. 2009): a passage's score is the sum over both
rankings of 1 / (RRF_K + rank)."""


@dataclass(frozen=True)
class Hit:
    source: str
    """The document's path, or "note"."""
    title: str
    page: int | None
    text: str
    score: float
    note_id: int | None = None
    similarity: float | None = None
    """Cosine similarity of meaning to the question (with semantic search)."""

    def named(self) -> str:
        """As a reply names it: "the coffee machine manual, page 12", "your notes"."""
        if self.source == NOTES:
            return "your notes"
        return f"{self.title}, page {self.page}" if self.page else self.title

    def record(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "page": self.page,
            "text": self.text,
            "score": round(self.score, 4),
            "named": self.named(),
            "note_id": self.note_id,
            "similarity": None if self.similarity is None else round(self.similarity, 3),
        }


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


def configured_folders(config: Any) -> list[Path]:
    """folders.documents and knowledge.folders from the config."""
    named = config.folders.named()
    return [*([named["documents"]] if "documents" in named else []), *(Path(f) for f in config.knowledge.folders)]


class KnowledgeIndex:
    def __init__(self, data_dir: Path, configured: list[Path] | None = None, semantic: bool = True) -> None:
        """configured: folders from the config (folders.documents, knowledge.folders); more are added
        with `add_folder` and kept in the index. semantic: search by meaning as well as by words
        (each passage is embedded as it is indexed: about 35 passages a second on two cores)."""
        path = data_dir / "knowledge" / "index.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.OperationalError as e:  # its -wal file cannot be made on a full or read-only disk
            self._db.close()
            failure = store_failure(e, path)
            if failure is None:
                raise
            raise failure from e
        self._lock = threading.Lock()
        self.configured = [p.expanduser().resolve() for p in configured or []]
        self.data_dir = data_dir
        self._bm25: tuple[Any, list[int]] | None = None
        self._vocabulary: set[str] = set()
        self._spellings: Spellings | None = None
        self.semantic = semantic
        self._vectors: tuple[np.ndarray, list[int]] | None = None

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction under the lock, rolled back if anything in it fails (a locked database
        from another `assistant knowledge` process, a full disk): nothing half-written is kept."""
        return locked_transaction(self._db, self._lock, self._path)

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

    def _inside_folders(self, link: Path) -> bool:
        """Whether a link leads into one of the household's folders, and not into the data folder: a
        link a skill left in a granted folder must not carry the vault key into the index."""
        try:
            target = link.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, or a loop
            return False
        if target.is_relative_to(self.data_dir.resolve()):
            return False
        return any(target.is_relative_to(root.resolve()) for root in self.folders())

    def scan(
        self, progress: Callable[[int, int], None] | None = None, give_way: Callable[[], None] | None = None
    ) -> ScanReport:
        """Bring the index up to date with the folders: new and changed documents are read, removed
        ones dropped, unchanged ones (same size and modification time) left alone. `give_way` is
        called before each document (it waits while the voice is in the foreground)."""
        started = time.perf_counter()
        report = ScanReport()
        on_disk: dict[str, tuple[Path, int, int]] = {}
        for root in self.folders():
            if not root.is_dir():
                report.failed.append((str(root), "the folder is not there (a disk not mounted?)"))
                continue
            for path in sorted(root.rglob("*")):
                if path.is_symlink() and not self._inside_folders(path):
                    report.failed.append((str(path), "a link to a file outside the household's folders: not read"))
                    continue
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
            if give_way is not None:
                give_way()
            try:
                document = read_document(path)
            except KnowledgeError as e:
                report.failed.append((key, e.message))
                self._store(key, path.stem, path.suffix.lstrip("."), mtime_ns, size, [], e.message)
            else:
                chunks = [(page.number, passage) for page in document.pages for passage in passages(page.text)]
                vectors = self._embed([f"{document.title}. {text}" for _, text in chunks])
                self._store(key, document.title, document.kind, mtime_ns, size, chunks, None, vectors)
                report.pages += len(document.pages)
                report.passages += len(chunks)
            if key in known:
                report.changed += 1
            else:
                report.added += 1
            if progress:
                progress(done, len(todo))
        if todo or report.removed:
            self._changed()
        report.seconds = time.perf_counter() - started
        return report

    def _embed(self, texts: list[str]) -> np.ndarray | None:
        if not self.semantic or not texts:
            return None
        from assistant.knowledge.embedding import shared_embedder

        return shared_embedder().embed(texts)

    def _changed(self) -> None:
        self._bm25 = None
        self._vectors = None

    def _store(
        self,
        source: str,
        title: str,
        kind: str,
        mtime_ns: int,
        size: int,
        chunks: list[tuple[int | None, str]],
        error: str | None,
        vectors: np.ndarray | None = None,
    ) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM vectors WHERE passage IN (SELECT id FROM passages WHERE source = ?)", (source,))
            db.execute("DELETE FROM passages WHERE source = ?", (source,))
            for n, (page, text) in enumerate(chunks):
                passage = db.execute(
                    "INSERT INTO passages (source, page, text) VALUES (?, ?, ?)", (source, page, text)
                ).lastrowid
                if vectors is not None:
                    db.execute("INSERT INTO vectors VALUES (?, ?)", (passage, vectors[n].tobytes()))
            db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                (source, title, kind, mtime_ns, size, len({p for p, _ in chunks}), error),
            )

    def _forget(self, source: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM vectors WHERE passage IN (SELECT id FROM passages WHERE source = ?)", (source,))
            db.execute("DELETE FROM passages WHERE source = ?", (source,))
            db.execute("DELETE FROM documents WHERE path = ?", (source,))

    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT path, title, kind, pages, error FROM documents ORDER BY path").fetchall()
        return [{"path": p, "title": t, "kind": k, "pages": n, "error": e} for p, t, k, n, e in rows]

    # --- notes ------------------------------------------------------------------------------

    def remember(self, text: str) -> int:
        words = " ".join(text.split())
        if not words:
            raise KnowledgeError("there is nothing to remember")
        vectors = self._embed([f"your notes. {words}"])
        with self._transaction() as db:
            note_id = int(
                db.execute("INSERT INTO notes (text, created) VALUES (?, ?)", (words, time.time())).lastrowid or 0
            )
            passage = db.execute(
                "INSERT INTO passages (source, page, text) VALUES (?, ?, ?)", (NOTES, note_id, words)
            ).lastrowid
            if vectors is not None:
                db.execute("INSERT INTO vectors VALUES (?, ?)", (passage, vectors[0].tobytes()))
        self._changed()
        return note_id

    def notes(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, text, created FROM notes ORDER BY id").fetchall()
        return [{"id": i, "text": t, "created": c} for i, t, c in rows]

    def forget(self, note_id: int) -> bool:
        with self._transaction() as db:
            gone = db.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0
            db.execute(
                "DELETE FROM vectors WHERE passage IN (SELECT id FROM passages WHERE source = ? AND page = ?)",
                (NOTES, note_id),
            )
            db.execute("DELETE FROM passages WHERE source = ? AND page = ?", (NOTES, note_id))
        self._changed()
        return gone

    # --- searching --------------------------------------------------------------------------

    def search(self, query: str, k: int = 5, within: list[Path] | None = None, notes: bool = True) -> list[Hit]:
        """The best passages for `query`, best first. By words (BM25: only passages with a word in
        common) and, with semantic search, by meaning, the two rankings fused by reciprocal rank.
        `within`: only documents under these folders; `notes`: the household's notes too."""
        roots = [str(p.resolve()) + "/" for p in within] if within is not None else None

        def allowed(source: str) -> bool:
            if source == NOTES:
                return notes
            return roots is None or any(source.startswith(r) for r in roots)

        by_words = self._by_words(query)
        by_meaning = self._by_meaning(query) if self.semantic else []
        fused: dict[int, float] = {}
        for ranking in (by_words, by_meaning):
            for rank, (passage, _) in enumerate(ranking[:FUSED]):
                fused[passage] = fused.get(passage, 0.0) + 1.0 / (RRF_K + rank + 1)
        similarity = dict(by_meaning)
        hits = []
        with self._lock:
            for passage_id, score in sorted(fused.items(), key=lambda item: -item[1]):
                row = self._db.execute(
                    "SELECT p.source, p.page, p.text, d.title FROM passages p LEFT JOIN documents d "
                    "ON d.path = p.source WHERE p.id = ?",
                    (passage_id,),
                ).fetchone()
                if row is None or not allowed(row[0]):
                    continue
                source, page, text, title = row
                note = source == NOTES
                hits.append(
                    Hit(
                        source,
                        "your notes" if note else title or Path(source).stem,
                        None if note else page,
                        text,
                        score,
                        page if note else None,
                        similarity.get(passage_id),
                    )
                )
                if len(hits) == k:
                    break
        return hits

    def _by_words(self, query: str) -> list[tuple[int, float]]:
        """(passage id, BM25 score) with a word in common, best first."""
        retriever, ids = self._retriever()
        if not ids:
            return []
        tokens = _bm25s().tokenize([query], stopwords="en", stemmer=stemmer(), show_progress=False)
        if not tokens.vocab:
            return []
        results, scores = retriever.retrieve(tokens, k=min(len(ids), FUSED * 4), show_progress=False)
        return [(ids[int(i)], float(s)) for i, s in zip(results[0], scores[0], strict=True) if s > 0]

    def _by_meaning(self, query: str) -> list[tuple[int, float]]:
        """(passage id, cosine similarity), best first."""
        matrix, ids = self._matrix()
        if not ids:
            return []
        from assistant.knowledge.embedding import shared_embedder

        similarities = matrix @ shared_embedder().embed([query])[0]
        best = np.argsort(-similarities)[: FUSED * 4]
        return [(ids[int(i)], float(similarities[i])) for i in best]

    def _matrix(self) -> tuple[np.ndarray, list[int]]:
        cached = self._vectors
        if cached is not None:
            return cached
        self.embed_missing()
        with self._lock:
            rows = self._db.execute("SELECT passage, vector FROM vectors ORDER BY passage").fetchall()
        ids = [r[0] for r in rows]
        matrix = (
            np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, 384), np.float32)
        )
        self._vectors = (matrix, ids)
        return self._vectors

    def _retriever(self) -> tuple[Any, list[int]]:
        bm25s = _bm25s()
        cached = self._bm25
        if cached is not None:
            return cached
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id, p.text, COALESCE(d.title, '') FROM passages p LEFT JOIN documents d "
                "ON d.path = p.source ORDER BY p.id"
            ).fetchall()
        ids = [r[0] for r in rows]
        retriever = bm25s.BM25()
        if rows:
            # The title is searched with each passage: "the coffee machine manual" names what it is about.
            corpus = [f"{title}. {text}" for _, text, title in rows]
            retriever.index(
                bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer(), show_progress=False), show_progress=False
            )

        # The vocabulary and the spellings are in place before the retriever is: a search on another
        # thread that finds the retriever cached finds them too.
        self._vocabulary = set().union(*(content_words(f"{title} {text}") for _, text, title in rows))
        self._spellings = Spellings(f"{title} {text}" for _, text, title in rows)
        self._bm25 = (retriever, ids)
        return self._bm25

    def mend(self, question: str) -> str:
        """`question` with the words speech-to-text misheard spelled as the documents spell them
        ("guest Wi-Fi" → "guest wifi", "discale" → "descale"): see mending.py."""
        self._retriever()
        assert self._spellings is not None
        return self._spellings.mend(question)

    def unknown(self, words: set[str]) -> set[str]:
        """Those of `words` (stems, as answering.content_words gives them) that no passage holds."""
        self._retriever()
        return words - self._vocabulary

    def embed_missing(self) -> int:
        """Embed passages indexed without semantic search (an index from before it was turned on);
        returns how many."""
        if not self.semantic:
            return 0
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id, p.text, COALESCE(d.title, 'your notes') FROM passages p "
                "LEFT JOIN documents d ON d.path = p.source "
                "WHERE p.id NOT IN (SELECT passage FROM vectors)"
            ).fetchall()
        for start in range(0, len(rows), 256):
            part = rows[start : start + 256]
            vectors = self._embed([f"{title}. {text}" for _, text, title in part])
            assert vectors is not None
            with self._transaction() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors SELECT ?, ? WHERE EXISTS (SELECT 1 FROM passages WHERE id = ?)",
                    [(pid, vectors[n].tobytes(), pid) for n, (pid, _, _) in enumerate(part)],
                )
        if rows:
            self._vectors = None
        return len(rows)


def _bm25s() -> Any:
    """bm25s, imported when first searched (it takes a moment), its DEBUG chatter ("Building index
    from IDs objects") kept out of the assistant's output: it sets its own logger to DEBUG."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s
