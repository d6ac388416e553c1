"""Searching by meaning: one query or many.

The methods of both stores for this concept, the sync one (with the docstring)
beside its async twin; each calls a flow of :mod:`redis_docstore._ops.search` and
hands it to the store's runner.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis_docstore._documents import Hit
from redis_docstore._filters.expression import Filter
from redis_docstore._ops import search
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
        rrf_k: float | None = None,
        rrf_weights: tuple[float, float] | None = None,
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
                score``, given in ``Hit.score``. With ``text_mode="rrf"``, the
                words' BM25 ranking and the vector ranking fused by reciprocal
                rank.
            text_mode: ``"boost"``, ``"require"`` or ``"rrf"``: reciprocal-rank
                fusion of the ``fetch_k`` nearest documents and the ``fetch_k``
                best BM25 matches of the words (both within the filters),
                ``Hit.score = sum of weight / (rrf_k + rank)`` over the rankings
                that hold the hit. A hit only in the text ranking gets its
                distance computed from its stored embedding.
            alpha: The weight of vector similarity in a ``"boost"`` or
                ``"require"`` hybrid search (``"rrf"`` refuses another value
                than the default: it takes ``rrf_weights``).
            rrf_k: The rank constant of ``"rrf"`` (a number > 0; default 60);
                larger values flatten the difference between ranks.
            rrf_weights: ``(vector, text)`` weights of ``"rrf"``, each >= 0,
                not both 0 (default ``(1, 1)``); a ranking of weight 0 adds
                neither score nor hits.
            mmr_lambda: Re-rank ``fetch_k`` candidates by maximal marginal
                relevance for diverse results: 1 is pure relevance, 0 pure
                diversity.
            fetch_k: Candidates re-ranked by MMR (default ``max(4 * k, 20)``) or
                scored by a hybrid search (default ``max(4 * k, 40)``): the
                words of ``text`` can only lift documents from among the
                ``fetch_k`` nearest; for ``"rrf"`` the length of each ranking.
            ef_runtime: HNSW search breadth for this query.

        Returns:
            Hits ordered by ascending distance (by descending score for a
            hybrid search, then ascending distance and id for ``"rrf"``; by
            MMR selection for MMR). When HNSW returns fewer
            than ``k`` hits for a filter that more documents match, the query
            is re-run as an exact search, so a short list is complete.

        Raises:
            InvalidQueryError: Bad ``k``, ``offset``, empty text, bad
                ``rrf_k``/``rrf_weights`` (or either without ``"rrf"``), or
                options that cannot be combined (``max_distance``, ``text``
                and ``mmr_lambda`` are exclusive).
            InvalidGenreError / InvalidFilterError: An invalid filter.
            InvalidEmbeddingError: A query vector of the wrong length or with
                non-finite values.
            StoreError: Redis failed.
        """
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, rrf_k=rrf_k, rrf_weights=rrf_weights,
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
        rrf_k: float | None = None,
        rrf_weights: tuple[float, float] | None = None,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        ef_runtime: int | None = None,
    ) -> list[list[Hit]]:
        """Run :meth:`search` for many queries: one model batch, one round trip.

        Args:
            queries: Texts and/or vectors.
            k, offset, genre, genres_all, exclude_genres, where, max_distance,
            text, text_mode, alpha, rrf_k, rrf_weights, mmr_lambda, fetch_k,
            ef_runtime: As for :meth:`search`, applied to every query (an
                ``"rrf"`` search sends one text ranking for all of them).

        Returns:
            One list of hits per query, in order.

        Raises:
            As :meth:`search`.
        """
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, rrf_k=rrf_k, rrf_weights=rrf_weights,
        )  # fmt: skip
        if isinstance(queries, str):
            queries = [queries]
        return self._runner.run(search.search(self._state, list(queries), spec)) if queries else []


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
        rrf_k: float | None = None,
        rrf_weights: tuple[float, float] | None = None,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        ef_runtime: int | None = None,
    ) -> list[Hit]:
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, rrf_k=rrf_k, rrf_weights=rrf_weights,
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
        rrf_k: float | None = None,
        rrf_weights: tuple[float, float] | None = None,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        ef_runtime: int | None = None,
    ) -> list[list[Hit]]:
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, rrf_k=rrf_k, rrf_weights=rrf_weights,
        )  # fmt: skip
        if isinstance(queries, str):
            queries = [queries]
        if not queries:
            return []
        return await self._runner.run(search.search(self._state, list(queries), spec))
