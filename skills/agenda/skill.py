"""The day's plan: alarms, reminders and timers that come due today or tomorrow, in order.

Its one tool answers open questions ("do I have to get up early tomorrow?", "is anything on this
afternoon?"), so it is marked `phrased`: a freely worded question gets an answer worded by the LLM
from this tool's reply, checked against it (assistant/understanding/phrasing.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from assistant.language.spoken_time import spoken_clock
from assistant.plugins.api import Permission, Skill, SkillContext, ToolResult, speaker, tool
from assistant.scheduling.items import theirs
from assistant.scheduling.scheduler import Scheduler


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    kind: str
    """alarm, reminder or timer."""
    words: str
    """What it is about: a label, the reminder's text, the timer's name; may be empty."""

    def spoken(self) -> str:
        clock = spoken_clock(self.at.hour, self.at.minute)
        if self.kind == "reminder":
            return f"a reminder at {clock} to {self.words}"
        if self.kind == "timer":
            named = f"the {self.words} timer" if self.words else "a timer"
            return f"{named} ending at {clock}"
        return f"an alarm at {clock}{f' ({self.words})' if self.words else ''}"


class AgendaSkill(Skill):
    name = "agenda"
    description = "What is planned for today or tomorrow: alarms, reminders and timers."
    permissions = frozenset({Permission.SCHEDULER})

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.scheduler: Scheduler = context.needs(Permission.SCHEDULER, Scheduler)

    def entries(self, day: dt.date, after: dt.datetime) -> list[Entry]:
        """Everything that comes due on `day` (local), from `after` on, in time order."""
        s = self.scheduler
        start = max(after, dt.datetime.combine(day, dt.time(0), tzinfo=s.zone))
        found: list[Entry] = []
        for alarm in theirs(s.alarms(), speaker()):
            rule = alarm.recurrence
            at = s.local(alarm.due_at)
            if rule is not None and at.date() != day:
                at = rule.next_after(start - dt.timedelta(seconds=1), s.zone)
            found.append(Entry(at, "alarm", alarm.label or ""))
        found += [Entry(s.local(r.at), "reminder", r.text) for r in theirs(s.reminders(), speaker())]
        found += [Entry(s.local(t.ends_at), "timer", t.name or "") for t in s.timers() if t.ends_at is not None]
        return sorted((e for e in found if e.at.date() == day and e.at >= start), key=lambda e: e.at)

    @tool(phrased=True, reads=True)
    def day(self, day: Literal["today", "tomorrow"] | None = None) -> ToolResult:
        """Tell what is planned for today or tomorrow: alarms, reminders and timers, earliest first."""
        now = self.scheduler.local_now()
        which = day or "today"
        date = now.date() + dt.timedelta(days=1 if which == "tomorrow" else 0)
        entries = self.entries(date, now)
        data = {
            "day": which,
            "date": date.isoformat(),
            "items": [{"kind": e.kind, "at": e.at.isoformat(timespec="minutes"), "words": e.words} for e in entries],
        }
        rest = " for the rest of today" if which == "today" else " for tomorrow"
        if not entries:
            return ToolResult(f"Nothing is planned{rest}.", data)
        spoken = [e.spoken() for e in entries]
        listed = spoken[0] if len(spoken) == 1 else f"{', '.join(spoken[:-1])} and {spoken[-1]}"
        head = "Today" if which == "today" else "Tomorrow"
        return ToolResult(f"{head} you have {listed}.", data)
