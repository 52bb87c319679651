"""What the scheduler keeps: timers (they count elapsed time), alarms and reminders (wall-clock
times), and what the ringer is told when one comes due. Plain frozen dataclasses, stored as they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

from assistant.language.spoken_time import Recurrence
from assistant.plugins.api import Speaker


@dataclass(frozen=True)
class Timer:
    id: str
    name: str | None
    duration_s: float
    started_at: float
    """Wall clock, seconds since the epoch."""
    ends_at: float | None = None
    """When it rings; None while paused."""
    left_s: float | None = None
    """Time left while paused."""
    ringing_since: float | None = None
    room: str | None = None
    """The room it was set in (a satellite's): it rings there."""
    owner: str | None = None
    """Who set it, told by their voice: it rings with their name. Anyone may ask about it or stop it
    (a timer is the kitchen's: whoever is there asks how long the pasta has)."""
    boot: str | None = None
    frame: float | None = None
    """The wall clock less elapsed time (Clock.elapsed) on this boot when the times above were
    written. A timer counts elapsed time, so when the wall clock is set the difference moves, and
    the timer's times move with it; alarms and reminders keep their wall-clock times."""

    @property
    def due_at(self) -> float:
        """When it rings; for a paused timer, when it would have rung without the pause (for ordering only:
        a paused timer is not planned)."""
        return self.ends_at if self.ends_at is not None else self.started_at + self.duration_s

    @property
    def paused(self) -> bool:
        return self.ends_at is None

    def remaining(self, now: float) -> float:
        if self.ends_at is None:
            return max(0.0, self.left_s or 0.0)
        return max(0.0, self.ends_at - now)


@dataclass(frozen=True)
class Alarm:
    id: str
    at: float
    """Next time it rings (epoch)."""
    label: str | None = None
    hour: int | None = None
    minute: int | None = None
    weekdays: list[int] | None = None
    """Set for a recurring alarm: every one of these weekdays (0 = Monday) at hour:minute."""
    snoozed_until: float | None = None
    ringing_since: float | None = None
    owner: str | None = None
    """Whose it is: the enrolled person who set it by voice (it rings with their name, and only they
    and typed requests list or delete it); None: the household's."""

    @property
    def recurrence(self) -> Recurrence | None:
        if self.weekdays is None or self.hour is None or self.minute is None:
            return None
        return Recurrence(self.hour, self.minute, frozenset(self.weekdays))

    @property
    def due_at(self) -> float:
        return self.snoozed_until if self.snoozed_until is not None else self.at


@dataclass(frozen=True)
class Reminder:
    id: str
    text: str
    at: float
    done_at: float | None = None
    """When it was announced (or missed); done reminders stay for the day's list."""
    missed: bool = False
    owner: str | None = None
    """Whose it is: the enrolled person who asked for it by voice; None: the household's."""

    @property
    def due_at(self) -> float:
        return self.at


def theirs(items: list[ItemT], heard: Speaker | None) -> list[ItemT]:
    """The alarms or reminders (or timers) of whoever asks: their own and the household's (a voice nobody
    enrolled: the household's only); all of them when the voice is not told (typed, a routine,
    nobody enrolled)."""
    if heard is None:
        return items
    name = heard.name.casefold() if heard.name is not None else None
    return [i for i in items if i.owner is None or i.owner.casefold() == name]


Item = Timer | Alarm | Reminder
ItemT = TypeVar("ItemT", bound=Item)
Kind = Literal["timer", "alarm", "reminder"]
_KINDS: dict[Kind, type[Timer] | type[Alarm] | type[Reminder]] = {"timer": Timer, "alarm": Alarm, "reminder": Reminder}


@dataclass(frozen=True)
class Due:
    """What the ringer is told: the item, and why."""

    kind: Kind
    item: Item
    reason: Literal["ring", "missed"] = "ring"
    repeat: int = 0
    """0 for the first ring, then 1, 2 … for the repeats."""
