"""`assistant status [--json]`: is the assistant running, and how is each of its services?

Exit status: 0 running and every service up, 1 running with a service down (or not responding),
3 not running (as `systemctl status` does).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.core.health import STALE_S, age_s, read_status
from assistant.core.store import DataDirLock, StoreError
from assistant.language.lists import counted

NOT_RUNNING = 3


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    status = sub.add_parser("status", help="whether the assistant is running, and the state of each of its services")
    status.add_argument("--json", action="store_true")
    common(status)


def _running(data_dir: Path) -> bool:
    """The running assistant holds the data folder's lock (so does a typed `ask`, briefly)."""
    lock = DataDirLock(data_dir)
    try:
        lock.acquire("")
    except StoreError:
        return True
    lock.release()
    return False


def run(args: argparse.Namespace, data_dir: Path) -> int:
    report = read_status(data_dir) if data_dir.is_dir() else None
    running = report is not None and _running(data_dir)
    if not running:
        result: dict[str, Any] = {"running": False, "healthy": False, "services": []}
        code = NOT_RUNNING
    else:
        assert report is not None
        stale = age_s(report) > STALE_S
        result = {
            **report,
            "running": True,
            "responding": not stale,
            "healthy": bool(report.get("healthy")) and not stale,
        }
        code = 0 if result["healthy"] else 1
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _print(result, data_dir)
    return code


def _when(t: float | None) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _print(result: dict[str, Any], data_dir: Path) -> None:
    if not result["running"]:
        print(
            f"The assistant is not running on {data_dir} (start it with `assistant run`, or "
            "`systemctl --user start assistant` after `assistant service install`)."
        )
        return
    if not result["responding"]:
        print(
            f"The assistant (pid {result['pid']}) has not reported for {age_s(result):.0f} s: it may be stuck; "
            "restart it."
        )
    else:
        print(
            f"The assistant is running (pid {result['pid']}, since {_when(result['started_at'])}); "
            + ("every service is up." if result["healthy"] else "a service is down.")
        )
    for s in result["services"]:
        line = f"  {s['name']:<10} {s['state']:<11} since {_when(s['since'])}"
        if s["restarts"]:
            line += f", {counted(s['restarts'], 'restart')}"
        if s.get("last_error"):
            line += f"; last error at {_when(s.get('last_error_at'))}: {s['last_error']}"
        print(line)
