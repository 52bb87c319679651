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
import errno
import logging
import os
import threading
import time
import wave
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from assistant.core.errors import AudioDeviceError, MediaError
from assistant.media.files import NotAFile, what_it_is
from assistant.media.names import shown, spoken_name

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
            object.__setattr__(self, "title", spoken_name(self.path.stem))

    @classmethod
    def from_file(cls, path: Path) -> Track:
        """A track with its title, artist, album and duration read from the file's tags."""
        try:
            _check_regular(path)
            with av.open(str(path)) as container:
                tags = {k.lower(): v for k, v in container.metadata.items()}
                for stream in container.streams.audio[:1]:
                    tags.update({k.lower(): v for k, v in stream.metadata.items() if k.lower() not in tags})
                duration = container.duration / av.time_base if container.duration else None
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{shown(Path(path).name)} cannot be read as audio: {_reason(e)}") from e
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

    def record(self) -> dict[str, Any] | None:
        """What is playing, as the media skill's result and the phone page show it; None when idle."""
        t = self.track
        if t is None:
            return None
        return {
            "track": str(t.path),
            "title": t.title,
            "artist": t.artist,
            "album": t.album,
            "duration_s": t.duration_s,
            "position_s": round(self.position_s, 1),
            "paused": self.paused,
            "queue_left": self.queue_left,
        }


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
        from assistant.audio.sources import _sounddevice

        sd = _sounddevice()
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
        self._stream.abort()
        self._stream.close()


def _reason(e: BaseException) -> str:
    return shown(getattr(e, "strerror", None) or str(e) or type(e).__name__)


def _check_regular(path: Path | str) -> None:
    """NotAFile for a named pipe, socket, device or folder: FFmpeg would wait forever on a pipe."""
    why = what_it_is(os.stat(path).st_mode)
    if why is not None:
        raise NotAFile(errno.EINVAL, why, str(path))


class Decoder:
    """A file's audio as float32 frames at `rate`, at most `chunk` frames at a time. The file is
    opened here; opening and reading raise MediaError."""

    def __init__(self, path: Path, rate: int, channels: int, chunk: int) -> None:
        if channels not in LAYOUTS:
            raise MediaError(f"cannot play to {channels} channels, only 1 or 2")
        self.path = path
        try:
            _check_regular(path)
            self._container = av.open(str(path))
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{shown(path.name)} cannot be played: {_reason(e)}") from e
        if not self._container.streams.audio:
            self._container.close()
            raise MediaError(f"{shown(path.name)} holds no audio")
        self._resampler = av.AudioResampler(format="flt", layout=LAYOUTS[channels], rate=rate)
        self._chunks = self._read(channels, chunk)

    def __iter__(self) -> Decoder:
        return self

    def __next__(self) -> np.ndarray:
        return next(self._chunks)

    def _read(self, channels: int, chunk: int) -> Generator[np.ndarray, None, None]:
        try:
            for frame in _with_flush(self._container.decode(audio=0)):
                for out in self._resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1, channels)
                    for start in range(0, len(pcm), chunk):
                        yield pcm[start : start + chunk]
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{shown(self.path.name)} stopped decoding: {_reason(e)}") from e

    def close(self) -> None:
        self._chunks.close()
        self._container.close()


def _with_flush(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame | None]:
    yield from frames
    yield None  # flushes the resampler


def _gain_ramp(gain: float, target: float, n: int, rate: int) -> np.ndarray:
    step = (1.0 - DUCK_GAIN) / (RAMP_S * rate)
    ramp = gain + np.sign(target - gain) * step * np.arange(1, n + 1, dtype=np.float32)
    clipped: np.ndarray = np.clip(ramp, min(gain, target), max(gain, target))
    return clipped.astype(np.float32)


