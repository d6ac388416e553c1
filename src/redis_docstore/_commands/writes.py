"""Write commands beyond whole documents: expiry times, metadata patches, key listings. No I/O.

- Expiry: :func:`ttl_milliseconds` checks a time to live (seconds or a
  ``timedelta``) once, at the edge; :func:`expiry_command` is what follows a
  document's ``JSON.SET``: ``PEXPIRE`` with a TTL, ``PERSIST`` without one
  (``JSON.SET`` on the root keeps a key's old TTL, so "no TTL" must be said).
- Changes by filter: :func:`change_commands` changes one document's genres and
  metadata in place, atomically, never re-creating a document deleted meanwhile.
- Listings: :func:`matching_keys_command` pages through the keys matching a
  filter with a cursor, for the changes by filter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import orjson

from redis_docstore._errors import ValidationError

__all__ = [
    "KEYS_PAGE",
    "MAX_TTL_SECONDS",
    "change_commands",
    "expiry_command",
    "matching_keys_command",
    "ttl_milliseconds",
]

#: The longest time to live accepted: 100 years (Redis refuses expiry times
#: that overflow its millisecond clock; nobody means more).
MAX_TTL_SECONDS = 100 * 365.25 * 86_400
#: Keys per cursor read of :func:`matching_keys_command`.
KEYS_PAGE = 10_000


def ttl_milliseconds(value: object, name: str = "ttl") -> int:
    """A time to live in whole milliseconds, at least 1.

    Args:
        value: Seconds (an int or float > 0) or a positive ``timedelta``.
        name: The argument's name, for the message.

    Returns:
        The milliseconds, rounded to the nearest (at least 1).

    Raises:
        ValidationError: Not a number or timedelta, not finite, <= 0, or over
            :data:`MAX_TTL_SECONDS`.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            f"{name} must be a number of seconds > 0 or a timedelta, not {value!r}"
        )
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValidationError(f"{name} must be > 0 seconds, not {value!r}")
    if seconds > MAX_TTL_SECONDS:
        raise ValidationError(f"{name} must be at most 100 years, not {value!r}")
    return max(1, round(seconds * 1000))


def expiry_command(key: str, ttl_ms: int | None) -> tuple[Any, ...]:
    """``PEXPIRE key ttl_ms``, or ``PERSIST key`` when ``ttl_ms`` is ``None``."""
    return ("PERSIST", key) if ttl_ms is None else ("PEXPIRE", key, ttl_ms)


def matching_keys_command(index: str, filter_expression: str, *, page: int) -> tuple[Any, ...]:
    """``FT.AGGREGATE`` over the keys matching a filter, ``page`` per cursor read, unordered.

    Read on with ``FT.CURSOR READ index <cursor>`` until the cursor is 0.
    """
    return (
        "FT.AGGREGATE", index, filter_expression, "LOAD", 1, "@__key",
        "WITHCURSOR", "COUNT", page, "DIALECT", 2,
    )  # fmt: skip


def change_commands(
    key: str, genres: Sequence[str] | None, patch: Mapping[str, Any] | None
) -> list[tuple[Any, ...]]:
    """Change one stored document's genres and/or metadata, in a MULTI/EXEC of its own.

    ``MULTI``, ``EXISTS`` (did the document exist when the change ran?), then
    ``JSON.SET $.genre`` (the new genres) and ``JSON.MERGE $.metadata`` (a JSON
    merge patch, RFC 7396: keys set, keys given ``null`` removed, nested objects
    merged alike, other keys kept), ``EXEC``. Path-level writes fail on a
    missing key, so a document deleted meanwhile is not re-created; the
    document keeps its embedding and its TTL.
    """
    commands: list[tuple[Any, ...]] = [("MULTI",), ("EXISTS", key)]
    if genres is not None:
        commands.append(("JSON.SET", key, "$.genre", orjson.dumps(list(genres))))
    if patch is not None:
        commands.append(("JSON.MERGE", key, "$.metadata", orjson.dumps(dict(patch))))
    commands.append(("EXEC",))
    return commands
