"""The routines the assistant has loaded, and their runner, as the core and the routine skill see
them: names and phrases for the templates, and starting a run from a tool's worker thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.core.bus import Bus
from assistant.core.paths import SHIPPED_ROUTINES
from assistant.plugins.api import speaker
from assistant.routines.runner import RoutineRunner, Speak
from assistant.routines.workflows import Loaded, Routine

log = logging.getLogger(__name__)

SHIPPED = SHIPPED_ROUTINES


def routine_folders(data_dir: Path) -> list[Path]:
    """The shipped examples, then the household's own (which win by name)."""
    return [SHIPPED, data_dir / "routines"]


class RoutineHost:
    def __init__(self, runner: RoutineRunner, loaded: Loaded) -> None:
        self.runner = runner
        self.reload(loaded)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watch: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], None] | None = None
        self._long_lived = False
        """Started (`assistant run`): a run may carry on after the reply. Only bound (`assistant ask`,
        a one-shot process): a run is finished before the reply, or it would be cut off at the exit."""

    def reload(self, loaded: Loaded) -> None:
        self.routines = loaded.routines
        self.errors = loaded.errors
        for error in loaded.errors:
            log.warning("routine not loaded: %s", error.message)

    def names(self) -> list[str]:
        return sorted(self.routines)

    def phrases(self) -> dict[str, str]:
        return {phrase: key for key, r in self.routines.items() for phrase in r.phrases()}

    def get(self, name: str) -> Routine | None:
        return self.routines.get(name.lower().strip())

    def enabled(self, name: str) -> bool:
        return self.runner.enabled(name)

    def set_enabled(self, name: str, on: bool) -> None:
        self.runner.set_enabled(name, on)

    async def start(self, zone: dt.tzinfo, bus: Bus | None = None, speak: Speak | None = None) -> None:
        """Resume interrupted runs, catch up, then watch time and event triggers (in `assistant run`)."""
        self.bind()
        self._long_lived = True
        if speak is not None:
            self.runner.speak = speak
        for run in self.runner.interrupted():
            routine = self.get(run["routine"])
            if routine is None:
                log.warning("run %s of routine %r cannot resume: the routine is gone", run["run_id"], run["routine"])
                continue
            self.runner.spawn(self.runner.resume(routine, run))
        # Listening starts here, not in the watch task: a timer that came due while the assistant was
        # off rings as soon as the scheduler's task runs, and its timer_done must find its routines.
        routines = list(self.routines.values())
        self._unlisten = self.runner.listen(routines, bus) if bus is not None else None
        self._watch = asyncio.create_task(self.runner.watch(routines, zone), name="routines")

    async def wait(self) -> None:
        """Returns when the triggers' watch has ended (it runs until `stop`); raises if it crashed."""
        if self._watch is not None:
            await asyncio.shield(self._watch)

    async def stop(self) -> None:
        self._long_lived = False
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        await self.runner.cancel()

    def bind(self) -> None:
        """Runs may now be started from worker threads (tools); call from the event loop."""
        self._loop = asyncio.get_running_loop()

    def start_run(self, name: str, wait_s: float = 8.0) -> str:
        """From a tool's worker thread: run the routine; returns what its `say:` steps said if it
        ends within `wait_s` (that becomes the reply), else what it said so far, and it carries
        on, speaking for itself. In a one-shot process (bound, not started) it is waited for to
        its end, whatever `wait_s`: nothing would be left to finish it, or to say what it says."""
        routine = self.get(name)
        if routine is None or self._loop is None:
            raise KeyError(name)
        said: list[str] = []
        late = asyncio.Event()

        async def collect(text: str) -> None:
            if late.is_set() and self.runner.speak is not None:
                await self.runner.speak(text)
            else:
                said.append(text)

        heard = speaker()  # this tool's thread serves the voice that asked: its steps are held to it

        async def go() -> dict[str, Any]:
            return await self.runner.spawn(self.runner.run(routine, "phrase", collect, who=heard))

        future = asyncio.run_coroutine_threadsafe(go(), self._loop)
        try:
            future.result(timeout=wait_s if self._long_lived else None)
        except concurrent.futures.TimeoutError:
            self._loop.call_soon_threadsafe(late.set)
        return " ".join(said)
