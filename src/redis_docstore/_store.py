"""The DocumentStore: add documents, search them by meaning within genres.

Every operation is written once, as a flow in :mod:`redis_docstore._ops`; this
class calls it and hands it to its runner, which performs it with blocking
redis-py calls (:class:`~redis_docstore._runners.BlockingRunner`).
:class:`~redis_docstore._async_store.AsyncDocumentStore` runs the same flows
with awaits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from redis_docstore._base_store import BaseStore
from redis_docstore._commands.search import validate_k
from redis_docstore._connection import redact_url
from redis_docstore._documents import Document, Hit, LoadReport
from redis_docstore._embeddings import Embedder
from redis_docstore._errors import ValidationError
from redis_docstore._filters.expression import FieldKind, Filter
from redis_docstore._ops import filtering, lifecycle, migration, reads, search, writes
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.spec import TextMode
from redis_docstore._ops.state import DEFAULT_EF_RUNTIME, StoreState, default_embedder
from redis_docstore._runners import BlockingRunner
from redis_docstore._schema import Algorithm, DataType, Distance

__all__ = ["DEFAULT_EF_RUNTIME", "DocumentStore", "default_embedder", "redact_url"]


class DocumentStore(BaseStore):
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

    def __init__(
        self,
        url: str,
        *,
        index: str = "docstore",
        prefix: str | None = None,
        distance: Distance = "l2",
        algorithm: Algorithm = "hnsw",
        embedder: Embedder | None = None,
        metadata_fields: Mapping[str, FieldKind] | None = None,
        datatype: DataType = "float32",
        ef_runtime: int | None = DEFAULT_EF_RUNTIME,
        overwrite: bool = False,
        index_timeout: float = 300.0,
        retry_timeout: float = 10.0,
        allow_eviction: bool = False,
        query_timeout: float | None = None,
    ) -> None:
        state = StoreState(
            index=index,
            prefix=prefix,
            distance=distance,
            algorithm=algorithm,
            embedder=embedder,
            metadata_fields=metadata_fields,
            datatype=datatype,
            ef_runtime=ef_runtime,
            overwrite=overwrite,
            index_timeout=index_timeout,
            allow_eviction=allow_eviction,
            query_timeout=query_timeout,
        )
        super().__init__(url, state)
        self._runner = BlockingRunner(url, state, retry_timeout=retry_timeout)

    # -- lifecycle -------------------------------------------------------------

    def create(self, *, overwrite: bool | None = None) -> None:
        """Create the index if it does not exist; check it if it does.

        Idempotent: calling it again with the same settings does nothing. It
        waits for an index still indexing existing documents.

        Args:
            overwrite: Overrides the constructor's ``overwrite`` for this call.

        Raises:
            SchemaMismatchError: The index exists with another schema (dims,
                metric, algorithm, fields, prefix or embedder) and
                ``overwrite`` is off.
            IndexNotReadyError: Still indexing after ``index_timeout``.
            StoreError: Redis failed (``MissingModuleError`` without the
                search module, ``StoreConnectionError`` when unreachable).
        """
        self._runner.run(lifecycle.create(self._state, overwrite))

    def drop(self, *, delete_documents: bool) -> None:
        """Drop the index.

        Args:
            delete_documents: Required, so deleting data is always explicit.
                ``True`` also deletes every key under the store's prefix (and
                nothing else).

        Raises:
            StoreError: Redis failed.
        """
        self._runner.run(lifecycle.drop(self._state, delete_documents=delete_documents))

    def close(self) -> None:
        """Close the connections, and stop the embedded server if there is one."""
        self._runner.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes ------------------------------------------------------------------

    def add(self, documents: Iterable[Document] | Document) -> list[str]:
        """Add or replace documents (an upsert by id).

        Every document is validated first; if one is invalid nothing is
        written. Documents without an embedding are embedded (texts seen
        recently come from an LRU cache; concurrent callers' texts share the
        model's passes). Writes go in pipelines of 250 documents, each ending
        with a check that Redis indexed what it stored.

        Args:
            documents: The documents (or one document).

        Returns:
            The ids, in input order. When a batch repeats an id, the last
            document with that id is the one stored.

        Raises:
            ValidationError: An invalid document; nothing was written.
            StoreError: Redis failed.
        """
        return self._runner.run(writes.load(self._state, documents, skip_unchanged=False)).ids

    def load(
        self, documents: Iterable[Document] | Document, *, skip_unchanged: bool = True
    ) -> LoadReport:
        """Like :meth:`add`, but skip documents already stored unchanged.

        A document whose id is stored with the same content, genres and
        metadata is neither embedded nor written again, so re-running an
        interrupted or repeated ingest costs one read per document.

        Args:
            documents: The documents (or one document).
            skip_unchanged: Compare with what is stored first (one round trip).

        Returns:
            A :class:`LoadReport`: every id, those written, those unchanged.

        Raises:
            ValidationError: An invalid document; nothing was written.
            StoreError: Redis failed.
        """
        return self._runner.run(writes.load(self._state, documents, skip_unchanged=skip_unchanged))

    def update(
        self,
        doc_id: str,
        *,
        content: str | None = None,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Document:
        """Change a stored document; only new content is embedded again.

        Args:
            doc_id: The document's id (it stays the same, even when the content
                changes).
            content: New text; the document is re-embedded.
            genre: New genre(s), replacing the old ones.
            metadata: New metadata, replacing the old.

        Returns:
            The document as now stored.

        Raises:
            DocumentNotFoundError: No document has that id.
            ValidationError: Invalid new values, or nothing to change.
            StoreError: Redis failed.
        """
        return self._runner.run(
            writes.update(self._state, doc_id, content=content, genre=genre, metadata=metadata)
        )

    def delete(
        self, ids: Iterable[str] | str | None = None, *, where: Filter | None = None
    ) -> int:
        """Delete documents by id, or every document matching a filter.

        Args:
            ids: The ids (or one id).
            where: A filter instead of ids, e.g. ``Tag("genre") == "pets"``.

        Returns:
            How many documents existed and were deleted.

        Raises:
            ValidationError: Both or neither of ``ids`` and ``where``, an
                invalid id or filter; nothing was deleted.
            StoreError: Redis failed.
        """
        if (ids is None) == (where is None):
            raise ValidationError("delete() takes ids or where=, not both or neither")
        if where is not None:
            return self._runner.run(writes.delete_where(self._state, where))
        assert ids is not None
        return self._runner.run(writes.delete_ids(self._state, ids))

    def reembed(self, embedder: Embedder, *, batch_size: int = 256) -> int:
        """Move the store to another embedding model without a half-built index.

        Builds a new index and key generation beside the old one, embeds every
        document with ``embedder`` into it, then switches the store's index
        name (an alias from then on) to it in one transaction, and deletes the
        old generation. Searches keep using the old index until the switch.
        Other processes must reopen their stores with the new embedder;
        documents they write to the old generation during the copy are lost.

        Args:
            embedder: The new model (its ``dims`` may differ).
            batch_size: Documents embedded and written per round.

        Returns:
            How many documents were copied.

        Raises:
            ValidationError: An invalid embedder or batch size.
            StoreError: Redis failed (the old index is still in use).
        """
        return self._runner.run(migration.reembed(self._state, embedder, batch_size=batch_size))

    # -- reads -------------------------------------------------------------------

    def get(self, doc_id: str) -> Document | None:
        """Fetch one document by id.

        Args:
            doc_id: The id.

        Returns:
            The document (with its embedding and metadata), or ``None``.

        Raises:
            InvalidDocumentError: An invalid id.
            StoreError: Redis failed.
        """
        return self._runner.run(reads.get(self._state, doc_id))

    def count(
        self,
        genre: str | Sequence[str] | None = None,
        *,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> int:
        """Count the documents matching the filters (all of them by default).

        Args:
            genre: Any of these genres.
            genres_all: Every one of these genres.
            exclude_genres: None of these genres.
            where: A filter over declared metadata fields (and genre, content).

        Returns:
            The number of indexed documents that match.

        Raises:
            InvalidGenreError: An empty or invalid genre filter.
            InvalidFilterError: An invalid ``where``.
            StoreError: Redis failed.
        """
        selection = Selection(genre, genres_all, exclude_genres, where)
        return self._runner.run(reads.count(self._state, selection))

    def genres(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> dict[str, int]:
        """Count documents per genre (facets), optionally under filters.

        A document with several genres counts once for each.

        Args:
            genre: Any of these genres.
            genres_all: Every one of these genres.
            exclude_genres: None of these genres.
            where: A filter over declared fields.

        Returns:
            ``{genre: count}``, most frequent first (then by name); genres
            with no matching document are left out.

        Raises:
            ValidationError: An invalid filter.
            StoreError: Redis failed.
        """
        selection = Selection(genre, genres_all, exclude_genres, where)
        return self._runner.run(reads.genres(self._state, selection))

    def list_documents(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[Document]:
        """One page of the documents matching the filters, ordered by id.

        Args:
            genre: Any of these genres.
            genres_all: Every one of these genres.
            exclude_genres: None of these genres.
            where: A filter over declared fields.
            offset: How many to skip.
            limit: The page size.

        Returns:
            The documents, with embeddings and metadata.

        Raises:
            ValidationError: An invalid filter, offset or limit.
            StoreError: Redis failed.
        """
        selection = Selection(genre, genres_all, exclude_genres, where)
        return self._runner.run(reads.page(self._state, selection, offset=offset, limit=limit))

    def iter_documents(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        batch_size: int = 500,
    ) -> Iterator[Document]:
        """Every document matching the filters, ordered by id, read in batches.

        Reads through the index with a cursor (no SCAN), so memory stays at
        one batch.

        Args:
            genre: Any of these genres.
            genres_all: Every one of these genres.
            exclude_genres: None of these genres.
            where: A filter over declared fields.
            batch_size: Documents per round trip.

        Returns:
            An iterator of documents.

        Raises:
            ValidationError: An invalid filter (raised at once, not on iteration).
            StoreError: Redis failed.
        """
        selection = Selection(genre, genres_all, exclude_genres, where)
        expression = filtering.expression(self._state, selection)
        validate_k(batch_size, "batch_size")

        def pages() -> Iterator[Document]:
            cursor: int | None = None
            while cursor != 0:
                docs, cursor = self._runner.run(
                    reads.cursor_page(
                        self._state, expression, batch_size=batch_size, cursor=cursor
                    )
                )
                yield from docs

        return pages()

    def search(
        self,
        query: str | Sequence[float],
        *,
        k: int = 10,
        offset: int = 0,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        max_distance: float | None = None,
        text: str | None = None,
        text_mode: TextMode = "boost",
        alpha: float = 0.7,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        ef_runtime: int | None = None,
    ) -> list[Hit]:
        """Find the documents nearest in meaning to ``query``.

        Args:
            query: A text (embedded with the store's embedder) or a vector.
            k: How many hits at most (the page size).
            offset: Skip this many of the nearest (paging).
            genre: Only documents with any of these genres (a string or a list).
                An empty list is an error, never "all genres".
            genres_all: Only documents with every one of these genres.
            exclude_genres: No documents with any of these genres.
            where: A filter over declared metadata fields (``Tag``, ``Num``,
                ``Text`` combined with ``&``, ``|``, ``~``).
            max_distance: Only hits within this distance (a range query; in
                the index's metric, squared for L2).
            text: Words that boost (``text_mode="boost"``) or are required in
                (``"require"``) the content: a hybrid full-text + vector search
                ranked by ``alpha * vector similarity + (1 - alpha) * text
                score``, given in ``Hit.score``.
            text_mode: ``"boost"`` or ``"require"``.
            alpha: The weight of vector similarity in a hybrid search.
            mmr_lambda: Re-rank ``fetch_k`` candidates by maximal marginal
                relevance for diverse results: 1 is pure relevance, 0 pure
                diversity.
            fetch_k: Candidates re-ranked by MMR (default ``max(4 * k, 20)``) or
                scored by a hybrid search (default ``max(4 * k, 40)``): the
                words of ``text`` can only lift documents from among the
                ``fetch_k`` nearest.
            ef_runtime: HNSW search breadth for this query.

        Returns:
            Hits ordered by ascending distance (by descending score for a
            hybrid search, by MMR selection for MMR). When HNSW returns fewer
            than ``k`` hits for a filter that more documents match, the query
            is re-run as an exact search, so a short list is complete.

        Raises:
            InvalidQueryError: Bad ``k``, ``offset``, empty text, or options
                that cannot be combined (``max_distance``, ``text`` and
                ``mmr_lambda`` are exclusive).
            InvalidGenreError / InvalidFilterError: An invalid filter.
            InvalidEmbeddingError: A query vector of the wrong length or with
                non-finite values.
            StoreError: Redis failed.
        """
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        return self._runner.run(search.search(self._state, [query], spec))[0]

    def search_many(
        self,
        queries: Sequence[str | Sequence[float]],
        *,
        k: int = 10,
        offset: int = 0,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        max_distance: float | None = None,
        text: str | None = None,
        text_mode: TextMode = "boost",
        alpha: float = 0.7,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        ef_runtime: int | None = None,
    ) -> list[list[Hit]]:
        """Run :meth:`search` for many queries: one model batch, one round trip.

        Args:
            queries: Texts and/or vectors.
            k, offset, genre, genres_all, exclude_genres, where, max_distance,
            text, text_mode, alpha, mmr_lambda, fetch_k, ef_runtime: As for
                :meth:`search`, applied to every query.

        Returns:
            One list of hits per query, in order.

        Raises:
            As :meth:`search`.
        """
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        if isinstance(queries, str):
            queries = [queries]
        return self._runner.run(search.search(self._state, list(queries), spec)) if queries else []

    def info(self) -> dict[str, Any]:
        """The index's schema, document count, memory, embedder and indexing failures.

        Raises:
            StoreError: Redis failed.
        """
        return self._runner.run(reads.info(self._state))
