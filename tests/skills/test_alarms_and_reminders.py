"""Alarms and reminders through the real dialogue and the durable scheduler, with time injected:
spoken times, ringing, snooze, stop, the day's reminders, and catching up after downtime."""

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assistant.app.runtime import Core, build_core, ringer
from assistant.core.bus import Bus
from assistant.core.clock import ManualClock
from assistant.core.config import load_config
from assistant.language.spoken_time import Recurrence, TimeNotUnderstood, local_time, parse_when
from assistant.plugins.api import Speaker, spoken_by
from assistant.scheduling.scheduler import Scheduler
from testbed.harness import TEMPLATES_ONLY, Recorder

BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY_3PM = dt.datetime(2026, 11, 24, 15, 0, tzinfo=BERLIN)


def make(data_dir: Path, clock: ManualClock) -> tuple[Core, Recorder]:
    bus = Bus()
    config = load_config(environ={**TEMPLATES_ONLY, "ASSISTANT__SCHEDULER__TIMEZONE": "Europe/Berlin"})
    return build_core(config, data_dir, bus, clock), Recorder(bus)


def ask(core: Core, text: str) -> str:
    return asyncio.run(core.dialogue.handle(text, turn=1))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("half past six tomorrow", "2026-11-25 06:30"),
        ("in twenty minutes", "2026-11-24 15:20"),
        ("next Friday at noon", "2026-11-27 12:00"),
        ("at 7:45 pm", "2026-11-24 19:45"),
        ("at seven", "2026-11-24 19:00"),  # 7 AM has passed at 3 PM: the evening
        ("at 7 am", "2026-11-25 07:00"),
        ("quarter to eight tomorrow", "2026-11-25 07:45"),
        ("in an hour and a half", "2026-11-24 16:30"),
        ("ten past nine tonight", "2026-11-24 21:10"),
        ("seven thirty tomorrow morning", "2026-11-25 07:30"),
        ("tuesday at 4 pm", "2026-11-24 16:00"),
        ("tuesday at 9", "2026-12-01 09:00"),  # today's 9 AM has passed: next week
        ("at midnight", "2026-11-25 00:00"),
        ("6am", "2026-11-25 06:00"),
        ("five minutes past six tomorrow", "2026-11-25 06:05"),
        ("at 2 am tonight", "2026-11-25 02:00"),
        ("midnight tonight", "2026-11-25 00:00"),
        ("the day after tomorrow at 9", "2026-11-26 09:00"),
        ("at 0:30", "2026-11-25 00:30"),
        ("at 12 am", "2026-11-25 00:00"),
        ("in 1.5 hours", "2026-11-24 16:30"),
    ],
)
def test_spoken_moments(text: str, expected: str) -> None:
    when = parse_when(text, TUESDAY_3PM, BERLIN)
    assert when.at is not None and when.at.strftime("%Y-%m-%d %H:%M") == expected


@pytest.mark.parametrize(
    "text, rule",
    [
        ("weekdays at seven", Recurrence(7, 0, frozenset(range(5)))),
        ("every Sunday at nine", Recurrence(9, 0, frozenset({6}))),
        ("every day at 6:15", Recurrence(6, 15, frozenset(range(7)))),
        ("mondays and wednesdays at 6 pm", Recurrence(18, 0, frozenset({0, 2}))),
    ],
)
def test_spoken_recurrences(text: str, rule: Recurrence) -> None:
    assert parse_when(text, TUESDAY_3PM, BERLIN).recurrence == rule


@pytest.mark.parametrize("text", ["tomorrow", "blah", "today at 9 am", "every monday"])
def test_times_that_say_too_little_are_refused(text: str) -> None:
    with pytest.raises(TimeNotUnderstood):
        parse_when(text, TUESDAY_3PM, BERLIN)


def test_daylight_saving_changes() -> None:
    # Clocks go forward at 2:00 on 2026-03-29 in Berlin: 2:30 does not exist that day.
    gap = local_time(dt.date(2026, 3, 29), 2, 30, BERLIN)
    assert (gap.hour, gap.minute, gap.utcoffset()) == (3, 30, dt.timedelta(hours=2))
    # They go back at 3:00 on 2026-10-25: 2:30 happens twice; the first one is meant.
    twice = local_time(dt.date(2026, 10, 25), 2, 30, BERLIN)
    assert twice.utcoffset() == dt.timedelta(hours=2)
    # A daily 7 AM alarm stays at 7 AM local across the change, 23 or 25 hours apart.
    rule = Recurrence(7, 0)
    before = rule.next_after(dt.datetime(2026, 10, 24, 6, 0, tzinfo=BERLIN), BERLIN)
    after = rule.next_after(before, BERLIN)
    assert (before.hour, after.hour) == (7, 7) and after.timestamp() - before.timestamp() == 25 * 3600


