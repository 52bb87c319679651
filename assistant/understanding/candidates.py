"""Closed-vocabulary hearing, part one: which template sentences a spoken request may be.

Everything the templates can say with the live names (timers, devices, rooms, albums, genres …) is a
finite set of sentences: the matcher's sentence shapes, with '#' where a number goes. For one request
the few shapes nearest to what speech-to-text heard (its best reading and its next likeliest ones)
are taken, their numbers filled from what was heard (and the numbers that sound like them: thirteen
and thirty), and each is written the way Whisper writes a sentence (its numbers in digits or in words, as
speech-to-text wrote this request's), so the speech model can score it against the audio it has
already encoded (see `closed.py`).
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from assistant.language.numbers import find_numbers
from assistant.understanding.matcher import LIVE_MARK, TemplateMatcher, clean, number_shape

SOUND_ALIKE_NUMBERS = {13: 30, 14: 40, 15: 50, 16: 60, 17: 70, 18: 80, 19: 90}
"""Numbers said alike ("thirteen" / "thirty"): both are put to the audio, which tells them apart."""
SOUND_ALIKE_NUMBERS.update({v: k for k, v in list(SOUND_ALIKE_NUMBERS.items())})

_QUESTION_START = frozenset(
    "what what's whats how when where which who is are was do does did can could will would should have has".split()
)

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

MAX_FILLS = 6
"""How many ways at most to fill one shape's numbers."""


@dataclass(frozen=True)
class Candidate:
    """One sentence the templates can say, as the matcher reads it and as Whisper writes it."""

    plain: str
    """The template sentence with its numbers in digits: "dim the bedroom light to 30 percent"."""
    written: str
    """As Whisper would write it, numbers the way it wrote this request's: "Dim the bedroom light to 30%."."""


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


def as_whisper_writes(plain: str, numbers_as_words: bool) -> str:
    """A template sentence as Whisper writes one: "dim the bedroom light to 30 percent" → "Dim the
    bedroom light to 30%." (or "… to thirty percent.": numbers_as_words), a question with "?"."""
    if numbers_as_words:
        text = re.sub(r"\d+", lambda m: number_words(int(m.group())), plain)
    else:
        text = re.sub(r"(\d) percent\b", r"\1%", plain)
    first = plain.split(" ", 1)[0]
    return text[:1].upper() + text[1:] + ("?" if first in _QUESTION_START else ".")


def spells_numbers(reading: str) -> bool:
    """Whether speech-to-text wrote this request's numbers in words ("five minutes") rather than digits."""
    words = spoken_form(reading).split()
    return not any(w.isdigit() for w in words) and bool(find_numbers(words))


def _fills(count: int, heard: list[int], pool: list[int]) -> Iterable[tuple[int, ...]]:
    """Ways to fill `count` numbers: as heard in order, each swapped for its sound-alike, and
    otherwise from the pool of every number any reading held."""
    if count == 0:
        yield ()
        return
    if len(heard) == count:
        options = [[n, SOUND_ALIKE_NUMBERS[n]] if n in SOUND_ALIKE_NUMBERS else [n] for n in heard]
        yield from itertools.product(*options)
    yield from itertools.permutations(pool, count) if len(pool) >= count else ()


class CandidateShortlist:
    """The template sentences nearest to what was heard, filled and written for scoring.

    The templates are sampled once, with a marker where a live name goes; the live names are not
    multiplied into them (a new timer name would add tens of thousands of sentences, hundreds of
    devices millions). Instead the live names a reading holds, fuzzily ("the pasta timer" in "the
    posture timer"), are replaced by their list's marker in the reading, the marked reading is
    compared with the marked templates, and only the shortlisted ones are filled with those names."""

    def __init__(self, matcher: TemplateMatcher, per_reading: int = 4, limit: int = 12, readings: int = 3) -> None:
        """per_reading: how many nearest templates each reading brings (the probe found 3-5 enough: the
        right sentence was among them for 89 of 90 requests); limit: candidates in all (each costs the
        speech model a scoring pass); readings: how many of the readings bring candidates."""
        self.matcher = matcher
        self.per_reading = per_reading
        self.limit = limit
        self.readings = readings
        self._shapes: list[str] | None = None
        self._compact: list[str] = []

    def shapes(self) -> list[str]:
        """Every template sentence, live names as markers (sampled on first use; see warm_up)."""
        if self._shapes is None:
            static, marked = self.matcher.template_shapes()
            self._shapes = static + marked
            self._compact = [_compact(shape) for shape in self._shapes]
        return self._shapes

    def shortlist(self, readings: list[str], live: dict[str, list[str]]) -> list[Candidate]:
        """Candidates for a request heard as `readings` (best first), nearest first, no duplicates."""
        shapes = self.shapes()
        heard = [number_shape(spoken_form(r)) for r in readings if r.strip()][: self.readings]
        if not heard or not shapes:
            return []
        pool = list(dict.fromkeys(n for _, numbers in heard for n in numbers))
        spelled = spells_numbers(readings[0])
        nearest: dict[int, tuple[float, str, list[int], dict[str, list[str]]]] = {}
        for reading, numbers in heard:
            names = live_names_in(reading, live)
            found = {k: [name for name, _ in hits] for k, hits in names.items()}
            for query in dict.fromkeys([reading, _marked(reading, names)]):
                for _, similarity, at in process.extract(
                    _compact(query),
                    self._compact,
                    scorer=fuzz.ratio,
                    limit=self.per_reading,
                    score_cutoff=MIN_SIMILARITY,
                ):
                    if at not in nearest or similarity > nearest[at][0]:
                        nearest[at] = (similarity, reading, numbers, found)
        out: dict[str, Candidate] = {}
        for at, (_, reading, numbers, found) in sorted(nearest.items(), key=lambda item: -item[1][0]):
            for named in _with_names(shapes[at], reading, found, live):
                for fill in itertools.islice(dict.fromkeys(_fills(named.count("#"), numbers, pool)), MAX_FILLS):
                    plain = named
                    for value in fill:
                        plain = plain.replace("#", str(value), 1)
                    out.setdefault(plain, Candidate(plain, as_whisper_writes(plain, spelled)))
            if len(out) >= self.limit:
                break
        return list(out.values())[: self.limit]


