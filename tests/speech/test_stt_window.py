"""stt.window_s: how much audio Whisper's encoder reads for a request (30 s, the window it was trained
on, by default; less is quicker and hears a little worse: docs/benchmarks/llm-path.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from assistant.core.config import ConfigError, SttConfig, load_config
from assistant.speech.stt import Transcriber
from testbed import speech as sf


def test_the_window_is_the_setting_or_the_request_and_a_second_more_at_most_thirty_seconds(
    speech_models: Any,
) -> None:
    stt: Transcriber = speech_models.transcriber
    short = Transcriber.__new__(Transcriber)
    short.config = dataclasses.replace(stt.config, window_s=20.0)
    assert short._window(300) == 2000, "a 3 s request: the 20 s window"
    assert short._window(2500) == 2600, "a 25 s dictation: itself and a second"
    assert short._window(2950) == 3000, "never over Whisper's 30 s"
    assert short._window(1901) == 2002, "even: the encoder halves it"
    assert stt._window(300) == 3000, "the default reads the whole window, as Whisper was trained"


def test_a_shorter_window_reads_less_and_still_hears_a_request(speech_models: Any) -> None:
    stt: Transcriber = speech_models.transcriber
    short = Transcriber(speech_models.files.stt, dataclasses.replace(stt.config, window_s=20.0))
    pcm = np.concatenate([sf.silence(0.3), sf.speak("set a timer for ten minutes", "piper"), sf.silence(0.3)])
    heard = short.hear(pcm)
    assert heard.text.lower().rstrip(".") == "set a timer for 10 minutes", heard.text
    assert heard.score is not None and len(heard.score(["Set a timer for 10 minutes."], True)[0]) > 3


@pytest.mark.parametrize("seconds", [0.5, 31.0])
def test_a_window_outside_one_to_thirty_seconds_is_refused(seconds: float) -> None:
    with pytest.raises(ConfigError, match="stt.window_s must be between 1 and 30 seconds"):
        SttConfig(window_s=seconds)
    assert load_config(environ={"ASSISTANT__STT__WINDOW_S": "20"}).stt.window_s == 20.0
