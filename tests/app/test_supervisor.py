"""The supervisor: a crashed service restarts with backoff while the others run on; a first start
that fails stops the assistant with its message; `assistant status` and `assistant service install`."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.app.supervisor import Backoff, Service, ServiceHealth, Supervisor, forever
from assistant.core.bus import Bus
from assistant.core.errors import AudioDeviceError
from assistant.core.health import write_status
from assistant.core.store import DataDirLock
from testbed.harness import WAIT_S
from testbed.harness import wait_for_async as until


def in_loop(test):  # type: ignore[no-untyped-def]
    """Run an async test in a fresh event loop (the suite has no asyncio plugin)."""

    @functools.wraps(test)
    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        return asyncio.run(test(*args, **kwargs))

    return run


FAST = Backoff(first_s=0.05, factor=2.0, most_s=0.4, stable_s=60)


class Flaky:
    """A service that crashes when told to, and whose starts fail while `gone` (a device unplugged)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.starts: list[float] = []
        self.stops = 0
        self.gone = False
        self.crash = asyncio.Event()
        self.crash_at_start = 0
        """Starts after which it crashes at once, with no test in between to be slow."""

    async def start(self) -> None:
        self.starts.append(time.monotonic())
        if self.gone:
            raise AudioDeviceError("the microphone is gone")
        self.crash = asyncio.Event()
        if self.crash_at_start:
            self.crash_at_start -= 1
            self.crash.set()

    async def watch(self) -> None:
        await self.crash.wait()
        raise RuntimeError("boom")

    async def stop(self) -> None:
        self.stops += 1

    def service(self, **kw: object) -> Service:
        return Service(self.name, self.start, self.stop, self.watch, **kw)  # type: ignore[arg-type]


class Pauses:
    """The pause the supervisor chose before each restart, from its health reports (on_change):
    what the backoff decided, whatever a busy machine did to the timing."""

    def __init__(self) -> None:
        self._by_restart: dict[tuple[str, int], float] = {}

    def __call__(self, health: list[ServiceHealth]) -> None:
        for h in health:
            if h.state == "restarting" and h.retry_in_s is not None:
                self._by_restart.setdefault((h.name, h.restarts), h.retry_in_s)

    @property
    def chosen(self) -> list[float]:
        return list(self._by_restart.values())


def test_backoff_grows_to_its_cap() -> None:
    b = Backoff(first_s=0.5, factor=2, most_s=30)
    assert [b.delay(n) for n in (1, 2, 3, 4, 7, 20)] == [0.5, 1.0, 2.0, 4.0, 30, 30]


@in_loop
async def test_a_crash_restarts_only_that_service_with_growing_pauses() -> None:
    bus, seen = Bus(), []
    bus.subscribe(lambda e: seen.append(e.to_dict()))
    audio, web = Flaky("audio"), Flaky("web")
    pauses = Pauses()
    sup = Supervisor(bus, FAST, on_change=pauses)
    sup.add(audio.service())
    sup.add(web.service())
    runner = asyncio.create_task(sup.run())
    await until(lambda: len(web.starts) == 1 and sup.report()["healthy"])

    audio.gone = True  # crashes, and cannot start again until the device is back
    audio.crash.set()
    await until(lambda: len(audio.starts) >= 4)
    health = {h.name: h for h in sup.health()}
    assert health["audio"].state == "restarting" and health["audio"].last_error == "the microphone is gone"
    assert health["web"].state == "running" and len(web.starts) == 1, "the other service ran on"
    assert not sup.report()["healthy"]
    assert pauses.chosen[:3] == [0.05, 0.1, 0.2], f"the pause grows: {pauses.chosen}"

    audio.gone = False
    await until(lambda: {h.name: h.state for h in sup.health()}["audio"] == "running")
    assert sup.report()["healthy"]
    restarts = {h.name: h.restarts for h in sup.health()}
    assert restarts["audio"] >= 3 and restarts["web"] == 0
    assert audio.stops >= 3, "a crashed service is stopped before it starts again"
    changes = [(e["service"], e["state"]) for e in seen if e["type"] == "service"]
    assert ("audio", "restarting") in changes and changes[-1] == ("audio", "running")
    assert any(e.get("error") == "RuntimeError: boom" for e in seen if e["type"] == "service")

    sup.stop()
    await asyncio.wait_for(runner, WAIT_S)
    assert {h.state for h in sup.health()} == {"stopped"}


