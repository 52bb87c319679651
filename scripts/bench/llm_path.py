#!/usr/bin/env python
"""End of speech → first reply audio when the templates do not understand: the LLM plans the request,
or nothing understands it and the reply says so.

    .venv/bin/python scripts/bench/llm_path.py [--voices piper,en-us] [--baseline REV] [--json FILE]

The requests are the held-out set in llm_path_set.yaml (written for this benchmark only). Each is
rendered ("Hey Jarvis", a pause, the request) and fed through the assistant's voice loop as fast as
the CPU allows, on one warm core whose LLM is loaded, as `assistant run` has it after start. The
figure is `tts_start.t − speech_end.t` (the end of the last voiced audio, as the voice loop saw it),
split into its stages: speech-to-text, understanding (transcript → intent or no_intent), acting,
and the first sentence's synthesis.

Targets (issue 27): planned by the LLM ≤ 1.2 s median, nothing understood ≤ 0.8 s median; the planned
requests' accuracy may not fall. With `--baseline REV` that revision's code runs the same set first,
from a git worktree, in the same run (this script, its `assistant` and `testbed`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SET = HERE / "llm_path_set.yaml"
STAGES = ("latency", "stt", "understand", "act", "tts_first")


def _tree_from_args() -> Path:
    """The code measured: this checkout, or `--tree` (a baseline's worktree), put first on the path."""
    if "--tree" in sys.argv:
        return Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()
    return ROOT


TREE = _tree_from_args()
sys.path.insert(0, str(TREE))

from assistant.app.runtime import build_core, load_speech_models  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.devices.model import BRIGHTNESS, COLOUR, ON_OFF, POWER, Found  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.harness import Recorder  # noqa: E402
from testbed.voice import play, voice_loop  # noqa: E402


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, str) and isinstance(got, str):
        return sf.words(expected) == sf.words(got)
    return bool(expected == got)


