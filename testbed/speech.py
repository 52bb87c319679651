"""Speech rendered at test time, with Piper's joe voice or espeak-ng, as 16 kHz mono int16.

Used by the tests and the benchmarks, so both hear the same kind of audio. `hearing_clip` renders one
clip of the hearing set (scripts/bench/hearing.py): a voice of `HEARING_VOICES` in a room of
`CONDITIONS` (testbed/acoustics.py), cached on disk by a hash of everything that made it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.audio import SAMPLE_RATE
from assistant.audio.wav import read_wav, resample, write_wav

ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3")
HARD_ESPEAK_VOICES = ("en-gb-scotland", "en-029")
"""Voices tiny.en often mishears; the benchmarks include them, the exact-transcript tests do not."""


PIPER_SPEEDS = {"piper": 1.0, "piper-fast": 0.8, "piper-slow": 1.25}
"""Piper's joe voice at three speeds (its length_scale: more is slower)."""


@functools.lru_cache(maxsize=len(PIPER_SPEEDS))
def _piper(length_scale: float = 1.0):  # type: ignore[no-untyped-def]
    from assistant.core.config import TtsConfig
    from assistant.core.models import resolve_piper_voice
    from assistant.speech.tts import Synthesizer

    # No sampling noise: a sentence renders to the same audio on every run, so a test that checks
    # what was heard does not depend on the draw (Piper's default noise made tiny.en hear
    # "Set a pause the timer" for "Set a pasta timer" now and then).
    return Synthesizer(
        resolve_piper_voice("en_US-joe-medium"),
        TtsConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0),
    )


def piper(text: str, length_scale: float = 1.0) -> np.ndarray:
    synth = _piper(length_scale)
    pcm = np.concatenate(list(synth.sentences(text)))
    return resample(pcm, synth.rate, SAMPLE_RATE)


@functools.lru_cache(maxsize=1)
def espeak_variants() -> frozenset[str]:
    """The names espeak-ng knows after "+" ("m1", "linda", "Andy"): its variant files, case and all."""
    listing = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    return frozenset(re.findall(r"!v/(\S+)", listing))


