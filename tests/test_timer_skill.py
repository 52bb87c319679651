"""The timer skill and its durable scheduler, through the real dialogue path."""

import asyncio
import json
import time
from pathlib import Path

import pytest

from assistant.bus import Bus
from assistant.config import load_config
from assistant.runtime import build_core
from assistant.scheduler import Scheduler
from tests.conftest import TEMPLATES_ONLY, Recorder


def ask(core, text: str) -> str:  # type: ignore[no-untyped-def]
    return asyncio.run(core.dialogue.handle(text, turn=1))


def make(data_dir: Path):  # type: ignore[no-untyped-def]
    bus = Bus()
    return build_core(load_config(environ=TEMPLATES_ONLY), data_dir, bus), Recorder(bus)


def test_start_status_cancel(data_dir: Path) -> None:
    core, rec = make(data_dir)
    assert ask(core, "set a timer for five minutes") == "Timer set for 5 minutes."
    intent = rec.of("intent")[-1]
    assert (intent.tool, intent.args, intent.source) == ("timer.start", {"minutes": 5}, "template")
    status = ask(core, "how much time is left")
    assert status.startswith("There's 4 minutes") or status.startswith("There's 5 minutes"), status
    assert ask(core, "cancel the timer") == "Your 5 minute timer is cancelled."
    assert ask(core, "how much time is left") == "There's no timer running."


def test_timers_survive_a_restart(data_dir: Path) -> None:
    core, _ = make(data_dir)
    ask(core, "set a pasta timer for ten minutes")
    again, _ = make(data_dir)
    assert "left on your pasta timer" in ask(again, "how much time is left on the pasta timer")
    saved = json.loads((data_dir / "timers.json").read_text())
    assert saved["schema"] == 1 and saved["data"][0]["name"] == "pasta"


def test_which_timer_when_several(data_dir: Path) -> None:
    core, _ = make(data_dir)
    ask(core, "set a timer for five minutes")
    ask(core, "set a timer for ten minutes")
    assert "Which one" in ask(core, "cancel the timer")
    assert ask(core, "cancel the 10 minute timer") == "Your 10 minute timer is cancelled."
    assert ask(core, "cancel all timers") == "Cancel all your timers?"
    assert ask(core, "yes") == "Cancelled 1 timer."


def test_unknown_request_is_honest_and_does_nothing(data_dir: Path) -> None:
    core, rec = make(data_dir)
    assert ask(core, "open the pod bay doors") == "Sorry, I can't help with that yet."
    assert rec.types() == ["no_intent", "reply"]
    assert not (data_dir / "timers.json").exists()


def test_damaged_timer_file_is_kept_and_reported(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "timers.json").write_text("{not json")
    from assistant.store import StoreError

    with pytest.raises(StoreError, match="damaged"):
        make(data_dir)
    assert (data_dir / "timers.json").read_text() == "{not json"


def test_a_due_timer_rings(data_dir: Path) -> None:
    async def scenario() -> list[str]:
        scheduler = Scheduler(data_dir)
        rung: list[str] = []
        done = asyncio.Event()

        async def on_due(timer) -> None:  # type: ignore[no-untyped-def]
            rung.append(timer.name)
            done.set()

        scheduler.start(on_due)
        started = time.monotonic()
        scheduler.add_timer(0.3, "tea")
        await asyncio.wait_for(done.wait(), 5)
        assert 0.25 < time.monotonic() - started < 1.5
        await scheduler.stop()
        assert scheduler.timers() == []
        assert Scheduler(data_dir).timers() == [], "a rung timer is gone from disk too"
        return rung

    assert asyncio.run(scenario()) == ["tea"]


def test_a_timer_due_while_off_rings_at_start(data_dir: Path) -> None:
    Scheduler(data_dir).add_timer(0.01, "eggs")
    time.sleep(0.05)

    async def scenario() -> list[str]:
        scheduler = Scheduler(data_dir)
        rung: list[str] = []

        async def on_due(timer) -> None:  # type: ignore[no-untyped-def]
            rung.append(timer.name)

        scheduler.start(on_due)
        await asyncio.sleep(0.2)
        await scheduler.stop()
        return rung

    assert asyncio.run(scenario()) == ["eggs"]


def test_spoken_time() -> None:
    import datetime as dt

    from skills.clock.skill import spoken_time

    assert spoken_time(dt.datetime(2026, 1, 1, 0, 0)) == "12 o'clock AM"
    assert spoken_time(dt.datetime(2026, 1, 1, 9, 5)) == "9 oh 5 AM"
    assert spoken_time(dt.datetime(2026, 1, 1, 20, 45)) == "8 45 PM"
