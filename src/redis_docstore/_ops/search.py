"""Search: the spec (cached per shape), the query vectors, the search flow, explain.

:func:`spec` validates a search's options once (:mod:`redis_docstore._ops.spec`)
and caches the result per shape; :func:`query_vectors` embeds texts and
validates vectors; :func:`search` sends the commands the spec builds and parses
the replies, re-running as exact searches what HNSW may have cut short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from redis_docstore._commands.replies import total_results
from redis_docstore._commands.search import count_command, render_command
from redis_docstore._documents import Hit, HitField
from redis_docstore._effects import Commands, Flow
from redis_docstore._embeddings import Vector, VectorLike, validate_vector
from redis_docstore._errors import InvalidQueryError
from redis_docstore._filters.expression import Filter
from redis_docstore._ops.embedding import embed
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.filtering import expression as filter_expression
from redis_docstore._ops.lifecycle import ensure
from redis_docstore._ops.spec import SearchSpec, make_search_spec
from redis_docstore._ops.state import StoreState, frozen, keep, lookup

__all__ = ["explain", "query_vectors", "search", "spec"]


def spec(
    state: StoreState,
    *,
    genre: str | Sequence[str] | None,
    genres_all: Sequence[str] | None,
    exclude_genres: Sequence[str] | None,
    where: Filter | None,
    fields: Sequence[HitField] | None = None,
    **options: Any,
) -> SearchSpec:
    """The validated spec of a search, from the cache when its shape was seen before.

    Args:
        state: The store's state (settings, defaults, spec cache).
        genre, genres_all, exclude_genres, where: The filters.
        fields: What the hits carry (``None``: everything); see
            :func:`redis_docstore._ops.spec.stored_fields`.
        **options: The other keyword options of ``DocumentStore.search``.

    Raises:
        InvalidQueryError, InvalidGenreError, InvalidFilterError: An invalid option.
    """
    # A search's own client time is tens of microseconds: checking its
    # options again for each of a service's repeated search shapes shows.
    # The types too: k=True must fail even when k=1 (True == 1) is cached.
    key: Any = (
        frozen(genre), frozen(genres_all), frozen(exclude_genres), where,
        fields if fields is None else frozen(fields),
        state.ef_runtime, *options.items(), *map(type, options.values()),
    )  # fmt: skip
    cached, key = lookup(state.spec_cache, key)
    if cached is not None and cached.settings is state.settings:
        return cached  # type: ignore[no-any-return]
    expression = filter_expression(state, Selection(genre, genres_all, exclude_genres, where))
    made = make_search_spec(
        state.settings,
        expression=expression,
        default_ef_runtime=state.ef_runtime,
        timeout_ms=state.query_timeout_ms,
        fields=fields,
        **options,
    )
    keep(state.spec_cache, key, made)
    return made


def query_vectors(state: StoreState, queries: Sequence[str | VectorLike]) -> Flow[list[Vector]]:
    """The queries as validated vectors: texts embedded (one batch), vectors checked.

    Raises:
        InvalidQueryError: An empty query text.
        InvalidEmbeddingError: A vector of the wrong length or with non-finite values.
    """
    s = state.settings
    texts = []
    for query in queries:
        if isinstance(query, str):
            if not query.strip():
                raise InvalidQueryError("the query text is empty")
            texts.append(query)
    computed = iter((yield from embed(state, texts)))
    return [
        next(computed)
        if isinstance(q, str)
        else validate_vector(q, dims=s.dims, distance=s.distance)
        for q in queries
    ]


def search(
    state: StoreState, queries: Sequence[str | Sequence[float]], spec: SearchSpec
) -> Flow[list[list[Hit]]]:
    """Run ``spec`` for each query, in one round trip; one list of hits per query.

    When HNSW returns fewer than ``k`` hits for a filter that more documents
    match, those queries are re-run as exact searches, so a short list is complete.
    """
    vectors = yield from query_vectors(state, queries)
    yield from ensure(state)
    if spec.settings is not state.settings:  # the first use read the meta hash
        spec = replace(spec, settings=state.settings)
    replies = yield Commands(
        [spec.command(v) for v in vectors], "searching", protocol=spec.protocol
    )
    results = [spec.parse(reply, v) for reply, v in zip(replies, vectors, strict=True)]
    short = [i for i, hits in enumerate(results) if spec.may_be_incomplete(hits)]
    if short:
        # HNSW with a selective filter can return fewer than k hits while
        # more documents match; never return that as complete: count the
        # matches and redo those queries as exact searches if needed.
        (reply,) = yield Commands(
            [count_command(state.settings.name, spec.expression)], "checking completeness"
        )
        expected = min(spec.k, max(total_results(reply) - spec.offset, 0))
        redo = [i for i in short if len(results[i]) < expected]
        if redo:
            exact = replace(spec, exact=True)
            replies = yield Commands(
                [exact.command(vectors[i]) for i in redo],
                "searching exactly",
                protocol=exact.protocol,
            )
            for i, reply in zip(redo, replies, strict=True):
                results[i] = exact.parse(reply, vectors[i])
    return results


def explain(state: StoreState, query: str | Sequence[float], spec: SearchSpec) -> str:
    """The command ``spec`` sends for ``query``, as one line; no model runs.

    A text query's vector shows as ``<n bytes>``.

    Raises:
        InvalidQueryError: An empty query text.
        InvalidEmbeddingError: An invalid query vector.
    """
    s = state.settings
    if isinstance(query, str):
        if not query.strip():
            raise InvalidQueryError("the query text is empty")
        vector: Vector = np.ones(s.dims)  # shown as <n bytes>; no model work
    else:
        vector = validate_vector(query, dims=s.dims, distance=s.distance)
    return render_command(spec.command(vector))
