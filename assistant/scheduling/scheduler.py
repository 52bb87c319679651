"""Durable timers, alarms and reminders, fired on time by one task.

Everything lives in `scheduler.json` in the data directory (item_store.py: written before a
tool's call returns), so a restart loses nothing. Time comes from an injected `Clock`. This module
is the firing loop and the items' rules; what is on disk is the store's.

An item that comes due rings (sound, then speech) and keeps ringing every `ring_repeat_s` until
someone stops it, or until `ring_limit_s` has passed. What came due while the assistant was off is
caught up at start: timers ring at once; alarms and reminders missed by less than `grace_s` are
announced as missed, older ones are only logged; a recurring alarm moves on to its next time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from assistant.core.clock import Clock, SystemClock, boot_id
from assistant.core.config import SchedulerConfig
from assistant.core.errors import ConfigError
from assistant.language.spoken_time import Recurrence, local_zone
from assistant.scheduling.item_store import ItemStore
from assistant.scheduling.items import Alarm, Due, Item, ItemT, Kind, Reminder, Timer

log = logging.getLogger(__name__)

MAX_NAP_S = 1.0
"""The loop never sleeps longer than this, so a wall clock that jumps is noticed within a second."""
JUMP_S = 2.0
"""The wall clock moved this much more (or less) than elapsed time: it was set, not slewed (NTP
slews by well under a millisecond a second)."""


DueCallback = Callable[[Due], Awaitable[None]]


@dataclass
class _Slot:
    kind: Kind
    item: Item
    doc_id: int
    next_at: float | None = None
    repeats: int = 0
    version: int = field(default=0)


class Scheduler:
    def __init__(self, data_dir: Path, config: SchedulerConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SchedulerConfig()
        self.clock = clock or SystemClock()
        self.zone: ZoneInfo = _zone(self.config.timezone) if self.config.timezone else local_zone()
        if (
            self.config.ring_repeat_s < 1
            or self.config.ring_limit_s < 0
            or self.config.snooze_s < 1
            or self.config.grace_s < 0
        ):
            raise ConfigError(
                "scheduler: ring_repeat_s and snooze_s must be at least 1 s, ring_limit_s and grace_s not negative"
            )
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.RLock()
        """Tools change items from worker threads while the loop fires them."""
        self._store = ItemStore(data_dir / "scheduler.json", self._lock, self._current)
        self._heap: list[tuple[float, int, str]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_due: DueCallback | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_missed: list[Due] = []
        self._boot = boot_id()
        for kind, item, doc_id in self._store.load():
            self._slots[item.id] = _Slot(kind, item, doc_id)
        self._follow_the_clock()  # set while it was off: read in today's wall-clock terms (written when changed)
        for item_id in self._slots:
            self._plan(item_id)

    # --- reading ------------------------------------------------------------------------------

    def timers(self) -> list[Timer]:
        return sorted((s.item for s in self._slots.values() if isinstance(s.item, Timer)), key=lambda t: t.due_at)

    def alarms(self) -> list[Alarm]:
        return sorted((s.item for s in self._slots.values() if isinstance(s.item, Alarm)), key=lambda a: a.due_at)

    def reminders(self, include_done: bool = False) -> list[Reminder]:
        return sorted(
            (
                s.item
                for s in self._slots.values()
                if isinstance(s.item, Reminder) and (include_done or s.item.done_at is None)
            ),
            key=lambda r: r.at,
        )

    def ringing(self) -> list[Due]:
        return [Due(s.kind, s.item) for s in self._slots.values() if getattr(s.item, "ringing_since", None) is not None]

    def now(self) -> float:
        return self.clock.now()

    def local(self, at: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(at, self.zone)

    def local_now(self) -> dt.datetime:
        return self.local(self.now())

    # --- timers -------------------------------------------------------------------------------

    def add_timer(
        self, duration_s: float, name: str | None = None, room: str | None = None, owner: str | None = None
    ) -> Timer:
        """owner: who set it (told by voice); it rings with their name."""
        now = self.now()
        timer = Timer(_new_id(), name, float(duration_s), now, ends_at=now + float(duration_s), room=room, owner=owner)
        return self._insert("timer", timer)

    def set_duration(self, timer_id: str, duration_s: float) -> Timer | None:
        """How long a timer runs in all, counted from its start ("make it ten minutes instead")."""

        def change(t: Timer) -> Timer:
            if t.paused:
                return replace(
                    t, duration_s=float(duration_s), left_s=max(0.0, (t.left_s or 0) + duration_s - t.duration_s)
                )
            return replace(t, duration_s=float(duration_s), ends_at=(t.ends_at or 0) + duration_s - t.duration_s)

        return self._change_timer(timer_id, change)

    def extend(self, timer_id: str, seconds: float) -> Timer | None:
        return self._change_timer(timer_id, lambda t: self._lengthened(t, seconds))

    def _lengthened(self, t: Timer, seconds: float) -> Timer:
        if t.ringing_since is not None:  # "five more minutes" for a ringing timer starts it again
            now = self.now()
            return replace(t, duration_s=t.duration_s + seconds, ends_at=now + seconds, ringing_since=None)
        if t.paused:
            return replace(t, duration_s=t.duration_s + seconds, left_s=(t.left_s or 0) + seconds)
        return replace(t, duration_s=t.duration_s + seconds, ends_at=(t.ends_at or 0) + seconds)

    def pause(self, timer_id: str) -> Timer | None:
        now = self.now()
        return self._change_timer(
            timer_id,
            lambda t: (
                t
                if t.paused or t.ringing_since
                else replace(t, ends_at=None, left_s=max(0.0, (t.ends_at or now) - now))
            ),
        )

    def resume(self, timer_id: str) -> Timer | None:
        now = self.now()
        return self._change_timer(
            timer_id, lambda t: replace(t, ends_at=now + (t.left_s or 0), left_s=None) if t.paused else t
        )

    def _change_timer(self, timer_id: str, change: Callable[[Timer], Timer]) -> Timer | None:
        slot = self._slots.get(timer_id)
        if slot is None or not isinstance(slot.item, Timer):
            return None
        return self._update(timer_id, change(slot.item))

    # --- alarms and reminders ------------------------------------------------------------------

    def add_alarm(
        self, at: float, label: str | None = None, recurrence: Recurrence | None = None, owner: str | None = None
    ) -> Alarm:
        """owner: the person it is for (who set it by voice); None: the household's."""
        alarm = Alarm(
            _new_id(),
            float(at),
            label,
            recurrence.hour if recurrence else None,
            recurrence.minute if recurrence else None,
            sorted(recurrence.weekdays) if recurrence else None,
            owner=owner,
        )
        return self._insert("alarm", alarm)

    def snooze(self, alarm_id: str, seconds: float | None = None) -> Alarm | None:
        slot = self._slots.get(alarm_id)
        if slot is None or not isinstance(slot.item, Alarm):
            return None
        until = self.now() + (seconds if seconds is not None else self.config.snooze_s)
        return self._update(alarm_id, replace(slot.item, snoozed_until=until, ringing_since=None))

    def add_reminder(self, text: str, at: float, owner: str | None = None) -> Reminder:
        """owner: the person it is for (who asked by voice); None: the household's."""
        return self._insert("reminder", Reminder(_new_id(), text, float(at), owner=owner))

    def add_reminders(self, items: list[tuple[str, float]]) -> list[Reminder]:
        """Many at once, in one write (an import, a benchmark)."""
        reminders = [Reminder(_new_id(), text, float(at)) for text, at in items]
        with self._lock:
            doc_ids = self._store.insert_many("reminder", list(reminders))
            for reminder, doc_id in zip(reminders, doc_ids, strict=False):
                self._slots[reminder.id] = _Slot("reminder", reminder, doc_id)
                self._plan(reminder.id)
        self._changed()
        return reminders

    # --- stopping ------------------------------------------------------------------------------

    def cancel(self, item_id: str) -> Item | None:
        """Remove a timer, alarm or reminder (a ringing one stops)."""
        with self._lock:
            slot = self._slots.pop(item_id, None)
            if slot is None:
                return None
            self._store.remove(slot.kind, slot.doc_id)
        self._changed()
        return slot.item

    def stop_ringing(self, item_id: str) -> Item | None:
        """Someone said stop: a timer is done, a one-off alarm is gone, a recurring one moves on."""
        slot = self._slots.get(item_id)
        if slot is None:
            return None
        item = slot.item
        if isinstance(item, Alarm) and item.recurrence is not None:
            after = self.local(max(self.now(), item.at))
            nxt = item.recurrence.next_after(after, self.zone).timestamp()
            return self._update(item_id, replace(item, at=nxt, snoozed_until=None, ringing_since=None))
        if isinstance(item, Reminder):
            return self._update(item_id, replace(item, done_at=item.done_at or self.now()))
        return self.cancel(item_id)

    def stop_all_ringing(self) -> list[Item]:
        return [stopped for due in self.ringing() if (stopped := self.stop_ringing(due.item.id)) is not None]

    # --- running -------------------------------------------------------------------------------

    def start(self, on_due: DueCallback) -> None:
        """Begin firing (in `assistant run`; `ask` and the CLI only read and write)."""
        self._on_due = on_due
        self._loop = asyncio.get_running_loop()
        self._catch_up()
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def wait(self) -> None:
        """Returns when the firing loop has ended (it runs until `stop`); raises if it crashed."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()

    def _catch_up(self) -> None:
        """What came due while the assistant was off."""
        now = self.now()
        for slot in list(self._slots.values()):
            item = slot.item
            late = now - item.due_at
            if (
                late <= 0
                or isinstance(item, Timer)
                or getattr(item, "ringing_since", None)
                or getattr(item, "done_at", None)
            ):
                continue
            announce = late <= self.config.grace_s
            if not announce:
                log.warning(
                    "%s %s was due %.0f s ago, while the assistant was off; too late to announce",
                    slot.kind,
                    item.id,
                    late,
                )
            self._settle_missed(slot, announce)

    def _settle_missed(self, slot: _Slot, announce: bool) -> None:
        item = slot.item
        if announce:
            self._pending_missed.append(Due(slot.kind, item, "missed"))
        if isinstance(item, Alarm):
            if item.recurrence is not None:
                nxt = item.recurrence.next_after(self.local_now(), self.zone).timestamp()
                self._update(item.id, replace(item, at=nxt, snoozed_until=None))
            else:
                self.cancel(item.id)
        elif isinstance(item, Reminder):
            self._update(item.id, replace(item, done_at=self.now(), missed=True))

    async def _run(self) -> None:
        assert self._on_due is not None
        missed, self._pending_missed = self._pending_missed, []
        for due in missed:
            await self._on_due(due)
        while True:
            self._wakeup.clear()
            moved = self._follow_the_clock()
            if moved:
                log.info("the wall clock was set: %d timer(s) keep counting their own minutes", len(moved))
                with self._lock:
                    for item_id in list(self._slots):
                        self._plan(item_id)
                for item_id in moved:
                    self._persist_soon(item_id)
            now = self.now()
            while self._heap and self._heap[0][0] <= now:
                with self._lock:
                    _, version, item_id = heapq.heappop(self._heap)
                    slot = self._slots.get(item_id)
                    if slot is None or slot.version != version:
                        continue  # changed or removed since it was planned
                try:
                    await self._fire(slot, now)
                except Exception:  # one bad item (or a cancel racing it) must not stop every alarm after it
                    log.exception("could not fire %s %s", slot.kind, item_id)
            nap = MAX_NAP_S if not self._heap else min(MAX_NAP_S, max(0.0, self._heap[0][0] - now))
            sleeper = asyncio.ensure_future(self.clock.sleep(nap))
            waker = asyncio.ensure_future(self._wakeup.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    async def _fire(self, slot: _Slot, now: float) -> None:
        with self._lock:
            if self._slots.get(slot.item.id) is not slot:
                return  # cancelled by a tool thread a moment ago
        item = slot.item
        assert self._on_due is not None
        # Written off the event loop: the write (the whole file) must not make the next item late.
        # A reminder is said first, written after: a crash in between says it again after the
        # restart; nothing is lost.
        if isinstance(item, Reminder):
            self._set(item.id, replace(item, done_at=now))
            await self._on_due(Due("reminder", item))
            self._persist_soon(item.id)
            return
        since = getattr(item, "ringing_since", None)
        if since is None:
            item = self._set(item.id, replace(item, ringing_since=now))
            slot.repeats = 0
        elif now - since >= self.config.ring_limit_s:
            log.info("%s %s rang for %.0f s with nobody stopping it", slot.kind, item.id, now - since)
            self._persist_soon(item.id, stop=True)
            return
        else:
            slot.repeats += 1
        with self._lock:
            self._plan(item.id, rang=True)
        if slot.repeats == 0:
            # Queued before it is said: a stop during the announcement (seconds of speech) must not
            # leave it on disk as not rung yet, or the next start would ring it as new and publish
            # its timer_done again (its routine would run twice). Ringing on disk, it still rings.
            self._persist_soon(item.id)
        await self._on_due(Due(slot.kind, item, "ring", slot.repeats))

    # --- storage and planning ----------------------------------------------------------------------

    def _frame(self) -> float:
        return self.clock.now() - self.clock.elapsed()

    def _stamped(self, item: ItemT) -> ItemT:
        """A timer's times with the clock frame they are written in (Timer.frame)."""
        return replace(item, boot=self._boot, frame=self._frame()) if isinstance(item, Timer) else item

    def _follow_the_clock(self) -> list[str]:
        """Move running timers by however far the wall clock was set since their times were written,
        so each still rings after its own minutes of elapsed time; their ids. A timer written on an
        earlier boot cannot be compared, and keeps its wall-clock time."""
        frame, moved = self._frame(), []
        with self._lock:
            for slot in self._slots.values():
                t = slot.item
                if not isinstance(t, Timer) or t.frame is None or not self._boot or t.boot != self._boot:
                    continue
                jump = frame - t.frame
                if abs(jump) < JUMP_S:
                    continue
                slot.item = replace(
                    t,
                    started_at=t.started_at + jump,
                    frame=frame,
                    ends_at=None if t.ends_at is None else t.ends_at + jump,
                    ringing_since=None if t.ringing_since is None else t.ringing_since + jump,
                )
                moved.append(t.id)
        return moved

    def _insert(self, kind: Kind, item: ItemT) -> ItemT:
        item = self._stamped(item)
        with self._lock:
            doc_id = self._store.insert(kind, item)
            self._slots[item.id] = _Slot(kind, item, doc_id)
            self._plan(item.id)
        self._changed()
        return item

    def _update(self, item_id: str, item: ItemT) -> ItemT:
        """Change an item in memory and on disk before returning (what a tool acknowledges is kept)."""
        with self._lock:
            item = self._set(item_id, item)
            self._persist(item_id)
        return item

    def _set(self, item_id: str, item: ItemT) -> ItemT:
        item = self._stamped(item)
        with self._lock:
            slot = self._slots[item_id]
            slot.item = item
            self._plan(item_id)
        self._changed()
        return item

    def _persist_soon(self, item_id: str, stop: bool = False) -> None:
        """Write (or stop ringing) in the store's own thread, in order, without the loop waiting."""
        if stop:
            self._store.later(self.stop_ringing, item_id)
        else:
            self._store.write_soon(item_id)

    def _current(self, item_id: str) -> tuple[Kind, int, Item] | None:
        slot = self._slots.get(item_id)
        return None if slot is None else (slot.kind, slot.doc_id, slot.item)

    async def flush(self) -> None:
        """Wait until every write the loop started is on disk."""
        await self._store.flush()

    def _persist(self, item_id: str) -> None:
        with self._lock:
            slot = self._slots.get(item_id)
            if slot is not None:
                self._store.update(slot.kind, slot.doc_id, slot.item)

    def _plan(self, item_id: str, rang: bool = False) -> None:
        """(Re)compute when the item next needs the loop: its due time, or its next ring (at once
        for an item found ringing, e.g. after a crash; `ring_repeat_s` after a ring)."""
        slot = self._slots[item_id]
        slot.version += 1
        item = slot.item
        at: float | None
        if getattr(item, "ringing_since", None) is not None:
            at = self.now() + (self.config.ring_repeat_s if rang else 0.0)
        elif isinstance(item, Timer) and item.paused:
            at = None
        elif isinstance(item, Reminder) and item.done_at is not None:
            at = None
        else:
            at = item.due_at
        slot.next_at = at
        if at is not None:
            heapq.heappush(self._heap, (at, slot.version, item_id))

    def _changed(self) -> None:
        """Wake the loop; safe from the worker threads that tools run in."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError) as e:  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(f"scheduler.timezone '{name}' is not a time zone; use a name like Europe/Berlin") from e


def _new_id() -> str:
    return uuid.uuid4().hex[:8]