def test_alarm_by_voice_rings_at_its_time_and_snoozes(data_dir: Path) -> None:
    clock = ManualClock(TUESDAY_3PM.timestamp())
    core, rec = make(data_dir, clock)
    assert ask(core, "set an alarm for 7 am tomorrow") == "Alarm set for 7 AM tomorrow."
    assert ask(core, "what alarms do i have") == "You have an alarm: 7 AM tomorrow."
    said: list[str] = []

    async def announce(text: str) -> None:
        said.append(text)

    async def scenario() -> None:
        core.scheduler.start(ringer(core, announce))
        await clock.set(dt.datetime(2026, 11, 25, 6, 59, tzinfo=BERLIN).timestamp())
        assert said == []
        await clock.advance(60)
        assert said == ["It's 7 AM. This is your alarm."]
        assert await core.dialogue.handle("snooze for 5 minutes") == "Snoozed for 5 minutes."
        await clock.advance(299)
        assert len(said) == 1
        await clock.advance(1)
        assert len(said) == 2
        assert await core.dialogue.handle("stop") == "Okay."
        await clock.advance(3600)
        assert len(said) == 2
        await core.scheduler.stop()

    asyncio.run(scenario())
    assert core.scheduler.alarms() == [], "a one-off alarm is gone once stopped"
    assert [e.kind for e in rec.of("due")] == ["alarm", "alarm"]  # type: ignore[attr-defined]


def test_recurring_alarm_moves_on_when_stopped(data_dir: Path) -> None:
    clock = ManualClock(TUESDAY_3PM.timestamp())
    core, _ = make(data_dir, clock)
    assert ask(core, "wake me up weekdays at seven") == "Alarm set for weekdays at 7 AM, first at 7 AM tomorrow."

    async def scenario() -> None:
        async def announce(text: str) -> None:
            pass

        core.scheduler.start(ringer(core, announce))
        await clock.set(dt.datetime(2026, 11, 27, 7, 0, 30, tzinfo=BERLIN).timestamp())  # Friday
        assert await core.dialogue.handle("turn off the alarm") == "Okay."
        await core.scheduler.stop()

    asyncio.run(scenario())
    (alarm,) = core.scheduler.alarms()
    assert core.scheduler.local(alarm.at) == dt.datetime(2026, 11, 30, 7, 0, tzinfo=BERLIN)  # Monday


def test_several_alarms_ask_which_to_delete(data_dir: Path) -> None:
    core, _ = make(data_dir, ManualClock(TUESDAY_3PM.timestamp()))
    ask(core, "set an alarm for 7 am tomorrow")
    ask(core, "set an alarm for 9 am tomorrow")
    assert "Which one" in ask(core, "delete the alarm")
    assert ask(core, "delete the alarm for 9 am") == "Deleted your alarm for 9 AM tomorrow."
    assert ask(core, "set an alarm for purple").startswith("I didn't get the time")


def test_reminders_for_today_and_their_announcement(data_dir: Path) -> None:
    clock = ManualClock(TUESDAY_3PM.timestamp())
    core, _ = make(data_dir, clock)
    assert ask(core, "remind me to call mum at 5 pm") == "I'll remind you to call mum at 5 PM today."
    assert (
        ask(core, "remind me in 20 minutes to take the bread out")
        == "I'll remind you to take the bread out at 3:20 PM today."
    )
    assert (
        ask(core, "what are my reminders for today")
        == "You have 2 reminders for today: at 3:20 PM, take the bread out; at 5 PM, call mum."
    )
    said: list[str] = []

    async def scenario() -> None:
        async def announce(text: str) -> None:
            said.append(text)

        core.scheduler.start(ringer(core, announce))
        await clock.advance(20 * 60)
        await clock.advance(60)
        await core.scheduler.stop()

    asyncio.run(scenario())
    assert said == ["Reminder: take the bread out."], "said once, not repeated"
    assert (
        ask(core, "what are my reminders for today")
        == "You have 2 reminders for today: at 3:20 PM, take the bread out (done); at 5 PM, call mum."
    )
    assert ask(core, "delete the reminder to call mum") == "Deleted the reminder to call mum."


