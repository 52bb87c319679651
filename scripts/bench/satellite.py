#!/usr/bin/env python
"""A satellite in another room: end of speech at the satellite → first reply audio at the satellite,
and what the network hop adds, against the assistant's own microphone path in the same run.

    unshare -n sh -c 'ip link set lo up; .venv/bin/python scripts/bench/satellite.py [--voices piper,en-us]'

(as root, in a network namespace of its own: the satellite gets a host of its own, joined by a veth
pair, and nothing reaches the real network). Each rendered command ("Hey Jarvis", a pause, the
request) is streamed at real time, 1024 samples a chunk, in three conditions:

  local      through the assistant's own voice loop (its microphone path), as scripts/bench/voice_first.py;
  loopback   from a Wyoming satellite (testbed/fakes/satellite.py) on this host, over 127.0.0.1;
  network    from the same satellite on a host of its own, over a veth pair (10.77.9.0/24).

The figure is the felt latency at the satellite: the moment it sent the last voiced audio (the end of
speech the assistant's VAD found, as a position in the satellite's stream) → the first reply audio
chunk it received, both on the satellite's clock. The wake word is detected at the assistant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import SpeechModels, build_core, load_speech_models  # noqa: E402
from assistant.app.services import wyoming_services  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from scripts.bench.voice_first import COMMANDS, fmt, run_clip  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.harness import Recorder, network_isolated  # noqa: E402
from testbed.netns import other_host  # noqa: E402


@contextlib.contextmanager
def same_host(argv: list[str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_satellite(pcm: np.ndarray, models: SpeechModels, tmp: Path, across: bool) -> float | None:
    tmp.mkdir(parents=True, exist_ok=True)
    wav, out = sf.save(tmp / "sat.wav", pcm), tmp / "sat.json"
    address = "10.77.9.2" if across else "127.0.0.1"
    config = load_config(
        environ={
            "ASSISTANT__WYOMING__SATELLITES": f"{{room: 'tcp://{address}:10700'}}",
            "ASSISTANT__DEVICES__DISCOVERY": "false",
        }
    )
    bus = Bus()
    events = Recorder(bus)
    core = build_core(config, tmp / "data", bus)
    argv = [
        sys.executable,
        "-m",
        "testbed.fakes.satellite",
        "--port",
        "10700",
        "--wav",
        str(wav),
        "--out",
        str(out),
        "--timeout",
        "60",
        *([] if across else ["--host", "127.0.0.1"]),
    ]

    async def scenario() -> None:
        services = await wyoming_services(core, models)
        with other_host(argv, 9) if across else same_host(argv) as host:
            process = host.process if across else host  # type: ignore[union-attr]
            assert process.stdout is not None
            await asyncio.to_thread(process.stdout.readline)  # listening
            for service in services:
                await service.start()
            try:
                await asyncio.to_thread(process.wait, 90)
            finally:
                for service in services:
                    await service.stop()
        await core.scheduler.stop()
        core.media.close()

    asyncio.run(scenario())
    result = json.loads(out.read_text()) if out.exists() else {}
    endpoints = events.of("endpoint")
    if not result.get("first_reply_audio_s") or not endpoints:
        return None
    speech_end = [e for e in events.of("speech_end") if e.audio_t <= endpoints[0].audio_t][-1]
    return float(result["first_reply_audio_s"][0]) - speech_end.audio_t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voices", default="piper,en-us", help="comma-separated: piper and/or espeak-ng voices")
    p.add_argument("--count", type=int, default=len(COMMANDS), help="commands per voice")
    args = p.parse_args()
    if not network_isolated():
        print(
            "run this in a network namespace of its own, as root: "
            "unshare -n sh -c 'ip link set lo up; .venv/bin/python scripts/bench/satellite.py'",
            file=sys.stderr,
        )
        return 2

    print("loading models …", file=sys.stderr)
    models = asyncio.run(load_speech_models(load_config(environ={})))
    clips = [
        (f"{voice}: {text}", sf.command(text, voice=voice))
        for voice in args.voices.split(",")
        for text in COMMANDS[: args.count]
    ]
    results: dict[str, list[float]] = {"local": [], "loopback": [], "network": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run_clip(clips[0][1], models, tmp / "warm-up", None)
        run_satellite(clips[0][1], models, tmp / "warm-up-satellite", False)
        for i, (label, pcm) in enumerate(clips):  # interleaved, so drift falls on every condition alike
            for name in results:
                where = tmp / f"{name}{i}"
                figure = (
                    run_clip(pcm, models, where, None)
                    if name == "local"
                    else run_satellite(pcm, models, where, across=name == "network")
                )
                if figure is None:
                    print(f"  ! {name}: no reply to {label}", file=sys.stderr)
                else:
                    results[name].append(figure)
                    print(f"  {name:<8} {figure:.3f} s  {label}", file=sys.stderr)

    med = statistics.median
    print(f"\n== end of speech → first reply audio, felt (silence timeout included), {len(clips)} commands ==")
    for name, figures in results.items():
        line = f"{name:<9}  {fmt(figures)}"
        if figures and results["local"]:
            line += f"   {med(figures) - med(results['local']):+.3f} s vs local"
        print(line)
    if results["network"] and results["loopback"]:
        print(
            f"\nthe network hop itself (network − loopback): {med(results['network']) - med(results['loopback']):+.3f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
