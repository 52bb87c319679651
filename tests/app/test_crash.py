"""SIGKILL at random points while routines run and the store is written, 50 times over: nothing
acknowledged is lost, no finished step runs again, every file still loads, and the audit trail
still verifies."""

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from assistant.routines.runner import RoutineRunner
from assistant.scheduling.scheduler import Scheduler
from assistant.trust.audit import AuditLog
from assistant.trust.vault import Vault

ROUNDS = 50
STEPS = ("a", "b", "c", "d", "e")
SAYS = ("a", "b", "c", "e")


def _effects(path: Path) -> collections.Counter[tuple[str, str]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return collections.Counter(tuple(line.split()) for line in lines if len(line.split()) == 2)  # type: ignore[misc]


def _kill_at_random(data_dir: Path, effects: Path, rng: random.Random) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "testbed.crash_child", str(data_dir), str(effects)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready.strip() == "ready", child.stderr.read() if child.stderr else ready
    time.sleep(rng.uniform(0.0, 0.4))  # not a wait: the kill lands at a random moment of the child's work
    child.send_signal(signal.SIGKILL)
    rest, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err
    return [line.split()[2] for line in rest.splitlines() if line.startswith("ack timer ")]


def test_sigkill_loses_nothing_acknowledged_and_repeats_no_finished_step(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    data_dir, effects = tmp_path / "data", tmp_path / "effects.txt"
    acked: list[str] = []
    finished_before: dict[tuple[str, str], int] = {}
    interrupted_rounds = 0
    for _ in range(ROUNDS):
        acked += _kill_at_random(data_dir, effects, rng)
        # Every file loads after the kill, and every acknowledged timer is in it.
        timers = {t.id for t in Scheduler(data_dir).timers()}
        assert set(acked) <= timers, f"lost acknowledged timers: {set(acked) - timers}"
        journal = RoutineRunner(data_dir, lambda name: None).history()  # type: ignore[arg-type,return-value]
        audit = AuditLog(data_dir, Vault(data_dir).derived_key("audit")).verify()
        assert audit.intact, audit.problems  # a line cut short by the kill is only a note
        counts = _effects(effects)
        # A step the journal had as done before this round must not have run again in it.
        for key, seen in finished_before.items():
            assert counts[key] == seen, f"finished step {key} ran again"
        finished_before = {
            (r["run_id"], s): counts[(r["run_id"], s)]
            for r in journal
            for s, rec in r["steps"].items()
            if rec["state"] == "done" and s in SAYS
        }
        interrupted_rounds += any(r["state"] == "running" for r in journal)
    journal = RoutineRunner(data_dir, lambda name: None).history()  # type: ignore[arg-type,return-value]
    done = [r for r in journal if r["state"] == "done"]
    assert len(done) >= ROUNDS / 2, "the child got some work done between kills"
    for run in done:
        assert all(run["steps"][s]["state"] == "done" for s in STEPS)
        for s in SAYS:
            assert counts[(run["run_id"], s)] >= 1, f"{run['run_id']} {s}: done in the journal, never said"
    assert interrupted_rounds >= 10, "kills should land inside runs often enough to test resuming"
    audited = [
        e for e in AuditLog(data_dir, Vault(data_dir).derived_key("audit")).entries() if e["kind"] == "tool_call"
    ]
    assert len(audited) >= len(done) and {e["origin"] for e in audited} == {"routine"}
