"""`assistant timers|alarms|reminders list|cancel`: the scheduler's items from a shell, as text or
`--json`, without starting the assistant (the data directory is read and written crash-safely)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.core.config import Config
from assistant.core.errors import AssistantError
from assistant.scheduling.scheduler import Alarm, Item, Reminder, Scheduler, Timer
from assistant.language.spoken_time import spoken_clock

KINDS = {"timers": "timer", "alarms": "alarm", "reminders": "reminder"}


def add_parsers(sub: Any, common: Any) -> None:
    for command, kind in KINDS.items():
        p = sub.add_parser(command, help=f"list or cancel {command}")
        actions = p.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help=f"every {kind}, soonest first")
        listing.add_argument("--json", action="store_true", help="one JSON array instead of text")
        common(listing)
        cancel = actions.add_parser("cancel", help=f"remove one {kind}")
        cancel.add_argument("id", help=f"the {kind}'s id (from `assistant {command} list`)"
                            + (" or its name" if kind == "timer" else ""))
        cancel.add_argument("--json", action="store_true", help="print what was removed as JSON")
        common(cancel)


def run(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    kind = KINDS[args.command]
    scheduler = Scheduler(data_dir, config.scheduler)
    items = _items(scheduler, kind)
    if args.action == "list":
        if args.json:
            print(json.dumps([record(scheduler, i) for i in items], indent=1))
        elif not items:
            print(f"no {args.command}")
        else:
            for item in items:
                print(_line(scheduler, item))
        return 0
    return print_cancelled(args, cancel(scheduler, args.command, args.id))


def cancel(scheduler: Scheduler, command: str, ident: str) -> dict[str, Any]:
    """Cancel one item of `command`'s kind ("timers") by its id, or a timer by its name: its record
    and its line, as printed."""
    kind = KINDS[command] if command in KINDS else None
    if kind is None:
        raise AssistantError(f"there is nothing to cancel called {command}", code="usage")
    wanted = [i for i in _items(scheduler, kind) if i.id == ident or (isinstance(i, Timer) and i.name == ident)]
    if not wanted:
        raise AssistantError(f"no {kind} '{ident}'; `assistant {command} list` shows them", code="not_found")
    removed = scheduler.cancel(wanted[0].id)
    if removed is None:  # it rang and went in the moment between
        raise AssistantError(f"the {kind} '{ident}' is already over", code="not_found")
    return {"record": record(scheduler, removed), "line": _line(scheduler, removed)}


def print_cancelled(args: argparse.Namespace, cancelled: dict[str, Any]) -> int:
    print(json.dumps(cancelled["record"]) if args.json else f"cancelled: {cancelled['line']}")
    return 0


def _items(scheduler: Scheduler, kind: str) -> list[Item]:
    if kind == "timer":
        return list(scheduler.timers())
    if kind == "alarm":
        return list(scheduler.alarms())
    return list(scheduler.reminders(include_done=True))


def record(scheduler: Scheduler, item: Item) -> dict[str, Any]:
    record = {k: v for k, v in asdict(item).items() if k not in ("boot", "frame")}  # the clock's bookkeeping
    record["due"] = None if isinstance(item, Timer) and item.paused else scheduler.local(item.due_at).isoformat(timespec="seconds")
    if isinstance(item, Timer):
        record["remaining_s"] = round(item.remaining(scheduler.now()), 1)
    return record


def _line(scheduler: Scheduler, item: Item) -> str:
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
