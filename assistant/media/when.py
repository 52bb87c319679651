"""Spans of days as people say them when asking for photos: "last summer", "March 2024", "twenty
twenty three", "the past two weeks", "between June and August 2024", "Christmas 2022", "the nineties".

`date_range(text, today)` is a pure function: the words said for the time, and the day it is, give a
`DateRange` (first day included, first day not included) or None when the words hold no time.

Choices where people are vague:

* A month or season without a year is the most recent one that has started ("March" in January 2026
  is March 2025; "this summer" in July 2026 is summer 2026, in January 2026 summer 2025). "Last" is
  the most recent one that has ended ("last summer" is summer 2025 in July 2026, summer 2026 in
  November 2026).
* Seasons are meteorological: spring March–May, summer June–August, autumn (fall) September–November,
  winter December–February; in the southern hemisphere each is shifted by six months. A season that
  spans the new year is named by the year of its January, as named winters are ("the winter of
  1963"): "winter 2025" is December 2024 to February 2025, said back as "winter 2024 to 2025".
* Weeks start on Monday. "Last week", "last month", "last year" are the previous calendar ones;
  "the past week", "the last 30 days", "the past two weeks" count back from today, today included.
* Christmas is December 24 to 26; New Year's Eve is December 31 and the January 1 after it, for the
  photos taken after midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from assistant.language.numbers import find_numbers
from assistant.language.spoken_time import MONTHS

_MONTH_WORDS = (
    {m: i + 1 for i, m in enumerate(MONTHS)} | {m[:3]: i + 1 for i, m in enumerate(MONTHS) if m != "may"} | {"sept": 9}
)
_SEASON_START = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
"""The first month of each season in the northern hemisphere."""
_DECADE_WORDS = {
    "tens": 10,
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
    "noughties": 0,
    "aughts": 0,
}
_FILLERS = frozenset("from in during of taken on at over around back sometime".split())
"""Words said before a time that add nothing to it ("taken in the summer of 2022")."""
_DROPPED = frozenset("the of".split())
_UNIT_DAYS = {"day": 1, "week": 7}
_HOLIDAYS = {
    # words: (month, day, days long, how it is said back)
    "christmas": (12, 24, 3, "Christmas"),
    "christmas eve": (12, 24, 1, "Christmas Eve"),
    "christmas day": (12, 25, 1, "Christmas Day"),
    "new years eve": (12, 31, 2, "New Year's Eve"),
    "new years day": (1, 1, 1, "New Year's Day"),
}
_ONES = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}

_M = "(" + "|".join(sorted(_MONTH_WORDS, key=len, reverse=True)) + ")"
_S = "(spring|summer|autumn|fall|winter)"
_TO = "(?:and|to|until|till|through|thru)"


@dataclass(frozen=True)
class DateRange:
    """Days from `start` up to, not including, `end`."""

    start: date
    """The first day included."""
    end: date
    """The first day not included."""
    spoken: str
    """How to say it back: "summer 2025", "2023", "March 2024", "last week"."""

    def contains(self, taken_iso: str) -> bool:
        """Whether a photo taken at this naive local ISO time ("2025-07-14T10:22:00") falls in it."""
        try:
            day = date.fromisoformat(taken_iso[:10])
        except (TypeError, ValueError):
            return False
        return self.start <= day < self.end

    def iso_bounds(self) -> tuple[str, str]:
        """("2025-06-01T00:00:00", "2025-09-01T00:00:00"): taken >= first and taken < second, for range
        queries on ISO strings written with a "T"."""
        return f"{self.start.isoformat()}T00:00:00", f"{self.end.isoformat()}T00:00:00"


def date_range(text: str, today: date, southern_hemisphere: bool = False) -> DateRange | None:
    """The days meant by `text`, said on `today`; None when it is not a time."""
    words = _canonical_words(text, today)
    if not words:
        return None
    if words[0] == "since":
        rest = _parse(" ".join(words[1:]), today, southern_hemisphere)
        if rest is None or rest.start > today:
            return None
        return DateRange(rest.start, today + timedelta(days=1), f"since {rest.spoken}")
    return _parse(" ".join(words), today, southern_hemisphere)


# -- words to tokens --


def _canonical_words(text: str, today: date) -> list[str]:
    """Lower-case words with numbers and spoken years as digits ("2023", "1990s", "30"), without the
    fillers in front and without "the" and "of"."""
    text = text.lower().replace("’", "").replace("'", "")
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    words = _spoken_numbers(words, today)
    while words and words[0] in _FILLERS:
        words = words[1:]
    words = [w for w in words if w not in _DROPPED]
    if len(words) >= 2 and words[0] == "year" and words[1].isdigit():
        words = words[1:]
    return words


def _spoken_numbers(words: list[str], today: date) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        # "nineteen ninety nine", "twenty twenty three", "twenty oh five", "nineteen eighties"
        if word in ("nineteen", "twenty") and nxt:
            century = 1900 if word == "nineteen" else 2000
            if nxt in _DECADE_WORDS and (nxt != "tens" or century == 2000):
                out.append(f"{century + _DECADE_WORDS[nxt]}s")
                i += 2
                continue
            if nxt in ("oh", "o") and i + 2 < len(words) and 0 < _ONES.get(words[i + 2], 0):
                out.append(str(century + _ONES[words[i + 2]]))
                i += 3
                continue
            if nxt == "hundred":
                out.append(str(century))
                i += 2
                continue
            rest = find_numbers(words[i + 1 : i + 3])
            if rest and rest[0].start == 0 and 10 <= rest[0].value <= 99 and not words[i + 1].isdigit():
                out.append(str(century + rest[0].value))
                i += 1 + rest[0].end
                continue
        # "two thousand and nine", "two thousand twenty three"
        if word in _ONES and nxt == "thousand":
            value = 1000 * _ONES[word]
            j = i + 2 + (1 if i + 2 < len(words) and words[i + 2] == "and" else 0)
            rest = find_numbers(words[j : j + 3])
            if rest and rest[0].start == 0 and rest[0].value < 100 and not words[j].isdigit():
                value += rest[0].value
                j += rest[0].end
            else:
                j = i + 2
            out.append(str(value))
            i = j
            continue
        if word in _DECADE_WORDS and word != "tens":
            out.append(f"{_decade_century(_DECADE_WORDS[word], today)}s")
            i += 1
            continue
        if m := re.fullmatch(r"(\d\d)s", word):
            out.append(f"{_decade_century(int(m.group(1)), today)}s")
            i += 1
            continue
        spans = find_numbers(words[i:])
        if spans and spans[0].start == 0 and not word.isdigit():
            out.append(str(spans[0].value))
            i += spans[0].end
            continue
        out.append(word)
        i += 1
    return out


def _decade_century(two_digits: int, today: date) -> int:
    """ "The nineties" → 1990, "the twenties" in 2026 → 2020: the most recent such decade that has begun."""
    return 2000 + two_digits if 2000 + two_digits <= today.year else 1900 + two_digits


# -- tokens to days --


def _parse(s: str, today: date, south: bool) -> DateRange | None:
    one_day = timedelta(days=1)
    if s == "today":
        return DateRange(today, today + one_day, "today")
    if s == "yesterday":
        return DateRange(today - one_day, today, "yesterday")
    if s == "day before yesterday":
        return DateRange(today - 2 * one_day, today - one_day, "the day before yesterday")
    if m := re.fullmatch(r"(this|last|previous) (week|month|year)", s):
        return _calendar(m.group(2), -1 if m.group(1) != "this" else 0, today)
    if m := re.fullmatch(r"(?:last|past|previous)(?: (\d+))? (day|week|month|year)s?", s):
        return _rolling(int(m.group(1) or 1), m.group(2), today)
    if m := re.fullmatch(r"(\d{4})", s):
        return _year(int(m.group(1)))
    if m := re.fullmatch(r"(\d{4})s", s):
        start = int(m.group(1))
        if start % 10 == 0 and _plausible(start):
            return DateRange(date(start, 1, 1), date(start + 10, 1, 1), f"the {start}s")
        return None
    if m := re.fullmatch(rf"(last|this)? ?{_M}(?: (\d{{4}}))?", s):
        return _month(m.group(1), _MONTH_WORDS[m.group(2)], m.group(3), today)
    if m := re.fullmatch(rf"(?:(last|this) )?{_S}(?: (\d{{4}}))?|(\d{{4}}) {_S}", s):
        which, season, year = (m.group(1), m.group(2), m.group(3)) if m.group(2) else (None, m.group(5), m.group(4))
        return _season(which, season, year, today, south)
    if m := re.fullmatch(r"(?:(last|this) )?(christmas(?: eve| day)?|new years (?:eve|day))(?: (\d{4}))?", s):
        return _holiday(m.group(1), m.group(2), m.group(3), today)
    if m := re.fullmatch(rf"(?:between )?{_M}(?: (\d{{4}}))? {_TO} {_M}(?: (\d{{4}}))?", s):
        return _months_between(m.group(1), m.group(2), m.group(3), m.group(4), today)
    if m := re.fullmatch(rf"(?:between )?(\d{{4}}) {_TO} (\d{{4}})", s):
        first, last = int(m.group(1)), int(m.group(2))
        if _plausible(first) and _plausible(last) and first < last:
            return DateRange(date(first, 1, 1), date(last + 1, 1, 1), f"{first} to {last}")
    return None


def _plausible(year: int) -> bool:
    return 1800 <= year <= 2200


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_name(month_start: date) -> str:
    return f"{MONTHS[month_start.month - 1].capitalize()} {month_start.year}"


def _year(year: int) -> DateRange | None:
    return DateRange(date(year, 1, 1), date(year + 1, 1, 1), str(year)) if _plausible(year) else None


def _calendar(unit: str, offset: int, today: date) -> DateRange:
    if unit == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=offset)
        return DateRange(monday, monday + timedelta(weeks=1), "this week" if offset == 0 else "last week")
    if unit == "month":
        start = _add_months(today.replace(day=1), offset)
        return DateRange(start, _add_months(start, 1), _month_name(start))
    year = today.year + offset
    return DateRange(date(year, 1, 1), date(year + 1, 1, 1), str(year))


def _rolling(count: int, unit: str, today: date) -> DateRange | None:
    if count <= 0:
        return None
    end = today + timedelta(days=1)
    if unit in _UNIT_DAYS:
        days = count * _UNIT_DAYS[unit]
        if days > (end - date(1800, 1, 1)).days:  # "the last 99999999999 days" reaches before any photo
            return None
        start = end - timedelta(days=days)
    else:
        months = count * (12 if unit == "year" else 1)
        index = today.year * 12 + today.month - 1 - months
        year, month = index // 12, index % 12 + 1
        if not _plausible(year):
            return None
        last_day = (_add_months(date(year, month, 1), 1) - timedelta(days=1)).day
        start = date(year, month, min(today.day, last_day)) + timedelta(days=1)
    said = f"the past {unit}" if count == 1 else f"the last {count} {unit}s"
    return DateRange(start, end, said)


def _month(which: str | None, month: int, year: str | None, today: date) -> DateRange | None:
    if year is None:
        return _recent_month(which, month, today)
    if which is not None or not _plausible(int(year)):
        return None
    start = date(int(year), month, 1)
    return DateRange(start, _add_months(start, 1), _month_name(start))


def _recent_month(which: str | None, month: int, today: date) -> DateRange:
    """The month of that name that has started (or, for "last", that has ended) most recently."""
    start = date(today.year, month, 1)
    if start > today:
        start = date(today.year - 1, month, 1)
    if which == "last" and _add_months(start, 1) > today:  # the most recent one that has ended
        start = date(start.year - 1, month, 1)
    return DateRange(start, _add_months(start, 1), _month_name(start))


def _season_instance(season: str, year: int, south: bool) -> tuple[date, date]:
    """The days of a season named by `year` (the year of its January when it spans the new year)."""
    first = (_SEASON_START[season] + (6 if south else 0) - 1) % 12 + 1
    start = date(year - 1 if first == 12 else year, first, 1)
    return start, _add_months(start, 3)


def _season(which: str | None, season: str, year: str | None, today: date, south: bool) -> DateRange | None:
    if year is not None:
        if which is not None or not _plausible(int(year)):
            return None
        named = int(year)
    else:
        named = today.year + 1
        while _season_instance(season, named, south)[0] > today:
            named -= 1
        if which == "last" and _season_instance(season, named, south)[1] > today:
            named -= 1
    start, end = _season_instance(season, named, south)
    said = f"{season} {start.year}" if start.year == named else f"{season} {start.year} to {named}"
    return DateRange(start, end, said)


def _holiday(which: str | None, name: str, year: str | None, today: date) -> DateRange | None:
    month, day, length, said = _HOLIDAYS[name]
    if year is not None:
        if which is not None or not _plausible(int(year)):
            return None
        start = date(int(year), month, day)
    else:
        start = date(today.year, month, day)
        if start > today:
            start = date(today.year - 1, month, day)
        if which == "last" and start + timedelta(days=length) > today:
            start = date(start.year - 1, month, day)
    return DateRange(start, start + timedelta(days=length), f"{said} {start.year}")


def _months_between(
    first: str, first_year: str | None, last: str, last_year: str | None, today: date
) -> DateRange | None:
    m1, m2 = _MONTH_WORDS[first], _MONTH_WORDS[last]
    if last_year is not None:
        y2 = int(last_year)
        y1 = int(first_year) if first_year is not None else (y2 if m1 <= m2 else y2 - 1)
        if not (_plausible(y1) and _plausible(y2)):
            return None
        start, last_month = date(y1, m1, 1), date(y2, m2, 1)
    elif first_year is not None:
        y1 = int(first_year)
        if not _plausible(y1):
            return None
        start = date(y1, m1, 1)
        last_month = date(y1 if m1 <= m2 else y1 + 1, m2, 1)
    else:
        start = _recent_month(None, m1, today).start  # the most recent that has started
        last_month = date(start.year if m1 <= m2 else start.year + 1, m2, 1)
    if last_month < start:
        return None
    if start.year == last_month.year:
        said = f"{MONTHS[m1 - 1].capitalize()} to {_month_name(last_month)}"
    else:
        said = f"{_month_name(start)} to {_month_name(last_month)}"
    return DateRange(start, _add_months(last_month, 1), said)
