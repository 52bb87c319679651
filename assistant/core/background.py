"""Background work gives way to the voice.

Long jobs (indexing the media library, moving files) run on one worker thread whose CPU and disk
priority are lowered, and they call `Foreground.give_way()` between items: while someone is being
heard or answered (from the wake word to the pipeline's next `ready`) they wait there, so the
speech-to-text, the planner and Piper have the cores to themselves. A pause is capped, so a
missed `ready` costs indexing one pause, never more.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from assistant.core.bus import Bus
from assistant.core.events import Event

log = logging.getLogger(__name__)

T = TypeVar("T")

NICE = 19
"""The worker thread's niceness: the lowest CPU priority an unprivileged process can choose."""

MAX_PAUSE_S = 30.0
"""The longest a hold keeps background work waiting: after that it goes on until the next hold."""


class Foreground:
    """Who is in the foreground now; background work waits for them at its next `give_way()`."""

    def __init__(self, max_pause_s: float = MAX_PAUSE_S) -> None:
        self.max_pause_s = max_pause_s
        self._holders: set[str] = set()
        self._since = 0.0
        """When the foreground last went from free to held (time.monotonic)."""
        self._lock = threading.Lock()
        self._clear = threading.Event()
        self._clear.set()

    def hold(self, who: str) -> None:
        with self._lock:
            if not self._holders:
                self._since = time.monotonic()
            self._holders.add(who)
            self._clear.clear()

    def release(self, who: str) -> None:
        with self._lock:
            self._holders.discard(who)
            if not self._holders:
                self._clear.set()

    @property
    def busy(self) -> bool:
        return not self._clear.is_set()

    def give_way(self, cancel: threading.Event | None = None) -> None:
        """Called by background work between items, on its own thread: returns at once when nobody
        is in the foreground, else when they are done, when the foreground has been held for
        max_pause_s (from then on it returns at once until the foreground is free again), or when
        `cancel` is set."""
        deadline = self._since + self.max_pause_s
        while not self._clear.is_set() and not (cancel is not None and cancel.is_set()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._clear.wait(min(left, 0.2))

    def follow_voice(self, bus: Bus) -> Callable[[], None]:
        """Hold the foreground from each wake word to the pipeline's next `ready`; returns the
        function that stops following (and lets go of a hold the voice still has)."""

        def on_event(event: Event) -> None:
            if event.type == "wake":
                self.hold("voice")
            elif event.type == "ready":
                self.release("voice")

        unsubscribe = bus.subscribe(on_event)

        def stop_following() -> None:
            unsubscribe()
            self.release("voice")

        return stop_following


def lower_this_thread() -> None:
    """Lowest CPU priority and idle disk priority for the calling thread only (Linux keeps both
    per thread). Where the system refuses, the work still runs, at the normal priority."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, NICE)
    except OSError as e:
        log.info("background thread keeps its CPU priority: %s", e)
    try:
        import psutil

        psutil.Process(tid).ionice(psutil.IOPRIO_CLASS_IDLE)
    except Exception as e:  # no ionice on this kernel or platform: CPU priority still applies
        log.info("background thread keeps its disk priority: %s", e)


class BackgroundWorker:
    """One low-priority thread that runs long jobs one after another; callers wait for the result
    from any thread, the event loop included (through `run_async`)."""

    def __init__(self, name: str = "background") -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name, initializer=lower_this_thread)
        self._local = threading.local()

    def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run fn on the worker and return its result (or raise its error). Called from the worker
        itself (a job that starts another), it runs inline instead of waiting for itself."""
        if getattr(self._local, "inside", False):
            return fn(*args)
        return self._pool.submit(self._inside, fn, *args).result()

    async def run_async(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.wrap_future(self._pool.submit(self._inside, fn, *args))

    def _inside(self, fn: Callable[..., T], *args: object) -> T:
        self._local.inside = True
        try:
            return fn(*args)
        finally:
            self._local.inside = False

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
