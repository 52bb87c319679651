"""Text-to-speech with Piper: audio comes out one sentence at a time, so the first plays early."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from assistant.core.config import TtsConfig
from assistant.core.errors import SpeakError
from assistant.core.models import ResolvedModel


class Synthesizer:
    def __init__(self, model: ResolvedModel, config: TtsConfig) -> None:
        from piper import PiperVoice, SynthesisConfig

        try:
            self._voice = PiperVoice.load(model.path, use_cuda=config.use_cuda)
        except Exception as e:
            raise SpeakError(f"Piper voice {model.path} could not be loaded: {e}") from e
        self._syn = SynthesisConfig(
            length_scale=config.length_scale, noise_scale=config.noise_scale, noise_w_scale=config.noise_w_scale
        )
        self.rate: int = self._voice.config.sample_rate

    def sentences(self, text: str) -> Iterator[np.ndarray]:
        """int16 audio, one array per sentence, produced lazily."""
        try:
            for chunk in self._voice.synthesize(text, syn_config=self._syn):
                yield chunk.audio_int16_array
        except Exception as e:
            raise SpeakError(f"speech synthesis failed: {e}") from e

    def warm_up(self) -> None:
        for _ in self.sentences("Ready."):
            pass
