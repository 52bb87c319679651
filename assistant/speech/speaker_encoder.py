"""Who is speaking: Resemblyzer's pretrained GE2E speaker encoder, run with numpy.

The weights are `pretrained.pt` from the PyPI package resemblyzer==0.1.4 (models.resolve_speaker_encoder).
That package imports torch, librosa and webrtcvad; this module does the same computation without them:

- the checkpoint is read by a restricted unpickler that rebuilds tensors as numpy arrays and refuses
  every other global, so a tampered file can never run code (both torch formats: the legacy one
  pretrained.pt uses, and the zip one of torch >= 1.6);
- `preprocess` is resemblyzer's `preprocess_wav` (soxr resampling as librosa's default, volume raised to
  -30 dBFS, never lowered); its silence trimming needs a VAD, so it is a separate function
  (`trim_long_silences`) fed one speech flag per 30 ms window;
- `SpeakerEncoder.embed_wav` is `VoiceEncoder.embed_utterance`: a 40-band mel power spectrogram (25 ms
  window, 10 ms step), partials of 160 frames at 1.3 a second, a 3-layer LSTM of 256, a linear layer,
  ReLU, unit length per partial, their mean made unit length again.

On the clips in tests/speech/data it gives resemblyzer's embeddings (torch 2.13, librosa 0.11) to within
3e-7 in every element (cosine 1.000000), in 25 ms for 1.5 s of speech, 80 ms for 3 s and 130 ms for 10 s on
one core here. Two embeddings' dot product says how alike the voices are: 0.82-0.84 for two sentences of
one espeak-ng voice there, 0.62-0.70 across its two voices.
"""

from __future__ import annotations

import contextlib
import io
import math
import pickle
import struct
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from assistant.audio import SAMPLE_RATE
from assistant.core.errors import ModelNotFoundError, shown

WINDOW = 400
"""25 ms at 16 kHz: the STFT's window and FFT size."""
HOP = 160
"""10 ms: one mel frame."""
MELS = 40
PARTIAL_FRAMES = 160
"""1.6 s of frames per partial utterance."""
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
"""A last partial that the audio fills less than this is dropped (unless it is the only one)."""
HIDDEN = 256
LAYERS = 3
EMBEDDING = 256
TARGET_DBFS = -30.0
MIN_NOISE_S = 0.1
"""Less audio than this between and around the words is too little to measure the noise by."""
OVER_SUBTRACTION = 1.5
SPECTRAL_FLOOR = 0.02
"""Spectral subtraction's two settings, the usual ones (Berouti et al. 1979 use 1-6 and 0.005-0.1). On
scripts/bench/people.py's household, with white noise at 20 dB, the right person was named for 85 %
of the clips instead of 10 %; with a fan, a kitchen tap or other people talking at 20 dB, 73/85/56 %
instead of 54/48/50 %. The clean figures stay the same, and no noisy clip was named as the wrong
person (2026-12-07)."""
VAD_WINDOW = 480
"""30 ms: the unit of the speech flags `trim_long_silences` takes, as resemblyzer's webrtcvad."""
VAD_SMOOTHING = 8
"""Windows averaged to smooth the flags."""
VAD_MAX_SILENCE = 6
"""A silence between words longer than this many windows shrinks to it (3 kept on each side)."""


class CheckpointError(ModelNotFoundError):
    """A weights file that is not a readable torch checkpoint, or that asks to run code."""

    code = "model_unreadable"


# --- torch checkpoints without torch ---------------------------------------------------------

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _Forbidden(pickle.UnpicklingError):
    pass


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype
    start: int
    """Elements into the stored block (a legacy view); 0 otherwise."""
    size: int

    def __setstate__(self, state: object) -> None:
        raise pickle.UnpicklingError("a storage's fields set by the pickle")


