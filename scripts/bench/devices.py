#!/usr/bin/env python
"""Home devices: announcement → controllable, command → device changed, discovery of 100 devices,
and a spoken command → device changed after the end of speech, on simulated devices that speak the
real local APIs (tests/fakes), inside a network namespace of its own (it re-runs itself in one).

    .venv/bin/python scripts/bench/devices.py [--rounds N]

Baseline in the same run: the same change sent straight to the device with one HTTP request (the
floor any assistant pays), against the assistant's whole path from the typed request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.bus import Bus  # noqa: E402
from assistant.config import load_config  # noqa: E402
from assistant.devices.network import HomeNetwork  # noqa: E402
from assistant.runtime import Core, build_core, load_speech_models  # noqa: E402
from tests import speech_fixtures as sf  # noqa: E402
from tests.conftest import TEMPLATES_ONLY, Recorder, network_isolated  # noqa: E402
from tests.fakes.base import rerun_isolated  # noqa: E402
from tests.fakes.devices import FakeHome  # noqa: E402
from tests.voice import play, voice_loop  # noqa: E402

CONFIG = {**TEMPLATES_ONLY, "ASSISTANT__DEVICES__DISCOVERY": "true", "ASSISTANT__DEVICES__ANNOUNCE": "false",
          "ASSISTANT__DEVICES__INTERFACES": "127.0.0.1"}


def stats(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms, p90 {p90 * 1000:7.1f} ms, max {ordered[-1] * 1000:7.1f} ms (n={len(ordered)})"


async def until(check, timeout_s: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("not within the time allowed")
        await asyncio.sleep(0.002)
    return time.monotonic()


async def main(rounds: int) -> None:
    config = load_config(environ=CONFIG)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bus = Bus()
        rec = Recorder(bus)
        core: Core = build_core(config, tmp / "data", bus)
        await core.registry.start_all()
        network = HomeNetwork(core.devices, config.devices, core.data_dir)
        async with FakeHome() as home:
            await network.start()
            try:
                # 1. announcement → controllable (identified, in the registry, its name in the templates)
                controllable = []
                for i in range(rounds):
                    start = time.monotonic()
                    await home.add("wled", f"Bench light {i + 1}")
                    name = f"bench light {i + 1}"
                    done = await until(lambda: name in core.registry.slot_values().get("device_name", []))
                    controllable.append(done - start)
                print(f"announcement -> controllable, one device at a time: {stats(controllable)}   target <= 1 s")

                # 2. command latency: typed request → the device's state changed; baseline one direct HTTP POST
                strip = home.devices[0]
                ours, direct = [], []
                async with aiohttp.ClientSession() as session:
                    for i in range(rounds):
                        on = i % 2 == 0
                        start = time.monotonic()
                        await core.dialogue.handle(f"turn {'on' if on else 'off'} bench light 1")
                        ours.append(await until(lambda: strip.state["on"] is on) - start)
                        start = time.monotonic()
                        async with session.post(f"http://{strip.host}/json/state", json={"on": not on}) as r:
                            await r.read()
                        direct.append(await until(lambda: strip.state["on"] is (not on)) - start)
                print(f"typed command -> device changed (template path): {stats(ours)}")
                print(f"  baseline, one HTTP request straight to the device: {stats(direct)}")

                # 3. discovery of 100 devices at once
                before = len(core.devices.registry.all())
                start = time.monotonic()
                added = await home.populate(100)
                for bridge in (d for d in added if d.kind == "hue"):
                    bridge.press_link_button()  # type: ignore[attr-defined]
                expected = before + sum(2 if d.kind == "hue" else 1 for d in added)
                try:
                    done = await until(lambda: sum(d.online for d in core.devices.registry.all()) >= expected, 30)
                    print(f"discovery of 100 devices ({expected - before} controllable or listed): all in {done - start:.2f} s")
                except TimeoutError:
                    found = sum(d.online for d in core.devices.registry.all()) - before
                    print(f"discovery of 100 devices: only {found}/{expected - before} within 30 s")
            finally:
                await network.stop()

            # 4. spoken command → device changed, after the end of speech (real models, real-time audio)
            models = await load_speech_models(config)
            spoken = []
            network = HomeNetwork(core.devices, config.devices, core.data_dir)
            await network.start()
            try:
                for i in range(max(3, rounds // 4)):
                    rec.events.clear()
                    on = i % 2 == 0
                    strip.state["on"] = not on
                    changed: list[float] = []

                    async def watch() -> None:
                        while strip.state["on"] is not on:
                            await asyncio.sleep(0.002)
                        changed.append(time.time())

                    watcher = asyncio.create_task(watch())
                    loop = voice_loop(core, models)
                    text = f"Turn {'on' if on else 'off'} bench light one."
                    await play(loop, sf.command(text), models, config, tmp, realtime=True)
                    await asyncio.wait_for(watcher, 5)
                    ends = rec.of("speech_end")
                    offset = min(e.t - e.audio_t for e in rec.events if e.audio_t is not None)
                    spoken.append(changed[0] - (offset + ends[-1].audio_t))  # type: ignore[operator]
                print(f"spoken command -> device changed, after the end of speech: {stats(spoken)}   target <= 1 s")
            finally:
                await network.stop()
        await core.registry.stop_all()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    if not network_isolated():
        rerun_isolated([sys.executable, *sys.argv])
    asyncio.run(main(args.rounds))