@in_loop
async def test_a_failing_first_start_stops_the_run_with_its_message() -> None:
    first, broken, never = Flaky("scheduler"), Flaky("web"), Flaky("audio")
    broken.gone = True
    sup = Supervisor(Bus(), FAST)
    for s in (first, broken, never):
        sup.add(s.service())
    with pytest.raises(AudioDeviceError, match="gone"):
        await asyncio.wait_for(sup.run(), WAIT_S)
    assert first.stops == 1 and broken.stops == 1 and never.starts == []


@in_loop
async def test_the_service_that_ends_the_run_stops_the_others_in_reverse_order() -> None:
    order: list[str] = []

    def named(name: str, finishes: bool) -> Service:
        async def start() -> None:
            order.append(f"start {name}")

        async def stop() -> None:
            order.append(f"stop {name}")

        async def watch() -> None:
            if not finishes:
                await forever()

        return Service(name, start, stop, watch, ends_run=finishes)

    sup = Supervisor(Bus(), FAST)
    sup.add(named("scheduler", False))
    sup.add(named("pipeline", True))
    await asyncio.wait_for(sup.run(), WAIT_S)
    assert order == ["start scheduler", "start pipeline", "stop pipeline", "stop scheduler"]


@in_loop
async def test_a_stop_during_a_slow_start_stops_the_others_at_once() -> None:
    """SIGTERM while the LLM loads (the last service's start): the services already running stop
    now, not once the load is done, and the one starting is told to stop too."""
    order: list[str] = []
    loading = asyncio.Event()

    def named(name: str, start_forever: bool = False) -> Service:
        async def start() -> None:
            order.append(f"start {name}")
            if start_forever:
                loading.set()
                await forever()

        async def stop() -> None:
            order.append(f"stop {name}")

        return Service(name, start, stop)

    sup = Supervisor(Bus(), FAST)
    sup.add(named("pipeline"))
    sup.add(named("llm", start_forever=True))
    running = asyncio.create_task(sup.run())
    await asyncio.wait_for(loading.wait(), WAIT_S)
    sup.stop()
    await asyncio.wait_for(running, WAIT_S)
    assert order == ["start pipeline", "start llm", "stop llm", "stop pipeline"]
    assert {h.name: h.state for h in sup.health()} == {"pipeline": "stopped", "llm": "stopped"}


@in_loop
async def test_a_service_stable_for_a_while_starts_its_pauses_over() -> None:
    flaky = Flaky("discovery")
    flaky.crash_at_start = 3  # the first three starts crash at once: the pauses grow 0.05, 0.2, 0.8
    pauses = Pauses()
    stable_s = 0.5
    sup = Supervisor(Bus(), Backoff(first_s=0.05, factor=4, most_s=5, stable_s=stable_s), on_change=pauses)
    sup.add(flaky.service())
    runner = asyncio.create_task(sup.run())
    await until(lambda: len(flaky.starts) == 4 and sup.health()[0].state == "running")
    assert pauses.chosen == [0.05, 0.2, 0.8]
    # Running stable_s is the behaviour under test, and the supervisor reads time.monotonic (no clock
    # to inject): wait it out. A slow machine only makes the stretch longer, which changes nothing.
    await asyncio.sleep(stable_s + 0.1)  # not a wait: the stable stretch of real time is what is tested
    flaky.crash.set()
    await until(lambda: len(flaky.starts) == 5)
    assert pauses.chosen == [0.05, 0.2, 0.8, 0.05], "back to the first, short pause"
    sup.stop()
    await asyncio.wait_for(runner, WAIT_S)


