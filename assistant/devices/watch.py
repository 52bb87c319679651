"""Follows the changes made on the devices themselves (a button, their own app, another controller),
so the registry's last known state, and the phone page that shows it, catch up within seconds.

A WLED strip pushes its state over its websocket (/ws, https://kno.wled.ge/interfaces/websocket/):
the state on connecting, then on every change. Every other device that can say its state is asked
every POLL_S. A device that does not answer is asked again later and later (Backoff), and one marked
offline is left alone until discovery or a command finds it again. One task per device, started and
stopped as devices are found and lost (their events on the bus)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from assistant.core.backoff import Backoff
from assistant.core.events import DeviceFound, Event
from assistant.devices.drivers.wled import state_of
from assistant.devices.hub import DeviceHub
from assistant.devices.model import ON_OFF, Device, DeviceError

log = logging.getLogger(__name__)

POLL_S = 2.0
"""How often a device without a push channel is asked for its state."""
RETRY = Backoff(first_s=2.0, factor=2.0, most_s=60.0)
"""After a failure: 2, 4, 8 … at most 60 s between tries."""
MAX_MESSAGE_BYTES = 64 * 1024
"""A WLED state message is a few kB; anything far bigger is not one."""
SOCKET_IDLE_S = 60.0
"""A websocket silent this long (no state, no answer to its heartbeat) is given up and opened anew."""


class NoPush(Exception):
    """The device has no websocket to push its state (a WLED built without one): poll it instead."""


class DeviceWatcher:
    def __init__(self, hub: DeviceHub, poll_s: float = POLL_S) -> None:
        self.hub = hub
        self.poll_s = poll_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._unsubscribe: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.hub.bus.subscribe(self._on_event)
        for device in await asyncio.to_thread(self.hub.registry.all):
            self._follow(device.id)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def watching(self) -> set[str]:
        """The ids of the devices followed now."""
        return set(self._tasks)

    def _on_event(self, event: Event) -> None:
        """The bus's callback: may come from a worker thread."""
        if isinstance(event, DeviceFound) and event.change != "state" and self._loop is not None:
            self._loop.call_soon_threadsafe(self._follow, event.device_id)

    def _follow(self, device_id: str) -> None:
        if device_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._watch(device_id), name=f"watch {device_id}")
        self._tasks[device_id] = task
        task.add_done_callback(lambda t: self._ended(device_id, t))

    def _ended(self, device_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(device_id) is task:
            del self._tasks[device_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("watching %s failed: %r", device_id, task.exception())

    async def _watch(self, device_id: str) -> None:
        failures = 0
        push = True
        while True:
            device = await asyncio.to_thread(self.hub.registry.get, device_id)
            if device is None or not device.online or not device.can(ON_OFF) or device.protocol not in self.hub.drivers:
                return  # found again later: a new DeviceFound starts a new watch
            try:
                if push and device.protocol == "wled" and not failures:
                    await self._wled_socket(device)  # until it closes: then opened again after a pause
                else:
                    await self._poll(device)  # after a failure, a poll tells a device gone from a socket refused
                    failures = 0
            except NoPush:
                push = False
                continue
            except (DeviceError, aiohttp.ClientError, TimeoutError, ValueError) as e:
                failures += 1
                log.debug("watching %s: %s", device.name, getattr(e, "message", e))
            await asyncio.sleep(RETRY.delay(failures) if failures else self.poll_s)

    async def _poll(self, device: Device) -> None:
        (outcome,) = await self.hub.act([device], "state")
        if not outcome.ok:
            raise DeviceError(outcome.error, code=outcome.code)

    async def _wled_socket(self, device: Device) -> None:
        """Every state the strip pushes, until the socket closes; NoPush when it has none."""
        url = f"http://{device.address}:{device.port}/ws"
        try:
            async with asyncio.timeout(5.0):
                ws = await self.hub.session.ws_connect(url, heartbeat=SOCKET_IDLE_S / 2, max_msg_size=MAX_MESSAGE_BYTES)
        except aiohttp.WSServerHandshakeError as e:
            if e.status in (404, 405, 501):
                raise NoPush from e
            raise
        async with ws:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    continue  # not a state: WLED also sends short answers ("{\"success\":true}")
                if isinstance(data, dict) and isinstance(data.get("state"), dict):
                    try:
                        state = state_of(data["state"], device.name)
                    except DeviceError as e:
                        log.debug("watching %s: %s", device.name, e.message)
                        continue
                    await self.hub.observed(device, state)
