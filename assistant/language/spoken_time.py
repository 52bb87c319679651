"""Times as people say them and as speech-to-text writes them: "half past six tomorrow", "in twenty
minutes", "next Friday at noon", "at 7:45 p.m.", "7.45 in the evening", "745 pm", "December 24th at 8
am", "the first of January at nine", "on the 24th", "in 2 days at 9", "weekdays at seven".

`parse_when` turns such a phrase into a `When`: one moment, or a weekly recurrence at a local wall
time. Local times are resolved in a named time zone with zoneinfo, so daylight-saving changes are
handled: a time that does not exist on the day the clocks go forward moves forward by the gap, and a
time that happens twice when they go back is taken the first time.

Nothing said is dropped: every word of the phrase must be read as part of the time, or be a word that
adds nothing ("at", "the", "please"); any other word makes `parse_when` refuse the phrase, naming
those words ("I couldn't understand the date 'the blorpth'"), rather than set a time the person did
not say.

Choices where people are vague:

* A time without AM or PM that has already passed today is the evening ("at seven" at 3 PM); a day
  that was named keeps the hour as said ("tomorrow at 7" is 7 AM).
* "7.45" and "6.30" are clock times (Whisper writes them so); "745" and "1230" are 7:45 and 12:30
  after "at" or before "am", "pm", "o'clock" or a part of the day, never before a unit ("in 90 minutes").
* A date without a year is the next one: "December 24th" said on December 25th is next year's. "The
  24th" is the next 24th of a month; if its time has passed today, next month's. "Friday" is the
  coming Friday, today included if its time is still ahead.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from assistant.language.numbers import UNIT_SECONDS, NumberSpan, find_numbers

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
EVERY_DAY = frozenset(range(7))
_WEEKDAY_SET = {
    "weekday": frozenset(range(5)),
    "weekdays": frozenset(range(5)),
    "weekend": frozenset({5, 6}),
    "weekends": frozenset({5, 6}),
}
_MONTH_WORDS = (
    {m: i + 1 for i, m in enumerate(MONTHS)} | {m[:3]: i + 1 for i, m in enumerate(MONTHS) if m != "may"} | {"sept": 9}
)
_ORDINALS = {
    w: i + 1
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
        "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()
    )
} | {"thirtieth": 30}
_UNIT_ALIASES = {"min": "minute", "mins": "minute", "sec": "second", "secs": "second", "hr": "hour", "hrs": "hour"}
_PAST = frozenset({"past", "after"})
_TO = frozenset({"to", "till", "til", "before", "of"})
_PARTS_OF_DAY = frozenset({"morning", "afternoon", "evening", "night", "tonight"})
_FILLER = frozenset(
    "at on in the for by of a an and this from now later to around about approximately exactly sharp please "
    "thanks thank you okay ok um uh so then time".split()
)
"""Words that add nothing to a time: said around it, or left by a template's wildcard."""


class TimeNotUnderstood(ValueError):
    """The phrase holds no time we can be sure of; the message says what was missing or not understood."""


