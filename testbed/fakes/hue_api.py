"""A fake Philips Hue bridge: the v1 REST API (https://developers.meethue.com/develop/hue-api/).

Pairing works as on the real bridge: POST /api with a devicetype fails with error 101 until
someone presses the link button (`press_link_button()`), then answers with a new username for
30 s. Every answer is HTTP 200; failures are [{"error": {"type", "address", "description"}}].
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from testbed.fakes.base import FakeDevice

LINK_WINDOW_S = 30.0

# What PUT .../state accepts, each with its check.
_STATE_RULES: dict[str, Callable[[Any], bool]] = {
    "on": lambda v: isinstance(v, bool),
    "bri": lambda v: _is_int(v) and 1 <= v <= 254,
    "hue": lambda v: _is_int(v) and 0 <= v <= 65535,
    "sat": lambda v: _is_int(v) and 0 <= v <= 254,
    "ct": lambda v: _is_int(v) and 153 <= v <= 500,
    "xy": lambda v: (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1 for c in v)
    ),
    "alert": lambda v: v in ("none", "select", "lselect"),
    "effect": lambda v: v in ("none", "colorloop"),
    "transitiontime": lambda v: _is_int(v) and 0 <= v <= 65535,
    "bri_inc": lambda v: _is_int(v) and -254 <= v <= 254,
}
# What a light that is off still takes without "on": true (the rest is error 201).
_WHILE_OFF = {"on", "alert", "transitiontime"}
_COLOR_MODES = {"xy": "xy", "hue": "hs", "sat": "hs", "ct": "ct"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def error(kind: int, address: str, description: str) -> dict[str, Any]:
    return {"error": {"type": kind, "address": address, "description": description}}


def _light(name: str, uniqueid: str) -> dict[str, Any]:
    return {
        "state": {
            "on": False, "bri": 254, "hue": 8418, "sat": 140, "effect": "none",
            "xy": [0.4573, 0.41], "ct": 366, "alert": "none", "colormode": "xy",
            "mode": "homeautomation", "reachable": True,
        },
        "swupdate": {"state": "noupdates", "lastinstall": "2024-05-01T10:00:00"},
        "type": "Extended color light", "name": name, "modelid": "LCT015",
        "manufacturername": "Signify Netherlands B.V.", "productname": "Hue color lamp",
        "capabilities": {
            "certified": True,
            "control": {"mindimlevel": 1000, "maxlumen": 806, "colorgamuttype": "C",
                        "colorgamut": [[0.6915, 0.3083], [0.17, 0.7], [0.1532, 0.0475]],
                        "ct": {"min": 153, "max": 500}},
            "streaming": {"renderer": True, "proxy": True},
        },
        "config": {"archetype": "sultanbulb", "function": "mixed",
                   "direction": "omnidirectional"},
        "uniqueid": uniqueid, "swversion": "1.88.1",
    }  # fmt: skip


class FakeHueBridge(FakeDevice):
    kind = "hue"
    service_type = "_hue._tcp.local."
    oui = "001788"

    def __init__(self, name: str, host: str, *, lights: Sequence[str] = ("Hue color lamp",), **options: Any) -> None:
        super().__init__(name, host, **options)
        self.users: dict[str, str] = {}
        """The paired usernames, with the devicetype each paired as; tests may add their own."""
        self._link_pressed_at: float | None = None
        serial = ":".join(self.mac[i : i + 2] for i in range(6, 12)).lower()
        self.state = {
            "lights": {str(n): _light(light, f"00:17:88:01:{n:02x}:{serial}-0b") for n, light in enumerate(lights, 1)}
        }

    @property
    def bridgeid(self) -> str:
        return f"{self.mac[:6]}FFFE{self.mac[6:]}"

    def instance_name(self) -> str:
        return f"Philips Hue - {self.bridgeid[-6:]}"

    def hostname(self) -> str:
        return f"{self.bridgeid.lower()}.local."

    def txt(self) -> dict[str, str]:
        return {"bridgeid": self.bridgeid.lower(), "modelid": "BSB002"}

    def press_link_button(self) -> None:
        """Open the 30 s window in which POST /api hands out a username."""
        self._link_pressed_at = time.monotonic()

    @property
    def link_button(self) -> bool:
        pressed = self._link_pressed_at
        return pressed is not None and time.monotonic() - pressed < LINK_WINDOW_S

    def light(self, name: str) -> dict[str, Any]:
        """A light by its name, for tests to look at."""
        return next(light for light in self.state["lights"].values() if light["name"] == name)

    def public_config(self) -> dict[str, Any]:
        """What /api/config tells anyone, paired or not."""
        return {
            "name": self.name, "datastoreversion": "163", "swversion": "1967054020",
            "apiversion": "1.65.0",
            "mac": ":".join(self.mac[i : i + 2] for i in range(0, 12, 2)).lower(),
            "bridgeid": self.bridgeid, "factorynew": False, "replacesbridgeid": None,
            "modelid": "BSB002", "starterkitid": "",
        }  # fmt: skip

    def config(self) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        whitelist = {
            user: {"last use date": now, "create date": now, "name": devicetype}
            for user, devicetype in self.users.items()
        }
        return {
            **self.public_config(), "zigbeechannel": 15, "dhcp": True, "ipaddress": self.host,
            "netmask": "255.0.0.0", "gateway": "127.0.0.1", "proxyaddress": "none",
            "proxyport": 0, "UTC": now, "localtime": now, "timezone": "Europe/Amsterdam",
            "linkbutton": self.link_button, "portalservices": False,
            "portalconnection": "disconnected", "whitelist": whitelist,
        }  # fmt: skip

    def pair(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("devicetype"), str):
            return [error(5, "/", "invalid/missing parameters in body")]
        if len(body["devicetype"]) > 40:
            value = body["devicetype"]
            return [error(7, "/devicetype", f"invalid value, {value}, for parameter, devicetype")]
        if not self.link_button:
            return [error(101, "", "link button not pressed")]
        username = secrets.token_hex(20)
        self.users[username] = body["devicetype"]
        success: dict[str, str] = {"username": username}
        if body.get("generateclientkey") is True:
            success["clientkey"] = secrets.token_hex(16).upper()
        return [{"success": success}]

    def set_state(self, light_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply PUT /lights/<id>/state: one success or error per parameter, in order."""
        state = self.state["lights"][light_id]["state"]
        will_be_on = body["on"] if isinstance(body.get("on"), bool) else state["on"]
        results: list[dict[str, Any]] = []
        for key, value in body.items():
            address = f"/lights/{light_id}/state/{key}"
            check = _STATE_RULES.get(key)
            if check is None:
                results.append(error(6, address, f"parameter, {key}, not available"))
            elif not check(value):
                results.append(error(7, address, f"invalid value, {value}, for parameter, {key}"))
            elif key not in _WHILE_OFF and not will_be_on:
                why = f"parameter, {key}, is not modifiable. Device is set to off."
                results.append(error(201, address, why))
            else:
                if key == "bri_inc":
                    state["bri"] = max(1, min(254, state["bri"] + value))
                elif key != "transitiontime":
                    state[key] = value
                if key in _COLOR_MODES:
                    state["colormode"] = _COLOR_MODES[key]
                results.append({"success": {address: value}})
        return results

    # HTTP.

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api", self._post_pair),
            web.post("/api/", self._post_pair),
            web.get("/api/config", self._get_public_config),
            web.route("*", "/api/{user}", self._user_request),
            web.route("*", "/api/{user}/{path:.*}", self._user_request),
        ]

    async def _post_pair(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response([error(2, "", "body contains invalid json")])
        return web.json_response(self.pair(body))

    async def _get_public_config(self, request: web.Request) -> web.Response:
        return web.json_response(self.public_config())

    async def _user_request(self, request: web.Request) -> web.Response:
        path = request.match_info.get("path", "").strip("/")
        address = f"/{path}"
        if request.match_info["user"] not in self.users:
            if request.method == "GET" and path == "config":
                return web.json_response(self.public_config())
            return web.json_response([error(1, address, "unauthorized user")])
        body: Any = None
        if request.method in ("PUT", "POST"):
            try:
                body = json.loads(await request.text())
            except ValueError:
                return web.json_response([error(2, address, "body contains invalid json")])
        return web.json_response(self._resource(request.method, path.split("/"), body))

    def _resource(self, method: str, parts: list[str], body: Any) -> Any:
        address = "/" + "/".join(parts)
        lights = self.state["lights"]
        match method, parts:
            case "GET", [""]:
                return {"lights": lights, "groups": {}, "config": self.config(),
                        "schedules": {}, "scenes": {}, "rules": {}, "sensors": {},
                        "resourcelinks": {}}  # fmt: skip
            case "GET", ["config"]:
                return self.config()
            case "GET", ["lights"]:
                return lights
            case "GET", ["groups"]:
                return {}
            case _, ["lights", light_id, *_] if light_id not in lights:
                missing = f"/lights/{light_id}"
                return [error(3, missing, f"resource, {missing}, not available")]
            case "GET", ["lights", light_id]:
                return lights[light_id]
            case "PUT", ["lights", light_id, "state"]:
                if not isinstance(body, dict):
                    return [error(2, address, "body contains invalid json")]
                return self.set_state(light_id, body)
            case "PUT", ["lights", light_id]:
                if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                    return [error(6, address, "parameter, name, not available")]
                lights[light_id]["name"] = body["name"]
                return [{"success": {f"/lights/{light_id}/name": body["name"]}}]
        return [error(4, address, f"method, {method}, not available for resource, {address}")]
