"""The scheduler permission as a sandboxed skill gets it: the core's own timers, alarms and reminders,
used for whoever asked.

What a sandboxed skill sets belongs to the person whose request its tool is serving (`speaker_name()`,
told by their voice or their phone), never to a name the skill chooses: a skill that could name the
owner could put a reminder under anyone's name, say it to them as their own, and keep that name from
being learned by a new voice (app/kept.py). For the same reason it sees and touches that person's
alarms and reminders and the household's, never another person's, and outside a tool call (while it
starts, or lists its names as someone speaks) or for a request nobody was told for (typed, a routine
on a schedule), the household's only. Timers are the kitchen's: it sees them all, but not who set
them. What comes back names nobody (`mine` instead of `owner`) and no machine (no boot id).

Each value crossing from the skill is checked here: JSON allows NaN and Infinity, a timer that ends at
NaN never rings, and one pushed past the year 9999 breaks every list of timers.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from assistant.core.errors import SkillError
from assistant.language.spoken_time import EVERY_DAY, Recurrence
from assistant.plugins.api import Speaker, speaker_name
from assistant.plugins.remote import SERVING
from assistant.scheduling.items import theirs

if TYPE_CHECKING:
    from assistant.scheduling.items import Alarm, Item, ItemT, Reminder
    from assistant.scheduling.scheduler import Scheduler

MAX_TEXT = 500
"""Characters in a reminder's words or a timer's or alarm's name."""
MAX_AHEAD_S = 5 * 366 * 86400.0
"""How far ahead anything may be set, and how long a timer may run in all: five years."""
MAX_SET = 50
"""Timers, alarms and reminders one skill may have set at once: each rings, and a skill setting
thousands would bury the household's own under its announcements."""
HIDDEN = ("owner", "boot", "frame")
"""What an item's record holds that a skill is not told: who set it, and this machine's boot id."""


