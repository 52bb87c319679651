"""`assistant timers|alarms|reminders list|cancel`: the scheduler's items from a shell, as text or
`--json`, without starting the assistant (the data directory is read and written crash-safely)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.core.config import Config
from assistant.scheduling.records import KINDS, cancel, items, line, record
from assistant.scheduling.scheduler import Scheduler


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    for command, kind in KINDS.items():
        p = sub.add_parser(command, help=f"list or cancel {command}")
        actions = p.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help=f"every {kind}, soonest first")
        listing.add_argument("--json", action="store_true", help="one JSON array instead of text")
        common(listing)
        cancel = actions.add_parser("cancel", help=f"remove one {kind}")
        cancel.add_argument(
            "id",
            help=f"the {kind}'s id (from `assistant {command} list`)" + (" or its name" if kind == "timer" else ""),
        )
        cancel.add_argument("--json", action="store_true", help="print what was removed as JSON")
        common(cancel)


def run(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    kind = KINDS[args.command]
    scheduler = Scheduler(data_dir, config.scheduler)
    listed = items(scheduler, kind)
    if args.action == "list":
        if args.json:
            print(json.dumps([record(scheduler, i) for i in listed], indent=1))
        elif not listed:
            print(f"no {args.command}")
        else:
            for item in listed:
                print(line(scheduler, item))
        return 0
    return print_cancelled(args, cancel(scheduler, args.command, args.id))


def print_cancelled(args: argparse.Namespace, cancelled: dict[str, Any]) -> int:
    print(json.dumps(cancelled["record"]) if args.json else f"cancelled: {cancelled['line']}")
    return 0
