"""Which words of a spoken photo selection are a time and which a place.

People say both in one breath ("in Paris in 2023", "from Japan last summer", "in 2023 in Paris"),
and a sentence template or the planner catches the whole phrase in one slot. `read_phrase` splits
it where one side is a place the gazetteer knows and the other a time `date_range` reads. A phrase
that splits into a time and words that are no known place keeps those words as the place, so the
answer is "I don't know a place called narnia", never a count of every photo from 2023.

`settle` puts the parts of a selection where they belong, and `dropped_time` finds a time that was
said but reached no argument (the planner left it out), so that it is used rather than lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from assistant.media.places import Places
from assistant.media.when import date_range

_CONNECTORS = frozenset("in from during of taken at on around and".split())
"""Words that join a place and a time and belong to neither ("Paris *in* 2023")."""
_LONGEST_TIME = 8
"""Words in the longest time worth looking for in a request ("between june and august twenty twenty four")."""


@dataclass(frozen=True)
class Phrase:
    """What one slot's words were read as; either part may be None."""

    when: str | None = None
    place: str | None = None


def is_place(text: str, places: Places) -> bool:
    return bool(text.strip()) and (places.country(text) is not None or bool(places.find(text)))


def read_phrase(text: str, today: date, places: Places) -> Phrase | None:
    """The time and the place in `text`; None when no reading explains it (the caller reports it).

    A whole time or a whole place is read as it is. Otherwise the words are split in two, a place
    and a time in either order; a split whose time side reads but whose place side names no known
    place keeps those words as the place (they are reported as an unknown place), and one whose place
    side is known keeps the other words as the time (reported as words that are no time)."""
    words = text.split()
    if not words:
        return None
    if date_range(text, today) is not None:
        return Phrase(when=text)
    if is_place(_trim(words), places):
        return Phrase(place=_trim(words))
    unknown_place: Phrase | None = None
    unknown_time: Phrase | None = None
    for k in range(1, len(words)):
        for time_words, place_words in ((words[k:], words[:k]), (words[:k], words[k:])):
            when, place = _trim(time_words) or " ".join(time_words), _trim(place_words)
            if not place:
                continue
            if date_range(when, today) is None and date_range(" ".join(time_words), today) is not None:
                when = " ".join(time_words)  # a connector that is part of the time
            time_ok = date_range(when, today) is not None
            place_ok = is_place(place, places)
            if time_ok and place_ok:
                return Phrase(when=when, place=place)
            if time_ok and unknown_place is None:
                unknown_place = Phrase(when=when, place=place)
            elif place_ok and unknown_time is None and _trim(time_words):
                unknown_time = Phrase(when=when, place=place)
    return unknown_place or unknown_time


def settle(when: str | None, place: str | None, today: date, places: Places) -> tuple[str | None, str | None]:
    """(when, place) with each part where it belongs: a time said as a place and a place said as a time
    swap, a phrase holding both is split. Left as given when the parts contradict each other (two
    times, two places): the selection then reports what it cannot understand."""
    found_when: list[str] = []
    found_place: list[str] = []
    for text, own in ((when, "when"), (place, "place")):
        if not text:
            continue
        if own == "when" and date_range(text, today) is not None:
            found_when.append(text)
            continue
        if own == "place" and is_place(text, places):
            found_place.append(text)
            continue
        phrase = read_phrase(text, today, places)
        if phrase is None:
            (found_when if own == "when" else found_place).append(text)
            continue
        if phrase.when:
            found_when.append(phrase.when)
        if phrase.place:
            found_place.append(phrase.place)
    if len(found_when) > 1 or len(found_place) > 1:
        return when, place
    return (found_when[0] if found_when else None), (found_place[0] if found_place else None)


def dropped_time(request: str, given: list[str], today: date) -> str | None:
    """The longest time said in `request` that no given argument holds ("march 2024" in "show me
    photos from london in march 2024" when only london came through); None when there is none."""
    words = re.sub(r"[^a-z0-9' ]+", " ", request.lower()).split()
    held = {w for text in given for w in re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()}
    for length in range(min(_LONGEST_TIME, len(words)), 0, -1):
        for start in range(len(words) - length + 1):
            span = words[start : start + length]
            if span[0] in _CONNECTORS or held & set(span):
                continue
            text = " ".join(span)
            if date_range(text, today) is not None:
                return text
    return None


def _trim(words: list[str]) -> str:
    """Words without the joining words around them ("in paris" → "paris", "in 2023" → "2023")."""
    start, end = 0, len(words)
    while start < end and words[start].lower() in _CONNECTORS:
        start += 1
    while end > start and words[end - 1].lower() in _CONNECTORS:
        end -= 1
    return " ".join(words[start:end])
