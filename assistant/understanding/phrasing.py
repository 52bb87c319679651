"""Replies to open questions, worded by the LLM from the tool's result and checked against it.

A tool's own reply is a template filled from its result: fast and never wrong, but it answers the
question the template had in mind ("Tomorrow: an alarm at 6 AM."). A freely worded question ("do I
have to get up early tomorrow?") deserves an answer to itself ("Yes, your alarm is at 6 AM."). For
tools marked `@tool(phrased=True)` the LLM gets the question and the result's facts and answers in a
sentence or two. The 1.5B model invents facts when it can (MODELS.md), so its answer is kept only if
every number, time of day, day, name and kind of thing it states is in the facts or the question,
and every number the facts state is in it (an answer that drops the alarm's time may well have
judged wrong: "Yes, you can sleep in" with an alarm at 6:30); otherwise the template reply is spoken.
"""

from __future__ import annotations

import re

from assistant.language.numbers import find_numbers

SYSTEM = """You are an offline home voice assistant. Answer the person's question in one or two short spoken
sentences, using only the facts. Repeat every time and name from the facts exactly; add none.

Examples:
Question: will I be woken up early on Saturday
Facts: Saturday you have an alarm at 5:45 AM.
Answer: Yes, your alarm goes off at 5:45 AM on Saturday.

Question: is my afternoon free today
Facts: Today you have a reminder at 3 PM to pick up the kids.
Answer: Not quite: at 3 PM you have a reminder to pick up the kids.

Question: anything I need to remember today
Facts: Nothing is planned for the rest of today.
Answer: No, nothing is planned for the rest of today."""
"""Worked examples help the 1.5B model keep the facts' times; they are part of the cached prefix, so free."""

MAX_WORDS = 45
MAX_TOKENS = 64

_DAYS = frozenset(
    "today tonight tomorrow yesterday monday tuesday wednesday thursday friday saturday sunday "
    "weekend noon midnight".split()
)
_HALF_OF_DAY = frozenset({"am", "pm"})
_THINGS = frozenset("alarm reminder timer routine".split())
"""Kinds of item a reply may claim exist: only when the facts name them."""
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+")


def request(question: str, facts: str) -> str:
    """The user turn of the phrasing prompt."""
    return f"Question: {question.strip()}\nFacts: {facts.strip()}\nAnswer:"


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _numbers(words: list[str]) -> set[int]:
    return {span.value for span in find_numbers([w.lower() for w in words])}


def _names(text: str) -> set[str]:
    """Capitalized words that do not start a sentence: the names a reply states."""
    names: set[str] = set()
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        words = _words(sentence)
        names.update(w.lower() for w in words[1:] if w[:1].isupper() and w not in ("I", "AM", "PM"))
    return names


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def unsupported(reply: str, facts: str, question: str) -> str | None:
    """Why `reply` cannot be spoken (it is empty, long, or states something the facts and the
    question do not), or None when every stated detail is grounded."""
    words = _words(reply)
    if not words:
        return "empty"
    if len(words) > MAX_WORDS:
        return f"{len(words)} words"
    facts_words = _words(facts)
    source_words = facts_words + _words(question)
    source = {w.lower() for w in source_words}
    said = _numbers(words)
    extra_numbers = said - _numbers(source_words)
    if extra_numbers:
        return f"number {sorted(extra_numbers)[0]} is not in the facts"
    dropped = _numbers(facts_words) - said
    if dropped:
        return f"the facts' {sorted(dropped)[0]} is left out"
    lowered = {w.lower() for w in words}
    for kind, vocabulary in (("time of day", _HALF_OF_DAY), ("day", _DAYS), ("thing", _THINGS)):
        extra = {_singular(w) for w in lowered} & vocabulary - {_singular(w) for w in source}
        if extra:
            return f"{kind} '{sorted(extra)[0]}' is not in the facts"
    names = _names(reply) - source
    if names:
        return f"name '{sorted(names)[0]}' is not in the facts"
    return None


def clean(raw: str) -> str:
    """The model's answer as one spoken line (markup and quotes removed)."""
    text = raw.strip().removeprefix("Answer:").strip().strip('"').replace("**", "").replace("*", "")
    return " ".join(text.split())
