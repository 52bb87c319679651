"""Speech-to-text with faster-whisper (CTranslate2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.config import SttConfig
from assistant.errors import TranscribeError
from assistant.models import ResolvedModel


@dataclass(frozen=True)
class SpeechHints:
    """What the decoder should expect. Whisper follows a prompt of whole sentences much better than
    a list of words: on 240 rendered commands tiny.en heard 51 % exactly with the live names as
    hotwords, 75 % with sentences the skills declare as the prompt and beam 2 (scripts/bench)."""

    prompt: str = ""
    """Sentences like the ones people say to the assistant."""
    hotwords: list[str] = field(default_factory=list)
    """Names that matter now (live timer names)."""


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def without_echo(text: str) -> str:
    """Whisper sometimes writes a short command twice ("Turn off the light. Turn off the light.")
    on audio that holds it once; a transcript that is one sentence repeated is that sentence."""
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    if len(sentences) > 1 and len({s.strip(".!? ").lower() for s in sentences}) == 1:
        return sentences[0]
    return text


class Transcriber:
    def __init__(self, model: ResolvedModel, config: SttConfig) -> None:
        from faster_whisper import WhisperModel

        self.config = config
        try:
            self._model = WhisperModel(
                str(model.path), device=config.device, compute_type=config.compute_type,
                cpu_threads=config.cpu_threads,
            )
        except Exception as e:
            raise TranscribeError(f"speech-to-text model {model.path} could not be loaded: {e}") from e

    def transcribe(self, pcm: np.ndarray, hints: SpeechHints | None = None) -> str:
        """int16 16 kHz mono → text, the decoder biased by `hints`."""
        audio = pcm.astype(np.float32) / 32768.0
        hints = hints or SpeechHints()
        try:
            segments, _ = self._model.transcribe(
                audio,
                language=self.config.language if self.config.language else None,
                beam_size=self.config.beam_size,
                temperature=self.config.temperature,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
                initial_prompt=hints.prompt or None,
                hotwords=" ".join(hints.hotwords) if hints.hotwords else None,
            )
            return without_echo(" ".join(s.text.strip() for s in segments).strip())
        except Exception as e:
            raise TranscribeError(f"speech-to-text failed: {e}") from e

    def warm_up(self) -> None:
        """The first call is about twice as slow as later ones; pay it at start, not on a request."""
        self.transcribe(np.zeros(16000, np.int16))
