"""Kitchen timers: start with a duration (and maybe a name), pause, resume, add time, ask what is
left, cancel; a done timer rings until someone says stop.

A timer that was named but is not running is never taken for another one: "cancel the eggs timer",
planned without the name it does not know, is "There's no eggs timer.", not the pasta timer cancelled."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from assistant.language.lists import and_list, counted
from assistant.language.numbers import find_numbers
from assistant.plugins.api import Permission, Range, Skill, SkillContext, ToolResult, said, speaker_name, tool
from assistant.plugins.where import here
from assistant.scheduling.items import Due, Timer
from assistant.scheduling.scheduler import Scheduler


def spoken_duration(seconds: float) -> str:
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    for value, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if value:
            parts.append(f"{value} {unit}{'' if value == 1 else 's'}")
    if not parts:
        return "0 seconds"
    return and_list(parts)


def _which(timers: list[Timer], verb: str, data: dict[str, Any], now: float) -> ToolResult:
    """The question when a request fits several timers: "You have a pasta timer and an eggs timer.
    Which one should I pause?". Never a question whose answers sound the same: timers a person
    cannot tell apart by what they are called (two unnamed 5 minute timers) are said with their
    time left, and how to get out of it instead."""
    labels = [timer_label(t) for t in timers]
    data = {**data, "ambiguous": [t.id for t in timers]}
    if len(set(labels)) < len(labels):
        left = " and ".join(f"{_a(timer_label(t))} with {spoken_duration(t.remaining(now))} left" for t in timers)
        return ToolResult(
            f"You have {left}, and I can't tell which one you mean by their names. "
            f"Say 'cancel all timers', or give timers names when you set them, like 'set a pasta timer "
            f"for 5 minutes'.",
            data,
            ok=False,
        )
    return ToolResult(
        f"You have {and_list([_a(label) for label in labels])}. Which one should I {verb}?", data, ok=False
    )


def _a(label: str) -> str:
    """ "a pasta timer", "an eggs timer", "an 8 minute timer"."""
    return f"{'an' if re.match(r'[aeio]|8|11 |18 |hour', label) else 'a'} {label}"


def timer_label(timer: Timer) -> str:
    """ "pasta timer" or "5 minute timer": how a person tells timers apart."""
    if timer.name:
        return f"{timer.name} timer"
    return f"{size_label(int(round(timer.duration_s)))} timer"


def size_label(total: int) -> str:
    """ "5 minute", "1 hour", "1 minute and 30 seconds": a timer's length as it is called."""
    for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")):
        if total % size == 0:
            return f"{total // size} {unit}"
    return spoken_duration(total)


Hours = Annotated[int | None, Range(0, 24)]
Minutes = Annotated[int | None, Range(0, 1440)]
Seconds = Annotated[int | None, Range(0, 86400)]


_NOT_A_NAME = re.compile(r"\b(hours?|minutes?|seconds?|\d+)\b|^(my |a |the )?(count ?down|timer ?\d*|alert.*)$")


_WHICH = re.compile(r"\b(?:the|my|your|that) (?P<which>[a-z0-9' ]+?) timer\b")
"""A timer a request names: "the eggs timer", "my 5 minute timer"."""


_ADDING = re.compile(r"\b(more|extra|another|longer|add|plus)\b")
"""Words that ask for time added to a timer, not for a new length: only the extend templates use them."""


def says_adding(request: str) -> bool:
    """Whether `request` asks for time added ("five more minutes", "another ten")."""
    return _ADDING.search(request.lower()) is not None


def said_timer(request: str) -> tuple[str | None, dict[str, int]]:
    """The timer a request names by name or by size: ("eggs", {}) or (None, {"minutes": 5})."""
    found = _WHICH.search(re.sub(r"[^a-z0-9' ]+", " ", request.lower()))
    if found is None:
        return None, {}
    which = found.group("which").strip()
    name = timer_name(which)
    if name is not None:
        return name, {}
    words = which.split()
    size: dict[str, int] = {}
    for span in find_numbers(words):
        unit = words[span.end].removesuffix("s") if span.end < len(words) else ""
        if unit not in ("hour", "minute", "second"):
            return None, {}
        size[f"{unit}s"] = span.value
    return None, size


_WORD = r"(?!(?:a|an|the|my|for|of|called|named)\b)[a-z']+"
_NAME = rf"(?P<name>{_WORD}(?: {_WORD})?)"
_NAMED = (
    re.compile(rf"\b(?:a|an|the|my) {_NAME} timer\b"),
    re.compile(rf"\btimer (?:for|called|named) (?:the |my )?{_NAME}(?= for | of |$)"),
    re.compile(rf"\b(?:hours?|minutes?|seconds?) (?:for|called|named) (?:the |my )?{_NAME}$"),
)
"""Where a request to start a timer says its name: "a pasta timer", "a timer for pasta for 10
minutes", "a timer for 10 minutes called pasta"."""


