"""The music player against real files: tones made with sox (FLAC, OGG/Vorbis) and PyAV (MP3, M4A/AAC),
played into WAV files paced like a device, told apart in the recording by their frequency.
One test plays through a private PulseAudio null sink with the real speaker output."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from assistant.audio.streams import SpeakerOutput, WavOutput
from assistant.audio.wav import read_wav
from assistant.core.errors import AudioDeviceError, MediaError
from assistant.media.decoder import Decoder
from assistant.media.player import MusicPlayer, NowPlaying, Track
from testbed.harness import WAIT_S, wait_for
from testbed.pulse import private_pulseaudio

RATE = 44100  # the outputs' rate; read_wav brings recordings to 16 kHz mono
HEARD = 16000
TONES = {"flac": 440, "ogg": 660, "mp3": 880, "m4a": 1100}
AT_ONCE_S = 1.0
"""What "returns at once" allows on a busy machine: half a track, where waiting for it would take 2 s."""


def _encode(path: Path, codec: str, hz: int, rate: int, seconds: float) -> None:
    """sox writes no MP3 or AAC here: encode those with PyAV."""
    t = np.arange(int(rate * seconds)) / rate
    frame = av.AudioFrame.from_ndarray(
        (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None, :], format="flt", layout="mono"
    )
    frame.rate = rate
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Track]:
    """2 s tones, a different frequency, rate and channel count per format, and a corrupt file."""
    d = tmp_path_factory.mktemp("music")
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            "--comment",
            "Title=Blue in Green",
            "--add-comment",
            "Artist=Miles Davis",
            "--add-comment",
            "Album=Kind of Blue",
            str(d / "440.flac"),
            "synth",
            "2",
            "sine",
            "440",
            "vol",
            "0.5",
        ],
        check=True,
    )
    subprocess.run(
        ["sox", "-n", "-r", "48000", "-c", "1", str(d / "660.ogg"), "synth", "2", "sine", "660", "vol", "0.5"],
        check=True,
    )
    _encode(d / "880.mp3", "libmp3lame", 880, 22050, 2.0)
    _encode(d / "1100.m4a", "aac", 1100, 44100, 2.0)
    (d / "corrupt.flac").write_bytes(b"fLaC" + bytes(range(256)) * 64)
    found = {kind: Track(d / f"{hz}.{kind}") for kind, hz in TONES.items()}
    return {**found, "corrupt": Track(d / "corrupt.flac"), "missing": Track(d / "missing.mp3")}


class Watch:
    """Collects what the player reports, and waits for a state."""

    def __init__(self) -> None:
        self.changes: list[NowPlaying] = []
        self.errors: list[tuple[Track, MediaError]] = []
        self.outputs: list[WavOutput] = []
        self._cond = threading.Condition()

    def on_change(self, state: NowPlaying) -> None:
        with self._cond:
            self.changes.append(state)
            self._cond.notify_all()

    def on_error(self, track: Track, error: MediaError) -> None:
        with self._cond:
            self.errors.append((track, error))

    def until(self, predicate: Callable[[NowPlaying], bool], timeout: float = WAIT_S) -> NowPlaying:
        with self._cond:
            ok = self._cond.wait_for(lambda: self.changes and predicate(self.changes[-1]), timeout)
        assert ok, f"timed out; changes so far: {self.changes}"
        return self.changes[-1]

    def titles(self) -> list[str | None]:
        out: list[str | None] = []
        for c in self.changes:
            title = c.track.title if c.track else None
            if not out or out[-1] != title:
                out.append(title)
        return out


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def player(watch: Watch, tmp_path: Path) -> Iterator[MusicPlayer]:
    def output() -> WavOutput:
        out = WavOutput(tmp_path / f"played{len(watch.outputs)}.wav", RATE, 2, realtime=True)
        watch.outputs.append(out)
        return out

    p = MusicPlayer(output, on_change=watch.on_change, on_error=watch.on_error)
    yield p
    p.close()


def heard(player: MusicPlayer, seconds: float) -> tuple[NowPlaying, float]:
    """Waits until `seconds` of the current track have been heard (the outputs are paced like a
    device); returns the state then and the monotonic time it was read at."""

    def now() -> tuple[NowPlaying, float] | None:
        state = player.now_playing()
        return (state, time.monotonic()) if state.position_s >= seconds else None

    return wait_for(now, what=f"{seconds} s of the track heard")


def sounding(pcm: np.ndarray, n: int) -> list[float]:
    """The RMS of each n samples."""
    return [float(np.sqrt(np.mean(pcm[i : i + n].astype(np.float64) ** 2))) for i in range(0, len(pcm) - n + 1, n)]


def tone_runs(pcm: np.ndarray, window_s: float = 0.05) -> list[tuple[int, float]]:
    """The recording as (frequency, seconds) runs: each window named by its strongest known tone.
    A window that is partly silent (where a recording starts, or at the edge of an underrun on a busy
    machine) is left out with the silence: its spectrum names no tone."""
    n = int(HEARD * window_s)
    freqs = np.fft.rfftfreq(n, 1 / HEARD)
    runs: list[list] = []
    for start in range(0, len(pcm) - n + 1, n):
        block = pcm[start : start + n].astype(np.float64)
        if min(sounding(block, n // 5)) < 300:
            continue
        peak = freqs[np.argmax(np.abs(np.fft.rfft(block * np.hanning(n))))]
        hz = min(TONES.values(), key=lambda f: abs(f - peak))
        assert abs(hz - peak) < 60, f"a window at {start / HEARD:.2f} s peaks at {peak} Hz, no known tone"
        if runs and runs[-1][0] == hz:
            runs[-1][1] += window_s
        else:
            runs.append([hz, window_s])
    return [(hz, round(s, 3)) for hz, s in runs]


def test_queue_plays_in_order_and_skips_a_corrupt_file(
    player: MusicPlayer, watch: Watch, tracks: dict[str, Track]
) -> None:
    queue = [tracks["flac"], tracks["corrupt"], tracks["ogg"], tracks["mp3"]]
    started = time.monotonic()
    player.play(queue)
    assert time.monotonic() - started < AT_ONCE_S, "play() returns at once"
    assert player.now_playing() == NowPlaying(tracks["flac"], 0.0, False, 3)

    watch.until(lambda s: s.track is None)
    assert watch.titles() == ["440", "660", "880", None]
    [(bad, error)] = watch.errors
    assert bad == tracks["corrupt"] and "corrupt.flac" in error.message and "\n" not in error.message
    assert [c.queue_left for c in watch.changes if c.track] == [3, 1, 0]

    [out] = watch.outputs
    wait_for(lambda: out.closed, what="the last track's buffered tail played out, then the output closed")
    runs = tone_runs(read_wav(out.path))
    assert [hz for hz, _ in runs] == [440, 660, 880], runs
    assert all(abs(s - 2.0) < 0.1 for _, s in runs), runs
    assert player.now_playing() == NowPlaying(None, 0.0, False, 0)


def test_next_cuts_within_0_3_s_positions_and_stop(player: MusicPlayer, watch: Watch, tracks: dict[str, Track]) -> None:
    player.play([tracks["flac"], tracks["ogg"], tracks["mp3"]])
    early, early_at = heard(player, 0.2)
    state, state_at = heard(player, 1.0)
    assert state.track == tracks["flac"] and state.queue_left == 2 and not state.paused
    drift = (state.position_s - early.position_s) - (state_at - early_at)
    assert abs(drift) < 0.3, f"the position ran {drift:+.2f} s off the clock"

    at_next = player.now_playing().position_s
    assert player.next() == tracks["ogg"]
    assert player.now_playing().track == tracks["ogg"], "next() is seen at once"
    assert watch.until(lambda s: s.track == tracks["ogg"]).position_s < 0.1, "from the start of the next track"
    state, _ = heard(player, 0.8)
    assert state.track == tracks["ogg"] and state.queue_left == 1

    at_stop = player.now_playing().position_s
    player.stop()
    assert watch.until(lambda s: s.track is None) == NowPlaying(None, 0.0, False, 0)
    assert player.now_playing() == NowPlaying(None, 0.0, False, 0)
    wait_for(lambda: watch.outputs[0].closed, what="the output closed")
    runs = tone_runs(read_wav(watch.outputs[0].path))
    assert [hz for hz, _ in runs] == [440, 660], runs
    # Heard up to next() and stop(), plus at most the buffer and a chunk: what a slow machine does
    # not change, since the player writes no faster than the output plays.
    assert at_next - 0.1 <= runs[0][1] <= at_next + 0.3, (
        f"the first track went on {runs[0][1] - at_next:.2f} s after next()"
    )
    assert at_stop - 0.1 <= runs[1][1] <= at_stop + 0.3, (
        f"the second track went on {runs[1][1] - at_stop:.2f} s after stop()"
    )
    assert player.next() is None


def test_pause_holds_the_output_and_resume_continues_where_it_was(
    player: MusicPlayer, watch: Watch, tracks: dict[str, Track]
) -> None:
    player.play([tracks["m4a"]])
    heard(player, 0.8)
    before = player.now_playing().position_s
    player.pause()
    out = watch.outputs[0]
    at_pause = out.frames_written
    assert watch.until(lambda s: s.paused).track == tracks["m4a"]  # told once the player has stopped writing
    held = out.frames_written
    assert (held - at_pause) / RATE <= 0.06, "at most the chunk being written when pause() came"
    wait_for(lambda: out.buffered_s() == 0, what="the audio buffered at the pause played out")
    state = player.now_playing()
    assert state.paused and before <= state.position_s <= before + 0.3, (before, state)
    time.sleep(0.5)  # the absence under test: half a second in which nothing may be written
    assert out.frames_written == held, "nothing is written while paused"
    later = player.now_playing()
    assert later.paused and later.position_s == pytest.approx(state.position_s, abs=0.01), (state, later)

    player.resume()
    watch.until(lambda s: s.track is None)
    wait_for(lambda: out.closed, what="the output closed")
    reference = Decoder(tracks["m4a"].path, RATE, 2, 4096)
    expected = (np.clip(np.concatenate(list(reference)), -1, 1) * 32767).astype("<i2")
    reference.close()
    with wave.open(str(out.path)) as w:
        played = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert np.array_equal(played, expected), "every sample once, in order, across the pause"
    assert [c.paused for c in watch.changes if c.track] == [False, True, False]


def test_duck_ramps_to_a_fifth_and_back(player: MusicPlayer, watch: Watch, tracks: dict[str, Track]) -> None:
    player.play([tracks["flac"]])
    heard(player, 0.6)
    ducked_at = player.now_playing().position_s
    player.duck(True)
    heard(player, ducked_at + 0.6)
    ducked_s = player.now_playing().position_s - ducked_at
    player.duck(False)
    watch.until(lambda s: s.track is None)
    wait_for(lambda: watch.outputs[0].closed, what="the output closed")
    pcm = read_wav(watch.outputs[0].path).astype(np.float64)
    n = int(HEARD * 0.02)
    rms = np.array([np.sqrt(np.mean(pcm[i : i + n] ** 2)) for i in range(0, len(pcm) - n + 1, n)])
    full = np.median(rms[2:20])
    low = rms < 0.5 * full
    assert abs(np.median(rms[low]) / full - 0.2) < 0.05
    assert abs(low.sum() * 0.02 - ducked_s) < 0.15, f"ducked for {low.sum() * 0.02:.2f} s of {ducked_s:.2f} s"
    assert abs(np.median(rms[-15:-2]) / full - 1.0) < 0.05, "restored"
    assert np.max(np.abs(np.diff(rms[1:-1]))) < 0.45 * full, "ramped, no jump"


def test_missing_file_skipped_and_tags_read(tmp_path: Path, watch: Watch, tracks: dict[str, Track]) -> None:
    out = tmp_path / "fast.wav"
    before = set(threading.enumerate())
    player = MusicPlayer(lambda: WavOutput(out, 22050, 1), watch.on_change, watch.on_error)
    assert set(threading.enumerate()) == before, "no thread until there is something to play"
    player.enqueue([tracks["missing"], tracks["mp3"]])
    watch.until(lambda s: s.track is None)
    player.close()
    player.close()
    assert not any(t.name == "music-player" and t.is_alive() for t in set(threading.enumerate()) - before)
    [(missing, error)] = watch.errors
    assert missing.title == "missing" and "missing.mp3" in error.message
    assert [hz for hz, _ in tone_runs(read_wav(out))] == [880]

    tagged = Track.from_file(tracks["flac"].path)
    assert (tagged.title, tagged.artist, tagged.album) == ("Blue in Green", "Miles Davis", "Kind of Blue")
    assert tagged.duration_s == pytest.approx(2.0, abs=0.05)
    assert Track.from_file(tracks["ogg"].path).title == "660"
    with pytest.raises(MediaError, match="corrupt.flac"):
        Track.from_file(tracks["corrupt"].path)


def test_unknown_speaker_is_a_clear_error() -> None:
    with pytest.raises(AudioDeviceError, match="no-such-speaker"):
        SpeakerOutput("no-such-speaker")


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio whose default sink, `speaker`, is a 44.1 kHz stereo null sink."""
    with private_pulseaudio(tmp_path, {"speaker": (44100, 2)}) as env:
        yield env


