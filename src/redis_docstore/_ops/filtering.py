"""A store's filter arguments as one RediSearch expression, rendered once per shape.

Rendering and escaping cost more than a search's own round trip would allow,
and a service sends the same filters again and again: expressions are cached
in the store's state, by their arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis_docstore._errors import InvalidFilterError
from redis_docstore._filters.conditions import genre_filters
from redis_docstore._filters.expression import Filter, check_fields, combine, render
from redis_docstore._ops.state import StoreState, frozen, keep, lookup

__all__ = ["Selection", "expression"]


@dataclass(frozen=True)
class Selection:
    """Which documents an operation reads or changes: the stores' filter arguments.

    Attributes:
        genre: Any of these genres.
        genres_all: Every one of these genres.
        exclude_genres: None of these genres.
        where: A filter over declared fields.
    """

    genre: str | Sequence[str] | None = None
    genres_all: Sequence[str] | None = None
    exclude_genres: Sequence[str] | None = None
    where: Filter | None = None


def expression(state: StoreState, selection: Selection) -> str:
    """The expression of a selection's genre filters and ``where`` (``"*"`` for none).

    Args:
        state: The store's state (its fields and filter cache).
        selection: The filter arguments, as given to a store method.

    Returns:
        The rendered expression.

    Raises:
        InvalidGenreError: An empty or invalid genre filter.
        InvalidFilterError: ``where`` is not a Filter, or names undeclared fields.
    """
    genre, genres_all, exclude_genres, where = (
        selection.genre, selection.genres_all, selection.exclude_genres, selection.where,
    )  # fmt: skip
    key = (frozen(genre), frozen(genres_all), frozen(exclude_genres), where)
    cached, key = lookup(state.filter_cache, key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if where is not None:
        if not isinstance(where, Filter):
            raise InvalidFilterError(
                f"where must be a Filter (from Tag, Num or Text), not {type(where).__name__}"
            )
        check_fields(where, state.settings.fields)
    rendered = render(
        combine(
            genre_filters(genre=genre, genres_all=genres_all, exclude_genres=exclude_genres),
            where,
        )
    )
    keep(state.filter_cache, key, rendered)
    return rendered
