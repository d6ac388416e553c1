"""Creating, dropping, closing and migrating a store, and its statistics.

The methods of both stores for this concept, the sync one (with the docstring)
beside its async twin; each calls a flow of :mod:`redis_docstore._ops.lifecycle`,
:mod:`~redis_docstore._ops.migration` or :mod:`~redis_docstore._ops.reads` and
hands it to the store's runner.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from redis_docstore._embeddings import Embedder
from redis_docstore._ops import lifecycle, migration, reads
from redis_docstore._ops.state import StoreState
from redis_docstore._runners import AsyncRunner, BlockingRunner
from redis_docstore._stores.base import doc_of

if TYPE_CHECKING:
    from redis_docstore._server import EmbeddedServer

__all__ = ["AsyncLifecycle", "Lifecycle"]


class Lifecycle:
    """Creating, dropping, closing, migrating a DocumentStore; its statistics."""

    _state: StoreState
    _runner: BlockingRunner
    _server: EmbeddedServer | None

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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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

    def info(self) -> dict[str, Any]:
        """The index's schema, document count, memory, embedder and indexing failures.

        Raises:
            StoreError: Redis failed.
        """
        return self._runner.run(reads.info(self._state))


class AsyncLifecycle:
    """Creating, dropping, closing, migrating an AsyncDocumentStore; its statistics."""

    _state: StoreState
    _runner: AsyncRunner
    _server: EmbeddedServer | None

    @doc_of(Lifecycle.create)
    async def create(self, *, overwrite: bool | None = None) -> None:
        await self._runner.run(lifecycle.create(self._state, overwrite))

    @doc_of(Lifecycle.drop)
    async def drop(self, *, delete_documents: bool) -> None:
        await self._runner.run(lifecycle.drop(self._state, delete_documents=delete_documents))

    @doc_of(Lifecycle.close)
    async def close(self) -> None:
        await self._runner.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @doc_of(Lifecycle.reembed)
    async def reembed(self, embedder: Embedder, *, batch_size: int = 256) -> int:
        return await self._runner.run(
            migration.reembed(self._state, embedder, batch_size=batch_size)
        )

    @doc_of(Lifecycle.info)
    async def info(self) -> dict[str, Any]:
        return await self._runner.run(reads.info(self._state))
