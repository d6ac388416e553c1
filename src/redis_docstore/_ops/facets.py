"""Facets and statistics: documents per value of a tag field, and a numeric field's summary.

The flows of ``facets`` (and ``genres``, its genre case) and ``stats``, for both
stores. Commands are built in :mod:`redis_docstore._commands.aggregate` and
:mod:`redis_docstore._commands.search`, replies parsed in
:mod:`redis_docstore._commands.replies`.

Round trips (after the store's first, which opens the index):

* ``facets``: two. ``FT.TAGVALS`` lists the field's values, then one pipeline
  counts each value under the filters (one ``FT.SEARCH ... LIMIT 0 1`` per
  value), so a document with several values counts once for each, exactly;
  the pipeline grows with the number of distinct values in the index.
* ``stats``: one ``FT.AGGREGATE ... GROUPBY 0`` with COUNT, MIN, MAX and SUM.
"""

from __future__ import annotations

import math

from redis_docstore._commands.aggregate import field_stats_command, tag_values_command
from redis_docstore._commands.replies import parse_field_stats, tag_values, total_results
from redis_docstore._commands.search import count_command, validate_k
from redis_docstore._documents import FieldStats
from redis_docstore._effects import Commands, Flow
from redis_docstore._errors import InvalidQueryError, ValidationError
from redis_docstore._filters.conditions import Num, Tag
from redis_docstore._filters.expression import FieldKind, Filter, combine, render
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.filtering import expression as filter_expression
from redis_docstore._ops.lifecycle import ensure
from redis_docstore._ops.state import StoreState

__all__ = ["checked_field", "facets", "stats"]


def checked_field(state: StoreState, field: object, kind: FieldKind, call: str) -> str:
    """Check that ``field`` names a declared field of ``kind`` (``genre`` is a tag field).

    Args:
        state: The store's state (its declared fields).
        field: The candidate field name.
        kind: The kind the call needs.
        call: The call's name, for the message.

    Returns:
        The field name.

    Raises:
        InvalidQueryError: Not a string, or not a declared field of that kind;
            the message lists the fields that are.
    """
    declared = state.settings.fields
    if isinstance(field, str) and declared.get(field) == kind:
        return field
    allowed = ", ".join(sorted(n for n, k in declared.items() if k == kind)) or "none declared"
    if not isinstance(field, str):
        problem = f"the field must be a string, not {type(field).__name__}"
    elif field in declared:
        problem = f"{field!r} is a {declared[field]} field"
    else:
        problem = f"{field!r} is not a declared field"
    raise InvalidQueryError(f"{call}() takes a {kind} field: {problem}; {kind} fields: {allowed}")


def facets(
    state: StoreState, field: str, selection: Selection, *, limit: int | None
) -> Flow[dict[str, int]]:
    """Documents per value of the tag field ``field`` among those matching ``selection``.

    Returns:
        ``{value: count}``, most frequent first, then by value; values with no
        matching document left out; at most ``limit`` values (``None``: all).
    """
    checked_field(state, field, "tag", "facets")
    if limit is not None:
        validate_k(limit, "limit")
    expression = filter_expression(state, selection)
    yield from ensure(state)
    name = state.settings.name
    (reply,) = yield Commands([tag_values_command(name, field)], f"listing the {field} values")
    queries = {v: q for v in tag_values(reply) if (q := _value_query(field, v, expression))}
    if not queries:
        return {}
    # GROUPBY puts a multi-valued document under its first value only (see
    # _commands.aggregate): each value is counted by its own query.
    replies = yield Commands(
        [count_command(name, query) for query in queries.values()],
        f"counting documents per {field}",
    )
    counts = [(v, total_results(r)) for v, r in zip(queries, replies, strict=True)]
    ranked = sorted((item for item in counts if item[1] > 0), key=lambda item: (-item[1], item[0]))
    return dict(ranked if limit is None else ranked[:limit])


def stats(state: StoreState, field: str, selection: Selection) -> Flow[FieldStats]:
    """Count, min, max, mean and sum of the numeric field ``field`` over the matching documents.

    Only documents having the field count: the query adds ``@field:[-inf +inf]``.
    """
    checked_field(state, field, "numeric", "stats")
    expression = filter_expression(state, selection)
    yield from ensure(state)
    having = render(combine(Num(field).between(-math.inf, math.inf), _raw(expression)))
    (reply,) = yield Commands(
        [field_stats_command(state.settings.name, field, having)], f"summarizing {field}"
    )
    return parse_field_stats(reply)


def _value_query(field: str, value: str, expression: str) -> str | None:
    """The query of the documents with ``value`` matching ``expression``; ``None`` if none can."""
    try:
        has_value = Tag(field) == value
    except ValidationError:
        # Only another client can store such a value (a control character,
        # say); RediSearch indexes it but no query matches it.
        return None
    return render(combine(has_value, _raw(expression)))


def _raw(expression: str) -> Filter | None:
    return None if expression == "*" else Filter(expression, {})
