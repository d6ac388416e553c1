"""Facet and statistics commands: building them (their replies are parsed in :mod:`.replies`).

No I/O. Facets are counted value by value (:func:`tag_values_command`, then
one :func:`~redis_docstore._commands.search.count_command` per value, in one
pipeline) rather than by ``FT.AGGREGATE ... GROUPBY @field``: on RediSearch
2.10 a GROUPBY over a multi-valued TAG puts each document under its *first*
value only (``$.genre[*]``), or under the JSON text of its whole list (a list
value at ``$.metadata.<name>``), while a tag query matches every value.
"""

from __future__ import annotations

from typing import Any

from redis_docstore._commands.search import DIALECT

__all__ = ["STATS_ALIASES", "field_stats_command", "tag_values_command"]

#: The names of the reducers' results in a :func:`field_stats_command` reply.
STATS_ALIASES = ("count", "min", "max", "sum")


def tag_values_command(index: str, field: str) -> tuple[Any, ...]:
    """``FT.TAGVALS``: every distinct value the index holds for a TAG field.

    The list may still hold values of documents deleted since (the index
    forgets them at its next garbage collection); their counts are 0.
    """
    return ("FT.TAGVALS", index, field)


def field_stats_command(index: str, field: str, filter_expression: str) -> tuple[Any, ...]:
    """``FT.AGGREGATE`` of the count, min, max and sum of a NUMERIC field, in one group.

    Args:
        index: The index (or alias) name.
        field: The numeric field.
        filter_expression: A RediSearch filter that matches only documents
            having the field (``@field:[-inf +inf]``): ``COUNT`` counts every
            row, and ``AVG`` divides by that count, documents without the field
            included.

    Returns:
        The command's arguments; the reply has no row when nothing matches.
    """
    count, low, high, total = STATS_ALIASES
    return (
        "FT.AGGREGATE", index, filter_expression, "GROUPBY", 0,
        "REDUCE", "COUNT", 0, "AS", count,
        "REDUCE", "MIN", 1, f"@{field}", "AS", low,
        "REDUCE", "MAX", 1, f"@{field}", "AS", high,
        "REDUCE", "SUM", 1, f"@{field}", "AS", total,
        "DIALECT", DIALECT,
    )  # fmt: skip
