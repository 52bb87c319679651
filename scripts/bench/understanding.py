#!/usr/bin/env python
"""How well and how fast requests become the right tool call: templates, the LLM planner, and both.

    .venv/bin/python scripts/bench/understanding.py [--speech N] [--no-baseline] [--no-text] [--show-wrong]

Text: every command in understanding_commands.yaml (150+) through the router as the assistant uses
it (exact template → fuzzy template → LLM planner), scored on the exact tool and arguments.
Baselines in the same run: exact templates alone (the issue-2 router) and the LLM alone.
Speech: N requests (default 40): N/4 commands picked evenly over the whole set, each rendered with
Piper and three espeak-ng voices, every third with noise at 10 dB SNR, "Hey Jarvis" first, through the whole voice loop (wake word, VAD,
faster-whisper, router, tools), scored on the intent event.
Open questions: the file's `open_questions` through the whole dialogue, with a day's plan set up;
how often the LLM-worded reply passes its check, how long the wording takes, and how often a kept
reply begins with the wrong yes or no.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import Core, build_core, load_speech_models  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.core.errors import AssistantError  # noqa: E402
from assistant.devices.model import BRIGHTNESS, COLOUR, ON_OFF, POWER, Found  # noqa: E402
from assistant.language.spoken_time import TimeNotUnderstood, parse_when  # noqa: E402
from assistant.media.albums import Selection  # noqa: E402
from assistant.media.when import date_range  # noqa: E402
from assistant.plugins.api import ToolCall  # noqa: E402
from assistant.understanding.prompt import PlanContext  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.harness import Recorder  # noqa: E402
from testbed.voice import play, voice_loop  # noqa: E402

COMMANDS = Path(__file__).with_name("understanding_commands.yaml")
VOICES = ("piper", *sf.ESPEAK_VOICES)


@dataclass
class Outcome:
    text: str
    expected: tuple[str, dict[str, Any]]
    got: tuple[str, dict[str, Any]]
    path: str
    """"template" (exact or fuzzy), "llm" or "none"."""
    seconds: float

    @property
    def right(self) -> bool:
        return self.expected == self.got


NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
"""The moment spoken times are read against, so "7 am tomorrow" and "tomorrow at 7" compare equal."""


def _normal(core: Core, call: ToolCall | None) -> tuple[str, dict[str, Any]]:
    if call is None:
        return "none", {}
    try:
        args = core.registry.tool(call.tool).validate({k: v for k, v in call.args.items() if v is not None})
    except Exception:
        args = dict(call.args)
    return call.tool, _canonical(core, args)


def canonical_text(text: str) -> str:
    """A reminder's words as compared: lower case, no punctuation, no leading "to"."""
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split()).removeprefix("to ")


def _canonical(core: Core, args: dict[str, Any]) -> dict[str, Any]:
    out = dict(args)
    if isinstance(out.get("when"), str):
        try:
            when = parse_when(out["when"], NOW, ZoneInfo("UTC"))
            out["when"] = when.recurrence or when.at
        except TimeNotUnderstood:
            pass
    if isinstance(out.get("text"), str):
        out["text"] = canonical_text(out["text"])
    if isinstance(out.get("name"), str):
        name = out["name"].lower().strip()
        out["name"] = core.routines.phrases().get(name, name)
    return out


def _stats(seconds: list[float]) -> str:
    if not seconds:
        return "n/a"
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms, p90 {p90 * 1000:7.1f} ms (n={len(ordered)})"


def _accuracy(outcomes: list[Outcome]) -> str:
    if not outcomes:
        return "n/a"
    right = sum(o.right for o in outcomes)
    return f"{right}/{len(outcomes)} = {100 * right / len(outcomes):5.1f} %"


async def text_bench(core: Core, commands: list[Any], live: dict[str, list[str]]) -> list[Outcome]:
    router = core.dialogue.router
    out = []
    for text, tool, args in commands:
        start = time.perf_counter()
        call = router.match_templates(text, live)
        path = "template"
        if call is None and router.planner is not None:
            call = await _plan(core, text, live)
            path = "llm"
        seconds = time.perf_counter() - start
        out.append(Outcome(text, (tool, _canonical(core, args or {})), _normal(core, call), path, seconds))
    return out


async def baseline_exact(core: Core, commands: list[Any], live: dict[str, list[str]]) -> list[Outcome]:
    out = []
    for text, tool, args in commands:
        start = time.perf_counter()
        call = core.dialogue.router.matcher.match(text, live)
        out.append(
            Outcome(
                text, (tool, _canonical(core, args or {})), _normal(core, call), "template", time.perf_counter() - start
            )
        )
    return out


async def baseline_llm(core: Core, commands: list[Any], live: dict[str, list[str]]) -> list[Outcome]:
    assert core.planner is not None
    out = []
    for text, tool, args in commands:
        start = time.perf_counter()
        call = await _plan(core, text, live)
        out.append(
            Outcome(text, (tool, _canonical(core, args or {})), _normal(core, call), "llm", time.perf_counter() - start)
        )
    return out


