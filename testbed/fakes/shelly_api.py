"""Fake Shelly Gen2 devices, firmware 1.4.4: the RPC API (https://shelly-api-docs.shelly.cloud/gen2/).

The three HTTP forms a Gen2 device takes:
- POST /rpc with a whole JSON-RPC frame, answered with a whole frame (result or error), HTTP 200;
- GET /rpc/<Method>?id=0&on=true, each value read as JSON, else as a string;
- POST /rpc/<Method> with the params as the body.
The last two answer with the bare result, or with the bare error object and an HTTP status the
way Mongoose OS (the Shelly firmware's base) picks it: 404 for code 404, else 500.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, ClassVar

from aiohttp import web

from testbed.fakes.base import FakeDevice

FW_ID = "20241011-114455/1.4.4-g6d2a586"
VERSION = "1.4.4"

Params = dict[str, Any]


class RpcError(Exception):
    """An RPC error with Shelly's code: -103 invalid argument, -105 not found, 404 no method."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _component_id(params: Params) -> int:
    """The instance id every component method needs; these devices have only instance 0."""
    if "id" not in params:
        raise RpcError(-103, "Missing required 'id'")
    if params["id"] != 0:
        raise RpcError(-105, f"Argument 'id', value {params['id']} not found!")
    return 0


def _flag(params: Params, key: str, *, required: bool = False) -> bool | None:
    value = params.get(key)
    if value is None:
        if required:
            raise RpcError(-103, f"Missing required '{key}'")
        return None
    if not isinstance(value, bool):
        raise RpcError(-103, f"Invalid argument '{key}'")
    return value


def _of_instance(getter: Callable[[], Any]) -> Callable[[Params], Any]:
    """A Component.GetX method: checks the instance id, then answers with `getter()`."""

    def method(params: Params) -> Any:
        _component_id(params)
        return getter()

    return method


def _query_params(query: dict[str, str]) -> Params:
    """GET parameters as the firmware reads them: JSON where they parse, strings otherwise."""
    params: Params = {}
    for key, text in query.items():
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params


class FakeShelly(FakeDevice):
    """What every Gen2 device shares; a kind adds its component (switch:0 or light:0)."""

    oui = "E8DB84"
    model: ClassVar[str]
    app: ClassVar[str]
    id_prefix: ClassVar[str]
    component: ClassVar[str]

    def __init__(self, name: str, host: str, *, http_only: bool = False, **options: Any) -> None:
        super().__init__(name, host, **options)
        self.http_only = http_only

    @property
    def service_type(self) -> str:  # type: ignore[override]
        # Older firmwares advertise only _http._tcp.
        return "_http._tcp.local." if self.http_only else "_shelly._tcp.local."

    @property
    def device_id(self) -> str:
        return f"{self.id_prefix}-{self.mac.lower()}"

    def instance_name(self) -> str:
        return self.device_id

    def hostname(self) -> str:
        return f"{self.device_id}.local."

    def txt(self) -> dict[str, str]:
        return {"gen": "2", "app": self.app, "ver": VERSION}

    def device_info(self) -> dict[str, Any]:
        return {
            "name": self.name, "id": self.device_id, "mac": self.mac, "slot": 0,
            "model": self.model, "gen": 2, "fw_id": FW_ID, "ver": VERSION, "app": self.app,
            "auth_en": False, "auth_domain": None,
        }  # fmt: skip

    def sys_status(self) -> dict[str, Any]:
        now = time.time()
        return {
            "mac": self.mac, "restart_required": False, "time": time.strftime("%H:%M"),
            "unixtime": int(now), "uptime": self.uptime_s, "ram_size": 260_000,
            "ram_free": 118_000, "fs_size": 458_752, "fs_free": 110_592, "cfg_rev": 10,
            "kvs_rev": 0, "schedule_rev": 0, "webhook_rev": 0, "available_updates": {},
            "reset_reason": 3,
        }  # fmt: skip

    def component_status(self) -> dict[str, Any]:
        raise NotImplementedError

    def component_config(self) -> dict[str, Any]:
        return {"id": 0, "name": self.name, "initial_state": "restore_last"}

    def methods(self) -> dict[str, Callable[[Params], Any]]:
        """The RPC methods by name; a kind adds those of its component."""
        prefix = self.component.capitalize()
        return {
            "Shelly.GetDeviceInfo": lambda params: self.device_info(),
            "Shelly.GetStatus": lambda params: self.status(),
            "Shelly.GetConfig": lambda params: self.config(),
            "Shelly.ListMethods": lambda params: {"methods": sorted(self.methods())},
            "Sys.GetStatus": lambda params: self.sys_status(),
            f"{prefix}.GetStatus": _of_instance(self.component_status),
            f"{prefix}.GetConfig": _of_instance(self.component_config),
        }

    def status(self) -> dict[str, Any]:
        return {
            "ble": {}, "cloud": {"connected": False}, "mqtt": {"connected": False},
            f"{self.component}:0": self.component_status(), "sys": self.sys_status(),
            "wifi": {"sta_ip": self.host, "status": "got ip", "ssid": "Home", "rssi": -58},
            "ws": {"connected": False},
        }  # fmt: skip

    def config(self) -> dict[str, Any]:
        device = {"name": self.name, "mac": self.mac, "fw_id": FW_ID, "eco_mode": False}
        return {"sys": {"device": device}, f"{self.component}:0": self.component_config()}

    def call(self, method: str, params: Params) -> Any:
        """Run one RPC method, raising RpcError the way the device answers it."""
        handler = self.methods().get(method)
        if handler is None:
            raise RpcError(404, f"No handler for {method}")
        return handler(params)

    # HTTP.

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/shelly", self._get_shelly),
            web.post("/rpc", self._post_frame),
            web.get("/rpc/{method}", self._get_method),
            web.post("/rpc/{method}", self._post_method),
        ]

    async def _get_shelly(self, request: web.Request) -> web.Response:
        return web.json_response(self.device_info())

    def _bare_answer(self, method: str, params: Any) -> web.Response:
        try:
            if not isinstance(params, dict):
                raise RpcError(-103, "Invalid params")
            return web.json_response(self.call(method, params))
        except RpcError as error:
            status = 404 if error.code == 404 else 500
            return web.json_response({"code": error.code, "message": error.message}, status=status)

    async def _get_method(self, request: web.Request) -> web.Response:
        return self._bare_answer(request.match_info["method"], _query_params(dict(request.query)))

    async def _post_method(self, request: web.Request) -> web.Response:
        text = await request.text()
        try:
            params = json.loads(text) if text else {}
        except ValueError:
            params = None
        return self._bare_answer(request.match_info["method"], params)

    async def _post_frame(self, request: web.Request) -> web.Response:
        try:
            frame = json.loads(await request.text())
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            return web.json_response({"code": -103, "message": "Bad frame"}, status=400)
        answer: dict[str, Any] = {"id": frame.get("id"), "src": self.device_id}
        if "src" in frame:
            answer["dst"] = frame["src"]
        params = frame.get("params", {})
        try:
            if not isinstance(frame.get("method"), str):
                raise RpcError(-103, "Missing required 'method'")
            if not isinstance(params, dict):
                raise RpcError(-103, "Invalid params")
            answer["result"] = self.call(frame["method"], params)
        except RpcError as error:
            answer["error"] = {"code": error.code, "message": error.message}
        return web.json_response(answer)


