"""Words as the knowledge search folds them: the English Snowball stemmer (search, the spelling
mender and the answer checks fold words alike) and the words that carry a question."""

from __future__ import annotations

import re
from typing import Any

_QUESTION_WORD = re.compile(r"[a-z0-9][a-z0-9'\-.]*[a-z0-9]|[a-z0-9]")
_STOP = {
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "be",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "my",
    "our",
    "your",
    "i",
    "do",
    "does",
    "did",
    "how",
    "what",
    "what's",
    "whats",
    "when",
    "where",
    "which",
    "who",
    "why",
    "it",
    "and",
    "or",
    "should",
    "can",
    "could",
    "with",
    "about",
    "me",
    "we",
    "there",
    "that",
    "this",
    "from",
    "by",
    "put",
    "we've",
    "i've",
    "often",
    "much",
    "many",
    "say",
    "says",
    "tell",
    # verbs that say what to do, not what it is about: "how do I take out the filter"
    "get",
    "take",
    "turn",
    "go",
    "goes",
    "need",
    "use",
    "keep",
    "find",
    "make",
    "let",
    "want",
    "know",
    "happen",
    "work",
    "mean",
    "means",
    "out",
    "up",
    "off",
}


_STEMMER: Any = None
"""The English Snowball stemmer, made once."""


def stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def content_words(text: str) -> set[str]:
    """The words that carry the question, folded to their stem ("descaling" → "descal")."""
    words = [w.strip(".-'") for w in _QUESTION_WORD.findall(text.lower())]
    return set(stemmer().stemWords([w for w in words if w and w not in _STOP]))
