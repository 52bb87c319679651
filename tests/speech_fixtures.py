"""Speech rendered at test time, with Piper's joe voice or espeak-ng, as 16 kHz mono int16.

Used by the tests and the benchmarks, so both hear the same kind of audio.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from assistant.audio import SAMPLE_RATE
from assistant.audio.wav import read_wav, resample, write_wav

ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3")
HARD_ESPEAK_VOICES = ("en-gb-scotland", "en-029")
"""Voices tiny.en often mishears; the benchmarks include them, the exact-transcript tests do not."""


@functools.lru_cache(maxsize=1)
def _piper():  # type: ignore[no-untyped-def]
    from assistant.config import TtsConfig
    from assistant.models import resolve_piper_voice
    from assistant.speech.tts import Synthesizer

    # No sampling noise: a sentence renders to the same audio on every run, so a test that checks
    # what was heard does not depend on the draw (Piper's default noise made tiny.en hear
    # "Set a pause the timer" for "Set a pasta timer" now and then).
    return Synthesizer(resolve_piper_voice("en_US-joe-medium"), TtsConfig(noise_scale=0.0, noise_w_scale=0.0))


def piper(text: str) -> np.ndarray:
    synth = _piper()
    pcm = np.concatenate(list(synth.sentences(text)))
    return resample(pcm, synth.rate, SAMPLE_RATE)


def espeak(text: str, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
        return read_wav(path)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.int16)


def command(text: str, voice: str = "piper", pause_s: float = 0.5, lead_s: float = 0.5, tail_s: float = 1.5) -> np.ndarray:
    """ "Hey Jarvis.", a pause, then the request, all in one voice ("piper" or an espeak-ng voice)."""
    say = piper if voice == "piper" else functools.partial(espeak, voice=voice)
    return np.concatenate([silence(lead_s), say("Hey Jarvis."), silence(pause_s), say(text), silence(tail_s)])


def save(path: Path, *parts: np.ndarray) -> Path:
    write_wav(path, np.concatenate(parts), SAMPLE_RATE)
    return path


def with_noise(pcm: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """White noise at a signal-to-noise ratio measured over the voiced samples."""
    rng = np.random.default_rng(seed)
    signal = pcm.astype(np.float64)
    voiced = signal[np.abs(signal) > 300]
    power = float(np.mean(voiced**2)) if len(voiced) else 1.0
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(pcm))
    return np.clip(signal + noise, -32768, 32767).astype(np.int16)


def words(text: str) -> str:
    """A transcript as its words alone: lower case, no punctuation ("Wi-Fi?" → "wifi"), to compare
    what was heard with what was said."""
    return re.sub(r"[^a-z0-9 ]", "", text.lower())
