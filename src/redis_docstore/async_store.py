"""AsyncDocumentStore: the DocumentStore for asyncio.

The same flows as :class:`~redis_docstore.store.DocumentStore` (validation,
query building, reply parsing all live in :mod:`redis_docstore.base`), run with
``redis.asyncio`` and redisvl's ``AsyncSearchIndex``. The model runs in a worker
thread, so embedding never blocks the event loop. Every method has the
arguments and semantics of its sync twin; see there for the details.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import redis.asyncio
import redis.exceptions
from redisvl.index import AsyncSearchIndex

from redis_docstore.base import (
    DEFAULT_EF_RUNTIME,
    RETRY_FIRST_DELAY,
    RETRY_MAX_DELAY,
    LoadReport,
    StoreBase,
)
from redis_docstore.connection import (
    ASYNC_NO_RETRY,
    CLIENT_OPTIONS,
    execute,
    finish_replies,
    no_connections,
    redact_url,
    redis_errors,
    translate,
)
from redis_docstore.documents import Document, Hit
from redis_docstore.effects import (
    Collect,
    Commands,
    CreateIndex,
    Embed,
    Flow,
    RespProtocol,
    ScanDelete,
    Sleep,
    Submit,
    pack,
)
from redis_docstore.embeddings import Embedder
from redis_docstore.errors import DocstoreError, StoreConnectionError, ValidationError
from redis_docstore.filters import FieldKind, Filter
from redis_docstore.query import validate_k
from redis_docstore.schema import Algorithm, DataType, Distance, build_schema
from redis_docstore.search import TextMode

if TYPE_CHECKING:
    from redis_docstore.server import EmbeddedServer

__all__ = ["AsyncDocumentStore"]

T = TypeVar("T")
SCAN_BATCH = 1000


class AsyncDocumentStore(StoreBase):
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
        )
        self._url = url
        self._client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            url, retry=ASYNC_NO_RETRY, **CLIENT_OPTIONS
        )
        # As DocumentStore: RESP3, RESP2 for searches, connections kept.
        self._clients: dict[RespProtocol, redis.asyncio.Redis] = {3: self._client}
        self._idle: dict[RespProtocol, list[Any]] = no_connections()
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

    # -- running flows -----------------------------------------------------------

    async def _run(self, flow: Flow[T]) -> T:
        result: Any = None
        error: DocstoreError | None = None
        while True:
            try:
                effect = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                result, error = await self._perform(effect), None
            except DocstoreError as exc:
                result, error = None, exc

    async def _perform(self, effect: Any) -> Any:
        if isinstance(effect, Commands):
            return await self._send(effect)
        if isinstance(effect, Embed):
            embedder = effect.embedder or self.embedder
            return await asyncio.to_thread(embedder.embed_many, list(effect.texts))
        if isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        if isinstance(effect, CreateIndex):
            index = AsyncSearchIndex(build_schema(effect.settings), redis_client=self._client)
            with redis_errors(f"creating index {effect.settings.name!r}"):
                await index.create(overwrite=effect.overwrite, drop=False)
            return None
        if isinstance(effect, ScanDelete):
            return await self._scan_delete(effect.pattern, effect.keep)
        if isinstance(effect, Submit):
            return asyncio.ensure_future(self._send(effect.commands))
        if isinstance(effect, Collect):
            return await effect.ticket
        raise TypeError(f"unknown effect {effect!r}")

    async def _send(self, effect: Commands) -> list[Any]:
        deadline = time.monotonic() + self.retry_timeout
        delay = RETRY_FIRST_DELAY
        while True:
            try:
                return await self._send_once(effect)
            except StoreConnectionError:
                # A store that never reached its server fails at once (a wrong
                # URL); one that did rides out a restart or a dropped connection,
                # for retry_timeout seconds in all.
                retry = effect.idempotent and self._ready and not self._recovering
                if not retry or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(2 * delay, RETRY_MAX_DELAY)
            await self._recover()

    async def _recover(self) -> None:
        """After a reconnection: a restarted server may still be rebuilding the index."""
        if self._ready and not self._recovering:
            self._recovering = True
            try:
                await self._run(self._wait_indexed_flow(self.settings.name))
            except StoreConnectionError:
                pass  # still down; the caller keeps retrying
            finally:
                self._recovering = False

    async def _send_once(self, effect: Commands) -> list[Any]:
        commands = effect.commands
        if effect.transaction:
            with redis_errors(effect.action):
                pipe = self._client.pipeline(transaction=True)
                for command in commands:
                    execute(pipe, *command)
                replies: list[Any] = await pipe.execute(raise_on_error=not effect.allow_errors)
                return replies
        # One round trip on a connection of our own (see DocumentStore._send_once).
        protocol = effect.protocol
        idle = self._idle[protocol]
        try:
            connection = idle.pop() if idle else await self._connect(protocol)
            try:
                await connection.send_packed_command(pack(commands))
                replies = []
                for _ in commands:  # inline: a coroutine per reply costs a search ~2 us
                    try:
                        replies.append(await connection.read_response())
                    except redis.exceptions.ResponseError as exc:
                        replies.append(exc)  # pipeline style: the flow decides
            except BaseException:
                await connection.disconnect(nowait=True)  # never reuse a half-read one
                raise
            finally:
                self._idle[protocol].append(connection)
            callbacks: Any = self._clients[protocol].response_callbacks
            replies = finish_replies(
                commands, replies, callbacks, allow_errors=effect.allow_errors
            )
            # redis.asyncio callbacks may be coroutines, as its client allows.
            return [await r if inspect.isawaitable(r) else r for r in replies]
        except redis.exceptions.RedisError as exc:
            raise translate(exc, effect.action) from exc

    async def _connect(self, protocol: RespProtocol) -> Any:  # a redis-py Connection
        """A new connection of ``protocol`` from its client's pool (kept after use)."""
        if protocol not in self._clients:
            options = {**CLIENT_OPTIONS, "protocol": protocol}
            self._clients[protocol] = redis.asyncio.Redis.from_url(
                self._url, retry=ASYNC_NO_RETRY, **options
            )
        pool = self._clients[protocol].connection_pool
        return await pool.get_connection()  # type: ignore[no-untyped-call]

    async def _scan_delete(self, pattern: str, keep: frozenset[str]) -> int:
        deleted = 0
        batch: list[str] = []
        with redis_errors("deleting documents"):
            async for key in self._client.scan_iter(match=pattern, count=SCAN_BATCH):
                if key in keep:
                    continue
                batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    deleted += await self._client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += await self._client.unlink(*batch)
        return deleted

    # -- lifecycle ---------------------------------------------------------------

    async def create(self, *, overwrite: bool | None = None) -> None:
        """Create the index if needed, or check it (``DocumentStore.create``)."""
        await self._run(self._create_flow(overwrite))

    async def drop(self, *, delete_documents: bool) -> None:
        """Drop the index (``DocumentStore.drop``)."""
        await self._run(self._drop_flow(delete_documents=delete_documents))

    async def close(self) -> None:
        """Close the connections, and stop the embedded server if there is one."""
        self._idle = no_connections()
        for client in self._clients.values():
            await client.aclose()  # disconnects our connections too (checked out of its pool)
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
