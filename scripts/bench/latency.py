#!/usr/bin/env python
"""End of speech → first reply audio, per stage, against the plain reference path, on rendered commands.

    .venv/bin/python scripts/bench/latency.py [--voices piper,en-us] [--realtime N]

Our path: the assistant's voice loop (transcription starts at the first silent frame, in parallel with
the silence timeout; Piper speaks the first sentence while the rest is synthesized).
Reference path, same audio, same models: wait for the silence timeout, faster-whisper `transcribe`
with its defaults, match, then Piper synthesizes the whole reply: one after the other, as a
straightforward script would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import build_core, load_speech_models  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from assistant.speech.wake import FRAME  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.voice import run_voice  # noqa: E402

COMMANDS = [
    "What time is it?",
    "Set a timer for five minutes.",
    "What's the date today?",
    "How much time is left on my timer?",
    "Set a timer for ten minutes.",
    "Cancel the timer.",
    "What's the time?",
    "Set a pasta timer for twelve minutes.",
    "Start a timer for two minutes and thirty seconds.",
    "What day is it?",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.3f} s  p90 {pct(values, 90):.3f} s  (n={len(values)})"


def ours(clips, models, config, tmp: Path, realtime: bool) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[float]] = {k: [] for k in ("latency", "stt", "understand", "act", "tts_first", "felt")}
    for i, (_, pcm) in enumerate(clips):
        run = run_voice(pcm, models, config, tmp / f"{'rt' if realtime else 'fast'}{i}", realtime=realtime)
        ev = run.events
        if not ev.of("tts_start") or not ev.of("endpoint"):
            print(f"  ! no reply for clip {i}: {ev.types()}", file=sys.stderr)
            continue
        endpoint = ev.of("endpoint")[0]
        speech_end = [e for e in ev.of("speech_end") if e.audio_t <= endpoint.audio_t][-1]
        tts = ev.of("tts_start")[0]
        transcript, intent = ev.of("transcript")[0], (ev.of("intent") or ev.of("no_intent"))[0]
        out["latency"].append(tts.t - speech_end.t)
        out["stt"].append(transcript.stt_s)
        out["understand"].append(intent.t - transcript.t)
        if ev.of("tool_result"):
            out["act"].append(ev.of("tool_result")[0].t - intent.t)
        out["tts_first"].append(tts.synth_s)
        if realtime:
            stream_start = ev.of("ready")[0].t
            out["felt"].append(tts.t - (stream_start + speech_end.audio_t))
    return out


def reference(clips, models, config, tmp: Path) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """Same audio: the utterance after the wake word, transcribed with faster-whisper's defaults, then
    the whole reply synthesized before anything plays."""
    core = build_core(config, tmp / "ref-data", Bus())
    whisper = models.transcriber._model  # the same loaded model, called the plain way
    out: dict[str, list[float]] = {"processing": [], "felt": []}
    for _, pcm in clips:
        models.wake.reset()
        det = models.wake.process(pcm)
        assert det is not None
        start = len(pcm) - int(det.end_offset_s * 16000)
        audio = pcm[start:].astype(np.float32) / 32768.0
        began = time.perf_counter()
        segments, _ = whisper.transcribe(audio, language="en")
        text = " ".join(s.text for s in segments).strip()
        reply = asyncio.run(core.dialogue.handle(text))
        whole = [chunk for chunk in models.synthesizer.sentences(reply)]
        assert whole
        took = time.perf_counter() - began
        out["processing"].append(took)
        out["felt"].append(took + config.vad.trailing_silence_s)
    return out


def wake_cpu(models) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds per 80 ms frame over a minute of speech and noise, as a share of one core."""
    pcm = np.concatenate([sf.with_noise(sf.silence(20) + 1, 10), sf.piper("Good morning. " * 12), sf.silence(10)])
    models.wake.reset()
    frames = len(pcm) // FRAME
    started = time.process_time()
    for i in range(frames):
        models.wake.process(pcm[i * FRAME : (i + 1) * FRAME])
    per_frame = (time.process_time() - started) / frames
    return per_frame


def assistant_rss(tmp: Path) -> float:
    """Peak RSS (MB) of a real `assistant run` answering two commands from a file.

    Read from the process's own VmHWM: getrusage's ru_maxrss of a child keeps the RSS of the forked
    benchmark (all its models) across exec, which would count our memory twice.
    """
    clip = sf.save(tmp / "rss.wav", sf.command("What time is it?"), sf.command("Set a timer for five minutes."))
    probe = (
        "import sys; from assistant.cli.main import main; rc = main(sys.argv[1:]); "
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1], file=sys.stderr); "
        "sys.exit(rc)"
    )
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/python"),
            "-c",
            probe,
            "run",
            "--audio-in",
            str(clip),
            "--audio-out",
            str(tmp / "rss-out.wav"),
            "--data-dir",
            str(tmp / "rss-data"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voices", default="piper,en-us", help="comma-separated: piper and/or espeak-ng voices")
    p.add_argument("--realtime", type=int, default=len(COMMANDS), help="how many clips to also run paced at real time")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()

    config = load_config(environ={})
    print("loading models …", file=sys.stderr)
    models = asyncio.run(load_speech_models(config))
    clips = [
        (f"{voice}: {text}", sf.command(text, voice=voice)) for voice in args.voices.split(",") for text in COMMANDS
    ]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print(
            f"{len(clips)} rendered commands ({args.voices}), tiny.en int8 on {config.stt.cpu_threads} threads",
            file=sys.stderr,
        )
        fast = ours(clips, models, config, tmp, realtime=False)
        ref = reference(clips, models, config, tmp)
        rt = ours(clips[: args.realtime], models, config, tmp, realtime=True) if args.realtime else {"felt": []}
        cpu = wake_cpu(models)
        rss = assistant_rss(tmp)

    med = statistics.median
    print("\n== per stage, ours (file processed as fast as the CPU allows) ==")
    print(f"speech-to-text         {fmt(fast['stt'])}")
    print(f"understanding          {fmt(fast['understand'])}")
    print(f"acting (tool)          {fmt(fast['act'])}")
    print(f"first reply audio      {fmt(fast['tts_first'])}")
    print("\n== end of speech → first reply audio ==")
    print(f"ours, processing       {fmt(fast['latency'])}   target ≤ 0.800 s median")
    print(f"reference, processing  {fmt(ref['processing'])}")
    ratio = med(fast["latency"]) / med(ref["processing"])
    print(f"ratio ours/reference   {ratio:.2f}   target ≤ 0.60")
    if rt["felt"]:
        print("\n== felt with --realtime: last voiced audio → first reply audio, silence timeout included ==")
        print(f"ours                   {fmt(rt['felt'])}   target ≤ 1.000 s median")
        print(
            f"reference              {fmt(ref['felt'])}   (silence timeout {config.vad.trailing_silence_s:.2f} s + processing)"
        )
        print(f"ratio ours/reference   {med(rt['felt']) / med(ref['felt']):.2f}")
    print("\n== resources ==")
    print(
        f"wake word              {cpu * 1000:.2f} ms CPU per 80 ms frame = {cpu / 0.08 * 100:.1f}% of one core   target ≤ 5%"
    )
    print(f"assistant peak RSS     {rss:.0f} MB   target ≤ 800 MB")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"ours": fast, "reference": ref, "realtime": rt, "wake_cpu_s_per_frame": cpu, "rss_mb": rss}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