@dataclass(frozen=True)
class _TensorRef:
    """A tensor named in the pickle; its data comes later (legacy files store it after the pickle)."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def __setstate__(self, state: object) -> None:
        raise pickle.UnpicklingError("a tensor's fields set by the pickle")


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: object
) -> _TensorRef:
    """Stands in for torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks);
    what the pickle passed is checked where it is used (_tensor)."""
    return _TensorRef(storage, offset, shape, stride)


class _Unpickler(pickle.Unpickler):
    """Knows three globals: an OrderedDict, a tensor, a storage type. Anything else is refused, so
    the pickle cannot call a function of its choosing (os.system, eval, …)."""

    def __init__(self, file: io.BytesIO, blocks: dict[str, tuple[np.dtype, int]]) -> None:
        super().__init__(file)
        self._blocks = blocks

    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<"))
        raise _Forbidden(f"{module}.{name}")

    def persistent_load(self, pid: object) -> _Storage:
        # zip: ('storage', type, key, location, numel); legacy: the same and a view (key, offset, size) or None
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"an unknown persistent id {str(pid)[:80]}")
        storage_type, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or type(numel) is not int:
            raise pickle.UnpicklingError("a malformed storage")
        known = self._blocks.setdefault(key, (storage_type.dtype, numel))
        if known != (storage_type.dtype, numel):
            raise pickle.UnpicklingError(f"storage {key} is declared twice, differently")
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return _Storage(key, storage_type.dtype, 0, numel)
        if not (isinstance(view, tuple) and len(view) == 3 and all(type(n) is int and n >= 0 for n in view[1:])):
            raise pickle.UnpicklingError("a malformed storage view")
        return _Storage(key, storage_type.dtype, view[1], view[2])


def _tensor(ref: _TensorRef, blocks: dict[str, np.ndarray]) -> np.ndarray:
    """A copy of the tensor's elements, after checking that every one lies inside its storage."""
    s, shape, stride = ref.storage, ref.shape, ref.stride
    if not (isinstance(s, _Storage) and isinstance(shape, tuple) and isinstance(stride, tuple)):
        raise ValueError("a tensor without a storage, shape or stride")
    numbers = (s.start, s.size, ref.offset, *shape, *stride)
    if len(shape) != len(stride) or not all(type(n) is int and n >= 0 for n in numbers):
        raise ValueError("a tensor with a malformed shape, stride or offset")
    data = blocks[s.key][s.start : s.start + s.size]
    last = ref.offset + sum((n - 1) * st for n, st in zip(shape, stride, strict=True)) if 0 not in shape else -1
    if len(data) < s.size or max(last, ref.offset - 1) >= len(data):
        raise ValueError(f"a tensor past the end of storage {s.key}")
    strides = tuple(st * data.itemsize for st in stride)
    view = np.lib.stride_tricks.as_strided(data[ref.offset :], shape, strides, writeable=False)
    return view.astype(view.dtype.newbyteorder("="), copy=True)


def _materialise(obj: object, blocks: dict[str, np.ndarray]) -> object:
    """The unpickled object with every tensor reference replaced by its numpy array (a copy)."""
    if isinstance(obj, _TensorRef):
        return _tensor(obj, blocks)
    if isinstance(obj, dict):
        return {k: _materialise(v, blocks) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(v, blocks) for v in obj)
    return obj


def _read_legacy(raw: bytes) -> object:
    f = io.BytesIO(raw)
    blocks: dict[str, tuple[np.dtype, int]] = {}
    if _Unpickler(f, blocks).load() != _LEGACY_MAGIC:
        raise ValueError("not a torch checkpoint (no magic number)")
    if _Unpickler(f, blocks).load() != _LEGACY_PROTOCOL:
        raise ValueError("an unknown torch checkpoint protocol")
    info = _Unpickler(f, blocks).load()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise ValueError("a big-endian or unlabelled torch checkpoint")
    result = _Unpickler(f, blocks).load()
    keys = _Unpickler(f, blocks).load()
    if not isinstance(keys, list) or sorted(keys) != sorted(blocks):
        raise ValueError("its storage list does not match its tensors")
    arrays = {}
    pos = f.tell()
    for key in keys:
        dtype, numel = blocks[key]
        if pos + 8 > len(raw):
            raise ValueError("it ends before its tensors' data")
        (count,) = struct.unpack_from("<q", raw, pos)
        if count != numel or pos + 8 + count * dtype.itemsize > len(raw):
            raise ValueError(f"storage {key} is cut short or has the wrong size")
        arrays[key] = np.frombuffer(raw, dtype, count, pos + 8)
        pos += 8 + count * dtype.itemsize
    return _materialise(result, arrays)


