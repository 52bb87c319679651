"""Wake word detection with openWakeWord (onnx), independent of how the audio is chunked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.audio import SAMPLE_RATE
from assistant.core.errors import WakeWordError
from assistant.core.models import ResolvedModel, wake_feature_models

FRAME = 1280
"""openWakeWord scores one 80 ms frame at a time."""


@dataclass(frozen=True)
class Detection:
    word: str
    score: float
    end_offset_s: float
    """Seconds before the end of the block just processed at which the detecting frame ended."""


def _without_verifier_training() -> None:
    """openWakeWord's package imports its custom-verifier trainer, which imports scikit-learn and
    SciPy (about 920 modules, 58-87 MB resident) for training that a detector never does. A module of
    that name is put in its place before openWakeWord is imported; training a verifier from here
    says why it cannot."""
    import importlib.machinery
    import sys
    import types

    name = "openwakeword.custom_verifier_model"
    if name in sys.modules or "openwakeword" in sys.modules:
        return

    def train_custom_verifier(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the assistant does not train openWakeWord verifiers: use openWakeWord itself")

    module = types.ModuleType(name, "Left out by the assistant (see assistant/speech/wake.py).")
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.train_custom_verifier = train_custom_verifier  # type: ignore[attr-defined]
    sys.modules[name] = module


def _without_arenas(model: Any, melspec: str, embedding: str, word: str) -> None:
    """openWakeWord's onnxruntime sessions keep a memory arena, which its start-up warm-up (4 s of
    random audio through the embedding model) grows by 25 MB and never gives back. A frame takes as
    long without one (2.2-2.7 ms either way, measured), so the sessions are made again without it.
    This reaches into openWakeWord 0.5.1 (pinned): its features' two sessions, called through its
    attributes, and each word's session, bound into its prediction function."""
    import functools

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.inter_op_num_threads = options.intra_op_num_threads = 1  # as openWakeWord sets them
    options.enable_cpu_mem_arena = False

    def session(path: str) -> Any:
        return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])

    features = model.preprocessor
    features.melspec_model, features.embedding_model = session(melspec), session(embedding)
    (name,) = model.models
    model.models[name] = session(word)
    predict = model.model_prediction_function[name]
    model.model_prediction_function[name] = functools.partial(predict.func, model.models[name])


class WakeWordDetector:
    def __init__(self, model: ResolvedModel, word: str, threshold: float = 0.5, flush_s: float = 2.0) -> None:
        _without_verifier_training()
        from openwakeword.model import Model

        melspec, embedding = wake_feature_models()
        try:
            self._model = Model(
                wakeword_models=[str(model.path)],
                inference_framework="onnx",
                melspec_model_path=str(melspec),
                embedding_model_path=str(embedding),
            )
            _without_arenas(self._model, str(melspec), str(embedding), str(model.path))
        except Exception as e:
            raise WakeWordError(f"wake word model {model.path} could not be loaded: {e}") from e
        self._key = next(iter(self._model.models))
        self.word = word
        self.threshold = threshold
        self.flush_s = flush_s
        self._pending = np.zeros(0, np.int16)

    def process(self, pcm: np.ndarray) -> Detection | None:
        """Feed any amount of audio; returns the first frame at or over the threshold, if any.

        Audio after a detection is not scored: the caller resets the detector and hands that audio
        to the next stage.
        """
        buf = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        pos = 0
        while pos + FRAME <= len(buf):
            score = float(self._model.predict(buf[pos : pos + FRAME])[self._key])
            pos += FRAME
            if score >= self.threshold:
                self._pending = np.zeros(0, np.int16)
                return Detection(self.word, score, (len(buf) - pos) / SAMPLE_RATE)
        self._pending = buf[pos:].copy()
        return None

    def reset(self) -> None:
        """Forget everything heard. openWakeWord 0.5.1's reset() keeps its feature buffer, which
        fired falsely half a second after a detection, so silence is fed through it as well."""
        self._model.reset()
        silence = np.zeros(FRAME, np.int16)
        for _ in range(int(self.flush_s * SAMPLE_RATE / FRAME)):
            self._model.predict(silence)
        self._model.reset()
        self._pending = np.zeros(0, np.int16)
