"""Searching by meaning: one query or many, or grouped by a field.

The methods of both stores for this concept, the sync one (with the docstring)
beside its async twin; each calls a flow of :mod:`redis_docstore._ops.search` and
hands it to the store's runner.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis_docstore._documents import Group, Hit
from redis_docstore._filters.expression import Filter
from redis_docstore._ops import groups, search
from redis_docstore._ops.spec import TextMode
from redis_docstore._ops.state import StoreState
from redis_docstore._runners import AsyncRunner, BlockingRunner
from redis_docstore._stores.base import doc_of

__all__ = ["AsyncSearch", "Search"]


class Search:
    """Searching by meaning (:class:`~redis_docstore.DocumentStore`)."""

    _state: StoreState
    _runner: BlockingRunner

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

    def search_groups(
        self,
        query: str | Sequence[float],
        *,
        group_by: str = "genre",
        limit: int = 5,
        group_size: int = 3,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        ef_runtime: int | None = None,
    ) -> list[Group]:
        """The nearest documents per value of a field: "the best 3 per genre".

        Like Qdrant's query groups: the matching documents nearest to
        ``query``, grouped by ``group_by``; the first ``limit`` groups by their
        nearest hit, each with its ``group_size`` nearest hits. A document with
        several genres (or a list as its tag value) is in each of their groups;
        a document without the field is in none. The groups are exactly those
        of grouping every matching document by its distance (by the index's
        own KNN order: exact on a FLAT index). One round trip when the nearest
        ``max(4 * limit * group_size, 50)`` matching documents decide the groups;
        one more to complete groups that are short there; two more (list the
        field's values, search the missing groups) when fewer than ``limit``
        groups are among them.

        Args:
            query: A text (embedded with the store's embedder) or a vector.
            group_by: ``"genre"`` or a declared tag metadata field.
            limit: How many groups at most.
            group_size: How many hits per group at most.
            genre: Only documents with any of these genres (a string or a list).
            genres_all: Only documents with every one of these genres.
            exclude_genres: No documents with any of these genres.
            where: A filter over declared metadata fields.
            ef_runtime: HNSW search breadth for this query.

        Returns:
            Up to ``limit`` groups, ordered by their nearest hit (ties: by its
            id, then by value); each group's hits by ascending distance (ties:
            by id).

        Raises:
            InvalidQueryError: ``group_by`` is neither ``"genre"`` nor a declared
                tag field (the message names those), ``limit`` or ``group_size``
                is not a positive integer, ``limit * group_size`` exceeds
                10,000, an empty query text, or a bad ``ef_runtime``.
            InvalidGenreError / InvalidFilterError: An invalid filter.
            InvalidEmbeddingError: A query vector of the wrong length or with
                non-finite values.
            StoreError: Redis failed.
        """
        spec = groups.group_spec(
            self._state, group_by=group_by, limit=limit, group_size=group_size, genre=genre,
            genres_all=genres_all, exclude_genres=exclude_genres, where=where,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        return self._runner.run(groups.search_groups(self._state, query, spec))


class AsyncSearch:
    """Searching by meaning (:class:`~redis_docstore.AsyncDocumentStore`)."""

    _state: StoreState
    _runner: AsyncRunner

    @doc_of(Search.search)
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

    @doc_of(Search.search_many)
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

    @doc_of(Search.search_groups)
    async def search_groups(
        self,
        query: str | Sequence[float],
        *,
        group_by: str = "genre",
        limit: int = 5,
        group_size: int = 3,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        ef_runtime: int | None = None,
    ) -> list[Group]:
        spec = groups.group_spec(
            self._state, group_by=group_by, limit=limit, group_size=group_size, genre=genre,
            genres_all=genres_all, exclude_genres=exclude_genres, where=where,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        return await self._runner.run(groups.search_groups(self._state, query, spec))
