"""Home Assistant as a source of devices, through its documented REST API: GET /api/states lists the
entities, POST /api/services/<domain>/<service> acts, GET /api/states/<entity_id> reads one. Lights
and switches become devices like any other (the same device skill, names, rooms and aliases); the
long-lived access token lives in the vault, never in the config, a device record or a log."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from assistant.devices.drivers.base import http_json, need
from assistant.devices.model import BRIGHTNESS, COLOUR, ON_OFF, Device, DeviceError, DeviceState, Found

if TYPE_CHECKING:
    import aiohttp

PROTOCOL = "home_assistant"
TOKEN = "home_assistant_token"
"""The vault's name for the long-lived access token."""
DOMAINS = {"light": "light", "switch": "plug"}
"""Entity domains that become devices, and the kind of device each is."""
_DIMMABLE = {"brightness", "color_temp", "hs", "rgb", "rgbw", "rgbww", "xy", "white"}
_COLOUR = {"hs", "rgb", "rgbw", "rgbww", "xy"}


class HomeAssistantDriver:
    protocol = PROTOCOL

    def __init__(self, token_of: Callable[[], str | None]) -> None:
        self._token_of = token_of

    def _headers(self) -> dict[str, str]:
        token = self._token_of()
        if not token:
            raise DeviceError(
                "there is no Home Assistant token: set one with `assistant devices home-assistant "
                "--url URL` (it asks for the token)",
                code="device_refused",
            )
        return {"Authorization": f"Bearer {token}"}

    async def entities(self, session: aiohttp.ClientSession, url: str) -> list[Found]:
        """Every light and switch Home Assistant has, as found devices (unavailable ones left out)."""
        base = url.rstrip("/")
        parsed = urlparse(base)
        try:
            states = await http_json(session, "GET", f"{base}/api/states", "Home Assistant", headers=self._headers())
        except DeviceError as e:
            if e.code == "unauthorized":
                raise DeviceError(
                    "Home Assistant refused the token: make a new long-lived access token in its "
                    "profile page and run `assistant devices home-assistant`",
                    code="unauthorized",
                ) from None
            raise
        if not isinstance(states, list):
            raise DeviceError(
                "Home Assistant listed its states as something that is not a list", code="device_bad_answer"
            )
        found = []
        for entity in states:
            if not isinstance(entity, dict) or not isinstance(entity.get("entity_id"), str):
                continue
            entity_id: str = entity["entity_id"]
            domain = entity_id.partition(".")[0]
            if domain not in DOMAINS or entity.get("state") in ("unavailable", None):
                continue
            raw = entity.get("attributes")
            attributes: dict[str, Any] = raw if isinstance(raw, dict) else {}
            modes = {str(m) for m in attributes.get("supported_color_modes") or [] if isinstance(m, str)}
            caps = (ON_OFF,) + ((BRIGHTNESS,) if modes & _DIMMABLE else ()) + ((COLOUR,) if modes & _COLOUR else ())
            friendly = attributes.get("friendly_name")
            name = friendly if isinstance(friendly, str) else entity_id
            found.append(
                Found(
                    f"{PROTOCOL}:{entity_id}",
                    name,
                    PROTOCOL,
                    DOMAINS[domain],
                    f"Home Assistant {domain}",
                    caps,
                    parsed.hostname or "",
                    parsed.port or (443 if parsed.scheme == "https" else 8123),
                    {"entity_id": entity_id, "base": base},
                )
            )
        return found

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
        raise DeviceError("Home Assistant is configured, not discovered", code="unsupported")

    async def _call(self, session: aiohttp.ClientSession, device: Device, service: str, **data: Any) -> None:
        entity_id = str(device.extra["entity_id"])
        domain = entity_id.partition(".")[0]
        await http_json(
            session,
            "POST",
            f"{device.extra['base']}/api/services/{domain}/{service}",
            device.name,
            body={"entity_id": entity_id, **data},
            headers=self._headers(),
        )

    async def set_power(self, session: aiohttp.ClientSession, device: Device, on: bool) -> None:
        await self._call(session, device, "turn_on" if on else "turn_off")

    async def set_brightness(self, session: aiohttp.ClientSession, device: Device, percent: int) -> None:
        if percent == 0:
            await self._call(session, device, "turn_off")
        else:
            await self._call(session, device, "turn_on", brightness_pct=percent)

    async def set_colour(self, session: aiohttp.ClientSession, device: Device, rgb: tuple[int, int, int]) -> None:
        await self._call(session, device, "turn_on", rgb_color=list(rgb))

    async def state(self, session: aiohttp.ClientSession, device: Device) -> DeviceState:
        entity = await http_json(
            session,
            "GET",
            f"{device.extra['base']}/api/states/{device.extra['entity_id']}",
            device.name,
            headers=self._headers(),
        )
        state = need(entity, "state", str, device.name)
        if state == "unavailable":
            raise DeviceError(f"Home Assistant says {device.name} is unavailable", code="device_unreachable")
        attributes = entity.get("attributes") if isinstance(entity.get("attributes"), dict) else {}
        brightness = attributes.get("brightness")
        rgb = attributes.get("rgb_color")
        return DeviceState(
            on=state == "on",
            brightness=round(brightness * 100 / 255)
            if isinstance(brightness, (int, float)) and state == "on"
            else None,
            colour=tuple(rgb) if isinstance(rgb, list) and len(rgb) == 3 else None,
        )
