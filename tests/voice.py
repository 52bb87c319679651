"""Run the real voice loop in-process on rendered audio, with the session's preloaded models."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.sinks import WavSink
from assistant.audio.sources import WavFileSource
from assistant.bus import Bus
from assistant.config import Config
from assistant.pipeline import VoiceLoop
from assistant.reply import ReplySpeaker
from assistant.runtime import SpeechModels, build_core, timer_ringer
from tests import speech_fixtures as sf
from tests.conftest import Recorder


@dataclass
class VoiceRun:
    events: Recorder
    reply_audio: np.ndarray
    rate: int


def run_voice(pcm: np.ndarray, models: SpeechModels, config: Config, tmp: Path, realtime: bool = False,
              ring_timers: bool = False) -> VoiceRun:
    bus = Bus()
    recorder = Recorder(bus)
    core = build_core(config, tmp / "data", bus)
    models.wake.reset()
    loop = VoiceLoop(bus, models.wake, models.vad, config.vad, models.transcriber, core.dialogue,
                     ReplySpeaker(bus, models.synthesizer), core.registry.vocabulary)
    source = WavFileSource(sf.save(tmp / "in.wav", pcm), config.audio.block_s, realtime=realtime)
    sink = WavSink(tmp / "out.wav", models.synthesizer.rate)

    async def scenario() -> None:
        if ring_timers:
            core.scheduler.start(timer_ringer(core, loop.announce))
        try:
            await loop.run(source, sink)
        finally:
            await core.scheduler.stop()

    asyncio.run(scenario())
    sink.close()
    return VoiceRun(recorder, sink.render(), sink.rate)
