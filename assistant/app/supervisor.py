"""Keeps the running assistant's services alive: each one (audio capture, the voice pipeline, the
scheduler, routines, discovery, the web server, the media index) is started, watched and, when it
crashes, stopped and started again after a growing pause. One service's crash never stops another.

A service that fails its very first start stops the whole assistant with its message (a wrong port
or a missing model is for the person to fix, now), unless it is `optional` (the LLM: the templates
serve requests without it): then it reads "failed", with its error, and the others run on. One that
fails later is retried for as long as the assistant runs (a microphone unplugged and plugged back in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.core.backoff import Backoff
from assistant.core.bus import Bus
from assistant.core.errors import AssistantError
from assistant.core.events import ServiceChanged

log = logging.getLogger(__name__)

STARTING, RUNNING, RESTARTING, FINISHED, STOPPED = "starting", "running", "restarting", "finished", "stopped"
FAILED = "failed"
"""An optional service whose first start failed: not tried again while the assistant runs."""


async def forever() -> None:
    """Wait until cancelled: a service with nothing of its own to watch."""
    await asyncio.Event().wait()


async def _nothing() -> None:
    return None


@dataclass
class Service:
    """One supervised service. `watch` returns when the service has finished its work (a WAV file
    read to its end) and raises when it has crashed; by default it waits forever."""

    name: str
    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]] = _nothing
    watch: Callable[[], Awaitable[None]] = forever
    ends_run: bool = False
    """When it finishes, the assistant stops (the voice loop at the end of its input file)."""
    optional: bool = False
    """When its first start fails, the assistant runs on without it: its state reads "failed" with the
    error (in `assistant status` and /health, which answers 503), and it is not started again (the
    LLM: a file that does not load will not load on the next try; the templates serve meanwhile)."""


@dataclass
class ServiceHealth:
    name: str
    state: str = STARTING
    since: float = field(default_factory=time.time)
    """Wall-clock time the service entered its state."""
    restarts: int = 0
    """Restarts since the assistant started."""
    last_error: str | None = None
    last_error_at: float | None = None
    retry_in_s: float | None = None
    """While restarting: the pause before the next try."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_error(e: BaseException) -> str:
    return e.message if isinstance(e, AssistantError) else f"{type(e).__name__}: {e}"