class MusicPlayer:
    """A queue of tracks played on a background thread. See the module docstring for threading."""

    def __init__(
        self,
        output_factory: Callable[[], MusicOutput],
        on_change: Callable[[NowPlaying], None] | None = None,
        on_error: Callable[[Track, MediaError], None] | None = None,
    ) -> None:
        self._factory = output_factory
        self._on_change = on_change
        self._on_error = on_error
        self._cond = threading.Condition()
        # What callers asked for (guarded by _cond).
        self._current: Track | None = None
        self._queue: list[Track] = []
        self._gen = 0  # bumped whenever the current track is replaced
        self._paused = False
        self._ducked = False
        self._cut = False  # stopped by a person: drop buffered audio rather than let it play out
        self._closed = False
        self._changed = False  # something on_change has not been told yet
        # What the player thread has played (guarded by _cond).
        self._frames = 0  # of the current track, handed to the output
        self._rate = 1
        self._lag_s = 0.0  # the output's buffered seconds at _lag_at
        self._lag_at = 0.0
        # Owned by the player thread.
        self._output: MusicOutput | None = None
        self._decoder: Decoder | None = None
        self._decoder_gen = -1
        self._gain = 1.0
        # Started by the first track, so an assistant that never plays music runs no player thread.
        self._thread = threading.Thread(target=self._run, name="music-player", daemon=True)

    # --- the caller's side: each takes the lock briefly and returns ---

    def play(self, tracks: Sequence[Track]) -> None:
        """Replace the queue and start its first track now."""
        tracks = list(tracks)
        with self._cond:
            self._queue = tracks[1:]
            self._switch(tracks[0] if tracks else None, cut=True)

    def enqueue(self, tracks: Sequence[Track]) -> None:
        """Add to the end of the queue; starts playing if idle."""
        with self._cond:
            self._queue.extend(tracks)
            if self._current is None and self._queue:
                self._switch(self._queue.pop(0), cut=False)
            elif tracks:
                self._changed = True  # queue_left changed
                self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            if self._current is not None and not self._paused:
                self._paused = self._changed = True
                self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            if self._current is not None and self._paused:
                self._paused = False
                self._changed = True
                self._cond.notify_all()

    def next(self) -> Track | None:
        """Skip to the next track and return it; None, and stop, when the queue is empty."""
        with self._cond:
            track = self._queue.pop(0) if self._queue else None
            if track is not None or self._current is not None:
                self._switch(track, cut=True)
            return track

    def stop(self) -> None:
        """Stop now, clear the queue and release the output."""
        with self._cond:
            self._queue.clear()
            if self._current is not None:
                self._switch(None, cut=True)
            else:
                self._cut = True
                self._cond.notify_all()

    def now_playing(self) -> NowPlaying:
        with self._cond:
            return self._snapshot()

    def duck(self, on: bool) -> None:
        """Lower the volume to 20 % (ramped over 50 ms) while the assistant listens or speaks."""
        with self._cond:
            self._ducked = on

    def close(self) -> None:
        """Stop playing and end the player thread. Idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.ident is not None and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    def _switch(self, track: Track | None, cut: bool) -> None:
        """Make `track` current (None: idle). Lock held."""
        if track is not None and self._thread.ident is None and not self._closed:
            self._thread.start()
        self._current = track
        self._gen += 1
        self._frames = 0
        self._paused = False
        self._cut = cut
        if track is None:
            self._queue.clear()
        self._changed = True
        self._cond.notify_all()

    def _lag(self) -> float:
        """Seconds handed to the output and not yet heard. Lock held."""
        return max(0.0, self._lag_s - (time.monotonic() - self._lag_at))

    def _snapshot(self) -> NowPlaying:
        if self._current is None:
            return NowPlaying(None, 0.0, False, len(self._queue))
        position = max(0.0, self._frames / self._rate - self._lag())
        return NowPlaying(self._current, position, self._paused, len(self._queue))

    # --- the player thread ---

    def _has_work(self) -> bool:
        if self._closed or self._changed:
            return True
        if self._current is None:
            return self._decoder is not None or self._output is not None
        return self._decoder_gen != self._gen or not self._paused

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(self._has_work)
                    if self._closed:
                        return
                    gen, track = self._gen, self._current
                try:
                    self._step(gen, track)
                except Exception as e:  # a bug must not end playback for good
                    log.exception("music player")
                    if track is not None:
                        self._report(track, MediaError(f"{shown(track.path.name)} cannot be played: {shown(str(e))}"))
                    self._advance(gen)
        finally:
            self._close_decoder()
            if self._output is not None:
                self._output.close()
                self._output = None

    def _step(self, gen: int, track: Track | None) -> None:
        if track is None:
            self._close_decoder()
            self._emit()
            if self._output is not None:
                with self._cond:
                    remaining = 0.0 if self._cut else self._lag()
                    if remaining > 0:  # let the end of the last track play out
                        self._cond.wait(remaining)
                        return
                self._output.close()
                self._output = None
            return
        if self._decoder_gen != gen:
            self._close_decoder()
            self._decoder_gen = gen
            if not self._open(gen, track):
                return
        self._emit()
        with self._cond:
            if self._paused or gen != self._gen:
                return
            target = DUCK_GAIN if self._ducked else 1.0
            drained = self._lag() <= 0
        assert self._decoder is not None and self._output is not None
        try:
            pcm = next(self._decoder)
        except StopIteration:
            self._advance(gen)
            return
        except MediaError as e:
            self._report(track, e)
            self._advance(gen)
            return
        if drained:  # nothing is sounding, so the volume can jump without a click
            self._gain = target
        if self._gain != 1.0 or target != 1.0:
            gains = _gain_ramp(self._gain, target, len(pcm), self._output.rate)
            pcm = pcm * gains[:, None]
            self._gain = float(gains[-1])
        try:
            self._output.write(pcm)
        except AudioDeviceError as e:
            self._lose_output(track, e)
            return
        with self._cond:
            if gen == self._gen:
                self._frames += len(pcm)
            self._lag_s, self._lag_at = self._output.buffered_s(), time.monotonic()

    def _open(self, gen: int, track: Track) -> bool:
        """Open the output if needed and the track's decoder; False when the track is skipped."""
        if self._output is None:
            try:
                self._output = self._factory()
            except AudioDeviceError as e:
                self._lose_output(track, e)
                return False
            with self._cond:
                self._rate = self._output.rate
        try:
            self._decoder = Decoder(
                track.path, self._output.rate, self._output.channels, max(1, int(self._output.rate * CHUNK_S))
            )
        except MediaError as e:
            self._report(track, e)
            self._advance(gen)
            return False
        return True

    def _lose_output(self, track: Track, e: AudioDeviceError) -> None:
        """The speaker failed: tell, stop, and try a fresh output on the next play."""
        self._report(track, MediaError(f"cannot play {track.title}: {e.message}", code=e.code))
        if self._output is not None:
            self._output.close()
            self._output = None
        with self._cond:
            self._queue.clear()
            self._switch(None, cut=True)

    def _advance(self, gen: int) -> None:
        """The track of `gen` ended or failed: on to the next, unless a person already moved on."""
        with self._cond:
            if gen == self._gen:
                self._switch(self._queue.pop(0) if self._queue else None, cut=False)

    def _close_decoder(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def _emit(self) -> None:
        with self._cond:
            if not self._changed:
                return
            self._changed = False
            state = self._snapshot()
        if self._on_change is not None:
            try:
                self._on_change(state)
            except Exception:
                log.exception("on_change callback")

    def _report(self, track: Track, error: MediaError) -> None:
        log.warning("skipping %s: %s", track.path, error.message)
        if self._on_error is not None:
            try:
                self._on_error(track, error)
            except Exception:
                log.exception("on_error callback")
