"""Run the real voice loop in-process on rendered audio, with the session's preloaded models."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.app.runtime import Core, SpeechModels, build_core, ringer
from assistant.audio.sinks import WavSink
from assistant.audio.sources import WavFileSource
from assistant.core.bus import Bus
from assistant.core.config import Config
from assistant.voice.pipeline import VoiceLoop
from assistant.voice.reply import ReplySpeaker
from testbed import speech as sf
from testbed.harness import Recorder


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
    )


async def play(
    loop: VoiceLoop, pcm: np.ndarray, models: SpeechModels, config: Config, tmp: Path, realtime: bool = False
) -> WavSink:
    """Feed `pcm` through `loop` as a WAV file; returns the closed sink holding the replies."""
    source = WavFileSource(sf.save(tmp / "in.wav", pcm), config.audio.block_s, realtime=realtime)
    sink = WavSink(tmp / "out.wav", models.synthesizer.rate)
    try:
        await loop.run(source, sink)
    finally:
        sink.close()
    return sink


def run_voice(
    pcm: np.ndarray, models: SpeechModels, config: Config, tmp: Path, realtime: bool = False, ring_timers: bool = False
) -> VoiceRun:
    bus = Bus()
    recorder = Recorder(bus)
    core = build_core(config, tmp / "data", bus)
    loop = voice_loop(core, models)

    async def scenario() -> WavSink:
        if ring_timers:
            core.scheduler.start(ringer(core, loop.announce))
        await core.routines.start(core.scheduler.zone, core.bus, loop.announce)
        try:
            return await play(loop, pcm, models, config, tmp, realtime)
        finally:
            await core.routines.stop()
            await core.scheduler.stop()
            core.media.close()  # stops a player the run started ("play some jazz")

    sink = asyncio.run(scenario())
    return VoiceRun(recorder, sink.render(), sink.rate)
