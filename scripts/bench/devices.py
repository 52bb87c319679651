#!/usr/bin/env python
"""Home devices: announcement → controllable, command → device changed, discovery of 100 devices,
and a spoken command → device changed after the end of speech, on simulated devices that speak the
real local APIs (testbed/fakes), inside a network namespace of its own (it re-runs itself in one).

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
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import Core, build_core, load_speech_models  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.devices.network import HomeNetwork  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.fakes.base import rerun_isolated  # noqa: E402
from testbed.fakes.devices import FakeHome  # noqa: E402
from testbed.harness import TEMPLATES_ONLY, Recorder, network_isolated  # noqa: E402
from testbed.voice import play, voice_loop  # noqa: E402

CONFIG = {
    **TEMPLATES_ONLY,
    "ASSISTANT__DEVICES__DISCOVERY": "true",
    "ASSISTANT__DEVICES__ANNOUNCE": "false",
    "ASSISTANT__DEVICES__INTERFACES": "127.0.0.1",
}


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


def last_audible_s(pcm: np.ndarray) -> float:
    """Where the speech in a recording ends: its last sample above -40 dBFS."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 328)
    return float(loud[-1] + 1) / 16000


def stages_of(rec: Recorder, end: float, changed: float) -> dict[str, float]:
    """Where the time after the end of speech went, from the events' wall-clock times."""
    last_end = max(i for i, e in enumerate(rec.events) if e.type == "speech_end")
    after = rec.events[last_end:]

    def first(type_: str) -> float:
        return next(e.t for e in after if e.type == type_)

    marks = {
        "end of speech -> silence seen (VAD)": first("speech_end"),
        "  -> transcript ready (speech-to-text)": first("transcript"),
        "  -> request understood (intent)": first("intent"),
        "  -> device changed": changed,
    }
    out, last = {}, end
    for stage, t in marks.items():
        out[stage] = t - last
        last = t
    out["  (of which speech-to-text itself)"] = next(e.stt_s for e in after if e.type == "transcript")  # type: ignore[attr-defined]
    return out


async def main(rounds: int, spoken_rounds: int) -> None:
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
                    done = await until(lambda name=name: name in core.registry.slot_values().get("device_name", []))
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
                        ours.append(await until(lambda on=on: strip.state["on"] is on) - start)
                        start = time.monotonic()
                        async with session.post(f"http://{strip.host}/json/state", json={"on": not on}) as r:
                            await r.read()
                        direct.append(await until(lambda on=on: strip.state["on"] is (not on)) - start)
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
                    print(
                        f"discovery of 100 devices ({expected - before} controllable or listed): all in {done - start:.2f} s"
                    )
                except TimeoutError:
                    found = sum(d.online for d in core.devices.registry.all()) - before
                    print(f"discovery of 100 devices: only {found}/{expected - before} within 30 s")
            finally:
                await network.stop()

            # 4. spoken command → device changed, after the end of speech (real models, real-time audio)
            models = await load_speech_models(config)
            spoken: list[float] = []
            stages: dict[str, list[float]] = {}
            network = HomeNetwork(core.devices, config.devices, core.data_dir)
            await network.start()
            try:
                for i in range(spoken_rounds):
                    rec.events.clear()
                    on = i % 2 == 0
                    strip.state["on"] = not on
                    changed: list[float] = []

                    async def watch(on: bool = on, changed: list[float] = changed) -> None:
                        while strip.state["on"] is not on:
                            await asyncio.sleep(0.002)
                        changed.append(time.time())

                    watcher = asyncio.create_task(watch())
                    loop = voice_loop(core, models)
                    text = f"Turn {'on' if on else 'off'} bench light one."
                    pcm = sf.command(text)
                    await play(loop, pcm, models, config, tmp, realtime=True)
                    try:
                        await asyncio.wait_for(watcher, 5)
                    except TimeoutError:
                        heard = [getattr(e, "text", "") for e in rec.of("transcript")]
                        did = [
                            (e.type, e.to_dict())
                            for e in rec.events
                            if e.type in ("intent", "tool_result", "reply", "error")
                        ]
                        print(f"  round {i + 1}: the light did not change; heard {heard}; {did}")
                        continue
                    # The end of speech is the last audible sample of the recording (not the VAD's verdict,
                    # which comes later); the file's first block is "spoken" from the moment of `ready`.
                    end = rec.of("ready")[0].t + last_audible_s(pcm)
                    spoken.append(changed[0] - end)
                    heard = [getattr(e, "text", "") for e in rec.of("transcript")]
                    print(f"  round {i + 1}: {spoken[-1] * 1000:5.0f} ms, heard {heard}")
                    for stage, t in stages_of(rec, end, changed[0]).items():
                        stages.setdefault(stage, []).append(t)
                print(
                    f"spoken command -> device changed, after the end of speech: {stats(spoken)}   target <= 1 s;"
                    f" {len(spoken)}/{spoken_rounds} rounds changed the light"
                )
                for stage, values in stages.items():
                    print(f"  {stage:<44} median {statistics.median(values) * 1000:7.1f} ms")
            finally:
                await network.stop()
        await core.registry.stop_all()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--spoken", type=int, default=10, help="rounds of the spoken command (real-time audio, ~9 s each)")
    args = ap.parse_args()
    if not network_isolated():
        rerun_isolated([sys.executable, *sys.argv])
    asyncio.run(main(args.rounds, args.spoken))
