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

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.streams import MusicOutput
from assistant.core.errors import AudioDeviceError, MediaError
from assistant.media.decoder import Decoder, check_regular, reason
from assistant.media.names import shown, spoken_name

log = logging.getLogger(__name__)

CHUNK_S = 0.05
"""Audio handed to the output at a time; the player looks at pause/next/stop between chunks."""
DUCK_GAIN = 0.2
"""Volume while the assistant listens or speaks."""
RAMP_S = 0.05
"""Time a volume change takes, so ducking makes no click."""


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
        import av  # PyAV: imported when a track is first read, not by every command that imports the player

        try:
            check_regular(path)
            with av.open(str(path)) as container:
                tags = {k.lower(): v for k, v in container.metadata.items()}
                for stream in container.streams.audio[:1]:
                    tags.update({k.lower(): v for k, v in stream.metadata.items() if k.lower() not in tags})
                duration = container.duration / av.time_base if container.duration else None
        except (av.FFmpegError, OSError) as e:
            raise MediaError(f"{shown(Path(path).name)} cannot be read as audio: {reason(e)}") from e
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
