"""WLED light strips on their JSON API (https://kno.wled.ge/interfaces/json-api/). The `wled` client
identifies a strip (it parses every firmware's answers); state is GET /json/state and changes are one
POST /json/state of our own, because the client retries a failed request up to three times and a
command here is tried once. Effects are named from the strip's own list (GET /json/eff), where
firmware 0.14+ leaves "RSVD" or "-" for an effect this build lacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.devices.drivers.base import TIMEOUT_S, http_json, mac_of, need, percent_to
from assistant.devices.model import BRIGHTNESS, COLOUR, EFFECT, ON_OFF, Device, DeviceError, DeviceState, Found, spoken

if TYPE_CHECKING:
    import aiohttp
    from wled import WLED

RESERVED = {"RSVD", "-", ""}
"""Names WLED gives the effects a build leaves out: never offered, never set."""
MAX_EFFECTS = 400
"""WLED 0.15 has about 190; a longer list is not a strip's."""


class UnknownEffect(DeviceError):
    code = "unknown_effect"


def effect_names(answer: Any, what: str) -> list[str]:
    """The effects of a /json/eff answer, by id (a reserved one is ""); DeviceError for anything but
    a list of names."""
    if not isinstance(answer, list) or len(answer) > MAX_EFFECTS:
        raise DeviceError(
            f"{what} listed its effects as something that is not a list of names", code="device_bad_answer"
        )
    return ["" if not isinstance(n, str) or n.strip() in RESERVED else n.strip()[:60] for n in answer]


def pick_effect(names: list[str], wanted: str, device: str) -> int:
    """The id of the effect called `wanted` (as spoken: case and punctuation do not matter);
    UnknownEffect naming it, with the closest names the strip has, when there is none."""
    said = spoken(wanted)
    for effect_id, name in enumerate(names):
        if name and spoken(name) == said:
            return effect_id
    from rapidfuzz import fuzz, process

    close = [
        m[0]
        for m in process.extract(
            said, {i: spoken(n) for i, n in enumerate(names) if n}, scorer=fuzz.WRatio, limit=3, score_cutoff=75
        )
    ]
    hint = (
        ""
        if not close
        else f". It has {' and '.join(close) if len(close) < 3 else f'{close[0]}, {close[1]} and {close[2]}'}"
    )
    raise UnknownEffect(f"{device} has no effect called {said}{hint}")


T = TypeVar("T")


class WledDriver:
    protocol = "wled"

    async def _call(
        self, session: aiohttp.ClientSession, host: str, what: str, act: Callable[[WLED], Awaitable[T]]
    ) -> T:
        # Imported when a strip is first talked to: building its models takes most of a second, and
        # every one-shot command (`assistant ask "what time is it"`) would pay for it.
        from mashumaro.exceptions import MissingField
        from wled import WLED
        from wled.exceptions import WLEDConnectionError, WLEDConnectionTimeoutError, WLEDError

        client = WLED(host, request_timeout=TIMEOUT_S, session=session)
        try:
            return await act(client)
        except WLEDConnectionTimeoutError as e:
            raise DeviceError(f"{what} did not answer within {TIMEOUT_S:g} s", code="device_timeout") from e
        except WLEDConnectionError as e:
            raise DeviceError(f"{what} cannot be reached", code="device_unreachable") from e
        except (WLEDError, ValueError, KeyError, TypeError, MissingField) as e:  # its parsing of a bad answer
            raise DeviceError(f"{what} answered something WLED does not: {e}", code="device_bad_answer") from e

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
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
        effects = [e.name for _, e in sorted(device.effects.items()) if e.name.strip() not in RESERVED][:MAX_EFFECTS]
        return [
            Found(
                f"wled:{mac}",
                device.info.name or f"WLED {mac[-4:]}",
                self.protocol,
                "light",
                model,
                (ON_OFF, BRIGHTNESS, COLOUR, EFFECT),
                host,
                port,
                {"effects": effects},
            )
        ]

    async def _post(self, session: aiohttp.ClientSession, device: Device, state: dict[str, Any]) -> None:
        await http_json(session, "POST", f"http://{device.address}:{device.port}/json/state", device.name, body=state)

    async def set_power(self, session: aiohttp.ClientSession, device: Device, on: bool) -> None:
        await self._post(session, device, {"on": on})

    async def set_brightness(self, session: aiohttp.ClientSession, device: Device, percent: int) -> None:
        await self._post(
            session, device, {"on": False} if percent == 0 else {"on": True, "bri": percent_to(percent, 255, 1)}
        )

    async def set_colour(self, session: aiohttp.ClientSession, device: Device, rgb: tuple[int, int, int]) -> None:
        await self._post(session, device, {"on": True, "seg": [{"id": 0, "on": True, "col": [list(rgb)]}]})

    async def set_effect(self, session: aiohttp.ClientSession, device: Device, name: str) -> str:
        """Run the effect called `name` on the main segment; its name as the strip spells it."""
        names = effect_names(
            await http_json(session, "GET", f"http://{device.address}:{device.port}/json/eff", device.name), device.name
        )
        effect_id = pick_effect(names, name, device.name)
        await self._post(session, device, {"on": True, "seg": [{"id": 0, "fx": effect_id}]})
        return names[effect_id]

    async def state(self, session: aiohttp.ClientSession, device: Device) -> DeviceState:
        return state_of(
            await http_json(session, "GET", f"http://{device.address}:{device.port}/json/state", device.name),
            device.name,
        )


def state_of(state: Any, what: str) -> DeviceState:
    """A WLED state object (GET /json/state, or the "state" a /ws message carries) as a DeviceState;
    DeviceError when it has no on/off or brightness."""
    on = need(state, "on", bool, what)
    bri = need(state, "bri", int, what)
    colour = None
    segments = state.get("seg")
    first = segments[0] if isinstance(segments, list) and segments else None
    if isinstance(first, dict) and isinstance(first.get("col"), list) and first["col"]:
        primary = first["col"][0]
        if (
            isinstance(primary, list)
            and len(primary) >= 3
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in primary[:3])
        ):
            colour = (primary[0], primary[1], primary[2])
    return DeviceState(on=on, brightness=round(max(0, min(255, bri)) * 100 / 255), colour=colour)