def test_a_reminder_belongs_to_whoever_asked_for_it_by_voice(data_dir: Path) -> None:
    clock = ManualClock(TUESDAY_3PM.timestamp())
    core, _ = make(data_dir, clock)
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "remind me to call mum at 5 pm") == "I'll remind you to call mum at 5 PM today."
    with spoken_by(Speaker("Ben", "child")):
        assert ask(core, "remind me to feed the cat at 6 pm") == "I'll remind you to feed the cat at 6 PM today."
    assert ask(core, "remind me to take the bins out at 7 pm").startswith("I'll remind you")  # typed: the household's
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "what are my reminders").startswith("You have 2 reminders:")
        mine = ask(core, "what are my reminders for today")
        assert "call mum" in mine and "take the bins out" in mine and "feed the cat" not in mine
        assert ask(core, "delete the reminder to feed the cat") == "I can't find that reminder."
        day = ask(core, "what does my day look like today")  # the agenda: Anna's and the household's
        assert "call mum" in day and "take the bins out" in day and "feed the cat" not in day
    with spoken_by(Speaker(None, "guest")):  # a voice nobody enrolled hears only the household's
        assert ask(core, "what are my reminders for today") == (
            "You have one reminder for today: at 7 PM, take the bins out."
        )
    assert "3 reminders" in ask(core, "what are my reminders for today")  # typed: everyone's
    said: list[str] = []

    async def scenario() -> None:
        async def announce(text: str) -> None:
            said.append(text)

        core.scheduler.start(ringer(core, announce))
        await clock.advance(2 * 3600 + 60)
        await core.scheduler.stop()

    asyncio.run(scenario())
    assert said == ["Anna, reminder: call mum."], "rung with the name of whoever it is for"
    restarted, _ = make(data_dir, clock)  # the owner is kept on disk
    assert sorted((r.text, r.owner) for r in restarted.scheduler.reminders(include_done=True)) == [
        ("call mum", "Anna"),
        ("feed the cat", "Ben"),
        ("take the bins out", None),
    ]


def test_alarms_are_whoever_set_them_and_timers_ring_with_the_name_of_who_set_them(data_dir: Path) -> None:
    """An alarm wakes one person: it is theirs to list and delete. A timer is the kitchen's: anyone asks
    how long it has, and it rings with the name of who set it."""
    clock = ManualClock(TUESDAY_3PM.timestamp())
    core, _ = make(data_dir, clock)
    with spoken_by(Speaker("Anna", "adult")):
        assert ask(core, "set an alarm for 4 pm").startswith("Alarm set for 4 PM")
        assert ask(core, "set a timer for 10 minutes for the pasta").startswith("Pasta timer")
    with spoken_by(Speaker("Ben", "child")):
        assert ask(core, "set an alarm for 4:30 pm").startswith("Alarm set for 4:30 PM")
        assert ask(core, "what alarms do i have") == "You have an alarm: 4:30 PM today."
        assert ask(core, "delete my 4 pm alarm") == "I can't find that alarm."
        assert "pasta" in ask(core, "how long is left on the pasta timer")
    with spoken_by(Speaker(None, "guest")):
        assert ask(core, "what alarms do i have") == "You have no alarms."
    assert ask(core, "what alarms do i have").startswith("You have 2 alarms"), "typed: everyone's"
    restarted, _ = make(data_dir, clock)  # the owners are kept on disk
    assert sorted((a.owner or "") for a in restarted.scheduler.alarms()) == ["Anna", "Ben"]
    assert [t.owner for t in restarted.scheduler.timers()] == ["Anna"]
    said: list[str] = []

    async def scenario() -> None:
        async def announce(text: str) -> None:
            said.append(text)

        core.scheduler.start(ringer(core, announce))
        await clock.advance(5400 + 60)
        await core.scheduler.stop()

    asyncio.run(scenario())
    assert said[0] == "Anna, your pasta timer is done."  # and again until stopped
    assert "It's 4 PM. This is Anna's alarm." in said and "It's 4:30 PM. This is Ben's alarm." in said, set(said)


