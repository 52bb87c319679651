"""The GE2E speaker encoder in numpy against Resemblyzer's own (torch) embeddings of real clips, and its
torch checkpoint reader against files torch wrote, tampered ones and broken ones.

tests/speech/data/make_reference.py made every file in tests/speech/data (espeak-ng, two voices;
resemblyzer 0.1.4 with torch 2.13 CPU and librosa 0.11)."""

from __future__ import annotations

import collections
import dataclasses
import io
import os
import pickle
import struct
import sys
import types
import wave
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant.core import models
from assistant.core.errors import ModelNotFoundError
from assistant.speech.speaker_encoder import (
    VAD_WINDOW,
    CheckpointError,
    SpeakerEncoder,
    read_torch_checkpoint,
    trim_long_silences,
)

DATA = Path(__file__).parent / "data"
CLIPS = ("voice_a_1", "voice_a_2", "voice_b_1", "voice_b_2", "voice_a_2_8k")


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder(models.resolve_speaker_encoder().path)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(DATA / "ge2e_reference.npz") as npz:
        return {k: npz[k] for k in npz.files}


def read_clip(name: str) -> tuple[np.ndarray, int]:
    """The stored samples exactly, as int16 at their own rate."""
    with wave.open(str(DATA / f"{name}.wav"), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate()


def test_embeddings_match_resemblyzer(encoder: SpeakerEncoder, reference: dict[str, np.ndarray]) -> None:
    for name in CLIPS:
        pcm, rate = read_clip(name)
        ours = encoder.embed(pcm, rate)
        assert ours.shape == (256,) and ours.dtype == np.float32
        assert abs(float(np.linalg.norm(ours)) - 1.0) < 1e-5
        cosine = float(ours @ reference[f"embedding_{name}"])
        assert cosine >= 0.999, (name, cosine)


def test_the_same_voice_is_nearer_than_another(encoder: SpeakerEncoder) -> None:
    a1, a2, b1, b2 = (encoder.embed(read_clip(name)[0]) for name in CLIPS[:4])
    across = max(float(a @ b) for a in (a1, a2) for b in (b1, b2))
    assert float(a1 @ a2) > across + 0.05
    assert float(b1 @ b2) > across + 0.05


def test_float_audio_and_int16_audio_give_the_same_embedding(encoder: SpeakerEncoder) -> None:
    pcm, _ = read_clip("voice_b_1")
    from_float = encoder.embed(pcm.astype(np.float32) / 32768.0)
    assert float(from_float @ encoder.embed(pcm)) > 0.99999


def test_noise_subtraction_leaves_a_clean_clip_alone_and_brings_a_noisy_one_back(encoder: SpeakerEncoder) -> None:
    pcm, rate = read_clip("voice_a_1")
    clean = encoder.embed(pcm, rate)
    silent = np.zeros(rate, np.int16)
    assert float(encoder.embed(pcm, rate, noise=silent) @ clean) > 0.99999
    assert float(encoder.embed(pcm, rate, noise=silent[:100]) @ clean) > 0.99999  # too little to measure: unused
    rng = np.random.default_rng(7)
    hiss = rng.normal(0.0, float(np.std(pcm)) / 10, len(pcm) + rate)  # 20 dB under the speech
    noisy, between = (pcm + hiss[: len(pcm)]).astype(np.int16), hiss[len(pcm) :].astype(np.int16)
    assert float(encoder.embed(noisy, rate, noise=between) @ clean) > float(encoder.embed(noisy, rate) @ clean) + 0.05


def test_audio_that_is_not_mono_samples_is_refused(encoder: SpeakerEncoder) -> None:
    with pytest.raises(ValueError, match="non-empty mono"):
        encoder.embed(np.zeros(0, np.int16))
    with pytest.raises(ValueError, match="non-empty mono"):
        encoder.embed(np.zeros((16000, 2), np.int16))
    with pytest.raises(ValueError, match="int16 or float"):
        encoder.embed(np.zeros(16000, np.int32))


def test_silence_trimming_keeps_the_windows_resemblyzer_keeps(reference: dict[str, np.ndarray]) -> None:
    flags = reference["trim_flags"]  # webrtcvad's verdicts on a clip with a second of silence put in
    windows = np.arange(len(flags) * VAD_WINDOW + 100) // VAD_WINDOW  # each sample says its window
    kept = np.unique(trim_long_silences(windows.astype(np.float32), flags))
    assert kept.tolist() == reference["trim_kept_windows"].tolist()
    with pytest.raises(ValueError, match=f"expected {len(flags)} speech flags"):
        trim_long_silences(windows.astype(np.float32), flags[:-1])


def test_the_trimmed_embedding_is_resemblyzers_with_its_vad(encoder: SpeakerEncoder) -> None:
    pcm, _ = read_clip("voice_a_1")
    speech = np.ones(len(pcm) // VAD_WINDOW, bool)  # all speech: trimming only drops the last partial window
    whole = encoder.embed(pcm[: len(speech) * VAD_WINDOW])
    assert float(encoder.embed(pcm, speech=speech) @ whole) > 0.99999


# --- the checkpoint reader ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny_zip.pt", "tiny_legacy.pt"])
def test_both_torch_formats_are_read_as_torch_wrote_them(name: str) -> None:
    checkpoint = read_torch_checkpoint(DATA / name)
    assert isinstance(checkpoint, dict) and checkpoint["step"] == 7 and checkpoint["note"] == "tiny"
    state = checkpoint["model_state"]
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    assert list(state) == ["plain", "transposed", "sliced", "longs", "halves", "scalar"]
    np.testing.assert_array_equal(state["plain"], base)
    np.testing.assert_array_equal(state["transposed"], base.T)
    np.testing.assert_array_equal(state["sliced"], base[1:, 2:5])
    np.testing.assert_array_equal(state["longs"], np.array([-3, 0, 7], np.int64))
    np.testing.assert_array_equal(state["halves"], np.array([0.5, -2.0], np.float16))
    assert state["scalar"].shape == () and state["scalar"].dtype == np.float64 and float(state["scalar"]) == 2.5
    assert state["longs"].dtype == np.int64 and state["halves"].dtype == np.float16


class RunsAShellCommand:
    """What a malicious checkpoint holds: unpickling it would call os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_legacy_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    head = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}]
    evil.write_bytes(b"".join(pickle.dumps(p, protocol=2) for p in [*head, {"model_state": RunsAShellCommand(marker)}]))
    with pytest.raises(CheckpointError, match=r"refused to load .*evil\.pt: its pickle asks for (os|posix)\.system"):
        read_torch_checkpoint(evil)
    assert not marker.exists()


def test_a_zip_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(DATA / "tiny_zip.pt") as good, zipfile.ZipFile(evil, "w") as bad:
        for item in good.namelist():
            data = pickle.dumps(RunsAShellCommand(marker)) if item.endswith("/data.pkl") else good.read(item)
            bad.writestr(item, data)
    with pytest.raises(CheckpointError, match=r"its pickle asks for (os|posix)\.system"):
        SpeakerEncoder(evil)
    assert not marker.exists()


def test_other_globals_a_pickle_may_name_are_refused(tmp_path: Path) -> None:
    for payload in (eval, io.BytesIO, dataclasses.replace, np.load):
        evil = tmp_path / "evil.pt"
        evil.write_bytes(pickle.dumps(payload))
        with pytest.raises(CheckpointError, match="its pickle asks for"):
            read_torch_checkpoint(evil)


@dataclasses.dataclass(frozen=True)
class Stored:
    """A storage of float32s as a legacy checkpoint names it."""

    key: str
    values: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class Tensor:
    """A tensor as torch pickles it: _rebuild_tensor_v2(storage, offset, shape, stride, …)."""

    storage: Stored
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict())


@pytest.fixture
def write_legacy(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, object], None]:
    """Writes any tensors, well formed or not, in torch's legacy format, as torch names them: a stand-in
    torch module lets pickle write the globals torch._utils._rebuild_tensor_v2 and torch.FloatStorage."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    storage_type = type("FloatStorage", (), {"__module__": "torch"})

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage, torch._utils, utils._rebuild_tensor_v2 = storage_type, utils, _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    def write(path: Path, obj: object) -> None:
        stored: dict[str, Stored] = {}

        class Pickler(pickle.Pickler):
            def persistent_id(self, o: object) -> object:
                if isinstance(o, Stored):
                    stored[o.key] = o
                    return ("storage", storage_type, o.key, "cpu", len(o.values), None)
                return None

        out = io.BytesIO()
        for head in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(head, out, protocol=2)
        Pickler(out, protocol=2).dump(obj)
        pickle.dump(list(stored), out, protocol=2)
        for s in stored.values():
            out.write(struct.pack("<q", len(s.values)) + np.array(s.values, "<f4").tobytes())
        path.write_bytes(out.getvalue())

    return write


def test_tensors_are_read_only_inside_their_storage(
    tmp_path: Path, write_legacy: Callable[[Path, object], None]
) -> None:
    four = Stored("0", (1.0, 2.0, 3.0, 4.0))
    path = tmp_path / "crafted.pt"
    write_legacy(path, {"ok": Tensor(four, 1, (2, 2), (1, 1)), "empty": Tensor(four, 4, (0,), (1,))})
    read = read_torch_checkpoint(path)
    assert isinstance(read, dict)
    np.testing.assert_array_equal(read["ok"], [[2.0, 3.0], [3.0, 4.0]])
    assert read["empty"].shape == (0,)
    for shape, stride, offset in (((5,), (1,), 0), ((2,), (3,), 1), ((1,), (1,), 4), ((2**62,), (1,), 0)):
        write_legacy(path, {"w": Tensor(four, offset, shape, stride)})
        with pytest.raises(CheckpointError, match="a tensor past the end of storage 0"):
            read_torch_checkpoint(path)
    for shape, stride, offset in (((2,), (-1,), 1), ((2,), (1,), -1), ((2, 2), (1,), 0), ((2.0,), (1,), 0)):
        write_legacy(path, {"w": Tensor(four, offset, shape, stride)})  # type: ignore[arg-type]
        with pytest.raises(CheckpointError, match="a tensor with a malformed shape, stride or offset"):
            read_torch_checkpoint(path)


def test_cut_short_or_garbage_weights_give_one_clear_error(tmp_path: Path) -> None:
    weights = tmp_path / "pretrained.pt"
    shipped = models.resolve_speaker_encoder().path.read_bytes()
    for broken in (shipped[: len(shipped) // 2], shipped[:200], b"", b"\x00" * 4096, os.urandom(4096)):
        weights.write_bytes(broken)
        with pytest.raises(CheckpointError, match=r"pretrained\.pt is not a readable torch checkpoint"):
            SpeakerEncoder(weights)
    for name in ("tiny_legacy.pt", "tiny_zip.pt"):  # every cut of a real file: never another exception
        whole = (DATA / name).read_bytes()
        for end in range(0, len(whole) - 1, 7):
            weights.write_bytes(whole[:end])
            with pytest.raises(CheckpointError):
                read_torch_checkpoint(weights)
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_torch_checkpoint(tmp_path / "absent.pt")


def test_a_checkpoint_of_another_model_is_refused_by_name() -> None:
    with pytest.raises(CheckpointError, match=r"is not Resemblyzer's encoder: it has no lstm.weight_ih_l0"):
        SpeakerEncoder(DATA / "tiny_zip.pt")


# --- the resolver --------------------------------------------------------------------------------


def test_the_weights_are_resolved_from_their_package_and_checked() -> None:
    resolved = models.resolve_speaker_encoder()
    assert resolved.path.name == "pretrained.pt" and resolved.source == "package resemblyzer"
    assert "Apache-2.0" in resolved.licence
    assert models.sha256_of(resolved.path) == models.GE2E.sha256


def test_a_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = models._package_dir
    monkeypatch.setattr(models, "_package_dir", lambda module: None if module == "resemblyzer" else real(module))
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps resemblyzer==0\.1\.4"):
        models.resolve_speaker_encoder()


def test_weights_that_differ_from_the_recorded_sha256_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "GE2E", dataclasses.replace(models.GE2E, sha256="0" * 64))
    with pytest.raises(ModelNotFoundError, match="does not match its recorded sha256"):
        models.resolve_speaker_encoder()
