"""The scheduler's items as the command line prints them, the phone page shows them and a cancel
from a shell returns them: records (JSON) and one-line summaries."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from assistant.core.errors import ScheduleError
from assistant.language.spoken_time import spoken_clock
from assistant.scheduling.items import Alarm, Item, Reminder, Timer
from assistant.scheduling.scheduler import Scheduler

KINDS = {"timers": "timer", "alarms": "alarm", "reminders": "reminder"}
"""The commands (`assistant timers …`) and the kind of item each lists."""


def cancel(scheduler: Scheduler, command: str, ident: str) -> dict[str, Any]:
    """Cancel one item of `command`'s kind ("timers") by its id, or a timer by its name: its record
    and its line, as printed."""
    kind = KINDS[command] if command in KINDS else None
    if kind is None:
        raise ScheduleError(f"there is nothing to cancel called {command}", code="usage")
    wanted = [i for i in items(scheduler, kind) if i.id == ident or (isinstance(i, Timer) and i.name == ident)]
    if not wanted:
        raise ScheduleError(f"no {kind} '{ident}'; `assistant {command} list` shows them", code="not_found")
    removed = scheduler.cancel(wanted[0].id)
    if removed is None:  # it rang and went in the moment between
        raise ScheduleError(f"the {kind} '{ident}' is already over", code="not_found")
    return {"record": record(scheduler, removed), "line": line(scheduler, removed)}


def items(scheduler: Scheduler, kind: str) -> list[Item]:
    if kind == "timer":
        return list(scheduler.timers())
    if kind == "alarm":
        return list(scheduler.alarms())
    return list(scheduler.reminders(include_done=True))


def record(scheduler: Scheduler, item: Item) -> dict[str, Any]:
    record = {k: v for k, v in asdict(item).items() if k not in ("boot", "frame")}  # the clock's bookkeeping
    record["due"] = (
        None if isinstance(item, Timer) and item.paused else scheduler.local(item.due_at).isoformat(timespec="seconds")
    )
    if isinstance(item, Timer):
        record["remaining_s"] = round(item.remaining(scheduler.now()), 1)
    return record


def line(scheduler: Scheduler, item: Item) -> str:
    due = scheduler.local(item.due_at)
    when = f"{due:%a %d %b} {spoken_clock(due.hour, due.minute)}"
    if isinstance(item, Timer):
        state = "paused" if item.paused else "ringing" if item.ringing_since else f"rings {due:%H:%M:%S}"
        left = round(item.remaining(scheduler.now()))
        return f"{item.id}  {item.name or '(no name)'}  {left} s left  {state}"
    if isinstance(item, Alarm):
        rule = item.recurrence
        return f"{item.id}  {when}  {rule.describe() if rule else 'once'}{f'  {item.label}' if item.label else ''}"
    assert isinstance(item, Reminder)
    state = "missed" if item.missed else "done" if item.done_at else "coming"
    return f"{item.id}  {when}  {item.text}  ({state})"
