"""Reading documents: by id, counts, facets, field statistics, pages and iteration.

The methods of both stores for this concept, the sync one (with the docstring)
beside its async twin; each calls a flow of :mod:`redis_docstore._ops.reads` (or
:mod:`redis_docstore._ops.facets`) and hands it to the store's runner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from redis_docstore._commands.search import validate_k
from redis_docstore._documents import Document, FieldStats
from redis_docstore._filters.expression import Filter
from redis_docstore._filters.genres import GENRE_FIELD
from redis_docstore._ops import facets as facet_ops
from redis_docstore._ops import filtering, reads
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.state import StoreState
from redis_docstore._runners import AsyncRunner, BlockingRunner
from redis_docstore._stores.base import doc_of

__all__ = ["AsyncReads", "Reads"]


class Reads:
    """Reading documents (:class:`~redis_docstore.DocumentStore`)."""

    _state: StoreState
    _runner: BlockingRunner

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
        """Count documents per genre, optionally under filters: ``facets("genre", limit=None)``.

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
        return self._runner.run(facet_ops.facets(self._state, GENRE_FIELD, selection, limit=None))

    def facets(
        self,
        field: str,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        limit: int | None = 20,
    ) -> dict[str, int]:
        """Count the matching documents per value of a tag field (facets).

        Exact for multi-valued fields: a document with several values (several
        genres, or a list as a tag field's metadata value) counts once for
        each. Costs two round trips: one lists the field's values
        (``FT.TAGVALS``), one counts each value in a pipeline.

        Args:
            field: ``"genre"`` or a metadata field declared as ``"tag"``.
            genre: Any of these genres.
            genres_all: Every one of these genres.
            exclude_genres: None of these genres.
            where: A filter over declared fields.
            limit: At most this many values, the most frequent; ``None``: all.

        Returns:
            ``{value: count}``, most frequent first (then by value); values
            with no matching document are left out.

        Raises:
            InvalidQueryError: ``field`` is not ``"genre"`` nor a declared tag
                field (the message lists those), or ``limit`` is not a
                positive integer or ``None``.
            ValidationError: An invalid filter.
            StoreError: Redis failed.
        """
        selection = Selection(genre, genres_all, exclude_genres, where)
        return self._runner.run(facet_ops.facets(self._state, field, selection, limit=limit))

    def stats(
        self,
        field: str,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> FieldStats:
        """Summarize a numeric field over the matching documents: count, min, max, mean, sum.

        Documents without the field are left out (and not counted). One round
        trip (``FT.AGGREGATE ... GROUPBY 0``). Non-integral numbers come back
        from RediSearch with 12 significant digits (see :class:`FieldStats`).

        Args:
            field: A metadata field declared as ``"numeric"``.
            genre: Any of these genres.
            genres_all: Every one of these genres.
            exclude_genres: None of these genres.
            where: A filter over declared fields.

        Returns:
            The statistics; ``count`` 0 and ``min``, ``max``, ``mean`` ``None``
            when no matching document has the field.

        Raises:
            InvalidQueryError: ``field`` is not a declared numeric field (the
                message lists those).
            ValidationError: An invalid filter.
            StoreError: Redis failed.
        """
        selection = Selection(genre, genres_all, exclude_genres, where)
        return self._runner.run(facet_ops.stats(self._state, field, selection))

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


class AsyncReads:
    """Reading documents (:class:`~redis_docstore.AsyncDocumentStore`)."""

    _state: StoreState
    _runner: AsyncRunner

    @doc_of(Reads.get)
    async def get(self, doc_id: str) -> Document | None:
        return await self._runner.run(reads.get(self._state, doc_id))

    @doc_of(Reads.count)
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

    @doc_of(Reads.genres)
    async def genres(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> dict[str, int]:
        selection = Selection(genre, genres_all, exclude_genres, where)
        return await self._runner.run(
            facet_ops.facets(self._state, GENRE_FIELD, selection, limit=None)
        )

    @doc_of(Reads.facets)
    async def facets(
        self,
        field: str,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        limit: int | None = 20,
    ) -> dict[str, int]:
        selection = Selection(genre, genres_all, exclude_genres, where)
        return await self._runner.run(facet_ops.facets(self._state, field, selection, limit=limit))

    @doc_of(Reads.stats)
    async def stats(
        self,
        field: str,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> FieldStats:
        selection = Selection(genre, genres_all, exclude_genres, where)
        return await self._runner.run(facet_ops.stats(self._state, field, selection))

    @doc_of(Reads.list_documents)
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

    @doc_of(Reads.iter_documents)
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
