"""The default model, loaded from the packaged files (once per session)."""

from __future__ import annotations

import numpy as np

from redis_docstore import DefaultEmbedder


def test_batches_keep_input_order_and_match_single_embeddings(embedder: DefaultEmbedder) -> None:
    # Lengths deliberately out of order: the embedder sorts by length inside.
    texts = [
        "A much longer text about a lighthouse keeper who writes letters to the sea.",
        "Dog.",
        "Today is a sunny day",
        "x" * 300,
        "That is a happy dog",
    ]
    batch = np.array(embedder.embed_many(texts))
    single = np.array([embedder.embed_many([t])[0] for t in texts])
    assert batch.shape == (5, 384)
    cosines = (batch * single).sum(axis=1) / (
        np.linalg.norm(batch, axis=1) * np.linalg.norm(single, axis=1)
    )
    assert cosines.min() > 0.99999
    # Distinct texts, distinct vectors: nothing was shuffled.
    assert len({tuple(np.round(v, 5)) for v in batch}) == 5
