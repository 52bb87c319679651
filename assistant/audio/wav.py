"""Read any PCM WAV into 16 kHz mono int16, write int16 WAVs, resample."""

from __future__ import annotations

import stat
import struct
import wave
from pathlib import Path

import numpy as np
import soxr

from assistant.audio import SAMPLE_RATE
from assistant.core.errors import AudioInputError


def resample(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """int16 mono → int16 mono at another rate (soxr, high quality)."""
    if rate_in == rate_out or len(pcm) == 0:
        return pcm
    out = soxr.resample(pcm.astype(np.float32) / 32768.0, rate_in, rate_out)
    return to_int16(out)


def to_int16(samples: np.ndarray) -> np.ndarray:
    clipped: np.ndarray = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).astype(np.int16)


def _decode(frames: bytes, width: int, channels: int) -> np.ndarray:
    if width == 1:  # unsigned 8-bit
        data = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3)
        ints = raw[:, 0].astype(np.int32) | (raw[:, 1].astype(np.int32) << 8) | (raw[:, 2].astype(np.int32) << 16)
        ints = np.where(ints & 0x800000, ints - 0x1000000, ints)
        data = ints.astype(np.float32) / 8388608.0
    elif width == 4:
        data = np.frombuffer(frames, "<i4").astype(np.float32) / 2147483648.0
    else:
        raise AudioInputError(f"unsupported sample width of {width} bytes")
    mono: np.ndarray = data.reshape(-1, channels).mean(axis=1)
    return mono


MAX_PIPED_S = 3600.0
"""The most of a piped WAV read when no limit is given: an hour."""


def read_wav(path: Path, max_s: float | None = None) -> np.ndarray:
    """The whole file as 16 kHz mono int16. Anything unreadable raises AudioInputError (one line).
    `max_s`: longer audio is refused before it is read (a small file at a low rate or in 8 bits is
    many times larger once resampled to 16 kHz floats)."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, count = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            frame = width * channels
            info = path.stat()
            regular = stat.S_ISREG(info.st_mode)
            if regular and frame > 0:
                # A WAV written as a stream says its length is 4 GB: what the file holds is all there is.
                count = min(count, info.st_size // frame)
            elif rate > 0:
                # A pipe's size says nothing and its header may say 4 GB: read no more than may be kept
                # (and a frame more, to tell one that is too long), not what the header claims.
                count = min(count, int((max_s if max_s is not None else MAX_PIPED_S) * rate) + 1)
            if regular and max_s is not None and rate > 0 and count / rate > max_s:
                raise AudioInputError(f"{path} is {count / rate:.0f} s long; at most {max_s:g} s is read here")
            frames = w.readframes(count)
            if not regular and max_s is not None and rate > 0 and frame > 0 and len(frames) / frame / rate > max_s:
                raise AudioInputError(f"{path} is longer than {max_s:g} s; at most {max_s:g} s is read here")
    except FileNotFoundError as e:
        raise AudioInputError(f"{path}: no such file") from e
    except IsADirectoryError as e:
        raise AudioInputError(f"{path} is a folder, not a WAV file") from e
    except (
        wave.Error,
        EOFError,
        RuntimeError,
        ValueError,
        struct.error,
    ) as e:  # the stdlib's reader raises all of these on bad chunks
        raise AudioInputError(
            f"{path} is not a PCM WAV file ({e}); convert it with: sox '{path}' -r 16000 -c 1 -b 16 out.wav"
        ) from e
    except OSError as e:
        raise AudioInputError(f"{path} cannot be read: {e.strerror or e}") from e
    if channels < 1 or rate < 1000:
        raise AudioInputError(f"{path} has an invalid header ({channels} channels at {rate} Hz)")
    usable = len(frames) - len(frames) % (width * channels)
    if usable == 0:
        raise AudioInputError(
            f"{path} holds no audio (a WAV written as a stream may not say its length: convert it with "
            f"sox '{path}' -r 16000 -c 1 -b 16 out.wav)"
            if path.is_file() and path.stat().st_size > 1024
            else f"{path} holds no audio"
        )
    mono = _decode(frames[:usable], width, channels)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE)
    if len(mono) == 0:  # a sample or two, resampled down to nothing
        raise AudioInputError(f"{path} holds no audio")
    return to_int16(mono)


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, dtype="<i2").tobytes())
