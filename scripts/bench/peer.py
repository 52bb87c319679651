#!/usr/bin/env python
"""End of speech → first reply audio: ours against Home Assistant's Wyoming stack, same clips, same run.

    .venv/bin/python scripts/bench/peer.py [--voices piper] [--rounds 2] [--realtime N] [--peer-beam 0]
    ASSISTANT__STT__CLOSED_VOCABULARY=false .venv/bin/python scripts/bench/peer.py   # try a setting of ours

The peer is what Home Assistant runs for a local voice pipeline: wyoming-faster-whisper and
wyoming-piper, each its own server on loopback, with the SAME tiny.en and the SAME Piper voice the
assistant loads (the packaged files, no download). It is installed on first run only, into
.venv-peer (git-ignored), pinned; the engines under it (ctranslate2, faster-whisper, piper-tts,
onnxruntime) are pinned to the versions in our .venv, so the two sides differ only in their pipeline.

What the peer is timed on, per clip, is what Home Assistant's assist pipeline does at end of speech:
the command (from the wake word to the end of speech, plus the 0.7 s of silence its default VAD waits
for) has already been streamed to the STT server as AudioChunks; the clock starts when AudioStop is
sent, runs through the Transcript, a template match, a new connection to the TTS server with
Synthesize, and stops at the first AudioChunk. Understanding: Home Assistant would run hassil on its
own sentence templates; here the assistant's own template matcher (the same hassil-syntax sentences)
is run on the peer's transcript, in this process, and the reply text is the one our assistant spoke
for the same clip, so both sides synthesize the same words.

Ours, on the same clips and in the same run, clip by clip seconds apart from the peer: the voice loop
on the file as fast as the CPU allows (the `speech_end` event → the `tts_start` event, as
scripts/bench/latency.py), and paced at real time (`--realtime`): last voiced audio → first reply
audio on the wall clock, the silence timeout included (after the file-mode clips, on their own).

Targets (issue 23): ours ≤ peer (medians, processing) and felt ≤ 0.6 s median.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from wyoming.asr import Transcribe, Transcript  # noqa: E402
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.tts import Synthesize  # noqa: E402

from assistant.app.runtime import build_core, load_speech_models  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.core.models import resolve_piper_voice, resolve_whisper  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.harness import Recorder  # noqa: E402
from testbed.voice import play, voice_loop  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from latency import fmt, pct  # noqa: E402  (the same medians and p90s as the other latency bench)

PEER_VENV = ROOT / ".venv-peer"
PEER_PINS = ["wyoming-faster-whisper==3.8.1", "wyoming-piper==2.5.2"]
SAME_ENGINES = ["ctranslate2", "faster-whisper", "piper-tts", "onnxruntime", "numpy"]
"""Pinned in the peer's virtualenv to the versions installed in ours."""

HA_VAD_SILENCE_S = 0.7
"""Home Assistant's default VAD sensitivity: this much silence ends a command (assist_pipeline/vad.py)."""
CHUNK = 1024
"""Samples per AudioChunk (64 ms), as a satellite streams them."""

COMMANDS = [
    "What time is it?",
    "Set a pasta timer for ten minutes.",
    "What's the time?",
    "What's the date today?",
    "Set a timer for five minutes.",
    "How much time is left on my timer?",
    "What day is it?",
    "Set a timer for two minutes and thirty seconds.",
    "Set a pasta timer for twelve minutes.",
    "Cancel the timer.",
]


@dataclass
class Figures:
    ours: list[float] = field(default_factory=list)
    felt: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)
    peer_stt: list[float] = field(default_factory=list)
    peer_match: list[float] = field(default_factory=list)
    peer_tts: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    heard: list[tuple[str, str, str, bool]] = field(default_factory=list)
    """(said, we heard, the peer heard, the peer's transcript matched a template)."""
    skipped: list[str] = field(default_factory=list)

    def stage(self, name: str, value: float) -> None:
        self.stages.setdefault(name, []).append(value)


# --- the peer's virtualenv and servers --------------------------------------------------------


def peer_requirements() -> list[str]:
    return PEER_PINS + [f"{name}=={importlib.metadata.version(name)}" for name in SAME_ENGINES]


