"""Home Assistant as a source of devices, for real over HTTP: a simulated Home Assistant speaking its
documented REST API on a host of its own (a network namespace joined by a veth pair). Its lights and
switches become devices that the same device skill controls by name and by room; the token is kept
in the vault and checked by the CLI before it is saved; a wrong token is a clear message and is never
stored."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from assistant.app.runtime import build_core
from assistant.core.bus import Bus
from assistant.core.config import load_config
from assistant.devices.drivers.home_assistant import TOKEN as HOME_ASSISTANT_TOKEN
from assistant.devices.home_assistant import HomeAssistantSource
from assistant.trust.audit import AuditLog
from assistant.trust.vault import Vault
from testbed.harness import TEMPLATES_ONLY, Recorder, network_isolated
from testbed.netns import other_host

TOKEN = "eyJhbGciOiJIUzI1NiJ9.test-token.for-the-fake"

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not network_isolated(), reason="runs a host in a network namespace: run through scripts/test"),
]


def cli(data_dir: Path, url: str, typed: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TEMPLATES_ONLY, "ASSISTANT__DEVICES__HOME_ASSISTANT_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "assistant", "devices", "home-assistant", "--data-dir", str(data_dir), *args],
        input=typed,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


async def states(url: str) -> dict[str, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async with session.get(f"{url}/api/states") as r:
            return {e["entity_id"]: e for e in await r.json()}


def test_home_assistant_lights_and_switches_are_devices(tmp_path: Path) -> None:
    data = tmp_path / "data"
    argv = [sys.executable, "-m", "testbed.fakes.home_assistant", "--port", "8123", "--token", TOKEN]
    with other_host(argv, 3) as host:
        assert host.process.stdout is not None and "listening" in host.process.stdout.readline()
        url = f"http://{host.address}:8123"

        wrong = cli(data, url, "not-the-token\n")
        assert wrong.returncode != 0 and "refused the token" in wrong.stderr and "Traceback" not in wrong.stderr
        assert "not saved" in wrong.stderr and Vault(data).get(HOME_ASSISTANT_TOKEN) is None, (
            "a refused token was stored"
        )
        bad = cli(data, url, "two words\n")
        assert bad.returncode != 0 and "that is not a token" in bad.stderr
        right = cli(data, url, TOKEN + "\n", "--json")
        assert right.returncode == 0, right.stderr
        listed = {d["name"]: d for d in json.loads(right.stdout)["devices"]}
        assert set(listed) == {"Living room ceiling", "Hallway dimmer", "Garden pump"}, "no sensor, nothing unavailable"
        assert listed["Living room ceiling"]["capabilities"] == ["on_off", "brightness", "colour"]
        assert listed["Garden pump"]["kind"] == "plug" and listed["Living room ceiling"]["room"] == "living room"
        assert cli(data, url, "not-the-token\n").returncode != 0
        assert Vault(data).get(HOME_ASSISTANT_TOKEN) == TOKEN, "a refused token replaced the accepted one"
        saved = [
            (e["action"], e["who"])
            for e in AuditLog(data, Vault(data).derived_key("audit")).entries()
            if e["kind"] == "admin"
        ]
        assert saved == [("home assistant token saved", "cli")]
        stored = [path for path in data.rglob("*") if path.is_file()]
        assert stored, "the vault and the audit log are files in the data folder"
        for path in stored:
            assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path} in plain text"

        config = load_config(
            environ={
                **TEMPLATES_ONLY,
                "ASSISTANT__DEVICES__HOME_ASSISTANT_URL": url,
                "ASSISTANT__DEVICES__DISCOVERY": "false",
            }
        )
        bus = Bus()
        rec = Recorder(bus)

        async def scenario() -> list[str]:
            core = build_core(config, data, bus)
            await core.registry.start_all()
            try:
                assert len(await HomeAssistantSource(core.devices, url).sync()) == 3
                ask = core.dialogue.handle
                return [
                    await ask("turn on the living room ceiling"),
                    await ask("make the living room ceiling blue"),
                    await ask("dim the hallway dimmer to 40 percent"),
                    await ask("turn off the garden pump"),
                    await ask("is the hallway dimmer on"),
                    await ask("turn off the lights in the living room"),
                ]
            finally:
                await core.registry.stop_all()

        replies = asyncio.run(scenario())
        now = asyncio.run(states(url))
    assert replies == [
        "Turned on the living room ceiling.",
        "Made the living room ceiling blue.",
        "Set the hallway dimmer to 40 percent.",
        "Turned off the garden pump.",
        "The hallway dimmer is on, at 40 percent.",
        "Turned off the living room ceiling.",
    ], replies
    assert now["light.living_room_ceiling"]["state"] == "off" and now["light.living_room_ceiling"]["attributes"][
        "rgb_color"
    ] == [0, 0, 255]
    assert (
        now["light.hallway_dimmer"]["attributes"]["brightness"] == 102 and now["switch.garden_pump"]["state"] == "off"
    )
    assert [i.tool for i in rec.of("intent")][:2] == ["device.turn_on", "device.set_colour"]
