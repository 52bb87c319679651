"""Continuous mDNS browsing (zeroconf, asyncio) for the device services we know, each resolved and
then identified through the device's own API by the hub.

An announcement (new or updated) is resolved and identified at once, one at a time per service name;
a goodbye marks the service's devices offline. TXT records are checked before anything is asked:
a malformed one is rejected with a device_rejected event and the registry is left as it was."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import Any

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from assistant.devices.hub import DeviceHub

log = logging.getLogger(__name__)

SERVICES: dict[str, str | None] = {
    "_wled._tcp.local.": "wled",
    "_shelly._tcp.local.": "shelly",
    "_hue._tcp.local.": "hue",
    "_googlecast._tcp.local.": "cast",
    "_esphomelib._tcp.local.": "esphome",
    "_http._tcp.local.": None,  # many things; only those whose name hints at a device we speak to
}
_HTTP_HINTS = (("shelly", "shelly"), ("wled", "wled"))
RESOLVE_MS = 3000
PAIRING_RETRY_S = 2.0
PAIRING_TRIES = 60
SETTLE_LOOK_S = 0.2
"""A Hue bridge is asked again every 2 s for 2 minutes after it said "press the link button"."""
MAX_TXT_VALUE = 255


class BadAnnouncement(ValueError):
    pass


def txt_of(properties: dict[bytes, bytes | None]) -> dict[str, str]:
    """TXT records as text; BadAnnouncement for bytes that are not UTF-8 or values too long to be real."""
    out = {}
    for key, value in properties.items():
        try:
            k = key.decode("utf-8")
            v = "" if value is None else value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadAnnouncement("a TXT record is not UTF-8") from e
        if len(v) > MAX_TXT_VALUE:
            raise BadAnnouncement(f"TXT record '{k[:20]}' is {len(v)} bytes long")
        out[k.lower()] = v
    return out


def protocol_for(service_type: str, name: str) -> str | None:
    protocol = SERVICES.get(service_type)
    if protocol is not None or service_type != "_http._tcp.local.":
        return protocol
    instance = name.split(".")[0].lower()
    return next((p for hint, p in _HTTP_HINTS if re.match(hint, instance)), None)


class Discovery:
    def __init__(self, hub: DeviceHub) -> None:
        self.hub = hub
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._devices_of: dict[str, list[str]] = {}
        """Service name → ids of the devices it announced, so a goodbye marks them offline."""

    async def start(self, zc: AsyncZeroconf) -> None:
        """Browse on `zc` (its owner closes it)."""
        self._zc = zc
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, list(SERVICES), handlers=[self._changed])

    async def stop(self) -> None:
        if self._browser is not None:
            await self._browser.async_cancel()
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        self._zc = self._browser = None

    async def settle(self) -> None:
        """Wait until every announcement heard so far is identified, or waits for a link button.

        A bridge may start waiting for its button while this waits (its task then runs on for minutes,
        retrying), so the set is looked at again whenever a task ends and every SETTLE_LOOK_S."""
        while pending := [t for name, t in self._running.items() if name not in self.hub.waiting_for_button]:
            await asyncio.wait(pending, timeout=SETTLE_LOOK_S, return_when=asyncio.FIRST_COMPLETED)

    def _changed(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        """zeroconf's callback, on the event loop."""
        if state_change is ServiceStateChange.Removed:
            for device_id in self._devices_of.pop(name, []):
                self._start(f"gone:{name}:{device_id}", self.hub.lost(device_id, "goodbye"))
            return
        if name in self._running:
            self._again.add(name)  # identify once more when the one under way ends
            return
        self._start(name, self._resolve(service_type, name))

    def _start(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._running[key] = task
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("discovery of %s failed: %r", key, task.exception())

    async def _resolve(self, service_type: str, name: str) -> None:
        tries = 0
        while True:
            self._again.discard(name)
            await self._identify(service_type, name)
            if name in self.hub.waiting_for_button and tries < PAIRING_TRIES:
                tries += 1
                await asyncio.sleep(PAIRING_RETRY_S)
                continue
            if name not in self._again:
                return

    async def _identify(self, service_type: str, name: str) -> None:
        protocol = protocol_for(service_type, name)
        if protocol is None or self._zc is None:
            return
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zc.zeroconf, RESOLVE_MS):
            self.hub.reject(name, "unresolved", f"{name} did not answer its address within {RESOLVE_MS} ms")
            return
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if not addresses or not info.port:
            self.hub.reject(name, "bad_announcement", f"{name} announced no IPv4 address or port")
            return
        try:
            txt = txt_of(info.properties)
        except BadAnnouncement as e:
            self.hub.reject(name, "bad_txt", f"{name}: {e}")
            return
        devices = await self.hub.identify(protocol, addresses[0], info.port, txt, name)
        if devices:
            self._devices_of[name] = [d.id for d in devices]