@in_loop
async def test_a_status_file_that_cannot_be_written_does_not_stop_a_service(tmp_path: Path) -> None:
    def broken(_: object) -> None:
        raise OSError("disk full")

    flaky = Flaky("media")
    sup = Supervisor(Bus(), FAST, on_change=broken)
    sup.add(flaky.service())
    runner = asyncio.create_task(sup.run())
    await until(lambda: sup.health()[0].state == "running")
    sup.stop()
    await asyncio.wait_for(runner, WAIT_S)


# --- assistant status -------------------------------------------------------------------------


def status(data: Path) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    as_json = subprocess.run(
        [sys.executable, "-m", "assistant", "status", "--json", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = subprocess.run(
        [sys.executable, "-m", "assistant", "status", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert as_json.returncode == text.returncode and "Traceback" not in as_json.stderr + text.stderr
    return as_json.returncode, json.loads(as_json.stdout), text.stdout


def report(healthy: bool, age_s: float = 0.0) -> dict:  # type: ignore[type-arg]
    now = time.time()
    services = [
        {
            "name": "audio",
            "state": "running" if healthy else "restarting",
            "since": now - 5,
            "restarts": 0 if healthy else 2,
            "last_error": None if healthy else "the microphone stopped delivering audio",
            "last_error_at": None if healthy else now,
            "retry_in_s": None,
        },
        {
            "name": "scheduler",
            "state": "running",
            "since": now - 9,
            "restarts": 0,
            "last_error": None,
            "last_error_at": None,
            "retry_in_s": None,
        },
    ]
    return {
        "healthy": healthy,
        "pid": os.getpid(),
        "started_at": now - 10,
        "updated_at": now - age_s,
        "services": services,
    }


def test_status_reports_each_service_and_its_exit_code_says_how_it_is(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    code, result, text = status(data)
    assert code == 3 and result["running"] is False and "not running" in text

    lock = DataDirLock(data)
    lock.acquire("a test")  # what the running assistant holds
    try:
        write_status(data, report(healthy=True))
        code, result, text = status(data)
        assert code == 0 and result["healthy"] and [s["name"] for s in result["services"]] == ["audio", "scheduler"]
        assert "every service is up" in text and "audio" in text

        write_status(data, report(healthy=False))
        code, result, text = status(data)
        assert code == 1 and "2 restarts" in text and "the microphone stopped delivering audio" in text

        write_status(data, report(healthy=True, age_s=120))
        code, result, text = status(data)
        assert code == 1 and result["responding"] is False and "has not reported" in text
    finally:
        lock.release()
    # Killed without cleaning up: the file is left, the lock is not.
    code, result, _ = status(data)
    assert code == 3 and result["running"] is False


# --- assistant service install ---------------------------------------------------------------


def test_service_install_writes_a_unit_systemd_accepts(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    data = tmp_path / "my data"
    args = [sys.executable, "-m", "assistant", "service", "install", "--data-dir", str(data)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "config" / "systemd" / "user" / "assistant.service"
    text = unit.read_text()
    assert (
        f'run --data-dir "{data}"' in text
        and "Restart=on-failure" in text
        and "systemctl --user enable --now" in done.stdout
    )
    command = text.split("ExecStart=")[1].split()[0]
    assert os.access(command, os.X_OK) and Path(command).name == "assistant"
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze checks the unit (Debian's systemd package)"
    verified = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, "the same unit again is fine"
    other = subprocess.run(
        [*args[:-1], str(tmp_path / "elsewhere")], env=env, capture_output=True, text=True, timeout=60
    )
    assert other.returncode != 0 and "--force" in other.stderr and "Traceback" not in other.stderr
    assert unit.read_text() == text, "nothing replaced without --force"
    forced = subprocess.run(
        [*args[:-1], str(tmp_path / "elsewhere"), "--force"], env=env, capture_output=True, text=True, timeout=60
    )
    assert forced.returncode == 0 and "elsewhere" in unit.read_text()