class FakeShellyPlug(FakeShelly):
    """A Shelly Plus Plug S; its power draw is `load_w` while on (a running washing machine)."""

    kind = "shelly_plug"
    model = "SNPL-00112EU"
    app = "PlugS"
    id_prefix = "shellyplusplugs"
    component = "switch"

    def __init__(self, name: str, host: str, *, on: bool = False, load_w: float = 1200.0, **options: Any) -> None:
        super().__init__(name, host, **options)
        self.load_w = load_w
        self.energy_wh = 1234.5
        self.state = {"output": on, "source": "init"}

    @property
    def apower(self) -> float:
        return self.load_w if self.state["output"] else 0.0

    def component_status(self) -> dict[str, Any]:
        voltage = 230.1
        return {
            "id": 0, "source": self.state["source"], "output": self.state["output"],
            "apower": self.apower, "voltage": voltage,
            "current": round(self.apower / voltage, 3),
            "aenergy": {"total": self.energy_wh, "by_minute": [0.0, 0.0, 0.0],
                        "minute_ts": int(time.time()) // 60 * 60},
            "temperature": {"tC": 35.2, "tF": 95.4},
        }  # fmt: skip

    def component_config(self) -> dict[str, Any]:
        return {
            **super().component_config(), "auto_on": False, "auto_on_delay": 60.0,
            "auto_off": False, "auto_off_delay": 60.0, "power_limit": 2500,
            "voltage_limit": 280, "current_limit": 12.0,
        }  # fmt: skip

    def _switch(self, on: bool) -> dict[str, bool]:
        was_on = self.state["output"]
        self.state.update(output=on, source="HTTP_in")
        return {"was_on": was_on}

    def methods(self) -> dict[str, Callable[[Params], Any]]:
        def set_(params: Params) -> dict[str, bool]:
            _component_id(params)
            return self._switch(bool(_flag(params, "on", required=True)))

        def toggle(params: Params) -> dict[str, bool]:
            _component_id(params)
            return self._switch(not self.state["output"])

        return {**super().methods(), "Switch.Set": set_, "Switch.Toggle": toggle}


class FakeShellyDimmer(FakeShelly):
    """A Shelly Plus Wall Dimmer: one light with a brightness of 0-100 %."""

    kind = "shelly_dimmer"
    model = "SNDM-0013US"
    app = "PlusWallDimmer"
    id_prefix = "shellywalldimmer"
    component = "light"

    def __init__(self, name: str, host: str, *, on: bool = False, brightness: int = 50, **options: Any) -> None:
        super().__init__(name, host, **options)
        self.state = {"output": on, "brightness": brightness, "source": "init"}

    def component_status(self) -> dict[str, Any]:
        return {"id": 0, **self.state}

    def methods(self) -> dict[str, Callable[[Params], Any]]:
        def set_(params: Params) -> None:
            _component_id(params)
            on = _flag(params, "on")
            brightness = params.get("brightness")
            if brightness is not None and (
                isinstance(brightness, bool) or not isinstance(brightness, (int, float)) or not 0 <= brightness <= 100
            ):
                raise RpcError(-103, "Invalid argument 'brightness'")
            if on is not None:
                self.state["output"] = on
            if brightness is not None:
                self.state["brightness"] = round(brightness)
            self.state["source"] = "HTTP_in"

        def toggle(params: Params) -> None:
            _component_id(params)
            self.state.update(output=not self.state["output"], source="HTTP_in")

        # Light.Set and Light.Toggle answer null on success.
        return {**super().methods(), "Light.Set": set_, "Light.Toggle": toggle}