def test_missed_while_off_is_announced_within_the_grace_window(data_dir: Path) -> None:
    clock = ManualClock(TUESDAY_3PM.timestamp())
    core, _ = make(data_dir, clock)
    ask(core, "remind me to call mum at 5 pm")
    ask(core, "set an alarm for 4 pm")
    ask(core, "set an alarm for weekdays at 4:45 pm")

    async def restart_at(when: dt.datetime) -> tuple[list[str], Core]:
        await clock.set(when.timestamp())
        again, _ = make(data_dir, clock)
        said: list[str] = []

        async def announce(text: str) -> None:
            said.append(text)

        again.scheduler.start(ringer(again, announce))
        await clock.advance(0)
        await again.scheduler.stop()
        return said, again

    said, again = asyncio.run(restart_at(dt.datetime(2026, 11, 24, 17, 30, tzinfo=BERLIN)))
    assert sorted(said) == sorted(
        [
            "While I was off, you had a reminder at 5 PM: call mum.",
            "While I was off, your alarm for 4:45 PM went unheard.",
        ]
    ), "the 4 PM alarm was missed by 90 minutes, beyond the hour of grace"
    (weekly,) = again.scheduler.alarms()
    assert again.scheduler.local(weekly.at) == dt.datetime(2026, 11, 25, 16, 45, tzinfo=BERLIN)
    assert asyncio.run(restart_at(dt.datetime(2026, 11, 24, 17, 31, tzinfo=BERLIN)))[0] == [], "announced once"


def test_scheduler_items_survive_restart_in_their_tables(data_dir: Path) -> None:
    clock = ManualClock(TUESDAY_3PM.timestamp())
    core, _ = make(data_dir, clock)
    ask(core, "set a timer for ten minutes")
    ask(core, "set an alarm for 7 am tomorrow")
    ask(core, "remind me to call mum at 5 pm")
    again = Scheduler(data_dir, core.scheduler.config, clock)
    assert (len(again.timers()), len(again.alarms()), len(again.reminders())) == (1, 1, 1)


def test_the_repeated_hour_of_a_fall_back_is_compared_as_instants() -> None:
    new_york = ZoneInfo("America/New_York")
    second_one_ten = dt.datetime(2026, 11, 1, 1, 10, tzinfo=new_york, fold=1)  # 1:10 EST, after 1:59 EDT
    nxt = Recurrence(1, 30).next_after(second_one_ten, new_york)
    assert nxt.timestamp() > second_one_ten.timestamp() and nxt.date() == dt.date(2026, 11, 2)


def test_an_afternoon_request_deletes_the_morning_alarm_of_that_hour(data_dir: Path) -> None:
    core, _ = make(data_dir, ManualClock(TUESDAY_3PM.timestamp()))
    ask(core, "set an alarm for 7 am tomorrow")
    assert ask(core, "delete the alarm for 7") == "Deleted your alarm for 7 AM tomorrow."


def test_a_bad_time_zone_is_a_clear_config_error(data_dir: Path) -> None:
    from assistant.core.errors import ConfigError

    with pytest.raises(ConfigError, match="Europe/Berlin"):
        build_core(
            load_config(environ={**TEMPLATES_ONLY, "ASSISTANT__SCHEDULER__TIMEZONE": "Europe/Berln"}), data_dir, Bus()
        )


