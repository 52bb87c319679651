"""A question about the household's documents, answered: the best passages are found, the LLM
planner's model writes a one-sentence answer from them or says none holds it, and the answer is
checked against its passage before it is spoken, naming the document it came from.

Without an LLM (understanding.planner off), or when the model's answer states a number or code its
passage does not hold, the answer is the passage's sentence that shares most words with the question,
given only when the passage holds enough of the question's words. Whatever happens, nothing is said
that a document does not say.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from assistant.core.errors import AssistantError
from assistant.knowledge import answering
from assistant.knowledge.index import EVERYONE, Hit, KnowledgeIndex, Reader
from assistant.knowledge.words import content_words

log = logging.getLogger(__name__)

NOT_FOUND = "I don't find that in your documents."


class AnswerWriter(Protocol):
    def answer_sync(self, question: str, passages: list[answering.Passage]) -> answering.Written: ...


@dataclass
class Answer:
    speech: str
    """What to say: "From the coffee machine manual, page 3. …", or NOT_FOUND. The source is a
    sentence of its own: Piper speaks a reply sentence by sentence, and a short first one starts
    playing in 0.1 s where the whole answer as one sentence took 0.45 s."""
    hit: Hit | None = None
    """The passage the answer comes from."""
    text: str = ""
    """The answer alone, without its source."""
    how: str = "not_found"
    """"llm", "extracted" (the passage's best sentence) or "not_found"."""
    margin: float | None = None
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0
    searched: str = ""
    """The question as it was searched and answered: as asked, or with misheard words mended."""

    @property
    def found(self) -> bool:
        return self.hit is not None

    def record(self) -> dict[str, Any]:
        hit = self.hit
        return {
            "found": self.found,
            "speech": self.speech,
            "answer": self.text,
            "how": self.how,
            "source": hit.source if hit else None,
            "title": hit.title if hit else None,
            "page": hit.page if hit else None,
            "named": hit.named() if hit else None,
            "passage": hit.text if hit else None,
            "searched": self.searched,
            "margin": None if self.margin is None else round(self.margin, 2),
            "seconds": round(self.seconds, 3),
            "hits": [h.record() for h in self.hits],
        }


class Answerer:
    """The household's documents and notes (`index`), and answers from them. `writer` is the LLM
    (the planner); it is set once the planner exists, and may stay None."""

    def __init__(self, index: KnowledgeIndex, writer: AnswerWriter | None = None) -> None:
        self.index = index
        self.writer = writer

    def ask(
        self,
        question: str,
        within: list[Path] | None = None,
        notes: bool = True,
        mend: bool = True,
        reader: Reader = EVERYONE,
    ) -> Answer:
        """Blocking (search, then the LLM): call it from a worker thread. The question is searched and
        answered with its misheard words mended (`KnowledgeIndex.mend`; `mend=False` for the benchmark's
        baseline)."""
        started = time.perf_counter()
        mended = self.index.mend(question) if mend else question
        if mended != question:
            log.info("knowledge: %r searched as %r", question, mended)
        hits = self.index.search(mended, answering.PASSAGES, within=within, notes=notes, reader=reader)
        answer = self._answer(mended, hits)
        answer.hits = hits
        answer.searched = mended
        answer.seconds = time.perf_counter() - started
        return answer

    def _answer(self, question: str, hits: list[Hit]) -> Answer:
        if not hits:
            return Answer(NOT_FOUND)
        if self.writer is None:
            return _extracted(question, hits) or Answer(NOT_FOUND)
        try:
            written = self.writer.answer_sync(question, [answering.Passage(h.title, h.text) for h in hits])
        except AssistantError as e:
            log.warning("the LLM could not answer from the documents (%s); answering from the passage", e.message)
            return _extracted(question, hits) or Answer(NOT_FOUND)
        if written.passage is None:
            return Answer(NOT_FOUND, margin=written.margin)
        unknown = self.index.unknown(content_words(question))
        if unknown and written.margin is not None and written.margin < answering.UNKNOWN_WORD_MARGIN:
            log.info(
                "knowledge: %r not answered: no document says %s (margin %.2f)",
                question,
                ", ".join(sorted(unknown)),
                written.margin,
            )
            return Answer(NOT_FOUND, margin=written.margin)
        hit = hits[answering.attributed(written, [h.text for h in hits]) - 1]
        why = answering.ungrounded(written.text, hit.text, question)
        if why is None:
            return Answer(
                f"From {spoken_source(hit)}. {_sentence_case(written.text)}", hit, written.text, "llm", written.margin
            )
        log.info("knowledge answer %r dropped: %s", written.text, why)
        fallback = _extracted(question, [hit])
        if fallback is None:
            return Answer(NOT_FOUND, margin=written.margin)
        fallback.margin = written.margin
        return fallback


def _extracted(question: str, hits: list[Hit]) -> Answer | None:
    found = answering.best_sentence(question, hits)
    if found is None:
        return None
    hit, sentence = found
    return Answer(f"From {spoken_source(hit)}. {_sentence_case(sentence)}", hit, sentence, "extracted")


_KINDS_OF_DOCUMENT = (
    "manual",
    "guide",
    "letter",
    "booklet",
    "instructions",
    "handbook",
    "invoice",
    "contract",
    "warranty",
    "schedule",
    "notes",
)


def spoken_source(hit: Hit) -> str:
    """ "your notes", "the coffee machine manual, page 3", or "your document Wifi" for a title that
    does not say what kind of document it is."""
    if hit.source == "note":
        return "your notes"
    named = hit.named()
    if any(kind in hit.title.lower().split() for kind in _KINDS_OF_DOCUMENT):
        return f"the {named[0].lower()}{named[1:]}"
    return f"your document {named}"


def _sentence_case(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", "!", "?")) else text + "."
