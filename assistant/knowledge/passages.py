"""A document's text cut into passages: sentences packed to about a paragraph each, overlapping by a
sentence, with headings and list items ended as sentences of their own."""

from __future__ import annotations

import re
from collections.abc import Iterator

PASSAGE_WORDS = 110
"""About a paragraph: enough around an answer to hold it, short enough to read out a sentence of it."""
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


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
