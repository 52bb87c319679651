"""Who is speaking: a clip's speaker embedding, checked for what makes a voiceprint wrong (too little
speech, noise, two voices), and matched against the household's voiceprints.

Identification never guesses: a clip with under MIN_SPEECH_S of speech is nobody, and a voice is a
person only when it is near enough to their voiceprint (SAME_PERSON) and clearly nearer to it than to
anyone else's (MARGIN). The thresholds are measured by scripts/bench/people.py.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.wav import read_wav
from assistant.people.voiceprints import PeopleError, Person
from assistant.speech.speaker_encoder import SpeakerEncoder
from assistant.speech.vad import FRAME, SileroVad

RATE = 16000
MIN_SPEECH_S = 1.0
"""Less speech than this is too little to tell who spoke: such a request is nobody's."""
MIN_ENROL_SPEECH_S = 2.0
"""Each enrolment clip: a whole sentence read aloud."""
MIN_SNR_DB = 15.0
"""An enrolment clip noisier than this would teach the noise, not the voice."""
SAME_PERSON = 0.88
"""Cosine similarity to a voiceprint from which a voice may be that person. On the bench's voices the
same voice scored 0.90-0.93 clean (5th percentile, median), another's up to 0.93: espeak-ng's variants
of one voice are near twins to the encoder. 0.88 named 92 % of the clean clips right (100 % by the
nearest voiceprint alone) and no noisy clip wrongly (2026-12-06, scripts/bench/people.py)."""
MAYBE = 0.75
"""A voice this near an enrolled one, but not SAME_PERSON, may be them (a cold, a far microphone):
asked who it is before a tool for certain roles, never taken for them."""
MARGIN = 0.03
"""How much nearer to the best voiceprint than to the next a voice must be."""
ONE_VOICE = 0.7
"""Clips of one enrolment less alike than this are not one voice. On real voices (scripts/bench/
people_real.py, two 4 s requests of one council member's meeting, against two members') 0.6 took 44 %
of two people's pairs for one voice, 0.7 takes 8.8 % (two such pairs must pass in a three-clip
enrolment) and refuses 0.3 % of one person's; 0.75 would refuse 1.8 % (2026-12-08)."""
HALVES_ONE_VOICE = 0.7
"""The two halves of one enrolment clip less alike than this are two voices. On real voices
(scripts/bench/people_real.py, nine council members' 4 s requests) 0.6 took 23 % of two people's
speech joined for one voice and 0.7 took 0.7 %, while refusing 11 % of one person's requests (1.8 %
at 0.6; a refused clip is asked for again, with the reason). A clip read aloud is longer than those
requests, and longer speech is steadier."""
MAX_CLIP_BYTES = 50 * 1024 * 1024
MAX_CLIP_S = 120.0
"""A voice clip is a sentence or a request; a longer one is refused before it is decoded."""
PAD_FRAMES = 3
"""Frames of silence kept around speech, so words are not clipped (about 0.1 s)."""


@dataclass(frozen=True)
class Voice:
    """A clip's speaker embedding, or None when it holds too little speech."""

    embedding: np.ndarray | None
    speech_s: float


@dataclass(frozen=True)
class Identified:
    person: Person | None
    """None: unknown (a guest), or too little speech to tell."""
    score: float
    """The similarity to the nearest voiceprint (0 when there was nothing to compare)."""
    nearest: str | None = None
    """The nearest person's name, even when not sure enough to say it was them."""
    heard_enough: bool = True
    """False when the clip held too little speech to tell a voice by."""

    @property
    def maybe_someone(self) -> bool:
        """Nobody for sure, but perhaps an enrolled voice: near one, or too little speech to tell."""
        return self.person is None and (not self.heard_enough or self.score >= MAYBE)