def espeak(text: str, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    """`text` in an espeak-ng voice. A variant espeak-ng does not have is refused: espeak-ng itself
    falls back to the plain voice without a word ("+Linda" spoke as "en-us"; the variant is "linda")."""
    _, plus, variant = voice.partition("+")
    if plus and variant not in espeak_variants():
        raise ValueError(f"espeak-ng has no voice variant {variant!r}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
        return read_wav(path)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.int16)


def speak(text: str, voice: str = "piper") -> np.ndarray:
    """`text` in a voice: one of PIPER_SPEEDS, or an espeak-ng voice ("en-gb-scotland+f3")."""
    if voice in PIPER_SPEEDS:
        return piper(text, PIPER_SPEEDS[voice])
    return espeak(text, voice)


def command(
    text: str, voice: str = "piper", pause_s: float = 0.5, lead_s: float = 0.5, tail_s: float = 1.5
) -> np.ndarray:
    """ "Hey Jarvis.", a pause, then the request, all in one voice (see `speak`)."""
    return np.concatenate(
        [silence(lead_s), speak("Hey Jarvis.", voice), silence(pause_s), speak(text, voice), silence(tail_s)]
    )


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


# --- the hearing set: voices, rooms, one cached clip each (scripts/bench/hearing.py) -------------

HEARING_VOICES = (
    "piper",
    "piper-fast",
    "piper-slow",
    "en-us+m3",
    "en-us+f3",
    "en-gb+m1",
    "en-gb+f2",
    "en-029+m2",
    "en-029+f4",
    "en-gb-scotland+m4",
    "en-gb-scotland+f3",
)
"""Piper at three speeds, and espeak-ng's American, British, Caribbean and Scottish English, each
with a male and a female variant."""

NOISES = ("babble", "fan", "kitchen")
CONDITIONS = ("clean", "reverb", *(f"{noise}-{snr}" for noise in NOISES for snr in (15, 10, 5)), "far", "phone")
"""clean; a reverberant room; speech babble, a fan or a kitchen at 15, 10 or 5 dB SNR; far from the
microphone (20 dB quieter, more reverb); a phone's band, said into the phone page's push-to-talk
(no wake word: the button is one)."""

KINDS = ("speech", "silence", "cough", "no_wake")
BABBLE_CLIP_S = 16.0
"""A clip in babble lasts at least this long, the talk going on after the request: a microphone never
stops, and in babble the end of speech may only come when the utterance reaches its longest
(vad.max_utterance_s, 12 s), as it would at home with the television on. (In the other rooms the
end of speech comes within a second of the request, so their clips end 1.5 s after it.)"""
SPEECH_LEVEL_DB = -26.0
"""Every clip's speech is brought to this active level (dBFS) before its room, as a microphone's
gain would; noise and the far talker's drop are relative to it."""

ORDINARY = (
    "I think we should leave around eight if the traffic is bad.",
    "Did you remember to buy milk on the way home?",
    "The kids have football practice on Thursday after school.",
    "Can you pass me the salt, please?",
    "That film last night was much better than I expected.",
    "We're out of coffee again, I'll get some tomorrow.",
    "Your mother called while you were in the shower.",
    "The weather forecast says it will rain all weekend.",
    "Put your shoes by the door, not in the middle of the hall.",
    "I'll be home late tonight, there's a meeting at six.",
    "Have you seen my keys anywhere? I left them on the table.",
    "The dog needs a walk before it gets dark.",
    "Let's have pasta for dinner, it's quick and everyone likes it.",
    "Hey, Travis, are you coming to the party on Saturday?",
    "Harvey says the garage door is stuck again.",
    "Hey there, darling, how was your day?",
    "Jars of jam are on the top shelf in the pantry.",
    "He was jealous of his brother's new bicycle.",
    "The service at that restaurant was terribly slow.",
    "Turn the page and read the next chapter out loud.",
)
"""Household talk with no wake word in it (a few sound like it: "Hey, Travis", "Harvey", "jars"), for
babble and for counting false wakes."""


def _cache_dir() -> Path:
    root = os.environ.get("ASSISTANT_SPEECH_CACHE") or Path.home() / ".cache" / "assistant" / "speech"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    """The rendering code itself: a change to it renders everything anew."""
    from testbed import acoustics

    digest = hashlib.sha256(Path(__file__).read_bytes() + Path(acoustics.__file__).read_bytes())
    return digest.hexdigest()[:16]


def cached(parts: tuple[object, ...], make: Callable[[], np.ndarray]) -> np.ndarray:
    """What make() renders, kept on disk under a hash of `parts` (and of the rendering code, for all
    but plain speech: parts beginning with "say")."""
    version = "" if parts[0] == "say" else _code_version()
    key = hashlib.sha256(json.dumps([version, *parts]).encode()).hexdigest()[:24]
    path = _cache_dir() / f"{key}.npy"
    if path.exists():
        try:
            return np.load(path)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    pcm = make()
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, pcm)
    tmp.replace(path)
    return pcm


def foreign(voice: str, lang: str) -> str:
    """The espeak-ng voice for another language, keeping the voice's male or female variant."""
    variant = voice.partition("+")[2] if voice not in PIPER_SPEEDS else "m3"
    return f"{lang}+{variant}" if variant else lang


def talkers() -> list[np.ndarray]:
    """The ordinary sentences, each in several voices: the people in a babble."""
    voices = ("piper", "en-us+f3", "en-gb+m1", "en-029+f4", "en-gb-scotland+m4")
    return [
        cached(("say", text, voice), functools.partial(speak, text, voice)) for voice in voices for text in ORDINARY
    ]


