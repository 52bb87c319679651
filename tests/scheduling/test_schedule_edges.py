"""Real-life edges of routines, timers and reminders (issue 25): a step that times out is never done
twice, a one-shot process never leaves a routine to be half-run again, a timer that came due while
the assistant was off starts its routine, routine files of every odd shape are refused in one line."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.clock import ManualClock
from assistant.core.config import load_config
from assistant.plugins.api import ToolResult
from assistant.routines.host import RoutineHost
from assistant.routines.runner import RoutineRunner
from assistant.routines.workflows import Loaded, Routine, load_routine
from testbed.harness import TEMPLATES_ONLY, wait_for_async
from tests.routines.test_routines import core, write  # noqa: F401  (the module's core fixture, and a routine file)

UTC = ZoneInfo("UTC")


class SlowTool:
    """A tool at the edge: each call is counted, and `hold(n)` makes call n wait for its event."""

    def __init__(self, real: Any) -> None:
        self.params = real.params
        self.qualified = "test.slow"
        self.calls = 0
        self.started = threading.Event()
        self.holds: dict[int, threading.Event] = {}
        self.lock = threading.Lock()

    def hold(self, call: int) -> threading.Event:
        return self.holds.setdefault(call, threading.Event())

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        return args

    def func(self, **_: Any) -> ToolResult:
        with self.lock:
            self.calls += 1
            n = self.calls
        self.started.set()
        if n in self.holds:
            self.holds[n].wait()
        return ToolResult(f"call {n}", {"call": n})


def slow_routine(core: Core, folder: Path, timeout_s: float = 30.0, retries: int = 0) -> Routine:
    return load_routine(
        write(
            folder,
            "slow.yaml",
            f"""\
        name: slow
        steps:
          - id: effect
            tool: clock.get_time
            timeout_s: {timeout_s}
            retries: {retries}
          - id: after
            say: "after ${{steps.effect.output}}"
            depends_on: [effect]
        """,
        ),
        core.registry.tool,
    )


def spy_on_journal(runner: RoutineRunner, words: str) -> threading.Event:
    """Set when a journal write holds `words` (the runner's own report, not a guess at its timing)."""
    seen = threading.Event()
    save = runner._save

    def spy(run: dict[str, Any]) -> None:
        save(run)
        if words in str(run):
            seen.set()

    runner._save = spy  # type: ignore[method-assign]
    return seen


def test_a_timed_out_tool_is_waited_for_not_started_again(core: Core, tmp_path: Path) -> None:
    tool = SlowTool(core.registry.tool("clock.get_time"))
    runner = RoutineRunner(tmp_path / "data", lambda name: tool)  # type: ignore[arg-type,return-value]
    # The first call goes on in its thread past its timeout; it ends once the journal says so.
    tool.holds[1] = spy_on_journal(runner, "timed out")
    r = slow_routine(core, tmp_path, timeout_s=0.05, retries=2)
    run = asyncio.run(runner.run(r))
    assert tool.calls == 1, "the effect is done once: no retry while the first call still runs"
    step = run["steps"]["effect"]
    assert (step["state"], step["attempts"], step["output"]) == ("done", 1, "call 1")
    assert step["late_s"] >= 0 and "error" not in step
    assert run["state"] == "done" and run["steps"]["after"]["output"] == "after call 1"


def test_a_tool_still_running_after_the_grace_fails_untried_and_its_late_end_is_journaled(
    core: Core, tmp_path: Path
) -> None:
    tool = SlowTool(core.registry.tool("clock.get_time"))
    runner = RoutineRunner(tmp_path / "data", lambda name: tool, late_grace_s=0.05)  # type: ignore[arg-type,return-value]
    release = tool.hold(1)
    r = slow_routine(core, tmp_path, timeout_s=0.05, retries=2)

    async def scenario() -> dict[str, Any]:
        run = await runner.run(r)
        release.set()
        await runner.finish()  # the late end is journaled in the background
        return run

    run = asyncio.run(scenario())
    assert tool.calls == 1, "never tried again while it might still do its effect"
    step = run["steps"]["effect"]
    assert step["state"] == "failed" and "still running" in step["error"] and "not tried again" in step["error"]
    assert run["state"] == "failed" and run["steps"]["after"]["state"] == "blocked"
    saved = RoutineRunner(tmp_path / "data", core.registry.tool).history("slow")[-1]
    assert saved["steps"]["effect"]["late"] == {"state": "done", "output": "call 1"}, "the journal tells what happened"


def test_a_run_stopped_during_a_tool_journals_its_end_and_resumes_after_it(core: Core, tmp_path: Path) -> None:
    tool = SlowTool(core.registry.tool("clock.get_time"))
    runner = RoutineRunner(tmp_path / "data", lambda name: tool)  # type: ignore[arg-type,return-value]
    release = tool.hold(1)
    r = slow_routine(core, tmp_path)

    async def stopped_midway() -> None:
        run = runner.spawn(runner.run(r))
        await asyncio.to_thread(tool.started.wait)
        stopping = asyncio.create_task(runner.cancel())  # the end of `assistant ask`, or of `assistant run`
        await wait_for_async(lambda: run.cancelling() or run.done(), what="the run told to stop, its tool still held")
        release.set()
        await stopping

    asyncio.run(stopped_midway())
    again = RoutineRunner(tmp_path / "data", lambda name: tool)  # type: ignore[arg-type,return-value]
    (interrupted,) = again.interrupted()
    assert interrupted["steps"]["effect"]["state"] == "done", "its thread ended: the journal says so"
    said: list[str] = []

    async def speak(text: str) -> None:
        said.append(text)

    again.speak = speak
    run = asyncio.run(again.resume(r, interrupted))
    assert tool.calls == 1, "a step the journal marked done is never run twice"
    assert run["state"] == "done" and said == ["after call 1"]


def test_a_one_shot_process_finishes_the_routine_it_started(core: Core, tmp_path: Path) -> None:
    """`assistant ask "slow routine"` with no assistant running: the host was bound, never started."""
    tool = SlowTool(core.registry.tool("clock.get_time"))
    runner = RoutineRunner(tmp_path / "data", lambda name: tool)  # type: ignore[arg-type,return-value]
    r = slow_routine(core, tmp_path)
    host = RoutineHost(runner, Loaded({"slow": r}, []))
    release = tool.hold(1)

    async def ask() -> str:
        host.bind()
        # What the routine skill does in its worker thread; wait_s=0 stands for a routine longer than 8 s.
        reply = asyncio.to_thread(host.start_run, "slow", 0.0)
        waiting = asyncio.ensure_future(reply)
        await asyncio.to_thread(tool.started.wait)
        release.set()
        return await waiting

    assert asyncio.run(ask()) == "after call 1", "the whole run, said in the reply"
    assert runner.history("slow")[-1]["state"] == "done" and runner.interrupted() == []


def test_a_timer_due_while_off_starts_its_routine_once(tmp_path: Path) -> None:
    """In the order `assistant run` starts its services (assistant/app/services.py): the scheduler, then
    the routines. The timer rings at start; its `event: timer_done` routine runs, and not again at
    the start after."""
    from assistant.app.runtime import ringer

    data = tmp_path / "data"
    write(
        data / "routines",
        "eggs.yaml",
        "name: eggs ready\ntriggers:\n  - event: timer_done\n    match: {name: eggs}\n"
        "steps:\n  - id: a\n    say: take the eggs out\n",
    )
    clock = ManualClock()
    config = load_config(environ=TEMPLATES_ONLY)
    build_core(config, data, Bus(), clock).scheduler.add_timer(60, "eggs")
    asyncio.run(clock.advance(3600))  # the assistant was off when it came due
    said: list[str] = []

    async def start() -> None:
        core = build_core(config, data, Bus(), clock)
        rung = asyncio.Event()

        async def announce(text: str) -> None:
            said.append(text)
            rung.set()

        core.scheduler.start(ringer(core, announce))
        await core.routines.start(core.scheduler.zone, core.bus, announce)
        await rung.wait()
        await core.routines.runner.finish()
        await core.routines.stop()
        await core.scheduler.stop()

    asyncio.run(start())
    assert said == ["Your eggs timer is done.", "take the eggs out"]
    said.clear()
    asyncio.run(start())
    assert said == ["Your eggs timer is done."], "still ringing at the next start: its routine does not run again"


def test_a_timer_stopped_during_its_first_ring_is_kept_as_ringing(tmp_path: Path) -> None:
    """Stopping the assistant while it says "your eggs timer is done" (seconds of speech) must not
    make the next start ring it as new, which would start its timer_done routine a second time."""
    from assistant.scheduling.items import Due
    from assistant.scheduling.scheduler import Scheduler

    clock = ManualClock()

    async def scenario() -> None:
        scheduler = Scheduler(tmp_path, clock=clock)
        speaking = asyncio.Event()

        async def on_due(due: Due) -> None:
            speaking.set()
            await asyncio.Event().wait()  # the announcement, cut by the stop

        scheduler.start(on_due)
        scheduler.add_timer(60, "eggs")
        await clock.advance(60)
        await speaking.wait()
        await scheduler.stop()

    asyncio.run(scenario())
    (timer,) = Scheduler(tmp_path, clock=clock).timers()
    assert timer.ringing_since is not None


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def odd_file(tmp_path: Path, kind: str) -> Path:
    """A routine file of an odd shape, made for real on disk."""
    import os

    path = tmp_path / "r.yaml"
    if kind == "latin-1":
        path.write_bytes("name: café\nsteps:\n  - id: a\n    say: hi\n".encode("latin-1"))
    elif kind == "name":
        path = tmp_path / os.fsdecode(b"caf\xe9.yaml")
        path.write_text("name: x\n")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_text("")
    elif kind == "huge":
        with path.open("wb") as f:
            f.truncate(50 * 1024 * 1024)
    elif kind == "deep":
        path.write_text("name: deep\nsteps: " + "[" * 5000 + "]" * 5000 + "\n")
    elif kind == "bomb":
        path.write_text("name: bomb\n" + BOMB + "steps:\n  - id: a\n    say: hi\n    args: {x: *i}\n")
    elif kind == "event":
        path.write_text("name: e\ntriggers:\n  - event: tmer_done\nsteps:\n  - id: a\n    say: hi\n")
    elif kind == "match":
        path.write_text(
            "name: e\ntriggers:\n  - event: timer_done\n    match: {nme: pasta}\nsteps:\n  - id: a\n    say: hi\n"
        )
    return path


ODD = [
    ("latin-1", 1, "is not UTF-8 text"),
    ("name", 1, "no steps"),
    ("fifo", 0, "is not a regular file"),
    ("folder", 0, "is a folder"),
    ("empty", 0, "the file is empty"),
    ("huge", 0, "a routine file is at most 256 KiB"),
    ("deep", 2, "nested more than 32 levels"),
    ("bomb", 0, "expands to over"),
    ("event", 3, "unknown event 'tmer_done'; did you mean timer_done? known events: "),
    ("match", 3, "event 'timer_done' has no field 'nme' to match (its fields: duration_s, name, timer_id)"),
]


@pytest.mark.parametrize("kind, line, reason", ODD, ids=[k for k, _, _ in ODD])
def test_a_routine_file_of_any_shape_is_one_clear_line(
    core: Core, tmp_path: Path, kind: str, line: int, reason: str
) -> None:
    from assistant.routines.workflows import RoutineError

    path = odd_file(tmp_path, kind)
    with pytest.raises(RoutineError) as caught:
        load_routine(path, core.registry.tool)
    error = caught.value
    assert reason in error.reason and (line == 0 or error.line == line), error.message
    assert "\n" not in error.message and error.message.encode("utf-8"), "one printable line"
    if kind == "name":
        assert error.path.endswith("caf\\xe9.yaml")


def test_validate_from_the_shell_and_at_start_refuse_odd_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli.main import main
    from assistant.routines.host import routine_folders
    from assistant.routines.workflows import load_routines

    data = tmp_path / "data"
    folder = routine_folders(data)[-1]
    folder.mkdir(parents=True)
    fifo = odd_file(folder, "fifo")
    assert main(["routines", "validate", str(fifo), "--data-dir", str(data)]) == 2
    out = capsys.readouterr()
    assert (
        out.out.strip() == f"{fifo}:0: is not a regular file (a pipe, a device or a socket); a routine is a YAML file"
    )
    assert "Traceback" not in out.err
    loaded = load_routines([folder], lambda name: None)  # type: ignore[arg-type,return-value]
    assert [e.reason for e in loaded.errors] == [
        "is not a regular file (a pipe, a device or a socket); a routine is a YAML file"
    ]


class _SetClock(ManualClock):
    """A machine whose wall clock is set by hand (NTP after a bad RTC): elapsed time does not move."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def now(self) -> float:
        return super().now() + self.offset

    def elapsed(self) -> float:
        return super().now()


def test_a_timer_counts_its_own_minutes_when_the_wall_clock_is_set_while_the_assistant_is_off(tmp_path: Path) -> None:
    from assistant.core.config import SchedulerConfig
    from assistant.scheduling.scheduler import Scheduler

    clock = _SetClock()
    first = Scheduler(tmp_path, SchedulerConfig(timezone="UTC"), clock)
    timer = first.add_timer(600, "pasta")
    alarm = first.add_alarm(clock.now() + 1800, "meeting")
    for jump in (3600.0, -7200.0):
        clock.offset += jump
        again = Scheduler(tmp_path, SchedulerConfig(timezone="UTC"), clock)
        assert again.timers()[0].remaining(again.now()) == pytest.approx(600)
        assert again.alarms()[0].at == alarm.at  # "at 7:30" stays 7:30 on the wall
    assert timer.frame is not None
