"""A fake WLED strip: the JSON API (https://kno.wled.ge/interfaces/json-api/), WLED 0.15.

Serves what the `wled` client (1.1.1) reads: on its first update() it asks for /json,
/presets.json, /json/effects, /json/palettes, /json/fxdata and /json/cfg, then /json/si;
every change is a POST /json/state with "v": true, answered with the full state.
The websocket at /ws (https://kno.wled.ge/interfaces/websocket/) sends {"state", "info"} on
connecting and to every client on every change, however it was made; `websocket=False` is a build
without it (info "ws": -1, no /ws).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from testbed.fakes.base import FakeDevice

EFFECTS = [
    "Solid", "Blink", "Breathe", "Wipe", "Wipe Random", "Random Colors", "Sweep", "Dynamic",
    "Colorloop", "Rainbow", "Scan", "Scan Dual", "Fade", "Theater", "Theater Rainbow", "Running",
    "Saw", "Twinkle", "Dissolve", "Dissolve Rnd", "Sparkle", "RSVD", "Fireworks", "-",
]  # fmt: skip
"""As WLED 0.14+ lists them: an effect this build lacks keeps its id, named "RSVD" or "-"."""
PALETTES = [
    "Default", "* Random Cycle", "* Color 1", "* Colors 1&2", "* Color Gradient", "* Colors Only",
    "Party", "Cloud", "Lava", "Ocean", "Forest", "Rainbow", "Rainbow Bands", "Sunset",
]  # fmt: skip
# Effect metadata (sliders;colors;palette;flags), in the order of EFFECTS; Solid has none.
FXDATA = [""] + ["!,!;!,!;!;01"] * (len(EFFECTS) - 1)

# WLED's error code for a body it cannot parse (ERR_JSON).
_ERR_JSON = 9

# Segment fields taken as they come, with the range WLED keeps them in (None: a flag).
_SEGMENT_NUMBERS = {
    "bri": (0, 255), "cct": (0, 255), "fx": (0, len(EFFECTS) - 1), "sx": (0, 255),
    "ix": (0, 255), "pal": (0, len(PALETTES) - 1), "c1": (0, 255), "c2": (0, 255), "c3": (0, 31),
    "grp": (1, 255), "spc": (0, 255), "of": (0, 65535),
}  # fmt: skip
_SEGMENT_FLAGS = ("sel", "rev", "mi", "frz", "o1", "o2", "o3")


def _number(value: Any, low: int, high: int) -> int | None:
    """The value clamped to WLED's range, or None when it is no number (WLED ignores those)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return max(low, min(high, int(value)))


def _color(value: Any, current: list[int]) -> list[int]:
    """One color slot: [r, g, b(, w)], "RRGGBB(WW)", or [] to keep the current one."""
    if isinstance(value, str) and len(value) in (6, 8):
        try:
            return list(bytes.fromhex(value))
        except ValueError:
            return current
    if isinstance(value, list) and value and all(_number(v, 0, 255) is not None for v in value):
        return [_number(v, 0, 255) or 0 for v in value[:4]]
    return current


def _toggled(value: Any, current: bool) -> bool:
    """WLED's "on": a flag, or "t" to toggle."""
    if value == "t":
        return not current
    return value if isinstance(value, bool) else current


