"""What one store's operations share: its settings, options, models and caches.

A :class:`StoreState` is made by the store's constructor (which validates the
options) and handed to every operation; the operations read it and, when the
index is opened or the store re-embedded, update it. It holds no connection:
the store's runner (:mod:`redis_docstore._runners`) does the I/O.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from redis_docstore._commands.search import validate_k
from redis_docstore._embeddings import DefaultEmbedder, Embedder, Vector
from redis_docstore._errors import ValidationError
from redis_docstore._filters.expression import FieldKind
from redis_docstore._ops.spec import SearchSpec
from redis_docstore._schema import Algorithm, DataType, Distance, IndexSettings

__all__ = [
    "CACHE_SIZE",
    "DEFAULT_EF_RUNTIME",
    "EMBEDDING_CACHE_SIZE",
    "StoreState",
    "default_embedder",
    "frozen",
    "keep",
    "lookup",
]

# HNSW search breadth of every query unless told otherwise. Redis' own default
# (10) gave recall@10 of 0.64 on 100k clustered documents. Real text is harder:
# on 38k short texts (python -m bench.recall_text) EF 100 gave mean recall@10
# 0.991 with queries at 0.7, EF 200 0.997 (worst 0.8), EF 400 0.9997 (worst
# 0.9), for p50 1.2 / 1.5 / 2.6 ms; 400 is the smallest that holds mean >= 0.995
# with no query below 0.9 (README, "Recall on real text").
DEFAULT_EF_RUNTIME = 400
CACHE_SIZE = 256  # rendered filters and search specs kept per store
EMBEDDING_CACHE_SIZE = 4096  # (model, text) -> vector, about 12 MB at 384 dims


class StoreState:
    """The settings, options, models and caches one store's operations share.

    See :class:`~redis_docstore.DocumentStore` for the arguments.

    Attributes:
        settings: The index settings; replaced (never mutated) when opening the
            index reads another prefix, id scheme or generation, and by reembed.
        embedder: The current generation's model.
        embedders: Each generation's model, by generation number (see reembed).
        ef_runtime: The default HNSW search breadth (``None``: Redis' own).
        query_timeout_ms: Server-side time limit of vector searches, in ms (0: none).
        overwrite: Replace an index of another schema when opening it.
        index_timeout: Seconds to wait for an index still indexing.
        allow_eviction: Accept an ``allkeys-*`` eviction policy.
        eviction_policy: The server's ``maxmemory-policy``, read when the index
            was opened (``None``: not read, or ``CONFIG`` was denied).
        ttl_eviction_warned: The warning that a ``volatile-*`` policy may evict
            documents given a TTL was given (see ``lifecycle.warn_ttl_eviction``).
        embedding_cache_size: How many (model, text) embeddings to keep; 0: none.
        filter_cache: Rendered filter expressions, by filter arguments.
        spec_cache: Search specs, by search options.
        embedding_cache: (model name, text) -> vector, least recently used first.
        cache_lock: Guards the caches (threads share a store).
        base_prefix: The prefix the user gave; documents of a re-embedded
            generation live under ``"<base>.v<n>:"``, recorded in the meta hash.
        ready: The index was opened (and checked) by this store.

    Raises:
        ValidationError: An invalid option.
    """

    def __init__(
        self,
        *,
        index: str,
        prefix: str | None,
        distance: Distance,
        algorithm: Algorithm,
        embedder: Embedder | None,
        metadata_fields: Mapping[str, FieldKind] | None,
        datatype: DataType,
        ef_runtime: int | None,
        overwrite: bool,
        index_timeout: float,
        allow_eviction: bool,
        query_timeout: float | None,
    ) -> None:
        self.embedder: Embedder = embedder if embedder is not None else default_embedder()
        self.settings = IndexSettings(
            name=index,
            prefix=(index if prefix is None else prefix.removesuffix(":")),
            dims=self.embedder.dims,
            distance=distance,
            algorithm=algorithm,
            metadata_fields=tuple((metadata_fields or {}).items()),
            datatype=datatype,
        )
        if ef_runtime is not None:
            validate_k(ef_runtime, "ef_runtime")
        self.ef_runtime = ef_runtime
        if query_timeout is not None and (
            isinstance(query_timeout, bool)
            or not isinstance(query_timeout, int | float)
            or not 0 < query_timeout < 86_400
        ):
            raise ValidationError(
                f"query_timeout must be a number of seconds > 0, or None, not {query_timeout!r}"
            )
        self.query_timeout_ms = 0 if query_timeout is None else max(1, round(query_timeout * 1000))
        self.overwrite = overwrite
        self.index_timeout = index_timeout
        self.allow_eviction = allow_eviction
        self.eviction_policy: str | None = None
        self.ttl_eviction_warned = False
        self.embedders: dict[int, Embedder] = {1: self.embedder}
        self.embedding_cache_size = EMBEDDING_CACHE_SIZE
        self.filter_cache: dict[Any, str] = {}
        self.spec_cache: dict[Any, SearchSpec] = {}
        self.embedding_cache: OrderedDict[tuple[str, str], Vector] = OrderedDict()
        self.cache_lock = threading.Lock()
        self.base_prefix = self.settings.prefix
        self.ready = False


def lookup(cache: dict[Any, Any], key: Any) -> tuple[Any, Any]:
    """``(cache.get(key), key)``; ``(None, None)`` for an unhashable key (never cached)."""
    try:
        return cache.get(key), key
    except TypeError:
        return None, None


def keep(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Cache ``value`` unless ``key`` is ``None``; a full cache starts over."""
    if key is None:
        return
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[key] = value


def frozen(value: Any) -> Any:
    """A hashable stand-in for a filter argument (lists become tuples)."""
    return tuple(value) if isinstance(value, list) else value


@functools.cache
def default_embedder() -> DefaultEmbedder:
    """The process-wide default embedder, so the model loads once per process."""
    return DefaultEmbedder()