async def _plan(core: Core, text: str, live: dict[str, list[str]]) -> ToolCall | None:
    assert core.planner is not None
    try:
        return await core.planner.plan(text, PlanContext(live=live))
    except AssistantError as e:  # counted as no call, as the assistant answers it
        print(f"  planner error on {text!r}: {e.message}")
        return None


def _index_bench_media(core: Core, live: dict[str, list[str]]) -> None:
    """The music and the photo album the commands name, as index rows (no files: the voice loop's
    live names come from the index, and nothing the bench says must play or move a real file)."""
    music = [
        {
            "path": f"/bench/music/{i}.mp3",
            "root": "/bench",
            "folder": "music",
            "kind": "music",
            "size": 1,
            "mtime_ns": 0,
            "inode": i,
            "title": f"track {i}",
            "artist": artist,
            "album": album,
            "genre": genre,
        }
        for i, (album, artist, genre) in enumerate(
            zip(live["music_album"], live["artist_name"], live["genre_name"], strict=False)
        )
    ]
    summer = date_range("last summer", core.media.albums.today())
    assert summer is not None
    taken = f"{summer.start.isoformat()}T12:00:00"
    photos = [
        {
            "path": f"/bench/photos/{i}.jpg",
            "root": "/bench",
            "folder": "photos",
            "kind": "photo",
            "size": 1,
            "mtime_ns": 0,
            "inode": 100 + i,
            "taken": taken,
        }
        for i in range(3)
    ]
    core.media.catalogue.upsert(music + photos)
    for name in live["album_name"]:
        core.media.albums.create(name, Selection(when="last summer"))


def _reset_timers(core: Core, names: list[str]) -> None:
    for timer in core.scheduler.timers():
        core.scheduler.cancel(timer.id)
    for name in names:
        core.scheduler.add_timer(3600, name)


