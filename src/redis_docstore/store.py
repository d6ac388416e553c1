"""The DocumentStore: add documents, search them by meaning within genres.

This is the I/O shell around the pure core: validation lives in
``documents``/``embeddings``/``filters``, the index definition in ``schema``,
query building and reply parsing in ``query``. Each method here validates,
sends, and parses; every redis-py / redisvl error is wrapped into a
:class:`~redis_docstore.errors.DocstoreError` at this boundary.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.exceptions
from redisvl.exceptions import RedisVLError
from redisvl.index import SearchIndex

from redis_docstore.documents import Document, Hit, Record, parse_document, prepare_documents
from redis_docstore.documents import validate_id as _validate_id
from redis_docstore.embeddings import DefaultEmbedder, Embedder, validate_vector
from redis_docstore.errors import (
    IndexNotReadyError,
    InvalidEmbeddingError,
    InvalidQueryError,
    MissingModuleError,
    SchemaMismatchError,
    StoreConnectionError,
    StoreError,
)
from redis_docstore.query import (
    build_count_query,
    build_vector_query,
    optional_genre_filter,
    parse_search_reply,
    total_results,
    validate_k,
)
from redis_docstore.schema import (
    Algorithm,
    Distance,
    IndexSettings,
    build_schema,
    existing_shape,
    expected_shape,
    indexing_complete,
    indexing_progress,
    schema_differences,
)

if TYPE_CHECKING:
    from redis_docstore.server import EmbeddedServer

__all__ = ["DocumentStore", "default_embedder", "redact_url"]

WRITE_BATCH = 500  # documents per MULTI/EXEC transaction
SCAN_BATCH = 1000


@functools.cache
def default_embedder() -> DefaultEmbedder:
    """The process-wide default embedder, so the model loads once per process."""
    return DefaultEmbedder()


def redact_url(url: str) -> str:
    """Return ``url`` with its password, if any, replaced by ``***`` (safe to print).

    Both places redis-py reads a password from are covered: the user-info part
    and a ``password=`` query parameter.
    """
    parts = original = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name.lower() == "password" for name, _ in query):
        hidden = [(name, "***" if name.lower() == "password" else v) for name, v in query]
        parts = parts._replace(query=urlencode(hidden, safe="*"))
    return url if parts == original else urlunsplit(parts)


@contextmanager
def redis_errors(action: str) -> Iterator[None]:
    """Translate redis-py and redisvl errors raised inside into ours."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreConnectionError(f"{action}: {exc}") from exc
    except redis.exceptions.ResponseError as exc:
        message = str(exc)
        if "unknown command" in message.lower() and ("'FT." in message or "'JSON." in message):
            raise MissingModuleError(
                f"{action}: the server lacks the Query Engine or JSON module ({message}); "
                "use Redis Stack / Redis 8, or DocumentStore.embedded()"
            ) from exc
        raise StoreError(f"{action}: {message}") from exc
    except (redis.exceptions.RedisError, RedisVLError) as exc:
        raise StoreError(f"{action}: {exc}") from exc


def _command(client: Any, *args: Any) -> Any:
    """``client.execute_command``, typed (redis-py leaves it untyped)."""
    return client.execute_command(*args)


def _is_missing_index(exc: redis.exceptions.ResponseError) -> bool:
    message = str(exc).lower()
    return "unknown index name" in message or "no such index" in message