class FakeWled(FakeDevice):
    kind = "wled"
    service_type = "_wled._tcp.local."
    oui = "A8032A"

    def __init__(
        self,
        name: str,
        host: str,
        *,
        led_count: int = 30,
        on: bool = False,
        brightness: int = 128,
        websocket: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(name, host, **options)
        self.led_count = led_count
        self.websocket = websocket
        self.sockets: set[web.WebSocketResponse] = set()
        self.state = {
            "on": on, "bri": brightness, "transition": 7, "ps": -1, "pl": -1,
            "nl": {"on": False, "dur": 60, "mode": 1, "tbri": 0, "rem": -1},
            "udpn": {"send": False, "recv": True, "sgrp": 1, "rgrp": 1},
            "lor": 0, "mainseg": 0,
            "seg": [{
                "id": 0, "start": 0, "stop": led_count, "len": led_count, "grp": 1, "spc": 0,
                "of": 0, "on": True, "frz": False, "bri": 255, "cct": 127, "set": 0,
                "col": [[255, 160, 0], [0, 0, 0], [0, 0, 0]], "fx": 0, "sx": 128, "ix": 128,
                "pal": 0, "c1": 128, "c2": 128, "c3": 16, "sel": True, "rev": False,
                "mi": False, "o1": False, "o2": False, "o3": False, "si": 0, "m12": 0,
            }],
        }  # fmt: skip

    def instance_name(self) -> str:
        return self.name

    def hostname(self) -> str:
        return f"wled-{self.mac[-6:].lower()}.local."

    def txt(self) -> dict[str, str]:
        return {"mac": self.mac.lower()}

    def info(self) -> dict[str, Any]:
        return {
            "ver": "0.15.0", "vid": 2412100, "cn": "Kōsen", "release": "ESP32",
            "repo": "wled/WLED", "name": self.name, "brand": "WLED", "product": "FOSS",
            "mac": self.mac.lower(), "ip": self.host, "arch": "esp32",
            "core": "v3.3.6-16-gcc5440f6a2", "clock": 240, "flash": 4, "lwip": 0,
            "leds": {
                "count": self.led_count, "pwr": 0, "fps": 42, "maxpwr": 850, "maxseg": 32,
                "bootps": 0, "seglc": [1] * len(self.state["seg"]), "lc": 1, "rgbw": False,
                "wv": False, "cct": False,
            },
            "str": False, "udpport": 21324, "simplifiedui": False, "live": False,
            "liveseg": -1, "lm": "", "lip": "",
            # Clients on /ws; -1: built without WebSockets.
            "ws": len(self.sockets) if self.websocket else -1,
            "fxcount": len(EFFECTS), "palcount": len(PALETTES), "cpalcount": 0,
            "maps": [{"id": 0}],
            "wifi": {"bssid": "3C:37:86:5A:0B:11", "rssi": -62, "signal": 76, "channel": 6,
                     "ap": False},
            "fs": {"u": 12, "t": 983, "pmt": 0}, "ndc": 0, "freeheap": 163000,
            "uptime": self.uptime_s, "time": "2025-1-1, 12:00:00", "opt": 79,
        }  # fmt: skip

    def config(self) -> dict[str, Any]:
        """The LED part of /json/cfg, which is all the client keeps of it."""
        output = {"start": 0, "len": self.led_count, "pin": [2], "order": 0, "rev": False,
                  "skip": 0, "type": 22, "ref": False, "rgbwm": 0, "freq": 0}  # fmt: skip
        return {
            "rev": [1, 0], "vid": 2412100,
            "id": {"mdns": self.hostname().removesuffix(".local."), "name": self.name},
            "hw": {"led": {"total": self.led_count, "maxpwr": 850, "ledma": 55, "cct": False,
                           "cr": False, "cb": 0, "fps": 42, "rgbwm": 255, "ins": [output]}},
        }  # fmt: skip

    def apply(self, update: dict[str, Any]) -> None:
        """Merge a partial state, as POST /json/state does; fields of the wrong type are ignored."""
        state = self.state
        if "on" in update:
            state["on"] = _toggled(update["on"], state["on"])
        if (bri := _number(update.get("bri"), 0, 255)) is not None:
            # bri 0 turns the light off; the state keeps the last brightness.
            if bri == 0:
                state["on"] = False
            else:
                state["bri"] = bri
        for key, high in (("transition", 65535), ("ps", 250), ("pl", 250), ("lor", 2)):
            if (value := _number(update.get(key), -1, high)) is not None:
                state[key] = value
        for key in ("nl", "udpn"):
            if isinstance(update.get(key), dict):
                state[key].update(update[key])
        segments = update.get("seg")
        if isinstance(segments, dict):
            segments = [{"id": state["mainseg"], **segments}]
        for position, patch in enumerate(segments if isinstance(segments, list) else []):
            if not isinstance(patch, dict):
                continue
            seg_id = patch.get("id", position)
            for segment in state["seg"]:
                if segment["id"] == seg_id:
                    self._apply_segment(segment, patch)

    @staticmethod
    def _apply_segment(segment: dict[str, Any], patch: dict[str, Any]) -> None:
        if "on" in patch:
            segment["on"] = _toggled(patch["on"], segment["on"])
        for key, (low, high) in _SEGMENT_NUMBERS.items():
            if (value := _number(patch.get(key), low, high)) is not None:
                segment[key] = value
        for key in _SEGMENT_FLAGS:
            if isinstance(patch.get(key), bool):
                segment[key] = patch[key]
        if isinstance(patch.get("n"), str):
            segment["n"] = patch["n"]
        if isinstance(patch.get("col"), list):
            colors = segment["col"]
            for slot, value in enumerate(patch["col"][:3]):
                colors[slot] = _color(value, colors[slot])

    # HTTP.

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/json", self._get_all),
            web.get("/json/", self._get_all),
            web.get("/json/{part}", self._get_part),
            web.post("/json", self._post_state),
            web.post("/json/state", self._post_state),
            web.get("/presets.json", self._get_presets),
            *([web.get("/ws", self._socket)] if self.websocket else []),
        ]

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            await ws.send_json({"state": self.state, "info": self.info()})
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    update = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(update, dict):
                    self.apply(update)
                    await self.push()
        finally:
            self.sockets.discard(ws)
        return ws

    async def push(self) -> None:
        """Send the state to every websocket client, as WLED does after any change."""
        message = json.dumps({"state": self.state, "info": self.info()})
        await asyncio.gather(
            *(ws.send_str(message) for ws in list(self.sockets) if not ws.closed), return_exceptions=True
        )

    async def _close_http(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        await super()._close_http()

    def _everything(self) -> dict[str, Any]:
        return {"state": self.state, "info": self.info(), "effects": EFFECTS,
                "palettes": PALETTES}  # fmt: skip

    async def _get_all(self, request: web.Request) -> web.Response:
        return web.json_response(self._everything())

    async def _get_part(self, request: web.Request) -> web.Response:
        parts = {
            "state": lambda: self.state,
            "info": self.info,
            "si": lambda: {"state": self.state, "info": self.info()},
            "effects": lambda: EFFECTS,
            "eff": lambda: EFFECTS,  # the documented name; WLED matches "eff" within the path
            "palettes": lambda: PALETTES,
            "pal": lambda: PALETTES,
            "fxdata": lambda: FXDATA,
            "cfg": self.config,
        }
        part = parts.get(request.match_info["part"])
        if part is None:
            return web.json_response({"error": 4}, status=501)
        return web.json_response(part())

    async def _get_presets(self, request: web.Request) -> web.Response:
        # A fresh WLED's presets file: only the placeholder preset 0.
        return web.json_response({"0": {}})

    async def _post_state(self, request: web.Request) -> web.Response:
        try:
            update = json.loads(await request.text())
        except ValueError:
            update = None
        if not isinstance(update, dict):
            return web.json_response({"error": _ERR_JSON}, status=400)
        self.apply(update)
        await self.push()
        if not update.get("v"):
            return web.json_response({"success": True})
        if request.path == "/json":
            return web.json_response(self._everything())
        return web.json_response(self.state)
