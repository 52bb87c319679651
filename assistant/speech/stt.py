"""Speech-to-text with faster-whisper (CTranslate2)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.core.config import SttConfig
from assistant.core.errors import TranscribeError
from assistant.core.models import ResolvedModel


@dataclass(frozen=True)
class SpeechHints:
    """What the decoder should expect. Whisper follows a prompt of whole sentences much better than
    a list of words: on 240 rendered commands tiny.en heard 51 % exactly with the live names as
    hotwords, 75 % with sentences the skills declare as the prompt and beam 2 (scripts/bench)."""

    prompt: str = ""
    """Sentences like the ones people say to the assistant."""
    hotwords: list[str] = field(default_factory=list)
    """Names that matter now (live timer names)."""

    def hotword_text(self) -> str | None:
        """The hotwords as faster-whisper takes them (None: none)."""
        return " ".join(self.hotwords) if self.hotwords else None


log = logging.getLogger(__name__)

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
"""A window whose no-speech probability is over NO_SPEECH_PROB and whose reading averages under
LOW_LOGPROB per token holds no speech (faster-whisper's defaults)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def without_echo(text: str) -> str:
    """Whisper sometimes writes a short command twice ("Turn off the light. Turn off the light.")
    on audio that holds it once; a transcript that is one sentence repeated is that sentence."""
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    if len(sentences) > 1 and len({s.strip(".!? ").lower() for s in sentences}) == 1:
        return sentences[0]
    return text


@dataclass(frozen=True)
class Heard:
    """What speech-to-text made of one request: its best reading, and a way to the next likeliest
    ones for when the best means nothing to the templates."""

    text: str
    others: Callable[[], list[str]] | None = None
    """The next likeliest readings, best first (decoded on demand from the kept encoder output:
    about 0.15 s, paid only by a request the templates did not take)."""
    score: Callable[[list[str], bool], list[list[float]]] | None = None
    """The log-probability of each token of each given sentence on this audio, teacher-forced on the
    kept encoder output (closed-vocabulary hearing). The flag: on the whole 30 s window (slower,
    a few points surer) rather than on the audio alone."""
    confidence: float = 1.0
    """exp of the best reading's mean log-probability per token: how sure speech-to-text is of it."""

    def reworded(self, change: Callable[[str], str]) -> Heard:
        """The same readings, each passed through `change` (the wake phrase taken off, say)."""
        others = self.others
        return Heard(
            change(self.text), (lambda: [change(t) for t in others()]) if others else None, self.score, self.confidence
        )


WINDOW_FRAMES = 3000
"""Whisper's 30 s window, in feature frames."""
ENCODER_FRAMES = 1500
"""The encoder's output for one window: one frame per 20 ms."""
SAMPLES_PER_ENCODER_FRAME = 320
TRUNCATE_MARGIN_FRAMES = 25
"""Scoring on the encoder output of the audio alone, plus 0.5 s: about 8 times cheaper than on the
whole window (SPEECH-PROBE.md), with the best few re-scored on the whole window."""


class Transcriber:
    """faster-whisper's model, driven one 30 s window at a time for a request (every spoken request
    fits one; longer audio takes faster-whisper's own path): that keeps the encoder's output, so the
    n-best readings cost one more decode instead of another transcription."""

    def __init__(self, model: ResolvedModel, config: SttConfig, within: float = 0.25) -> None:
        """within: how far below the best reading's log-probability per token another reading may be
        and still be offered (0.5 let "Turn off every timer." become "Turn off the timer.")."""
        from faster_whisper import WhisperModel
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.config = config
        self._pad = pad_or_trim
        self.alternatives = config.alternatives
        self.within = within
        try:
            self._model = WhisperModel(
                str(model.path),
                device=config.device,
                compute_type=config.compute_type,
                cpu_threads=config.cpu_threads,
            )
        except Exception as e:
            raise TranscribeError(f"speech-to-text model {model.path} could not be loaded: {e}") from e
        language = config.language or "en"
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            self._model.model.is_multilingual,
            task="transcribe",
            language=language if self._model.model.is_multilingual else "en",
        )
        self._suppress = list(get_suppressed_tokens(self._tokenizer, (-1,)))

    def transcribe(self, pcm: np.ndarray, hints: SpeechHints | None = None) -> str:
        """int16 16 kHz mono → text, the decoder biased by `hints`."""
        return self.hear(pcm, hints).text

    def hear(self, pcm: np.ndarray, hints: SpeechHints | None = None) -> Heard:
        """int16 16 kHz mono → the best reading, and the next likeliest on demand."""
        audio = pcm.astype(np.float32) / 32768.0
        hints = hints or SpeechHints()
        try:
            features = self._model.feature_extractor(audio)
            frames = features.shape[-1] - 1  # the extractor's padding frame, as faster-whisper drops it
            if frames > WINDOW_FRAMES:
                return Heard(self._long(audio, hints))
            encoded = self._model.encode(self._pad(features[:, :frames], WINDOW_FRAMES))
            prompt = self._prompt(hints)
            # Closed-vocabulary hearing always wants the next likeliest readings: one beam search
            # gives them with the best for less than two searches.
            together = self.config.closed_vocabulary and self.alternatives > 1
            if together:
                result = self._decode(encoded, prompt, max(self.config.beam_size, self.alternatives), self.alternatives)
            else:
                result = self._decode(encoded, prompt, self.config.beam_size, 1)
        except Exception as e:
            raise TranscribeError(f"speech-to-text failed: {e}") from e
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOW_LOGPROB:
            return Heard("")  # Whisper's own test for a window without speech
        best = without_echo(self._tokenizer.decode(tokens).strip())
        sure = round(math.exp(min(0.0, avg_logprob)), 3)
        score = self._scorer(encoded, len(audio))
        if not self.alternatives:
            return Heard(best, None, score, sure)
        if together:
            readings = self._readings(result, best)
            return Heard(best, lambda: readings, score, sure)

        def others() -> list[str]:
            try:
                more = self._decode(encoded, prompt, self.alternatives, self.alternatives)
            except Exception:  # the best reading still stands, for the LLM to take
                log.exception("speech-to-text: the next likeliest readings could not be decoded")
                return []
            return self._readings(more, best)

        return Heard(best, others, score, sure)

    def _readings(self, result: Any, best: str) -> list[str]:
        """The n-best readings other than `best`, within `within` of the top one's score."""
        top = result.scores[0] if result.scores else 0.0
        out: list[str] = []
        for ids, score in zip(result.sequences_ids, result.scores, strict=False):
            text = without_echo(self._tokenizer.decode(ids).strip())
            if score >= top - self.within and text and text != best and text not in out:
                out.append(text)
        return out

    def _scorer(self, encoded: Any, samples: int) -> Callable[[list[str], bool], list[list[float]]]:
        """Scores sentences on this request's encoder output (see Heard.score)."""
        import ctranslate2

        start = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        frames = min(ENCODER_FRAMES, int(samples / SAMPLES_PER_ENCODER_FRAME) + TRUNCATE_MARGIN_FRAMES)
        memory: dict[bool, Any] = {}

        def window(full: bool) -> Any:
            if full not in memory:
                array = np.asarray(encoded)  # (1, 1500, width) on the CPU
                memory[full] = array if full else np.ascontiguousarray(array[:, :frames])
            return memory[full]

        def score(texts: list[str], full: bool = False) -> list[list[float]]:
            if not texts:
                return []
            tokens = [self._tokenizer.encode(" " + t.strip()) for t in texts]
            batch = ctranslate2.StorageView.from_array(np.repeat(window(full), len(texts), axis=0))
            try:
                results = self._model.model.align(batch, start, tokens, (ENCODER_FRAMES if full else frames) * 2)
            except Exception as e:
                raise TranscribeError(f"speech-to-text could not score sentences: {e}") from e
            return [[math.log(max(p, 1e-12)) for p in r.text_token_probs] for r in results]

        return score

    def _prompt(self, hints: SpeechHints) -> list[int]:
        previous = self._tokenizer.encode(" " + hints.prompt.strip()) if hints.prompt else []
        prompt: list[int] = self._model.get_prompt(
            self._tokenizer, previous, without_timestamps=True, hotwords=hints.hotword_text()
        )
        return prompt

    def _decode(self, encoded: Any, prompt: list[int], beam: int, hypotheses: int) -> Any:
        search: dict[str, Any] = {"beam_size": beam, "num_hypotheses": hypotheses, "patience": 1.0}
        if self.config.temperature > 0 and hypotheses == 1:
            search = {"beam_size": 1, "sampling_topk": 0, "sampling_temperature": self.config.temperature}
        return self._model.model.generate(
            encoded,
            [prompt],
            length_penalty=1.0,
            max_length=self._model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
            **search,
        )[0]

    def _long(self, audio: np.ndarray, hints: SpeechHints) -> str:
        """Audio over one window (a long dictation from the phone page): faster-whisper's segments."""
        segments, _ = self._model.transcribe(
            audio,
            language=self.config.language if self.config.language else None,
            beam_size=self.config.beam_size,
            temperature=self.config.temperature,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
            initial_prompt=hints.prompt or None,
            hotwords=hints.hotword_text(),
        )
        return without_echo(" ".join(s.text.strip() for s in segments).strip())

    def warm_up(self) -> None:
        """The first call is about twice as slow as later ones; pay it at start, not on a request.
        The first scoring of sentences is slower still (seconds): it too is paid here."""
        silence = np.zeros(16000, np.int16)
        self.hear(silence)
        if self.config.closed_vocabulary:
            features = self._model.feature_extractor(silence.astype(np.float32))
            score = self._scorer(self._model.encode(self._pad(features[:, :-1], WINDOW_FRAMES)), len(silence))
            score(["What time is it?"], False)
            score(["What time is it?"], True)