class DocumentStore:
    """JSON documents in Redis Stack with genre-filtered semantic search.

    The index is created on first use (or by :meth:`create`). Use
    :meth:`embedded` for a private Redis Stack started for you.

    Args:
        url: The Redis URL, e.g. ``redis://localhost:6379``.
        index: The index name.
        prefix: Documents live under ``<prefix>:<id>``; defaults to ``index``.
        distance: ``"l2"`` (default), ``"cosine"`` or ``"ip"``.
        algorithm: ``"hnsw"`` (default) or ``"flat"`` (exact).
        embedder: Embeds texts; defaults to all-MiniLM-L6-v2 (384 dims).
        overwrite: If an index of that name exists with another schema, drop
            that index definition (not the documents) and create ours.
            Without it, such an index raises ``SchemaMismatchError``.
        index_timeout: Seconds to wait, on first use, for an index that is
            still indexing existing documents (after ``overwrite`` or a server
            restart) before raising ``IndexNotReadyError``.

    Raises:
        ValidationError: An invalid index name, prefix, distance or algorithm.
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
        overwrite: bool = False,
        index_timeout: float = 300.0,
    ) -> None:
        self.embedder: Embedder = embedder if embedder is not None else default_embedder()
        self.settings = IndexSettings(
            name=index,
            prefix=(index if prefix is None else prefix.removesuffix(":")),
            dims=self.embedder.dims,
            distance=distance,
            algorithm=algorithm,
        )
        self.overwrite = overwrite
        self.index_timeout = index_timeout
        self._url = url
        self._client: redis.Redis = redis.Redis.from_url(url, protocol=3, decode_responses=True)
        self._index = SearchIndex(build_schema(self.settings), redis_client=self._client)
        self._ready = False
        self._server: EmbeddedServer | None = None

    @classmethod
    def embedded(cls, path: str | os.PathLike[str] | None = None, **options: Any) -> DocumentStore:
        """Open a store on a private Redis Stack server started for it.

        Args:
            path: Directory for the server's data, persisted with AOF; reopening
                the same path sees the same documents. ``None`` starts a
                throwaway server whose data is removed on :meth:`close`.
            **options: Keyword options of the constructor (``index``, ...).

        Returns:
            A store that stops its server on :meth:`close`.

        Raises:
            ServerError: The server's binaries are missing or it did not start.
        """
        from redis_docstore.server import EmbeddedServer

        server = EmbeddedServer(path).start()
        try:
            store = cls(server.url, **options)
        except BaseException:
            server.stop()
            raise
        store._server = server
        return store

    # -- lifecycle -------------------------------------------------------------

    def create(self, *, overwrite: bool | None = None) -> None:
        """Create the index if it does not exist; check it if it does.

        Idempotent: calling it again with the same settings does nothing.

        Args:
            overwrite: Overrides the constructor's ``overwrite`` for this call.

        Raises:
            SchemaMismatchError: The index exists with another schema (dims,
                metric, algorithm, fields or prefix) and ``overwrite`` is off.
            StoreError: Redis failed (``MissingModuleError`` without the
                search module, ``StoreConnectionError`` when unreachable).
        """
        overwrite = self.overwrite if overwrite is None else overwrite
        name = self.settings.name
        with redis_errors(f"creating index {name!r}"):
            try:
                info = _command(self._client, "FT.INFO", name)
            except redis.exceptions.ResponseError as exc:
                if not _is_missing_index(exc):
                    raise
                info = None
            if info is None:
                self._index.create(overwrite=False)
            else:
                differences = schema_differences(
                    expected_shape(self.settings), existing_shape(info)
                )
                if differences and not overwrite:
                    raise SchemaMismatchError(name, differences)
                if differences:
                    self._index.create(overwrite=True, drop=False)
            # A new index over existing keys (or one rebuilt after a restart)
            # fills in the background; until it is done searches would return
            # partial results as if they were complete.
            self._wait_until_indexed()
        self._ready = True

    def _wait_until_indexed(self) -> None:
        deadline = time.monotonic() + self.index_timeout
        while True:
            info = _command(self._client, "FT.INFO", self.settings.name)
            if indexing_complete(info):
                return
            if time.monotonic() > deadline:
                raise IndexNotReadyError(
                    f"index {self.settings.name!r} is still indexing existing documents after "
                    f"{self.index_timeout:g} s ({indexing_progress(info):.0%} done)"
                )
            time.sleep(0.05)

    def _ensure_index(self) -> None:
        if not self._ready:
            self.create()

    def drop(self, *, delete_documents: bool) -> None:
        """Drop the index.

        Args:
            delete_documents: Required, so deleting data is always explicit.
                ``True`` also deletes every key under the store's prefix.

        Raises:
            StoreError: Redis failed.
        """
        with redis_errors(f"dropping index {self.settings.name!r}"):
            try:
                _command(self._client, "FT.DROPINDEX", self.settings.name)
            except redis.exceptions.ResponseError as exc:
                if not _is_missing_index(exc):
                    raise
            if delete_documents:
                self._delete_prefix()
        self._ready = False

    def _delete_prefix(self) -> None:
        # SCAN, never KEYS; only keys under our own "<prefix>:".
        pattern = self.settings.key_prefix + "*"
        batch: list[str] = []
        for key in self._client.scan_iter(match=pattern, count=SCAN_BATCH):
            batch.append(key)
            if len(batch) >= SCAN_BATCH:
                self._client.unlink(*batch)
                batch.clear()
        if batch:
            self._client.unlink(*batch)

    def close(self) -> None:
        """Close the connections, and stop the embedded server if there is one."""
        self._client.close()
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

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"DocumentStore({redact_url(self._url)!r}, index={s.name!r}, prefix={s.prefix!r}, "
            f"distance={s.distance!r}, algorithm={s.algorithm!r}, dims={s.dims})"
        )

    @property
    def url(self) -> str:
        """The server's URL with any password masked."""
        return redact_url(self._url)

    # -- writes ----------------------------------------------------------------

    def add(self, documents: Iterable[Document] | Document) -> list[str]:
        """Add or replace documents (an upsert by id).

        Every document is validated first; if one is invalid nothing is
        written. Documents without an embedding are embedded in batches.
        Writes go in MULTI/EXEC transactions of up to 500 documents.

        Args:
            documents: The documents (or one document).

        Returns:
            The ids, in input order. When a batch repeats an id, the last
            document with that id is the one stored.

        Raises:
            ValidationError: An invalid document; nothing was written.
            StoreError: Redis failed.
        """
        if isinstance(documents, Document):
            documents = [documents]
        records = prepare_documents(
            documents, dims=self.settings.dims, distance=self.settings.distance
        )
        if not records:
            return []
        vectors = self._embeddings_for(records)
        self._ensure_index()
        with redis_errors("writing documents"):
            for start in range(0, len(records), WRITE_BATCH):
                pipe = self._client.pipeline(transaction=True)
                for record, vector in zip(
                    records[start : start + WRITE_BATCH],
                    vectors[start : start + WRITE_BATCH],
                    strict=True,
                ):
                    _command(
                        pipe, "JSON.SET", self.settings.key(record.id), "$", record.to_json(vector)
                    )
                pipe.execute()
        return [record.id for record in records]

    def _embeddings_for(self, records: Sequence[Record]) -> list[list[float]]:
        missing = [r.content for r in records if r.embedding is None]
        computed = iter(self._embed_checked(missing))
        return [r.embedding if r.embedding is not None else next(computed) for r in records]

    def _embed_checked(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.embedder.embed_many(texts)
        if len(vectors) != len(texts):
            raise InvalidEmbeddingError(
                f"the embedder returned {len(vectors)} vectors for {len(texts)} texts"
            )
        return [
            validate_vector(v, dims=self.settings.dims, distance=self.settings.distance)
            for v in vectors
        ]

    def delete(self, ids: Iterable[str] | str) -> int:
        """Delete documents by id.

        Args:
            ids: The ids (or one id).

        Returns:
            How many documents existed and were deleted.

        Raises:
            InvalidDocumentError: An invalid id; nothing was deleted.
            StoreError: Redis failed.
        """
        if isinstance(ids, str):
            ids = [ids]
        keys = [self.settings.key(_validate_id(i)) for i in ids]
        if not keys:
            return 0
        with redis_errors("deleting documents"):
            return int(self._client.unlink(*keys))

    # -- reads -----------------------------------------------------------------

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
        key = self.settings.key(_validate_id(doc_id))
        with redis_errors(f"reading document {doc_id!r}"):
            raw = _command(self._client, "JSON.GET", key)
        return None if raw is None else parse_document(doc_id, raw)

    def count(self, genre: str | Sequence[str] | None = None) -> int:
        """Count the documents, or those having any of the given genres.

        Args:
            genre: One genre or a list; ``None`` counts all documents.

        Returns:
            The number of indexed documents that match.

        Raises:
            InvalidGenreError: An empty or invalid genre filter.
            StoreError: Redis failed.
        """
        query = build_count_query(genre)
        self._ensure_index()
        with redis_errors("counting documents"):
            reply = self._client.ft(self.settings.name).search(query, query_params=query.params)
        return total_results(reply)

    def search(
        self,
        query: str | Sequence[float],
        *,
        k: int = 10,
        genre: str | Sequence[str] | None = None,
    ) -> list[Hit]:
        """Find the ``k`` documents nearest in meaning to ``query``.

        Args:
            query: A text (embedded with the store's embedder) or a vector.
            k: The number of hits at most.
            genre: Only documents with this genre; a list means any of them.
                An empty list is an error, never "all genres".

        Returns:
            Hits ordered by ascending distance.

        Raises:
            InvalidQueryError: ``k <= 0`` or empty query text.
            InvalidGenreError: An empty or invalid genre filter.
            InvalidEmbeddingError: A query vector of the wrong length or with
                non-finite values.
            StoreError: Redis failed.
        """
        validate_k(k)
        optional_genre_filter(genre)  # fail on a bad filter before any model work
        vector = self._query_vector(query)
        built = build_vector_query(vector, k=k, genre=genre)
        self._ensure_index()
        with redis_errors("searching"):
            reply = self._client.ft(self.settings.name).search(built, query_params=built.params)
        return parse_search_reply(reply, key_prefix=self.settings.key_prefix)

    def _query_vector(self, query: str | Sequence[float]) -> list[float]:
        if isinstance(query, str):
            if not query.strip():
                raise InvalidQueryError("the query text is empty")
            return self._embed_checked([query])[0]
        return validate_vector(query, dims=self.settings.dims, distance=self.settings.distance)
