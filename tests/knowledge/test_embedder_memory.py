"""The knowledge embedder's word embeddings (47 MB) stay in the mapped file: only the rows of word
pieces a text used become resident, and what the load read to copy the layers is let go of."""

from __future__ import annotations

import numpy as np

from assistant.core.models import resolve_embedder
from assistant.knowledge.embedding import Embedder
from tests.llm.test_mapped_weights import resident_mb


def test_only_the_rows_of_word_pieces_used_are_resident() -> None:
    path = resolve_embedder().path / "model.safetensors"
    embedder = Embedder(resolve_embedder().path)
    assert not embedder._words.flags.owndata, "the word embeddings were copied out of the file"
    assert resident_mb(path) <= 1, "the pages read to copy the layers were kept"
    vectors = embedder.embed(["How do I descale the coffee machine?", "The stopcock is under the kitchen sink."])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # The kernel maps up to 64 KB around each page read (fault-around), so a row costs more than its
    # 1.5 KB; but far from the matrix's 47 MB.
    assert resident_mb(path) <= 10, f"{resident_mb(path)} MB of the file resident after two sentences"
