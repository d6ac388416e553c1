"""Texts to vectors: each distinct text once, through the store's LRU cache."""

from __future__ import annotations

from collections.abc import Sequence

from redis_docstore._effects import Embed, Flow
from redis_docstore._embeddings import Vector, validate_vector
from redis_docstore._errors import InvalidEmbeddingError
from redis_docstore._ops.meta import embedder_name
from redis_docstore._ops.state import StoreState
from redis_docstore._schema import IndexSettings

__all__ = ["embed"]


def embed(
    state: StoreState, texts: Sequence[str], settings: IndexSettings | None = None
) -> Flow[list[Vector]]:
    """Embed texts, each distinct text once, through an LRU cache.

    The cache is keyed by (model name, text), so a repeated query or a
    re-added document costs no model work.

    Args:
        state: The store's state (its models and embedding cache).
        texts: The texts.
        settings: The settings (generation) the vectors are for, as a write
            captured them; the store's current ones by default. The model is
            that generation's, so a reembed switching meanwhile never pairs
            one model's vectors with the other's index.

    Returns:
        One validated vector per text, in order.

    Raises:
        InvalidEmbeddingError: The model returned too few, too many or invalid vectors.
    """
    if not texts:
        return []
    s = state.settings if settings is None else settings
    embedder = state.embedders.get(s.epoch, state.embedder)
    model = embedder_name(embedder)
    cache = state.embedding_cache
    with state.cache_lock:  # threads share the store, and its cache
        found = {t: v for t in texts if (v := cache.get((model, t))) is not None}
    missing = [t for t in dict.fromkeys(texts) if t not in found]
    if missing:
        vectors = yield Embed(missing, embedder)
        if len(vectors) != len(missing):
            raise InvalidEmbeddingError(
                f"the embedder returned {len(vectors)} vectors for {len(missing)} texts"
            )
        for text, vector in zip(missing, vectors, strict=True):
            found[text] = validate_vector(vector, dims=s.dims, distance=s.distance)
    with state.cache_lock:
        for text in found:
            cache[(model, text)] = found[text]
            cache.move_to_end((model, text))
        while len(cache) > state.embedding_cache_size:
            cache.popitem(last=False)
    return [found[t] for t in texts]
