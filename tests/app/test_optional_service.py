"""An optional service (the LLM) whose first start fails: the assistant runs on without it, the
service reads "failed" with its error in the health report and `assistant status`, and it is not
started again."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
from pathlib import Path

from assistant.app.supervisor import Backoff, Service, Supervisor
from assistant.core.bus import Bus
from assistant.core.errors import LLMUnavailable
from assistant.core.health import write_status
from assistant.core.store import DataDirLock
from testbed.harness import WAIT_S, Recorder
from testbed.harness import wait_for_async as until

FAST = Backoff(first_s=0.05, factor=2.0, most_s=0.4, stable_s=60)
WHY = "the language model could not be loaded (cannot load the LLM x.gguf: cut short): run `assistant models --check`"


def in_loop(test):  # type: ignore[no-untyped-def]
    @functools.wraps(test)
    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        return asyncio.run(test(*args, **kwargs))

    return run


class Counted:
    """A service that counts its starts and stops; its start fails with `error`, its watch raises
    `crash` when set (once per start)."""

    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name, self.error = name, error
        self.starts = self.stops = 0
        self.crash: asyncio.Event | None = None

    async def start(self) -> None:
        self.starts += 1
        if self.error is not None:
            raise self.error

    async def stop(self) -> None:
        self.stops += 1

    async def watch(self) -> None:
        self.crash = asyncio.Event()
        await self.crash.wait()
        raise RuntimeError("boom")

    def service(self, optional: bool = False) -> Service:
        return Service(self.name, self.start, self.stop, self.watch, optional=optional)


@in_loop
async def test_an_optional_service_that_cannot_start_is_failed_and_the_others_run_on() -> None:
    bus = Bus()
    seen = Recorder(bus)
    pipeline, llm, replies = Counted("pipeline"), Counted("llm", LLMUnavailable(WHY)), Counted("replies")
    sup = Supervisor(bus, FAST)
    sup.add(pipeline.service())
    sup.add(llm.service(optional=True))
    sup.add(replies.service())  # after it: still started
    runner = asyncio.create_task(sup.run())
    await until(lambda: replies.starts == 1 and replies.crash is not None)

    health = {h.name: h for h in sup.health()}
    assert health["llm"].state == "failed" and health["llm"].last_error == WHY
    assert health["llm"].last_error_at is not None and health["llm"].restarts == 0
    assert health["pipeline"].state == health["replies"].state == "running"
    report = sup.report()
    assert not report["healthy"], "a failed service is a service down: /health answers 503"
    (failed,) = [s for s in report["services"] if s["name"] == "llm"]
    assert failed["state"] == "failed" and failed["last_error"] == WHY
    changed = [(e.service, e.state, e.error) for e in seen.of("service")]  # type: ignore[attr-defined]
    assert ("llm", "failed", WHY) in changed

    # Another service crashing and restarting three times gives the supervisor time to try the LLM
    # again, which it must not: a file that did not load will not load on the next try either.
    for n in range(3):
        crash = replies.crash
        assert crash is not None
        crash.set()
        await until(lambda n=n, old=crash: replies.starts == n + 2 and replies.crash is not old)  # type: ignore[misc]
    assert llm.starts == 1, "the failed service was started again"
    sup.stop()
    await asyncio.wait_for(runner, WAIT_S)
    assert pipeline.stops == 1 and replies.stops >= 4
    assert llm.stops == 1, "stopped once, when its start failed, and not again at the end"
    states = {h.name: h.state for h in sup.health()}
    assert states == {"pipeline": "stopped", "llm": "failed", "replies": "stopped"}


@in_loop
async def test_a_stop_while_an_optional_service_fails_still_stops_the_run() -> None:
    """The failure is no reason to go on starting the rest once `stop` has come."""
    sup = Supervisor(Bus(), FAST)
    later = Counted("replies")

    async def fails_after_the_stop() -> None:
        sup.stop()
        raise LLMUnavailable(WHY)

    sup.add(Service("llm", fails_after_the_stop, optional=True))
    sup.add(later.service())
    await asyncio.wait_for(sup.run(), WAIT_S)
    assert later.starts == 0


@in_loop
async def test_status_shows_the_failed_service_and_why(tmp_path: Path) -> None:
    sup = Supervisor(Bus(), FAST, on_change=lambda _: write_status(tmp_path, sup.report()))
    pipeline, llm = Counted("pipeline"), Counted("llm", LLMUnavailable(WHY))
    sup.add(pipeline.service())
    sup.add(llm.service(optional=True))
    runner = asyncio.create_task(sup.run())
    await until(lambda: sup.health()[1].state == "failed")
    lock = DataDirLock(tmp_path)
    lock.acquire("a test")  # what the running assistant holds
    try:
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "assistant", "status", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        lock.release()
        sup.stop()
        await asyncio.wait_for(runner, WAIT_S)
    assert shown.returncode == 1, shown.stderr
    (line,) = [line for line in shown.stdout.splitlines() if line.strip().startswith("llm")]
    assert "failed" in line and WHY in line
