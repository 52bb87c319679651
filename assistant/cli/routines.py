"""`assistant routines list|run NAME|validate [FILE]|history NAME`, each with `--json` and `--data-dir`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.core.bus import Bus
from assistant.core.config import Config
from assistant.core.errors import CommandLineError
from assistant.routines.workflows import RoutineError, load_routine, routine_row


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser("routines", help="list, run, validate routines, and show their history")
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (
        ("list", "the loaded routines and their triggers"),
        ("run", "run one now, printing what it says"),
        ("validate", "check one file (exit 0: valid, 2: the reason), or every routine"),
        ("history", "past runs of one routine, step by step"),
    ):
        a = actions.add_parser(name, help=text)
        if name in ("run", "history"):
            a.add_argument("name", help="the routine's name, e.g. 'good morning'")
        if name == "validate":
            a.add_argument("file", nargs="?", type=Path, help="a routine YAML file; none: all that are loaded")
        a.add_argument("--json", action="store_true", help="JSON instead of text")
        common(a)


def run(args: argparse.Namespace, config: Config, data_dir: Path) -> int:
    from assistant.app.runtime import build_core

    core = build_core(config, data_dir, Bus())
    host = core.routines
    if args.action == "validate":
        return _validate(args, core)
    if args.action == "list":
        rows = [routine_row(r, host.enabled(r.name)) for r in host.routines.values()]
        if args.json:
            print(json.dumps({"routines": rows, "errors": [e.message for e in host.errors]}, indent=1))
        else:
            for row in rows:
                triggers = ", ".join(f"{t['kind']} {t['value']}" for t in row["triggers"]) or "run by name only"
                off = "" if row["enabled"] else " (disabled: runs only when asked)"
                print(
                    f"{row['name']}{off}: {row['description'] or '(no description)'} [{triggers}] steps: {', '.join(row['steps'])}"
                )
            for error in host.errors:
                print(f"not loaded: {error.message}")
        return 0
    routine = host.get(args.name)
    if routine is None:
        raise CommandLineError(f"no routine '{args.name}'; `assistant routines list` shows them", code="not_found")
    if args.action == "history":
        runs = host.runner.history(routine.name)
        if args.json:
            print(json.dumps(runs, indent=1))
        for r in [] if args.json else runs:
            when = dt.datetime.fromtimestamp(r["started_at"]).isoformat(timespec="seconds")
            steps = ", ".join(f"{s.id} {r['steps'].get(s.id, {}).get('state', '?')}" for s in routine.steps)
            print(f"{when}  {r['run_id']}  {r['trigger']}  {r['state']}: {steps}")
        return 0

    async def speak(text: str) -> None:
        if not args.json:
            print(text, flush=True)

    async def go() -> dict[str, Any]:
        await core.registry.start_all()
        try:
            return await host.runner.run(routine, "manual", speak)
        finally:
            await core.registry.stop_all()

    return print_result(args, asyncio.run(go()))


def print_result(args: argparse.Namespace, result: dict[str, Any]) -> int:
    """A run's outcome as `routines run` prints it, whether this process or the running assistant ran it."""
    if args.json:
        print(json.dumps(result, indent=1))
    return 0 if result.get("state") == "done" else 1


def _validate(args: argparse.Namespace, core: Any) -> int:
    if args.file is None:
        errors = [e.message for e in core.routines.errors]
        valid = sorted(r.name for r in core.routines.routines.values())
        if args.json:
            print(json.dumps({"valid": valid, "errors": errors}, indent=1))
        else:
            for name in valid:
                print(f"ok: {name}")
            for message in errors:
                print(message)
        return 2 if errors else 0
    try:
        routine = load_routine(args.file, core.registry.tool)
    except RoutineError as e:
        if args.json:
            print(json.dumps({"valid": False, "file": e.path, "line": e.line, "reason": e.reason}))
        else:
            print(e.message)
        return 2
    print(json.dumps({"valid": True, "name": routine.name}) if args.json else f"ok: {routine.name}")
    return 0
