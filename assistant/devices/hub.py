"""The one place devices are identified and acted on: drivers by protocol, one HTTP session, the
registry, and events on the bus. Tools run in worker threads; they hand their work to the event
loop here (`act`), so every device is reached from one session.

A command is tried once per device, all devices of a room at once, each within the drivers'
timeout: an unreachable device costs one timeout, never a storm of retries, and is marked offline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.core.bus import Bus
from assistant.core.events import DeviceFound, DeviceLost, DeviceRejected
from assistant.devices.drivers.base import TIMEOUT_S, Driver, Unsupported
from assistant.devices.drivers.home_assistant import TOKEN as HOME_ASSISTANT_TOKEN
from assistant.devices.drivers.home_assistant import HomeAssistantDriver
from assistant.devices.drivers.hue import HueDriver, LinkButtonNeeded
from assistant.devices.drivers.listed import CastDriver, EsphomeDriver
from assistant.devices.drivers.shelly import ShellyDriver
from assistant.devices.drivers.wled import WledDriver
from assistant.devices.model import Device, DeviceError, DeviceState, Found
from assistant.devices.registry import DeviceRegistry

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

UNREACHABLE = ("device_timeout", "device_unreachable")
ACTION_TIMEOUT_S = TIMEOUT_S + 0.5
IDENTIFY_TIMEOUT_S = 3 * TIMEOUT_S
"""Identifying asks a few questions in a row (Shelly: who, then status)."""


@dataclass(frozen=True)
class Outcome:
    device: Device
    ok: bool
    state: DeviceState | None = None
    error: str = ""
    code: str = ""
    value: Any = None
    """What the action gave besides a state (the effect's name as the device spells it)."""


class DeviceHub:
    def __init__(
        self, registry: DeviceRegistry, bus: Bus, secret: Callable[[str], str | None] = lambda name: None
    ) -> None:
        """secret(name): a secret from the vault (the Home Assistant token), read when it is needed."""
        self.registry = registry
        self.bus = bus
        self.home_assistant = HomeAssistantDriver(lambda: secret(HOME_ASSISTANT_TOKEN))
        self.drivers: dict[str, Driver] = {
            "wled": WledDriver(),
            "shelly": ShellyDriver(),
            "cast": CastDriver(),
            "esphome": EsphomeDriver(),
            "hue": HueDriver(registry.bridge_user, registry.save_bridge_user),
            "home_assistant": self.home_assistant,
        }
        self.waiting_for_button: set[str] = set()
        """Services of Hue bridges waiting for their link button to be pressed."""
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open = False

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._open = True

    async def close(self) -> None:
        self._open = False
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The one HTTP session, made when a device is first reached (in the event loop, where every
        driver runs): a command that reaches no device (`assistant ask "what time is it"`) does
        not load aiohttp, 0.18 s of a cold start."""
        if not self._open:
            raise DeviceError("the device hub is not open", code="devices")
        if self._session is None:
            import aiohttp

            # No proxies from the environment: devices are on the home network.
            self._session = aiohttp.ClientSession(trust_env=False)
        return self._session

    # --- discovery
    async def identify(self, protocol: str, host: str, port: int, txt: dict[str, str], service: str) -> list[Device]:
        """Ask a device who it is and record it; a bad answer is published as device_rejected and
        changes nothing."""
        try:
            async with asyncio.timeout(IDENTIFY_TIMEOUT_S):
                found = await self.drivers[protocol].identify(self.session, host, port, txt, service)
        except TimeoutError:
            self.reject(service, "device_timeout", f"{service} did not say who it is within {IDENTIFY_TIMEOUT_S:g} s")
            return []
        except LinkButtonNeeded as e:
            if service not in self.waiting_for_button:
                self.reject(service, e.code, e.message)
            self.waiting_for_button.add(service)
            return []
        except DeviceError as e:
            self.reject(service, e.code, e.message)
            return []
        self.waiting_for_button.discard(service)
        return await self.record(found)

    async def record(self, found: list[Found]) -> list[Device]:
        """Record devices that answered (new, moved, back or unchanged), each published as device_found."""
        devices = []
        for item in found:
            device, change = await asyncio.to_thread(self.registry.seen, item)
            devices.append(device)
            if change != "same":
                log.info("device %s (%s) %s at %s", device.name, device.id, change, device.address)
            self._found(device, change)
        return devices

    def _found(self, device: Device, change: str) -> None:
        self.bus.publish(
            DeviceFound(
                device_id=device.id, name=device.name, protocol=device.protocol, address=device.address, change=change
            )
        )

    def reject(self, service: str, code: str, message: str) -> None:
        log.warning("device %s rejected: %s", service, message)
        self.bus.publish(DeviceRejected(service=service, code=code, message=message))

    async def lost(self, device_id: str, reason: str) -> None:
        device = await asyncio.to_thread(self.registry.offline, device_id)
        if device is not None:
            self.bus.publish(DeviceLost(device_id=device.id, name=device.name, reason=reason))

    async def observed(self, device: Device, state: DeviceState) -> None:
        """A state the device reported (pushed, polled or answered): kept as its last known state,
        and published when it differs from the one before (the phone page shows it)."""
        if self.registry.note_state(device.id, state):
            self._found(device, "state")

    # --- acting
    async def _one(self, device: Device, act: Callable[[Driver, Device], Awaitable[Any]]) -> Outcome:
        driver = self.drivers.get(device.protocol)
        if driver is None:
            return Outcome(
                device, False, error=f"{device.name} speaks {device.protocol}, which I don't", code="unsupported"
            )
        try:
            # One bound for the whole action, whatever a client library does inside it.
            async with asyncio.timeout(ACTION_TIMEOUT_S):
                result = await act(driver, device)
        except (DeviceError, TimeoutError) as e:
            failure = (
                e
                if isinstance(e, DeviceError)
                else DeviceError(f"{device.name} did not answer within {ACTION_TIMEOUT_S:g} s", code="device_timeout")
            )
            if failure.code in UNREACHABLE:
                await self.lost(device.id, failure.code)
            elif failure.code not in ("unsupported", "unknown_effect"):
                log.warning("%s: %s", device.name, failure.message)
            return Outcome(device, False, error=failure.message, code=failure.code)
        if not device.online:  # it answered, so it is back
            await asyncio.to_thread(self.registry.seen_again, device.id)
        if isinstance(result, DeviceState):
            await self.observed(device, result)
            return Outcome(device, True, state=result)
        # A change was made: the state known before is stale until the device reports again
        # (its push, the next poll, or the page asking it).
        self.registry.forget_state(device.id)
        return Outcome(device, True, value=result)

    async def act(self, devices: list[Device], action: str, value: Any = None) -> list[Outcome]:
        """Apply one action to every device at once: power (value True/False), brightness (percent),
        colour ((r, g, b)), effect (its name) or state (value unused)."""

        def step(driver: Driver, device: Device) -> Awaitable[Any]:
            if action == "effect":
                set_effect = getattr(driver, "set_effect", None)
                if set_effect is None:
                    raise Unsupported(f"{device.name} has no effects")
                return set_effect(self.session, device, str(value))  # type: ignore[no-any-return]
            if action == "power":
                return driver.set_power(self.session, device, bool(value))
            if action == "brightness":
                return driver.set_brightness(self.session, device, int(value))
            if action == "colour":
                return driver.set_colour(self.session, device, value)
            return driver.state(self.session, device)

        return list(await asyncio.gather(*(self._one(d, step) for d in devices)))

    def act_from_thread(self, devices: list[Device], action: str, value: Any = None) -> list[Outcome]:
        """`act` for a tool running in a worker thread."""
        if self._loop is None:
            raise DeviceError("the device hub is not open", code="devices")
        future = asyncio.run_coroutine_threadsafe(self.act(devices, action, value), self._loop)
        try:
            return future.result(timeout=TIMEOUT_S * 3)
        except FutureTimeout as e:
            future.cancel()
            raise DeviceError("the devices did not answer in time", code="device_timeout") from e
