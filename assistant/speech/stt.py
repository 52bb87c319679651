"""Speech-to-text with faster-whisper (CTranslate2)."""

from __future__ import annotations

import numpy as np

from assistant.config import SttConfig
from assistant.errors import TranscribeError
from assistant.models import ResolvedModel


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

    def transcribe(self, pcm: np.ndarray, hotwords: list[str] | None = None) -> str:
        """int16 16 kHz mono → text. `hotwords` bias the decoder towards names the skills know."""
        audio = pcm.astype(np.float32) / 32768.0
        try:
            segments, _ = self._model.transcribe(
                audio,
                language=self.config.language if self.config.language else None,
                beam_size=self.config.beam_size,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
                hotwords=" ".join(hotwords) if hotwords else None,
            )
            return " ".join(s.text.strip() for s in segments).strip()
        except Exception as e:
            raise TranscribeError(f"speech-to-text failed: {e}") from e

    def warm_up(self) -> None:
        """The first call is about twice as slow as later ones; pay it at start, not on a request."""
        self.transcribe(np.zeros(16000, np.int16))