def ensure_peer_venv() -> Path:
    """Create .venv-peer and install the pinned peer into it, unless it already holds exactly that."""
    wanted = "\n".join(peer_requirements()) + "\n"
    stamp = PEER_VENV / "bench-pins.txt"
    if stamp.exists() and stamp.read_text() == wanted:
        return PEER_VENV
    print(f"installing the peer into {PEER_VENV} (first run only) …", file=sys.stderr)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    pip = [str(PEER_VENV / "bin/python"), "-m", "pip", "install", "--quiet"]
    proc = subprocess.run(pip + peer_requirements(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the peer could not be installed ({' '.join(peer_requirements())}):\n{proc.stderr[-3000:]}")
    stamp.write_text(wanted)
    return PEER_VENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_servers(venv: Path, tmp: Path, threads: int, beam: int) -> tuple[Server, Server]:
    """Both peer servers on loopback, on our model files, with every download switched off."""
    whisper = resolve_whisper("tiny.en", None, allow_network=False).path
    voice = resolve_piper_voice("en_US-joe-medium").path
    # No network for them either way: HF_HUB_OFFLINE makes any hub call fail at once.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    commands = {
        "stt": [
            str(venv / "bin/wyoming-faster-whisper"),
            "--model",
            str(whisper),
            "--data-dir",
            str(tmp / "whisper"),
            "--language",
            "en",
            "--compute-type",
            "int8",
            "--cpu-threads",
            str(threads),
            "--beam-size",
            str(beam),
            "--local-files-only",
        ],
        # A voice given as a path is a custom voice: never looked up in (or fetched from) the catalog.
        "tts": [
            str(venv / "bin/wyoming-piper"),
            "--voice",
            str(voice),
            "--data-dir",
            str(tmp / "piper"),
            "--local-files-only",
        ],
    }
    servers = []
    for name, command in commands.items():
        port = free_port()
        (tmp / name.replace("stt", "whisper").replace("tts", "piper")).mkdir(exist_ok=True)
        log = tmp / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(command + ["--uri", f"tcp://127.0.0.1:{port}"], stdout=out, stderr=out, env=env)
        servers.append(Server(name, port, proc, log))
    return servers[0], servers[1]


async def describe(port: int) -> Info | None:
    try:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            event = await asyncio.wait_for(client.read_event(), 5)
    except (TimeoutError, OSError):
        return None
    return Info.from_event(event) if event is not None and Info.is_type(event.type) else None


def wait_ready(server: Server, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"the peer's {server.name} server exited:\n{server.log.read_text()[-3000:]}")
        if asyncio.run(describe(server.port)) is not None:
            return
        time.sleep(0.5)
    raise SystemExit(
        f"the peer's {server.name} server did not answer in {timeout_s:.0f} s:\n{server.log.read_text()[-3000:]}"
    )


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# --- one request through the peer -----------------------------------------------------------


async def peer_request(stt_port: int, tts_port: int, pcm: np.ndarray, reply: str, understands) -> dict:  # type: ignore[no-untyped-def]
    """What Home Assistant does at end of speech; times from AudioStop to the first reply AudioChunk."""
    async with AsyncTcpClient("127.0.0.1", stt_port) as stt:
        await stt.write_event(Transcribe(language="en").event())
        await stt.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        for i in range(0, len(pcm), CHUNK):
            await stt.write_event(
                AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i : i + CHUNK].tobytes()).event()
            )
        await asyncio.sleep(0.3)  # streamed live, every chunk is in the server before speech ends
        began = time.perf_counter()
        await stt.write_event(AudioStop().event())
        while True:
            event = await stt.read_event()
            if event is None:
                raise RuntimeError("the STT server closed the connection without a transcript")
            if Transcript.is_type(event.type):
                text = Transcript.from_event(event).text.strip()
                break
    heard = time.perf_counter()
    matched = understands(text)
    understood = time.perf_counter()
    first = None
    async with AsyncTcpClient("127.0.0.1", tts_port) as tts:  # a new connection per request, as HA opens one
        await tts.write_event(Synthesize(text=reply).event())
        while True:
            event = await tts.read_event()
            if event is None:
                raise RuntimeError("the TTS server closed the connection before AudioStop")
            if first is None and AudioChunk.is_type(event.type):
                first = time.perf_counter()
            if AudioStop.is_type(event.type):
                break  # drained: the next request does not share the CPU with this one's tail
    assert first is not None
    return {
        "text": text,
        "matched": matched,
        "total": first - began,
        "stt": heard - began,
        "match": understood - heard,
        "tts": first - understood,
    }


