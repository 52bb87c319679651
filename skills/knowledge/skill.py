"""Household knowledge by voice: "remember that the spare key is in the blue box" keeps a note;
"where is the spare key", "how do I descale the coffee machine", "what's the guest wifi password" are
answered from the household's own notes and documents by the LLM, in a sentence, with the source
named ("From the coffee machine manual, page 3. …"), or with "I don't find that in your documents",
never a guess (assistant/knowledge/answerer.py)."""

from __future__ import annotations

from typing import Annotated

from assistant.core.errors import KnowledgeError
from assistant.knowledge.answerer import NOT_FOUND, Answerer
from assistant.plugins.api import Ask, Permission, Skill, SkillContext, ToolResult, tool

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
        try:
            note_id = self.knowledge.index.remember(words)
        except KnowledgeError as e:
            return ToolResult("What should I remember?", {"error": e.code}, ok=False)
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
        answer = self.knowledge.ask(question)
        data = {"question": question, **answer.record()}
        return ToolResult(answer.speech, data, ok=answer.found)
