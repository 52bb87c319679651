"""Wake word detection on real rendered speech, with the real openWakeWord model."""

import subprocess
import sys

import numpy as np
import pytest

from assistant.core.models import resolve_wake_model
from assistant.speech.wake import WakeWordDetector
from testbed import speech as sf

pytestmark = pytest.mark.slow_model


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return np.concatenate(
        [sf.silence(1.0), sf.piper("Hey Jarvis."), sf.silence(0.7), sf.piper("What time is it?"), sf.silence(2.5)]
    )


def detector() -> WakeWordDetector:
    return WakeWordDetector(resolve_wake_model("hey_jarvis"), "hey_jarvis", threshold=0.5)


def first_detection(det: WakeWordDetector, pcm: np.ndarray, chunk: int) -> tuple[float, float] | None:
    for start in range(0, len(pcm), chunk):
        block = pcm[start : start + chunk]
        found = det.process(block)
        if found is not None:
            return round((start + len(block)) / 16000 - found.end_offset_s, 4), round(found.score, 5)
    return None


def test_detects_hey_jarvis(clip: np.ndarray) -> None:
    found = first_detection(detector(), clip, 1280)
    assert found is not None
    at, score = found
    assert score >= 0.5
    assert 1.2 < at < 2.2, "fires at the end of the wake phrase"


@pytest.mark.parametrize("chunk", [160, 512, 1000, 1280, 4000, 16000])
def test_same_result_whatever_the_chunk_size(clip: np.ndarray, chunk: int) -> None:
    assert first_detection(detector(), clip, chunk) == first_detection(detector(), clip, 1280)


def test_other_speech_does_not_wake() -> None:
    det = detector()
    speech = np.concatenate(
        [sf.piper("What time is it? Set a timer for five minutes. Good morning, how are you?"), sf.silence(1)]
    )
    assert first_detection(det, speech, 1280) is None


def test_no_false_wake_right_after_a_detection(clip: np.ndarray) -> None:
    """openWakeWord 0.5.1's reset() keeps its feature buffer; without the flush it fires again."""
    det = detector()
    wake_end = int(2.2 * 16000)
    found = det.process(clip[:wake_end])
    assert found is not None
    det.reset()
    rest = clip[wake_end - int(found.end_offset_s * 16000) :]
    assert first_detection(det, rest, 1280) is None


def test_detects_again_after_reset(clip: np.ndarray) -> None:
    det = detector()
    assert first_detection(det, clip, 1280) is not None
    det.reset()
    assert first_detection(det, clip, 1280) is not None


def test_the_detector_does_not_import_the_verifier_trainer() -> None:
    """openWakeWord's package imports scikit-learn and SciPy for training; a detector needs neither
    (58-87 MB resident)."""
    program = (
        "import sys\n"
        "from assistant.core.config import load_config\n"
        "from assistant.app.runtime import configured_models\n"
        "from assistant.speech.wake import WakeWordDetector\n"
        "config = load_config(environ={})\n"
        "WakeWordDetector(configured_models(config).wake, config.wake.model)\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'joblib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_sessions_keep_no_memory_arena_and_the_word_still_wakes(clip: np.ndarray) -> None:
    """openWakeWord's own sessions kept an arena its start-up warm-up grew by 25 MB; ours have none,
    and the word's prediction runs through our session, not a kept-alive one of openWakeWord's."""
    det = detector()
    model = det._model
    sessions = [model.preprocessor.melspec_model, model.preprocessor.embedding_model, *model.models.values()]
    assert [s.get_session_options().enable_cpu_mem_arena for s in sessions] == [False, False, False]
    (predict,) = model.model_prediction_function.values()
    assert predict.args[0] is model.models[det._key]
    assert first_detection(det, clip, 1280) is not None
