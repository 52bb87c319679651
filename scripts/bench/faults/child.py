"""The process the kill fault kills (forked from the bench): it builds the assistant's core on the
data folder, finishes what the last kill interrupted, then does one kind of work over and over,
writing `ack …` to its pipe only after a call returned, until SIGKILL ends it.

Lines: `up <s>` once the core is built, `ready <s>` once interrupted work is finished (the recovery
time), then acks:
  schedule:  `ack set <id>` (timer, alarm or reminder), `try cancel <id>` then `ack cancel <id>`
  routine:   `ack done <run_id>` (the run returned finished)
  media:     `ack organized <batch>`, `ack undone <batch>`
  knowledge: `ack doc <word>` (scanned), `ack note <id> <word>` (remembered),
             `try forget <id>` then `ack forget <id>`
Effects of routine steps go to `effects.txt` (one fsynced line `<run_id> <step>` each), before the
step returns: a step the journal has as done must have exactly as many lines as before.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.plugins.api import Skill, SkillContext, ToolResult, tool
from assistant.routines.host import routine_folders
from assistant.routines.workflows import load_routines
from faults.common import ENV, word

ROUTINE = "faultbench"
STEPS = ("a", "b", "c", "d", "e")
ROUTINE_YAML = f"""\
name: {ROUTINE}
steps:
  - id: a
    say: a
  - id: b
    tool: faultbench.effect
    args: {{step: b}}
    depends_on: [a]
  - id: c
    say: "c after ${{steps.a.output}}"
    depends_on: [b]
  - id: d
    tool: faultbench.effect
    args: {{step: d}}
    depends_on: [c]
  - id: e
    say: e
    depends_on: [d]
"""
SENTENCES = 'intents:\n  effect:\n    data:\n      - sentences:\n          - "leave a fault bench mark"\n'
KEEP = 6
"""Items of each kind the schedule work keeps; older ones it cancels, so the file stays small."""
KEEP_DOCS = 40
"""Documents and notes the knowledge work keeps; it deletes (forgets) older ones."""


def prepare(data_dir: Path, fixture: Path) -> None:
    """Once, before the first child: the routine and the bench skill's sentences."""
    (fixture / "routines").mkdir(parents=True, exist_ok=True)  # loaded once the bench skill is
    (fixture / "routines" / f"{ROUTINE}.yaml").write_text(ROUTINE_YAML)
    (fixture / "skill" / "sentences").mkdir(parents=True, exist_ok=True)
    (fixture / "skill" / "sentences" / "en.yaml").write_text(SENTENCES)


