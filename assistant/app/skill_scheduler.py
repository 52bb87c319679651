"""The scheduler permission as a sandboxed skill gets it: the core's own timers, alarms and reminders,
used for whoever asked.

What a sandboxed skill sets belongs to the person whose request it is serving (`speaker_name()`, told
by their voice), never to a name the skill chooses: a skill that could name the owner could put a
reminder under anyone's name, say it to them as their own, and keep that name from being learned by
a new voice (app/kept.py). For the same reason it sees and touches the alarms and reminders of that
person and the household's only, as the built-in skills do (`scheduling.items.theirs`); timers are
the kitchen's, everyone's. Each value crossing from the skill is checked here: JSON allows NaN and
Infinity, and a timer that ends at NaN would never ring.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from assistant.core.errors import SkillError
from assistant.plugins.api import speaker, speaker_name

if TYPE_CHECKING:
    from assistant.scheduling.items import Alarm, Item, Reminder, Timer
    from assistant.scheduling.scheduler import Scheduler

MAX_TEXT = 500
"""Characters in a reminder's words or a timer's or alarm's name."""
MAX_AHEAD_S = 5 * 366 * 86400.0
"""How far ahead anything may be set: five years."""


def _seconds(value: Any, what: str, lowest: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SkillError(f"{what} must be a number of seconds")
    if not lowest <= value <= MAX_AHEAD_S:
        raise SkillError(f"{what} must be between {lowest:g} s and five years")
    return float(value)


def _text(value: Any, what: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise SkillError(f"{what} must be words, at most {MAX_TEXT} characters")
    return value


class SkillScheduler:
    """The scheduler permission: timers for anyone, alarms and reminders of whoever asked."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    # --- reading ------------------------------------------------------------------------------

    def now(self) -> float:
        return self._scheduler.now()

    def timers(self) -> list[Timer]:
        return self._scheduler.timers()

    def alarms(self) -> list[Alarm]:
        """The alarms of whoever asked, and the household's."""
        from assistant.scheduling.items import theirs

        return theirs(self._scheduler.alarms(), speaker())

    def reminders(self, include_done: bool = False) -> list[Reminder]:
        """The reminders of whoever asked, and the household's."""
        from assistant.scheduling.items import theirs

        return theirs(self._scheduler.reminders(include_done=include_done is True), speaker())

    # --- setting ------------------------------------------------------------------------------

    def add_timer(self, duration_s: float, name: str | None = None, room: str | None = None) -> Timer:
        """A timer of whoever asked: it rings with their name."""
        return self._scheduler.add_timer(
            _seconds(duration_s, "duration_s"),
            _text(name, "name"),
            _text(room, "room"),
            owner=speaker_name(),
        )

    def set_duration(self, timer_id: str, duration_s: float) -> Timer | None:
        return self._scheduler.set_duration(self._id(timer_id), _seconds(duration_s, "duration_s"))

    def extend(self, timer_id: str, seconds: float) -> Timer | None:
        return self._scheduler.extend(self._id(timer_id), _seconds(seconds, "seconds"))

    def pause(self, timer_id: str) -> Timer | None:
        return self._scheduler.pause(self._id(timer_id))

    def resume(self, timer_id: str) -> Timer | None:
        return self._scheduler.resume(self._id(timer_id))

    def add_alarm(self, at: float, label: str | None = None, recurrence: Any = None) -> Alarm:
        """An alarm of whoever asked. recurrence: None, or {"hour", "minute", "weekdays": [0 = Monday …]}."""
        return self._scheduler.add_alarm(
            self._when(at), _text(label, "label"), _recurrence(recurrence), owner=speaker_name()
        )

    def snooze(self, alarm_id: str, seconds: float | None = None) -> Alarm | None:
        self._theirs(alarm_id)
        return self._scheduler.snooze(alarm_id, None if seconds is None else _seconds(seconds, "seconds"))

    def add_reminder(self, text: str, at: float) -> Reminder:
        """A reminder of whoever asked: it is said to them, by name."""
        return self._scheduler.add_reminder(
            _text(text, "text", required=True) or "", self._when(at), owner=speaker_name()
        )

    # --- stopping ------------------------------------------------------------------------------

    def cancel(self, item_id: str) -> Item | None:
        self._theirs(item_id)
        return self._scheduler.cancel(item_id)

    def stop_ringing(self, item_id: str) -> Item | None:
        self._theirs(item_id)
        return self._scheduler.stop_ringing(item_id)

    # --- checks --------------------------------------------------------------------------------

    def _when(self, at: Any) -> float:
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise SkillError("at must be a time in seconds since the epoch")
        now = self._scheduler.now()
        if not now - 86400 <= at <= now + MAX_AHEAD_S:
            raise SkillError("at must be between yesterday and five years from now")
        return float(at)

    @staticmethod
    def _id(item_id: Any) -> str:
        if not isinstance(item_id, str) or not item_id or len(item_id) > 100:
            raise SkillError("an item's id is the string the scheduler gave it")
        return item_id

    def _theirs(self, item_id: Any) -> None:
        """Refuse an alarm or reminder of someone else's as if it did not exist (a skill cannot probe
        for them): the skill acts for whoever asked."""
        from assistant.scheduling.items import theirs

        self._id(item_id)
        who = speaker()
        alarms = [a for a in self._scheduler.alarms() if a.id == item_id and not theirs([a], who)]
        reminders = [
            r for r in self._scheduler.reminders(include_done=True) if r.id == item_id and not theirs([r], who)
        ]
        if alarms or reminders:
            raise SkillError(f"there is no {'alarm' if alarms else 'reminder'} with the id {item_id!r}")


def _recurrence(value: Any) -> Any:
    """A recurrence from its JSON: {"hour": 7, "minute": 30, "weekdays": [0, 1, 2, 3, 4]} (None: once)."""
    if value is None:
        return None
    from assistant.language.spoken_time import EVERY_DAY, Recurrence

    if not isinstance(value, dict) or not set(value) <= {"hour", "minute", "weekdays"}:
        raise SkillError('recurrence must be {"hour", "minute", "weekdays"}')
    hour: Any = value.get("hour")
    minute: Any = value.get("minute", 0)
    days: Any = value.get("weekdays")
    if days is not None and not isinstance(days, list):
        raise SkillError("recurrence: weekdays is a list of days, 0 (Monday) to 6")
    numbers = [hour, minute, *(days or [])]
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise SkillError("recurrence: hour, minute and weekdays are whole numbers")
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and all(0 <= d <= 6 for d in days or [])):
        raise SkillError("recurrence: hour 0-23, minute 0-59, weekdays 0 (Monday) to 6")
    if days is not None and not days:
        raise SkillError("recurrence: weekdays, when given, names at least one day")
    return Recurrence(hour, minute, frozenset(days) if days is not None else EVERY_DAY)
