"""WLED light strips on their JSON API. The `wled` client identifies a strip and reads its state (it
parses every firmware's answers); changes are one POST /json/state of our own, because the client
retries a failed request up to three times and a command here is tried once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from mashumaro.exceptions import MissingField
from wled import WLED
from wled.exceptions import WLEDConnectionError, WLEDConnectionTimeoutError, WLEDError

from assistant.devices.drivers.base import TIMEOUT_S, http_json, mac_of, percent_to
from assistant.devices.model import BRIGHTNESS, COLOUR, EFFECT, ON_OFF, Device, DeviceError, DeviceState, Found

T = TypeVar("T")


class WledDriver:
    protocol = "wled"

    async def _call(self, session: aiohttp.ClientSession, host: str, what: str,
                    act: Callable[[WLED], Awaitable[T]]) -> T:
        client = WLED(host, request_timeout=TIMEOUT_S, session=session)
        try:
            return await act(client)
        except WLEDConnectionTimeoutError as e:
            raise DeviceError(f"{what} did not answer within {TIMEOUT_S:g} s", code="device_timeout") from e
        except WLEDConnectionError as e:
            raise DeviceError(f"{what} cannot be reached", code="device_unreachable") from e
        except (WLEDError, ValueError, KeyError, TypeError, MissingField) as e:  # its parsing of a bad answer
            raise DeviceError(f"{what} answered something WLED does not: {e}", code="device_bad_answer") from e

    async def identify(self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str],
                       service: str) -> list[Found]:
        if "mac" in txt:
            try:
                mac_of(txt["mac"])
            except ValueError as e:
                raise DeviceError(f"WLED at {host} announced a bad mac '{txt['mac'][:20]}'", code="bad_txt") from e
        device = await self._call(session, host, f"WLED at {host}", lambda c: c.update())
        try:
            mac = mac_of(device.info.mac_address)
        except ValueError as e:
            raise DeviceError(f"WLED at {host} reported no valid MAC address", code="device_bad_answer") from e
        model = f"WLED {device.info.version or ''} {device.info.architecture}".replace("  ", " ").strip()
        return [Found(f"wled:{mac}", device.info.name or f"WLED {mac[-4:]}", self.protocol, "light", model,
                      (ON_OFF, BRIGHTNESS, COLOUR, EFFECT), host, port)]

    async def _post(self, session: aiohttp.ClientSession, device: Device, state: dict[str, Any]) -> None:
        await http_json(session, "POST", f"http://{device.address}:{device.port}/json/state", device.name, body=state)

    async def set_power(self, session: aiohttp.ClientSession, device: Device, on: bool) -> None:
        await self._post(session, device, {"on": on})

    async def set_brightness(self, session: aiohttp.ClientSession, device: Device, percent: int) -> None:
        await self._post(session, device, {"on": False} if percent == 0 else {"on": True, "bri": percent_to(percent, 255, 1)})

    async def set_colour(self, session: aiohttp.ClientSession, device: Device, rgb: tuple[int, int, int]) -> None:
        await self._post(session, device, {"on": True, "seg": [{"id": 0, "on": True, "col": [list(rgb)]}]})

    async def state(self, session: aiohttp.ClientSession, device: Device) -> DeviceState:
        found = await self._call(session, device.address, device.name, lambda c: c.update())
        segment = found.state.segments.get(0)
        colour = None
        if segment is not None and segment.color is not None:
            colour = tuple(int(v) for v in segment.color.primary[:3])
        return DeviceState(on=found.state.on, brightness=round(found.state.brightness * 100 / 255),
                           colour=colour)  # type: ignore[arg-type]