# --- the measurement ------------------------------------------------------------------------


class Events:
    """The events of one request, out of a recorder that has seen many."""

    def __init__(self, events: list) -> None:  # type: ignore[type-arg]
        self.events = events

    def of(self, type_: str) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if e.type == type_]


class Ours:
    """Our voice loop around one long-lived core, as `assistant run` keeps one for every request: a
    fresh core per clip would make each request pay the first-use costs (the closed-vocabulary
    shortlist is built on the first request: seconds). Between clips the timers are cancelled and the
    conversation forgotten, so every clip meets the same state."""

    def __init__(self, models, config, data: Path, realtime: bool) -> None:  # type: ignore[no-untyped-def]
        self.models, self.config, self.realtime, self.tmp = models, config, realtime, data
        self.bus = Bus()
        self.recorder = Recorder(self.bus)
        self.core = build_core(config, data / "data", self.bus)
        self.runs = 0

    async def run(self, pcm: np.ndarray) -> Events | None:
        """One clip; its events, or None when it got no template-path reply."""
        for timer in self.core.scheduler.timers():
            self.core.scheduler.cancel(timer.id)
        self.core.dialogue.forget()
        self.runs += 1
        work = self.tmp / f"run{self.runs}"
        work.mkdir(parents=True)
        first = len(self.recorder.events)
        await play(voice_loop(self.core, self.models), pcm, self.models, self.config, work, realtime=self.realtime)
        ev = Events(self.recorder.events[first:])
        if not ev.of("tts_start") or not ev.of("endpoint") or not ev.of("intent"):
            return None
        return ev if ev.of("intent")[0].source == "template" else None

    async def close(self) -> None:
        await self.core.scheduler.stop()
        self.core.media.close()


def speech_end(ev: Events):  # type: ignore[no-untyped-def]
    endpoint = ev.of("endpoint")[0]
    return [e for e in ev.of("speech_end") if e.audio_t <= endpoint.audio_t][-1]


async def measure(
    clips, fast: Ours, paced: Ours, servers: tuple[Server, Server], understands, realtime_n: int
) -> Figures:  # type: ignore[no-untyped-def]
    """Ours and the peer clip by clip, seconds apart; then ours paced at real time, on its own (a paced
    run can leave a superseded transcription running that would slow the next clip of the other)."""
    out = Figures()
    for label, text, pcm in clips:
        ev = await fast.run(pcm)
        if ev is None:
            out.skipped.append(label)
            print(f"  ! {label}: not answered on the template path by us; left out", file=sys.stderr)
            continue
        end, tts = speech_end(ev), ev.of("tts_start")[0]
        endpoint, transcript, intent, reply = (
            ev.of("endpoint")[0],
            ev.of("transcript")[0],
            ev.of("intent")[0],
            ev.of("reply")[0],
        )
        out.ours.append(tts.t - end.t)
        out.stage("stt (transcriber.hear)", transcript.stt_s)
        out.stage("speech_end → endpoint", endpoint.t - end.t)
        out.stage("endpoint → transcript", transcript.t - endpoint.t)
        out.stage("transcript → intent", intent.t - transcript.t)
        out.stage("intent → reply (acting)", reply.t - intent.t)
        out.stage("reply → first audio", tts.t - reply.t)
        out.stage("tts first sentence (synth_s)", tts.synth_s)
        out.stage("transcriptions thrown away", max(0, len(ev.of("stt_start")) - 1))
        # The peer: the audio Home Assistant would have streamed, from the wake word to the end of
        # its own VAD's silence.
        start = int(ev.of("wake")[0].audio_t * 16000)
        stop_at = int((end.audio_t + HA_VAD_SILENCE_S) * 16000)
        peer = await peer_request(servers[0].port, servers[1].port, pcm[start:stop_at], reply.text, understands)
        out.peer.append(peer["total"])
        out.peer_stt.append(peer["stt"])
        out.peer_match.append(peer["match"])
        out.peer_tts.append(peer["tts"])
        out.heard.append((text, transcript.text, peer["text"], peer["matched"]))
        print(f"  {label}: ours {out.ours[-1]:.3f} s, peer {peer['total']:.3f} s", file=sys.stderr)
    for label, _, pcm in clips[:realtime_n]:
        rt = await paced.run(pcm)
        if rt is not None:
            out.felt.append(rt.of("tts_start")[0].t - (rt.of("ready")[0].t + speech_end(rt).audio_t))
            out.stage("paced: transcriptions thrown away", max(0, len(rt.of("stt_start")) - 1))
            print(f"  {label}: felt {out.felt[-1]:.3f} s", file=sys.stderr)
    return out


