"""Home Assistant as its documented REST API shows it (developers.home-assistant.io, "REST API"), for
tests: `Authorization: Bearer TOKEN` on every call (401 and a plain-text body without it, as Home
Assistant answers), GET /api/, GET /api/states, GET /api/states/<entity_id>, and
POST /api/services/<domain>/<service> with `entity_id` (and for lights `brightness_pct`, `rgb_color`),
answering the states it changed.

    python -m testbed.fakes.home_assistant --port 8123 --token TOKEN [--host 0.0.0.0]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
from typing import Any

from aiohttp import web

ENTITIES: list[dict[str, Any]] = [
    {
        "entity_id": "light.living_room_ceiling",
        "state": "off",
        "attributes": {
            "friendly_name": "Living room ceiling",
            "supported_color_modes": ["rgb"],
            "brightness": None,
            "rgb_color": None,
        },
    },
    {
        "entity_id": "light.hallway_dimmer",
        "state": "on",
        "attributes": {"friendly_name": "Hallway dimmer", "supported_color_modes": ["brightness"], "brightness": 255},
    },
    {"entity_id": "switch.garden_pump", "state": "on", "attributes": {"friendly_name": "Garden pump"}},
    {
        "entity_id": "sensor.outdoor_temperature",
        "state": "11.5",
        "attributes": {"friendly_name": "Outdoor temperature", "unit_of_measurement": "°C"},
    },
    {"entity_id": "light.broken_lamp", "state": "unavailable", "attributes": {"friendly_name": "Broken lamp"}},
]


def make_app(token: str) -> web.Application:
    states = {e["entity_id"]: copy.deepcopy(e) for e in ENTITIES}

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.Response(status=401, text="401: Unauthorized")
        return await handler(request)

    async def root(request: web.Request) -> web.Response:
        return web.json_response({"message": "API running."})

    async def all_states(request: web.Request) -> web.Response:
        return web.json_response(list(states.values()))

    async def one_state(request: web.Request) -> web.Response:
        entity = states.get(request.match_info["entity_id"])
        if entity is None:
            return web.json_response({"message": "Entity not found."}, status=404)
        return web.json_response(entity)

    async def call(request: web.Request) -> web.Response:
        domain, service = request.match_info["domain"], request.match_info["service"]
        data = await request.json()
        entity = states.get(str(data.get("entity_id")))
        if entity is None or not entity["entity_id"].startswith(f"{domain}.") or service not in ("turn_on", "turn_off"):
            return web.json_response({"message": "Service not found."}, status=400)
        attributes = entity["attributes"]
        entity["state"] = "on" if service == "turn_on" else "off"
        if domain == "light":
            if service == "turn_on":
                if "brightness_pct" in data:
                    attributes["brightness"] = round(int(data["brightness_pct"]) * 255 / 100)
                elif not attributes.get("brightness"):
                    attributes["brightness"] = 255
                if "rgb_color" in data:
                    attributes["rgb_color"] = [int(c) for c in data["rgb_color"]]
            else:
                attributes["brightness"] = None
        return web.json_response([entity])

    app = web.Application(middlewares=[auth])
    app.add_routes(
        [
            web.get("/api/", root),
            web.get("/api/states", all_states),
            web.get("/api/states/{entity_id}", one_state),
            web.post("/api/services/{domain}/{service}", call),
        ]
    )
    return app


async def main_async(args: argparse.Namespace) -> None:
    runner = web.AppRunner(make_app(args.token))
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    print(f"listening on {args.host}:{args.port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--token", required=True)
    asyncio.run(main_async(ap.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
