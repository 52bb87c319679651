"""Household knowledge by voice: "remember that the spare key is in the blue box" keeps a note;
"where is the spare key", "how do I descale the coffee machine", "what's the guest wifi password" are
answered from the household's own notes and documents by the LLM, in a sentence, with the source
named ("From the coffee machine manual, page 3. …"), or with "I don't find that in your documents",
never a guess (assistant/knowledge/answerer.py).

A note about the speaker ("remember that my locker code is 4512"), said by an enrolled voice, is
theirs: it answers them, and nobody else. Any other note is the household's."""

from __future__ import annotations

import re
from typing import Annotated

from assistant.core.errors import KnowledgeError
from assistant.knowledge.answerer import NOT_FOUND, Answerer
from assistant.knowledge.index import EVERYONE, Reader
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, speaker, speaker_name, tool

__all__ = ["KnowledgeSkill", "NOT_FOUND"]


class KnowledgeSkill(Skill):
    name = "knowledge"
    description = "Answers questions from the household's own documents and notes, and keeps notes."
    permissions = frozenset({Permission.KNOWLEDGE})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.knowledge: Answerer = context.needs(Permission.KNOWLEDGE, Answerer)

    @tool
    def remember(
        self,
        fact: Annotated[str, Ask("What should I remember?"), "the fact, as said: the spare key is in the blue box"],
    ) -> ToolResult:
        """Keep a note of a fact for later questions ("remember that the spare key is in the blue box")."""
        words = " ".join(fact.split()).rstrip(".")
        personal = _about_the_speaker(words)
        owner = speaker_name() if personal else None
        if personal and owner is None and speaker() is not None:
            # Voices are told apart but not this one: a note about "my" bank pin kept as the
            # household's would be read to any voice that asks.
            return ToolResult(
                "I can't tell who you are, so I won't keep a note about you where anyone could hear it. "
                'Say it again once I know your voice, or say it without "my" to keep it for everyone.',
                {"error": "unknown_voice", "note": words},
                ok=False,
            )
        try:
            note_id = self.knowledge.index.remember(words, owner)
        except KnowledgeError as e:
            return ToolResult("What should I remember?", {"error": e.code}, ok=False)
        if owner is not None:
            return ToolResult(
                f"I'll remember that {_as_theirs(words)}, {owner}, and tell only you.",
                {"note_id": note_id, "note": words, "owner": owner},
            )
        return ToolResult(f"I'll remember that {words}.", {"note_id": note_id, "note": words})

    @tool(unanswered="question", reads=True)  # a question nothing else took may still be in the documents
    def ask(
        self,
        question: Annotated[
            str, Ask("What should I look up?"), "the question, as said: how do I descale the coffee machine"
        ],
    ) -> ToolResult:
        """Answer a question from the household's own documents (manuals, letters, notes): how to do
        something with an appliance, a password, where something is kept, when something is due."""
        answer = self.knowledge.ask(question, reader=_reader())
        data = {"question": question, **answer.record()}
        return ToolResult(answer.speech, data, ok=answer.found)


_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself)\b", re.IGNORECASE)
_SWAPPED = {"i": "you", "i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll", "me": "you"}
_SWAPPED |= {"my": "your", "mine": "yours", "myself": "yourself"}


def _about_the_speaker(words: str) -> bool:
    """ "my locker code is 4512", "I parked on level 3": a note about whoever says it."""
    return _FIRST_PERSON.search(words) is not None


def _as_theirs(words: str) -> str:
    """The note as said back to its owner: "my locker code" → "your locker code"."""
    return _FIRST_PERSON.sub(lambda m: _SWAPPED[m.group(0).lower()], words)


def _reader() -> Reader:
    """Whose notes may answer: an enrolled voice's own and the household's; a voice nobody enrolled
    only the household's; a typed request, or a household with no voices enrolled, all."""
    who = speaker()
    return EVERYONE if who is None else Reader(who.name)
