"""Writing documents: add, load, update, delete.

The methods of both stores for this concept, the sync one (with the docstring)
beside its async twin; each calls a flow of :mod:`redis_docstore._ops.writes` and
hands it to the store's runner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis_docstore._documents import Document, LoadReport
from redis_docstore._errors import ValidationError
from redis_docstore._filters.expression import Filter
from redis_docstore._ops import writes
from redis_docstore._ops.state import StoreState
from redis_docstore._runners import AsyncRunner, BlockingRunner
from redis_docstore._stores.base import doc_of

__all__ = ["AsyncWrites", "Writes"]


class Writes:
    """Writing documents (:class:`~redis_docstore.DocumentStore`)."""

    _state: StoreState
    _runner: BlockingRunner

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


class AsyncWrites:
    """Writing documents (:class:`~redis_docstore.AsyncDocumentStore`)."""

    _state: StoreState
    _runner: AsyncRunner

    @doc_of(Writes.add)
    async def add(self, documents: Iterable[Document] | Document) -> list[str]:
        report = await self._runner.run(writes.load(self._state, documents, skip_unchanged=False))
        return report.ids

    @doc_of(Writes.load)
    async def load(
        self, documents: Iterable[Document] | Document, *, skip_unchanged: bool = True
    ) -> LoadReport:
        return await self._runner.run(
            writes.load(self._state, documents, skip_unchanged=skip_unchanged)
        )

    @doc_of(Writes.update)
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

    @doc_of(Writes.delete)
    async def delete(
        self, ids: Iterable[str] | str | None = None, *, where: Filter | None = None
    ) -> int:
        if (ids is None) == (where is None):
            raise ValidationError("delete() takes ids or where=, not both or neither")
        if where is not None:
            return await self._runner.run(writes.delete_where(self._state, where))
        assert ids is not None
        return await self._runner.run(writes.delete_ids(self._state, ids))
