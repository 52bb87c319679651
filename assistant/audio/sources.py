"""Where audio comes from: a WAV file (as fast as the CPU allows, or paced like a microphone)
or a real microphone through sounddevice. Each yields 16 kHz mono int16 blocks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.audio import SAMPLE_RATE
from assistant.audio.wav import read_wav
from assistant.errors import AudioDeviceError

NO_SOUND_CARD = (
    "no microphone found (this machine has no sound card?): "
    "use a file instead: assistant run --audio-in command.wav --audio-out reply.wav"
)


class AudioSource(Protocol):
    realtime: bool
    """True when audio arrives at the pace of the world; False for a file read as fast as possible."""

    def blocks(self) -> AsyncIterator[np.ndarray]: ...


class WavFileSource:
    def __init__(self, path: Path, block_s: float = 0.08, realtime: bool = False) -> None:
        self.pcm = read_wav(path)  # reads and validates now, so a bad file fails before any model loads
        self.block = max(1, int(SAMPLE_RATE * block_s))
        self.realtime = realtime

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / SAMPLE_RATE

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        start = time.monotonic()
        for offset in range(0, len(self.pcm), self.block):
            if self.realtime:
                # A block is delivered once it has been "spoken", as a microphone would deliver it.
                due = start + (offset + self.block) / SAMPLE_RATE
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield self.pcm[offset : offset + self.block]


class MicrophoneSource:
    realtime = True

    def __init__(self, device: str | int | None = None, block_s: float = 0.08) -> None:
        self.device = device
        self.block = int(SAMPLE_RATE * block_s)
        self._sd = _sounddevice()
        try:
            self._sd.check_input_settings(device=device, channels=1, dtype="int16", samplerate=SAMPLE_RATE)
        except Exception as e:
            raise AudioDeviceError(NO_SOUND_CARD if device is None else f"microphone {device!r} cannot record 16 kHz mono: {e}") from e

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=500)

        def callback(indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
            block = indata[:, 0].copy()
            loop.call_soon_threadsafe(_put_latest, queue, block)

        stream = self._sd.InputStream(
            samplerate=SAMPLE_RATE, blocksize=self.block, device=self.device,
            channels=1, dtype="int16", callback=callback,
        )
        with stream:
            while True:
                yield await queue.get()


def _put_latest(queue: asyncio.Queue[np.ndarray], block: np.ndarray) -> None:
    """A consumer that falls far behind drops the oldest audio rather than growing without bound."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(block)


def _sounddevice():  # type: ignore[no-untyped-def]
    try:
        import sounddevice
    except OSError as e:  # PortAudio itself is missing
        raise AudioDeviceError("PortAudio is not installed (apt-get install libportaudio2); " + NO_SOUND_CARD) from e
    return sounddevice
