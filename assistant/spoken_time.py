"""Times as people say them: "half past six tomorrow", "in twenty minutes", "next Friday at noon",
"at 7:45 pm", "weekdays at seven", "every Sunday at nine".

`parse_when` turns such a phrase into a `When`: one moment, or a weekly recurrence at a local wall
time. Local times are resolved in a named time zone with zoneinfo, so daylight-saving changes are
handled: a time that does not exist on the day the clocks go forward moves forward by the gap, and a
time that happens twice when they go back is taken the first time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from assistant.understanding.numbers import UNIT_SECONDS, find_numbers

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY_DAY = frozenset(range(7))
_WEEKDAY_SET = {"weekday": frozenset(range(5)), "weekdays": frozenset(range(5)),
                "weekend": frozenset({5, 6}), "weekends": frozenset({5, 6})}


class TimeNotUnderstood(ValueError):
    """The phrase holds no time we can be sure of; the message says what was missing."""


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
    if aware.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None) != naive:
        gap = aware.replace(fold=1).utcoffset() - aware.utcoffset()  # type: ignore[operator]
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


def parse_when(text: str, now: dt.datetime, zone: ZoneInfo) -> When:
    """The moment or recurrence `text` names, relative to `now` (aware). Raises TimeNotUnderstood."""
    words = _words(text)
    if not words:
        raise TimeNotUnderstood("no time was given")
    relative = _relative(words)
    if relative is not None:
        return When(at=now + relative)
    clock = _clock(words)
    weekdays = _recurring_days(words)
    if weekdays is not None:
        if clock is None:
            raise TimeNotUnderstood("a repeating time needs a time of day")
        return When(recurrence=Recurrence(clock[0], clock[1], weekdays))
    local_now = now.astimezone(zone)
    day = _day(words, local_now.date())
    if clock is None:
        raise TimeNotUnderstood("no time of day was given")
    hour, minute = clock
    if day is None:
        at = local_time(local_now.date(), hour, minute, zone)
        if _passed(at, now) and not _said_am_pm(words) and hour < 12:
            at = local_time(local_now.date(), hour + 12, minute, zone)  # "at seven" at 3 pm means 7 pm
        if _passed(at, now):
            at = local_time(local_now.date() + dt.timedelta(days=1), hour, minute, zone)
        return When(at=at)
    date, roll = day
    if "tonight" in words and hour < 12:
        date += dt.timedelta(days=1)  # "2 am tonight", "midnight tonight": the small hours after today
    at = local_time(date, hour, minute, zone)
    if _passed(at, now):
        if not roll:
            raise TimeNotUnderstood(f"{spoken_clock(hour, minute)} {'today' if date == local_now.date() else 'then'} has already passed")
        at = local_time(date + dt.timedelta(days=roll), hour, minute, zone)
    return When(at=at)


def _passed(at: dt.datetime, now: dt.datetime) -> bool:
    return at.timestamp() <= now.timestamp()


def _words(text: str) -> list[str]:
    text = text.lower().replace("-", " ")
    text = re.sub(r"(\d)(am|pm|a\.m\.|p\.m\.)", r"\1 \2", text)
    text = text.replace("a.m.", "am").replace("p.m.", "pm").replace("o'clock", "oclock")
    return re.findall(r"\d+:\d+|[a-z]+|\d+\.\d+|\d+", text)


def _numbers(words: list[str]) -> list[tuple[int, int, int]]:
    return [(s.start, s.end, s.value) for s in find_numbers(words)]


def _relative(words: list[str]) -> dt.timedelta | None:
    """ "in twenty minutes", "in an hour and a half", "in 2 hours 30 minutes"."""
    if "in" in words:
        rest = words[words.index("in") + 1:]
    elif (words[0] in ("a", "an", "half") or find_numbers(words[:1])) and not {"past", "to", "before", "after"} & set(words):
        rest = words  # "20 minutes", as a template's wildcard catches "remind me in 20 minutes"
    else:
        return None
    total = 0.0
    numbers = {start: (end, value) for start, end, value in _numbers(rest)}
    i = 0
    amount: float
    while i < len(rest):
        if re.fullmatch(r"\d+\.\d+", rest[i]):
            end, amount = i + 1, float(rest[i])  # "in 1.5 hours"
        elif i in numbers:
            end, value = numbers[i]
            amount = value
        elif rest[i] in ("a", "an", "one"):
            end, amount = i + 1, 1
        elif rest[i] == "half" and i + 2 < len(rest) and rest[i + 1] in ("a", "an"):
            end, amount = i + 2, 0.5
        else:
            i += 1
            continue
        if end < len(rest) and rest[end] == "half":  # "an hour and a half" is handled below
            end += 1
        unit = rest[end].removesuffix("s") if end < len(rest) else ""
        if unit in UNIT_SECONDS:
            total += amount * UNIT_SECONDS[unit]
            if rest[end + 1:end + 4] == ["and", "a", "half"]:
                total += 0.5 * UNIT_SECONDS[unit]
                end += 3
            i = end + 1
        else:
            i += 1
    return dt.timedelta(seconds=total) if total > 0 else None


def _said_am_pm(words: list[str]) -> bool:
    return bool({"am", "pm", "morning", "afternoon", "evening", "tonight", "night", "noon", "midnight"} & set(words)) \
        or any(":" in w and (int(w.split(":")[0]) >= 13 or w.startswith("0")) for w in words)


def _clock(words: list[str]) -> tuple[int, int] | None:
    """The time of day the words name, 24-hour."""
    hour: int | None = None
    minute = 0
    if "noon" in words or "midday" in words:
        hour = 12
    elif "midnight" in words:
        hour = 0
    for w in words:
        if ":" in w:
            h, m = (int(x) for x in w.split(":"))
            if 0 <= h < 24 and 0 <= m < 60:
                hour, minute = h, m
    if hour is None:
        hour, minute = _spoken_clock(words) or (None, 0)  # type: ignore[assignment]
    if hour is None:
        return None
    if "pm" in words or ({"afternoon", "evening", "tonight"} & set(words) and "am" not in words and "midnight" not in words):
        if 0 < hour < 12:
            hour += 12
    elif ("am" in words or "morning" in words) and hour == 12:
        hour = 0
    elif "night" in words and 6 <= hour < 12:
        hour += 12
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise TimeNotUnderstood(f"{hour}:{minute:02d} is not a time of day")
    return hour, minute


def _spoken_clock(words: list[str]) -> tuple[int, int] | None:
    """ "half past six", "quarter to eight", "ten past nine", "seven thirty", "at 7", "6 am"."""
    numbers = _numbers(words)
    for k, (start, end, value) in enumerate(numbers):
        before = words[start - 1] if start else ""
        after = words[end] if end < len(words) else ""
        joiner = words[end + 1] if after.startswith("minute") and end + 1 < len(words) else after
        if joiner in ("past", "after") and k + 1 < len(numbers) and value < 60:
            return numbers[k + 1][2] % 24, value  # "ten (minutes) past nine"
        if joiner in ("to", "till", "before") and k + 1 < len(numbers) and value < 60:
            return (numbers[k + 1][2] - 1) % 24, 60 - value  # "ten (minutes) to eight"
        if after.removesuffix("s") in UNIT_SECONDS:
            continue  # a duration or a count, not a clock time
        if before == "past" or before == "to":
            continue  # the hour of "half past six", taken above
        if value > 24:
            continue
        if k + 1 < len(numbers) and numbers[k + 1][0] == end and numbers[k + 1][2] < 60:
            return value, numbers[k + 1][2]  # "seven thirty", "7 45"
        if before in ("at", "for", "by", "until", "till") or after in ("am", "pm", "oclock", "in", "tomorrow", "today",
                                                                     "tonight", "on", "every", "") or before in WEEKDAYS:
            return value, 0
    for i, w in enumerate(words):
        if w in ("half", "quarter") and i + 2 < len(words) and words[i + 1] in ("past", "to"):
            rest = find_numbers(words[i + 2:])
            if rest and rest[0].start == 0:
                h = rest[0].value
                m = 30 if w == "half" else 15
                return (h % 24, m) if words[i + 1] == "past" else ((h - 1) % 24, 60 - m)
    return None


def _recurring_days(words: list[str]) -> frozenset[int] | None:
    """The weekdays of a repeating time, or None for a one-off."""
    present = set(words)
    for word, days in _WEEKDAY_SET.items():
        if word in present and ("every" in present or word.endswith("s") or "on" in present):
            return days
    if "daily" in present or ("every" in present and ({"day", "morning", "night", "evening"} & present)):
        return EVERY_DAY
    if "every" in present or any(w.endswith("s") and w.removesuffix("s") in WEEKDAYS for w in words):
        days = frozenset(WEEKDAYS.index(w.removesuffix("s")) for w in words if w.removesuffix("s") in WEEKDAYS)
        return days or None
    return None


def _day(words: list[str], today: dt.date) -> tuple[dt.date, int] | None:
    """The day the words name and how far to move it if its time has already passed (days)."""
    if "today" in words or "tonight" in words:
        return today, 0
    if "tomorrow" in words:
        after = " ".join(words).count("after tomorrow")
        return today + dt.timedelta(days=1 + after), 0
    for i, w in enumerate(words):
        if w in WEEKDAYS:
            ahead = (WEEKDAYS.index(w) - today.weekday()) % 7
            if i > 0 and words[i - 1] == "next":
                return today + dt.timedelta(days=ahead or 7), 0
            return today + dt.timedelta(days=ahead), 7  # "Friday at nine" on a Friday: today, if still ahead
    return None
