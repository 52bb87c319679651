"""Text-to-speech with Piper: audio comes out one sentence at a time, so the first plays early."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator

import numpy as np

from assistant.core.config import TtsConfig
from assistant.core.errors import SpeakError
from assistant.core.models import ResolvedModel

KEPT_REPLIES = 32
"""Short replies kept as audio, the most recently said (about 100 KB each)."""
KEPT_CHARS = 120


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
        self._kept: OrderedDict[str, list[np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def sentences(self, text: str) -> Iterator[np.ndarray]:
        """int16 audio, one array per sentence, produced lazily. A short reply said before (the
        apology for a request nothing understood) comes from memory at once."""
        with self._lock:
            kept = self._kept.get(text)
            if kept is not None:
                self._kept.move_to_end(text)
        if kept is not None:
            yield from kept
            return
        made: list[np.ndarray] = []
        try:
            for chunk in self._voice.synthesize(text, syn_config=self._syn):
                made.append(chunk.audio_int16_array)
                yield chunk.audio_int16_array
        except Exception as e:
            raise SpeakError(f"speech synthesis failed: {e}") from e
        if len(text) <= KEPT_CHARS:  # only once the whole reply was made, not when the listener cut it
            with self._lock:
                self._kept[text] = made
                while len(self._kept) > KEPT_REPLIES:
                    self._kept.popitem(last=False)

    def prepare(self, texts: Iterable[str]) -> None:
        """Synthesize these replies now, so that saying them later costs nothing."""
        for text in texts:
            for _ in self.sentences(text):
                pass

    def warm_up(self) -> None:
        for _ in self.sentences("Ready."):
            pass