async def measure(voices: list[str]) -> dict[str, Any]:
    data = yaml.safe_load(SET.read_text())
    config = load_config(environ={})
    models = await load_speech_models(config)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bus = Bus()
        recorder = Recorder(bus)
        core = build_core(config, tmp / "data", bus)
        # The devices are in the registry, at a closed port on loopback: a command to one fails at once.
        for i, name in enumerate(data["live"]["device_name"]):
            caps = (ON_OFF, BRIGHTNESS, COLOUR, POWER)
            device, _ = core.devices.registry.seen(
                Found(f"bench:{i}", name, "wled", "light", "bench", caps, "127.0.0.1", 9)
            )
            room = next((r for r in data["live"]["room_name"] if name.startswith(r)), None)
            if room:
                core.devices.registry.set_room(device.id, room)
        assert core.planner is not None, "the planner is disabled in the config"
        start = time.perf_counter()
        core.dialogue.router.matcher.warm_up()
        await core.planner.load()
        print(f"  planner and templates ready in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        prepare = getattr(models.synthesizer, "prepare", None)
        if prepare is not None:  # what `assistant run` does after start (a baseline may predate it)
            from assistant.app.services import PREPARED_REPLIES

            prepare(PREPARED_REPLIES)
        sets = {
            "planned": [(t, tool, args or {}) for t, tool, args in data["planned"]],
            "unknown": [(t, None, {}) for t in data["unknown"]],
        }
        # One clip first, not counted: the first pass through each model pays for its caches.
        await play(voice_loop(core, models), sf.command("what time is it", voices[0]), models, config, tmp)
        by_path: dict[str, dict[str, list[float]]] = {}
        for label, items in sets.items():
            right = tool_right = n = 0
            # Each voice says the whole set in turn: the same words twice in a row would find the
            # request's tokens already in the LLM's KV cache, which a household's next request does not.
            for voice, (text, tool, args) in itertools.product(voices, items):
                for timer in core.scheduler.timers():
                    core.scheduler.cancel(timer.id)
                for name in data["live"]["timer_name"]:
                    core.scheduler.add_timer(3600, name)
                core.dialogue.forget()
                recorder.events.clear()
                await play(voice_loop(core, models), sf.command(text, voice), models, config, tmp)
                ev = recorder
                if not ev.of("tts_start") or not ev.of("endpoint") or not ev.of("transcript"):
                    print(f"  ! no reply for {voice}: {text!r}: {ev.types()}", file=sys.stderr)
                    continue
                endpoint = ev.of("endpoint")[0]
                speech_end = [e for e in ev.of("speech_end") if e.audio_t <= endpoint.audio_t][-1]  # type: ignore[attr-defined]
                transcript = ev.of("transcript")[0]
                decided = (ev.of("intent") + ev.of("no_intent") + ev.of("question"))[0]
                tts = ev.of("tts_start")[0]
                intents = ev.of("intent")
                path = intents[0].source if intents else {"no_intent": "nothing"}.get(decided.type, decided.type)  # type: ignore[attr-defined]
                figures = by_path.setdefault(path, {k: [] for k in STAGES})
                figures["latency"].append(tts.t - speech_end.t)
                figures["stt"].append(transcript.stt_s)  # type: ignore[attr-defined]
                figures["understand"].append(decided.t - transcript.t)
                if ev.of("tool_result"):
                    figures["act"].append(ev.of("tool_result")[0].t - decided.t)
                figures["tts_first"].append(tts.synth_s)  # type: ignore[attr-defined]
                got_tool = intents[0].tool if intents else None  # type: ignore[attr-defined]
                got_args = dict(intents[0].args) if intents else {}  # type: ignore[attr-defined]
                ok_tool = got_tool == tool if tool else not ev.of("tool_result")
                # An argument is right as the intent holds it or as the tool read it (a reminder's
                # "call the dentist tomorrow" at "ten" is the text "call the dentist" tomorrow at 10).
                done = dict(ev.of("tool_result")[0].data) if ev.of("tool_result") else {}  # type: ignore[attr-defined]
                ok = ok_tool and all(
                    k == "when" and k in got_args or _same(v, got_args.get(k)) or _same(v, done.get(k))
                    for k, v in args.items()
                )
                n += 1
                tool_right += ok_tool
                right += ok
                heard = transcript.text  # type: ignore[attr-defined]
                print(
                    f"  {label:8s} {tts.t - speech_end.t:5.2f} s  {path:10s} {'ok ' if ok else 'BAD'} "
                    f"{voice}: {text!r} heard {heard!r} -> {got_tool} {got_args}",
                    file=sys.stderr,
                )
            out[label] = {"n": n, "right": right, "tool_right": tool_right}
        out["paths"] = {
            path: {
                "n": len(figures["latency"]),
                **{k: round(statistics.median(v), 3) if v else None for k, v in figures.items()},
                "latency_p90": round(float(np.percentile(figures["latency"], 90)), 3),
            }
            for path, figures in by_path.items()
        }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voices", default="piper,en-us", help="comma-separated: piper and/or espeak-ng voices")
    p.add_argument("--baseline", metavar="REV", help="a revision to measure first, in the same run")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    voices = args.voices.split(",")
    results: dict[str, dict[str, Any]] = {}
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp_name:
            base = Path(tmp_name) / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", str(base), args.baseline], cwd=ROOT, check=True)
            try:
                figures = Path(tmp_name) / "baseline.json"
                env = {**os.environ, "PYTHONPATH": str(base)}
                cmd = [sys.executable, __file__, "--tree", str(base), "--voices", args.voices, "--json", str(figures)]
                print(f"baseline {args.baseline} …", file=sys.stderr)
                subprocess.run(cmd, cwd=base, env=env, check=True)
                results[f"baseline {args.baseline}"] = json.loads(figures.read_text())["this tree"]
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
                shutil.rmtree(base, ignore_errors=True)
    print("this tree …", file=sys.stderr)
    results["this tree"] = asyncio.run(measure(voices))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.tree:
        return 0
    targets = {
        "llm": ("planned by the LLM", 1.2),
        "nothing": ("nothing understood", 0.8),
        "template": ("by the templates", None),
    }
    for path, (what, target) in targets.items():
        print(
            f"\n== {what}: end of speech → first reply audio (medians{f'; target ≤ {target} s' if target else ''}) =="
        )
        for name, figures in results.items():
            f = figures["paths"].get(path)
            if f is None:
                print(f"{name:24s} none")
                continue
            stages = ", ".join(f"{k} {f[k]}" for k in STAGES[1:])
            print(f"{name:24s} median {f['latency']} s, p90 {f['latency_p90']} s  (n={f['n']}; {stages})")
        now = results["this tree"]["paths"].get(path, {}).get("latency")
        if target:
            print(f"target ≤ {target} s: {'met' if now is not None and now <= target else 'not met'} ({now} s)")
    print("\n== right outcomes (a planned request: its tool and arguments; an unknown one: nothing done) ==")
    for name, figures in results.items():
        print(
            f"{name:24s} planned {figures['planned']['right']}/{figures['planned']['n']} "
            f"(tool {figures['planned']['tool_right']}), unknown {figures['unknown']['right']}/{figures['unknown']['n']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
