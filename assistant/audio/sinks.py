"""Where replies go: a speaker through sounddevice, or a WAV file.

The WAV sink keeps the input stream's timeline: a reply is placed at the point of the input where it
started playing, so input and output line up and a reply cut short by the wake word (barge-in) is cut
at the right moment even when the input file is processed faster than real time.
"""

from __future__ import annotations

import collections
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.audio.portaudio import close_stream, sounddevice
from assistant.audio.wav import resample, write_wav
from assistant.core.errors import AudioDeviceError

log = logging.getLogger(__name__)


class AudioSink(Protocol):
    rate: int

    def begin(self, audio_t: float) -> None:
        """A reply starts playing now, `audio_t` seconds into the input stream."""

    def write(self, pcm: np.ndarray, rate: int) -> None:
        """Queue more of the current reply (int16 mono at `rate`)."""

    def end(self) -> None:
        """The current reply is all written (a satellite is told; a file or a speaker needs nothing)."""

    def playing(self, audio_t: float) -> bool:
        """Whether reply audio is still being played at this point of the input."""

    def interrupt(self, audio_t: float) -> None:
        """Stop the current reply now."""

    def played_s(self, audio_t: float) -> float:
        """Seconds of the current reply played by this point."""

    def close(self) -> None: ...


class WavSink:
    def __init__(self, path: Path, rate: int = 22050) -> None:
        self.path = path
        self.rate = rate
        self._segments: list[tuple[int, list[np.ndarray]]] = []
        self._cut: dict[int, int] = {}

    def _end(self, index: int) -> int:
        start, chunks = self._segments[index]
        length = sum(len(c) for c in chunks)
        return start + min(length, self._cut.get(index, length))

    def begin(self, audio_t: float) -> None:
        start = int(audio_t * self.rate)
        if self._segments:
            start = max(start, self._end(len(self._segments) - 1))
        self._segments.append((start, []))

    def write(self, pcm: np.ndarray, rate: int) -> None:
        if not self._segments:
            self.begin(0.0)
        self._segments[-1][1].append(resample(pcm, rate, self.rate))

    def playing(self, audio_t: float) -> bool:
        return bool(self._segments) and int(audio_t * self.rate) < self._end(len(self._segments) - 1)

    def played_s(self, audio_t: float) -> float:
        if not self._segments:
            return 0.0
        start = self._segments[-1][0]
        now = min(int(audio_t * self.rate), self._end(len(self._segments) - 1))
        return max(0, now - start) / self.rate

    def end(self) -> None:
        pass

    def interrupt(self, audio_t: float) -> None:
        if self._segments:
            index = len(self._segments) - 1
            self._cut[index] = max(0, int(audio_t * self.rate) - self._segments[index][0])

    def render(self) -> np.ndarray:
        total = max((self._end(i) for i in range(len(self._segments))), default=0)
        out = np.zeros(total, np.int16)
        for i, (start, chunks) in enumerate(self._segments):
            if chunks:
                audio = np.concatenate(chunks)[: self._end(i) - start]
                out[start : start + len(audio)] = audio
        return out

    def close(self) -> None:
        write_wav(self.path, self.render(), self.rate)


class SpeakerSink:
    """The default (or a named) output device. Audio is pulled by PortAudio's callback thread. A
    device that went away (unplugged, its sound server restarted) is opened again for the next reply."""

    def __init__(self, device: str | int | None = None, rate: int = 22050) -> None:
        self._sd = sounddevice()
        self.device = device
        self.rate = rate
        self._lock = threading.Lock()
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._played = 0
        self._stream = self._open()

    def _open(self) -> Any:
        try:
            self._sd.check_output_settings(device=self.device, channels=1, dtype="int16", samplerate=self.rate)
            stream = self._sd.OutputStream(
                samplerate=self.rate,
                channels=1,
                dtype="int16",
                device=self.device,
                callback=self._callback,
                blocksize=int(self.rate * 0.02),
            )
            stream.start()
        except Exception as e:
            raise AudioDeviceError(
                "no speaker found (this machine has no sound card?): "
                "use a file instead: assistant run --audio-in command.wav --audio-out reply.wav"
            ) from e
        return stream

    def _alive(self) -> None:
        if self._stream.active:
            return
        log.warning("the speaker stopped; opening it again")
        close_stream(self._stream, "speaker")
        with self._lock:
            self._queue.clear()
        self._stream = self._open()

    def _callback(self, outdata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        filled = 0
        with self._lock:
            while filled < frames and self._queue:
                head = self._queue[0]
                take = min(frames - filled, len(head))
                outdata[filled : filled + take, 0] = head[:take]
                filled += take
                if take == len(head):
                    self._queue.popleft()
                else:
                    self._queue[0] = head[take:]
            self._played += filled
        outdata[filled:, 0] = 0

    def begin(self, audio_t: float) -> None:
        with self._lock:
            self._played = 0

    def write(self, pcm: np.ndarray, rate: int) -> None:
        self._alive()
        audio = resample(pcm, rate, self.rate)
        with self._lock:
            self._queue.append(audio)

    def playing(self, audio_t: float) -> bool:
        with self._lock:
            return bool(self._queue) and self._stream.active  # a dead device plays nothing more

    def played_s(self, audio_t: float) -> float:
        with self._lock:
            return self._played / self.rate

    def end(self) -> None:
        pass

    def interrupt(self, audio_t: float) -> None:
        with self._lock:
            self._queue.clear()

    def close(self) -> None:
        close_stream(self._stream, "speaker", drain=True)
