"""Alarms: one-off ("tomorrow at half past six") or repeating ("weekdays at seven"); list, delete,
snooze, and stop whatever is ringing."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Annotated, Any

from assistant.language.lists import counted
from assistant.language.spoken_time import (
    TimeNotUnderstood,
    parse_day,
    parse_when,
    said_when,
    spoken_clock,
    spoken_moment,
)
from assistant.plugins.api import Ask, Permission, Range, Skill, SkillContext, ToolResult, speaker, speaker_name, tool
from assistant.scheduling.items import Alarm, Due, theirs
from assistant.scheduling.scheduler import Scheduler

When = Annotated[
    str, Ask("For what time?"), "when, as the person said it: 'tomorrow at 6:30', 'weekdays at seven', 'in 20 minutes'"
]


class AlarmSkill(Skill):
    name = "alarm"
    description = "Alarms at a time of day, once or repeating; snooze and stop."
    permissions = frozenset({Permission.SCHEDULER})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.scheduler: Scheduler = context.needs(Permission.SCHEDULER, Scheduler)

    def describe(self, alarm: Alarm) -> str:
        rule = alarm.recurrence
        text = (
            rule.describe() if rule else spoken_moment(self.scheduler.local(alarm.due_at), self.scheduler.local_now())
        )
        return f"{text}{f' ({alarm.label})' if alarm.label else ''}"

    @tool
    def set(self, when: When, label: Annotated[str | None, "what the alarm is for"] = None) -> ToolResult:
        """Set an alarm for a time of day, once ("tomorrow at 7") or repeating ("weekdays at seven")."""
        now = self.scheduler.local_now()
        try:
            parsed = parse_when(when, now, self.scheduler.zone)
        except TimeNotUnderstood as e:
            return ToolResult(
                f"I didn't get the time for the alarm: {e}. Say it like 'seven thirty tomorrow'.",
                {"error": "bad_time", "when": when, "reason": str(e)},
                ok=False,
            )
        first = parsed.first(now, self.scheduler.zone)
        alarm = self.scheduler.add_alarm(first.timestamp(), label, parsed.recurrence, owner=speaker_name())
        if parsed.recurrence:
            speech = f"Alarm set for {parsed.recurrence.describe()}, first {said_when(first, now)}."
        else:
            speech = f"Alarm set for {spoken_moment(first, now)}."
        return ToolResult(
            speech,
            {
                "alarm_id": alarm.id,
                "at": first.isoformat(timespec="minutes"),
                "repeats": parsed.recurrence.describe() if parsed.recurrence else None,
            },
        )

    @tool(reads=True)
    def list(self) -> ToolResult:
        """Say which alarms are set."""
        alarms = theirs(self.scheduler.alarms(), speaker())
        if not alarms:
            return ToolResult("You have no alarms.", {"alarms": []})
        parts = [self.describe(a) for a in alarms]
        head = "You have an alarm" if len(parts) == 1 else f"You have {len(parts)} alarms"
        return ToolResult(f"{head}: {'; '.join(parts)}.", {"alarms": [_alarm_data(a) for a in alarms]})

    @tool
    def delete(self, when: Annotated[str | None, "the time or day of the alarm to delete"] = None) -> ToolResult:
        """Delete one alarm, chosen by its time or day when there are several."""
        mine = alarms = theirs(self.scheduler.alarms(), speaker())
        if when:
            chosen = self._chosen_by(when, alarms)
            if isinstance(chosen, ToolResult):
                return chosen
            alarms = chosen
        if not alarms:
            return ToolResult(
                "I can't find that alarm." if mine else "You have no alarms.",
                {"deleted": []},
                ok=False,
            )
        if len(alarms) > 1:
            listed = " and ".join(self.describe(a) for a in alarms)
            return ToolResult(
                f"You have alarms for {listed}. Which one should I delete?",
                {"deleted": [], "ambiguous": [a.id for a in alarms]},
                ok=False,
            )
        self.scheduler.cancel(alarms[0].id)
        return ToolResult(f"Deleted your alarm for {self.describe(alarms[0])}.", {"deleted": [alarms[0].id]})

    def _chosen_by(self, when: str, alarms: builtins.list[Alarm]) -> builtins.list[Alarm] | ToolResult:
        """The alarms `when` names: by their time ("the 7 o'clock alarm"), or by their day ("tomorrow's").
        A time that cannot be read is said to be so, not taken to mean any alarm."""
        now, zone = self.scheduler.local_now(), self.scheduler.zone
        try:
            target = parse_when(when, now, zone).first(now, zone)
            return [a for a in alarms if _same_clock(self.scheduler.local(a.at), target)]
        except TimeNotUnderstood as e:
            try:
                day = parse_day(when, now, zone)
            except TimeNotUnderstood:
                return ToolResult(
                    f"I didn't get which alarm: {e}.", {"deleted": [], "error": "bad_time", "reason": str(e)}, ok=False
                )
            return [a for a in alarms if self.scheduler.local(a.at).date() == day]

    @tool
    def snooze(self, minutes: Annotated[int | None, Range(1, 60)] = None) -> ToolResult:
        """Snooze the ringing alarm, for some minutes or the usual nine."""
        ringing = [d.item for d in self.scheduler.ringing() if isinstance(d.item, Alarm)]
        if not ringing:
            return ToolResult("No alarm is ringing.", {"snoozed": []}, ok=False)
        seconds = minutes * 60 if minutes else None
        snoozed = [a for a in (self.scheduler.snooze(r.id, seconds) for r in ringing) if a is not None]
        length = round((minutes * 60 if minutes else self.scheduler.config.snooze_s) / 60)
        return ToolResult(f"Snoozed for {counted(length, 'minute')}.", {"snoozed": [a.id for a in snoozed]})

    @tool
    def stop(self) -> ToolResult:
        """Stop whatever is ringing now: an alarm, a done timer or a reminder."""
        stopped = self.scheduler.stop_all_ringing()
        if not stopped:
            return ToolResult("Nothing is ringing.", {"stopped": []}, ok=False)
        return ToolResult("Okay.", {"stopped": [s.id for s in stopped]})

    def due_speech(self, due: Due) -> str | None:
        alarm = due.item
        if not isinstance(alarm, Alarm):
            return None
        at = self.scheduler.local(alarm.at)
        label = f" {alarm.label}." if alarm.label else ""
        whose = f"{alarm.owner}'s" if alarm.owner else "your"
        if due.reason == "missed":
            return f"While I was off, {whose} alarm for {spoken_clock(at.hour, at.minute)} went unheard.{label}"
        now = self.scheduler.local_now()
        return f"It's {spoken_clock(now.hour, now.minute)}. This is {whose} alarm.{label}"


def _same_clock(a: dt.datetime, b: dt.datetime) -> bool:
    """ "delete my 7 o'clock alarm" said in the afternoon still means the 7 AM one: compare on a
    12-hour dial (two alarms that match are asked about)."""
    return (a.hour % 12, a.minute) == (b.hour % 12, b.minute)


def _alarm_data(alarm: Alarm) -> dict[str, Any]:
    rule = alarm.recurrence
    return {
        "alarm_id": alarm.id,
        "at": alarm.due_at,
        "label": alarm.label,
        "repeats": rule.describe() if rule else None,
        "ringing": alarm.ringing_since is not None,
    }
