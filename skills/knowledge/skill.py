"""Household knowledge by voice: "remember that the spare key is in the blue box" keeps a note;
"where is the spare key", "how do I descale the coffee machine", "what's the guest wifi password" are
answered from the household's own notes and documents, with the source named ("From the coffee
machine manual, page 3: …"). The answer is the sentence of the best passages that holds most of the
question's words; when no passage holds enough of them the answer is "I don't find that in your
documents", never a guess."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from assistant.errors import KnowledgeError
from assistant.knowledge.index import Hit, KnowledgeIndex
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, tool

NOT_FOUND = "I don't find that in your documents."
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-.]*[a-z0-9]|[a-z0-9]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STOP = {"a", "an", "the", "is", "are", "was", "be", "to", "of", "in", "on", "at", "for", "my", "our", "your", "i",
         "do", "does", "did", "how", "what", "what's", "whats", "when", "where", "which", "who", "why", "it", "and",
         "or", "should", "can", "could", "with", "about", "me", "we", "there", "that", "this", "from", "by", "put",
         "we've", "i've", "often", "much", "many", "say", "says", "tell"}


def content_words(text: str) -> set[str]:
    """The words that carry the question, folded roughly to their stem ("descaling" → "descal")."""
    from assistant.knowledge.index import stemmer

    words = [w.strip(".-'") for w in _WORD.findall(text.lower())]
    return set(stemmer().stemWords([w for w in words if w and w not in _STOP]))


def best_sentence(question: str, hits: list[Hit]) -> tuple[Hit, str] | None:
    """The sentence (with its passage) that holds the most of the question's words, from passages that
    hold at least half of them (both, for a question of two words); None when none does."""
    wanted = content_words(question)
    if not wanted:
        return None
    need = len(wanted) if len(wanted) <= 2 else math.ceil(len(wanted) / 2)  # "alarm code" is not "error codes"
    best: tuple[float, Hit, str] | None = None
    for rank, hit in enumerate(hits):
        if len(wanted & content_words(hit.text)) < need:
            continue
        for sentence in _SENTENCE.split(hit.text):
            score = len(wanted & content_words(sentence)) - rank * 0.1
            if best is None or score > best[0]:
                best = (score, hit, sentence.strip())
    if best is None or best[0] <= 0:
        return None
    return best[1], best[2]


class KnowledgeSkill(Skill):
    name = "knowledge"
    description = "Answers questions from the household's own documents and notes, and keeps notes."
    permissions = frozenset({Permission.KNOWLEDGE})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.index: KnowledgeIndex = context.needs_knowledge()

    @tool
    def remember(self, fact: Annotated[str, Ask("What should I remember?"), "the fact, as said: the spare key is in the blue box"]) -> ToolResult:
        """Keep a note of a fact for later questions ("remember that the spare key is in the blue box")."""
        words = " ".join(fact.split()).rstrip(".")
        try:
            note_id = self.index.remember(words)
        except KnowledgeError as e:
            return ToolResult("What should I remember?", {"error": e.code}, ok=False)
        return ToolResult(f"I'll remember that {words}.", {"note_id": note_id, "note": words})

    @tool
    def ask(self, question: Annotated[str, Ask("What should I look up?"),
                                      "the question, as said: how do I descale the coffee machine"]) -> ToolResult:
        """Answer a question from the household's own documents (manuals, letters, notes): how to do
        something with an appliance, a password, where something is kept, when something is due."""
        hits = self.index.search(question, 5)
        found = best_sentence(question, hits)
        if found is None:
            return ToolResult(NOT_FOUND, {"question": question, "hits": [h.record() for h in hits[:3]]}, ok=False)
        hit, sentence = found
        data: dict[str, Any] = {"question": question, "answer": sentence, "source": hit.source, "title": hit.title,
                                "page": hit.page, "named": hit.named(), "passage": hit.text}
        return ToolResult(f"From {spoken_source(hit)}: {_sentence_case(sentence)}", data)


_KINDS_OF_DOCUMENT = ("manual", "guide", "letter", "booklet", "instructions", "handbook", "invoice", "contract",
                      "warranty", "schedule", "notes")


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
