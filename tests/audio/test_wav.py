"""WAV input: other rates, widths and channel counts are converted; bad files are one-line errors."""

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.wav import read_wav
from assistant.core.errors import AudioInputError


def write(path: Path, data: bytes, rate: int, width: int, channels: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2])
def test_converts_to_16k_mono_int16(tmp_path: Path, rate: int, width: int, channels: int) -> None:
    x = tone(rate)
    if width == 1:
        raw = (x * 127 + 128).astype(np.uint8)
    elif width == 2:
        raw = (x * 32767).astype("<i2")
    elif width == 3:
        ints = (x * 8388607).astype("<i4")
        raw = np.frombuffer(ints.tobytes(), np.uint8).reshape(-1, 4)[:, :3].copy()
    else:
        raw = (x * 2147483647).astype("<i4")
    frames = np.stack([raw.reshape(len(x), -1)] * channels, axis=1) if channels > 1 else raw
    pcm = read_wav(write(tmp_path / "in.wav", np.ascontiguousarray(frames).tobytes(), rate, width, channels))
    assert pcm.dtype == np.int16
    assert abs(len(pcm) - 8000) <= 2
    peak = np.abs(pcm[1000:-1000]).max() / 32768
    assert 0.45 < peak < 0.55
    spectrum = np.abs(np.fft.rfft(pcm.astype(float)))
    assert abs(np.argmax(spectrum) * 16000 / len(pcm) - 440) < 5


@pytest.mark.parametrize(
    "content, message",
    [
        (b"this is not audio at all", "not a PCM WAV"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a PCM WAV"),
        (b"", "not a PCM WAV"),
    ],
)
def test_bad_files_are_rejected(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioInputError, match=message):
        read_wav(path)


def test_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="no such file"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(AudioInputError, match="holds no audio"):
        read_wav(write(tmp_path / "empty.wav", b"", 16000, 2, 1))


def test_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "run",
            "--audio-in",
            str(bad),
            "--audio-out",
            str(tmp_path / "o.wav"),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a PCM WAV" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_wav_written_as_a_stream_is_read_for_what_it_holds(tmp_path: Path) -> None:
    """A WAV piped out of a program says its data is 4 GB long (or 0): the first is read for the audio
    the file holds, not refused as hours long; the second is refused saying how to convert it."""
    import struct

    pcm = (np.sin(np.arange(32000) / 10) * 8000).astype("<i2").tobytes()
    for size, name in ((0xFFFFFFFF, "ff.wav"), (0, "zero.wav")):
        header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt "
        header += struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", size)
        (tmp_path / name).write_bytes(header + pcm)
    assert len(read_wav(tmp_path / "ff.wav", max_s=120)) == 32000
    with pytest.raises(AudioInputError, match="may not say its length: convert it with sox"):
        read_wav(tmp_path / "zero.wav", max_s=120)


def test_a_wav_from_a_pipe_is_read_to_its_end(tmp_path: Path) -> None:
    """`--audio-in <(sox …)`: a pipe's size says nothing, so it is read to its end, up to the most
    that may be kept (its header, when written as a stream, says 4 GB: never set aside)."""
    import os
    import threading

    wav = write(tmp_path / "a.wav", (tone(16000) * 32767).astype("<i2").tobytes(), 16000, 2, 1)
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    streamed = bytearray(wav.read_bytes())
    streamed[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # the data chunk's size, as a stream writes it

    def send(data: bytes) -> None:
        try:
            fifo.write_bytes(data)
        except BrokenPipeError:  # the reader stopped at its limit
            pass

    for data, limit, works in (
        (wav.read_bytes(), None, True),
        (bytes(streamed), None, True),
        (bytes(streamed), 1.0, True),
        (wav.read_bytes(), 0.25, False),
    ):
        writer = threading.Thread(target=send, args=(data,), daemon=True)
        writer.start()
        try:
            if works:
                assert len(read_wav(fifo, max_s=limit)) == 8000
            else:
                with pytest.raises(AudioInputError, match="longer than 0.25 s"):
                    read_wav(fifo, max_s=limit)
        finally:
            writer.join(timeout=10)
