"""Durable one-shot timers: kept in the data directory, so a restart loses none, and rung on time.

The full scheduler (alarms, reminders, cron, routines) grows from here; a timer that came due while
the assistant was off rings as soon as it starts again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.store import JsonDocument


@dataclass(frozen=True)
class Timer:
    id: str
    name: str | None
    duration_s: float
    started_at: float
    """Wall clock, seconds since the epoch."""

    @property
    def due_at(self) -> float:
        return self.started_at + self.duration_s

    def remaining(self, now: float | None = None) -> float:
        return max(0.0, self.due_at - (time.time() if now is None else now))


DueCallback = Callable[[Timer], Awaitable[None]]


class Scheduler:
    def __init__(self, data_dir: Path) -> None:
        self._doc = JsonDocument(data_dir / "timers.json", schema=1)
        self._timers: dict[str, Timer] = {t["id"]: Timer(**t) for t in self._doc.load([])}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_due: DueCallback | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _changed(self) -> None:
        """Wake the ringing task; safe from the worker threads that tools run in."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    def _save(self) -> None:
        self._doc.save([asdict(t) for t in self._timers.values()])

    def timers(self) -> list[Timer]:
        return sorted(self._timers.values(), key=lambda t: t.due_at)

    def add_timer(self, duration_s: float, name: str | None = None) -> Timer:
        timer = Timer(uuid.uuid4().hex[:8], name, float(duration_s), time.time())
        self._timers[timer.id] = timer
        self._save()
        self._changed()
        return timer

    def set_duration(self, timer_id: str, duration_s: float) -> Timer | None:
        """Change how long a timer runs, counted from when it was started ("make it ten minutes instead")."""
        timer = self._timers.get(timer_id)
        if timer is None:
            return None
        changed = Timer(timer.id, timer.name, float(duration_s), timer.started_at)
        self._timers[timer.id] = changed
        self._save()
        self._changed()
        return changed

    def cancel(self, timer_id: str) -> Timer | None:
        timer = self._timers.pop(timer_id, None)
        if timer is not None:
            self._save()
            self._changed()
        return timer

    def start(self, on_due: DueCallback) -> None:
        """Begin ringing timers as they come due (in `assistant run`; `ask` only reads and writes them)."""
        self._on_due = on_due
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            pending = self.timers()
            now = time.time()
            due = [t for t in pending if t.due_at <= now]
            for timer in due:
                # Forget it before ringing: a crash mid-announcement must not ring it forever.
                self._timers.pop(timer.id, None)
                self._save()
                assert self._on_due is not None
                await self._on_due(timer)
            if due:
                continue
            delay = pending[0].due_at - now if pending else None
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