async def bench(clips, models, config, servers: tuple[Server, Server], tmp: Path, realtime_n: int) -> Figures:  # type: ignore[no-untyped-def]
    fast = Ours(models, config, tmp / "fast", realtime=False)
    paced = Ours(models, config, tmp / "paced", realtime=True)
    understands = build_core(config, tmp / "peer-match", Bus()).dialogue.understands
    try:
        # First-use costs fall on neither side: each answers the first clip twice, unmeasured.
        _, _, pcm = clips[0]
        for _ in range(2):
            await fast.run(pcm)
            await peer_request(servers[0].port, servers[1].port, pcm, "It's ten past three.", understands)
        if realtime_n:
            await paced.run(pcm)
        return await measure(clips, fast, paced, servers, understands, realtime_n)
    finally:
        await fast.close()
        await paced.close()


# --- report -----------------------------------------------------------------------------------


NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50"}


def same_words(said: str, heard: str) -> bool:
    """Heard word for word, numbers written either way ("ten" or "10")."""

    def norm(text: str) -> list[str]:
        return [NUMBERS.get(w, w) for w in sf.words(text).split()]

    return norm(said) == norm(heard)


def peer_versions(venv: Path) -> str:
    names = ["wyoming-faster-whisper", "wyoming-piper", "wyoming", *SAME_ENGINES]
    code = "import importlib.metadata as m, sys; print(' '.join(f'{n} {m.version(n)}' for n in sys.argv[1:]))"
    return subprocess.run(
        [str(venv / "bin/python"), "-c", code, *names], capture_output=True, text=True, check=True
    ).stdout.strip()


