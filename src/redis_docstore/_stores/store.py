"""DocumentStore and AsyncDocumentStore: their options, and their methods by concept.

Each store is its state and runner (made here) plus the methods of
:mod:`.lifecycle`, :mod:`.writes`, :mod:`.reads` and :mod:`.search`, where every
sync method stands beside its async twin. Both run the same flows of
:mod:`redis_docstore._ops`: the sync store with blocking redis-py calls
(:class:`~redis_docstore._runners.BlockingRunner`), the async one with awaits
(:class:`~redis_docstore._runners.AsyncRunner`; the model runs in a worker thread, so
embedding never blocks the event loop). ``tests/unit/test_store_parity.py`` checks
that the two expose the same methods, signatures and docstrings.
"""

from __future__ import annotations

from redis_docstore._runners import AsyncRunner, BlockingRunner
from redis_docstore._stores.base import BaseStore
from redis_docstore._stores.lifecycle import AsyncLifecycle, Lifecycle
from redis_docstore._stores.reads import AsyncReads, Reads
from redis_docstore._stores.search import AsyncSearch, Search
from redis_docstore._stores.writes import AsyncWrites, Writes

__all__ = ["AsyncDocumentStore", "DocumentStore"]


class DocumentStore(Lifecycle, Writes, Reads, Search, BaseStore):
    """JSON documents in Redis Stack with genre-filtered semantic search.

    The index is created on first use (or by :meth:`create`). Use
    :meth:`embedded` for a private Redis Stack started for you. One store is
    meant to be shared by all of a process's threads: it is safe for
    concurrent use, and concurrent callers' texts share the model's passes.

    Args:
        url: The Redis URL, e.g. ``redis://localhost:6379``.
        index: The index name.
        prefix: Documents live under ``<prefix>:<id>``; defaults to ``index``.
        distance: ``"l2"`` (default), ``"cosine"`` or ``"ip"``.
        algorithm: ``"hnsw"`` (default) or ``"flat"`` (exact).
        embedder: Embeds texts; defaults to all-MiniLM-L6-v2 (384 dims).
        metadata_fields: Metadata keys to index for filtering, e.g.
            ``{"author": "tag", "year": "numeric", "summary": "text"}``;
            other metadata is stored and returned but not filterable.
        datatype: The index's vector type, ``"float32"`` or ``"float16"``
            (half the vector index memory; documents keep full floats).
        ef_runtime: HNSW search breadth for every query: 400 by default, for
            recall@10 of 0.999 on real text (Redis' own default, 10, gives far
            less at 100k documents); ``None`` for Redis' default. A search's
            own ``ef_runtime`` overrides it.
        overwrite: If an index of that name exists with another schema, drop
            that index definition (not the documents) and create ours.
            Without it, such an index raises ``SchemaMismatchError``.
        index_timeout: Seconds to wait, on first use, for an index that is
            still indexing existing documents (after ``overwrite`` or a server
            restart) before raising ``IndexNotReadyError``.
        retry_timeout: Seconds to keep resending a command after connection
            errors (a restarting or loading server) before raising
            ``StoreConnectionError``; after a reconnection the store also
            waits until the index is complete again.
        allow_eviction: Accept a server whose ``maxmemory-policy`` is one of
            the ``allkeys-*`` policies, which evict documents silently (with a
            warning); without it such a server raises ``UnsafeEvictionError``.
        query_timeout: A server-side time limit, in seconds, for each vector
            search (``TIMEOUT``); a search cut by it raises
            ``IncompleteResultsError`` instead of returning what it found so
            far. ``None`` (the default): no limit, as RediSearch's own
            ``TIMEOUT 0``; searches are then sent as RESP2, ~30 us cheaper.

    Raises:
        ValidationError: An invalid index name, prefix, distance, algorithm
            or metadata field.
    """

    _runner_type = BlockingRunner


class AsyncDocumentStore(AsyncLifecycle, AsyncWrites, AsyncReads, AsyncSearch, BaseStore):
    """JSON documents in Redis Stack with genre-filtered semantic search, async.

    Args:
        url: The Redis URL. The keyword options are those of
            :class:`DocumentStore`.
    """

    _runner_type = AsyncRunner
