"""Run the real voice loop in-process on rendered audio, with the session's preloaded models."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.app.runtime import Core, SpeechModels, build_core, ringer
from assistant.audio import SAMPLE_RATE
from assistant.audio.sinks import WavSink
from assistant.audio.sources import WavFileSource
from assistant.core.bus import Bus
from assistant.core.config import Config
from assistant.voice.pipeline import VoiceLoop
from assistant.voice.reply import ReplySpeaker
from testbed import speech as sf
from testbed.harness import WAIT_S, Recorder


@dataclass
class VoiceRun:
    events: Recorder
    reply_audio: np.ndarray
    rate: int


def voice_loop(core: Core, models: SpeechModels) -> VoiceLoop:
    """The assistant's voice loop around `core`, with the wake word detector fresh."""
    models.wake.reset()
    return VoiceLoop(
        core.bus,
        models.wake,
        models.vad,
        core.config.vad,
        models.transcriber,
        core.dialogue,
        ReplySpeaker(core.bus, models.synthesizer),
        core.speech_hints,
        household=core.household,
    )


class ThenSilence:
    """A realtime source that goes on with silence after its audio until `until()` says what was
    waited for has happened (a timer's ring spoken), or `limit_s` has passed: the test waits for the
    event, not for a length of audio that a busy machine may outrun."""

    realtime = True

    def __init__(self, source: WavFileSource, until: Callable[[], bool], limit_s: float = WAIT_S) -> None:
        self.source, self.until, self.limit_s = source, until, limit_s

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        async for block in self.source.blocks():
            yield block
        quiet = np.zeros(self.source.block, dtype=np.int16)
        deadline = time.monotonic() + self.limit_s
        while not self.until() and time.monotonic() < deadline:
            await asyncio.sleep(len(quiet) / SAMPLE_RATE)  # paced as a microphone would deliver it
            yield quiet


async def play(
    loop: VoiceLoop,
    pcm: np.ndarray,
    models: SpeechModels,
    config: Config,
    tmp: Path,
    realtime: bool = False,
    until: Callable[[], bool] | None = None,
) -> WavSink:
    """Feed `pcm` through `loop` as a WAV file; returns the closed sink holding the replies. With
    `until` (realtime), silence follows the audio until it is true."""
    wav = WavFileSource(sf.save(tmp / "in.wav", pcm), config.audio.block_s, realtime=realtime)
    source: WavFileSource | ThenSilence = wav if until is None else ThenSilence(wav, until)
    sink = WavSink(tmp / "out.wav", models.synthesizer.rate)
    try:
        await loop.run(source, sink)
    finally:
        sink.close()
    return sink


def run_voice(
    pcm: np.ndarray,
    models: SpeechModels,
    config: Config,
    tmp: Path,
    realtime: bool = False,
    ring_timers: bool = False,
    until: Callable[[Recorder], bool] | None = None,
) -> VoiceRun:
    """`until`: with `realtime`, silence follows `pcm` until the events recorded so far satisfy it."""
    bus = Bus()
    recorder = Recorder(bus)
    core = build_core(config, tmp / "data", bus)
    loop = voice_loop(core, models)

    async def scenario() -> WavSink:
        if ring_timers:
            core.scheduler.start(ringer(core, loop.announce))
        await core.routines.start(core.scheduler.zone, core.bus, loop.announce)
        try:
            waited = None if until is None else (lambda: until(recorder))
            return await play(loop, pcm, models, config, tmp, realtime, waited)
        finally:
            await core.routines.stop()
            await core.scheduler.stop()
            core.media.close()  # stops a player the run started ("play some jazz")

    sink = asyncio.run(scenario())
    return VoiceRun(recorder, sink.render(), sink.rate)