def machine(load_before: float) -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({model}); load average {load_before:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end (over {os.cpu_count()}: other work shared the CPU); code {commit or '?'}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voices", default="piper", help="comma-separated: piper and/or espeak-ng voices")
    p.add_argument("--rounds", type=int, default=2, help="how many times each clip is measured")
    p.add_argument(
        "--realtime", type=int, default=None, help="how many measurements also run paced at real time (default: all)"
    )
    p.add_argument(
        "--peer-beam", type=int, default=0, help="the peer's beam size; 0 is its own default (5 on x86, 1 on ARM)"
    )
    p.add_argument(
        "--peer-threads", type=int, default=None, help="the peer's CPU threads (default: our stt.cpu_threads)"
    )
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    began = time.perf_counter()
    load_before = os.getloadavg()[0]

    venv = ensure_peer_venv()
    # Only ASSISTANT__ settings pass (ASSISTANT__STT__BEAM_SIZE=1 … to try a change on our side).
    config = load_config(environ={k: v for k, v in os.environ.items() if k.startswith("ASSISTANT__")})
    threads = args.peer_threads or config.stt.cpu_threads
    print("loading models …", file=sys.stderr)
    models = asyncio.run(load_speech_models(config))
    clips = [
        (f"{voice}: {text}", text, sf.command(text, voice=voice))
        for _ in range(args.rounds)
        for voice in args.voices.split(",")
        for text in COMMANDS
    ]
    realtime_n = len(clips) if args.realtime is None else args.realtime
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        servers = start_servers(venv, tmp, threads, args.peer_beam)
        try:
            for server in servers:
                wait_ready(server)
            print(f"peer up (stt :{servers[0].port}, tts :{servers[1].port}); warming both sides …", file=sys.stderr)
            figures = asyncio.run(bench(clips, models, config, servers, tmp, realtime_n))
            stt_log = servers[0].log.read_text()
        finally:
            for server in servers:
                stop(server)
    took = time.perf_counter() - began

    med = statistics.median
    peer_beam = (
        args.peer_beam if args.peer_beam > 0 else (1 if platform.machine().lower().startswith(("arm", "aarch")) else 5)
    )
    print(f"\nmachine: {machine(load_before)}")
    together = config.stt.closed_vocabulary and config.stt.alternatives > 1
    search = (
        f"beam {max(config.stt.beam_size, config.stt.alternatives)} x {config.stt.alternatives} hypotheses (closed vocabulary)"
        if together
        else f"beam {config.stt.beam_size}"
    )
    print(
        f"ours:  tiny.en {config.stt.compute_type}, {search}, {config.stt.cpu_threads} threads, "
        f"prompt {config.stt.prompt!r}, early endpoint {config.vad.early_endpoint_s} s, silence {config.vad.trailing_silence_s} s; "
        f"Piper en_US-joe-medium"
    )
    print(
        f"peer:  tiny.en int8, beam {peer_beam}, {threads} threads, no prompt; Piper en_US-joe-medium; {peer_versions(venv)}"
    )
    if "Model" in stt_log and "download" in stt_log.lower():
        print("  ! the peer's STT log mentions a download: check it", file=sys.stderr)

    print(f"\n== end of speech → first reply audio, processing ({len(clips)} clips, {args.voices}) ==")
    print(f"ours (file mode)       {fmt(figures.ours)}")
    print(f"peer                   {fmt(figures.peer)}")
    print(f"  peer stt             {fmt(figures.peer_stt)}")
    print(f"  peer template match  {fmt(figures.peer_match)}")
    print(f"  peer tts first chunk {fmt(figures.peer_tts)}")
    ratio = med(figures.ours) / med(figures.peer) if figures.ours and figures.peer else float("nan")
    print(f"ratio ours/peer        {ratio:.2f}   target ≤ 1.00   {'met' if ratio <= 1.0 else 'NOT met'}")
    if figures.ours and len(figures.ours) == len(figures.peer):
        paired = [a / b for a, b in zip(figures.ours, figures.peer, strict=False)]
        print(
            f"  clip by clip         median {med(paired):.2f}  p10 {pct(paired, 10):.2f}  p90 {pct(paired, 90):.2f}"
            "   (each clip's two figures were taken seconds apart: steadier on a busy machine)"
        )
    if figures.felt:
        felt = med(figures.felt)
        print("\n== felt with --realtime: last voiced audio → first reply audio, silence timeout included ==")
        print(
            f"ours                   {fmt(figures.felt)}   target ≤ 0.600 s median   {'met' if felt <= 0.6 else 'NOT met'}"
        )
        print(
            f"peer (computed)        median {HA_VAD_SILENCE_S + med(figures.peer):.3f} s   "
            f"(Home Assistant's default {HA_VAD_SILENCE_S} s of VAD silence + its processing above)"
        )
    print("\n== where ours goes (file mode, medians) ==")
    for name, values in figures.stages.items():
        if "thrown away" in name:
            print(f"{name:<34} {sum(values)} in {len(values)} requests")
        else:
            print(f"{name:<34} {med(values) * 1000:6.0f} ms   p90 {pct(values, 90) * 1000:6.0f} ms")
    wrong_ours = sum(not same_words(said, we) for said, we, _, _ in figures.heard)
    wrong_peer = sum(not same_words(said, them) for said, _, them, _ in figures.heard)
    unmatched = sum(not matched for *_, matched in figures.heard)
    print(
        f"\ntranscripts not word for word: ours {wrong_ours}/{len(figures.heard)}, peer {wrong_peer}/{len(figures.heard)}; "
        f"peer transcripts our templates did not take: {unmatched}"
    )
    for said, we, them, matched in figures.heard:
        if not same_words(said, we) or not same_words(said, them):
            print(f"  said {said!r}: ours {we!r}, peer {them!r}{'' if matched else ' (no template)'}")
    if figures.skipped:
        print(f"left out (not on the template path for us): {', '.join(figures.skipped)}")
    print(f"\nbench took {took:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in figures.__dict__.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
