"""SIGKILL at random moments while timers, alarms and reminders are set and cancelled, routines run,
photos are organized and put back, and documents are indexed; after each kill the files are read
back and held against what the killed process acknowledged.

One data folder for all of it, as one assistant would have. Round i kills a child doing work
KINDS[i % 4]. The moment is seeded (`--seed`): most kills land within KILL_WINDOW_S after the core
is built; one in EARLY of them lands while it is still starting (reading its files, resuming).
The timing of the work itself is the machine's, so two runs with one seed kill at the same
offsets, not necessarily at the same instruction.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from faults import child
from faults.common import Figures, fork, has_traceback, hashes, in_fork, make_photos, read_lines, reap

KINDS = ("schedule", "routine", "media", "knowledge")
KILL_WINDOW_S = 0.8
EARLY = 6
PHOTOS = 40
KEEP_RUNS = 100  # assistant/routines/runner.py: finished runs kept per routine


def run(kills: int, seed: int, work_dir: Path) -> dict[str, Figures]:
    data_dir, fixture = work_dir / "data", work_dir / "fixture"
    data_dir.mkdir(parents=True, exist_ok=True)
    child.prepare(data_dir, fixture)
    make_photos(fixture / "photos", PHOTOS, seed)
    (fixture / "docs").mkdir(exist_ok=True)
    originals = hashes(fixture / "photos")
    figures = {kind: Figures(f"kill: {kind}") for kind in KINDS}
    checks = {
        "schedule": ScheduleCheck(),
        "routine": RoutineCheck(fixture / "effects.txt"),
        "media": MediaCheck(originals),
        "knowledge": KnowledgeCheck(),
    }
    rng = random.Random(seed)
    started: list[float] = []
    for i in range(kills):
        kind = KINDS[i % len(KINDS)]
        f = figures[kind]
        early = rng.randrange(EARLY) == 0
        delay = rng.uniform(0.0, statistics.median(started) if started and early else KILL_WINDOW_S)
        lines, status, log = _kill_one(kind, data_dir, fixture, delay, early, work_dir / "child.log")
        f.trials += 1
        acks = [
            line.split()[1:] if line.startswith("ack ") else ["try-" + line.split()[1], *line.split()[2:]]
            for line in lines
            if line.startswith(("ack ", "try "))
        ]
        for line in lines:
            if line.startswith("up "):
                started.append(float(line.split()[1]))
            elif line.startswith("ready "):
                f.recovery_s.append(float(line.split()[1]))
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL) or has_traceback(log):
            f.tracebacks += 1
            f.find(f"round {i}: the {kind} child ended by itself or logged a traceback: {log.strip()[-600:]}")
        f.info["acks"] = f.info.get("acks", 0) + sum(not a[0].startswith("try-") for a in acks)
        f.info["killed before ready"] = f.info.get("killed before ready", 0) + (
            not any(line.startswith("ready") for line in lines)
        )
        state = in_fork(checks[kind].read, data_dir, fixture)
        if "error" in state:
            f.tracebacks += 1
            f.find(f"round {i}: reading the {kind} state back failed: {state['error'].strip().splitlines()[-1]}")
            continue
        checks[kind].judge(acks, state["value"], f, i)
    for kind in KINDS:
        figures[kind].info.update(checks[kind].summary())
    # store.atomic_write's temp files: a kill mid-write leaves one; open_db removes those over
    # STALE_TEMP_S old, so only the last few minutes' may be there. One older is a leak.
    from assistant.core.store import STALE_TEMP_S

    left = [p for p in data_dir.glob(".*.json.*") if p.is_file()]
    stale = sorted(p.name for p in left if time.time() - p.stat().st_mtime > STALE_TEMP_S + 60)
    figures["schedule"].info["temp files left by kills (younger than the sweep's 10 min)"] = len(left) - len(stale)
    if stale:
        figures["schedule"].changed += len(stale)
        figures["schedule"].find(
            f"{len(stale)} temporary files of store.atomic_write ({stale[0]} …) outlived the sweep "
            "at open (store.sweep_stale_temps)"
        )
    return figures


def _kill_one(
    kind: str, data_dir: Path, fixture: Path, delay: float, early: bool, log: Path
) -> tuple[list[str], int, str]:
    log.write_text("")
    began = time.monotonic()
    pid, fd = fork(lambda w: child.work(kind, data_dir, fixture, w), stderr=log)
    buffer = bytearray()
    lines: list[str] = []
    closed = False
    if not early:  # wait for the core to be built, then the random moment
        deadline = began + 60
        while not closed and not any(line.startswith("up ") for line in lines) and time.monotonic() < deadline:
            more, closed = read_lines(fd, deadline, buffer, first="up ")
            lines += more
        began = time.monotonic()
    if not closed:
        more, closed = read_lines(fd, began + delay, buffer)
        lines += more
    os.kill(pid, signal.SIGKILL)
    status = reap(pid)
    while not closed:  # what it wrote before it died
        more, closed = read_lines(fd, time.monotonic() + 5, buffer)
        lines += more
    os.close(fd)
    return lines, status, log.read_text(errors="replace")


# --- the checks, each read back in a fresh forked child ------------------------------------------


class ScheduleCheck:
    def __init__(self) -> None:
        self.set: set[str] = set()
        self.cancelled: set[str] = set()
        self.tried: set[str] = set()
        """Cancels begun but not acknowledged: the item may be there or not."""

    @staticmethod
    def read(data_dir: Path, fixture: Path) -> dict[str, Any]:
        from assistant.scheduling.scheduler import Scheduler

        s = Scheduler(data_dir)
        return {
            "ids": [t.id for t in s.timers()] + [a.id for a in s.alarms()] + [r.id for r in s.reminders(True)],
            "names": [f"timer {t.name}" for t in s.timers()]
            + [f"alarm {a.label}" for a in s.alarms()]
            + [f"reminder {r.text}" for r in s.reminders(True)],
        }

    def judge(self, acks: list[list[str]], state: dict[str, Any], f: Figures, i: int) -> None:
        for what, item in acks:
            {"set": self.set, "cancel": self.cancelled, "try-cancel": self.tried}[what].add(item)
        ids = set(state["ids"])
        lost = (self.set - self.cancelled - self.tried) - ids
        back = self.cancelled & ids
        if lost or back:
            f.lost += len(lost) + len(back)
            f.find(f"round {i}: acknowledged items missing {sorted(lost)}, acknowledged cancels undone {sorted(back)}")
        doubled = [n for n, c in collections.Counter(state["names"]).items() if c > 1]
        if doubled or len(state["ids"]) != len(ids):
            f.twice += len(doubled) or 1
            f.find(f"round {i}: stored twice: {doubled}")

    def summary(self) -> dict[str, Any]:
        return {"set acknowledged": len(self.set), "cancels acknowledged": len(self.cancelled)}


class RoutineCheck:
    def __init__(self, effects: Path) -> None:
        self.effects = effects
        self.done_before: dict[tuple[str, str], int] = {}
        self.acked: set[str] = set()
        self.reruns = 0

    @staticmethod
    def read(data_dir: Path, fixture: Path) -> dict[str, Any]:
        from assistant.routines.runner import RoutineRunner

        journal = RoutineRunner(data_dir, lambda name: None).history()  # type: ignore[arg-type,return-value]
        lines = (fixture / "effects.txt").read_text().splitlines() if (fixture / "effects.txt").exists() else []
        return {
            "runs": [
                {
                    "run_id": r["run_id"],
                    "state": r["state"],
                    "done": [s for s, rec in r["steps"].items() if rec["state"] == "done"],
                }
                for r in journal
            ],
            "effects": [line.split() for line in lines if len(line.split()) == 2],
        }

    def judge(self, acks: list[list[str]], state: dict[str, Any], f: Figures, i: int) -> None:
        counts = collections.Counter(tuple(e) for e in state["effects"])
        again = {k: (v, counts[k]) for k, v in self.done_before.items() if counts[k] != v}
        if again:
            f.twice += len(again)
            f.find(f"round {i}: a step the journal had as done ran again: {again}")
        self.acked |= {a[1] for a in acks}
        runs = {r["run_id"]: r for r in state["runs"]}
        finished = sum(r["state"] != "running" for r in state["runs"])
        for run_id in self.acked:
            run = runs.get(run_id)
            if run is None and finished >= KEEP_RUNS:
                continue  # pruned with the oldest runs, as the journal keeps only the latest
            if run is None or run["state"] != "done" or any(counts[(run_id, s)] < 1 for s in child.STEPS):
                f.lost += 1
                f.find(f"round {i}: run {run_id} returned done, but the journal or its effects lost it: {run}")
        self.acked = {r for r in self.acked if r in runs}
        self.done_before = {(r["run_id"], s): counts[(r["run_id"], s)] for r in state["runs"] for s in r["done"]}
        self.reruns = sum(1 for n in counts.values() if n > 1)  # every step's effects so far, not only this round's
        f.info["runs in the journal"] = len(runs)

    def summary(self) -> dict[str, Any]:
        return {
            "runs acknowledged (still journaled)": len(self.acked),
            "steps run twice, killed before the journal marked them done (allowed: at least once)": self.reruns,
        }


class MediaCheck:
    def __init__(self, originals: dict[str, str]) -> None:
        self.originals = originals
        self.by_hash = {h: p for p, h in originals.items()}
        self.batches = 0

    @staticmethod
    def read(data_dir: Path, fixture: Path) -> dict[str, Any]:
        db = sqlite3.connect(f"file:{data_dir / 'media.sqlite'}?mode=ro", uri=True)
        try:
            moves = db.execute("SELECT DISTINCT src, dst FROM moves").fetchall()
            files = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
            batches = db.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        finally:
            db.close()
        return {"files": hashes(fixture / "photos"), "moves": moves, "indexed": files, "batches": batches}

    def judge(self, acks: list[list[str]], state: dict[str, Any], f: Figures, i: int) -> None:
        places: dict[str, set[str]] = collections.defaultdict(set)
        for src, dst in state["moves"]:
            places[src].add(dst)
        found = collections.defaultdict(list)
        for path, digest in state["files"].items():
            if digest not in self.by_hash:
                f.changed += 1
                f.find(f"round {i}: {path} is no photo the library had (changed bytes, or a stray copy)")
                continue
            found[digest].append(path)
        for path, digest in self.originals.items():
            where = found.get(digest, [])
            if not where:
                f.lost += 1
                f.find(f"round {i}: {path} is gone")
            elif len(where) > 1:
                f.twice += 1
                f.find(f"round {i}: {path} is there twice: {where}")
            elif where[0] not in _reachable(path, places):
                f.changed += 1
                f.find(f"round {i}: {path} is at {where[0]}, where no journaled move put it")
        self.batches = state["batches"]

    def summary(self) -> dict[str, Any]:
        return {"photos": len(self.originals), "batches of moves": self.batches}


def _reachable(path: str, places: dict[str, set[str]]) -> set[str]:
    seen, todo = {path}, [path]
    while todo:
        for nxt in places.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


class KnowledgeCheck:
    def __init__(self) -> None:
        self.docs: set[str] = set()
        self.notes: dict[str, str] = {}
        self.forgotten: set[str] = set()
        self.tried: set[str] = set()

    @staticmethod
    def read(data_dir: Path, fixture: Path) -> dict[str, Any]:
        from assistant.knowledge.index import KnowledgeIndex

        index = KnowledgeIndex(data_dir, semantic=False)
        docs = [Path(d["path"]).stem for d in index.documents() if not d["error"]]
        on_disk = [p.stem for p in (fixture / "docs").glob("*.md")]
        notes = [(str(n["id"]), n["text"]) for n in index.notes()]
        probe = notes[-1][1].split()[1] if notes else None
        answers = [h.source for h in index.search(probe, k=3)] if probe else []
        index.close()
        return {"docs": docs, "on_disk": on_disk, "notes": notes, "probe": probe, "answers": answers}

    def judge(self, acks: list[list[str]], state: dict[str, Any], f: Figures, i: int) -> None:
        for ack in acks:
            if ack[0] == "doc":
                self.docs.add(ack[1])
            elif ack[0] == "note":
                self.notes[ack[1]] = ack[2]
            elif ack[0] == "forget":
                self.forgotten.add(ack[1])
            else:
                self.tried.add(ack[1])
        docs, notes = set(state["docs"]), dict(state["notes"])
        self.docs &= set(state["on_disk"])  # the household deleted the others: the index may drop them
        lost = sorted(self.docs - docs) + sorted(
            n for n in self.notes if n not in notes and n not in self.forgotten | self.tried
        )
        back = sorted(n for n in self.forgotten if n in notes)
        if lost or back:
            f.lost += len(lost) + len(back)
            f.find(f"round {i}: acknowledged documents or notes not in the index: {lost}; forgotten ones back: {back}")
        doubled = [t for t, c in collections.Counter(t for _, t in state["notes"]).items() if c > 1]
        if doubled or len(state["docs"]) != len(docs):
            f.twice += 1
            f.find(f"round {i}: stored twice: {doubled}")
        if state["probe"] and not state["answers"]:
            f.lost += 1
            f.find(f"round {i}: the index opened but found nothing for '{state['probe']}', a note it holds")

    def summary(self) -> dict[str, Any]:
        return {"notes acknowledged": len(self.notes), "notes forgotten": len(self.forgotten)}