PLAY_ON_SPEAKER = textwrap.dedent("""
    import sys, threading
    from assistant.audio.streams import SpeakerOutput
    from assistant.media.player import MusicPlayer, Track
    from testbed.harness import WAIT_S, wait_for
    idle = threading.Event()
    speakers = []
    player = MusicPlayer(lambda: speakers.append(SpeakerOutput(rate=44100, channels=2)) or speakers[-1],
                         on_change=lambda s: s.track is None and idle.set(),
                         on_error=lambda t, e: print("ERROR", e.message, file=sys.stderr))
    player.play([Track(sys.argv[1])])
    assert idle.wait(WAIT_S), "the track did not end"
    wait_for(lambda: speakers[-1].closed, what="the tail played out")  # then the player closes the speaker
    player.close()
""")


def recording(env: dict[str, str]) -> bool:
    """parecord's stream is connected to the server: what is played from now on is recorded."""
    listed = subprocess.run(["pactl", "list", "short", "source-outputs"], env=env, capture_output=True, text=True)
    return bool(listed.stdout.strip())


@pytest.mark.pulseaudio
def test_speaker_output_through_pulseaudio(pulse: dict[str, str], tracks: dict[str, Track], tmp_path: Path) -> None:
    # A child process, so that PortAudio starts with this private server's environment.
    recorded = tmp_path / "heard.wav"
    recorder = subprocess.Popen(
        [
            "parecord",
            "--device=speaker.monitor",
            "--rate=44100",
            "--channels=2",
            "--format=s16le",
            "--file-format=wav",
            str(recorded),
        ],
        env=pulse,
    )
    try:
        wait_for(lambda: recording(pulse), what="parecord recording")
        done = subprocess.run(
            [sys.executable, "-c", PLAY_ON_SPEAKER, str(tracks["flac"].path)],
            env=pulse,
            capture_output=True,
            text=True,
            timeout=2 * WAIT_S,
        )
    finally:
        recorder.terminate()
        recorder.wait(10)
    assert done.returncode == 0 and "ERROR" not in done.stderr, done.stderr
    pcm = read_wav(recorded)
    runs = tone_runs(pcm)
    assert [hz for hz, _ in runs] == [440], runs
    # Timed in 10 ms blocks: a busy machine may leave gaps (underruns), and the track is all heard.
    heard_s = sum(rms > 300 for rms in sounding(pcm, HEARD // 100)) / 100
    assert abs(heard_s - 2.0) < 0.15, (heard_s, runs)
