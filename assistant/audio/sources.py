"""Where audio comes from: a WAV file (as fast as the CPU allows, or paced like a microphone)
or a real microphone through sounddevice. Each yields 16 kHz mono int16 blocks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from assistant.audio import SAMPLE_RATE
from assistant.audio.portaudio import NO_SOUND_CARD, close_stream, sounddevice
from assistant.audio.wav import read_wav
from assistant.core.errors import AudioDeviceError

T = TypeVar("T")


class AudioSource(Protocol):
    realtime: bool
    """True when audio arrives at the pace of the world; False for a file read as fast as possible."""

    def blocks(self) -> AsyncIterator[np.ndarray]: ...


class WavFileSource:
    def __init__(self, path: Path, block_s: float = 0.08, realtime: bool = False) -> None:
        self.pcm = read_wav(path)  # reads and validates now, so a bad file fails before any model loads
        self.block = max(1, int(SAMPLE_RATE * block_s))
        self.realtime = realtime
        self._next = 0  # a reader restarted by the supervisor goes on where the last one stopped

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / SAMPLE_RATE

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        start = time.monotonic() - self._next / SAMPLE_RATE
        for offset in range(self._next, len(self.pcm), self.block):
            if self.realtime:
                # A block is delivered once it has been "spoken", as a microphone would deliver it.
                due = start + (offset + self.block) / SAMPLE_RATE
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._next = offset + self.block
            yield self.pcm[offset : offset + self.block]


class MicrophoneSource:
    """Checked when made (no sound card: a clear error before any model loads). Each `blocks()` opens
    the device anew, and ends with AudioDeviceError when the device goes away (unplugged, its sound
    server restarted), so the supervisor can open it again once it is back."""

    realtime = True
    CHECK_S = 0.5
    """How often a quiet stream is checked for being still alive."""
    STALL_S = 3.0
    """No audio at all for this long from a stream that says it is running means the device is gone."""
    FIRST_BLOCK_S = 10.0
    """The same before its first block: some devices take seconds to start (a Bluetooth headset
    switching profile)."""

    def __init__(self, device: str | int | None = None, block_s: float = 0.08) -> None:
        self.device = device
        self.block = int(SAMPLE_RATE * block_s)
        self._sd = sounddevice()
        self._worked = False
        """It recorded once in this process: gone now means unplugged, not a machine without one."""
        self._check()

    def _check(self) -> None:
        try:
            self._sd.check_input_settings(device=self.device, channels=1, dtype="int16", samplerate=SAMPLE_RATE)
        except Exception as e:
            if self._worked:
                raise AudioDeviceError(
                    "the microphone is not there any more (unplugged, or its sound server stopped)"
                ) from e
            raise AudioDeviceError(
                NO_SOUND_CARD if self.device is None else f"microphone {self.device!r} cannot record 16 kHz mono: {e}"
            ) from e

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=500)

        def callback(indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
            block = indata[:, 0].copy()
            loop.call_soon_threadsafe(_put_latest, queue, block)

        self._check()
        try:
            stream = self._sd.InputStream(
                samplerate=SAMPLE_RATE,
                blocksize=self.block,
                device=self.device,
                channels=1,
                dtype="int16",
                callback=callback,
            )
            stream.start()
        except Exception as e:
            raise AudioDeviceError(f"the microphone cannot be opened: {e}") from e
        self._worked = True
        heard, stall_s = time.monotonic(), self.FIRST_BLOCK_S
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), self.CHECK_S)
                    heard, stall_s = time.monotonic(), self.STALL_S
                except TimeoutError:
                    # A live microphone delivers silence too: a stream that is still "active" but has
                    # delivered nothing for STALL_S is a driver spinning on a device that went away.
                    if not stream.active or time.monotonic() - heard > stall_s:
                        raise AudioDeviceError(
                            "the microphone stopped delivering audio (unplugged, or its sound server stopped)"
                        ) from None
        finally:
            await asyncio.to_thread(close_stream, stream, "microphone")  # bounded: never waits forever


class AudioFeed:
    """Audio read by one service and heard by another, so the reader (a microphone that went away)
    can be restarted while the voice loop keeps waiting. A file's reader waits for the loop (nothing
    is dropped); a microphone's drops the oldest audio if the loop falls far behind."""

    def __init__(self, realtime: bool, size: int = 64) -> None:
        self.realtime = realtime
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue(maxsize=size)

    async def put(self, block: np.ndarray) -> None:
        if self.realtime:
            _put_latest(self._queue, block)
        else:
            await self._queue.put(block)

    async def end(self) -> None:
        """The source ended (a file read to its end): the voice loop finishes what it heard."""
        await self._queue.put(None)

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        while (block := await self._queue.get()) is not None:
            yield block


async def read_into(source: AudioSource, feed: AudioFeed) -> None:
    async for block in source.blocks():
        await feed.put(block)
    await feed.end()


def _put_latest(queue: asyncio.Queue[T], block: T) -> None:
    """A consumer that falls far behind drops the oldest audio rather than growing without bound."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(block)
