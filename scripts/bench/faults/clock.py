"""The wall clock jumps an hour forward, then (in a second trial) an hour back, while a timer, an
alarm and a reminder are pending.

What is right: a timer counts elapsed time ("in 10 minutes" is 10 minutes of the world's time,
whatever the clock on the wall says, as the monotonic clock counts it); an alarm and a reminder
go by the wall clock ("at 7:30" rings when the clock shows 7:30; one whose time a forward jump
skipped rings at once, late). Each must ring once, not twice and not never.

The scheduler takes an injected clock (assistant/core/clock.py). The bench's clock keeps the two
times a real machine has: `now()` is the wall clock (monotonic + an offset that a jump changes),
and `sleep()` counts monotonic time, as asyncio.sleep does, so a jump wakes no sleeper.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import tempfile
from pathlib import Path
from typing import Any

from faults.common import Figures, in_fork

T0 = 1_800_000_000.0
TIMER_S, REMINDER_AT, ALARM_AT = 600.0, 1200.0, 1800.0
JUMP_AT = 60.0
HORIZON = 6000.0
TOLERANCE_S = 1.5
"""The scheduler looks at the clock at least once a second (scheduler.MAX_NAP_S)."""


class JumpingClock:
    def __init__(self) -> None:
        self.mono = 0.0
        self.offset = T0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.mono + self.offset

    def elapsed(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.mono + max(0.0, seconds), next(self._order), future))
        await future

    def jump(self, seconds: float) -> None:
        self.offset += seconds

    async def advance_to(self, mono: float, step: float = 0.5) -> None:
        while self.mono < mono:
            self.mono = min(mono, self.mono + step)
            while self._sleepers and self._sleepers[0][0] <= self.mono:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)
            for _ in range(10):
                await asyncio.sleep(0)


def trial(jump_s: float) -> dict[str, Any]:
    """In a forked child: one jump; when (in elapsed seconds) each item rang, and what is left stored."""
    from assistant.core.config import SchedulerConfig
    from assistant.scheduling.items import Due
    from assistant.scheduling.scheduler import Scheduler

    async def main(data: Path) -> dict[str, Any]:
        clock = JumpingClock()
        scheduler = Scheduler(data, SchedulerConfig(timezone="UTC"), clock)
        timer = scheduler.add_timer(TIMER_S, "pasta")
        alarm = scheduler.add_alarm(T0 + ALARM_AT, "meeting")
        reminder = scheduler.add_reminder("call mum", T0 + REMINDER_AT)
        names = {timer.id: "timer", alarm.id: "alarm", reminder.id: "reminder"}
        rang: dict[str, list[float]] = {name: [] for name in names.values()}

        async def on_due(due: Due) -> None:
            if due.repeat == 0:
                rang[names[due.item.id]].append(clock.mono)
            scheduler.stop_ringing(due.item.id)  # someone says stop

        scheduler.start(on_due)
        await clock.advance_to(JUMP_AT)
        clock.jump(jump_s)
        await clock.advance_to(HORIZON)
        await scheduler.stop()
        left = len(scheduler.timers()) + len(scheduler.alarms()) + len(scheduler.reminders())
        return {"rang": rang, "left": left}

    with tempfile.TemporaryDirectory(prefix="faults-clock-") as tmp:
        return asyncio.run(main(Path(tmp)))


def expected(jump_s: float) -> dict[str, float]:
    """Elapsed seconds at which each should ring: a timer by elapsed time; the others when the wall
    clock reaches them, at once after a jump that skipped them."""

    def by_wall(at: float) -> float:
        return max(JUMP_AT, at - jump_s) if at > JUMP_AT else at

    return {"timer": TIMER_S, "alarm": by_wall(ALARM_AT), "reminder": by_wall(REMINDER_AT)}


def run() -> list[Figures]:
    out = []
    for jump_s in (3600.0, -3600.0):
        f = Figures(f"clock jump {'+' if jump_s > 0 else '-'}1 h")
        got = in_fork(trial, jump_s)
        if "error" in got:
            f.tracebacks += 1
            f.find(f"the trial failed: {got['error'].strip().splitlines()[-1]}")
            out.append(f)
            continue
        rang, should = got["value"]["rang"], expected(jump_s)
        for what, times in rang.items():
            f.trials += 1
            if not times:
                f.lost += 1
                f.find(f"the {what} never rang within {HORIZON:g} s")
                continue
            if len(times) > 1:
                f.twice += len(times) - 1
                f.find(f"the {what} rang {len(times)} times")
            off = times[0] - should[what]
            f.info[f"{what} rang after"] = f"{times[0]:g} s (should: {should[what]:g} s)"
            if abs(off) > TOLERANCE_S:
                f.mistimed += 1
                f.find(
                    f"the {what} rang {abs(off):g} s {'early' if off < 0 else 'late'}: after {times[0]:g} s of "
                    f"elapsed time instead of {should[what]:g} s, with the wall clock jumped {jump_s:+g} s"
                )
        if got["value"]["left"]:
            f.changed += 1
            f.find(f"{got['value']['left']} items still stored after each rang and was stopped")
        out.append(f)
    return out