def _number(value: Any) -> float | None:
    """A finite number from JSON, or None (a bool, NaN, Infinity, an int of 400 digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _seconds(value: Any, what: str, lowest: float = 1.0) -> float:
    seconds = _number(value)
    if seconds is None:
        raise SkillError(f"{what} must be a number of seconds")
    if not lowest <= seconds <= MAX_AHEAD_S:
        raise SkillError(f"{what} must be between {lowest:g} s and five years")
    return seconds


_NOT_IN_A_LINE = frozenset({"Cc", "Cs", "Zl", "Zp"})
"""Control characters (NUL, a newline), lone surrogates (JSON carries them; nothing after can say
them) and line or paragraph separators."""


def _text(value: Any, what: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_TEXT
        or any(unicodedata.category(c) in _NOT_IN_A_LINE for c in value)
    ):
        raise SkillError(f"{what} must be words on one line, at most {MAX_TEXT} characters")
    return value


def _id(item_id: Any) -> str:
    if not isinstance(item_id, str) or not item_id or len(item_id) > 100:
        raise SkillError("an item's id is the string the scheduler gave it")
    return item_id


class SkillScheduler:
    """The scheduler permission: timers for anyone, alarms and reminders of whoever asked."""

    def __init__(self, scheduler: Scheduler, skill: str = "") -> None:
        self._scheduler = scheduler
        self._skill = skill
        self._set: set[str] = set()
        """The ids of what this skill set (while the assistant runs)."""

    # --- reading ------------------------------------------------------------------------------

    def now(self) -> float:
        return self._scheduler.now()

    def timers(self) -> list[dict[str, Any]]:
        return [self._record(t) for t in self._scheduler.timers()]

    def alarms(self) -> list[dict[str, Any]]:
        """The alarms of whoever asked, and the household's."""
        return [self._record(a) for a in theirs(self._scheduler.alarms(), self._asking())]

    def reminders(self, include_done: bool = False) -> list[dict[str, Any]]:
        """The reminders of whoever asked, and the household's."""
        reminders = self._scheduler.reminders(include_done=include_done is True)
        return [self._record(r) for r in theirs(reminders, self._asking())]

    # --- setting ------------------------------------------------------------------------------

    def add_timer(self, duration_s: float, name: str | None = None, room: str | None = None) -> dict[str, Any]:
        """A timer of whoever asked: it rings with their name."""
        duration, called, room = _seconds(duration_s, "duration_s"), _text(name, "name"), _text(room, "room")
        self._room_for_one_more()
        return self._record(self._added(self._scheduler.add_timer(duration, called, room, owner=self._asker())))

    def set_duration(self, timer_id: str, duration_s: float) -> dict[str, Any] | None:
        return self._wire(self._scheduler.set_duration(_id(timer_id), _seconds(duration_s, "duration_s")))

    def extend(self, timer_id: str, seconds: float) -> dict[str, Any] | None:
        timer_id, seconds = _id(timer_id), _seconds(seconds, "seconds")
        timer = next((t for t in self._scheduler.timers() if t.id == timer_id), None)
        if timer is not None and timer.duration_s + seconds > MAX_AHEAD_S:
            raise SkillError("a timer may run five years in all")
        return self._wire(self._scheduler.extend(timer_id, seconds))

    def pause(self, timer_id: str) -> dict[str, Any] | None:
        return self._wire(self._scheduler.pause(_id(timer_id)))

    def resume(self, timer_id: str) -> dict[str, Any] | None:
        return self._wire(self._scheduler.resume(_id(timer_id)))

    def add_alarm(self, at: float, label: str | None = None, recurrence: Any = None) -> dict[str, Any]:
        """An alarm of whoever asked. recurrence: None, or {"hour", "minute", "weekdays": [0 = Monday …]}."""
        when, called, repeats = self._when(at), _text(label, "label"), _recurrence(recurrence)
        self._room_for_one_more()
        return self._record(self._added(self._scheduler.add_alarm(when, called, repeats, self._asker())))

    def snooze(self, alarm_id: str, seconds: float | None = None) -> dict[str, Any] | None:
        if not self._theirs(alarm_id):
            return None
        return self._wire(self._scheduler.snooze(alarm_id, None if seconds is None else _seconds(seconds, "seconds")))

    def add_reminder(self, text: str, at: float) -> dict[str, Any]:
        """A reminder of whoever asked: it is said to them, by name."""
        words, when = _text(text, "text", required=True) or "", self._when(at)
        self._room_for_one_more()
        return self._record(self._added(self._scheduler.add_reminder(words, when, owner=self._asker())))

    # --- stopping ------------------------------------------------------------------------------

    def cancel(self, item_id: str) -> dict[str, Any] | None:
        return self._wire(self._scheduler.cancel(item_id)) if self._theirs(item_id) else None

    def stop_ringing(self, item_id: str) -> dict[str, Any] | None:
        return self._wire(self._scheduler.stop_ringing(item_id)) if self._theirs(item_id) else None

    # --- how many -----------------------------------------------------------------------------

    def _room_for_one_more(self) -> None:
        items: list[Item] = [*self._scheduler.timers(), *self._scheduler.alarms(), *self._scheduler.reminders()]
        live = {i.id for i in items}
        self._set &= live
        if len(self._set) >= MAX_SET:
            raise SkillError(
                f"{f'the {self._skill} skill' if self._skill else 'this skill'} has {MAX_SET} timers, alarms and reminders set already: "
                "cancel some before setting more"
            )

    def _added(self, item: ItemT) -> ItemT:
        self._set.add(item.id)
        return item

    # --- whose --------------------------------------------------------------------------------

    @staticmethod
    def _asker() -> str | None:
        """The person whose request the skill's tool is serving; None outside a tool call, and for a
        request nobody was told for."""
        return speaker_name() if SERVING.get() else None

    def _asking(self) -> Speaker:
        """The asker as `theirs` takes them: nobody named outside a tool call, or when nobody was
        told (typed, a routine on a schedule), which is the household's items only."""
        return Speaker(self._asker(), "")

    def _theirs(self, item_id: Any) -> bool:
        """Whether the skill may stop or snooze this item: a timer, or an alarm or reminder it may see.
        Another person's is answered as a missing one is (None), so a skill cannot probe for them."""
        _id(item_id)
        owned: list[Alarm | Reminder] = [*self._scheduler.alarms(), *self._scheduler.reminders(include_done=True)]
        same = [i for i in owned if i.id == item_id]
        return theirs(same, self._asking()) == same

    def _wire(self, item: Item | None) -> dict[str, Any] | None:
        return None if item is None else self._record(item)

    def _record(self, item: Item) -> dict[str, Any]:
        """An item as the skill is told it: `mine` (set by whoever asked) instead of whose it is."""
        record = {f.name: getattr(item, f.name) for f in fields(item) if f.name not in HIDDEN}
        record["mine"] = item.owner is not None and bool(theirs([item], self._asking()))
        return record

    def _when(self, at: Any) -> float:
        when = _number(at)
        if when is None:
            raise SkillError("at must be a time in seconds since the epoch")
        now = self._scheduler.now()
        if not now <= when <= now + MAX_AHEAD_S:
            raise SkillError("at must be between now and five years from now")
        return when


def _recurrence(value: Any) -> Recurrence | None:
    """A recurrence from its JSON: {"hour": 7, "minute": 30, "weekdays": [0, 1, 2, 3, 4]} (None: once)."""
    if value is None:
        return None
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
