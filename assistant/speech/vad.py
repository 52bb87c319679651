"""End of speech: Silero VAD scores 32 ms frames; a pure state machine turns verdicts into events."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from assistant.core.errors import VadError
from assistant.core.models import ResolvedModel

FRAME = 512
CONTEXT = 64


class SileroVad:
    """Streaming Silero VAD v6 (the copy faster-whisper ships), with hysteresis on the threshold."""

    def __init__(self, model: ResolvedModel, threshold: float = 0.5) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        try:
            self._session = onnxruntime.InferenceSession(
                str(model.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise VadError(f"VAD model {model.path} could not be loaded: {e}") from e
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)
        self._speaking = False

    def probability(self, frame: np.ndarray) -> float:
        x = np.concatenate([self._context, frame])[None, :]
        prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = frame[-CONTEXT:]
        return float(np.asarray(prob).reshape(-1)[0])

    def process(self, pcm: np.ndarray) -> list[bool]:
        """One verdict per complete 32 ms frame; leftover samples wait for the next call."""
        audio = pcm.astype(np.float32) / 32768.0
        buf = np.concatenate([self._pending, audio]) if len(self._pending) else audio
        verdicts = []
        pos = 0
        while pos + FRAME <= len(buf):
            prob = self.probability(buf[pos : pos + FRAME])
            # Hysteresis: once speaking, a slightly lower score still counts, so brief dips between
            # words do not end the utterance.
            self._speaking = prob >= (self.threshold - 0.15 if self._speaking else self.threshold)
            verdicts.append(self._speaking)
            pos += FRAME
        self._pending = buf[pos:].copy()
        return verdicts


class Signal(enum.Enum):
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"
    """Silence began; `at` is the end of the last voiced audio."""
    RESUMED = "resumed"
    ENDPOINT = "endpoint"
    MAX_LENGTH = "max_length"
    NO_SPEECH = "no_speech"


@dataclass(frozen=True)
class VadEvent:
    signal: Signal
    at: float
    """Seconds since the state machine was reset."""


class EndOfSpeech:
    """Pure: fed (seconds, is_speech) verdicts, it says when speech starts, pauses, resumes and ends."""

    def __init__(
        self,
        min_speech_s: float = 0.1,
        trailing_silence_s: float = 0.5,
        max_utterance_s: float = 12.0,
        no_speech_timeout_s: float = 5.0,
    ) -> None:
        self.min_speech_s = min_speech_s
        self.trailing_silence_s = trailing_silence_s
        self.max_utterance_s = max_utterance_s
        self.no_speech_timeout_s = no_speech_timeout_s
        self.reset()

    def reset(self) -> None:
        self.t = 0.0
        self.started_at: float | None = None
        self.voiced_run = 0.0
        self.silence_run = 0.0
        self.last_voiced_end = 0.0
        self.in_silence = False
        self.done = False

    def process(self, chunk_seconds: float, is_speech: bool) -> list[VadEvent]:
        if self.done:
            return []
        self.t += chunk_seconds
        events: list[VadEvent] = []
        if self.started_at is None:
            if is_speech:
                self.voiced_run += chunk_seconds
                if self.voiced_run >= self.min_speech_s:
                    self.started_at = self.t - self.voiced_run
                    self.last_voiced_end = self.t
                    events.append(VadEvent(Signal.SPEECH_START, self.started_at))
            else:
                self.voiced_run = 0.0
                if self.t >= self.no_speech_timeout_s:
                    self.done = True
                    events.append(VadEvent(Signal.NO_SPEECH, self.t))
            return events
        if is_speech:
            self.last_voiced_end = self.t
            self.silence_run = 0.0
            if self.in_silence:
                self.in_silence = False
                events.append(VadEvent(Signal.RESUMED, self.t - chunk_seconds))
        else:
            if not self.in_silence:
                self.in_silence = True
                events.append(VadEvent(Signal.SPEECH_END, self.last_voiced_end))
            self.silence_run += chunk_seconds
            if self.silence_run >= self.trailing_silence_s - 1e-9:
                self.done = True
                events.append(VadEvent(Signal.ENDPOINT, self.t))
                return events
        if self.t - self.started_at >= self.max_utterance_s:
            if not self.in_silence:
                events.append(VadEvent(Signal.SPEECH_END, self.t))
            self.done = True
            events.append(VadEvent(Signal.MAX_LENGTH, self.t))
        return events
