"""`assistant audit [--verify] [--json] [--last N] [--start-new]`: read and check the audit trail.
Reading and checking never make a vault key: a data folder without one has no trail yet (or lost the
key that signed it, which is a problem when a trail or its head is still there)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from assistant.trust.audit import AUDIT_PURPOSE, HEAD_FILE, LOG_FILE, AuditLog, Verdict, describe, read_entries
from assistant.trust.keys import KEY_FILE
from assistant.trust.vault import Vault


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], data_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser("audit", help="show every tool call and refused permission; --verify checks nothing was changed")
    p.add_argument(
        "--verify", action="store_true", help="check the whole chain: exit 1 if a line was changed or removed"
    )
    p.add_argument("--last", metavar="N", type=int, default=None, help="only the newest N entries")
    p.add_argument("--json", action="store_true", help="one JSON object per line (with --verify: the verdict)")
    p.add_argument(
        "--start-new",
        action="store_true",
        help="set the trail aside (kept, renamed) and begin a new one, after --verify found it damaged",
    )
    data_options(p)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    vault = Vault(data_dir)
    if args.start_new:
        return _start_new(args, data_dir, vault)
    if args.verify:
        verdict = (
            AuditLog(data_dir, vault.derived_key(AUDIT_PURPOSE)).verify() if vault.exists() else _keyless(data_dir)
        )
        return _report(args, verdict, data_dir / LOG_FILE)
    return _show(args, data_dir / LOG_FILE)


def _keyless(data_dir: Path) -> Verdict:
    """The verdict on a data folder without a vault key: nothing recorded yet, or a lost key."""
    left = [name for name in (LOG_FILE, HEAD_FILE) if (data_dir / name).exists()]
    if not left:
        return Verdict(notes=[f"nothing recorded yet in {data_dir}: the trail starts when the vault key is made"])
    return Verdict(
        problems=[
            f"{KEY_FILE} is missing beside {' and '.join(left)}: the trail cannot be checked without "
            "the key that signed it (and the stored secrets cannot be read); restore "
            f"{KEY_FILE} from a backup"
        ]
    )


def _report(args: argparse.Namespace, verdict: Verdict, path: Path) -> int:
    if args.json:
        print(
            json.dumps(
                {
                    "intact": verdict.intact,
                    "entries": verdict.entries,
                    "problems": verdict.problems,
                    "notes": verdict.notes,
                }
            )
        )
    else:
        for note in verdict.notes:
            print(f"note: {note}")
        for problem in verdict.problems:
            print(f"TAMPERED: {problem}")
        print(f"audit trail {'intact' if verdict.intact else 'NOT intact'}: {verdict.entries} entries in {path}")
    return 0 if verdict.intact else 1


def _show(args: argparse.Namespace, path: Path) -> int:
    entries = list(read_entries(path))
    if args.last is not None:
        entries = entries[-args.last :] if args.last > 0 else []
    for entry in entries:
        print(json.dumps(entry, ensure_ascii=False) if args.json else describe(entry))
    if not entries and not args.json:
        print(f"no audit entries yet in {path}")
    return 0


def _start_new(args: argparse.Namespace, data_dir: Path, vault: Vault) -> int:
    fresh = not vault.exists() and not (data_dir / LOG_FILE).exists()
    log = AuditLog(data_dir, vault.derived_key(AUDIT_PURPOSE))  # making a key starts a trail by itself
    kept = None if fresh else log.start_new(who="cli")
    if args.json:
        print(json.dumps({"started": str(log.path), "kept": str(kept) if kept else None}))
    else:
        print(f"a new audit trail begins in {log.path}" + (f"; the old one is kept as {kept}" if kept else ""))
    return 0