def _read_zip(raw: bytes) -> object:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:

        def read(name: str) -> bytes:
            # torch stores every entry uncompressed: nothing read here can be bigger than the file
            if z.getinfo(name).compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"a compressed entry {name}")
            return z.read(name)

        pickles = [n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ValueError("a zip without one data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        if prefix + "byteorder" in z.namelist() and read(prefix + "byteorder") != b"little":
            raise ValueError("a big-endian torch checkpoint")
        blocks: dict[str, tuple[np.dtype, int]] = {}
        result = _Unpickler(io.BytesIO(read(pickles[0])), blocks).load()
        arrays = {}
        for key, (dtype, numel) in blocks.items():
            data = read(f"{prefix}data/{key}")
            if len(data) != numel * dtype.itemsize:
                raise ValueError(f"storage {key} has the wrong size")
            arrays[key] = np.frombuffer(data, dtype, numel)
    return _materialise(result, arrays)


def read_torch_checkpoint(path: Path) -> object:
    """What `torch.load(path)` gives, with numpy arrays for tensors (dicts for OrderedDicts).

    Raises CheckpointError for a file that is unreadable, cut short, or whose pickle names anything
    but tensors, storages and OrderedDicts."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"speaker encoder weights {path} cannot be read: {e.strerror or e}") from e
    try:
        return _read_zip(raw) if zipfile.is_zipfile(io.BytesIO(raw)) else _read_legacy(raw)
    except _Forbidden as e:
        raise CheckpointError(
            f"refused to load {path}: its pickle asks for {shown(e)[:120]}, which no tensor checkpoint "
            f"needs (the file may have been tampered with; reinstall it)"
        ) from e
    except Exception as e:  # anything an untrusted pickle can raise: it is simply not a checkpoint
        raise CheckpointError(
            f"{path} is not a readable torch checkpoint ({type(e).__name__}: {shown(e)[:200]}); reinstall it"
        ) from e


# --- audio ----------------------------------------------------------------------------------


def preprocess(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """int16 or float mono at any rate → float32 at 16 kHz, raised to -30 dBFS (never lowered), as
    resemblyzer's preprocess_wav but for the silence trimming (see trim_long_silences)."""
    wav = as_float_16k(pcm, rate)
    gain = level_gain(wav)
    return wav if gain == 1.0 else wav * np.float32(gain)


def as_float_16k(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """int16 or float mono at any rate → float32 at 16 kHz (soxr, as librosa.resample's default)."""
    wav = np.asarray(pcm)
    if wav.ndim != 1 or len(wav) == 0:
        raise ValueError(f"expected non-empty mono audio, got an array of shape {wav.shape}")
    if wav.dtype == np.int16:
        wav = wav.astype(np.float32) / np.float32(32768.0)
    elif wav.dtype.kind == "f":
        wav = wav.astype(np.float32, copy=False)
    else:
        raise ValueError(f"expected int16 or float samples, got {wav.dtype}")
    if rate != SAMPLE_RATE:
        import soxr

        # librosa.resample's default (soxr_hq), and its length: ceil(n * ratio)
        size = math.ceil(len(wav) * SAMPLE_RATE / rate)
        wav = soxr.resample(wav, rate, SAMPLE_RATE, quality="HQ")[:size]
        wav = np.pad(wav, (0, size - len(wav)))
    return wav


def level_gain(wav: np.ndarray) -> float:
    """The factor that raises `wav` to -30 dBFS; 1 when it is louder already, or silent (resemblyzer
    would divide by zero there and return NaNs)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    if rms == 0.0:
        return 1.0
    change = TARGET_DBFS - 20.0 * math.log10(rms)
    return 1.0 if change <= 0.0 else float(10.0 ** (change / 20.0))


def noise_floor(noise: np.ndarray) -> np.ndarray | None:
    """(40,) mel power of the noise: the mean of the quieter half of the frames of what is not speech
    (float 16 kHz audio, at the speech's gain), or None when there is too little of it to tell. The
    VAD's "not speech" holds the ends of words too, and in a quiet room they are most of its power:
    the mean of every frame took speech out of clean clips (on the bench's 45 voices, 0.4 % fewer
    named right); the quieter half leaves clean clips as they were. The frames at its ends are left
    out: they straddle the cuts where the pieces between words were joined."""
    if len(noise) < MIN_NOISE_S * SAMPLE_RATE:
        return None
    mel = mel_spectrogram(noise)[2:-2]
    energy = mel.sum(axis=1)
    floor: np.ndarray = mel[energy <= np.median(energy)].mean(axis=0)
    return floor


def subtract_noise(mel: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Spectral subtraction on the mel power the network reads (Berouti's: OVER_SUBTRACTION times the
    noise taken away, never below SPECTRAL_FLOOR of what was there). Noise adds to speech in power, and
    the encoder was trained on clean speech: a fan or a tap otherwise pulls every voice towards the noise."""
    cleaned: np.ndarray = np.maximum(mel - OVER_SUBTRACTION * floor, SPECTRAL_FLOOR * mel)
    return cleaned


def trim_long_silences(wav: np.ndarray, speech: Sequence[bool] | np.ndarray) -> np.ndarray:
    """Resemblyzer's trim_long_silences with the VAD's verdicts given: one flag per 30 ms window of
    `wav` (resemblyzer asks webrtcvad, mode 3; Silero's verdicts resampled to 30 ms will do). The flags
    are smoothed over 8 windows, and only windows within 3 of smoothed speech are kept: a pause between
    words shrinks to at most 6 windows (180 ms), silence before and after to 3."""
    flags = np.asarray(speech, dtype=np.float64)
    windows = len(wav) // VAD_WINDOW
    if flags.shape != (windows,):
        raise ValueError(f"expected {windows} speech flags (one per 30 ms), got {flags.shape}")
    padded = np.concatenate([np.zeros((VAD_SMOOTHING - 1) // 2), flags, np.zeros(VAD_SMOOTHING // 2)])
    total = np.cumsum(padded)
    total[VAD_SMOOTHING:] = total[VAD_SMOOTHING:] - total[:-VAD_SMOOTHING]
    voiced = np.round(total[VAD_SMOOTHING - 1 :] / VAD_SMOOTHING).astype(np.int32)
    # scipy's binary_dilation by a structure of 7 ones: a window is kept within 3 of a voiced one
    reach = VAD_MAX_SILENCE // 2
    kept = np.convolve(voiced, np.ones(2 * reach + 1, np.int32))[reach : reach + windows] > 0
    trimmed: np.ndarray = wav[: windows * VAD_WINDOW][np.repeat(kept, VAD_WINDOW)]
    return trimmed


def _mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney's mel scale and area normalisation,
    (MELS, WINDOW // 2 + 1) float32."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0

    def to_mel(hz: float) -> float:
        return hz / f_sp if hz < min_log_hz else min_log_mel + math.log(hz / min_log_hz) / logstep

    mels = np.linspace(to_mel(0.0), to_mel(SAMPLE_RATE / 2), MELS + 2)
    hz = np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)
    ramps = hz[:, None] - np.fft.rfftfreq(WINDOW, 1.0 / SAMPLE_RATE)[None, :]
    widths = np.diff(hz)
    weights = np.maximum(0.0, np.minimum(-ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]))
    filters: np.ndarray = (weights * (2.0 / (hz[2:] - hz[:-2]))[:, None]).astype(np.float32)
    return filters


_MEL_FILTERS = _mel_filters()
_HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power (not log) of 16 kHz float audio, one frame per 10 ms: librosa's
    melspectrogram as resemblyzer calls it (centred frames, zero padding as librosa >= 0.10)."""
    padded = np.pad(wav.astype(np.float32, copy=False), WINDOW // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP] * _HANN
    spectrum = np.fft.rfft(frames, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    mel: np.ndarray = (power.astype(np.float32) @ _MEL_FILTERS.T).astype(np.float32)
    return mel


def partial_starts(samples: int) -> list[int]:
    """The first mel frame of each 160-frame partial, as resemblyzer's compute_partial_slices(rate=1.3,
    min_coverage=0.75): at least one partial; audio shorter than the last one is zero-padded."""
    frames = -(-(samples + 1) // HOP)
    step = round(SAMPLE_RATE / PARTIALS_PER_SECOND / HOP)
    starts = list(range(0, max(1, frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


# --- the network ----------------------------------------------------------------------------


def _lstm_layer(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One LSTM layer over (time, batch, inputs) → (time, batch, HIDDEN). The weights come with their
    gates reordered to input, forget, output, cell and the first three halved, so that one tanh gives
    all four: sigmoid(z) = (tanh(z / 2) + 1) / 2."""
    steps, batch, _ = x.shape
    projected = x @ w_ih  # the input's share of every step at once
    projected += bias
    out = np.empty((steps, batch, HIDDEN), np.float32)
    h = np.zeros((batch, HIDDEN), np.float32)
    c = np.zeros((batch, HIDDEN), np.float32)
    gates = np.empty((batch, 4 * HIDDEN), np.float32)
    for t in range(steps):
        np.matmul(h, w_hh, out=gates)
        gates += projected[t]
        np.tanh(gates, out=gates)
        sig = gates[:, : 3 * HIDDEN]
        sig *= 0.5
        sig += 0.5
        c *= gates[:, HIDDEN : 2 * HIDDEN]
        c += gates[:, :HIDDEN] * gates[:, 3 * HIDDEN :]
        np.tanh(c, out=h)
        h *= gates[:, 2 * HIDDEN : 3 * HIDDEN]
        out[t] = h
    return out


def _gate_order(w: np.ndarray) -> np.ndarray:
    """torch's gate rows (input, forget, cell, output) → input, forget, output halved, then cell."""
    i, f, g, o = np.split(np.asarray(w, np.float32), 4)
    return np.concatenate([i * 0.5, f * 0.5, o * 0.5, g])


class SpeakerEncoder:
    """Speech → a unit 256-vector of who is speaking (Resemblyzer's GE2E encoder, in numpy)."""

    def __init__(self, weights: Path) -> None:
        checkpoint = read_torch_checkpoint(weights)
        state = checkpoint.get("model_state", checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise CheckpointError(f"{weights} holds no state dict of a speaker encoder")

        def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
            value = state.get(name)
            if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype.kind != "f":
                raise CheckpointError(f"{weights} is not Resemblyzer's encoder: it has no {name} of shape {shape}")
            return value

        self._layers = []
        for n in range(LAYERS):
            w_ih = tensor(f"lstm.weight_ih_l{n}", (4 * HIDDEN, MELS if n == 0 else HIDDEN))
            w_hh = tensor(f"lstm.weight_hh_l{n}", (4 * HIDDEN, HIDDEN))
            bias = tensor(f"lstm.bias_ih_l{n}", (4 * HIDDEN,)) + tensor(f"lstm.bias_hh_l{n}", (4 * HIDDEN,))
            self._layers.append(
                (
                    np.ascontiguousarray(_gate_order(w_ih).T),
                    np.ascontiguousarray(_gate_order(w_hh).T),
                    _gate_order(bias),
                )
            )
        self._linear = np.ascontiguousarray(tensor("linear.weight", (EMBEDDING, HIDDEN)).T, np.float32)
        self._linear_bias = tensor("linear.bias", (EMBEDDING,)).astype(np.float32)
        self._lock = threading.Lock()
        self._blas = ThreadpoolController()

    def _one_blas_thread(self) -> contextlib.AbstractContextManager[object]:
        """OpenBLAS spreads even these small products over both cores, and on a busy machine its
        threads wait on one another: with two threads the tests took 47 s, with one 2.3 s. The limit is
        process-wide while it lasts (the lock keeps two embeddings from restoring it out of order)."""
        limit: contextlib.AbstractContextManager[object] = self._blas.limit(limits=1, user_api="blas")
        return limit

    def embed(
        self,
        pcm: np.ndarray,
        rate: int = SAMPLE_RATE,
        speech: Sequence[bool] | np.ndarray | None = None,
        noise: np.ndarray | None = None,
    ) -> np.ndarray:
        """int16 or float mono audio → unit (256,) float32. `speech`, one flag per 30 ms of the 16 kHz
        audio, trims long silences as resemblyzer's preprocess_wav does; without it, trim beforehand
        (the voice loop's Silero VAD already cuts the utterance). `noise`, the same recording's audio
        between and around the words (same rate and scale), is subtracted from the speech's spectrum
        when there is at least MIN_NOISE_S of it; without it the embedding is resemblyzer's exactly."""
        wav = as_float_16k(pcm, rate)
        gain = level_gain(wav)
        floor = None if noise is None or len(noise) == 0 else noise_floor(as_float_16k(noise, rate) * np.float32(gain))
        wav = wav * np.float32(gain)
        if speech is not None:
            wav = trim_long_silences(wav, speech)
            if len(wav) == 0:
                raise ValueError("the speech flags mark no speech at all")
        return self.embed_wav(wav, floor)

    def embed_wav(self, wav: np.ndarray, noise_floor: np.ndarray | None = None) -> np.ndarray:
        """resemblyzer's VoiceEncoder.embed_utterance: float audio already at 16 kHz and preprocessed."""
        partials = self.embed_partials(wav, noise_floor)
        mean = partials.mean(axis=0)
        return _unit(mean)

    def embed_partials(self, wav: np.ndarray, noise_floor: np.ndarray | None = None) -> np.ndarray:
        """(partials, 256): one unit vector for each 1.6 s stretch, 1.3 stretches a second."""
        starts = partial_starts(len(wav))
        needed = (starts[-1] + PARTIAL_FRAMES) * HOP
        if needed >= len(wav):
            wav = np.pad(wav, (0, needed - len(wav)))
        # (time, partials, mels), the partials padded with silence to a multiple of 4: OpenBLAS's
        # small matrix products took twice as long for 2, 3, 5, … rows as for 4 or 8 (measured here)
        batch = 1 if len(starts) == 1 else -(-len(starts) // 4) * 4
        x = np.zeros((PARTIAL_FRAMES, batch, MELS), np.float32)
        with self._lock, self._one_blas_thread():
            mel = mel_spectrogram(wav)
            if noise_floor is not None:
                mel = subtract_noise(mel, noise_floor)
            for n, s in enumerate(starts):
                x[:, n] = mel[s : s + PARTIAL_FRAMES]
            for w_ih, w_hh, bias in self._layers:
                x = _lstm_layer(x, w_ih, w_hh, bias)
            raw = np.maximum(x[-1, : len(starts)] @ self._linear + self._linear_bias, 0.0)
        return _unit(raw)


def _unit(v: np.ndarray) -> np.ndarray:
    """Each row (or the vector) scaled to length 1; an all-zero one stays zero instead of NaN."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    out: np.ndarray = (v / np.maximum(norm, np.finfo(np.float32).tiny)).astype(np.float32)
    return out
