"""Wall-clock time, injected: the scheduler asks a `Clock`, so tests and benchmarks move time by hand
instead of sleeping, and a clock that jumps (NTP, a suspended laptop) is noticed within a nap."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def elapsed(self) -> float:
        """Seconds on a clock that never jumps and keeps counting while the machine sleeps (Linux's
        CLOCK_BOOTTIME): what a timer counts. Its difference from `now()` moves when the wall clock
        is set, and only then."""
        ...

    async def sleep(self, seconds: float) -> None: ...


def boot_id() -> str:
    """This boot of the machine ("" where unknown): elapsed time is comparable within one boot only."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def elapsed(self) -> float:
        return time.clock_gettime(time.CLOCK_BOOTTIME)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Time that moves only when told to: `advance(s)` or `set(t)` wakes every sleeper whose time
    has come, in order, and lets the event loop run them before returning."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def elapsed(self) -> float:
        """Moves with `now()`: a manual clock's time passes, it is never set."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        await self.set(self._now + seconds)

    async def set(self, when: float) -> None:
        """Move to `when`, stopping at each sleeper's time on the way (a jump backwards wakes none)."""
        await _settle()  # tasks started just now get to go to sleep first
        while self._sleepers and self._sleepers[0][0] <= when:
            at, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, at)
            if not future.done():
                future.set_result(None)
            await _settle()
        self._now = when
        await _settle()


async def _settle() -> None:
    """Let woken tasks run until they wait again."""
    for _ in range(20):
        await asyncio.sleep(0)