@pytest.mark.parametrize(
    "said, reply, at",
    [
        ("set an alarm for december 24th at 8 am", "Alarm set for Thursday 24 December at 8 AM.", "2026-12-24 08:00"),
        (
            "set an alarm for the 24th of December at 8",
            "Alarm set for Thursday 24 December at 8 AM.",
            "2026-12-24 08:00",
        ),
        ("Set an alarm for 7.45 in the evening.", "Alarm set for 7:45 PM today.", "2026-11-24 19:45"),
        ("Set an alarm for 745 in the evening.", "Alarm set for 7:45 PM today.", "2026-11-24 19:45"),
        ("Wake me up at 6.30 tomorrow morning.", "Alarm set for 6:30 AM tomorrow.", "2026-11-25 06:30"),
        ("set an alarm for 7:45 p.m.", "Alarm set for 7:45 PM today.", "2026-11-24 19:45"),
        ("set an alarm for 7:45 PM", "Alarm set for 7:45 PM today.", "2026-11-24 19:45"),
        ("set an alarm for quarter to eight tomorrow", "Alarm set for 7:45 AM tomorrow.", "2026-11-25 07:45"),
        ("wake me up at half past six", "Alarm set for 6:30 PM today.", "2026-11-24 18:30"),
        ("set an alarm on the 24th at 9", "Alarm set for Thursday 24 December at 9 AM.", "2026-12-24 09:00"),
        ("set an alarm in 2 days at 9", "Alarm set for Thursday 26 November at 9 AM.", "2026-11-26 09:00"),
        (
            "set an alarm for the day after tomorrow at 7",
            "Alarm set for Thursday 26 November at 7 AM.",
            "2026-11-26 07:00",
        ),
        ("set an alarm for next Friday at noon", "Alarm set for Friday 27 November at noon.", "2026-11-27 12:00"),
        (
            "set an alarm for the first of January at 9 am",
            "Alarm set for Friday 1 January at 9 AM.",
            "2027-01-01 09:00",
        ),
        ("set an alarm for the first at 9", "Alarm set for Tuesday 1 December at 9 AM.", "2026-12-01 09:00"),
    ],
)
def test_alarms_keep_the_day_and_time_that_was_said(data_dir: Path, said: str, reply: str, at: str) -> None:
    core, _ = make(data_dir, ManualClock(TUESDAY_3PM.timestamp()))
    assert ask(core, said) == reply
    (alarm,) = core.scheduler.alarms()
    assert core.scheduler.local(alarm.at).strftime("%Y-%m-%d %H:%M") == at
    assert ask(core, "what alarms do i have") == f"You have an alarm: {reply.removeprefix('Alarm set for ')}"


@pytest.mark.parametrize(
    "said, reply, at",
    [
        (
            "remind me to pay rent on the first of january at 9 am",
            "I'll remind you to pay rent on Friday 1 January at 9 AM.",
            "2027-01-01 09:00",
        ),
        (
            "remind me to buy a tree on december 24th at 8 am",
            "I'll remind you to buy a tree on Thursday 24 December at 8 AM.",
            "2026-12-24 08:00",
        ),
        (
            "remind me on the 24th at 9 to call mum",
            "I'll remind you to call mum on Thursday 24 December at 9 AM.",
            "2026-12-24 09:00",
        ),
        (
            "remind me to call mum in 2 days at 9",
            "I'll remind you to call mum on Thursday 26 November at 9 AM.",
            "2026-11-26 09:00",
        ),
        (
            "remind me to water the plants the day after tomorrow at 7",
            "I'll remind you to water the plants on Thursday 26 November at 7 AM.",
            "2026-11-26 07:00",
        ),
        (
            "remind me to call mum next friday at noon",
            "I'll remind you to call mum on Friday 27 November at noon.",
            "2026-11-27 12:00",
        ),
        (
            "remind me to call mum tomorrow at 6.30",
            "I'll remind you to call mum at 6:30 AM tomorrow.",
            "2026-11-25 06:30",
        ),
        (
            "remind me to take the pizza out at 745 pm",
            "I'll remind you to take the pizza out at 7:45 PM today.",
            "2026-11-24 19:45",
        ),
    ],
)
def test_reminders_keep_the_day_and_time_that_was_said(data_dir: Path, said: str, reply: str, at: str) -> None:
    core, _ = make(data_dir, ManualClock(TUESDAY_3PM.timestamp()))
    assert ask(core, said) == reply
    (reminder,) = core.scheduler.reminders()
    assert core.scheduler.local(reminder.at).strftime("%Y-%m-%d %H:%M") == at


@pytest.mark.parametrize(
    "said, reply",
    [
        (
            "set an alarm on the blorpth at 9",
            "I didn't get the time for the alarm: I couldn't understand 'blorpth'. Say it like 'seven thirty tomorrow'.",
        ),
        (
            "set an alarm for february 30th at 8",
            "I didn't get the time for the alarm: there is no 30 February. Say it like 'seven thirty tomorrow'.",
        ),
        (
            "remind me on the blorpth at 9 to call mum",
            "I didn't get when to remind you: I couldn't understand 'blorpth'.",
        ),
        (
            "remind me to call mum on november 24th at 9 am",
            "I didn't get when to remind you: 9 AM today has already passed.",
        ),
    ],
)
def test_a_time_that_is_not_understood_is_refused_with_the_reason(data_dir: Path, said: str, reply: str) -> None:
    core, _ = make(data_dir, ManualClock(TUESDAY_3PM.timestamp()))
    assert ask(core, said) == reply
    assert core.scheduler.alarms() == [] and core.scheduler.reminders() == []


