"""Replies said often play at once: a short reply is kept as audio once it was made whole, and the
ones said always the same are made after start (real Piper)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from assistant.core.config import TtsConfig
from assistant.core.models import resolve_piper_voice
from assistant.speech import tts
from assistant.speech.tts import Synthesizer

pytestmark = pytest.mark.slow_model


@pytest.fixture(scope="module")
def synthesizer() -> Synthesizer:
    return Synthesizer(resolve_piper_voice("en_US-joe-medium"), TtsConfig())


def test_a_prepared_reply_is_the_same_audio_and_costs_nothing(synthesizer: Synthesizer) -> None:
    text = "Sorry, I can't help with that yet."
    fresh = np.concatenate(list(synthesizer.sentences(text + " ")))  # another text: made afresh (Piper varies a little)
    synthesizer.prepare([text])
    start = time.perf_counter()
    kept = np.concatenate(list(synthesizer.sentences(text)))
    assert time.perf_counter() - start < 0.01
    assert len(kept) == pytest.approx(len(fresh), rel=0.2) and np.abs(kept).max() > 1000


def test_a_reply_cut_short_is_not_kept(synthesizer: Synthesizer) -> None:
    text = "The first sentence. And a second one that the listener cut."
    next(iter(synthesizer.sentences(text)))  # the listener stopped after the first sentence
    assert text not in synthesizer._kept
    list(synthesizer.sentences(text))
    assert text in synthesizer._kept


def test_long_replies_are_not_kept_and_the_kept_ones_are_bounded(
    synthesizer: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = "It is a long reply. " * 8
    list(synthesizer.sentences(long))
    assert long not in synthesizer._kept
    monkeypatch.setattr(tts, "KEPT_REPLIES", 3)
    synthesizer.prepare([f"Number {n}." for n in range(5)])
    assert list(synthesizer._kept)[-3:] == ["Number 2.", "Number 3.", "Number 4."] and len(synthesizer._kept) == 3
