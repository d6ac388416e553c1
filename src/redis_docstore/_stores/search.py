"""Searching by meaning: one query or many, grouped by a field, or by example.

The methods of both stores for this concept, the sync one (with the docstring)
beside its async twin; each calls a flow of :mod:`redis_docstore._ops.search` (or
:mod:`~redis_docstore._ops.groups`, :mod:`~redis_docstore._ops.recommend`) and hands it to
the store's runner.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis_docstore._documents import Group, Hit, HitField
from redis_docstore._filters.expression import Filter
from redis_docstore._ops import groups, recommend, search
from redis_docstore._ops.recommend import Example, Strategy
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
        fields: Sequence[HitField] | None = None,
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
            fields: What the hits carry, e.g. ``["id", "distance"]``: names
                among ``"id"``, ``"distance"``, ``"content"``, ``"genres"`` and
                ``"metadata"``; ``None`` (the default) for everything. The
                server neither reads nor sends the others, and the hits hold
                ``""``, ``()`` and ``{}`` for them (see :class:`Hit`). ``id``,
                ``distance``, ``similarity`` and ``score`` are always filled;
                an MMR search still reads the embeddings it needs.

        Returns:
            Hits ordered by ascending distance (by descending score for a
            hybrid search, by MMR selection for MMR). When HNSW returns fewer
            than ``k`` hits for a filter that more documents match, the query
            is re-run as an exact search, so a short list is complete.

        Raises:
            InvalidQueryError: Bad ``k``, ``offset``, empty text, options
                that cannot be combined (``max_distance``, ``text`` and
                ``mmr_lambda`` are exclusive), or ``fields`` naming something
                a hit does not have.
            InvalidGenreError / InvalidFilterError: An invalid filter.
            InvalidEmbeddingError: A query vector of the wrong length or with
                non-finite values.
            StoreError: Redis failed.
        """
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, fields=fields,
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
        fields: Sequence[HitField] | None = None,
    ) -> list[list[Hit]]:
        """Run :meth:`search` for many queries: one model batch, one round trip.

        Args:
            queries: Texts and/or vectors.
            k, offset, genre, genres_all, exclude_genres, where, max_distance,
            text, text_mode, alpha, mmr_lambda, fetch_k, ef_runtime, fields: As
                for :meth:`search`, applied to every query.

        Returns:
            One list of hits per query, in order.

        Raises:
            As :meth:`search`.
        """
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, fields=fields,
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
        fields: Sequence[HitField] | None = None,
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
            fields: What the hits carry, as for :meth:`search`.

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
            ef_runtime=ef_runtime, fields=fields,
        )  # fmt: skip
        return self._runner.run(groups.search_groups(self._state, query, spec))

    def recommend(
        self,
        positive: Sequence[Example] | None = None,
        negative: Sequence[Example] | None = None,
        *,
        k: int = 10,
        strategy: Strategy = "average_vector",
        fetch_k: int | None = None,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        ef_runtime: int | None = None,
        fields: Sequence[HitField] | None = None,
    ) -> list[Hit]:
        """Find documents like the ``positive`` examples and unlike the ``negative`` ones.

        An example is a stored document's id (a ``str`` is always an id), a
        text wrapped as ``TextExample("...")`` (embedded with the store's
        model), or a vector. Documents given by id are never among the hits;
        texts and vectors exclude nothing. The filters apply to the hits, not
        to the examples.

        Strategies (Qdrant's):

        - ``"average_vector"`` (default): one KNN search for the vector
          ``avg(positive) + (avg(positive) - avg(negative))``, or
          ``avg(positive)`` without negatives (under COSINE each example is
          normalized before averaging). Needs a positive example. Hits are
          ordered by ``distance``, the distance to that vector; ``score`` is
          ``None``.
        - ``"best_score"``: the ``fetch_k`` nearest documents of each positive
          (one pipelined batch of KNN searches) are the candidates, each scored
          by its distance ``d_pos`` to the nearest positive and ``d_neg`` to
          the nearest negative: ``sigmoid(-d_pos)``, in (0, 1), when
          ``d_pos < d_neg``, else ``-sigmoid(-d_neg)``, in (-1, 0), with
          ``sigmoid(x) = (x / (1 + |x|) + 1) / 2``. So a document nearer some
          positive than every negative always ranks above one that is not;
          among those, nearer ranks higher; among the others, farther from the
          negatives ranks higher. Hits are ordered by ``score`` (descending);
          ``distance`` is ``d_pos`` (``d_neg`` without positives). A document
          outside every positive's ``fetch_k`` nearest is never a candidate:
          raise ``fetch_k`` to search wider. Negative examples only are
          allowed on COSINE and IP indexes (the candidates are then the
          nearest documents to each negated negative: the least similar).

        Args:
            positive: Examples to be like.
            negative: Examples to be unlike.
            k: How many hits at most.
            strategy: ``"average_vector"`` or ``"best_score"``.
            fetch_k: ``best_score`` only: candidates per positive (default
                ``max(4 * k, 50)``), not counting the examples themselves.
            genre, genres_all, exclude_genres, where: Filters on the hits, as
                for :meth:`search`.
            ef_runtime: HNSW search breadth for the searches.
            fields: What the hits carry, as for :meth:`search`.

        Returns:
            The hits: by ascending ``distance`` for ``average_vector``, by
            descending ``score`` for ``best_score``. Round trips: one search
            (one pipeline for ``best_score``), plus one ``JSON.MGET`` before it
            when examples are ids; texts add one model pass.

        Raises:
            InvalidQueryError: No example, more than 256, none positive where
                needed, an id both positive and negative, a string that cannot
                be an id, a bad ``strategy``, ``k`` or ``fetch_k``.
            InvalidEmbeddingError: A vector of the wrong length or with
                non-finite values.
            InvalidGenreError / InvalidFilterError: An invalid filter.
            DocumentNotFoundError: An example id that is not stored; nothing
                is searched.
            StoreError: Redis failed.
        """
        req = recommend.request(
            self._state, positive, negative, k=k, strategy=strategy, fetch_k=fetch_k,
            genre=genre, genres_all=genres_all, exclude_genres=exclude_genres, where=where,
            ef_runtime=ef_runtime, fields=fields,
        )  # fmt: skip
        return self._runner.run(recommend.recommend(self._state, req))


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
        fields: Sequence[HitField] | None = None,
    ) -> list[Hit]:
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, fields=fields,
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
        fields: Sequence[HitField] | None = None,
    ) -> list[list[Hit]]:
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, fields=fields,
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
        fields: Sequence[HitField] | None = None,
    ) -> list[Group]:
        spec = groups.group_spec(
            self._state, group_by=group_by, limit=limit, group_size=group_size, genre=genre,
            genres_all=genres_all, exclude_genres=exclude_genres, where=where,
            ef_runtime=ef_runtime, fields=fields,
        )  # fmt: skip
        return await self._runner.run(groups.search_groups(self._state, query, spec))

    @doc_of(Search.recommend)
    async def recommend(
        self,
        positive: Sequence[Example] | None = None,
        negative: Sequence[Example] | None = None,
        *,
        k: int = 10,
        strategy: Strategy = "average_vector",
        fetch_k: int | None = None,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        ef_runtime: int | None = None,
        fields: Sequence[HitField] | None = None,
    ) -> list[Hit]:
        req = recommend.request(
            self._state, positive, negative, k=k, strategy=strategy, fetch_k=fetch_k,
            genre=genre, genres_all=genres_all, exclude_genres=exclude_genres, where=where,
            ef_runtime=ef_runtime, fields=fields,
        )  # fmt: skip
        return await self._runner.run(recommend.recommend(self._state, req))
