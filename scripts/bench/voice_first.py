#!/usr/bin/env python
"""The voice comes first: end of speech → first reply audio while the media library is being indexed,
against the same commands with the machine idle, in the same run.

    .venv/bin/python scripts/bench/voice_first.py [--photos 20000] [--voices piper,en-us]

Each rendered command ("Hey Jarvis", a pause, the request) is streamed at real time through the
assistant's voice loop, in three conditions:

  idle       nothing else runs;
  yielding   the media library indexes a generated library over and over, as `assistant run` does:
             on its own thread at nice 19 and idle disk priority, waiting between files from the
             wake word to the next `ready` (assistant/core/background.py);
  plain      the same indexing on an ordinary thread that never waits: what indexing did before.

The figure is the felt latency: the last voiced audio → the first reply audio, the silence timeout
included. Target (issue 8): yielding within 20 % of idle, medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.app.runtime import SpeechModels, build_core, load_speech_models  # noqa: E402
from assistant.core.background import Foreground  # noqa: E402
from assistant.core.bus import Bus  # noqa: E402
from assistant.core.config import MediaConfig, load_config  # noqa: E402
from assistant.core.errors import MediaError  # noqa: E402
from assistant.media.service import MediaLibrary  # noqa: E402
from testbed import speech as sf  # noqa: E402
from testbed.fakes.media_library import make_small_photos  # noqa: E402
from testbed.harness import Recorder  # noqa: E402
from testbed.voice import play, voice_loop  # noqa: E402

COMMANDS = [
    "What time is it?",
    "Set a timer for five minutes.",
    "What's the date today?",
    "How much time is left on my timer?",
    "Set a timer for ten minutes.",
    "Cancel the timer.",
    "Set a pasta timer for twelve minutes.",
    "What day is it?",
]


class Indexer:
    """Indexes `library` into a fresh index, again and again, until stopped; counts files read."""

    def __init__(self, library: Path, work: Path, yielding: bool, foreground: Foreground) -> None:
        self.library, self.work, self.yielding, self.foreground = library, work, yielding, foreground
        self.files = 0
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-indexer", daemon=True)
        self._current: MediaLibrary | None = None
        self.started = 0.0
        self.seconds = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._current is not None:
            self._current.close()  # ends a scan in progress at its next file
        self._thread.join()
        if self._current is not None:
            self._current.close()
        self.seconds = time.perf_counter() - self.started

    def _loop(self) -> None:
        while not self._stop.is_set():
            media = MediaLibrary(
                self.work / f"pass{self.passes}", MediaConfig(), [self.library], foreground=self.foreground
            )
            self._current = media
            read = [0]

            def progress(stage: str, done: int, total: int, read: list[int] = read) -> None:
                if stage == "read":
                    self.files += done - read[0]
                    read[0] = done

            # yielding: the library's own low-priority thread, giving way to the voice;
            # plain: the scanner called directly on this ordinary thread, never held.
            scan: Callable[..., object] = media.scan if self.yielding else media.scanner.scan
            try:
                scan(progress)
                self.passes += 1
            except MediaError:
                pass  # stopped mid-pass
            finally:
                if not self._stop.is_set():
                    media.close()


def felt(events: Recorder) -> float | None:
    """Last voiced audio → first reply audio, on the wall clock of a real-time stream."""
    if not events.of("tts_start") or not events.of("endpoint"):
        return None
    endpoint = events.of("endpoint")[0]
    speech_end = [e for e in events.of("speech_end") if e.audio_t <= endpoint.audio_t][-1]
    stream_start = events.of("ready")[0].t
    return events.of("tts_start")[0].t - (stream_start + speech_end.audio_t)


def run_clip(pcm: np.ndarray, models: SpeechModels, tmp: Path, foreground: Foreground | None) -> float | None:
    """One command through the voice loop at real time; `foreground` follows its wake words."""
    config = load_config(environ={})
    bus = Bus()
    events = Recorder(bus)
    core = build_core(config, tmp / "data", bus)
    unfollow = foreground.follow_voice(bus) if foreground else (lambda: None)
    loop = voice_loop(core, models)

    async def scenario() -> None:
        try:
            await play(loop, pcm, models, config, tmp, realtime=True)
        finally:
            await core.scheduler.stop()
            core.media.close()

    asyncio.run(scenario())
    unfollow()
    return felt(events)


def condition(
    name: str,
    clips: list[tuple[str, np.ndarray]],
    models: SpeechModels,
    library: Path | None,
    tmp: Path,
    yielding: bool,
) -> tuple[list[float], Indexer | None]:
    foreground = Foreground()
    indexer = Indexer(library, tmp / f"{name}-index", yielding, foreground) if library else None
    if indexer:
        indexer.start()
        time.sleep(2.0)  # indexing well under way before the first word
    out = []
    try:
        for i, (label, pcm) in enumerate(clips):
            figure = run_clip(pcm, models, tmp / f"{name}{i}", foreground if yielding else None)
            if figure is None:
                print(f"  ! {name}: no reply to {label}", file=sys.stderr)
            else:
                out.append(figure)
    finally:
        if indexer:
            indexer.stop()
    return out, indexer


def fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.3f} s  p90 {float(np.percentile(values, 90)):.3f} s  (n={len(values)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--photos", type=int, default=20000, help="size of the generated library (small real JPEGs with EXIF)"
    )
    p.add_argument("--voices", default="piper,en-us", help="comma-separated: piper and/or espeak-ng voices")
    args = p.parse_args()

    print("loading models …", file=sys.stderr)
    models = asyncio.run(load_speech_models(load_config(environ={})))
    clips = [
        (f"{voice}: {text}", sf.command(text, voice=voice)) for voice in args.voices.split(",") for text in COMMANDS
    ]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        library = tmp / "Pictures"
        print(f"generating a library of {args.photos:,} photos …", file=sys.stderr)
        make_small_photos(library, args.photos)
        run_clip(clips[0][1], models, tmp / "warm-up", None)  # first-use costs fall on no condition
        results = {}
        for name, lib, yielding in (("idle", None, False), ("yielding", library, True), ("plain", library, False)):
            print(f"{name}: {len(clips)} commands at real time …", file=sys.stderr)
            results[name] = condition(name, clips, models, lib, tmp, yielding)

    med = statistics.median
    idle = results["idle"][0]
    print(f"\n== end of speech → first reply audio, felt (silence timeout included), {len(clips)} commands ==")
    for name in ("idle", "yielding", "plain"):
        figures, indexer = results[name]
        line = f"{name:<9}  {fmt(figures)}"
        if figures and idle:
            line += f"   ×{med(figures) / med(idle):.2f} of idle"
        if indexer:
            line += f"   indexing {indexer.files / indexer.seconds:,.0f} files/s over {indexer.seconds:.0f} s"
        print(line)
    if idle and results["yielding"][0]:
        ratio = med(results["yielding"][0]) / med(idle)
        print(f"\nyielding / idle        {ratio:.2f}   target ≤ 1.20   {'met' if ratio <= 1.2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
