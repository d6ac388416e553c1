"""Expiry of stored documents: give them a time to live, take it away, read it.

Documents get a TTL when written (``add(..., ttl=...)``, in :mod:`.writes`) or
later with :func:`expire`; :func:`persist` removes it, :func:`ttl` reads it.
Redis deletes an expired document itself, and the index drops it when told of
the deletion. Only keys under the store's prefix are touched: ids are
validated (no ``:``, no glob characters) and become ``<prefix>:<id>``.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis_docstore._commands.writes import expiry_command, ttl_milliseconds
from redis_docstore._documents import validate_id
from redis_docstore._effects import Commands, Flow
from redis_docstore._errors import DocumentNotFoundError
from redis_docstore._ops.lifecycle import ensure, warn_ttl_eviction
from redis_docstore._ops.state import StoreState
from redis_docstore._ops.writes import check_guard, guard_command

__all__ = ["expire", "persist", "ttl"]


def _ids(ids: Iterable[str] | str) -> list[str]:
    """The distinct ids, validated (one id may be given as a string)."""
    if isinstance(ids, str):
        ids = [ids]
    return list(dict.fromkeys(validate_id(i) for i in ids))


def expire(state: StoreState, ids: Iterable[str] | str, seconds: object) -> Flow[int]:
    """Give the documents ``ids`` a time to live; how many exist (and got it).

    One round trip: a ``PEXPIRE`` per distinct id, then the guard.

    Raises:
        ValidationError: Invalid seconds or ids; nothing was changed.
    """
    ttl_ms = ttl_milliseconds(seconds, "seconds")
    ids = _ids(ids)
    if not ids:
        return 0
    yield from ensure(state)  # a re-embedded store's keys are under its generation
    warn_ttl_eviction(state)
    s = state.settings
    *replies, guard = yield Commands(
        [*(expiry_command(s.key(i), ttl_ms) for i in ids), guard_command(state)],
        "setting documents' expiry",
    )
    check_guard(s, guard, ids)
    return sum(int(r) for r in replies)


def persist(state: StoreState, ids: Iterable[str] | str) -> Flow[int]:
    """Remove the documents' time to live; how many had one.

    One round trip: a ``PERSIST`` per distinct id, then the guard.

    Raises:
        InvalidDocumentError: An invalid id; nothing was changed.
    """
    ids = _ids(ids)
    if not ids:
        return 0
    yield from ensure(state)
    s = state.settings
    *replies, guard = yield Commands(
        [*(expiry_command(s.key(i), None) for i in ids), guard_command(state)],
        "removing documents' expiry",
    )
    check_guard(s, guard, ids)
    return sum(int(r) for r in replies)


def ttl(state: StoreState, doc_id: str) -> Flow[float | None]:
    """The seconds a document has left, or ``None`` if it does not expire.

    Raises:
        InvalidDocumentError: An invalid id.
        DocumentNotFoundError: No document has that id.
    """
    validate_id(doc_id)
    yield from ensure(state)
    (left,) = yield Commands([("PTTL", state.settings.key(doc_id))], "reading an expiry")
    left = int(left)
    if left == -2:
        raise DocumentNotFoundError(doc_id)
    return None if left == -1 else left / 1000
