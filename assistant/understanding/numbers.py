"""Numbers in a transcript, as digits or English words ("twenty five", "a hundred and ten")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class NumberSpan:
    start: int
    """Index of the first word."""
    end: int
    """Index after the last word."""
    value: int


def _word_value(word: str) -> tuple[str, int] | None:
    if _DIGITS.match(word):
        return "digits", int(word)
    if word in _UNITS:
        return "unit", _UNITS[word]
    if word in _TENS:
        return "tens", _TENS[word]
    if word == "hundred":
        return "hundred", 100
    return None


def find_numbers(words: list[str]) -> list[NumberSpan]:
    """Spans of words that spell one number each, left to right; "twenty-five" should already be
    split into "twenty five" by the caller."""
    spans: list[NumberSpan] = []
    i = 0
    while i < len(words):
        first = _word_value(words[i])
        if first is None:
            i += 1
            continue
        kind, value = first
        j = i + 1
        if kind == "digits":
            spans.append(NumberSpan(i, j, value))
            i = j
            continue
        if kind == "tens" and j < len(words) and (nxt := _word_value(words[j])) and nxt[0] == "unit" and 0 < nxt[1] < 10:
            value += nxt[1]
            j += 1
        if kind == "hundred" or (j < len(words) and words[j] == "hundred" and 0 < value < 10):
            if kind != "hundred":
                value *= 100
                j += 1
            k = j + (1 if j < len(words) and words[j] == "and" else 0)
            rest = find_numbers(words[k:k + 2])
            if rest and rest[0].start == 0 and rest[0].value < 100:
                value += rest[0].value
                j = k + rest[0].end
        spans.append(NumberSpan(i, j, value))
        i = j
    return spans