def test_alarms_are_deleted_by_their_day_and_an_unknown_one_is_not_guessed(data_dir: Path) -> None:
    core, _ = make(data_dir, ManualClock(TUESDAY_3PM.timestamp()))
    ask(core, "set an alarm for december 24th at 8 am")
    assert ask(core, "delete the alarm for purple") == "I didn't get which alarm: I couldn't understand 'purple'."
    ask(core, "set an alarm for 7 am tomorrow")
    assert ask(core, "delete the alarm for december 24th") == "Deleted your alarm for Thursday 24 December at 8 AM."
    assert [core.scheduler.local(a.at).day for a in core.scheduler.alarms()] == [25]


def test_deleting_the_7_am_alarm_never_deletes_another(data_dir: Path) -> None:
    """ "delete the 7 am alarm" matched no sentence, and the planner dropped the time: with only a 9 AM
    alarm set, that deleted it. The time said now always reaches the tool."""
    core = build_core(load_config(environ=TEMPLATES_ONLY), data_dir, Bus())
    asyncio.run(core.dialogue.handle("set an alarm for 9 am"))
    assert asyncio.run(core.dialogue.handle("delete the 7 am alarm")) == "I can't find that alarm."
    assert len(core.scheduler.alarms()) == 1
    assert asyncio.run(core.dialogue.handle("delete the 9 am alarm")).startswith("Deleted your alarm for 9 AM")


class Planned:
    """Stands in for the LLM planner: answers a request with the call the model was seen to make of it."""

    def __init__(self, *calls: tuple[str, str, dict[str, Any]]) -> None:
        from assistant.plugins.api import ToolCall

        self.calls = {text: ToolCall(tool, args, "llm", text, open_question=True) for text, tool, args in calls}

    async def plan(self, text: str, context: Any) -> Any:
        return self.calls.get(text)


@pytest.mark.parametrize(
    "said, planned",
    [
        ("remind me at 5 pm", {"text": "at 5 pm", "when": "5 pm"}),  # seen with the real model
        ("set a reminder for 5 pm", {"text": "5 pm"}),  # seen: no time, the time as text
        ("remind me tomorrow at 9", {"text": "tomorrow", "when": "tomorrow at 9"}),
        ("remind me about it in 10 minutes", {"text": "in 10 minutes", "when": "in 10 minutes"}),
        ("remind me at 5 pm", {"text": "a reminder", "when": "at 5 pm"}),
    ],
)
def test_a_time_is_never_stored_as_what_to_remind(data_dir: Path, said: str, planned: dict[str, str]) -> None:
    core = build_core(load_config(environ=TEMPLATES_ONLY), data_dir, Bus())
    core.dialogue.router.planner = Planned(
        (said, "reminder.add", planned),  # type: ignore[assignment]
        ("call mum", "reminder.add", {"text": "call mum"}),
    )

    async def talk() -> list[str]:
        return [await core.dialogue.handle(said), await core.dialogue.handle("call mum")]

    question, answer = asyncio.run(talk())
    assert question == "What should I remind you of?"
    assert answer.startswith("I'll remind you to call mum ")
    (reminder,) = core.scheduler.reminders()
    assert reminder.text == "call mum"


def test_a_question_asked_instead_of_an_answer_is_answered_not_remembered(data_dir: Path) -> None:
    core = build_core(load_config(environ=TEMPLATES_ONLY), data_dir, Bus())
    # The LLM, offered only reminder.add for the answer, takes the question as what to remind.
    core.dialogue.router.planner = Planned(
        ("remind me at 5 pm", "reminder.add", {"text": "a reminder", "when": "at 5 pm"}),  # type: ignore[assignment]
        ("what time is it", "reminder.add", {"text": "what time is it"}),
    )

    async def talk() -> list[str]:
        return [await core.dialogue.handle(said) for said in ("remind me at 5 pm", "what time is it")]

    question, answer = asyncio.run(talk())
    assert question == "What should I remind you of?"
    assert answer.startswith("It's ") and core.scheduler.reminders() == [], answer


def test_a_reminder_tool_called_with_only_a_time_refuses(data_dir: Path) -> None:
    core = build_core(load_config(environ=TEMPLATES_ONLY), data_dir, Bus())
    result = core.registry.tool("reminder.add").func(text="at 5 pm", when="5 pm")
    assert not result.ok and result.speech.startswith("What should I remind you of?")
    assert core.scheduler.reminders() == []