def read_clip(path: Path) -> np.ndarray:
    """A WAV file as 16 kHz mono int16; a pipe, a socket, a device or a huge file is refused, never read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise PeopleError(f"{path}: no such file") from None
    except OSError as e:
        raise PeopleError(f"{path} cannot be read: {e.strerror or e}") from None
    if not stat.S_ISREG(info.st_mode):
        raise PeopleError(f"{path} is not a file (a folder, a pipe, a socket or a device): give a WAV file")
    if info.st_size > MAX_CLIP_BYTES:
        raise PeopleError(f"{path} is too large for a voice clip ({info.st_size // 2**20} MB); a few seconds will do")
    return read_wav(path, max_s=MAX_CLIP_S)


class Listener:
    """Speaker embeddings of what the household says (one per thread: the VAD keeps state)."""

    def __init__(self, encoder: SpeakerEncoder, vad: SileroVad) -> None:
        self.encoder = encoder
        self.vad = vad

    def speech(self, pcm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The speech of a clip (silences cut, as the encoder was trained) and the rest."""
        self.vad.reset()
        verdicts = np.array(self.vad.process(np.asarray(pcm, dtype=np.int16)), dtype=bool)
        if len(verdicts) == 0:
            return np.zeros(0, np.int16), np.asarray(pcm, np.int16)
        kept = verdicts.copy()
        for shift in range(1, PAD_FRAMES + 1):
            kept[shift:] |= verdicts[:-shift]
            kept[:-shift] |= verdicts[shift:]
        frames = np.asarray(pcm[: len(verdicts) * FRAME], np.int16).reshape(len(verdicts), FRAME)
        return frames[kept].reshape(-1), frames[~kept].reshape(-1)

    def voice(self, pcm: np.ndarray) -> Voice:
        """The speaker embedding of a request, or none when it holds under MIN_SPEECH_S of speech."""
        speech, rest = self.speech(pcm)
        seconds = len(speech) / RATE
        if seconds < MIN_SPEECH_S:
            return Voice(None, seconds)
        return Voice(self.encoder.embed(speech, RATE, noise=rest), seconds)

    def enrolment(self, pcm: np.ndarray, what: str) -> np.ndarray:
        """The embedding of one enrolment clip, or a PeopleError saying why the clip will not do."""
        speech, rest = self.speech(pcm)
        seconds = len(speech) / RATE
        if seconds < MIN_ENROL_SPEECH_S:
            raise PeopleError(
                f"{what} holds {seconds:.1f} s of speech; read a whole sentence aloud "
                f"(at least {MIN_ENROL_SPEECH_S:.0f} s of speech)"
            )
        snr = _snr_db(speech, rest)
        if snr < MIN_SNR_DB:
            raise PeopleError(
                f"{what} is too noisy to learn a voice from (speech only {snr:.0f} dB above the noise); "
                "record it somewhere quieter"
            )
        alike = self._halves_alike(speech, rest)
        if alike is not None and alike < HALVES_ONE_VOICE:
            raise PeopleError(f"{what} sounds like more than one voice; record one person alone")
        return self.encoder.embed(speech, RATE, noise=rest)

    def halves_alike(self, pcm: np.ndarray) -> float | None:
        """How alike the two halves of a clip's speech sound (None: too little speech to tell)."""
        return self._halves_alike(*self.speech(pcm))

    def _halves_alike(self, speech: np.ndarray, rest: np.ndarray) -> float | None:
        halves = [speech[: len(speech) // 2], speech[len(speech) // 2 :]]
        if min(len(h) for h in halves) / RATE < MIN_SPEECH_S:
            return None
        a, b = (self.encoder.embed(h, RATE, noise=rest) for h in halves)
        return float(a @ b)


def _snr_db(speech: np.ndarray, rest: np.ndarray) -> float:
    """Speech power over the power of what is not speech (the quietest tenth of the speech when the
    clip has almost no pause: a clip without silence is judged by its quietest stretches)."""
    voiced = float(np.mean(speech.astype(np.float64) ** 2)) + 1e-9
    if len(rest) >= RATE // 4:
        floor = float(np.mean(rest.astype(np.float64) ** 2))
    else:
        blocks = speech[: len(speech) // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
        power = np.sort(np.mean(blocks**2, axis=1))
        floor = float(np.mean(power[: max(1, len(power) // 10)]))
    return 10.0 * float(np.log10(voiced / (floor + 1e-9)))


def check_one_voice(embeddings: list[np.ndarray], names: list[str]) -> None:
    """Refuse an enrolment whose clips do not all sound like one person."""
    for i in range(len(embeddings)):
        for j in range(i + 1, len(embeddings)):
            if float(embeddings[i] @ embeddings[j]) < ONE_VOICE:
                raise PeopleError(f"{names[j]} does not sound like the same person as {names[i]}; record them again")


def identify(voice: Voice, people: list[Person]) -> Identified:
    """The person `voice` is, when sure; else nobody, with the nearest for the record."""
    if not people:
        return Identified(None, 0.0)
    if voice.embedding is None:
        return Identified(None, 0.0, heard_enough=False)
    scores = np.stack([p.voiceprint for p in people]) @ voice.embedding
    order = np.argsort(-scores)
    best = people[int(order[0])]
    score = float(scores[order[0]])
    runner_up = float(scores[order[1]]) if len(order) > 1 else -1.0
    sure = score >= SAME_PERSON and score - runner_up >= MARGIN
    return Identified(best if sure else None, round(score, 3), best.name)