@dataclass(frozen=True)
class Recurrence:
    """Every one of `weekdays` (0 = Monday) at hour:minute local time."""

    hour: int
    minute: int
    weekdays: frozenset[int] = EVERY_DAY

    def next_after(self, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
        """The first occurrence strictly after `after` (aware), as an aware time in `zone`."""
        local = after.astimezone(zone)
        for days in range(8):
            day = local.date() + dt.timedelta(days=days)
            if day.weekday() not in self.weekdays:
                continue
            candidate = local_time(day, self.hour, self.minute, zone)
            if candidate.timestamp() > after.timestamp():  # instants: the repeated hour of a fall-back
                return candidate
        raise AssertionError("a weekly recurrence always has a next occurrence")

    def describe(self) -> str:
        at = spoken_clock(self.hour, self.minute)
        if self.weekdays == EVERY_DAY:
            return f"every day at {at}"
        if self.weekdays == _WEEKDAY_SET["weekdays"]:
            return f"weekdays at {at}"
        if self.weekdays == _WEEKDAY_SET["weekends"]:
            return f"weekends at {at}"
        days = [WEEKDAYS[d].capitalize() for d in sorted(self.weekdays)]
        return f"every {' and '.join(days)} at {at}"


@dataclass(frozen=True)
class When:
    at: dt.datetime | None = None
    """One moment (aware), for a one-off."""
    recurrence: Recurrence | None = None
    """A weekly rule, for a recurring alarm."""

    def first(self, now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
        if self.recurrence is not None:
            return self.recurrence.next_after(now, zone)
        assert self.at is not None
        return self.at


def local_zone() -> ZoneInfo:
    """The machine's time zone as a named zone (so daylight saving is known): $TZ, else what
    /etc/localtime links to, else /etc/timezone, else UTC."""
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    try:
        candidates.append(str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[1])
    except (OSError, IndexError):
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for key in candidates:
        if key:
            try:
                return ZoneInfo(key)
            except (ValueError, OSError):
                continue
    return ZoneInfo("UTC")


def local_time(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    """hour:minute on `day` in `zone`, made real across daylight-saving changes."""
    naive = dt.datetime.combine(day, dt.time(hour, minute))
    aware = naive.replace(tzinfo=zone, fold=0)
    # A wall time inside the spring-forward gap does not survive a round trip through UTC.
    if aware.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        after, before = aware.replace(fold=1).utcoffset(), aware.utcoffset()
        assert after is not None and before is not None  # a ZoneInfo always knows its offset
        gap = after - before
        return (naive.replace(tzinfo=zone, fold=1) + abs(gap)).astimezone(zone)
    return aware


def spoken_clock(hour: int, minute: int) -> str:
    """7:45 → "7:45 AM", 12:00 → "noon"."""
    if (hour, minute) == (12, 0):
        return "noon"
    if (hour, minute) == (0, 0):
        return "midnight"
    suffix = "AM" if hour < 12 else "PM"
    h = hour % 12 or 12
    return f"{h} {suffix}" if minute == 0 else f"{h}:{minute:02d} {suffix}"


def spoken_date(day: dt.date, today: dt.date) -> str:
    """ "Thursday 24 December"; the year too when it is not plain which one is meant (half a year or
    more ahead, or another year in the past)."""
    said = f"{day:%A} {day.day} {day:%B}"
    if (day - today).days >= 183 or (day < today and day.year != today.year):
        said += f" {day.year}"
    return said


def spoken_moment(at: dt.datetime, now: dt.datetime) -> str:
    """ "7 AM", "7 AM tomorrow", "Thursday 24 December at 8 AM": any day but today and tomorrow is
    said with its date, so the person hears which day was understood."""
    clock = spoken_clock(at.hour, at.minute)
    days = (at.date() - now.date()).days
    if days == 0:
        return f"{clock} today" if at.hour >= 12 or now.hour >= 12 else clock
    if days == 1:
        return f"{clock} tomorrow"
    return f"{spoken_date(at.date(), now.date())} at {clock}"


def said_when(at: dt.datetime, now: dt.datetime) -> str:
    """`spoken_moment` after its preposition: "at 7 AM tomorrow", "on Thursday 24 December at 8 AM"."""
    days = (at.date() - now.date()).days
    return f"{'at' if days in (0, 1) else 'on'} {spoken_moment(at, now)}"


def parse_when(text: str, now: dt.datetime, zone: ZoneInfo) -> When:
    """The moment or recurrence `text` names, relative to `now` (aware). Raises TimeNotUnderstood
    when a time is missing, impossible, or when words of `text` could not be read as part of it."""
    today = now.astimezone(zone).date()
    said = _read(text, today)
    if said.weekdays is not None:
        if said.day is not None or said.days_later or said.seconds:
            raise TimeNotUnderstood("a repeating time cannot also have a date")
        if said.clock is None:
            raise TimeNotUnderstood("a repeating time needs a time of day")
        return When(recurrence=Recurrence(*said.hour_minute(), said.weekdays))
    if said.seconds:
        if said.clock is not None or said.day is not None:
            raise TimeNotUnderstood("a time from now cannot also have a time of day or a day")
        return When(at=now + dt.timedelta(days=said.days_later, seconds=said.seconds))
    if said.clock is None:
        if said.days_later and said.day is None:
            return When(at=now + dt.timedelta(days=said.days_later))  # "in 2 days": this time then
        raise TimeNotUnderstood("no time of day was given")
    hour, minute = said.hour_minute()
    if said.day is None and not said.days_later:
        at = local_time(today, hour, minute, zone)
        if _passed(at, now) and not said.explicit_half_of_day() and hour < 12:
            at = local_time(today, hour + 12, minute, zone)  # "at seven" at 3 PM means 7 PM
        if _passed(at, now):
            at = local_time(today + dt.timedelta(days=1), hour, minute, zone)
        return When(at=at)
    day = said.day or _Day(today, "none")
    date = day.date + dt.timedelta(days=said.days_later)
    if "tonight" in said.parts and hour < 12:
        date += dt.timedelta(days=1)  # "2 am tonight", "midnight tonight": the small hours after today
    at = local_time(date, hour, minute, zone)
    tries = 0
    while _passed(at, now):
        date = _roll(date, day.roll, today, spoken_clock(hour, minute))
        at = local_time(date, hour, minute, zone)
        tries += 1
        assert tries < 100, "a date rolls forward to the future"
    return When(at=at)


def parse_day(text: str, now: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The day `text` names without a time of day ("tomorrow", "December 24th", "next Friday").
    Raises TimeNotUnderstood when it names no day, or more than a day."""
    today = now.astimezone(zone).date()
    said = _read(text, today)
    if said.clock is not None or said.seconds or said.weekdays is not None:
        raise TimeNotUnderstood("that is more than a day")
    if said.day is None and not said.days_later:
        raise TimeNotUnderstood("no day was given")
    return (said.day.date if said.day else today) + dt.timedelta(days=said.days_later)


def names_only_a_day(text: str) -> bool:
    """Whether every word of `text` belongs to a day ("on the first of January", "tomorrow morning",
    "next Friday", "in 2 days"), with no time of day: words a template's wildcard may have left in a
    reminder's text."""
    try:
        said = _read(text, dt.date(2000, 1, 1))
    except TimeNotUnderstood:
        return False
    return (
        said.clock is None
        and not said.seconds
        and said.weekdays is None
        and (said.day is not None or bool(said.days_later) or bool(said.parts))
    )


def _passed(at: dt.datetime, now: dt.datetime) -> bool:
    return at.timestamp() <= now.timestamp()


def _roll(date: dt.date, roll: str, today: dt.date, clock: str) -> dt.date:
    """The next day after `date` that fits what was said, once its time has passed."""
    if roll == "week":
        return date + dt.timedelta(days=7)
    if roll == "month":
        return _next_day_of_month(date.day, date + dt.timedelta(days=1))
    where = "today" if date == today else f"on {spoken_date(date, today)}"
    raise TimeNotUnderstood(f"{clock} {where} has already passed")


def _next_day_of_month(day: int, start: dt.date) -> dt.date:
    """The first date on or after `start` whose day of the month is `day` (a month without it is skipped)."""
    year, month = start.year, start.month
    for _ in range(13):
        if day <= calendar.monthrange(year, month)[1] and dt.date(year, month, day) >= start:
            return dt.date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise TimeNotUnderstood(f"no month has a day {day}")


# Reading the words -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Day:
    date: dt.date
    roll: str
    """How to move on when its time has passed: "none" (refuse), "week", "month"."""
    weekday: int | None = None
    """A weekday that was named, to check against a date that was also named."""


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    explicit: bool
    """Said in a way that fixes the half of the day: "noon", "19:30", "07.15"."""


@dataclass
class _Said:
    """What a phrase says, and which of its words have been read."""

    words: list[str]
    used: set[int] = field(default_factory=set)
    day: _Day | None = None
    clock: _Clock | None = None
    weekdays: frozenset[int] | None = None
    days_later: int = 0
    seconds: float = 0.0
    meridiem: str = ""
    parts: frozenset[str] = frozenset()

    def free(self, i: int) -> bool:
        return 0 <= i < len(self.words) and i not in self.used

    def word(self, i: int) -> str:
        return self.words[i] if self.free(i) else ""

    def take(self, indices: Iterable[int]) -> None:
        self.used.update(indices)

    def numbers(self) -> dict[int, NumberSpan]:
        """Unread numbers by their first word."""
        return {s.start: s for s in find_numbers(self.words) if all(self.free(i) for i in range(s.start, s.end))}

    def explicit_half_of_day(self) -> bool:
        return bool(self.meridiem or self.parts) or (
            self.clock is not None and (self.clock.explicit or self.clock.hour >= 13)
        )

    def hour_minute(self) -> tuple[int, int]:
        """The clock time, 24-hour, with AM, PM and the part of the day applied."""
        assert self.clock is not None
        hour, minute = self.clock.hour, self.clock.minute
        if self.meridiem == "pm":
            if hour > 12 and not self.clock.explicit:
                raise TimeNotUnderstood(f"{hour} PM is not a time of day")
            hour += 12 if 1 <= hour < 12 else 0
        elif self.meridiem == "am":
            if hour > 12:
                raise TimeNotUnderstood(f"{hour} AM is not a time of day")
            hour = 0 if hour == 12 else hour
        elif not self.clock.explicit:
            if {"afternoon", "evening", "tonight"} & self.parts and 1 <= hour < 12:
                hour += 12
            elif {"night", "tonight"} & self.parts and hour == 12:
                hour = 0  # "twelve at night", "twelve tonight"
            elif "night" in self.parts and 6 <= hour < 12:
                hour += 12
            elif "morning" in self.parts and hour == 12:
                hour = 0
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise TimeNotUnderstood(f"{hour}:{minute:02d} is not a time of day")
        return hour, minute


def _words(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    text = re.sub(
        r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?:t(?=\d))?",  # ISO dates, as an LLM may write them
        lambda m: f" {m[3]} {MONTHS[int(m[2]) - 1] if 1 <= int(m[2]) <= 12 else 'month' + m[2]} {m[1]} ",
        text,
    )
    text = text.replace("-", " ")
    text = re.sub(r"(?<![a-z])([ap])\s?\.\s?m(?![a-z])\.?", r"\1m", text)  # "p.m.", "a. m."
    text = re.sub(r"(\d)([ap]m)\b", r"\1 \2", text)
    text = text.replace("o'clock", "oclock").replace("'", "")
    return re.findall(r"\d+:\d+|\d+\.\d+|\d+(?:st|nd|rd|th)\b|\d+|[a-z]+", text)


def _read(text: str, today: dt.date) -> _Said:
    words = _words(text)
    if not words:
        raise TimeNotUnderstood("no time was given")
    said = _Said(words)
    days = [d for d in (_holiday(said, today), _calendar_date(said, today), _named_day(said, today)) if d is not None]
    said.weekdays = _recurring_days(said)
    if said.weekdays is None and (weekday := _weekday(said, today)) is not None:
        days.append(weekday)
    said.day = _one_day(days, today)
    said.clock = _clock(said)
    _duration(said)
    meridiem = {w for i, w in enumerate(words) if said.free(i) and w in ("am", "pm")}
    if len(meridiem) > 1:
        raise TimeNotUnderstood("both AM and PM were said")
    said.meridiem = next(iter(meridiem), "")
    said.parts = frozenset(w for i, w in enumerate(words) if said.free(i) and w in _PARTS_OF_DAY)
    said.take(i for i, w in enumerate(words) if w in ("am", "pm") or w in _PARTS_OF_DAY)
    _refuse_leftovers(said)
    return said


def _one_day(days: list[_Day], today: dt.date) -> _Day | None:
    """The day named, when a date, "tomorrow" and a weekday were said together and agree."""
    if not days:
        return None
    first = days[0]
    for other in days[1:]:
        if other.weekday is not None and first.date.weekday() != other.weekday:
            raise TimeNotUnderstood(f"{spoken_date(first.date, today)} is not a {WEEKDAYS[other.weekday].capitalize()}")
        if other.weekday is None and other.date != first.date:
            raise TimeNotUnderstood(
                f"{spoken_date(first.date, today)} and {spoken_date(other.date, today)} are different days"
            )
    return first


def _ordinal(said: _Said, i: int) -> tuple[int, int] | None:
    """A day of the month said as an ordinal at word i: "24th", "first", "twenty fourth"; (day, end)."""
    w = said.word(i)
    if m := re.fullmatch(r"(\d+)(?:st|nd|rd|th)", w):
        return int(m[1]), i + 1
    if w in ("twenty", "thirty") and (unit := _ORDINALS.get(said.word(i + 1), 0)) and unit < 10:
        return (20 if w == "twenty" else 30) + unit, i + 2
    if w in _ORDINALS:
        return _ORDINALS[w], i + 1
    return None


def _day_number(said: _Said, i: int, numbers: dict[int, NumberSpan]) -> tuple[int, int] | None:
    """A day of the month at word i, as an ordinal or a plain number ("December 24"); (day, end)."""
    if found := _ordinal(said, i):
        return found
    span = numbers.get(i)
    if span is not None and 1 <= span.value <= 31 and said.word(span.end) not in ("am", "pm", "oclock"):
        return span.value, span.end
    return None


def _calendar_date(said: _Said, today: dt.date) -> _Day | None:
    """ "December 24th", "24th of December", "the first of January 2027", "december twenty four",
    "the 24th", "on the first"."""
    words, numbers = said.words, said.numbers()
    for i, w in enumerate(words):
        if w not in _MONTH_WORDS or not said.free(i):
            continue
        month = _MONTH_WORDS[w]
        after = i + 1 + (said.word(i + 1) == "the")
        if found := _day_number(said, after, numbers):
            day, end = found
            said.take(range(i, end))
        else:
            before = i - 1 - (said.word(i - 1) == "of")
            start = next(
                (k for k in (before - 1, before) if (f := _day_number(said, k, numbers)) and f[1] == before + 1), None
            )
            if start is None:
                continue  # a month without a day is left unread, and refused
            day, _ = _day_number(said, start, numbers)  # type: ignore[misc]
            said.take(range(start, i + 1))
            end = i + 1
        year = None
        if (span := numbers.get(end)) is not None and 1900 <= span.value <= 2199 and span.end == end + 1:
            year = span.value
            said.take([end])
        return _dated(today, month, day, year)
    for i, w in enumerate(words):
        # a day of the month alone: a digit ordinal, a word ordinal ("on the first"), "on the 24"
        if not said.free(i):
            continue
        found = _ordinal(said, i)
        if found is None and said.word(i - 1) == "the" and said.word(i - 2) == "on" and (span := numbers.get(i)):
            found = span.value, span.end
        if found and (w[0].isdigit() or i == 0 or said.word(i - 1) in ("the", "on")):  # a template drops "the"
            day, end = found
            said.take(range(i, end))
            if not 1 <= day <= 31:
                raise TimeNotUnderstood(f"no month has a day {day}")
            return _Day(_next_day_of_month(day, today), "month")
    return None


def _dated(today: dt.date, month: int, day: int, year: int | None) -> _Day:
    name = MONTHS[month - 1].capitalize()
    try:
        date = dt.date(year or today.year, month, day)
    except ValueError:
        raise TimeNotUnderstood(f"there is no {day} {name}{f' {year}' if year else ''}") from None
    if year is None and date < today:
        for ahead in range(1, 9):  # next year's; 29 February: the next leap year's
            try:
                date = dt.date(today.year + ahead, month, day)
                break
            except ValueError:
                continue
    return _Day(date, "none")


_HOLIDAYS = {
    ("new", "years", "day"): (1, 1),
    ("new", "years", "eve"): (12, 31),
    ("new", "year", "day"): (1, 1),
    ("christmas", "eve"): (12, 24),
    ("christmas", "day"): (12, 25),
    ("christmas",): (12, 25),
    ("boxing", "day"): (12, 26),
    ("halloween",): (10, 31),
    ("valentines", "day"): (2, 14),
}
"""Days of the year said by their name ("new year's day" is written "new years day" by then)."""


def _holiday(said: _Said, today: dt.date) -> _Day | None:
    """ "new year's day", "christmas eve", "boxing day": the next one, today's included."""
    words = said.words
    for i in range(len(words)):
        for name in sorted(_HOLIDAYS, key=len, reverse=True):  # "christmas eve" before "christmas"
            span = range(i, i + len(name))
            if tuple(said.word(k) for k in span) == name:
                said.take(span)
                month, day = _HOLIDAYS[name]
                return _dated(today, month, day, None)
    return None


def _named_day(said: _Said, today: dt.date) -> _Day | None:
    """ "today", "tonight", "this morning", "tomorrow", "the day after tomorrow"."""
    words = said.words
    for i, w in enumerate(words):
        if not said.free(i):
            continue
        if w == "tomorrow":
            if said.word(i - 1) == "after" and said.word(i - 2) == "day":
                said.take(range(i - 2, i + 1))
                return _Day(today + dt.timedelta(days=2), "none")
            said.take([i])
            return _Day(today + dt.timedelta(days=1), "none")
        if w in ("today", "tonight") or (w == "this" and said.word(i + 1) in _PARTS_OF_DAY):
            said.take([i] if w == "today" else [])  # "tonight" and "morning" also tell the half of the day
            return _Day(today, "none")
    return None


def _weekday(said: _Said, today: dt.date) -> _Day | None:
    """ "Friday" (the coming one, today included while its time is ahead), "next Friday"."""
    for i, w in enumerate(said.words):
        if w in WEEKDAYS and said.free(i):
            index = WEEKDAYS.index(w)
            ahead = (index - today.weekday()) % 7
            if said.word(i - 1) == "next":
                said.take([i - 1, i])
                return _Day(today + dt.timedelta(days=ahead or 7), "none", index)
            said.take([i])
            return _Day(today + dt.timedelta(days=ahead), "week", index)
    return None


def _recurring_days(said: _Said) -> frozenset[int] | None:
    """The weekdays of a repeating time, or None for a one-off; reads "every", "daily", "weekdays"."""
    words = said.words
    present = {w for i, w in enumerate(words) if said.free(i)}

    def take(*names: str) -> None:
        said.take(i for i, w in enumerate(words) if w in names and said.free(i))

    for word, days in _WEEKDAY_SET.items():
        if word in present and ("every" in present or word.endswith("s") or "on" in present):
            take(word, "every")
            return days
    if "daily" in present or ("every" in present and ({"day", "morning", "night", "evening"} & present)):
        take("daily", "every", "day")
        return EVERY_DAY
    if "every" in present or any(w.endswith("s") and w.removesuffix("s") in WEEKDAYS for w in present):
        named = [w for w in present if w.removesuffix("s") in WEEKDAYS]
        if not named:
            return None
        take("every", *named)
        return frozenset(WEEKDAYS.index(w.removesuffix("s")) for w in named)
    return None


def _unit(word: str) -> str | None:
    unit = _UNIT_ALIASES.get(word, word).removesuffix("s")
    return unit if unit in UNIT_SECONDS else None


def _clock(said: _Said) -> _Clock | None:
    """The time of day the words name, as said (before AM and PM are applied)."""
    words, numbers = said.words, said.numbers()

    def hour_at(j: int) -> tuple[int, int, bool] | None:
        if said.word(j) in ("noon", "midday"):
            return 12, j + 1, True
        if said.word(j) == "midnight":
            return 0, j + 1, True
        span = numbers.get(j)
        if span is not None and span.value <= 24 and _unit(said.word(span.end)) is None:
            return span.value % 24, span.end, False
        return None

    def found(start: int, end: int, hour: int, minute: int, explicit: bool = False) -> _Clock:
        said.take(range(start, end + (said.word(end) == "oclock")))
        return _Clock(hour, minute, explicit)

    # "half past six", "quarter to eight", "ten (minutes) past nine", "twenty to midnight"
    for i, w in enumerate(words):
        if not said.free(i):
            continue
        if w in ("half", "quarter"):
            minutes, j = (30 if w == "half" else 15), i + 1
        elif (span := numbers.get(i)) is not None and span.value < 60:
            minutes, j = span.value, span.end + (_unit(said.word(span.end)) == "minute")
        else:
            continue
        joiner = said.word(j)
        if (joiner in _PAST or (joiner in _TO and not (w == "half" and joiner == "to"))) and (h := hour_at(j + 1)):
            hour, end, explicit = h
            if joiner in _PAST:
                return found(i, end, hour, minutes, explicit)
            before = 12 if hour == 1 and not explicit else (hour - 1) % 24  # "quarter to one" is 12:45 on the dial
            return found(i, end, before, 60 - minutes, explicit)
    for i, w in enumerate(words):
        if not said.free(i):
            continue
        if w in ("noon", "midday", "midnight"):
            start = i - 1 if (s := numbers.get(i - 1)) is not None and s.value == 12 else i  # "12 noon"
            return found(start, i + 1, 12 if w != "midnight" else 0, 0, explicit=True)
        if m := re.fullmatch(r"(\d{1,2})[:.](\d{2})", w):  # "7:45", and "7.45" as Whisper writes a clock time
            if "." in w and _unit(said.word(i + 1)) is not None:
                continue  # "1.50 hours"
            hour, minute = int(m[1]), int(m[2])
            if not (hour < 24 and minute < 60):
                raise TimeNotUnderstood(f"{w.replace('.', ':')} is not a time of day")
            return found(i, i + 1, hour, minute, explicit=hour >= 13 or w.startswith("0"))
    parts = any(w in _PARTS_OF_DAY for w in words)
    for i, w in enumerate(words):
        span = numbers.get(i)
        if span is None:
            continue
        after = said.word(span.end)
        military = (span.end - span.start > 1 and words[span.end - 1] == "hundred") or (
            re.fullmatch(r"\d{4}", w) is not None and after == "hours"
        )  # "nineteen hundred (hours)", "0730 hours"
        if (
            military
            and 0 < span.value // 100 < 24
            and span.value % 100 < 60
            and after in ("hours", "", "on", "at")
            and "in" not in words[max(0, i - 2) : i]
        ):
            return found(i, span.end + (after == "hours"), span.value // 100, span.value % 100, explicit=True)
        if _unit(after) is not None or (
            after == "and"
            and said.word(span.end + 1) == "a"
            and said.word(span.end + 2) == "half"
            and _unit(said.word(span.end + 3))
        ):
            continue  # a duration, read later
        if (
            re.fullmatch(r"\d{3,4}", w)
            and span.value % 100 < 60
            and span.value // 100 < 24
            and (
                after in ("am", "pm", "oclock") or parts or said.word(i - 1) in ("at", "by", "until", "till", "around")
            )
        ):
            return found(
                i, i + 1, span.value // 100, span.value % 100, explicit=w.startswith("0") or span.value >= 1300
            )
        if span.value > 24:
            if after == "oclock" or said.word(i - 1) in ("at", "by") and after in ("am", "pm"):
                unit = "o'clock" if after == "oclock" else after.upper()
                raise TimeNotUnderstood(f"{span.value} {unit} is not a time of day")
            continue
        nxt = numbers.get(span.end)
        if nxt is not None and nxt.value < 60 and _unit(said.word(nxt.end)) is None and span.value < 24:
            return found(i, nxt.end, span.value, nxt.value)  # "seven thirty", "7 45"
        if after in ("oh", "o") and (nxt := numbers.get(span.end + 1)) is not None and nxt.value < 10:
            return found(i, nxt.end, span.value, nxt.value)  # "seven oh five"
        if span.value < 24:
            return found(i, span.end, span.value, 0, explicit=span.value >= 13)
    return None


def _duration(said: _Said) -> None:
    """ "in twenty minutes", "in an hour and a half", "half an hour", "in 2 hours 30 minutes", "in 1.5
    hours", "in 2 days": whole days apart (they may go with a time of day), the rest in seconds."""
    words, numbers = said.words, said.numbers()
    i = 0
    while i < len(words):
        amount: float
        if not said.free(i):
            i += 1
            continue
        if re.fullmatch(r"\d+\.\d+", words[i]):
            end, amount = i + 1, float(words[i])
        elif i in numbers:
            end, amount = numbers[i].end, numbers[i].value
        elif words[i] == "half" and said.word(i + 1) in ("a", "an"):
            end, amount = i + 2, 0.5
        elif words[i] in ("a", "an", "one") and said.word(i + 1) == "half":
            end, amount = i + 2, 0.5  # "a half hour"
        elif words[i] in ("a", "an"):
            end, amount = i + 1, 1
        else:
            i += 1
            continue
        if said.word(end) == "and" and said.word(end + 1) == "a" and said.word(end + 2) == "half":
            end, amount = end + 3, amount + 0.5  # "two and a half hours"
        unit = _unit(said.word(end))
        if unit is None or said.word(end + 1) in _PAST | _TO:
            i += 1
            continue
        last = end
        if said.word(end + 1) == "and" and said.word(end + 2) == "a" and said.word(end + 3) == "half":
            amount += 0.5
            last = end + 3
        said.take(range(i, last + 1))
        if unit in ("day", "week") and amount == int(amount):
            said.days_later += int(amount) * UNIT_SECONDS[unit] // 86400
        else:
            said.seconds += amount * UNIT_SECONDS[unit]
        i = last + 1


def _refuse_leftovers(said: _Said) -> None:
    """Raise, naming them, when words were said that are not part of the time."""
    words = said.words
    unread = [i for i in range(len(words)) if said.free(i) and words[i] not in _FILLER]
    if not unread:
        return
    runs: list[list[int]] = []
    for i in unread:
        if runs and all(said.free(k) for k in range(runs[-1][-1] + 1, i)):
            runs[-1].append(i)
        else:
            runs.append([i])
    quoted = []
    for run in runs:
        start, end = run[0], run[-1] + 1
        if said.word(start - 1) in ("the", "next", "this"):
            start -= 1
        lead = said.word(start - 1)
        phrase = " ".join(words[start:end])
        datelike = any(
            w in _MONTH_WORDS or w in _ORDINALS or w[0].isdigit() and w[-1].isalpha() or w in ("week", "month", "year")
            for w in words[start:end]
        )
        kind = "the date " if lead == "on" or datelike else "the time " if lead in ("at", "by") else ""
        quoted.append(f"{kind}'{phrase}'")
    raise TimeNotUnderstood(f"I couldn't understand {' or '.join(quoted)}")