def cough(seed: int) -> np.ndarray:
    """Two or three coughs: bursts of breathy noise with a sharp onset and a fast decay."""
    from testbed import acoustics

    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(int(rng.integers(2, 4))):
        n = int(rng.uniform(0.2, 0.35) * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        burst = acoustics.fan_noise(n, int(rng.integers(1 << 30))) * 0.3 + rng.normal(size=n)
        envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / rng.uniform(0.05, 0.1))
        parts += [burst * envelope * 8000, np.zeros(int(rng.uniform(0.1, 0.25) * SAMPLE_RATE))]
    return np.clip(np.concatenate(parts), -32767, 32767).astype(np.int16)


def at_level(pcm: np.ndarray, level_db: float) -> np.ndarray:
    from testbed import acoustics

    mask = acoustics.active(pcm)
    power = acoustics.active_power(pcm, mask)
    if power <= 0:
        return pcm
    gain = 10 ** ((level_db - 10 * np.log10(power / 32768.0**2)) / 20)
    return np.clip(np.round(pcm.astype(np.float64) * gain), -32767, 32767).astype(np.int16)


def dry_clip(
    text: str, voice: str, kind: str = "speech", lang: str | None = None, push_to_talk: bool = False, seed: int = 0
) -> np.ndarray:
    """The clip before its room: "Hey Jarvis.", a pause and the request (`kind` speech), the wake
    word then nothing (silence) or a cough, or the words alone (no_wake, push_to_talk), at
    SPEECH_LEVEL_DB."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {KINDS}")
    say = functools.partial(speak, text, foreign(voice, lang) if lang else voice)
    body = {
        "speech": lambda: cached(("say", text, voice, lang), say),
        "no_wake": lambda: cached(("say", text, voice, lang), say),
        "silence": lambda: silence(0.3 if push_to_talk else 5.5),
        "cough": lambda: cough(seed),
    }[kind]()
    wake = kind != "no_wake" and not push_to_talk
    head = (
        [
            silence(0.5),
            cached(("say", "Hey Jarvis.", voice), functools.partial(speak, "Hey Jarvis.", voice)),
            silence(0.5),
        ]
        if wake
        else [silence(0.3 if push_to_talk else 0.5)]
    )
    if kind == "cough":
        body = np.concatenate([body, silence(4.0)])  # the cough and nothing else: no request follows
    tail = silence(0.3 if push_to_talk else 1.5)
    return at_level(np.concatenate([*head, body, tail]), SPEECH_LEVEL_DB)


def in_condition(pcm: np.ndarray, condition: str, seed: int = 0) -> np.ndarray:
    """`pcm` heard in one of CONDITIONS."""
    from testbed import acoustics

    if condition == "clean":
        return pcm
    if condition == "reverb":
        return acoustics.reverb(pcm, rt60_s=0.6, seed=seed)
    if condition == "far":
        return acoustics.far(pcm, seed=seed)
    if condition == "phone":
        return acoustics.phone_band(pcm)
    noise, _, snr = condition.partition("-")
    if noise not in NOISES or not snr.isdigit():
        raise ValueError(f"unknown condition {condition!r}: one of {CONDITIONS}")
    n = len(pcm)
    made = {
        "babble": lambda: acoustics.babble_noise(n, talkers(), seed),
        "fan": lambda: acoustics.fan_noise(n, seed),
        "kitchen": lambda: acoustics.kitchen_noise(n, seed),
    }[noise]()
    return acoustics.mix(pcm, made, float(snr))


def hearing_clip(
    text: str, voice: str, condition: str, seed: int = 0, kind: str = "speech", lang: str | None = None
) -> np.ndarray:
    """One clip of the hearing set, rendered once and then read from the cache."""

    def make() -> np.ndarray:
        dry = dry_clip(text, voice, kind, lang, push_to_talk=condition == "phone", seed=seed)
        if condition.startswith("babble"):
            dry = np.concatenate([dry, silence(max(0.0, BABBLE_CLIP_S - len(dry) / SAMPLE_RATE))])
        return in_condition(dry, condition, seed)

    return cached(("clip", text, voice, condition, seed, kind, lang), make)