MIN_SIMILARITY = 50.0
"""A template less similar than this (rapidfuzz ratio, 0..100) to every reading is not a candidate."""
MIN_NAME_SIMILARITY = 75.0
"""How closely a stretch of a reading must resemble a live name to be taken for it."""
NAMES_PER_LIST = 2


def live_names_in(reading: str, live: dict[str, list[str]]) -> dict[str, list[tuple[str, tuple[int, int]]]]:
    """The live names `reading` seems to hold, per list, best first, each with the character span it
    seems to take ("posture" in "cancel the posture timer" for the timer "pasta")."""
    found: dict[str, list[tuple[str, tuple[int, int]]]] = {}
    for list_name, values in live.items():
        names = [clean(v) for v in values if v and v.strip()]
        hits = process.extract(
            reading, names, scorer=fuzz.partial_ratio, limit=NAMES_PER_LIST, score_cutoff=MIN_NAME_SIMILARITY
        )
        for name, _, _ in hits:
            where = fuzz.partial_ratio_alignment(name, reading)
            if where is not None:
                found.setdefault(list_name, []).append((name, _whole_words(reading, where.dest_start, where.dest_end)))
    return found


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1] != " ":
        start -= 1
    while end < len(text) and text[end] != " ":
        end += 1
    return start, end


def _marked(reading: str, names: dict[str, list[tuple[str, tuple[int, int]]]]) -> str:
    """`reading` with the stretch each list's best name takes replaced by the list's marker."""
    spans = sorted(((span, list_name) for list_name, found in names.items() for _, span in found[:1]), reverse=True)
    taken: list[tuple[int, int]] = []
    for (start, end), list_name in spans:  # right to left, so earlier offsets stay true
        if any(start < b and a < end for a, b in taken):
            continue
        reading = reading[:start] + LIVE_MARK + list_name + reading[end:]
        taken.append((start, end))
    return reading


def _with_names(template: str, reading: str, found: dict[str, list[str]], live: dict[str, list[str]]) -> list[str]:
    """`template` with each marker replaced by a live name of its list: those found in the reading,
    and those nearest to the words the reading has where the marker stands ("memory" where "dim the
    … light" has a room: bedroom). None when the list has no names."""
    out = [template]
    slots = _slot_words(template, reading)
    for list_name in _MARKER.findall(template):
        values = [clean(v) for v in live.get(list_name, []) if v and v.strip()]
        said = slots.get(list_name, "")
        nearest = (
            [name for name, _, _ in process.extract(said, values, scorer=fuzz.ratio, limit=NAMES_PER_LIST)]
            if said and values
            else []
        )
        names = list(dict.fromkeys([*nearest[:1], *found.get(list_name, []), *nearest[1:]]))[: NAMES_PER_LIST + 1]
        out = [t.replace(LIVE_MARK + list_name, number_shape(name)[0], 1) for t in out for name in names]
    return out


def _slot_words(template: str, reading: str) -> dict[str, str]:
    """The words of `reading` that stand where each of `template`'s markers does, aligned word by word."""
    marks = template.split()
    words = reading.split()
    out: dict[str, str] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=marks, b=words, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        for word in marks[i1:i2]:
            if word.startswith(LIVE_MARK):
                out.setdefault(word[len(LIVE_MARK) :], " ".join(words[j1:j2]))
    return out


def _compact(shape: str) -> str:
    """A marker as one character, so a long marker does not outweigh the words around it."""
    return _MARKER.sub("§", shape)


_MARKER = re.compile(LIVE_MARK + r"([a-z_]+)")