class Supervisor:
    def __init__(
        self,
        bus: Bus,
        backoff: Backoff = Backoff(),  # noqa: B008 (frozen: one shared default is safe)
        on_change: Callable[[list[ServiceHealth]], None] | None = None,
    ) -> None:
        """on_change: called with every service's health whenever one changes (the status file)."""
        self.bus = bus
        self.backoff = backoff
        self.on_change = on_change
        self.started_at = time.time()
        self._services: list[Service] = []
        self._health: dict[str, ServiceHealth] = {}
        self._done = asyncio.Event()

    def add(self, service: Service) -> None:
        if service.name in self._health:
            raise ValueError(f"service {service.name!r} is already supervised")
        self._services.append(service)
        self._health[service.name] = ServiceHealth(service.name)

    def health(self) -> list[ServiceHealth]:
        return [self._health[s.name] for s in self._services]

    def report(self) -> dict[str, Any]:
        """What `assistant status` and the health endpoint show."""
        services = [h.to_dict() for h in self.health()]
        healthy = all(h["state"] in (RUNNING, FINISHED) for h in services)
        return {
            "healthy": healthy,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated_at": time.time(),
            "services": services,
        }

    def stop(self) -> None:
        """Ask `run` to stop every service and return (a signal, the user's Ctrl+C)."""
        self._done.set()

    async def run(self) -> None:
        """Start every service in order (each first start must succeed, but an optional one's), then keep
        them running until one that ends the run finishes or `stop` is called; stops the started ones in
        reverse order."""
        started: list[Service] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            for service in self._services:
                if await self._started_unless_stopped(service):
                    started.append(service)
                    tasks.append(asyncio.create_task(self._keep(service), name=f"service:{service.name}"))
                elif self._done.is_set():
                    break
            await self._done.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for service in reversed(started):
                try:
                    await service.stop()
                except Exception as e:
                    log.warning("service %s did not stop cleanly: %s", service.name, describe_error(e))
                self._set(service.name, STOPPED)

    async def _started_unless_stopped(self, service: Service) -> bool:
        """Its first start, unless `stop` comes first (SIGTERM while the LLM loads): then the start is
        abandoned, and the services before it stop at once instead of after it. False when it did not
        start: stopped, or an optional service that failed (the run goes on without it)."""
        starting = asyncio.ensure_future(self._start(service, first=True))
        stopping = asyncio.ensure_future(self._done.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            with contextlib.suppress(Exception):
                await service.stop()
            self._set(service.name, STOPPED)
            return False
        try:
            starting.result()
        except Exception as e:
            if not service.optional:
                raise  # a first start that failed ends the run with its error
            self._failed(service, e)
            return False
        return True

    async def _start(self, service: Service, first: bool) -> None:
        self._set(service.name, STARTING)
        try:
            await service.start()
        except Exception:
            if first:
                # Half-started services stop with the ones before them in `run`'s finally.
                try:
                    await service.stop()
                except Exception:
                    pass
            raise
        self._set(service.name, RUNNING)

    async def _keep(self, service: Service) -> None:
        """Watch a started service; on a crash stop it, wait, start it again, for as long as it takes."""
        failures = 0
        started = time.monotonic()
        while True:
            try:
                await service.watch()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if time.monotonic() - started >= self.backoff.stable_s:
                    failures = 0
                failures = await self._restart(service, e, failures)
                started = time.monotonic()
                continue
            self._set(service.name, FINISHED)
            if service.ends_run:
                self._done.set()
            return

    async def _restart(self, service: Service, error: Exception, failures: int) -> int:
        """Stop the crashed service, pause, start it again; as many times as it takes. Returns the
        failures in a row counted so far."""
        while True:
            failures += 1
            pause = self.backoff.delay(failures)
            self._crashed(service, error, pause)
            try:
                await service.stop()
            except Exception as e:
                log.warning("service %s did not stop cleanly after its crash: %s", service.name, describe_error(e))
            await asyncio.sleep(pause)
            try:
                await self._start(service, first=False)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                error = e
                continue
            return failures

    def _crashed(self, service: Service, error: BaseException, retry_in_s: float) -> None:
        health = self._health[service.name]
        health.restarts += 1
        health.last_error = describe_error(error)
        health.last_error_at = time.time()
        if isinstance(error, AssistantError):
            log.warning("%s stopped: %s; trying again in %.1f s", service.name, health.last_error, retry_in_s)
        else:
            log.error("%s crashed; trying again in %.1f s", service.name, retry_in_s, exc_info=error)
        self._set(service.name, RESTARTING, retry_in_s)

    def _failed(self, service: Service, error: Exception) -> None:
        health = self._health[service.name]
        health.last_error = describe_error(error)
        health.last_error_at = time.time()
        if isinstance(error, AssistantError):
            log.error("%s could not start: %s; going on without it", service.name, health.last_error)
        else:
            log.error("%s could not start; going on without it", service.name, exc_info=error)
        self._set(service.name, FAILED)

    def _set(self, name: str, state: str, retry_in_s: float | None = None) -> None:
        health = self._health[name]
        if health.state == state and state != RESTARTING:
            return
        health.state = state
        health.since = time.time()
        health.retry_in_s = retry_in_s
        self.bus.publish(
            ServiceChanged(
                service=name,
                state=state,
                restarts=health.restarts,
                error=health.last_error if state in (RESTARTING, FAILED) else None,
            )
        )
        if self.on_change is not None:
            try:
                self.on_change(self.health())
            except Exception as e:  # the status file is a report: failing to write it must not stop a service
                log.warning("could not record the services' health: %s", describe_error(e))
