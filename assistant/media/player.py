"""Music playback: a queue of tracks decoded with PyAV on one background thread, written to an output
(a speaker through sounddevice, or a WAV file) in chunks of 50 ms, so pause, next and stop are heard
within about 0.15 s.

Every `MusicPlayer` method is thread-safe and returns at once: an asyncio event loop can call them.
The player thread reports through two callbacks, both called on the player thread (hop to your loop
with `loop.call_soon_threadsafe`): `on_change(NowPlaying)` on every track change, pause, resume and
stop, and `on_error(Track, MediaError)` for a track that cannot be played and is skipped.
Rapid changes may be reported once, with the state they ended in.

Audio handed to an output is float32 frames, shape (frames, channels), samples in [-1, 1].
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from assistant.errors import AudioDeviceError, MediaError

log = logging.getLogger(__name__)

CHUNK_S = 0.05
"""Audio handed to the output at a time; the player looks at pause/next/stop between chunks."""
DUCK_GAIN = 0.2
"""Volume while the assistant listens or speaks."""
RAMP_S = 0.05
"""Time a volume change takes, so ducking makes no click."""
LAYOUTS = {1: "mono", 2: "stereo"}


@dataclass(frozen=True)
class Track:
    path: Path
    """The audio file: anything FFmpeg decodes (MP3, FLAC, OGG/Vorbis, Opus, M4A/AAC, WAV)."""
    title: str = ""
    """As said back to a person; empty means the file stem."""
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not self.title:
            object.__setattr__(self, "title", self.path.stem)

    @classmethod
    def from_file(cls, path: Path) -> Track:
        """A track with its title, artist, album and duration read from the file's tags."""
        try:
            with av.open(str(path)) as container:
                tags = {k.lower(): v for k, v in container.metadata.items()}
                for stream in container.streams.audio[:1]:
                    tags.update({k.lower(): v for k, v in stream.metadata.items() if k.lower() not in tags})
                duration = container.duration / av.time_base if container.duration else None
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{path} cannot be read as audio: {_reason(e)}") from e
        return cls(Path(path), tags.get("title", ""), tags.get("artist"), tags.get("album"), duration)


@dataclass(frozen=True)
class NowPlaying:
    track: Track | None
    """The current track; None when the player is idle."""
    position_s: float
    """Seconds of the current track heard so far."""
    paused: bool
    queue_left: int
    """Tracks queued after this one."""


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

    def __init__(self, path: Path, rate: int = 44100, channels: int = 2, realtime: bool = False,
                 buffer_s: float = 0.1) -> None:
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

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


class SpeakerOutput:
    """The default (or a named) output device through sounddevice. PortAudio's callback pulls from a
    queue of at most `buffer_s` seconds; `write` blocks while it is full."""

    def __init__(self, device: str | int | None = None, rate: int = 48000, channels: int = 2,
                 buffer_s: float = 0.1) -> None:
        from assistant.audio.sources import _sounddevice

        sd = _sounddevice()
        self.rate, self.channels = rate, channels
        try:
            sd.check_output_settings(device=device, channels=channels, dtype="float32", samplerate=rate)
        except Exception as e:
            where = "no speaker found (this machine has no sound card?)" if device is None else f"speaker {device!r} cannot play"
            raise AudioDeviceError(f"{where}: {rate} Hz, {channels} channels: {e}") from e
        self._cap = max(1, int(rate * buffer_s))
        self._cond = threading.Condition()
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._queued = 0
        self._closed = False
        try:
            self._stream = sd.OutputStream(
                samplerate=rate, channels=channels, dtype="float32", device=device,
                callback=self._callback, blocksize=int(rate * 0.02), latency="low",
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

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
            self._queued = 0
            self._cond.notify_all()
        self._stream.abort()
        self._stream.close()


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def decode(path: Path, rate: int, channels: int, chunk: int) -> Iterator[np.ndarray]:
    """The file as float32 frames at `rate`, at most `chunk` frames at a time. Raises MediaError."""
    if channels not in LAYOUTS:
        raise MediaError(f"cannot play to {channels} channels, only 1 or 2")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise MediaError(f"{path} cannot be played: {_reason(e)}") from e
    with container:
        if not container.streams.audio:
            raise MediaError(f"{path} holds no audio")
        resampler = av.AudioResampler(format="flt", layout=LAYOUTS[channels], rate=rate)
        try:
            for frame in _with_flush(container.decode(audio=0)):
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1, channels)
                    for start in range(0, len(pcm), chunk):
                        yield pcm[start : start + chunk]
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{path} stopped decoding: {_reason(e)}") from e


def _with_flush(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame | None]:
    yield from frames
    yield None  # flushes the resampler


def _gain_ramp(gain: float, target: float, n: int, rate: int) -> np.ndarray:
    step = (1.0 - DUCK_GAIN) / (RAMP_S * rate)
    ramp = gain + np.sign(target - gain) * step * np.arange(1, n + 1, dtype=np.float32)
    return np.clip(ramp, min(gain, target), max(gain, target)).astype(np.float32)
