"""Makes the files in this folder with the real Resemblyzer (torch); not part of the test suite.

Run it in a scratch environment, never in .venv (torch is gigabytes):

    python3 -m venv /tmp/ge2e/venv
    /tmp/ge2e/venv/bin/pip install torch resemblyzer==0.1.4 "setuptools<81"  # webrtcvad needs pkg_resources
    /tmp/ge2e/venv/bin/python tests/speech/data/make_reference.py tests/speech/data

Used for the files here: resemblyzer 0.1.4, torch 2.13.0+cpu, librosa 0.11.0, numpy 2.4.6, espeak-ng and
sox from Debian. The clips are espeak-ng in two voices (a: en-us, b: en-us+f3), resampled to 16 kHz by
sox (no dither), then put through resemblyzer's preprocess_wav (volume and webrtcvad trimming) and stored as int16:
both implementations then see the same samples. Each reference embedding is
`VoiceEncoder("cpu").embed_utterance` of the stored clip after resemblyzer's volume normalisation (and
librosa's resampling for the 8 kHz clip): what `SpeakerEncoder.embed(pcm, rate)` must give.
"""

import subprocess
import sys
import tempfile
import warnings
import wave
from collections import OrderedDict
from importlib import metadata
from pathlib import Path

import librosa
import numpy as np
import torch
import webrtcvad

warnings.filterwarnings("ignore")
import resemblyzer.audio as raudio  # noqa: E402
from resemblyzer import VoiceEncoder, preprocess_wav  # noqa: E402
from resemblyzer.audio import normalize_volume  # noqa: E402

CLIPS = {
    "voice_a_1": ("en-us", "Turn on the kitchen lights and set a timer for ten minutes."),
    "voice_a_2": ("en-us", "What is the weather like tomorrow morning?"),
    "voice_b_1": ("en-us+f3", "Please play some quiet music in the living room."),
    "voice_b_2": ("en-us+f3", "Remind me to call my sister at seven tonight."),
}


def speak(voice: str, text: str, rate: int, folder: Path) -> np.ndarray:
    raw, out = folder / "raw.wav", folder / "out.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-D", "-r", str(rate), "-b", "16", str(out)], check=True
    )  # -D: no dither, the same every time
    return read(out)[0]


def read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate()


def write(path: Path, pcm: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def trim_reference(encoder_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """webrtcvad's flags for a clip with a second of silence put in, and the 30 ms windows that
    resemblyzer's trim_long_silences keeps for those flags."""
    gap = np.concatenate([encoder_input[:16000], np.zeros(16000, np.int16), encoder_input[16000:]])
    x = normalize_volume(gap.astype(np.float32) / 32768.0, -30, increase_only=True)
    win = 480
    x = x[: len(x) - len(x) % win]
    vad = webrtcvad.Vad(mode=3)
    pcm = np.round(x * 32767).astype(np.int16).tobytes()
    flags = np.array([vad.is_speech(pcm[i * 2 : (i + win) * 2], sample_rate=16000) for i in range(0, len(x), win)])
    trimmed = raudio.trim_long_silences(x)

    class Replay:  # the same flags again, for a signal whose samples name their window
        def __init__(self, mode: int) -> None:
            self.i = 0

        def is_speech(self, buf: bytes, sample_rate: int) -> bool:
            self.i += 1
            return bool(flags[self.i - 1])

    real, raudio.webrtcvad.Vad = raudio.webrtcvad.Vad, Replay
    coded = np.repeat(np.arange(len(flags), dtype=np.float64) + 1, win) / 1e6
    kept = np.unique(np.round(raudio.trim_long_silences(coded) * 1e6).astype(int) - 1)
    raudio.webrtcvad.Vad = real
    assert len(kept) * win == len(trimmed)
    return flags, kept


def tiny_checkpoints(out: Path) -> None:
    """The same small state dict in torch's zip format and its legacy one, with views and dtypes."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = OrderedDict(
        plain=base,
        transposed=base.t(),
        sliced=base[1:, 2:5],
        longs=torch.tensor([-3, 0, 7], dtype=torch.int64),
        halves=torch.tensor([0.5, -2.0], dtype=torch.float16),
        scalar=torch.tensor(2.5, dtype=torch.float64),
    )
    checkpoint = {"step": 7, "model_state": state, "note": "tiny"}
    torch.save(checkpoint, out / "tiny_zip.pt")
    torch.save(checkpoint, out / "tiny_legacy.pt", _use_new_zipfile_serialization=False)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    encoder = VoiceEncoder("cpu", verbose=False)

    def reference(pcm: np.ndarray, rate: int) -> np.ndarray:
        x = pcm.astype(np.float32) / 32768.0
        if rate != 16000:
            x = librosa.resample(x, orig_sr=rate, target_sr=16000)
        return encoder.embed_utterance(normalize_volume(x, -30, increase_only=True))

    embeddings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (voice, text) in CLIPS.items():
            pcm = speak(voice, text, 16000, Path(tmp))
            wav = preprocess_wav(pcm.astype(np.float32) / 32768.0)
            kept = np.clip(np.round(wav * 32768.0), -32768, 32767).astype(np.int16)
            write(out / f"{name}.wav", kept, 16000)
            embeddings[name] = reference(kept, 16000)
        flags, kept_windows = trim_reference(speak(*CLIPS["voice_a_1"], 16000, Path(tmp)))
        voice, text = CLIPS["voice_a_2"]
        pcm8 = speak(voice, text, 8000, Path(tmp))
        write(out / "voice_a_2_8k.wav", pcm8, 8000)
        embeddings["voice_a_2_8k"] = reference(pcm8, 8000)
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("resemblyzer", "torch", "librosa", "numpy"))
    np.savez_compressed(
        out / "ge2e_reference.npz",
        **{f"embedding_{k}": v.astype(np.float32) for k, v in embeddings.items()},
        trim_flags=flags,
        trim_kept_windows=kept_windows.astype(np.int32),
        made_with=np.array(versions),
    )
    tiny_checkpoints(out)
    names = list(embeddings)
    matrix = np.stack([embeddings[n] for n in names])
    print(names, np.round(matrix @ matrix.T, 3), sep="\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
