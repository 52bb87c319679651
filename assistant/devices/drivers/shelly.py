"""Shelly Gen2 and Gen3 devices over their RPC API: GET /shelly to identify, then
/rpc/<Component>.<Method>?… for switches (plugs, relays, with power metering) and lights (dimmers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.devices.drivers.base import Unsupported, http_json, mac_of, need
from assistant.devices.model import BRIGHTNESS, ON_OFF, POWER, Device, DeviceError, DeviceState, Found

if TYPE_CHECKING:
    import aiohttp


class ShellyDriver:
    protocol = "shelly"

    async def _rpc(self, session: aiohttp.ClientSession, device: Device, method: str, **params: Any) -> Any:
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        return await http_json(
            session, "GET", f"http://{device.address}:{device.port}/rpc/{method}", device.name, params=query
        )

    async def identify(
        self, session: aiohttp.ClientSession, host: str, port: int, txt: dict[str, str], service: str
    ) -> list[Found]:
        what = f"Shelly at {host}"
        if "gen" in txt and not txt["gen"].isdigit():
            raise DeviceError(f"{what} announced a bad generation '{txt['gen'][:20]}'", code="bad_txt")
        info = await http_json(session, "GET", f"http://{host}:{port}/shelly", what)
        gen = info.get("gen") if isinstance(info, dict) else None
        if not isinstance(gen, int) or isinstance(gen, bool) or gen < 2:
            raise DeviceError(f"{what} is not a Gen2 or later Shelly (only those are supported)", code="unsupported")
        device_id = need(info, "id", str, what)
        try:
            mac = mac_of(need(info, "mac", str, what))
        except ValueError as e:
            raise DeviceError(f"{what} reported no valid MAC address", code="device_bad_answer") from e
        model = need(info, "model", str, what)
        status = await http_json(session, "GET", f"http://{host}:{port}/rpc/Shelly.GetStatus", what)
        if not isinstance(status, dict):
            raise DeviceError(
                f"{what} answered its status with something that is not an object", code="device_bad_answer"
            )
        given = info.get("name")
        name = given if isinstance(given, str) and given else f"Shelly {info.get('app') or model} {mac[-4:]}"
        found = []
        for key in sorted(status):
            component, _, index = key.partition(":")
            if component not in ("switch", "light") or not index.isdigit():
                continue
            part = status[key] if isinstance(status[key], dict) else {}
            if component == "switch":
                caps = (ON_OFF, POWER) if "apower" in part else (ON_OFF,)
                kind = "plug"
            else:
                caps, kind = (ON_OFF, BRIGHTNESS), "dimmer"
            suffix = "" if index == "0" else f" {int(index) + 1}"
            found.append(
                Found(
                    f"shelly:{mac}:{key}",
                    f"{name}{suffix}",
                    self.protocol,
                    kind,
                    model,
                    caps,
                    host,
                    port,
                    {"component": component, "index": int(index), "device_id": device_id},
                )
            )
        if not found:
            raise DeviceError(f"{what} ({model}) has no switch or light this assistant can control", code="unsupported")
        return found

    def _component(self, device: Device) -> tuple[str, int]:
        return ("Light" if device.extra.get("component") == "light" else "Switch"), int(device.extra.get("index", 0))

    async def set_power(self, session: aiohttp.ClientSession, device: Device, on: bool) -> None:
        component, index = self._component(device)
        await self._rpc(session, device, f"{component}.Set", id=index, on=on)

    async def set_brightness(self, session: aiohttp.ClientSession, device: Device, percent: int) -> None:
        component, index = self._component(device)
        if component != "Light":
            raise Unsupported(f"{device.name} can only be switched on and off")
        if percent == 0:
            return await self.set_power(session, device, False)
        await self._rpc(session, device, "Light.Set", id=index, on=True, brightness=percent)

    async def set_colour(self, session: aiohttp.ClientSession, device: Device, rgb: tuple[int, int, int]) -> None:
        raise Unsupported(f"{device.name} has no colours")

    async def state(self, session: aiohttp.ClientSession, device: Device) -> DeviceState:
        component, index = self._component(device)
        status = await self._rpc(session, device, f"{component}.GetStatus", id=index)
        on = need(status, "output", bool, device.name)
        if component == "Light":
            return DeviceState(on=on, brightness=need(status, "brightness", (int, float), device.name))
        power = status.get("apower")
        energy = status.get("aenergy", {}).get("total") if isinstance(status.get("aenergy"), dict) else None
        return DeviceState(
            on=on,
            power_w=float(power) if isinstance(power, (int, float)) else None,
            energy_wh=float(energy) if isinstance(energy, (int, float)) else None,
        )
