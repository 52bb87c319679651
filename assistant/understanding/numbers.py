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


UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
"""Units of time, singular, by length: what a number said before them measures."""
_TIME_UNITS = frozenset("second seconds sec secs minute minutes min mins hour hours".split())
_SOUNDS_LIKE = {"to": "two", "too": "two", "for": "four", "fore": "four", "fife": "five", "won": "one",
                "tree": "three", "free": "three", "ate": "eight", "nein": "nine", "tin": "ten", "sex": "six"}
"""Words speech-to-text writes for a number word that sounds the same."""
_PUNCTUATION = ".,!?;:"


def respell_numbers(text: str) -> str:
    """Put back number words that speech-to-text wrote as sound-alikes, only where nothing but a
    number makes sense, right before a unit of time: "a timer for too minutes" → "… two minutes",
    and "a timer four seven minutes" → "a timer for seven minutes" (no number is said "four seven").
    Clock times ("at four twenty") are left alone: the unit must follow."""
    words = text.split()
    bare = [w.lower().strip(_PUNCTUATION) for w in words]
    out = list(words)
    for i, word in enumerate(bare):
        after = bare[i + 1] if i + 1 < len(bare) else ""
        if word in _SOUNDS_LIKE and after in _TIME_UNITS:
            out[i] = _SOUNDS_LIKE[word]
        elif (word == "four" and i + 2 < len(bare) and bare[i + 2] in _TIME_UNITS
              and (value := _word_value(after)) is not None and value[0] in ("unit", "digits")):
            out[i] = "for"
    return " ".join(out)
