"""Philips Hue lights through their bridge's local API (v1): the bridge gives a user name once its
link button is pressed (POST /api), then /api/<user>/lights lists the lights and
PUT /api/<user>/lights/<n>/state sets one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant.devices.drivers.base import http_json, need, percent_to
from assistant.devices.model import BRIGHTNESS, COLOUR, ON_OFF, Device, DeviceError, DeviceState, Found

if TYPE_CHECKING:
    import aiohttp

APP_NAME = "assistant#home"
"""How the bridge lists this assistant among the apps it has let in."""


class LinkButtonNeeded(DeviceError):
    code = "link_button"


def _hue_error(answer: Any) -> dict[str, Any] | None:
    """The first error of a Hue answer ([{"error": {...}}]), or None."""
    if isinstance(answer, list):
        for item in answer:
            if isinstance(item, dict) and isinstance(error := item.get("error"), dict):
                return error
    return None


def rgb_to_xy(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """sRGB → CIE 1931 xy, the colour space Hue lights take (gamma removed, wide-gamut D65 matrix)."""

    def linear(c: int) -> float:
        v = c / 255
        return ((v + 0.055) / 1.055) ** 2.4 if v > 0.04045 else v / 12.92

    r, g, b = (linear(c) for c in rgb)
    x = r * 0.664511 + g * 0.154324 + b * 0.162028
    y = r * 0.283881 + g * 0.668433 + b * 0.047685
    z = r * 0.000088 + g * 0.072310 + b * 0.986039
    total = x + y + z
    return (0.3227, 0.329) if total == 0 else (round(x / total, 4), round(y / total, 4))


class HueDriver:
    protocol = "hue"

    def __init__(self, user_of: Callable[[str], str | None], remember: Callable[[str, str], None]) -> None:
        """user_of(bridge_id) and remember(bridge_id, user): where the bridge's user names are kept."""
        self._user_of = user_of
        self._remember = remember

    async def _pair(self, session: aiohttp.ClientSession, base: str, bridge_id: str, name: str) -> str:
        answer = await http_json(session, "POST", f"{base}/api", name, body={"devicetype": APP_NAME})
        error = _hue_error(answer)
        if error is not None:
            if error.get("type") == 101:
                raise LinkButtonNeeded(
                    f"press the link button on the Hue bridge '{name}': the assistant pairs "
                    "with it within seconds while it runs (or run `assistant devices discover`)"
                )
            raise DeviceError(
                f"the Hue bridge '{name}' refused pairing: {error.get('description')}", code="device_refused"
            )
        try:
            user = answer[0]["success"]["username"]
        except (KeyError, IndexError, TypeError) as e:
            raise DeviceError(
                f"the Hue bridge '{name}' answered pairing without a user name", code="device_bad_answer"
            ) from e
        if not isinstance(user, str) or not user:
            raise DeviceError(f"the Hue bridge '{name}' answered pairing without a user name", code="device_bad_answer")
        self._remember(bridge_id, user)
        return user

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
        what = f"Hue bridge at {host}"
        base = f"http://{host}:{port}"
        config = await http_json(session, "GET", f"{base}/api/config", what)
        bridge_id = need(config, "bridgeid", str, what).lower()
        if "bridgeid" in txt and txt["bridgeid"].lower() != bridge_id:
            raise DeviceError(f"{what} announced bridge {txt['bridgeid'][:20]!r} but is {bridge_id}", code="bad_txt")
        name = config.get("name") if isinstance(config.get("name"), str) else "Hue bridge"
        user = self._user_of(bridge_id) or await self._pair(session, base, bridge_id, name)
        lights = await http_json(session, "GET", f"{base}/api/{user}/lights", what)
        error = _hue_error(lights)
        if error is not None and error.get("type") == 1:  # the bridge forgot us (reset): pair again
            user = await self._pair(session, base, bridge_id, name)
            lights = await http_json(session, "GET", f"{base}/api/{user}/lights", what)
        if not isinstance(lights, dict):
            raise DeviceError(f"{what} listed its lights as something that is not an object", code="device_bad_answer")
        found = []
        for number, light in sorted(lights.items()):
            if not isinstance(light, dict) or not isinstance(light.get("name"), str):
                continue
            kind = str(light.get("type", "")).lower()
            caps = (
                (ON_OFF, BRIGHTNESS, COLOUR)
                if "color" in kind
                else (ON_OFF, BRIGHTNESS)
                if "dimmable" in kind or "temperature" in kind
                else (ON_OFF,)
            )
            key = str(light.get("uniqueid") or number)
            found.append(
                Found(
                    f"hue:{bridge_id}:{key}",
                    light["name"],
                    self.protocol,
                    "light",
                    str(light.get("modelid", "Hue light")),
                    caps,
                    host,
                    port,
                    {"bridge": bridge_id, "light": number, "user": user},
                )
            )
        return found

    def _light_url(self, device: Device) -> str:
        return f"http://{device.address}:{device.port}/api/{device.extra['user']}/lights/{device.extra['light']}"

    async def _set(self, session: aiohttp.ClientSession, device: Device, body: dict[str, Any]) -> None:
        error = _hue_error(await http_json(session, "PUT", f"{self._light_url(device)}/state", device.name, body=body))
        if error is not None:
            raise DeviceError(f"{device.name}: the bridge said {error.get('description')}", code="device_refused")

    async def set_power(self, session: aiohttp.ClientSession, device: Device, on: bool) -> None:
        await self._set(session, device, {"on": on})

    async def set_brightness(self, session: aiohttp.ClientSession, device: Device, percent: int) -> None:
        await self._set(
            session, device, {"on": False} if percent == 0 else {"on": True, "bri": percent_to(percent, 254, 1)}
        )

    async def set_colour(self, session: aiohttp.ClientSession, device: Device, rgb: tuple[int, int, int]) -> None:
        await self._set(session, device, {"on": True, "xy": list(rgb_to_xy(rgb))})

    async def state(self, session: aiohttp.ClientSession, device: Device) -> DeviceState:
        light = await http_json(session, "GET", self._light_url(device), device.name)
        error = _hue_error(light)
        if error is not None:
            raise DeviceError(f"{device.name}: the bridge said {error.get('description')}", code="device_refused")
        state = need(light, "state", dict, device.name)
        bri = state.get("bri")
        return DeviceState(
            on=need(state, "on", bool, device.name),
            brightness=round(min(254, max(0, bri)) * 100 / 254)
            if isinstance(bri, int) and not isinstance(bri, bool)
            else None,
        )
