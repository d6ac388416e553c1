"""Writing documents: add, load, update, delete, and their expiry.

The methods of both stores for this concept, the sync one (with the docstring)
beside its async twin; each calls a flow of :mod:`redis_docstore._ops.writes`,
:mod:`redis_docstore._ops.bulk` (changes by filter) or
:mod:`redis_docstore._ops.expiry` and hands it to the store's runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, overload

from redis_docstore._documents import Document, LoadReport
from redis_docstore._filters.expression import Filter
from redis_docstore._ops import bulk, expiry, writes
from redis_docstore._ops.bulk import UPDATE_BATCH
from redis_docstore._ops.state import StoreState
from redis_docstore._runners import AsyncRunner, BlockingRunner
from redis_docstore._stores.base import doc_of

__all__ = ["AsyncWrites", "Writes"]


class Writes:
    """Writing documents (:class:`~redis_docstore.DocumentStore`)."""

    _state: StoreState
    _runner: BlockingRunner

    def add(
        self, documents: Iterable[Document] | Document, *, ttl: float | timedelta | None = None
    ) -> list[str]:
        """Add or replace documents (an upsert by id).

        Every document is validated first; if one is invalid nothing is
        written. Documents without an embedding are embedded (texts seen
        recently come from an LRU cache; concurrent callers' texts share the
        model's passes). Writes go in pipelines of 250 documents, each ending
        with a check that Redis indexed what it stored.

        A document added replaces the stored one whole, its expiry included:
        with ``ttl`` it expires ``ttl`` from now, without it, never (an old
        TTL is removed). Each document's write and TTL go in one MULTI/EXEC,
        so no document is ever stored without the TTL it was given. An expired
        document is deleted by Redis and vanishes from searches, counts and
        listings (see :meth:`expire`).

        Args:
            documents: The documents (or one document).
            ttl: Time to live: seconds (> 0) or a ``timedelta``; ``None``
                (default): the documents do not expire.

        Returns:
            The ids, in input order. When a batch repeats an id, the last
            document with that id is the one stored.

        Raises:
            ValidationError: An invalid document or ``ttl``; nothing was written.
            StoreError: Redis failed.
        """
        report = self._runner.run(
            writes.load(self._state, documents, skip_unchanged=False, ttl=ttl)
        )
        return report.ids

    def load(
        self,
        documents: Iterable[Document] | Document,
        *,
        skip_unchanged: bool = True,
        ttl: float | timedelta | None = None,
    ) -> LoadReport:
        """Like :meth:`add`, but skip documents already stored unchanged.

        A document whose id is stored with the same content, genres and
        metadata is neither embedded nor written again, so re-running an
        interrupted or repeated ingest costs one read per document. An
        unchanged document still gets the expiry asked for: ``ttl`` refreshes
        its TTL (one more round trip), ``None`` removes one it had (a round
        trip only if some had one).

        Args:
            documents: The documents (or one document).
            skip_unchanged: Compare with what is stored first (one round trip).
            ttl: Time to live, as for :meth:`add`; ``None``: no expiry.

        Returns:
            A :class:`LoadReport`: every id, those written, those unchanged.

        Raises:
            ValidationError: An invalid document or ``ttl``; nothing was written.
            StoreError: Redis failed.
        """
        return self._runner.run(
            writes.load(self._state, documents, skip_unchanged=skip_unchanged, ttl=ttl)
        )

    @overload
    def update(
        self,
        doc_id: str,
        *,
        content: str | None = None,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Document: ...

    @overload
    def update(
        self,
        doc_id: None = None,
        *,
        where: Filter,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        on_progress: Callable[[int, int], object] | None = None,
        batch_size: int = UPDATE_BATCH,
    ) -> list[str]: ...

    def update(
        self,
        doc_id: str | None = None,
        *,
        where: Filter | None = None,
        content: str | None = None,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        on_progress: Callable[[int, int], object] | None = None,
        batch_size: int = UPDATE_BATCH,
    ) -> Document | list[str]:
        """Change one stored document, or every document a filter matches.

        By id, ``update("id", content=..., genre=..., metadata=...)`` changes
        the fields given, in one transaction: new content is embedded again,
        new genres replace the old, new ``metadata`` *replaces* the old
        metadata whole. The document keeps its TTL.

        By filter, ``update(where=..., genre=..., metadata=...)`` changes
        every document ``where`` matches when the call starts (genre
        conditions: ``Tag("genre") == "x"``), without embedding anything:
        ``genre`` replaces their genres; ``metadata`` is a *patch* (JSON merge
        patch, RFC 7396): the keys given are set, a key given ``None`` is
        removed, nested objects are patched alike, every other key is kept
        (replacing every matching document's metadata whole is rarely
        meant). Each document changes atomically (one MULTI/EXEC) and keeps
        its embedding and TTL; one deleted meanwhile is skipped, never
        re-created. Round trips: one per 10,000 matching documents to list
        them, then one per ``batch_size`` documents.

        Args:
            doc_id: The document's id (by id; it stays the same, even when
                the content changes).
            where: A filter (by filter), e.g. ``Num("year") < 1900``.
            content: New text (by id only); the document is re-embedded.
            genre: New genre(s), replacing the old ones.
            metadata: By id: new metadata, replacing the old. By filter: the
                patch. Indexed fields must hold values of their kind.
            dry_run: By filter: return the ids that would change, change nothing.
            on_progress: By filter: called as ``on_progress(done, total)``
                after each batch (documents handled so far, documents matched).
                The async store calls it on its event loop.
            batch_size: By filter: documents per round trip.

        Returns:
            By id: the document as now stored. By filter: the ids changed,
            sorted (with ``dry_run``, those that would be).

        Raises:
            DocumentNotFoundError: By id: no document has that id.
            ValidationError: Both or neither of ``doc_id`` and ``where``,
                ``content`` with ``where``, options of the other form, nothing
                to change or an invalid value; nothing was written.
            InvalidFilterError: An invalid filter; nothing was written.
            WriteError: By filter: Redis refused a change; its ``confirmed``
                ids were changed (earlier batches stay changed).
            StoreError: Redis failed.
        """
        return self._runner.run(
            bulk.update(
                self._state,
                doc_id,
                where=where,
                content=content,
                genre=genre,
                metadata=metadata,
                dry_run=dry_run,
                on_progress=on_progress,
                batch_size=batch_size,
            )
        )

    def delete(
        self,
        ids: Iterable[str] | str | None = None,
        *,
        where: Filter | None = None,
        dry_run: bool = False,
        on_progress: Callable[[int, int], object] | None = None,
    ) -> int:
        """Delete documents by id, or every document matching a filter.

        By filter, documents are deleted 1,000 per round of two round trips
        (find, delete) until none match.

        Args:
            ids: The ids (or one id).
            where: A filter instead of ids, e.g. ``Tag("genre") == "pets"``.
            dry_run: Count what would be deleted (one round trip), delete nothing.
            on_progress: By filter: called as ``on_progress(done, total)``
                after each round (deleted so far, matching at the start; one
                more round trip to count them). The async store calls it on
                its event loop.

        Returns:
            How many documents existed and were deleted (with ``dry_run``,
            how many would be).

        Raises:
            ValidationError: Both or neither of ``ids`` and ``where``, an
                invalid id, filter or option; nothing was deleted.
            StoreError: Redis failed.
        """
        return self._runner.run(
            bulk.delete(self._state, ids, where=where, dry_run=dry_run, on_progress=on_progress)
        )

    def expire(self, ids: Iterable[str] | str, seconds: float | timedelta) -> int:
        """Make stored documents expire ``seconds`` from now (one round trip).

        Redis then deletes them, and they vanish from searches, counts and
        listings. A later :meth:`add` of a document replaces its expiry (no
        ``ttl``: none); :meth:`update` keeps it; ``reembed`` carries it over.

        Args:
            ids: The ids (or one id); ids that are not stored are left out.
            seconds: Time to live: seconds (> 0) or a ``timedelta``.

        Returns:
            How many of the (distinct) ids are stored and got the TTL.

        Raises:
            ValidationError: Invalid ``seconds`` or ids; nothing was changed.
            StoreError: Redis failed.
        """
        return self._runner.run(expiry.expire(self._state, ids, seconds))

    def persist(self, ids: Iterable[str] | str) -> int:
        """Make stored documents never expire: remove their TTL (one round trip).

        Args:
            ids: The ids (or one id).

        Returns:
            How many of the (distinct) ids had a TTL, now removed.

        Raises:
            InvalidDocumentError: An invalid id; nothing was changed.
            StoreError: Redis failed.
        """
        return self._runner.run(expiry.persist(self._state, ids))

    def ttl(self, doc_id: str) -> float | None:
        """The seconds a stored document has left before it expires (one round trip).

        Args:
            doc_id: The document's id.

        Returns:
            The seconds left (millisecond precision), or ``None`` if it never expires.

        Raises:
            DocumentNotFoundError: No document has that id.
            InvalidDocumentError: An invalid id.
            StoreError: Redis failed.
        """
        return self._runner.run(expiry.ttl(self._state, doc_id))


class AsyncWrites:
    """Writing documents (:class:`~redis_docstore.AsyncDocumentStore`)."""

    _state: StoreState
    _runner: AsyncRunner

    @doc_of(Writes.add)
    async def add(
        self, documents: Iterable[Document] | Document, *, ttl: float | timedelta | None = None
    ) -> list[str]:
        report = await self._runner.run(
            writes.load(self._state, documents, skip_unchanged=False, ttl=ttl)
        )
        return report.ids

    @doc_of(Writes.load)
    async def load(
        self,
        documents: Iterable[Document] | Document,
        *,
        skip_unchanged: bool = True,
        ttl: float | timedelta | None = None,
    ) -> LoadReport:
        return await self._runner.run(
            writes.load(self._state, documents, skip_unchanged=skip_unchanged, ttl=ttl)
        )

    @overload
    async def update(
        self,
        doc_id: str,
        *,
        content: str | None = None,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Document: ...

    @overload
    async def update(
        self,
        doc_id: None = None,
        *,
        where: Filter,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        on_progress: Callable[[int, int], object] | None = None,
        batch_size: int = UPDATE_BATCH,
    ) -> list[str]: ...

    @doc_of(Writes.update)
    async def update(
        self,
        doc_id: str | None = None,
        *,
        where: Filter | None = None,
        content: str | None = None,
        genre: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        on_progress: Callable[[int, int], object] | None = None,
        batch_size: int = UPDATE_BATCH,
    ) -> Document | list[str]:
        return await self._runner.run(
            bulk.update(
                self._state,
                doc_id,
                where=where,
                content=content,
                genre=genre,
                metadata=metadata,
                dry_run=dry_run,
                on_progress=on_progress,
                batch_size=batch_size,
            )
        )

    @doc_of(Writes.delete)
    async def delete(
        self,
        ids: Iterable[str] | str | None = None,
        *,
        where: Filter | None = None,
        dry_run: bool = False,
        on_progress: Callable[[int, int], object] | None = None,
    ) -> int:
        return await self._runner.run(
            bulk.delete(self._state, ids, where=where, dry_run=dry_run, on_progress=on_progress)
        )

    @doc_of(Writes.expire)
    async def expire(self, ids: Iterable[str] | str, seconds: float | timedelta) -> int:
        return await self._runner.run(expiry.expire(self._state, ids, seconds))

    @doc_of(Writes.persist)
    async def persist(self, ids: Iterable[str] | str) -> int:
        return await self._runner.run(expiry.persist(self._state, ids))

    @doc_of(Writes.ttl)
    async def ttl(self, doc_id: str) -> float | None:
        return await self._runner.run(expiry.ttl(self._state, doc_id))
