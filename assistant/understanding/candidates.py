"""Closed-vocabulary hearing, part one: which template sentences a spoken request may be.

Everything the templates can say with the live names (timers, devices, rooms, albums, genres …) is a
finite set of sentences: the matcher's sentence shapes, with '#' where a number goes. For one request
the few shapes nearest to what speech-to-text heard (its best reading and its next likeliest ones)
are taken, their numbers filled from what was heard (and the numbers that sound like them: thirteen
and thirty), and each is written the way Whisper writes a sentence, in digits and in words, so the
speech model can score it against the audio it has already encoded (see `closed.py`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from assistant.understanding.matcher import TemplateMatcher, clean, number_shape

_CONFUSABLE = {13: 30, 14: 40, 15: 50, 16: 60, 17: 70, 18: 80, 19: 90}
"""Numbers said alike ("thirteen" / "thirty"): both are put to the audio, which tells them apart."""
_CONFUSABLE.update({v: k for k, v in list(_CONFUSABLE.items())})

_QUESTION_START = frozenset("what what's whats how when where which who is are was do does did can could will would "
                            "should have has".split())

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

MAX_FILLS = 6
"""How many ways at most to fill one shape's numbers."""


@dataclass(frozen=True)
class Candidate:
    """One sentence the templates can say, as the matcher reads it and as Whisper writes it."""

    plain: str
    """The template sentence with its numbers in digits: "dim the bedroom light to 30 percent"."""
    written: tuple[str, ...]
    """How Whisper would write it: ("Dim the bedroom light to 30%.", "Dim the bedroom light to thirty percent.")."""


def number_words(n: int) -> str:
    """0..999 in English words ("a hundred and twenty" is written "one hundred twenty", as Whisper does)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    return str(n)


def spoken_form(text: str) -> str:
    """A reading as the shapes are written: plain lower-case words, "30%" as "30 percent"."""
    text = re.sub(r"(\d)\s*%", r"\1 percent", text)
    return clean(text.replace("-", " "))


def _written(plain: str, numbers_as_words: bool) -> str:
    words = plain.split()
    out: list[str] = []
    for i, word in enumerate(words):
        if word.isdigit():
            if numbers_as_words:
                out.append(number_words(int(word)))
            elif i + 1 < len(words) and words[i + 1] == "percent":
                out.append(word + "%")
                continue
            else:
                out.append(word)
        elif word == "percent" and out and out[-1].endswith("%"):
            continue
        else:
            out.append(word)
    sentence = " ".join(out)
    sentence = sentence[:1].upper() + sentence[1:]
    return sentence + ("?" if words and words[0] in _QUESTION_START else ".")


def written_forms(plain: str) -> tuple[str, ...]:
    """The ways Whisper writes `plain`: numbers in digits ("30%", "10 minutes"), and small ones in
    words too ("five minutes"): it writes both."""
    digits = _written(plain, False)
    if all(int(w) > 10 for w in plain.split() if w.isdigit()):
        return (digits,)
    words = _written(plain, True)
    return (digits,) if digits == words else (digits, words)


def _fills(count: int, heard: list[int], pool: list[int]) -> Iterable[tuple[int, ...]]:
    """Ways to fill `count` numbers: as heard in order, each swapped for its sound-alike, and
    otherwise from the pool of every number any reading held."""
    if count == 0:
        yield ()
        return
    if len(heard) == count:
        options = [[n, _CONFUSABLE[n]] if n in _CONFUSABLE else [n] for n in heard]
        yield from itertools.product(*options)
    yield from itertools.permutations(pool, count) if len(pool) >= count else ()


class CandidateShortlist:
    """The template sentences nearest to what was heard, filled and written for scoring."""

    def __init__(self, matcher: TemplateMatcher, per_reading: int = 4, limit: int = 12) -> None:
        """per_reading: how many nearest shapes each reading brings (the probe found 3-5 enough: the
        right sentence was among them for 89 of 90 requests); limit: candidates in all."""
        self.matcher = matcher
        self.per_reading = per_reading
        self.limit = limit

    def shortlist(self, readings: list[str], live: dict[str, list[str]]) -> list[Candidate]:
        """Candidates for a request heard as `readings` (best first), nearest first, no duplicates,
        at most `limit` (each costs the speech model a scoring pass)."""
        shapes = self.matcher.sentence_shapes(live)
        if not shapes:
            return []
        heard = [number_shape(spoken_form(r)) for r in readings if r.strip()]
        pool = list(dict.fromkeys(n for _, numbers in heard for n in numbers))
        nearest: dict[str, tuple[float, list[int]]] = {}
        for shape, numbers in heard:
            for template, similarity, _ in process.extract(shape, shapes, scorer=fuzz.ratio, limit=self.per_reading):
                if template not in nearest or similarity > nearest[template][0]:
                    nearest[template] = (similarity, numbers)
        out: dict[str, Candidate] = {}
        for template, (_, numbers) in sorted(nearest.items(), key=lambda item: -item[1][0]):
            for fill in itertools.islice(dict.fromkeys(_fills(template.count("#"), numbers, pool)), MAX_FILLS):
                plain = template
                for value in fill:
                    plain = plain.replace("#", str(value), 1)
                out.setdefault(plain, Candidate(plain, written_forms(plain)))
            if len(out) >= self.limit:
                break
        return list(out.values())[: self.limit]
