"""Routines: validation with file, line and reason; the DAG run in parallel with timeouts, retries,
conditions and outputs; the journal and resuming after a crash; time triggers and catch-up."""

import asyncio
import datetime as dt
import textwrap
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assistant.app.runtime import Core, build_core
from assistant.core.bus import Bus
from assistant.core.clock import ManualClock
from assistant.core.config import load_config
from assistant.routines.runner import HOUSEHOLD, RoutineRunner
from assistant.routines.workflows import Routine, RoutineError, load_routine, load_routines
from testbed.harness import TEMPLATES_ONLY, WAIT_S

UTC = ZoneInfo("UTC")


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Core:
    return build_core(load_config(environ=TEMPLATES_ONLY), tmp_path_factory.mktemp("data"), Bus())


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def routine(core: Core, tmp_path: Path, text: str) -> Routine:
    return load_routine(write(tmp_path, "r.yaml", text), core.registry.tool)


@pytest.mark.parametrize(
    "text, line, reason",
    [
        (
            """\
     name: loop
     steps:
       - id: a
         say: hi
         depends_on: [b]
       - id: b
         say: there
         depends_on: [a]
     """,
            3,
            "cycle: a → b → a",
        ),
        (
            """\
     name: unknown tool
     steps:
       - id: a
         tool: lights.turn_on
     """,
            3,
            "unknown tool 'lights.turn_on'",
        ),
        (
            """\
     name: bad args
     steps:
       - id: a
         say: hi
       - id: b
         tool: timer.start
         args: {minutes: 5000}
     """,
            5,
            "minutes",
        ),
        (
            """\
     name: bad cron
     triggers:
       - cron: "61 7 * * *"
     steps:
       - id: a
         say: hi
     """,
            3,
            "not a valid cron expression",
        ),
        (
            """\
     name: dangling
     steps:
       - id: a
         tool: clock.get_time
       - id: b
         say: "${steps.a.output}"
     """,
            5,
            "does not depend on step 'a'",
        ),
        (
            """\
     name: nowhere
     steps:
       - id: b
         say: "${steps.zzz.output}"
     """,
            3,
            "there is no step 'zzz'",
        ),
        (
            """\
     name: typo
     steps:
       - id: a
         say: hi
         retires: 2
     """,
            3,
            "unknown key 'retires'",
        ),
        ("name: [unclosed\n", 2, "not valid YAML"),
        ("name: odd\nsteps:\n  - id: a\n    say: 42\n", 3, "say must be text"),
        ("name: odd\nsteps:\n  - id: a\n    tool: clock.get_time\n    args: [x]\n", 3, "args must be a mapping"),
        ("name: odd\nsteps:\n  - id: a\n    say: hi\n    depends_on: 5\n", 3, "depends_on must be a list"),
    ],
)
def test_a_bad_routine_is_rejected_with_file_line_and_reason(
    core: Core, tmp_path: Path, text: str, line: int, reason: str
) -> None:
    with pytest.raises(RoutineError) as caught:
        routine(core, tmp_path, text)
    assert caught.value.path.endswith("r.yaml") and caught.value.line == line and reason in caught.value.reason


