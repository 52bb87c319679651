"""Keeps the device registry in step with Home Assistant's lights and switches (devices.home_assistant_url,
the token in the vault): at start and every `devices.home_assistant_poll_s`. An entity that goes away or
becomes unavailable is kept, offline, as a device that leaves the network is."""

from __future__ import annotations

import asyncio
import logging

from assistant.devices.drivers.home_assistant import PROTOCOL
from assistant.devices.hub import DeviceHub
from assistant.devices.model import Device, DeviceError

log = logging.getLogger(__name__)

SERVICE = "home assistant"
"""How a refusal is named in device_rejected events."""


class HomeAssistantSource:
    def __init__(self, hub: DeviceHub, url: str, poll_s: float = 30.0) -> None:
        self.hub = hub
        self.url = url.rstrip("/")
        self.poll_s = poll_s
        self._trouble = ""

    async def sync(self) -> list[Device]:
        """Its lights and switches now; a failure is published once (not at every poll) and changes nothing."""
        try:
            found = await self.hub.home_assistant.entities(self.hub.session, self.url)
        except DeviceError as e:
            if e.message != self._trouble:
                self._trouble = e.message
                self.hub.reject(SERVICE, e.code, e.message)
            return []
        if self._trouble:
            log.info("Home Assistant at %s answers again", self.url)
            self._trouble = ""
        devices = await self.hub.record(found)
        present = {f.id for f in found}
        for device in await asyncio.to_thread(self.hub.registry.all):
            if (
                device.protocol == PROTOCOL
                and device.online
                and device.id not in present
                and device.extra.get("base") == self.url
            ):
                await self.hub.lost(device.id, "gone from Home Assistant")
        return devices

    async def run(self) -> None:
        while True:
            await self.sync()
            await asyncio.sleep(self.poll_s)
