"""Search queries: building them and parsing Redis' replies. No I/O here.

The store sends what these functions build and hands the reply back to them;
the async store will do the same, with awaits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from redisvl.query import CountQuery, VectorQuery
from redisvl.query.filter import FilterExpression

from redis_docstore.documents import Hit
from redis_docstore.errors import InvalidQueryError
from redis_docstore.filters import genre_filter
from redis_docstore.schema import EMBEDDING_FIELD

__all__ = ["DISTANCE_ALIAS", "build_count_query", "build_vector_query", "parse_search_reply"]

DISTANCE_ALIAS = "vector_distance"
# JSON paths, not field aliases: the alias of a TAG over "$.genre[*]" returns
# only the first genre, "$.genre" returns the whole array as JSON text.
RETURN_FIELDS = ["$.content", "$.genre", "$.metadata"]


def validate_k(k: object) -> int:
    """Check the number of results asked for.

    Raises:
        InvalidQueryError: ``k`` is not a positive integer.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise InvalidQueryError(f"k must be a positive integer, not {k!r}")
    return k


def optional_genre_filter(genre: str | Sequence[str] | None) -> FilterExpression | None:
    """The genre filter, or ``None`` when no genre restricts the query."""
    return None if genre is None else genre_filter(genre)


def build_vector_query(
    vector: Sequence[float],
    *,
    k: int,
    genre: str | Sequence[str] | None = None,
) -> VectorQuery:
    """Build a KNN query for the ``k`` documents nearest to ``vector``.

    Args:
        vector: The (validated) query vector.
        k: How many hits at most.
        genre: One genre or a list (any of them); ``None`` for all documents.

    Returns:
        A redisvl ``VectorQuery`` (a redis-py ``Query``), sorted by distance.

    Raises:
        InvalidQueryError: ``k`` is not a positive integer.
        InvalidGenreError: An empty or invalid genre filter.
    """
    return VectorQuery(
        vector=list(vector),
        vector_field_name=EMBEDDING_FIELD,
        return_fields=RETURN_FIELDS,
        num_results=validate_k(k),
        filter_expression=optional_genre_filter(genre),
        dtype="float32",
        return_score=True,
    )


def build_count_query(genre: str | Sequence[str] | None = None) -> CountQuery:
    """Build a query counting the documents (of the given genres)."""
    return CountQuery(filter_expression=optional_genre_filter(genre) or "*")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_search_reply(reply: Mapping[Any, Any], *, key_prefix: str) -> list[Hit]:
    """Turn an ``FT.SEARCH`` reply (RESP3 map) into hits, in reply order.

    Args:
        reply: The reply, with str or bytes keys and values.
        key_prefix: The store's key prefix (``doc:``), stripped from keys.

    Returns:
        The hits, with ``distance`` as a float.
    """
    results = reply.get("results", reply.get(b"results", []))
    hits = []
    for result in results:
        key = _text(result.get("id", result.get(b"id")))
        attrs = {
            _text(k): v
            for k, v in (
                result.get("extra_attributes", result.get(b"extra_attributes")) or {}
            ).items()
        }
        genres = attrs.get("$.genre")
        metadata = attrs.get("$.metadata")
        hits.append(
            Hit(
                id=key.removeprefix(key_prefix),
                content=_text(attrs.get("$.content", "")),
                genres=tuple(orjson.loads(genres)) if genres else (),
                distance=float(attrs[DISTANCE_ALIAS]),
                metadata=orjson.loads(metadata) if metadata else {},
            )
        )
    return hits


def total_results(reply: Mapping[Any, Any]) -> int:
    """The ``total_results`` of an ``FT.SEARCH`` reply (RESP3 map)."""
    return int(reply.get("total_results", reply.get(b"total_results", 0)))
