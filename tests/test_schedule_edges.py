"""Real-life edges of routines, timers and reminders (issue 25): a step that times out is never done
twice, a one-shot process never leaves a routine to be half-run again, a timer that came due while
the assistant was off starts its routine, routine files of every odd shape are refused in one line."""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assistant.bus import Bus
from assistant.clock import ManualClock
from assistant.config import load_config
from assistant.plugins.api import ToolResult
from assistant.routine_runner import RoutineRunner
from assistant.routines_host import RoutineHost
from assistant.runtime import Core, build_core
from assistant.workflows import Loaded, Routine, load_routine
from tests.conftest import TEMPLATES_ONLY

UTC = ZoneInfo("UTC")


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Core:
    return build_core(load_config(environ=TEMPLATES_ONLY), tmp_path_factory.mktemp("data"), Bus())


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


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
    return load_routine(write(folder, "slow.yaml", f"""\
        name: slow
        steps:
          - id: effect
            tool: clock.get_time
            timeout_s: {timeout_s}
            retries: {retries}
          - id: after
            say: "after ${{steps.effect.output}}"
            depends_on: [effect]
        """), core.registry.tool)


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
        core: Core, tmp_path: Path) -> None:
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
        runner.spawn(runner.run(r))
        await asyncio.to_thread(tool.started.wait)
        stopping = asyncio.create_task(runner.cancel())  # the end of `assistant ask`, or of `assistant run`
        await asyncio.sleep(0)
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
