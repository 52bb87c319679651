"""What every driver does, and the one HTTP helper they share (timeouts and errors made plain)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from assistant.devices.model import Device, DeviceError, DeviceState, Found

if TYPE_CHECKING:
    import aiohttp

_MAC = re.compile(r"^[0-9a-f]{12}$")
T = TypeVar("T")

TIMEOUT_S = 2.0
"""A device on the home network answers in milliseconds; one that takes seconds is treated as down."""
MAX_ANSWER_BYTES = 1024 * 1024
"""A device's answer is a few kB (a Hue bridge's lights, Home Assistant's states: some hundred kB);
more than this is not read on (a broken or hostile device would fill the memory)."""


class Driver(Protocol):
    protocol: str

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
        """Ask the device who it is; one entry per controllable thing (a Hue bridge has many lights).
        Raises DeviceError when it answers wrongly or not at all."""
        ...

    async def set_power(self, session: aiohttp.ClientSession, device: Device, on: bool) -> None: ...

    async def set_brightness(self, session: aiohttp.ClientSession, device: Device, percent: int) -> None: ...

    async def set_colour(self, session: aiohttp.ClientSession, device: Device, rgb: tuple[int, int, int]) -> None: ...

    async def state(self, session: aiohttp.ClientSession, device: Device) -> DeviceState: ...


class Unsupported(DeviceError):
    code = "unsupported"


class ListedOnly:
    """Devices that are found and named, but not (yet) controlled: Cast speakers, ESPHome nodes."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
        raise NotImplementedError

    def _refuse(self, device: Device) -> DeviceError:
        return Unsupported(f"I can list {device.name} but not control it yet")

    async def set_power(self, session: aiohttp.ClientSession, device: Device, on: bool) -> None:
        raise self._refuse(device)

    async def set_brightness(self, session: aiohttp.ClientSession, device: Device, percent: int) -> None:
        raise self._refuse(device)

    async def set_colour(self, session: aiohttp.ClientSession, device: Device, rgb: tuple[int, int, int]) -> None:
        raise self._refuse(device)

    async def state(self, session: aiohttp.ClientSession, device: Device) -> DeviceState:
        raise self._refuse(device)


async def http_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    what: str,
    *,
    body: Any = None,
    params: dict[str, str] | None = None,
    timeout_s: float = TIMEOUT_S,
    headers: dict[str, str] | None = None,
) -> Any:
    """The JSON a device answers; DeviceError naming `what` when it is slow, unreachable, fails or
    answers something that is not JSON."""
    import aiohttp  # here: the assistant's commands that reach no device need not load it (0.18 s)

    sent = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
    try:
        async with asyncio.timeout(timeout_s):
            async with session.request(
                method, url, params=params, data=None if body is None else json.dumps(body), headers=sent or None
            ) as r:
                status = r.status
                parts: list[bytes] = []
                size = 0
                async for chunk in r.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise DeviceError(
                            f"{what} answered more than {MAX_ANSWER_BYTES // (1024 * 1024)} MB",
                            code="device_bad_answer",
                        )
                    parts.append(chunk)
                raw = b"".join(parts)
    except TimeoutError as e:
        raise DeviceError(f"{what} did not answer within {timeout_s:g} s", code="device_timeout") from e
    except aiohttp.ClientError as e:
        raise DeviceError(f"{what} cannot be reached ({e.__class__.__name__})", code="device_unreachable") from e
    if status in (401, 403):
        raise DeviceError(f"{what} refused the credentials (HTTP {status})", code="unauthorized")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DeviceError(
            f"{what} answered something that is not JSON (HTTP {status})", code="device_bad_answer"
        ) from e
    if status >= 400:
        message = data.get("message") if isinstance(data, dict) else None
        raise DeviceError(
            f"{what} refused the request (HTTP {status}{f': {message}' if message else ''})", code="device_refused"
        )
    return data


@overload
def need(data: object, key: str, kind: type[T], what: str) -> T: ...
@overload
def need(data: object, key: str, kind: tuple[type, ...], what: str) -> Any: ...
def need(data: object, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """data[key], checked to be of `kind`; DeviceError naming the device when it is not."""
    value = data.get(key) if isinstance(data, dict) else None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise DeviceError(f"{what} answered without a valid '{key}'", code="device_bad_answer")
    return value


def percent_to(value: int, top: int, bottom: int = 0) -> int:
    """0..100 % onto a device's own scale (WLED 0..255, Hue 1..254)."""
    return max(bottom, min(top, round(value * top / 100)))


def mac_of(text: str) -> str:
    """ "A0:B1:C2:D3:E4:F5" or "a0b1c2d3e4f5" → "a0b1c2d3e4f5"; ValueError for anything else."""
    mac = re.sub(r"[:\-]", "", text.strip().lower())
    if not _MAC.match(mac):
        raise ValueError(f"'{text}' is not a MAC address")
    return mac
