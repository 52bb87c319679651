"""The knowledge embedder's weights stay in the mapped file: the word embeddings (47 MB) and the
layers' matrices (43 MB) are read from it while a call embeds, and let go of when it is done, so the
assistant does not hold them while it plans or speaks."""

from __future__ import annotations

import numpy as np

from assistant.core.models import resolve_embedder
from assistant.knowledge.embedding import Embedder
from tests.llm.test_mapped_weights import resident_mb


def test_the_weights_are_resident_only_while_a_call_embeds() -> None:
    path = resolve_embedder().path / "model.safetensors"
    embedder = Embedder(resolve_embedder().path)
    assert not embedder._words.flags.owndata, "the word embeddings were copied out of the file"
    for name in ("q_w", "k_w", "v_w", "out_w", "up_w", "down_w"):
        assert not embedder._layers[0][name].flags.owndata, f"the layers' {name} was copied out of the file"  # type: ignore[literal-required]
    assert resident_mb(path) <= 1, "the pages the load read were kept"
    vectors = embedder.embed(["How do I descale the coffee machine?", "The stopcock is under the kitchen sink."])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert resident_mb(path) <= 1, f"{resident_mb(path)} MB of the file kept after the call"
    again = embedder.embed(["How do I descale the coffee machine?"])
    assert np.allclose(again[0], vectors[0], atol=1e-6), "the pages read back gave another vector"
