"""A full disk and a read-only data folder, as the command line meets them.

The data folder (and, for the full disk, the photo library and the documents) lives on its own
tmpfs, inside the bench's private mount namespace. A household's state is made first through the
same commands a person uses; then the disk is filled to its last byte (or the folder bound
read-only) and every kind of write is tried: a timer and a reminder by `ask` (with the audit trail
and the conversation file it writes), a routine run (its journal), organizing photos, a note and
a scan of the documents (the knowledge index), naming a device (the devices file). Each must end
with a clear sentence on stderr and a non-zero exit code, or succeed and be kept; never a
traceback. Then the disk is freed (or the folder unmounted) and everything the household had
must still read back the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import assistant.cli.main  # noqa: E402,F401  (once here: every command forked from this process has it loaded)
from faults.common import (
    ENV,
    Figures,
    can_mount,
    clear_message,
    cli,
    fill_up,
    has_traceback,
    hashes,
    in_fork,
    make_photos,
    mount_read_only,
    mount_tmpfs,
    trace_summary,
    unmount,
)

ROUTINE = 'name: fault check\nsteps:\n  - id: look\n    tool: timer.status\n  - id: tell\n    say: "${steps.look.output}"\n    depends_on: [look]\n'
DEVICE = "wled:a0b1c2d3e4f5"
WRITES: list[tuple[str, list[str]]] = [
    ("timer (ask: scheduler, audit trail, conversation file)", ["ask", "set a timer for 10 minutes"]),
    ("reminder (ask)", ["ask", "remind me to water the plants tomorrow at 9 am"]),
    ("routine journal", ["routines", "run", "fault check"]),
    ("media organize (library on the same disk)", ["media", "organize"]),
    ("knowledge note", ["knowledge", "notes", "add", "the boiler code is 4711"]),
    ("knowledge scan", ["knowledge", "scan"]),
    ("devices file", ["devices", "rename", DEVICE, "desk lamp"]),
]
READS: list[tuple[str, list[str]]] = [
    ("timers", ["timers", "list", "--json"]),
    ("reminders", ["reminders", "list", "--json"]),
    ("notes", ["knowledge", "notes", "--json"]),
    ("devices", ["devices", "list", "--json"]),
    ("media folders", ["media", "folders", "--json"]),
    ("routine history", ["routines", "history", "fault check", "--json"]),
    ("audit", ["audit", "--verify", "--json"]),
]


def _household(root: Path) -> Path:
    """A data folder with some of everything in it; returns it."""
    data = root / "data"
    (data / "routines").mkdir(parents=True, exist_ok=True)
    (data / "routines" / "fault-check.yaml").write_text(ROUTINE)
    make_photos(root / "photos", 8, 7)
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "boiler.md").write_text("# Boiler\n\nThe boiler is serviced every October.\n")
    for argv in (
        ["ask", "set a timer for 5 minutes"],
        ["ask", "remind me to call mum tomorrow at 6 pm"],
        ["routines", "run", "fault check"],
        ["knowledge", "add-folder", str(root / "docs")],
        ["knowledge", "notes", "add", "the spare key is in the blue box"],
        ["media", "add-folder", str(root / "photos")],
    ):
        code, _, err = cli([*argv, "--data-dir", str(data)])
        if code != 0:
            raise RuntimeError(f"setting up the household: assistant {' '.join(argv)} failed: {err.strip()}")
    in_fork(_add_device, data)
    (root / "docs" / "bins.md").write_text("# Bins\n\nThe blue bin goes out on Tuesdays.\n")  # for the scan
    return data


def _add_device(data: Path) -> None:
    from assistant.devices.model import Found
    from assistant.devices.registry import DeviceRegistry

    DeviceRegistry(data).seen(
        Found(DEVICE, "WLED-Desk", "wled", "light", "WLED", ("on_off", "brightness"), "127.0.0.10", 80)
    )


def _readout(data: Path) -> dict[str, Any]:
    """What the household's state reads back as, by command: (exit code, output)."""
    out = {}
    for name, argv in READS:
        code, stdout, err = cli([*argv, "--data-dir", str(data)])
        out[name] = {"code": code, "out": stdout, "err": err}
    return out


def _same_state(before: dict[str, Any], after: dict[str, Any], f: Figures, when: str) -> None:
    for name, was in before.items():
        now = after[name]
        if has_traceback(now["err"]):
            f.tracebacks += 1
            f.find(f"{when}: reading the {name} back printed a traceback: {trace_summary(now['err'])}")
        elif now["code"] != was["code"] or not _contains(now["out"], was["out"]):
            f.changed += 1
            f.find(
                f"{when}: the {name} read back differently (exit {was['code']} → {now['code']}): "
                f"{(now['err'] or now['out']).strip()[:300]}"
            )


def _contains(now: str, was: str) -> bool:
    """Everything that was there is there still, by its id (a write that succeeded may have added
    or renamed something; a timer's time left moves on)."""
    try:
        new, old = _listed(json.loads(now)), _listed(json.loads(was))
    except ValueError:
        return now == was
    if isinstance(old, list) and isinstance(new, list):
        return _keys(old) <= _keys(new)
    if isinstance(old, dict) and isinstance(new, dict):
        if "intact" in old:  # the audit trail: still whole, nothing before dropped
            return bool(new.get("intact")) >= bool(old.get("intact")) and new.get("entries", 0) >= old.get("entries", 0)
        return set(old) <= set(new)
    return new == old


