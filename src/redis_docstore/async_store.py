"""AsyncDocumentStore: the DocumentStore for asyncio.

The same flows as :class:`~redis_docstore.store.DocumentStore` (validation,
query building, reply parsing all live in :mod:`redis_docstore.base`), run with
``redis.asyncio`` and redisvl's ``AsyncSearchIndex`` by its base,
:class:`~redis_docstore.runners.AsyncRunner`. The model runs in a worker
thread, so embedding never blocks the event loop. Every method has the
arguments and semantics of its sync twin; see there for the details.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from redis_docstore.base import DEFAULT_EF_RUNTIME, LoadReport
from redis_docstore.connection import redact_url
from redis_docstore.documents import Document, Hit
from redis_docstore.embeddings import Embedder
from redis_docstore.errors import ValidationError
from redis_docstore.filters import FieldKind, Filter
from redis_docstore.query import validate_k
from redis_docstore.runners import AsyncRunner
from redis_docstore.schema import Algorithm, DataType, Distance
from redis_docstore.search import TextMode

if TYPE_CHECKING:
    from redis_docstore.server import EmbeddedServer

__all__ = ["AsyncDocumentStore"]


class AsyncDocumentStore(AsyncRunner):
    """JSON documents in Redis Stack with genre-filtered semantic search, async.

    Args:
        url: The Redis URL. The keyword options are those of
            :class:`~redis_docstore.store.DocumentStore`.
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
        super().__init__(
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
            retry_timeout=retry_timeout,
            allow_eviction=allow_eviction,
            query_timeout=query_timeout,
        )
        self._open_connections(url)
        self._server: EmbeddedServer | None = None

    @classmethod
    def embedded(
        cls, path: str | os.PathLike[str] | None = None, **options: Any
    ) -> AsyncDocumentStore:
        """Open a store on a private Redis Stack server (see ``DocumentStore.embedded``)."""
        from redis_docstore.server import EmbeddedServer

        server = EmbeddedServer(path).start()
        try:
            store = cls(server.url, **options)
        except BaseException:
            server.stop()
            raise
        store._server = server
        return store

    # -- lifecycle ---------------------------------------------------------------

    async def create(self, *, overwrite: bool | None = None) -> None:
        """Create the index if needed, or check it (``DocumentStore.create``)."""
        await self._run(self._create_flow(overwrite))

    async def drop(self, *, delete_documents: bool) -> None:
        """Drop the index (``DocumentStore.drop``)."""
        await self._run(self._drop_flow(delete_documents=delete_documents))

    async def close(self) -> None:
        """Close the connections, and stop the embedded server if there is one."""
        await self._close_connections()
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def __aenter__(self) -> AsyncDocumentStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"{type(self).__name__}({redact_url(self._url)!r}, index={s.name!r}, "
            f"prefix={s.prefix!r}, distance={s.distance!r}, algorithm={s.algorithm!r}, "
            f"dims={s.dims})"
        )

    @property
    def url(self) -> str:
        """The server's URL with any password masked."""
        return redact_url(self._url)

    # -- writes ------------------------------------------------------------------

    async def add(self, documents: Iterable[Document] | Document) -> list[str]:
        """Add or replace documents (``DocumentStore.add``)."""
        return (await self._run(self._load_flow(documents, skip_unchanged=False))).ids

    async def load(
        self, documents: Iterable[Document] | Document, *, skip_unchanged: bool = True
    ) -> LoadReport:
        """Add documents, skipping those stored unchanged (``DocumentStore.load``)."""
        return await self._run(self._load_flow(documents, skip_unchanged=skip_unchanged))

    async def update(
        self,
        doc_id: str,
        *,
        content: str | None = None,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Document:
        """Change a stored document (``DocumentStore.update``)."""
        return await self._run(
            self._update_flow(doc_id, content=content, genre=genre, metadata=metadata)
        )

    async def delete(
        self, ids: Iterable[str] | str | None = None, *, where: Filter | None = None
    ) -> int:
        """Delete by ids or by filter (``DocumentStore.delete``)."""
        if (ids is None) == (where is None):
            raise ValidationError("delete() takes ids or where=, not both or neither")
        if where is not None:
            return await self._run(self._delete_where_flow(where))
        assert ids is not None
        return await self._run(self._delete_ids_flow(ids))

    async def reembed(self, embedder: Embedder, *, batch_size: int = 256) -> int:
        """Move to another embedding model (``DocumentStore.reembed``)."""
        return await self._run(self._reembed_flow(embedder, batch_size=batch_size))

    # -- reads -------------------------------------------------------------------

    async def get(self, doc_id: str) -> Document | None:
        """Fetch one document by id (``DocumentStore.get``)."""
        return await self._run(self._get_flow(doc_id))

    async def count(
        self,
        genre: str | Sequence[str] | None = None,
        *,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> int:
        """Count the documents matching the filters (``DocumentStore.count``)."""
        expression = self._filter_expression(
            genre=genre, genres_all=genres_all, exclude_genres=exclude_genres, where=where
        )
        return await self._run(self._count_flow(expression))

    async def genres(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> dict[str, int]:
        """Documents per genre (``DocumentStore.genres``)."""
        expression = self._filter_expression(
            genre=genre, genres_all=genres_all, exclude_genres=exclude_genres, where=where
        )
        return await self._run(self._genres_flow(expression))

    async def list_documents(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[Document]:
        """One page of matching documents by id (``DocumentStore.list_documents``)."""
        expression = self._filter_expression(
            genre=genre, genres_all=genres_all, exclude_genres=exclude_genres, where=where
        )
        return await self._run(self._list_flow(expression, offset=offset, limit=limit))

    def iter_documents(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        batch_size: int = 500,
    ) -> AsyncIterator[Document]:
        """Every matching document by id, in batches (``DocumentStore.iter_documents``)."""
        expression = self._filter_expression(
            genre=genre, genres_all=genres_all, exclude_genres=exclude_genres, where=where
        )
        validate_k(batch_size, "batch_size")

        async def pages() -> AsyncIterator[Document]:
            cursor: int | None = None
            while cursor != 0:
                docs, cursor = await self._run(
                    self._cursor_flow(expression, batch_size=batch_size, cursor=cursor)
                )
                for doc in docs:
                    yield doc

        return pages()

    async def search(
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
        """Find the documents nearest in meaning to ``query`` (``DocumentStore.search``)."""
        spec = self._search_spec(
            k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        return (await self._run(self._search_flow([query], spec)))[0]

    async def search_many(
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
        """Many searches, one model batch, one round trip (``DocumentStore.search_many``)."""
        spec = self._search_spec(
            k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        if isinstance(queries, str):
            queries = [queries]
        return await self._run(self._search_flow(list(queries), spec)) if queries else []

    async def info(self) -> dict[str, Any]:
        """Schema, counts, memory, embedder and indexing failures (``DocumentStore.info``)."""
        return await self._run(self._info_flow())
