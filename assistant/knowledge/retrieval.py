"""Finding the passages for a question: by words (BM25 through bm25s, with English stemming: only
passages with a word in common) and by meaning (cosine over the passages' vectors), the two
rankings fused by reciprocal rank. What is searched is built from the index file when first needed
and built again after the index changes; the documents' vocabulary and spellings (mending.py) are
built with it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.knowledge.mending import Spellings
from assistant.knowledge.storage import NOTES, IndexFile
from assistant.knowledge.words import content_words, stemmer

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


class Retrieval:
    def __init__(
        self, file: IndexFile, embed_query: Callable[[str], np.ndarray] | None, before_meaning: Callable[[], object]
    ) -> None:
        """`embed_query`: a question to its vector, None without semantic search; `before_meaning`
        runs before the vectors are read (it embeds passages that have none yet)."""
        self._file = file
        self._embed_query = embed_query
        self._before_meaning = before_meaning
        self._bm25: tuple[Any, list[int]] | None = None
        self._vectors: tuple[np.ndarray, list[int]] | None = None
        self._vocabulary: set[str] = set()
        self._spellings: Spellings | None = None

    def changed(self) -> None:
        """The index changed: build what is searched again when next needed."""
        self._bm25 = None
        self._vectors = None

    def vectors_changed(self) -> None:
        self._vectors = None

    def search(
        self, query: str, k: int, within: list[Path] | None, notes: bool, hidden: frozenset[int] = frozenset()
    ) -> list[Hit]:
        """hidden: notes (by id) that are someone else's."""
        roots = [str(p.resolve()) + "/" for p in within] if within is not None else None

        def allowed(source: str, page: int | None) -> bool:
            if source == NOTES:
                return notes and page not in hidden
            return roots is None or any(source.startswith(r) for r in roots)

        by_words = self._by_words(query)
        by_meaning = self._by_meaning(query) if self._embed_query is not None else []
        fused: dict[int, float] = {}
        for ranking in (by_words, by_meaning):
            for rank, (passage, _) in enumerate(ranking[:FUSED]):
                fused[passage] = fused.get(passage, 0.0) + 1.0 / (RRF_K + rank + 1)
        similarity = dict(by_meaning)
        hits: list[Hit] = []
        for passage_id, score in sorted(fused.items(), key=lambda item: -item[1]):
            row = self._file.passage(passage_id)
            if row is None or not allowed(row[0], row[1]):
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

    def mend(self, question: str) -> str:
        self._retriever()
        assert self._spellings is not None
        return self._spellings.mend(question)

    def unknown(self, words: set[str]) -> set[str]:
        self._retriever()
        return words - self._vocabulary

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
        assert self._embed_query is not None
        matrix, ids = self._matrix()
        if not ids:
            return []
        similarities = matrix @ self._embed_query(query)
        best = np.argsort(-similarities)[: FUSED * 4]
        return [(ids[int(i)], float(similarities[i])) for i in best]

    def _matrix(self) -> tuple[np.ndarray, list[int]]:
        cached = self._vectors
        if cached is not None:
            return cached
        self._before_meaning()
        self._vectors = self._file.vectors()
        return self._vectors

    def _retriever(self) -> tuple[Any, list[int]]:
        bm25s = _bm25s()
        cached = self._bm25
        if cached is not None:
            return cached
        rows = self._file.titled_passages()
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


def _bm25s() -> Any:
    """bm25s, imported when first searched (it takes a moment), its DEBUG chatter ("Building index
    from IDs objects") kept out of the assistant's output: it sets its own logger to DEBUG."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s
