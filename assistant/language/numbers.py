"""Numbers in a transcript, as digits or English words ("twenty five", "a hundred and ten")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"
}
_DIGITS = re.compile(r"^(\d+|\d{1,3}(?:,\d{3})+)%?$")
"""Digits as speech-to-text writes them: "13", "13%", "1,000"."""


@dataclass(frozen=True)
class NumberSpan:
    start: int
    """Index of the first word."""
    end: int
    """Index after the last word."""
    value: int


def _word_value(word: str) -> tuple[str, int] | None:
    if m := _DIGITS.match(word):
        return "digits", int(m[1].replace(",", ""))
    if word in _UNITS:
        return "unit", _UNITS[word]
    if word in _TENS:
        return "tens", _TENS[word]
    if word in ("hundred", "thousand"):
        return word, 100 if word == "hundred" else 1000
    tens, _, unit = word.partition("-")
    if tens in _TENS and 0 < _UNITS.get(unit, 0) < 10:
        return "compound", _TENS[tens] + _UNITS[unit]  # "twenty-five", as one word
    return None


def _below_hundred(words: list[str], i: int) -> tuple[int, int] | None:
    """ "twenty five", "seven", "twenty-five", "42" at word i: (value, end)."""
    first = _word_value(words[i]) if i < len(words) else None
    if first is None or first[0] in ("hundred", "thousand") or first[1] >= 100:
        return None
    kind, value = first
    j = i + 1
    if kind == "tens" and j < len(words) and (nxt := _word_value(words[j])) and nxt[0] == "unit" and 0 < nxt[1] < 10:
        value += nxt[1]
        j += 1
    return value, j


def _with_rest(words: list[str], value: int, j: int, below: int) -> tuple[int, int]:
    """`value` and what follows it that is smaller than `below`: "a hundred [and] twenty"."""
    k = j + (1 if j < len(words) and words[j] == "and" else 0)
    if below > 100:
        rest = _below_thousand(words, k)
    else:
        rest = _below_hundred(words, k)
    if rest is not None and rest[0] < below:
        return value + rest[0], rest[1]
    return value, j


def _below_thousand(words: list[str], i: int) -> tuple[int, int] | None:
    """ "a hundred and ten" (from "hundred"), "one hundred twenty", "fifteen hundred", "twenty five"."""
    if i < len(words) and words[i] == "hundred":
        return _with_rest(words, 100, i + 1, 100)
    found = _below_hundred(words, i)
    if found is None:
        return None
    value, j = found
    if j < len(words) and words[j] == "hundred" and 0 < value and _word_value(words[i])[0] != "digits":  # type: ignore[index]
        return _with_rest(words, value * 100, j + 1, 100)
    return value, j


def _number(words: list[str], i: int) -> tuple[int, int] | None:
    first = _word_value(words[i])
    if first is None:
        return None
    if first[0] == "digits":
        return first[1], i + 1
    if first[0] == "thousand":
        return _with_rest(words, 1000, i + 1, 1000)
    found = _below_thousand(words, i)
    if found is None:
        return None
    value, j = found
    if j < len(words) and words[j] == "thousand" and 0 < value:
        return _with_rest(words, value * 1000, j + 1, 1000)
    return found


def find_numbers(words: list[str]) -> list[NumberSpan]:
    """Spans of words that spell one number each, left to right: "25", "13%", "twenty five",
    "twenty-five", "a hundred and twenty" (from "hundred"), "one hundred twenty", "two thousand and
    five". Words should be lower case, without punctuation."""
    spans: list[NumberSpan] = []
    i = 0
    while i < len(words):
        found = _number(words, i)
        if found is None:
            i += 1
            continue
        value, j = found
        spans.append(NumberSpan(i, j, value))
        i = j
    return spans


UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
"""Units of time, singular, by length: what a number said before them measures."""
_TIME_UNITS = frozenset("second seconds sec secs minute minutes min mins hour hours".split())
_SOUNDS_LIKE = {
    "to": "two",
    "too": "two",
    "for": "four",
    "fore": "four",
    "fife": "five",
    "won": "one",
    "tree": "three",
    "free": "three",
    "ate": "eight",
    "nein": "nine",
    "tin": "ten",
    "sex": "six",
}
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
        elif (
            word == "four"
            and i + 2 < len(bare)
            and bare[i + 2] in _TIME_UNITS
            and (value := _word_value(after)) is not None
            and value[0] in ("unit", "digits")
        ):
            out[i] = "for"
    return " ".join(out)


_WORD = re.compile(r"[a-z]+|[0-9]+")


def numbers_said(text: str) -> list[int]:
    """The numbers said, in order, whether written in digits or words ("2 minutes and thirty seconds": [2, 30])."""
    return [n.value for n in find_numbers(_WORD.findall(respell_numbers(text).lower()))]
