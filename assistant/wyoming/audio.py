"""Audio as Wyoming carries it: raw PCM chunks that name their own rate, width and channels."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from wyoming.audio import AudioChunk, AudioChunkConverter

from assistant.audio import SAMPLE_RATE

CHUNK_SAMPLES = 1024
"""Samples per chunk of reply audio sent out (about 46 ms at Piper's 22.05 kHz)."""


class Incoming:
    """Chunks in any format in, int16 mono at `rate` out (16 kHz: what wake word, VAD and Whisper take)."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self._convert = AudioChunkConverter(rate=rate, width=2, channels=1)

    def pcm(self, chunk: AudioChunk) -> np.ndarray:
        """ValueError for audio that cannot be used (said to the sender; nothing else is lost)."""
        if chunk.width not in (1, 2, 4) or chunk.channels not in (1, 2) or not 4000 <= chunk.rate <= 192000:
            raise ValueError(
                f"audio of {chunk.rate} Hz, {chunk.width} bytes a sample and {chunk.channels} channels "
                "cannot be used (send 16-bit mono or stereo PCM, 16 kHz preferred)"
            )
        if len(chunk.audio) % (chunk.width * chunk.channels):
            raise ValueError("an audio chunk ends in the middle of a sample")
        return np.frombuffer(self._convert.convert(chunk).audio, np.int16)


def chunks(pcm: np.ndarray, rate: int, timestamp_ms: int = 0) -> Iterator[AudioChunk]:
    """int16 mono audio as Wyoming chunks, each stamped with where it starts."""
    for start in range(0, len(pcm), CHUNK_SAMPLES):
        part = pcm[start : start + CHUNK_SAMPLES]
        yield AudioChunk(
            rate=rate,
            width=2,
            channels=1,
            audio=part.astype("<i2").tobytes(),
            timestamp=timestamp_ms + start * 1000 // rate,
        )