def _listed(value: Any) -> Any:
    """{"notes": [...]} as its list."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), list):
        return next(iter(value.values()))
    return value


def _keys(items: list[Any]) -> set[str]:
    return {
        str(i.get("id") or i.get("path") or i.get("text") or i.get("run_id") or json.dumps(i, sort_keys=True))
        if isinstance(i, dict)
        else json.dumps(i)
        for i in items
    }


def _judge_write(what: str, code: int, err: str, out: str, f: Figures, seconds: float) -> str:
    f.trials += 1
    if has_traceback(err):
        f.tracebacks += 1
        f.find(f"{what}: a traceback: {trace_summary(err)}")
        f.info.setdefault("traceback texts", {})[what] = err.strip()[-2500:]
        return "traceback"
    if code == 0:
        return "kept"  # checked against the readout afterwards
    if not clear_message(err):
        f.unclear += 1
        f.find(f"{what}: exit {code} without one clear sentence: {err.strip()[:300]!r}")
        return "unclear"
    f.recovery_s.append(seconds)
    return "refused"


def _said(err: str, out: str) -> str:
    if has_traceback(err):
        return trace_summary(err)[:200]
    return " / ".join((err.strip() or out.strip()).splitlines())[:200]


def full(work: Path) -> Figures:
    f = Figures("disk full")
    if not can_mount():
        f.skipped = "needs root (the bench mounts a tmpfs inside a mount namespace of its own)"
        return f
    disk = work / "tmpfs"
    mount_tmpfs(disk, "3m")
    try:
        data = _household(disk)
        before, photos = _readout(data), hashes(disk / "photos")
        f.info["filled bytes"] = fill_up(disk)
        outcomes = {}
        for what, argv in WRITES:
            start = time.monotonic()
            code, out, err = cli([*argv, "--data-dir", str(data)])
            outcomes[what] = _judge_write(what, code, err, out, f, time.monotonic() - start)
            f.info[what] = f"{outcomes[what]}: exit {code}, {_said(err, out)}"
        _same_state(before, _readout(data), f, "disk still full")
        for p in disk.glob("filler*"):
            p.unlink()
        after = _readout(data)
        _same_state(before, after, f, "disk freed")
        _photos_intact(photos, hashes(disk / "photos"), f)
        _kept_what_it_said(outcomes, before, after, f)
    finally:
        unmount(disk)
    return f


def _photos_intact(before: dict[str, str], after: dict[str, str], f: Figures) -> None:
    if sorted(before.values()) != sorted(after.values()):
        lost = set(before.values()) - set(after.values())
        f.lost += len(lost)
        f.changed += len(set(after.values()) - set(before.values()))
        f.find(f"photos changed on the full disk: {len(lost)} gone or altered")


def _kept_what_it_said(outcomes: dict[str, str], before: dict[str, Any], after: dict[str, Any], f: Figures) -> None:
    """A write that exited 0 on the full disk claimed success: its item must be there now."""
    checks = {
        "timer (ask: scheduler, audit trail, conversation file)": ("timers", 1),
        "reminder (ask)": ("reminders", 1),
        "knowledge note": ("notes", 1),
    }
    for what, (name, more) in checks.items():
        if outcomes.get(what) != "kept":
            continue
        try:
            grew = len(_listed(json.loads(after[name]["out"]))) - len(_listed(json.loads(before[name]["out"])))
        except (ValueError, TypeError):
            grew = 0
        if grew < more:
            f.lost += 1
            f.find(f"{what}: exit 0 on the full disk, but nothing was kept ({name} did not grow)")


def read_only(work: Path) -> Figures:
    f = Figures("read-only data")
    if not can_mount():
        f.skipped = "needs root (a read-only bind mount; chmod does not stop root)"
        return f
    data = _household(work)
    before, files = _readout(data), hashes(data)
    mount_read_only(data)
    try:
        # The exact command a person would type, in a fresh interpreter.
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "assistant", "ask", "set a timer for 5 minutes", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=Path(__file__).parents[3],
            env={**os.environ, **ENV},
            stdin=subprocess.DEVNULL,
        )
        what = "ask 'set a timer for 5 minutes' (python -m assistant)"
        f.info[what] = (
            f"{_judge_write(what, done.returncode, done.stderr, done.stdout, f, time.monotonic() - start)}: "
            f"exit {done.returncode}, {_said(done.stderr, done.stdout)}"
        )
        if done.returncode == 0:
            f.unclear += 1
            f.find(f"{what}: exit 0 on a read-only folder: {done.stdout.strip()[:200]}")
        for what, argv in WRITES:
            start = time.monotonic()
            code, out, err = cli([*argv, "--data-dir", str(data)])
            outcome = _judge_write(what, code, err, out, f, time.monotonic() - start)
            if code == 0:
                f.unclear += 1
                f.find(f"{what}: exit 0 on a read-only folder, so the person believes it was done: {out.strip()[:200]}")
            f.info[what] = f"{outcome}: exit {code}, {_said(err, out)}"
        reads = _readout(data)
        f.info["reads that work read-only"] = [name for name, r in reads.items() if r["code"] == 0]
        for name, r in reads.items():
            if has_traceback(r["err"]):
                f.tracebacks += 1
                f.find(f"reading the {name} on a read-only folder printed a traceback: {trace_summary(r['err'])}")
    finally:
        unmount(data)
    _same_state(before, _readout(data), f, "after the read-only mount")
    if hashes(data) != files:
        changed = {p for p, h in hashes(data).items() if files.get(p) != h}
        f.find(f"files changed under the read-only mount (nothing should): {sorted(changed)[:5]}")
    return f
