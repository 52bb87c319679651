"""Speak: reply text → Piper, sentence by sentence → the sink, so the first sentence plays while the
rest is still being synthesized."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import numpy as np

from assistant.audio.sinks import AudioSink
from assistant.core.bus import Bus
from assistant.core.events import TtsStart
from assistant.speech.tts import Synthesizer


def chime(rate: int) -> np.ndarray:
    """A short two-note bell that a timer rings before it speaks."""
    out = []
    for freq in (880.0, 1318.5):
        t = np.arange(int(rate * 0.18)) / rate
        out.append(np.sin(2 * np.pi * freq * t) * np.exp(-t * 12) * 0.5)
        out.append(np.zeros(int(rate * 0.05)))
    return (np.concatenate(out) * 32767).astype(np.int16)


class ReplySpeaker:
    def __init__(self, bus: Bus, synthesizer: Synthesizer) -> None:
        self.bus = bus
        self.synthesizer = synthesizer

    async def speak(
        self,
        text: str,
        sink: AudioSink,
        position: Callable[[], float | None],
        turn: int | None = None,
        ring: bool = False,
    ) -> None:
        """Synthesize and queue the whole reply; returns once the last audio is handed to the sink.

        `position` gives the current point of the input stream, where the reply starts playing.
        Cancelling the task stops synthesis after the sentence in progress.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[np.ndarray | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        started = time.perf_counter()

        def produce() -> None:
            try:
                for pcm in self.synthesizer.sentences(text):
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, pcm)
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except BaseException as e:  # handed to the awaiting task, which raises it
                loop.call_soon_threadsafe(queue.put_nowait, e)

        worker = loop.run_in_executor(None, produce)
        try:
            first = True
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                if first:
                    at = position()
                    sink.begin(at or 0.0)
                    self.bus.publish(TtsStart(synth_s=time.perf_counter() - started, turn=turn, audio_t=at))
                    if ring:
                        sink.write(chime(self.synthesizer.rate), self.synthesizer.rate)
                    first = False
                sink.write(item, self.synthesizer.rate)
            if not first:
                sink.end()
        finally:
            stop.set()
            if not worker.done():
                worker.cancel()
