"""Runs routines: steps as a DAG (graphlib), independent ones in parallel, each with a timeout and
retries, every run journaled in `workflows.json` with a checkpoint after every step.

A step is marked running before it starts and done (with its output) right after it ends, each a
crash-safe write. After a crash the interrupted run resumes: done steps are never run again, a step
that was running when the process died runs again (it had not finished). Time triggers are
caught up at start by each routine's `catch_up` policy.

A tool runs in a worker thread, and a thread cannot be stopped: a tool step past its timeout is
waited for (up to `late_grace_s` more) before anything else, never tried again while it may still
do its effect. A run stopped on purpose (the end of `assistant ask`, the assistant stopping) waits
for the tool in flight the same way and journals how it ended, so the resume carries on after it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from croniter import croniter
from tinydb import Query

from assistant.core.bus import Bus
from assistant.core.clock import Clock, SystemClock
from assistant.core.errors import AssistantError
from assistant.core.store import open_db
from assistant.plugins.api import ORIGIN, SPEAKER, Speaker, ToolCall, ToolResult, ToolSpec
from assistant.routines.workflows import REFERENCE, Routine, Step
from assistant.trust.audit import AuditLog
from assistant.trust.calls import record_call

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA = 1
KEEP_RUNS = 100
"""Finished runs kept per routine: every checkpoint rewrites the journal, so it must not grow forever."""
FINISHED = ("done", "failed", "skipped", "blocked")
"""A step is skipped when its condition is false (its dependents still run), blocked when a step it
depends on failed or was blocked."""
Speak = Callable[[str], Awaitable[None]]
LATE_GRACE_S = 10.0
"""How long a tool step past its timeout is still waited for before the step is given up as failed."""


class StillRunning(Exception):
    """A tool step's thread outlived its timeout and the grace after it."""


