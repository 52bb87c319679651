"""Where music plays: continuous outputs written in chunks of float32 frames, shape (frames, channels),
samples in [-1, 1] — a speaker through sounddevice, or a WAV file. Replies to a request go through
`sinks.py` instead, which places each one on the input's timeline."""

from __future__ import annotations

import collections
import threading
import time
import wave
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.audio.portaudio import close_stream, sounddevice
from assistant.core.errors import AudioDeviceError


class MusicOutput(Protocol):
    rate: int
    channels: int

    def write(self, pcm: np.ndarray) -> None:
        """Play float32 frames of shape (frames, channels); blocks while the output's buffer is full
        (in real time for a device). Raises AudioDeviceError when the device is gone."""

    def buffered_s(self) -> float:
        """Seconds of audio written but not yet heard."""

    def close(self) -> None:
        """Stop at once, dropping what is buffered. Idempotent."""


def _to_frames(pcm: np.ndarray, channels: int) -> np.ndarray:
    return np.asarray(pcm, dtype=np.float32).reshape(-1, channels)


class WavOutput:
    """Writes what is played to a 16-bit WAV. With `realtime`, writes are paced like a device with a
    `buffer_s` buffer, so pause/next take effect mid-track; a pause leaves no gap in the file."""

    def __init__(
        self, path: Path, rate: int = 44100, channels: int = 2, realtime: bool = False, buffer_s: float = 0.1
    ) -> None:
        self.path, self.rate, self.channels, self.realtime = Path(path), rate, channels, realtime
        self.buffer_s = buffer_s
        self.frames_written = 0
        self._played_until: float | None = None  # monotonic time the audio written so far ends
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")
        except OSError as e:
            raise AudioDeviceError(f"cannot write {self.path}: {e.strerror or e}") from e
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)

    def write(self, pcm: np.ndarray) -> None:
        frames = _to_frames(pcm, self.channels)
        if self._wav is None:
            raise AudioDeviceError(f"{self.path} is closed")
        self._wav.writeframes((np.clip(frames, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())
        self.frames_written += len(frames)
        if self.realtime:
            now = time.monotonic()
            start = max(self._played_until or now, now)  # ran dry (paused): the clock restarts now
            self._played_until = start + len(frames) / self.rate
            delay = self._played_until - self.buffer_s - now
            if delay > 0:
                time.sleep(delay)

    def buffered_s(self) -> float:
        if self._played_until is None:
            return 0.0
        return max(0.0, self._played_until - time.monotonic())

    @property
    def closed(self) -> bool:
        """True once closed: the file is complete (the player closes its output when the queue has
        ended and the last track has played out)."""
        return self._wav is None

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


class SpeakerOutput:
    """The default (or a named) output device through sounddevice. PortAudio's callback pulls from a
    queue of at most `buffer_s` seconds; `write` blocks while it is full."""

    def __init__(
        self, device: str | int | None = None, rate: int = 48000, channels: int = 2, buffer_s: float = 0.1
    ) -> None:
        sd = sounddevice()
        self.rate, self.channels = rate, channels
        try:
            sd.check_output_settings(device=device, channels=channels, dtype="float32", samplerate=rate)
        except Exception as e:
            where = (
                "no speaker found (this machine has no sound card?)"
                if device is None
                else f"speaker {device!r} cannot play"
            )
            raise AudioDeviceError(f"{where}: {rate} Hz, {channels} channels: {e}") from e
        self._cap = max(1, int(rate * buffer_s))
        self._cond = threading.Condition()
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._queued = 0
        self._closed = False
        try:
            self._stream = sd.OutputStream(
                samplerate=rate,
                channels=channels,
                dtype="float32",
                device=device,
                callback=self._callback,
                blocksize=int(rate * 0.02),
                latency="low",
            )
            self._stream.start()
        except Exception as e:
            raise AudioDeviceError(f"cannot open the speaker: {e}") from e

    def _callback(self, outdata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        filled = 0
        with self._cond:
            while filled < frames and self._queue:
                head = self._queue[0]
                take = min(frames - filled, len(head))
                outdata[filled : filled + take] = head[:take]
                filled += take
                if take == len(head):
                    self._queue.popleft()
                else:
                    self._queue[0] = head[take:]
            self._queued -= filled
            self._cond.notify_all()
        outdata[filled:] = 0

    def write(self, pcm: np.ndarray) -> None:
        frames = _to_frames(pcm, self.channels)
        with self._cond:
            room = lambda: self._closed or self._queued == 0 or self._queued + len(frames) <= self._cap  # noqa: E731
            if not self._cond.wait_for(room, timeout=2.0):
                raise AudioDeviceError("the speaker stopped taking audio")
            if self._closed:
                raise AudioDeviceError("the speaker is closed")
            self._queue.append(frames)
            self._queued += len(frames)

    def buffered_s(self) -> float:
        with self._cond:
            queued = self._queued
        return queued / self.rate + float(self._stream.latency)

    @property
    def closed(self) -> bool:
        """True once closed (the player closes its output when the last track has played out)."""
        with self._cond:
            return self._closed

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
            self._queued = 0
            self._cond.notify_all()
        close_stream(self._stream, "speaker")
