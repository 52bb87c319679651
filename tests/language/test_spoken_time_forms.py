"""Times, dates and numbers as people say them and as Whisper writes them.

The property tests generate the phrase from the moment: an hour, a minute and a day are written in one
of the ways people say them ("quarter to eight", "seven forty-five p.m.", "the 24th of December") or
Whisper writes them ("7.45 in the evening", "745 pm", "6.30"), and the phrase must read back as that
moment, against a fixed clock in a fixed time zone. Words that are not part of a time are never
dropped: the phrase is refused, naming them."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assistant.language.numbers import find_numbers, respell_numbers
from assistant.language.spoken_time import TimeNotUnderstood, local_time, parse_day, parse_when, spoken_date

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=BERLIN)  # a Tuesday afternoon
TODAY = NOW.date()

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()
)
_MONTHS = "January February March April May June July August September October November December".split()


def spelled(n: int, hyphen: bool = False, joiner: str = " and ", a_hundred: bool = False) -> str:
    """English words for 0 <= n < 1,000,000, in the ways people say them."""
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + (("-" if hyphen else " ") + _UNITS[unit] if unit else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = "a hundred" if hundreds == 1 and a_hundred else f"{_UNITS[hundreds]} hundred"
        return head + (joiner + spelled(rest, hyphen) if rest else "")
    thousands, rest = divmod(n, 1000)
    head = f"{spelled(thousands, hyphen, joiner)} thousand"
    return head + ((joiner if rest < 100 else " ") + spelled(rest, hyphen, joiner) if rest else "")


def ordinal(day: int, style: str) -> str:
    if style == "digits":
        suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        return f"{day}{suffix}"
    if day <= 20:
        return _ORDINALS[day - 1]
    if day == 30:
        return "thirtieth"
    tens, unit = divmod(day, 10)
    return f"{_TENS[tens]}{'-' if style == 'hyphen' else ' '}{_ORDINALS[unit - 1]}"


# The time of day -----------------------------------------------------------------------------------

_PART = {"morning": range(1, 12), "afternoon": range(12, 18), "evening": range(17, 24)}


@st.composite
def clock_phrases(draw: st.DrawFn) -> tuple[str, int, int]:
    """A time of day as a phrase that fixes its half of the day, and (hour, minute) 24-hour."""
    hour = draw(st.integers(0, 23))
    minute = draw(st.sampled_from([0, 5, 10, 15, 20, 30, 40, 45, 59]) | st.integers(0, 59))
    h12 = hour % 12 or 12
    ampm = "am" if hour < 12 else "pm"
    half = draw(st.sampled_from([ampm, ampm.upper(), f"{ampm[0]}.m.", f"{ampm[0].upper()}.M."]))
    parts = [p for p, hours in _PART.items() if hour in hours]
    if parts and draw(st.booleans()):
        half = draw(st.sampled_from([f"in the {p}" for p in parts]))
    forms = [
        f"{h12}:{minute:02d} {half}",  # "7:45 pm", "7:45 p.m."
        f"{h12}.{minute:02d} {half}",  # Whisper: "7.45 in the evening"
        f"{h12}{minute:02d} {half}",  # Whisper: "745 pm"
    ]
    if hour >= 13 or hour < 10:
        forms.append(f"{hour:02d}:{minute:02d}")  # 24-hour: "19:45", "07:05" ("11:00" could be either)
    if half in ("am", "pm"):
        forms.append(f"{h12}:{minute:02d}{half}")  # "7:45pm"
    if minute == 0:
        forms += [f"{h12} {half}", f"{spelled(h12)} o'clock {half}", f"{spelled(h12)} {half}"]
    elif minute >= 10:
        forms.append(f"{spelled(h12)} {spelled(minute, hyphen=draw(st.booleans()))} {half}")  # "seven forty-five pm"
    else:
        forms.append(f"{spelled(h12)} oh {spelled(minute)} {half}")  # "seven oh five am"
    if minute in (15, 30):
        forms.append(f"{'quarter' if minute == 15 else 'half'} past {spelled(h12)} {half}")
    if minute == 45:
        forms.append(f"quarter to {spelled(h12 % 12 + 1)} {half}")
    if 0 < minute < 30 and minute not in (15,):
        forms.append(f"{spelled(minute)} minutes past {h12} {half}")
    if 30 < minute < 60 and minute != 45:
        forms.append(f"{spelled(60 - minute)} to {spelled(h12 % 12 + 1)} {half}")
    return draw(st.sampled_from(forms)), hour, minute


# The day ---------------------------------------------------------------------------------------------


@st.composite
def day_phrases(draw: st.DrawFn) -> tuple[str, dt.date]:
    """A day after tomorrow within the coming year, said with a date, a weekday or a count of days."""
    ahead = draw(st.integers(2, 364) | st.integers(2, 30))
    day = TODAY + dt.timedelta(days=ahead)
    month = draw(st.sampled_from([_MONTHS[day.month - 1], _MONTHS[day.month - 1].lower()]))
    nth = ordinal(day.day, draw(st.sampled_from(["digits", "words", "hyphen"])))
    forms = [
        f"{month} {nth}",
        f"{nth} of {month}",
        f"the {nth} of {month}",
        f"{month} the {nth}",
        f"{month} {day.day}",
        f"{day.day} {month}",
        f"{month} {spelled(day.day)}",
        f"{month} {nth} {day.year}",
        f"{day:%A} the {nth} of {month}",
    ]
    if ahead <= 28:
        forms += [f"the {nth}", ordinal(day.day, "digits")]  # the next 24th
    if ahead <= 6:
        forms += [f"{day:%A}", f"next {day:%A}"]
    if ahead == 2:
        forms.append("the day after tomorrow")
    if ahead <= 60:
        forms += [f"in {ahead} days", f"in {spelled(ahead, hyphen=draw(st.booleans()))} days"]
    if ahead % 7 == 0 and ahead <= 70:
        weeks = ahead // 7
        forms.append(f"in {'a' if weeks == 1 else weeks} week{'s' if weeks > 1 else ''}")
    return draw(st.sampled_from(forms)), day


@settings(max_examples=400, deadline=None)
@given(
    clock=clock_phrases(),
    day=day_phrases(),
    order=st.sampled_from(["day first", "time first"]),
    lead=st.sampled_from(["", "on ", "at "]),
    stop=st.sampled_from(["", ".", "!"]),
)
@example(clock=("8 am", 8, 0), day=("December 24th", dt.date(2026, 12, 24)), order="day first", lead="", stop="")
@example(
    clock=("9 am", 9, 0), day=("the first of January", dt.date(2027, 1, 1)), order="day first", lead="on ", stop=""
)
@example(
    clock=("7.45 in the evening", 19, 45),
    day=("24th of December", dt.date(2026, 12, 24)),
    order="time first",
    lead="at ",
    stop=".",
)
def test_generated_dates_and_times_read_back(
    clock: tuple[str, int, int], day: tuple[str, dt.date], order: str, lead: str, stop: str
) -> None:
    said_clock, hour, minute = clock
    said_day, date = day
    if order == "day first":
        text = f"{'on ' if lead == 'on ' else ''}{said_day} at {said_clock}{stop}"
    else:
        text = f"{'at ' if lead == 'at ' else ''}{said_clock} {'on ' if lead else ''}{said_day}{stop}"
    when = parse_when(text, NOW, BERLIN)
    assert when.at == local_time(date, hour, minute, BERLIN), text


@settings(max_examples=300, deadline=None)
@given(clock=clock_phrases(), day=st.sampled_from(["", "tomorrow", "tomorrow"]))
def test_generated_times_today_or_tomorrow(clock: tuple[str, int, int], day: str) -> None:
    """With AM, PM or a part of the day said, a time still ahead today is today, else tomorrow."""
    said_clock, hour, minute = clock
    when = parse_when(f"{said_clock} {day}".strip(), NOW, BERLIN)
    expected = local_time(TODAY, hour, minute, BERLIN)
    if day or expected <= NOW:
        expected = local_time(TODAY + dt.timedelta(days=1), hour, minute, BERLIN)
    assert when.at == expected


@settings(max_examples=200, deadline=None)
@given(
    clock=clock_phrases(),
    day=day_phrases(),
    junk=st.text("bcdfghjklmnpqrstvwxz", min_size=5, max_size=9),
    where=st.integers(0, 2),
)
def test_words_that_are_not_a_time_are_refused_by_name(
    clock: tuple[str, int, int], day: tuple[str, dt.date], junk: str, where: int
) -> None:
    parts = [day[0], f"at {clock[0]}"]
    parts.insert(where, f"on the {junk}" if where < 2 else junk)
    with pytest.raises(TimeNotUnderstood, match=junk):
        parse_when(" ".join(parts), NOW, BERLIN)


# Examples: the forms of issue 23, and where people are vague ------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7.45", "2026-11-24 19:45"),  # 7:45 AM has passed at 3 PM: the evening, as for "7:45"
        ("745 pm", "2026-11-24 19:45"),
        ("at 745", "2026-11-24 19:45"),
        ("6.30 tomorrow morning", "2026-11-25 06:30"),
        ("7.45 in the evening", "2026-11-24 19:45"),
        ("745 in the evening", "2026-11-24 19:45"),
        ("1230 tonight", "2026-11-25 00:30"),
        ("at 1230 tomorrow", "2026-11-25 12:30"),
        ("7:45 p.m.", "2026-11-24 19:45"),
        ("7:45 PM", "2026-11-24 19:45"),
        ("7:45p.m.", "2026-11-24 19:45"),
        ("quarter to eight", "2026-11-24 19:45"),
        ("half past six", "2026-11-24 18:30"),
        ("quarter to one pm tomorrow", "2026-11-25 12:45"),
        ("seven oh five tomorrow", "2026-11-25 07:05"),
        ("twelve noon tomorrow", "2026-11-25 12:00"),
        ("nineteen hundred hours", "2026-11-24 19:00"),
        ("December 24th at 8 am", "2026-12-24 08:00"),
        ("24th of December at 8", "2026-12-24 08:00"),
        ("the first of January at 9 am", "2027-01-01 09:00"),
        ("on the 24th at 9", "2026-12-24 09:00"),  # today is the 24th and 9 AM has passed: next month's
        ("on the 24th at 5 pm", "2026-11-24 17:00"),  # still ahead today
        ("on the 31st at 9", "2026-12-31 09:00"),  # November has no 31st
        ("November 20th at 9", "2027-11-20 09:00"),  # already past this year: next year's
        ("December 24 2027 at 8", "2027-12-24 08:00"),
        ("friday the 27th at 9", "2026-11-27 09:00"),
        ("2026-12-24T08:00", "2026-12-24 08:00"),  # as an LLM may write it
        ("in 2 days at 9", "2026-11-26 09:00"),
        ("in two days at 9 pm", "2026-11-26 21:00"),
        ("in a week at 7", "2026-12-01 07:00"),
        ("a week from tomorrow at 9", "2026-12-02 09:00"),
        ("the day after tomorrow at 7", "2026-11-26 07:00"),
        ("next Friday at noon", "2026-11-27 12:00"),
        ("at 7 please", "2026-11-24 19:00"),
        ("two and a half hours", "2026-11-24 17:30"),
        ("in a hundred minutes", "2026-11-24 16:40"),
        ("on new year's day at nine am", "2027-01-01 09:00"),
        ("new years eve at 11 pm", "2026-12-31 23:00"),
        ("christmas eve at 6 pm", "2026-12-24 18:00"),
        ("boxing day at 10 am", "2026-12-26 10:00"),
    ],
)
def test_issue_forms(text: str, expected: str) -> None:
    when = parse_when(text, NOW, BERLIN)
    assert when.at is not None and when.at.strftime("%Y-%m-%d %H:%M") == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("on the blorpth at 9", "I couldn't understand the date 'the blorpth'"),
        ("purple", "I couldn't understand 'purple'"),
        ("at 25", "I couldn't understand the time '25'"),
        ("December at 9", "I couldn't understand the date 'december'"),
        ("next week at 9", "I couldn't understand the date 'next week'"),
        ("tomorrow at 7 to take my pills", "I couldn't understand 'take my pills'"),
        ("February 30th at 8", "there is no 30 February"),
        ("thursday the 27th at 9", "Friday 27 November is not a Thursday"),
        ("tomorrow on December 24th at 9", "Thursday 24 December and Wednesday 25 November are different days"),
        ("today at 9 am", "9 AM today has already passed"),
        ("November 24th at 9 am", "9 AM today has already passed"),
        ("in 20 minutes at 9", "a time from now cannot also have a time of day or a day"),
        ("25:00", "25:00 is not a time of day"),
        ("at 25 o'clock", "25 o'clock is not a time of day"),
        ("tomorrow at 31 pm", "31 PM is not a time of day"),
        ("7:45 am pm", "both AM and PM were said"),
        ("weekdays on December 24th at 7", "a repeating time cannot also have a date"),
        ("December 24th", "no time of day was given"),
    ],
)
def test_what_is_not_understood_is_said(text: str, reason: str) -> None:
    with pytest.raises(TimeNotUnderstood) as caught:
        parse_when(text, NOW, BERLIN)
    assert str(caught.value) == reason


def test_a_day_without_a_time() -> None:
    assert parse_day("December 24th", NOW, BERLIN) == dt.date(2026, 12, 24)
    assert parse_day("tomorrow", NOW, BERLIN) == dt.date(2026, 11, 25)
    for text in ("tomorrow at 9", "purple", ""):
        with pytest.raises(TimeNotUnderstood):
            parse_day(text, NOW, BERLIN)


def test_dates_are_said_with_their_weekday_and_the_year_when_far() -> None:
    assert spoken_date(dt.date(2026, 12, 24), TODAY) == "Thursday 24 December"
    assert spoken_date(dt.date(2027, 11, 20), TODAY) == "Saturday 20 November 2027"


# Numbers --------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 999_999), hyphen=st.booleans(), joiner=st.sampled_from([" and ", " "]), a_hundred=st.booleans())
def test_generated_number_words_are_one_number(n: int, hyphen: bool, joiner: str, a_hundred: bool) -> None:
    words = f"set it to {spelled(n, hyphen, joiner, a_hundred)} percent".split()
    spans = find_numbers(words)
    assert [s.value for s in spans] == [n], words
    leading_a = words[3] == "a"
    assert (spans[0].start, spans[0].end) == (3 + leading_a, len(words) - 1)


@pytest.mark.parametrize(
    "text, values",
    [
        ("13 %", [13]),
        ("13%", [13]),
        ("thirteen percent", [13]),
        ("a hundred and twenty", [120]),
        ("one hundred twenty", [120]),
        ("twenty-five", [25]),
        ("twenty five", [25]),
        ("1,000", [1000]),
        ("seven thirty", [7, 30]),
        ("two thousand and five", [2005]),
    ],
)
def test_number_forms(text: str, values: list[int]) -> None:
    assert [s.value for s in find_numbers(text.split())] == values


def test_respelling_keeps_percent_and_hyphenated_numbers() -> None:
    assert respell_numbers("dim the lamp to 13%") == "dim the lamp to 13%"
    assert respell_numbers("set a timer for twenty-five minutes") == "set a timer for twenty-five minutes"