def test_one_bad_routine_does_not_stop_the_others(core: Core, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: fine\nsteps:\n  - id: a\n    say: hi\n")
    write(tmp_path, "b.yaml", "name: broken\nsteps:\n  - id: a\n    tool: no.such\n")
    loaded = load_routines([tmp_path], core.registry.tool)
    assert list(loaded.routines) == ["fine"] and len(loaded.errors) == 1 and "b.yaml:3" in loaded.errors[0].message


def test_the_shipped_examples_are_valid(core: Core) -> None:
    assert {"good morning", "bedtime"} <= set(core.routines.names()) and core.routines.errors == []


def test_independent_steps_run_in_parallel_and_outputs_flow(core: Core, tmp_path: Path) -> None:
    r = routine(
        core,
        tmp_path,
        """\
        name: parallel
        steps:
          - id: left
            say: left
          - id: right
            say: right
          - id: time
            tool: clock.get_time
          - id: both
            say: "${steps.left.output} and ${steps.right.output}; ${steps.time.output}"
            depends_on: [left, right, time]
        """,
    )
    started = {"left": asyncio.Event(), "right": asyncio.Event()}
    said: list[str] = []

    async def speak(text: str) -> None:
        if text in started:
            started[text].set()
            other = "right" if text == "left" else "left"
            await asyncio.wait_for(started[other].wait(), WAIT_S)  # only possible if both run at once
        said.append(text)

    runner = RoutineRunner(tmp_path / "data", core.registry.tool)
    run = asyncio.run(runner.run(r, speak=speak))
    assert run["state"] == "done"
    assert said[-1].startswith("left and right; It's ")
    assert runner.history("parallel")[-1]["steps"]["both"]["output"] == said[-1]


def test_timeouts_retries_conditions_and_failures(core: Core, tmp_path: Path) -> None:
    r = routine(
        core,
        tmp_path,
        """\
        name: flaky
        steps:
          - id: slow
            say: slow
            timeout_s: 1
            retries: 1
          - id: never
            say: never
            timeout_s: 0.1
          - id: after_never
            say: "${steps.never.output}"
            depends_on: [never]
          - id: status
            tool: timer.status
          - id: only_with_timers
            say: "you have timers"
            depends_on: [status]
            when: "${steps.status.data.timers}"
          - id: last
            say: done
            depends_on: [only_with_timers, slow]
        """,
    )
    attempts = {"slow": 0}

    async def speak(text: str) -> None:
        if text == "slow":
            attempts["slow"] += 1
            if attempts["slow"] == 1:
                await asyncio.Event().wait()  # the first attempt hangs: timed out, retried
        if text == "never":
            await asyncio.Event().wait()

    run = asyncio.run(RoutineRunner(tmp_path / "data", core.registry.tool).run(r, speak=speak))
    states = {k: v["state"] for k, v in run["steps"].items()}
    assert states == {
        "slow": "done",
        "never": "failed",
        "after_never": "blocked",
        "status": "done",
        "only_with_timers": "skipped",
        "last": "done",
    }
    assert run["steps"]["slow"]["attempts"] == 2 and "timed out" in run["steps"]["never"]["error"]
    assert run["state"] == "failed"


def test_an_interrupted_run_resumes_without_repeating_finished_steps(core: Core, tmp_path: Path) -> None:
    r = routine(
        core,
        tmp_path,
        """\
        name: three
        steps:
          - id: one
            say: one
          - id: two
            say: two
            depends_on: [one]
          - id: three
            say: "three after ${steps.two.output}"
            depends_on: [two]
        """,
    )
    runner = RoutineRunner(tmp_path / "data", core.registry.tool)
    # What the journal holds when the process died during step two.
    runner._save(
        {
            "run_id": "r1",
            "routine": "three",
            "trigger": "time",
            "state": "running",
            "started_at": 1.0,
            "ended_at": None,
            "steps": {
                "one": {"state": "done", "output": "one", "attempts": 1},
                "two": {"state": "running", "attempts": 1},
                "three": {"state": "pending", "attempts": 0},
            },
        }
    )
    again = RoutineRunner(tmp_path / "data", core.registry.tool)
    (interrupted,) = again.interrupted()
    said: list[str] = []

    async def speak(text: str) -> None:
        said.append(text)

    again.speak = speak
    run = asyncio.run(again.resume(r, interrupted))
    assert said == ["two", "three after two"], "step one had finished: it is not run again"
    assert run["state"] == "done" and run["steps"]["two"]["attempts"] == 2
    assert again.interrupted() == []


def test_time_triggers_fire_and_catch_up_by_policy(core: Core, tmp_path: Path) -> None:
    folder = tmp_path / "routines"
    write(folder, "a.yaml", "name: skipper\ntriggers:\n  - at: '07:00'\nsteps:\n  - id: a\n    say: skipper\n")
    write(
        folder,
        "b.yaml",
        "name: catcher\ncatch_up: once\ntriggers:\n  - cron: '0 7 * * *'\nsteps:\n  - id: a\n    say: catcher\n",
    )
    routines = list(load_routines([folder], core.registry.tool).routines.values())
    clock = ManualClock(dt.datetime(2026, 11, 24, 6, 0, tzinfo=UTC).timestamp())
    said: list[str] = []

    async def speak(text: str) -> None:
        said.append(text)

    async def scenario(until: dt.datetime) -> None:
        runner = RoutineRunner(tmp_path / "data", core.registry.tool, clock, speak)
        watching = asyncio.create_task(runner.watch(routines, UTC))
        await clock.set(until.timestamp())
        await runner.finish()
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    asyncio.run(scenario(dt.datetime(2026, 11, 24, 7, 0, 30, tzinfo=UTC)))
    assert sorted(said) == ["catcher", "skipper"], "both fire at 7:00"
    said.clear()
    # Off from 7:01 until 9:00 the next day: the 7:00 of the 25th was missed.
    clock_after = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    asyncio.run(clock.set(clock_after.timestamp()))
    asyncio.run(scenario(clock_after + dt.timedelta(seconds=5)))
    assert said == ["catcher"], "catch_up: once runs it once; skip does not"


def test_a_disabled_routine_ignores_its_triggers_but_runs_when_asked(core: Core, tmp_path: Path) -> None:
    from assistant.core.events import TimerDone

    folder = tmp_path / "routines"
    write(
        folder,
        "a.yaml",
        "name: Daily\ncatch_up: once\ntriggers:\n  - at: '07:00'\n  - event: timer_done\n"
        "steps:\n  - id: a\n    say: daily\n",
    )
    routines = list(load_routines([folder], core.registry.tool).routines.values())
    clock = ManualClock(dt.datetime(2026, 11, 24, 6, 0, tzinfo=UTC).timestamp())
    bus = Bus()
    said: list[str] = []

    async def speak(text: str) -> None:
        said.append(text)

    async def scenario(until: dt.datetime, event: bool = False) -> None:
        runner = RoutineRunner(tmp_path / "data", core.registry.tool, clock, speak)
        watching = asyncio.create_task(runner.watch(routines, UTC, bus))
        await clock.advance(0)  # the watcher starts, listens to the bus and sleeps on the clock
        if event:
            bus.publish(TimerDone(timer_id="x", name="pasta", duration_s=1.0))
        await clock.set(until.timestamp())
        await runner.finish()
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    runner = RoutineRunner(tmp_path / "data", core.registry.tool, clock, speak)
    assert runner.enabled("daily")
    runner.set_enabled("Daily", False)
    asyncio.run(scenario(dt.datetime(2026, 11, 24, 7, 0, 30, tzinfo=UTC), event=True))
    assert said == [], "neither its time nor its event starts it"
    # Still off while the 7:00 of the 25th passes with the assistant stopped; then on again.
    asyncio.run(clock.set(dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()))
    asyncio.run(scenario(dt.datetime(2026, 11, 25, 9, 0, 5, tzinfo=UTC)))
    assert said == []
    runner = RoutineRunner(tmp_path / "data", core.registry.tool, clock, speak)
    assert not runner.enabled("daily")
    runner.set_enabled("daily", True)
    asyncio.run(scenario(dt.datetime(2026, 11, 25, 9, 0, 10, tzinfo=UTC)))
    assert said == [], "the times it was off are not caught up"
    # Stopped again until a minute before 7:00 (nothing is due in between): watching all those hours
    # on the manual clock would wake the watcher once a second, 79,000 times.
    asyncio.run(clock.set(dt.datetime(2026, 11, 26, 6, 59, tzinfo=UTC).timestamp()))
    asyncio.run(scenario(dt.datetime(2026, 11, 26, 7, 0, 30, tzinfo=UTC)))
    assert said == ["daily"], "on again, its time starts it"


def test_a_routine_is_switched_off_and_on_by_voice(core: Core) -> None:
    async def scenario(text: str) -> str:
        core.routines.bind()
        return await core.dialogue.handle(text)

    assert (
        asyncio.run(scenario("disable the bedtime routine")) == "The bedtime routine is off; it runs only when you ask."
    )
    assert not core.routines.enabled("bedtime")
    assert asyncio.run(scenario("turn the bedtime routine back on")) == "The bedtime routine is on."
    assert core.routines.enabled("bedtime")
    assert asyncio.run(scenario("enable the bedtime routine")) == "The bedtime routine was already on."


def test_routine_by_voice_and_from_the_shell(core: Core, tmp_path: Path) -> None:
    async def scenario() -> str:
        core.routines.bind()
        return await core.dialogue.handle("good morning")

    assert asyncio.run(scenario()).startswith("Good morning. It's ")
    assert core.routines.runner.history("good morning")[-1]["trigger"] == "phrase"


def test_good_morning_is_for_whoever_said_it(tmp_path: Path) -> None:
    """Said by Anna, the routine's steps are hers: her reminders and the household's, not Ben's. (The
    speaker reaches the steps as the tool's context does: run_coroutine_threadsafe schedules the run
    in the context of the thread that asks, and each step's thread copies the run's.) At 9 in the
    morning: said after 9 PM, a reminder in 3 hours is tomorrow's, and not in today's agenda."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from assistant.core.clock import ManualClock
    from assistant.plugins.api import Speaker, spoken_by

    nine_am = dt.datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    config = load_config(environ={**TEMPLATES_ONLY, "ASSISTANT__SCHEDULER__TIMEZONE": "Europe/Berlin"})
    core = build_core(config, tmp_path, Bus(), ManualClock(nine_am))

    async def scenario(text: str, who: Speaker | None) -> str:
        core.routines.bind()
        with spoken_by(who):
            return await core.dialogue.handle(text)

    assert asyncio.run(scenario("remind me to call mum in 2 hours", Speaker("Anna", "adult"))).startswith("I'll")
    assert asyncio.run(scenario("remind me to feed the cat in 3 hours", Speaker("Ben", "child"))).startswith("I'll")
    annas = asyncio.run(scenario("good morning", Speaker("Anna", "adult")))
    assert "call mum" in annas and "feed the cat" not in annas, annas
    bens = asyncio.run(scenario("good morning", Speaker("Ben", "child")))
    assert "feed the cat" in bens and "call mum" not in bens, bens
    everyone = asyncio.run(scenario("good morning", None))  # typed: everyone's, as a typed request is
    assert "call mum" in everyone and "feed the cat" in everyone, everyone
    asyncio.run(scenario("remind me to water the plants in 2 hours", None))

    async def by(trigger: str, who: Speaker | None = None) -> dict[str, Any]:
        return await core.routines.runner.run(core.routines.routines["good morning"], trigger, speak=None, who=who)

    # A time or an event (a guest's timer rang), as the runner's triggers start it, or a routine such a
    # run's step runs (it passes the step's HOUSEHOLD on): the household's only, and no role held to.
    for trigger, who in (("time", None), ("catch-up", None), ("event:timer_done", None), ("phrase", HOUSEHOLD)):
        run = asyncio.run(by(trigger, who))
        households = " ".join(str(step.get("output", "")) for step in run["steps"].values())
        assert "water the plants" in households and "call mum" not in households, (trigger, households)
        assert "feed the cat" not in households and "started_by" not in run, (trigger, households)


def test_an_event_starts_a_routine_and_its_own_steps_do_not_restart_it(core: Core, tmp_path: Path) -> None:
    from assistant.core.events import TimerDone

    folder = tmp_path / "routines"
    write(
        folder,
        "e.yaml",
        "name: pasta ready\ntriggers:\n  - event: timer_done\n    match: {name: pasta}\n"
        "steps:\n  - id: a\n    say: drain the pasta\n",
    )
    routines = list(load_routines([folder], core.registry.tool).routines.values())
    bus = Bus()
    said: list[str] = []

    async def speak(text: str) -> None:
        said.append(text)
        bus.publish(TimerDone(timer_id="x", name="pasta", duration_s=1.0))  # would loop forever

    async def scenario() -> None:
        clock = ManualClock()
        runner = RoutineRunner(tmp_path / "data", core.registry.tool, clock, speak)
        watching = asyncio.create_task(runner.watch(routines, UTC, bus))
        await clock.advance(0)  # the watcher starts, listens to the bus and sleeps on the clock
        bus.publish(TimerDone(timer_id="y", name="eggs", duration_s=1.0))
        bus.publish(TimerDone(timer_id="z", name="pasta", duration_s=1.0))
        await runner.finish()  # the run the event started, and any it started in turn
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    asyncio.run(scenario())
    assert said == ["drain the pasta"]


def test_tool_data_that_is_not_json_is_journaled_as_text(core: Core, tmp_path: Path) -> None:
    from assistant.plugins.api import ToolResult

    r = routine(
        core,
        tmp_path,
        "name: odd data\nsteps:\n  - id: a\n    tool: clock.get_time\n  - id: b\n    say: done\n    depends_on: [a]\n",
    )
    spec = core.registry.tool("clock.get_time")

    class Odd:
        func = staticmethod(lambda: ToolResult("odd", {"tags": {"x"}, "where": Path("/tmp")}))
        params = spec.params

        def validate(self, args: dict) -> dict:
            return args

    runner = RoutineRunner(tmp_path / "data", lambda name: Odd())  # type: ignore[arg-type,return-value]
    run = asyncio.run(runner.run(r))
    assert run["state"] == "done"
    saved = RoutineRunner(tmp_path / "data", core.registry.tool).history("odd data")[-1]
    assert saved["steps"]["a"]["data"] == {"tags": "{'x'}", "where": "/tmp"} and saved["steps"]["b"]["state"] == "done"


def test_a_daily_routine_in_the_repeated_hour_runs_once_on_a_fall_back_night(core: Core, tmp_path: Path) -> None:
    new_york = ZoneInfo("America/New_York")
    write(tmp_path / "routines", "n.yaml", "name: night\ntriggers:\n  - at: '01:30'\nsteps:\n  - id: a\n    say: hi\n")
    (night,) = load_routines([tmp_path / "routines"], core.registry.tool).routines.values()
    runner = RoutineRunner(tmp_path / "data", core.registry.tool)
    fired = dt.datetime(2026, 11, 1, 1, 30, tzinfo=new_york).timestamp()  # 1:30 EDT, before the clocks go back
    nxt = runner.next_due(night, fired, new_york)
    assert nxt is not None and dt.datetime.fromtimestamp(nxt, new_york).date() == dt.date(2026, 11, 2)


def test_a_step_for_other_roles_is_refused_to_the_voice_that_started_the_run(core: Core, tmp_path: Path) -> None:
    """A routine is no way round a tool's roles: said by a child's or a stranger's voice, its
    adult-only step is refused (and so are the steps after it), as the tool would be if they asked;
    a run resumed after a crash is held to the same voice. Said by an adult, started by a time or an
    event, or typed, the step runs (here it finds no such command, which is what running it says)."""
    from assistant.plugins.api import Speaker, spoken_by

    r = routine(
        core,
        tmp_path,
        """\
        name: sneaky
        steps:
          - id: a
            tool: system.run
            args: {command: no such command}
          - id: b
            say: done
            depends_on: [a]
        """,
    )
    runner = core.routines.runner
    for who in (Speaker("Ben", "child"), Speaker(None, "guest")):
        run = asyncio.run(runner.run(r, "phrase", who=who))
        assert run["steps"]["a"]["state"] == "failed" and run["steps"]["a"]["attempts"] == 0
        assert "only an adult can use system.run" in run["steps"]["a"]["error"]
        assert run["steps"]["b"]["state"] == "blocked"

        async def published(voice: Speaker) -> dict[str, Any]:
            with spoken_by(voice):  # started by an event their request published: the household's
                return await runner.run(r, "event:intent")

        assert asyncio.run(published(who))["steps"]["a"]["state"] == "done"
        resumed = asyncio.run(runner.resume(r, {**run, "steps": {}}))
        assert resumed["steps"]["a"]["state"] == "failed", "resumed, still held to the voice that started it"
    unsure = asyncio.run(runner.run(r, "phrase", who=Speaker(None, "guest", unsure=True)))["steps"]["a"]
    assert unsure["state"] == "failed" and "couldn't tell whose voice started this run" in unsure["error"]
    for who in (Speaker("Anna", "adult"), None):
        run = asyncio.run(runner.run(r, "phrase", who=who))
        assert run["steps"]["a"]["state"] == "done" and run["steps"]["a"]["ok"] is False, run["steps"]["a"]
        assert "error" not in run["steps"]["a"] and run["steps"]["b"]["state"] == "done"