async def speech_bench(
    core: Core, commands: list[Any], live: dict[str, list[str]], n: int, tmp: Path
) -> list[tuple[str, Outcome]]:
    """(voice label, outcome) per spoken request; an outcome's seconds are the router's, from the
    transcript to the tool call."""
    models = await load_speech_models(core.config)
    recorder = Recorder(core.bus)
    router = core.dialogue.router
    route = router.route
    routed: list[float] = []

    async def timed_route(*args: Any, **kwargs: Any) -> ToolCall | None:
        start = time.perf_counter()
        try:
            return await route(*args, **kwargs)
        finally:
            routed.append(time.perf_counter() - start)

    router.route = timed_route  # type: ignore[method-assign]
    count = min(len(commands), max(1, n // len(VOICES)))
    chosen = [commands[i * len(commands) // count] for i in range(count)]  # evenly over every skill
    out = []
    for i, (text, tool, args) in enumerate(chosen):
        for j, voice in enumerate(VOICES):
            _reset_timers(core, live.get("timer_name", []))
            core.dialogue.forget()
            pcm = sf.command(text, voice)
            noisy = (i * len(VOICES) + j) % 3 == 0
            if noisy:
                pcm = sf.with_noise(pcm, 10.0, seed=i * 7 + j)
            recorder.events.clear()
            routed.clear()
            await play(voice_loop(core, models), pcm, models, core.config, tmp)
            intents = recorder.of("intent")
            heard = [e.text for e in recorder.of("transcript")]  # type: ignore[attr-defined]
            got = (intents[0].tool, dict(intents[0].args)) if intents else ("none", {})  # type: ignore[attr-defined]
            path = intents[0].source if intents else "none"  # type: ignore[attr-defined]
            reading = intents[0].text if intents and intents[0].text not in heard else ""  # type: ignore[attr-defined]
            if not heard:  # say which stage lost it
                heard = ["(no wake word)"] if not recorder.of("wake") else [f"({', '.join(recorder.types()[-3:])})"]
            out.append(
                (
                    voice + (" + noise" if noisy else ""),
                    Outcome(
                        f"{text} | heard {heard}" + (f", understood {reading!r}" if reading else ""),
                        (tool, _canonical(core, args or {})),
                        (got[0], _canonical(core, got[1])),
                        path,
                        routed[0] if routed else 0.0,
                    ),
                )
            )
    router.route = route  # type: ignore[method-assign]
    return out


async def open_question_bench(core: Core, questions: list[Any]) -> None:
    """Replies to open questions worded by the LLM (issue 3, item 7), with the day's plan set up."""
    rec = Recorder(core.bus)
    scheduler = core.scheduler
    tomorrow = scheduler.local_now().date() + dt.timedelta(days=1)
    at = lambda h, m: dt.datetime.combine(tomorrow, dt.time(h, m), tzinfo=scheduler.zone).timestamp()  # noqa: E731
    made = [scheduler.add_alarm(at(6, 30)), scheduler.add_reminder("call mum", at(9, 0))]
    # Measured with the wording on, whatever the config's `auto` chose; its prompt warmed first.
    core.dialogue.phrase_timeout_s = core.config.understanding.phrase_timeout_s
    assert core.planner is not None
    await core.planner.phrase("is it late", "It is 9 PM.", 30)
    kept, wording, wrong_verdict, tool_right = 0, [], 0, 0
    print(f"\nOPEN QUESTIONS: {len(questions)}, worded by the LLM from agenda.day's result, checked against it")
    for question, verdict in questions:
        core.dialogue.forget()
        seen = len(rec.events)
        start = time.perf_counter()
        reply = await core.dialogue.handle(question)
        took = time.perf_counter() - start
        results = [e for e in rec.events[seen:] if e.type == "tool_result"]
        tool_right += bool(results) and results[-1].tool == "agenda.day"  # type: ignore[attr-defined]
        phrased = rec.of("reply")[-1].phrased  # type: ignore[attr-defined]
        if phrased:
            kept += 1
            wording.append(rec.of("reply")[-1].t - results[-1].t if results else took)
            first = reply.split()[0].lower().strip(",.!") if reply.split() else ""
            if verdict != "-" and first in ("yes", "no") and first != verdict:
                wrong_verdict += 1
        print(f"  {'LLM ' if phrased else 'tool'} {took:4.1f} s  {question!r} -> {reply!r}")
    for item in made:
        scheduler.cancel(item.id)
    n = len(questions)
    print(
        f"  right tool: {tool_right}/{n}; LLM wording kept: {kept}/{n} = {100 * kept / n:.0f} % "
        f"(the rest: the tool's own reply); wording {_stats(wording) if wording else 'n/a'}; "
        f"kept replies beginning with the wrong yes/no: {wrong_verdict}"
    )


def _report(title: str, outcomes: list[Outcome]) -> None:
    print(f"\n{title}")
    print(f"  accuracy (exact tool and arguments): {_accuracy(outcomes)}")
    for path in ("template", "llm"):
        part = [o for o in outcomes if o.path == path]
        if part:
            print(
                f"  {path:8s} path: {len(part):3d} requests, accuracy {_accuracy(part)}, {_stats([o.seconds for o in part])}"
            )
    print(f"  both together: {_stats([o.seconds for o in outcomes])}")


async def text_benches(core: Core, data: dict[str, Any], live: dict[str, list[str]], args: argparse.Namespace) -> None:
    commands = data["commands"]
    outcomes = await text_bench(core, commands, live)
    share = sum(o.path == "template" for o in outcomes) / len(outcomes)
    _report(f"TEXT, templates then LLM (the assistant): {len(outcomes)} commands", outcomes)
    print(f"  share the templates handle: {100 * share:.1f} %")
    _report("BASELINE: exact templates only (issue 2)", await baseline_exact(core, commands, live))
    if not args.no_baseline:
        _report("BASELINE: LLM only", await baseline_llm(core, commands, live))
    if args.show_wrong:
        for o in outcomes:
            if not o.right:
                print(f"  WRONG [{o.path}] {o.text!r}: expected {o.expected}, got {o.got}")
    if data.get("open_questions"):
        await open_question_bench(core, data["open_questions"])


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speech", type=int, default=40, help="spoken requests to run (0: text only)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the LLM-only baseline (saves minutes)")
    ap.add_argument("--no-text", action="store_true", help="skip the text set and its baselines (speech only)")
    ap.add_argument("--show-wrong", action="store_true")
    args = ap.parse_args()

    data = yaml.safe_load(COMMANDS.read_text())
    commands = data["commands"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bus = Bus()
        core = build_core(load_config(), tmp / "data", bus)
        # The bench's devices are in the registry (for the voice loop's live names), at a closed port
        # on loopback, so a command to one fails at once instead of reaching anything.
        for i, name in enumerate(data["live"].get("device_name", [])):
            room = next((r for r in data["live"].get("room_name", []) if name.startswith(r)), None)
            device, _ = core.devices.registry.seen(
                Found(f"bench:{i}", name, "wled", "light", "bench", (ON_OFF, BRIGHTNESS, COLOUR, POWER), "127.0.0.1", 9)
            )
            if room:
                core.devices.registry.set_room(device.id, room)
        core.devices.registry.set_room("porch light", "living room")  # so a living room exists for speech
        _index_bench_media(core, data["live"])
        live = {**core.registry.slot_values(), **data["live"]}
        start = time.perf_counter()
        core.dialogue.router.matcher.warm_up()
        assert core.planner is not None, "the planner is disabled in the config"
        await core.planner.load()
        print(
            f"warm-up: templates and planner ready in {time.perf_counter() - start:.1f} s "
            f"(planner {core.planner.warm_s:.1f} s)"
        )
        if not args.no_text:
            await text_benches(core, data, live, args)
        if args.speech:
            spoken = await speech_bench(core, commands, live, args.speech, tmp)
            _report(
                f"SPEECH through the voice loop: {len(spoken)} requests ({', '.join(VOICES)}; every third with noise)",
                [o for _, o in spoken],
            )
            for voice in VOICES:
                part = [o for v, o in spoken if v.removesuffix(" + noise") == voice]
                print(f"  {voice:10s} {_accuracy(part)}")
            if args.show_wrong:
                for voice, o in spoken:
                    if not o.right:
                        print(f"  WRONG [{voice}, {o.path}] {o.text!r}: expected {o.expected}, got {o.got}")


if __name__ == "__main__":
    asyncio.run(main())