class RoutineRunner:
    def __init__(
        self,
        data_dir: Path,
        tool: Callable[[str], ToolSpec],
        clock: Clock | None = None,
        speak: Speak | None = None,
        audit: AuditLog | None = None,
        late_grace_s: float = LATE_GRACE_S,
    ) -> None:
        self._db = open_db(data_dir / "workflows.json", SCHEMA)
        self._runs = self._db.table("runs")
        self._fired = self._db.table("triggers")
        self._switches = self._db.table("switches")
        self._tool = tool
        self.audit = audit
        self.clock = clock or SystemClock()
        self.speak = speak
        self.late_grace_s = late_grace_s
        self._lock = threading.Lock()
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._started: set[asyncio.Task[Any]] = set()
        self._active: set[str] = set()

    # --- the journal ------------------------------------------------------------------------------

    def history(self, name: str | None = None) -> list[dict[str, Any]]:
        runs = [dict(r) for r in self._runs.all() if name is None or r["routine"].lower() == name.lower()]
        return sorted(runs, key=lambda r: r["started_at"])

    def interrupted(self) -> list[dict[str, Any]]:
        return [r for r in self.history() if r["state"] == "running"]

    def unfinished_by(self) -> list[str | None]:
        """Who said each run not finished, which a start resumes as theirs (None: the household's)."""
        said = (r.get("started_by") for r in self.interrupted())
        return [who.get("name") if isinstance(who, dict) else None for who in said]

    def _save(self, run: dict[str, Any]) -> None:
        with self._lock:
            self._runs.upsert(run, Query().run_id == run["run_id"])

    async def _checkpoint(self, run: dict[str, Any]) -> None:
        """Snapshot now, write in the journal's one thread: snapshots reach the disk in the order they
        were taken, so a slow older one never overwrites a newer one."""
        snapshot = json.loads(json.dumps({**run, "steps": run["steps"]}, default=str))  # a tool's set or Path too
        await asyncio.get_running_loop().run_in_executor(self._writer, self._save, snapshot)

    # --- running ------------------------------------------------------------------------------------

    async def run(
        self, routine: Routine, trigger: str = "manual", speak: Speak | None = None, who: Speaker | None = None
    ) -> dict[str, Any]:
        """Run `routine` to its end; `speak` (else the runner's) says its `say:` steps. `who`: the voice
        that said it (routines/host.py start_run). Its steps serve that voice, and a step whose tool
        is for other roles is refused, as the tool would be if that voice asked for it. Without one
        (a time, an event, typed, the shell) the run is the household's, whoever's request published
        the event that started it: started by a time or an event, it sees the household's things only
        (HOUSEHOLD); typed or from the shell, everyone's, as a typed request does."""
        run = {
            "run_id": uuid.uuid4().hex[:12],
            "routine": routine.name,
            "trigger": trigger,
            "state": "running",
            "started_at": self.clock.now(),
            "ended_at": None,
            "steps": {s.id: {"state": "pending", "attempts": 0} for s in routine.steps},
        }
        if who is HOUSEHOLD or trigger in ("time", "catch-up") or trigger.startswith("event:"):
            run["household"] = True  # its steps read the household's things only; a routine it runs too
        elif who is not None:  # kept with the run, so a run resumed after a crash is held to it too
            run["started_by"] = {"name": who.name, "role": who.role, "unsure": who.unsure}
        await self._checkpoint(run)
        self._active.add(routine.name)
        try:
            return await self._execute(routine, run, speak)
        finally:
            self._active.discard(routine.name)

    async def resume(self, routine: Routine, run: dict[str, Any]) -> dict[str, Any]:
        """Carry on an interrupted run from its last completed step."""
        run = {
            **run,
            "steps": {s.id: dict(run["steps"].get(s.id, {"state": "pending", "attempts": 0})) for s in routine.steps},
        }
        log.info("resuming routine %r (run %s)", routine.name, run["run_id"])
        return await self._execute(routine, run)

    async def _execute(self, routine: Routine, run: dict[str, Any], speak: Speak | None = None) -> dict[str, Any]:
        graph = routine.order()
        graph.prepare()
        running: dict[asyncio.Task[None], str] = {}
        while graph.is_active():
            for step_id in graph.get_ready():
                if run["steps"][step_id]["state"] in FINISHED:
                    graph.done(step_id)  # finished before a crash: never again
                    continue
                task = asyncio.create_task(self._step(routine.step(step_id), run, speak or self.speak))
                running[task] = step_id
            if not running:
                continue
            try:
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:  # stopped: each step in flight journals how it ended first
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                raise
            for task in finished:
                graph.done(running.pop(task))
        failed = [k for k, v in run["steps"].items() if v["state"] == "failed"]
        run["state"] = "failed" if failed else "done"
        run["ended_at"] = self.clock.now()
        await self._checkpoint(run)
        await asyncio.get_running_loop().run_in_executor(self._writer, self._prune, run["routine"])
        return run

    def _prune(self, routine: str) -> None:
        with self._lock:
            ended = sorted(
                (r for r in self._runs.all() if r["routine"] == routine and r["state"] != "running"),
                key=lambda r: r["started_at"],
            )
            if len(ended) > KEEP_RUNS:
                self._runs.remove(doc_ids=[r.doc_id for r in ended[:-KEEP_RUNS]])

    async def _step(self, step: Step, run: dict[str, Any], speak: Speak | None) -> None:
        record = run["steps"][step.id]
        blocked = [d for d in step.depends_on if run["steps"][d]["state"] in ("failed", "blocked")]
        if blocked:
            record.update(state="blocked", reason=f"step '{blocked[0]}' failed")
            await self._checkpoint(run)
            return
        if step.when is not None and not _truthy(fill(step.when, run)):
            record.update(state="skipped", reason="its condition was false")
            await self._checkpoint(run)
            return
        barred = self._barred(step, run)
        if barred is not None:
            record.update(state="failed", ended_at=self.clock.now(), error=barred)
            await self._checkpoint(run)
            return
        for attempt in range(step.retries + 1):
            record.update(state="running", attempts=record.get("attempts", 0) + 1, started_at=self.clock.now())
            await self._checkpoint(run)
            try:
                result = await self._attempt(step, run, speak)
            except StillRunning as e:
                record.update(
                    state="failed",
                    ended_at=self.clock.now(),
                    error=f"timed out after {step.timeout_s:g} s and was still running "
                    f"{self.late_grace_s:g} s later; not tried again, so it cannot happen twice",
                )
                await self._checkpoint(run)
                self._journal_late_end(e.args[0], run, record)
                return
            except TimeoutError:
                record.update(error=f"timed out after {step.timeout_s:g} s")
            except AssistantError as e:
                record.update(error=e.message)
            except Exception as e:  # a broken skill must not take the routine engine down
                log.exception("routine step %s failed", step.id)
                record.update(error=str(e))
            else:
                self._record_done(record, result)
                await self._checkpoint(run)
                return
            log.warning("step %s, attempt %d: %s", step.id, attempt + 1, record["error"])
        record.update(state="failed", ended_at=self.clock.now())
        await self._checkpoint(run)

    def _barred(self, step: Step, run: dict[str, Any]) -> str | None:
        """Why the voice that started the run may not have this step's tool used, or None. A run no
        voice started (a time, an event, typed, nobody enrolled) runs as the household's."""
        started_by = run.get("started_by")
        if step.tool is None or not isinstance(started_by, dict):
            return None
        roles = self._tool(step.tool).roles
        role = started_by.get("role")
        if not roles or role in roles:
            return None
        needed = " or ".join(f"an {r}" if r[:1] in "aeiou" else f"a {r}" for r in roles)
        if started_by.get("unsure"):
            return (
                f"only {needed} can use {step.tool}, and I couldn't tell whose voice started this run: "
                "say the routine's name in a whole sentence"
            )
        who = started_by.get("name") or "a voice I don't know"
        return f"only {needed} can use {step.tool}, and this run was started by {who} ({role})"

    def _record_done(self, record: dict[str, Any], result: ToolResult) -> None:
        record.update(state="done", output=result.speech, ok=result.ok, data=result.data, ended_at=self.clock.now())
        record.pop("error", None)

    async def _attempt(self, step: Step, run: dict[str, Any], speak: Speak | None) -> ToolResult:
        """One try of a step. A `say:` step past its timeout is cut short (TimeoutError: it may be
        tried again). A tool's thread cannot be cut short: past its timeout it is waited for up to
        `late_grace_s` more, and its late result is the step's (trying it again while it ran would
        do its effect twice); still running then, StillRunning."""
        record = run["steps"][step.id]
        began = time.monotonic()
        act = self._begin(step, run, speak)
        try:
            done, _ = await asyncio.wait({act}, timeout=step.timeout_s)
            if act in done:
                return act.result()
            if step.tool is None:
                act.cancel()
                await asyncio.gather(act, return_exceptions=True)
                raise TimeoutError
            record.update(error=f"timed out after {step.timeout_s:g} s; waiting for it to end before anything else")
            await self._checkpoint(run)
            done, _ = await asyncio.wait({act}, timeout=self.late_grace_s)
            if act not in done:
                raise StillRunning(act)
            result = act.result()  # its own error, if it failed: then trying again is safe
            record["late_s"] = round(time.monotonic() - began - step.timeout_s, 3)
            return result
        except asyncio.CancelledError:
            await self._stopped_during(step, act, run)
            raise

    async def _stopped_during(self, step: Step, act: asyncio.Future[ToolResult], run: dict[str, Any]) -> None:
        """The run is being stopped while this step runs. Speech is cut; a tool's thread goes on
        anyway, so it is waited for (up to `late_grace_s`) and its end journaled: done, it is never
        run again when the run resumes; still running, it is failed, not run a second time."""
        if step.tool is None:
            act.cancel()
            return
        record = run["steps"][step.id]
        waiting = asyncio.ensure_future(asyncio.wait({act}, timeout=self.late_grace_s))
        while not waiting.done():
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                continue  # asked again to stop: the thread goes on all the same
        if not act.done():  # nobody is left to journal its end: the process is stopping
            record.update(
                state="failed",
                ended_at=self.clock.now(),
                error="still running when the routine was stopped; not run again, so it cannot happen twice",
            )
        elif act.exception() is None:
            self._record_done(record, act.result())
        else:
            return  # it failed: running it again at the resume is safe
        await asyncio.shield(self._checkpoint(run))

    def _journal_late_end(self, act: asyncio.Future[ToolResult], run: dict[str, Any], record: dict[str, Any]) -> None:
        """When a tool given up on ends after all, the journal says how (`late`), so it tells the truth."""

        async def journal() -> None:
            await asyncio.wait({act})
            if act.cancelled():
                return
            error = act.exception()
            record["late"] = (
                {"state": "done", "output": act.result().speech}
                if error is None
                else {"state": "failed", "error": str(error)}
            )
            await self._checkpoint(run)

        self.spawn(journal())

    def _begin(self, step: Step, run: dict[str, Any], speak: Speak | None) -> asyncio.Future[ToolResult]:
        """The step's work, under way: speech as a task (it can be cut short), a tool as its thread's
        future, which nothing can cancel (a cancelled wrapper would hide how the thread ended)."""
        if step.say is not None:
            return asyncio.ensure_future(self._say(step.say, run, speak))
        assert step.tool is not None
        spec = self._tool(step.tool)
        args = spec.validate({k: fill(v, run) if isinstance(v, str) else v for k, v in step.args.items()})
        context = contextvars.copy_context()  # as asyncio.to_thread does
        context.run(SPEAKER.set, _serves(run))
        context.run(ORIGIN.set, "routine")  # for a skill's own records of who did what (asked_from)
        return asyncio.get_running_loop().run_in_executor(None, context.run, self._call, spec, args, run)

    async def _say(self, say: str, run: dict[str, Any], speak: Speak | None) -> ToolResult:
        text = " ".join(fill(say, run).split())
        if speak is not None:
            await speak(text)
        return ToolResult(text, {"said": text})

    def _call(self, spec: ToolSpec, args: dict[str, Any], run: dict[str, Any]) -> ToolResult:
        """The tool's own call, written to the audit trail however it ends."""
        start = time.monotonic()
        try:
            result: ToolResult = spec.func(**args)
        except Exception as e:
            result = ToolResult(str(e), {"error": str(e)}, ok=False)
            raise
        finally:
            if self.audit is not None:
                call = ToolCall(tool=spec.qualified, args=args, source="routine", text=run.get("routine", ""))
                record_call(self.audit, "routine", call, result, time.monotonic() - start, run=run.get("run_id"))
        return result

    # --- time triggers and catch-up ----------------------------------------------------------------

    def next_due(self, routine: Routine, after: float, zone: dt.tzinfo) -> float | None:
        local = dt.datetime.fromtimestamp(after, zone)
        times = []
        for expr in routine.crons():
            found = croniter(expr, local)
            nxt = found.get_next(dt.datetime)
            if _wall_minute(nxt) == _wall_minute(local):
                nxt = found.get_next(dt.datetime)  # the repeated hour of a fall-back: 1:30 has happened today
            times.append(nxt.timestamp())
        return min(times) if times else None

    # --- on and off -----------------------------------------------------------------------------

    def enabled(self, name: str) -> bool:
        """Whether a routine's time and event triggers start it (they do until it is disabled)."""
        found = self._switches.get(Query().routine == name.lower())
        return bool(found["enabled"]) if found else True

    def set_enabled(self, name: str, on: bool) -> None:
        """Disabled, a routine still runs when asked by name; its triggers are ignored, and the times
        it was due while off are not caught up when it is enabled again."""
        with self._lock:
            self._switches.upsert({"routine": name.lower(), "enabled": on}, Query().routine == name.lower())

    def last_fired(self, routine: Routine) -> float | None:
        found = self._fired.get(Query().routine == routine.name)
        return float(found["at"]) if found else None

    def mark_fired(self, routine: Routine, at: float) -> None:
        with self._lock:
            self._fired.upsert({"routine": routine.name, "at": at}, Query().routine == routine.name)

    def missed(self, routines: list[Routine], zone: dt.tzinfo) -> list[Routine]:
        """Time-triggered routines due while the assistant was off whose policy is to run once now;
        the others are marked as caught up. A routine seen for the first time starts counting now."""
        now = self.clock.now()
        out = []
        for routine in routines:
            if not routine.crons():
                continue
            last = self.last_fired(routine)
            if last is None or not self.enabled(routine.name):
                self.mark_fired(routine, now)
                continue
            due = self.next_due(routine, last, zone)
            if due is not None and due <= now:
                if routine.catch_up == "once":
                    out.append(routine)
                else:
                    log.info("routine %r was due while the assistant was off; catch_up: skip", routine.name)
                self.mark_fired(routine, now)
        return out

    async def watch(self, routines: list[Routine], zone: dt.tzinfo, bus: Bus | None = None) -> None:
        """Run time-triggered routines when due (and event-triggered ones on their event) until cancelled."""
        unsubscribe = self.listen(routines, bus) if bus is not None else None
        try:
            for routine in self.missed(routines, zone):
                self.spawn(self.run(routine, "catch-up"))
            while True:
                now = self.clock.now()
                for routine in routines:
                    try:
                        due = self.next_due(routine, self.last_fired(routine) or now, zone)
                        if due is not None and due <= now:
                            self.mark_fired(routine, now)
                            if self.enabled(routine.name):
                                self.spawn(self.run(routine, "time"))
                            else:
                                log.info("routine %r was due but is disabled", routine.name)
                    except Exception:  # one routine's trouble must not stop the others' triggers
                        log.exception("time trigger of routine %r", routine.name)
                await self.clock.sleep(1.0)
        finally:
            if unsubscribe is not None:
                unsubscribe()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start a run (or a resume) in the background, kept track of until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._started.add(task)
        task.add_done_callback(self._started.discard)
        return task

    async def finish(self) -> None:
        """Wait for every run started in the background."""
        while self._started:
            await asyncio.gather(*list(self._started), return_exceptions=True)

    async def cancel(self) -> None:
        """Cut every background run short; the journal has them as running, so they resume at the next start."""
        for task in list(self._started):
            task.cancel()
        await self.finish()

    def listen(self, routines: list[Routine], bus: Bus) -> Callable[[], None]:
        """Start event-triggered routines on their events from now on; returns the unsubscribe."""
        return bus.subscribe(self._on_event(routines))

    def _on_event(self, routines: list[Routine]) -> Callable[[Any], None]:
        def on_event(event: Any) -> None:
            for routine in routines:
                for t in routine.triggers:
                    if (
                        t.kind == "event"
                        and event.type == t.value
                        and all(getattr(event, k, None) == v for k, v in t.match.items())
                    ):
                        if routine.name in self._active:
                            continue  # its own steps must not start it again, in a loop
                        if not self.enabled(routine.name):
                            continue
                        self.spawn(self.run(routine, f"event:{event.type}"))

        return on_event


