"""`assistant audit [--verify] [--json] [--last N]`: read and check the audit trail."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from assistant.audit import AuditLog, describe
from assistant.vault import Vault


def add_parser(sub: argparse._SubParsersAction, data_options: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="show every tool call and refused permission; --verify checks nothing was changed")
    p.add_argument("--verify", action="store_true", help="check the whole chain: exit 1 if a line was changed or removed")
    p.add_argument("--last", metavar="N", type=int, default=None, help="only the newest N entries")
    p.add_argument("--json", action="store_true", help="one JSON object per line (with --verify: the verdict)")
    data_options(p)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    log = AuditLog(data_dir, Vault(data_dir).derived_key("audit"))
    if args.verify:
        verdict = log.verify()
        if args.json:
            print(json.dumps({"intact": verdict.intact, "entries": verdict.entries,
                              "problems": verdict.problems, "notes": verdict.notes}))
        else:
            for note in verdict.notes:
                print(f"note: {note}")
            for problem in verdict.problems:
                print(f"TAMPERED: {problem}")
            print(f"audit trail {'intact' if verdict.intact else 'NOT intact'}: {verdict.entries} entries in {log.path}")
        return 0 if verdict.intact else 1
    entries = list(log.entries())
    if args.last is not None:
        entries = entries[-args.last:] if args.last > 0 else []
    for entry in entries:
        print(json.dumps(entry, ensure_ascii=False) if args.json else describe(entry))
    if not entries and not args.json:
        print(f"no audit entries yet in {log.path}")
    return 0