def append_synced(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def work(kind: str, data_dir: Path, fixture: Path, fd: int) -> None:
    """The forked child's whole life."""
    pipe = os.fdopen(fd, "w", buffering=1)

    def say(line: str) -> None:
        pipe.write(line + "\n")  # one write under PIPE_BUF: whole lines only, even when killed

    began = time.monotonic()
    os.environ.update(ENV)
    core = build_core(load_config(environ=ENV), data_dir, Bus(), plays=False)
    say(f"up {time.monotonic() - began:.3f}")
    asyncio.run(WORK[kind](core, fixture, lambda: say(f"ready {time.monotonic() - began:.3f}"), say))


# --- timers, alarms and reminders -------------------------------------------------------------


async def schedule(core: Core, fixture: Path, ready: Callable[[], None], say: Callable[[str], None]) -> None:
    def call(qualified: str, **args: Any) -> ToolResult:
        return core.registry.tool(qualified).func(**args)

    ready()
    rng = random.Random(os.getpid())
    for n in itertools.count():
        tag = word(rng.randrange(10**9))
        done = call("timer.start", minutes=30 + n % 60, name=tag)
        if done.ok:
            say(f"ack set {done.data['timer_id']}")
        done = call("alarm.set", when="tomorrow at 7:30 am", label=tag)
        if done.ok:
            say(f"ack set {done.data['alarm_id']}")
        done = call("reminder.add", text=f"call {tag}", when="tomorrow at 9 am")
        if done.ok:
            say(f"ack set {done.data['reminder_id']}")
        for timer in core.scheduler.timers()[KEEP:]:  # by the tool, as a person would: "cancel the <name> timer"
            say(f"try cancel {timer.id}")  # a kill before the ack may leave it cancelled or not
            done = call("timer.cancel", name=timer.name)
            for cancelled in done.data.get("cancelled", []):
                say(f"ack cancel {cancelled}")
        for item in [*core.scheduler.alarms()[KEEP:], *core.scheduler.reminders()[KEEP:]]:
            say(f"try cancel {item.id}")
            if core.scheduler.cancel(item.id) is not None:
                say(f"ack cancel {item.id}")
        await asyncio.sleep(0)


# --- routines -----------------------------------------------------------------------------------


class BenchSkill(Skill):
    """A skill whose one tool leaves a countable mark: what a routine step did, written to disk."""

    name = "faultbench"
    description = "Leaves a mark for the fault benchmark."
    effects: Path
    current_run: Callable[[], str]

    @tool
    def effect(self, step: Annotated[str, "which step"]) -> ToolResult:
        """Leave a mark."""
        append_synced(self.effects, f"{BenchSkill.current_run()} {step}")
        return ToolResult(f"marked {step}", {"step": step})


async def routine(core: Core, fixture: Path, ready: Callable[[], None], say: Callable[[str], None]) -> None:
    runner = core.routines.runner
    effects = fixture / "effects.txt"

    def current_run() -> str:
        (run,) = runner.interrupted()  # one run at a time, and no journal write while a step runs
        return str(run["run_id"])

    BenchSkill.effects, BenchSkill.current_run, BenchSkill.sentences_dir = effects, current_run, fixture / "skill"  # type: ignore[attr-defined]
    core.registry.register(
        BenchSkill, SkillContext(skill=BenchSkill.name, data_dir=core.data_dir / "skills" / BenchSkill.name)
    )
    core.routines.reload(load_routines([*routine_folders(core.data_dir), fixture / "routines"], core.registry.tool))
    found = core.routines.get(ROUTINE)
    assert found is not None, core.routines.errors

    async def speak(text: str) -> None:
        append_synced(effects, f"{current_run()} {text.split()[0]}")

    runner.speak = speak
    for run in runner.interrupted():
        if (await runner.resume(found, run))["state"] == "done":
            say(f"ack done {run['run_id']}")
    ready()
    while True:
        run = await runner.run(found, "fault-bench")
        if run["state"] == "done":
            say(f"ack done {run['run_id']}")


# --- media: organize and undo ------------------------------------------------------------------


async def media(core: Core, fixture: Path, ready: Callable[[], None], say: Callable[[str], None]) -> None:
    library = core.media
    if (fixture / "photos").resolve() not in library.library.roots():
        await asyncio.to_thread(library.library.add, fixture / "photos")
    open_batches = [b for b in library.mover.batches() if b["state"] not in ("undone",)]
    for _ in open_batches:  # a kill left files moved: put them back first
        undone = await asyncio.to_thread(library.mover.undo)
        say(f"ack undone {undone.batch}")
    ready()
    while True:
        await asyncio.to_thread(library.scan)
        report, _ = await asyncio.to_thread(library.organize)
        if report.batch is None:
            continue
        say(f"ack organized {report.batch}")
        undone = await asyncio.to_thread(library.mover.undo, report.batch)
        say(f"ack undone {undone.batch}")


# --- knowledge: documents and notes ----------------------------------------------------------------


async def knowledge(core: Core, fixture: Path, ready: Callable[[], None], say: Callable[[str], None]) -> None:
    index = core.knowledge
    assert index is not None
    docs = fixture / "docs"
    if docs.resolve() not in index.folders():
        index.add_folder(docs)
    await asyncio.to_thread(index.scan)  # what the last one left half done
    ready()
    rng = random.Random(os.getpid())
    while True:
        tag = word(rng.randrange(10**9))
        temp = docs / f".{tag}.tmp"
        temp.write_text(f"# {tag}\n\nThe {tag} is kept in the blue box in the hall.\n")
        temp.rename(docs / f"{tag}.md")  # the household's file appears whole
        old = sorted(docs.glob("*.md"), key=lambda p: p.stat().st_mtime_ns)[:-KEEP_DOCS]
        for gone in old:  # the household deletes old ones: the index drops them at the next scan
            gone.unlink()
        await asyncio.to_thread(index.scan)
        say(f"ack doc {tag}")
        note = word(rng.randrange(10**9))
        note_id = await asyncio.to_thread(index.remember, f"the {note} code is four")
        say(f"ack note {note_id} {note}")
        notes = index.notes()
        if len(notes) > KEEP_DOCS:
            say(f"try forget {notes[0]['id']}")
            if await asyncio.to_thread(index.forget, notes[0]["id"]):
                say(f"ack forget {notes[0]['id']}")


WORK = {"schedule": schedule, "routine": routine, "media": media, "knowledge": knowledge}