def _wall_minute(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def fill(text: str, run: dict[str, Any]) -> str:
    """`${steps.<id>.output|ok|data.<key>…}` replaced by what that step gave."""

    def value(found: Any) -> str:
        record = run["steps"].get(found.group(1), {})
        path = found.group(2).split(".")
        current: Any = record.get(path[0])
        for key in path[1:]:
            current = current.get(key) if isinstance(current, dict) else None
        if current is None:
            return ""
        return str(current).lower() if isinstance(current, bool) else str(current)

    return REFERENCE.sub(value, text)


def _truthy(text: str) -> bool:
    return text.strip().lower() not in ("", "false", "0", "none", "no", "[]", "{}")


HOUSEHOLD = Speaker(None, "guest")
"""Whom a step of a run started by a time or an event serves: the household. Such a run speaks to
whoever is in the room, and anyone can cause an event (a guest's timer rings), so it reads the
household's alarms, reminders and notes, never one person's; so does a routine one of its steps
runs. Roles are the runner's own check (`_barred`, by `started_by`), not this: such a run is held
to none, as before."""


def _serves(run: dict[str, Any]) -> Speaker | None:
    """The voice a run's steps serve: the one that said it; the household for a time or an event (or
    a routine such a run started); nobody told (None: as a typed request, everyone's) for a run typed
    or started from the shell."""
    return _started_by(run) or (HOUSEHOLD if run.get("household") else None)


def _started_by(run: dict[str, Any]) -> Speaker | None:
    """The voice a run serves, as journaled with it (None: the household's)."""
    who = run.get("started_by")
    if not isinstance(who, dict) or not isinstance(who.get("role"), str):
        return None
    name = who.get("name")
    return Speaker(name if isinstance(name, str) else None, who["role"], unsure=bool(who.get("unsure")))