def named_in(request: str) -> str | None:
    """The timer name a start request says, or None ("a 5 minute timer", "a timer" say none)."""
    text = " ".join(re.sub(r"[^a-z0-9' ]+", " ", request.lower()).split())
    for pattern in _NAMED:
        for found in pattern.finditer(text):
            name = timer_name(found.group("name"))
            # "a timer for ten minuets": a number said where a name would be is a misheard duration
            if (
                name is not None
                and name not in ("new", "second", "another", "other", "kitchen timer")
                and not find_numbers(name.split())
            ):
                return name
    return None


def timer_name(name: str | None) -> str | None:
    """What a person would call the timer, or None: a duration or "timer1" is not a name."""
    if not name:
        return None
    name = name.strip().lower().replace("_", " ")
    return None if _NOT_A_NAME.search(name) or len(name.split()) > 3 else name


class TimerSkill(Skill):
    name = "timer"
    description = "Kitchen timers that ring and speak when they are done."
    permissions = frozenset({Permission.SCHEDULER})

    MAX_SECONDS = 24 * 3600

    def __init__(self, context: SkillContext) -> None:
        super().__init__(context)
        self.scheduler: Scheduler = context.needs(Permission.SCHEDULER, Scheduler)

    def slot_values(self) -> dict[str, list[str]]:
        return {"timer_name": sorted({t.name for t in self.scheduler.timers() if t.name})}

    def vocabulary(self) -> list[str]:
        return ["timer", *sorted({t.name for t in self.scheduler.timers() if t.name})]

    def _select(self, name: str | None, hours: int | None, minutes: int | None, seconds: int | None) -> list[Timer]:
        timers = self.scheduler.timers()
        if name:
            wanted = name.lower().removesuffix(" timer").strip()
            timers = [t for t in timers if t.name and t.name.lower() == wanted]
        if hours or minutes or seconds:
            size = (hours or 0) * 3600 + (minutes or 0) * 60 + (seconds or 0)
            timers = [t for t in timers if int(round(t.duration_s)) == size]
        return timers

    def _settle_which(self, args: dict[str, Any]) -> dict[str, Any]:
        """The timer the request named ("the eggs timer", "the 5 minute timer"), when the call names
        none: a timer said but not running is not found, never taken for another."""
        if args.get("name") or any(args.get(u) for u in ("hours", "minutes", "seconds")):
            return args
        name, size = said_timer(said())
        return {**args, "name": name} if name else {**args, **size}

    def _settle_name(self, args: dict[str, Any]) -> dict[str, Any]:
        """The timer the request named, by name, when the call names none (its durations say how
        long, not which timer)."""
        if args.get("name"):
            return args
        name, _ = said_timer(said())
        return {**args, "name": name} if name else args

    JUST_SET_S = 60.0
    """A timer started this recently is the one an unnamed follow-up means ("add five more minutes")."""

    def _one(
        self, name: str | None, verb: str, prefer: Callable[[Timer], bool] | None = None
    ) -> tuple[list[Timer], ToolResult | None]:
        """The one timer a request means, or the reply saying why there is none, or asking which
        ("You have a pasta timer and an eggs timer. Which one should I pause?"). `prefer`: the
        timers the request can only mean when there are several (a paused one, to resume)."""
        timers = self._the_one(name, prefer)
        if not timers:
            return [], ToolResult(self._not_found(name), {"timer_id": None}, ok=False)
        if len(timers) > 1:
            return [], _which(timers, verb, {"timer_id": None}, self.scheduler.now())
        return timers, None

    def _the_one(self, name: str | None, prefer: Callable[[Timer], bool] | None = None) -> list[Timer]:
        """The timer a follow-up means: the named one, else the only one, else the ringing one, else
        the one just set. Several otherwise: changing the newest of three was a guess."""
        timers = self._select(name, None, None, None)
        if prefer is not None and len(timers) > 1:
            timers = [t for t in timers if prefer(t)] or timers
        if name or len(timers) <= 1:
            return timers
        ringing = [t for t in timers if t.ringing_since is not None]
        if ringing:
            return ringing[:1]
        newest = max(timers, key=lambda t: t.started_at)
        return [newest] if self.scheduler.now() - newest.started_at <= self.JUST_SET_S else timers

    def _not_found(self, name: str | None = None, size: int = 0) -> str:
        """Why no timer is meant, in the words it was asked for by: "There's no eggs timer."."""
        if not self.scheduler.timers():
            return "There's no timer running."
        if name:
            return f"There's no {name.lower().removesuffix(' timer').strip()} timer."
        if size:
            return f"There's no {size_label(size)} timer."
        return "I can't find that timer."

    def _settle_start(self, args: dict[str, Any]) -> dict[str, Any]:
        """The name the request said ("a timer for pasta", "the pasta timer"), when the call has
        none: a said name is never dropped."""
        if timer_name(args.get("name")):
            return args
        name = named_in(said())
        return {**args, "name": name} if name else args

    @tool(require_any=("hours", "minutes", "seconds"), ask="For how long?", settle="_settle_start")
    def start(
        self,
        hours: Hours = None,
        minutes: Minutes = None,
        seconds: Seconds = None,
        name: Annotated[str | None, "what the timer is for, e.g. pasta"] = None,
    ) -> ToolResult:
        """Start a countdown timer for a duration, optionally with a name."""
        total = (hours or 0) * 3600 + (minutes or 0) * 60 + (seconds or 0)
        if total <= 0:
            return ToolResult("For how long should the timer run?", {"error": "no_duration"}, ok=False)
        if total > self.MAX_SECONDS:
            return ToolResult("I can only set timers up to 24 hours.", {"error": "too_long"}, ok=False)
        called = timer_name(name)  # "5 minute timer", "countdown": not names, the timer has none
        same = [t for t in self.scheduler.timers() if called and t.name == called]
        for done in [t for t in same if t.ringing_since is not None]:
            self.scheduler.cancel(done.id)  # it rang: the new one takes its place
        running = [t for t in same if t.ringing_since is None]
        if running:
            left = spoken_duration(running[0].remaining(self.scheduler.now()))
            return ToolResult(
                f"You already have a {called} timer, with {left} left. To change it, say 'make the "
                f"{called} timer {spoken_duration(total)}'; or give the new one another name.",
                {"error": "name_taken", "timer_id": running[0].id, "name": called},
                ok=False,
            )
        timer = self.scheduler.add_timer(total, called, room=here(), owner=speaker_name())
        what = f"{timer.name.capitalize()} timer" if timer.name else "Timer"
        return ToolResult(
            f"{what} set for {spoken_duration(total)}.",
            {"timer_id": timer.id, "duration_s": total, "name": timer.name, "due_at": timer.due_at},
        )

    @tool(require_any=("hours", "minutes", "seconds"), ask="For how long should it run?", settle="_settle_name")
    def change(
        self,
        hours: Hours = None,
        minutes: Minutes = None,
        seconds: Seconds = None,
        name: Annotated[str | None, "name of a running timer"] = None,
    ) -> ToolResult:
        """Change how long a running timer runs, e.g. "make it ten minutes instead"."""
        timers, missing = self._one(name, "change")
        if missing:
            return missing
        total = (hours or 0) * 3600 + (minutes or 0) * 60 + (seconds or 0)
        if says_adding(said()):
            # "And 5 more minutes to the pasta" (misheard "add") was planned as a change: setting the
            # pasta timer to 5 minutes would undo what it had left. Asked, never guessed.
            span, label = spoken_duration(total), timer_label(timers[0])
            return ToolResult(
                f"Should I add {span} to the {label}, or make it {span} long? Say 'add {span}' or 'make it {span}'.",
                {"changed": [], "ambiguous": "add_or_set"},
                ok=False,
            )
        if total > self.MAX_SECONDS:
            return ToolResult("I can only set timers up to 24 hours.", {"error": "too_long"}, ok=False)
        timer = self.scheduler.set_duration(timers[0].id, total)
        if timer is None:
            return ToolResult(self._not_found(), {"changed": []}, ok=False)
        what = f"{timer.name.capitalize()} timer" if timer.name else "Timer"
        left = timer.remaining(self.scheduler.now())
        if left <= 0:
            return ToolResult(
                f"{what} changed to {spoken_duration(total)}; that time has already passed.",
                {"changed": [timer.id], "duration_s": total, "remaining_s": 0.0},
            )
        return ToolResult(
            f"{what} changed to {spoken_duration(total)}, {spoken_duration(left)} left.",
            {"changed": [timer.id], "duration_s": total, "remaining_s": round(left, 1)},
        )

    @tool(reads=True, settle="_settle_which")
    def status(
        self, name: str | None = None, hours: int | None = None, minutes: int | None = None, seconds: int | None = None
    ) -> ToolResult:
        """Say how much time is left on the timers."""
        timers = self._select(name, hours, minutes, seconds)
        if not timers:
            return ToolResult(
                self._not_found(name, _seconds(hours, minutes, seconds)), {"timers": []}, ok=not self.scheduler.timers()
            )
        now = self.scheduler.now()

        def state(t: Timer) -> str:
            if t.ringing_since is not None:
                return f"your {timer_label(t)} is done"
            paused = " (paused)" if t.paused else ""
            return f"{spoken_duration(t.remaining(now))} left on your {timer_label(t)}{paused}"

        text = "; and ".join(state(t) for t in timers)
        text = ("There's " + text if not text.startswith("your") else text[0].upper() + text[1:]) + "."
        return ToolResult(
            text,
            {
                "timers": [
                    {
                        "timer_id": t.id,
                        "name": t.name,
                        "remaining_s": round(t.remaining(now), 1),
                        "paused": t.paused,
                        "ringing": t.ringing_since is not None,
                    }
                    for t in timers
                ]
            },
        )

    @tool(settle="_settle_which")
    def cancel(
        self, name: str | None = None, hours: int | None = None, minutes: int | None = None, seconds: int | None = None
    ) -> ToolResult:
        """Cancel one timer, chosen by its name or duration (a ringing one when none is named)."""
        timers = self._select(name, hours, minutes, seconds)
        ringing = [t for t in timers if t.ringing_since is not None]
        if len(timers) > 1 and ringing and not (name or hours or minutes or seconds):
            timers = ringing[:1]
        if not timers:
            return ToolResult(self._not_found(name, _seconds(hours, minutes, seconds)), {"cancelled": []}, ok=False)
        if len(timers) > 1:
            return _which(timers, "cancel", {"cancelled": []}, self.scheduler.now())
        self.scheduler.cancel(timers[0].id)
        return ToolResult(f"Your {timer_label(timers[0])} is cancelled.", {"cancelled": [timers[0].id]})

    @tool(require_any=("hours", "minutes", "seconds"), ask="How much time should I add?", settle="_settle_name")
    def extend(
        self,
        hours: Hours = None,
        minutes: Minutes = None,
        seconds: Seconds = None,
        name: Annotated[str | None, "name of a running timer"] = None,
    ) -> ToolResult:
        """Add time to a running timer, e.g. "add five minutes to the pasta timer", "five more minutes"."""
        timers, missing = self._one(name, "add time to")
        if missing:
            return missing
        add = (hours or 0) * 3600 + (minutes or 0) * 60 + (seconds or 0)
        timer = self.scheduler.extend(timers[0].id, add)
        if timer is None:
            return ToolResult(self._not_found(), {"timer_id": None}, ok=False)
        what = f"{timer.name.capitalize()} timer" if timer.name else "Timer"
        left = timer.remaining(self.scheduler.now())
        return ToolResult(
            f"Added {spoken_duration(add)}. {what}: {spoken_duration(left)} left.",
            {"timer_id": timer.id, "remaining_s": round(left, 1)},
        )

    @tool(settle="_settle_name")
    def pause(self, name: Annotated[str | None, "name of a running timer"] = None) -> ToolResult:
        """Pause a running timer."""
        timers, missing = self._one(name, "pause", lambda t: not t.paused)
        if missing:
            return missing
        timer = self.scheduler.pause(timers[0].id)
        if timer is None or not timer.paused:
            return ToolResult("That timer is already done.", {"timer_id": timers[0].id}, ok=False)
        return ToolResult(
            f"Paused your {timer_label(timer)}, {spoken_duration(timer.remaining(0))} left.",
            {"timer_id": timer.id, "remaining_s": round(timer.remaining(0), 1)},
        )

    @tool(settle="_settle_name")
    def resume(self, name: Annotated[str | None, "name of a paused timer"] = None) -> ToolResult:
        """Resume a paused timer."""
        timers, missing = self._one(name, "resume", lambda t: t.paused)
        if missing:
            return missing
        was_paused = timers[0].paused
        timer = self.scheduler.resume(timers[0].id)
        if timer is None:
            return ToolResult(self._not_found(name), {"timer_id": None}, ok=False)
        left = timer.remaining(self.scheduler.now())
        if not was_paused:
            return ToolResult(
                f"Your {timer_label(timer)} is running, {spoken_duration(left)} left.", {"timer_id": timer.id}
            )
        return ToolResult(
            f"Resumed your {timer_label(timer)}, {spoken_duration(left)} left.",
            {"timer_id": timer.id, "remaining_s": round(left, 1)},
        )

    @tool(risky=True, confirm="Cancel all your timers?")
    def clear_all(self) -> ToolResult:
        """Cancel all timers at once: only when the person says all or every timer."""
        timers = self.scheduler.timers()
        for t in timers:
            self.scheduler.cancel(t.id)
        if not timers:
            return ToolResult("There's no timer running.", {"cancelled": []})
        return ToolResult(f"Cancelled {counted(len(timers), 'timer')}.", {"cancelled": [t.id for t in timers]})

    def due_speech(self, due: Due) -> str | None:
        if not isinstance(due.item, Timer):
            return None
        owner = f"{due.item.owner}, your" if due.item.owner else "Your"
        return f"{owner} {timer_label(due.item)} is done."


def _seconds(hours: int | None, minutes: int | None, seconds: int | None) -> int:
    return (hours or 0) * 3600 + (minutes or 0) * 60 + (seconds or 0)
