"""AsyncDocumentStore: the DocumentStore for asyncio.

The same operations as :class:`~redis_docstore._store.DocumentStore`, called the
same way from :mod:`redis_docstore._ops`, performed by an
:class:`~redis_docstore._runners.AsyncRunner` with ``redis.asyncio`` and
redisvl's ``AsyncSearchIndex``. The model runs in a worker thread, so
embedding never blocks the event loop. Every method has the arguments,
semantics and docstring of its sync twin (``tests/unit/test_store_parity.py``
checks it); this class adds only awaits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from redis_docstore._base_store import BaseStore
from redis_docstore._commands.search import validate_k
from redis_docstore._documents import Document, Hit, LoadReport
from redis_docstore._embeddings import Embedder
from redis_docstore._errors import ValidationError
from redis_docstore._filters.expression import FieldKind, Filter
from redis_docstore._ops import filtering, lifecycle, migration, reads, search, writes
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.spec import TextMode
from redis_docstore._ops.state import DEFAULT_EF_RUNTIME, StoreState
from redis_docstore._runners import AsyncRunner
from redis_docstore._schema import Algorithm, DataType, Distance
from redis_docstore._store import DocumentStore

__all__ = ["AsyncDocumentStore"]

F = TypeVar("F", bound=Callable[..., Any])


def _doc_of(twin: Callable[..., Any]) -> Callable[[F], F]:
    """Give a method the docstring of its sync twin: one text for both stores."""

    def give(method: F) -> F:
        method.__doc__ = twin.__doc__
        return method

    return give


class AsyncDocumentStore(BaseStore):
    """JSON documents in Redis Stack with genre-filtered semantic search, async.

    Args:
        url: The Redis URL. The keyword options are those of
            :class:`~redis_docstore._store.DocumentStore`.
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
        self._runner = AsyncRunner(url, state, retry_timeout=retry_timeout)

    # -- lifecycle ---------------------------------------------------------------

    @_doc_of(DocumentStore.create)
    async def create(self, *, overwrite: bool | None = None) -> None:
        await self._runner.run(lifecycle.create(self._state, overwrite))

    @_doc_of(DocumentStore.drop)
    async def drop(self, *, delete_documents: bool) -> None:
        await self._runner.run(lifecycle.drop(self._state, delete_documents=delete_documents))

    @_doc_of(DocumentStore.close)
    async def close(self) -> None:
        await self._runner.close()
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

    # -- writes ------------------------------------------------------------------

    @_doc_of(DocumentStore.add)
    async def add(self, documents: Iterable[Document] | Document) -> list[str]:
        report = await self._runner.run(writes.load(self._state, documents, skip_unchanged=False))
        return report.ids

    @_doc_of(DocumentStore.load)
    async def load(
        self, documents: Iterable[Document] | Document, *, skip_unchanged: bool = True
    ) -> LoadReport:
        return await self._runner.run(
            writes.load(self._state, documents, skip_unchanged=skip_unchanged)
        )

    @_doc_of(DocumentStore.update)
    async def update(
        self,
        doc_id: str,
        *,
        content: str | None = None,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Document:
        return await self._runner.run(
            writes.update(self._state, doc_id, content=content, genre=genre, metadata=metadata)
        )

    @_doc_of(DocumentStore.delete)
    async def delete(
        self, ids: Iterable[str] | str | None = None, *, where: Filter | None = None
    ) -> int:
        if (ids is None) == (where is None):
            raise ValidationError("delete() takes ids or where=, not both or neither")
        if where is not None:
            return await self._runner.run(writes.delete_where(self._state, where))
        assert ids is not None
        return await self._runner.run(writes.delete_ids(self._state, ids))

    @_doc_of(DocumentStore.reembed)
    async def reembed(self, embedder: Embedder, *, batch_size: int = 256) -> int:
        return await self._runner.run(
            migration.reembed(self._state, embedder, batch_size=batch_size)
        )

    # -- reads -------------------------------------------------------------------

    @_doc_of(DocumentStore.get)
    async def get(self, doc_id: str) -> Document | None:
        return await self._runner.run(reads.get(self._state, doc_id))

    @_doc_of(DocumentStore.count)
    async def count(
        self,
        genre: str | Sequence[str] | None = None,
        *,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> int:
        selection = Selection(genre, genres_all, exclude_genres, where)
        return await self._runner.run(reads.count(self._state, selection))

    @_doc_of(DocumentStore.genres)
    async def genres(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> dict[str, int]:
        selection = Selection(genre, genres_all, exclude_genres, where)
        return await self._runner.run(reads.genres(self._state, selection))

    @_doc_of(DocumentStore.list_documents)
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
        selection = Selection(genre, genres_all, exclude_genres, where)
        return await self._runner.run(
            reads.page(self._state, selection, offset=offset, limit=limit)
        )

    @_doc_of(DocumentStore.iter_documents)
    def iter_documents(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        batch_size: int = 500,
    ) -> AsyncIterator[Document]:
        selection = Selection(genre, genres_all, exclude_genres, where)
        expression = filtering.expression(self._state, selection)
        validate_k(batch_size, "batch_size")

        async def pages() -> AsyncIterator[Document]:
            cursor: int | None = None
            while cursor != 0:
                docs, cursor = await self._runner.run(
                    reads.cursor_page(
                        self._state, expression, batch_size=batch_size, cursor=cursor
                    )
                )
                for doc in docs:
                    yield doc

        return pages()

    @_doc_of(DocumentStore.search)
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
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        return (await self._runner.run(search.search(self._state, [query], spec)))[0]

    @_doc_of(DocumentStore.search_many)
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
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        if isinstance(queries, str):
            queries = [queries]
        if not queries:
            return []
        return await self._runner.run(search.search(self._state, list(queries), spec))

    @_doc_of(DocumentStore.info)
    async def info(self) -> dict[str, Any]:
        return await self._runner.run(reads.info(self._state))
