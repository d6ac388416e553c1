"""Changes by filter: update or delete every document a filter matches, in batches.

:func:`update` and :func:`delete` are the two forms of ``DocumentStore.update``
and ``DocumentStore.delete``: by id (the flows of :mod:`.writes`) or by filter
(``where=``, the flows here). :func:`update_where` first lists the matching
keys (a cursor, :data:`~redis_docstore._commands.writes.KEYS_PAGE` keys per
read), then changes them in batches, one MULTI/EXEC per document
(:func:`~redis_docstore._commands.writes.change_commands`): listing first, because a change
can make a document match again or no longer, and an index walked while it
changes may show a document twice. :func:`delete_where` needs no list: a
deleted document leaves the index, so it deletes what a search finds until it
finds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from redis_docstore._commands.replies import aggregate_keys, result_keys, total_results
from redis_docstore._commands.search import (
    count_command,
    indexed_keys_command,
    search_ids_command,
    validate_k,
)
from redis_docstore._commands.writes import KEYS_PAGE, change_commands, matching_keys_command
from redis_docstore._connection import translate
from redis_docstore._documents import Document, prepare_update, validate_id
from redis_docstore._effects import Commands, Flow
from redis_docstore._errors import InvalidFilterError, ValidationError, WriteError
from redis_docstore._filters.expression import Filter
from redis_docstore._ops import writes
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.filtering import expression as filter_expression
from redis_docstore._ops.lifecycle import ensure
from redis_docstore._ops.state import StoreState

__all__ = [
    "DELETE_BATCH",
    "UPDATE_BATCH",
    "Progress",
    "delete",
    "delete_where",
    "matching_ids",
    "update",
    "update_where",
]

DELETE_BATCH = 1000  # keys per delete-by-filter round
#: Documents per round trip of an update by filter. Each change makes Redis
#: index the document again (its vector too): ~1-2 ms of server time each.
UPDATE_BATCH = 250
Progress = Callable[[int, int], object]


def update(
    state: StoreState,
    doc_id: str | None,
    *,
    where: Filter | None,
    content: str | None,
    genre: str | Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    dry_run: bool,
    on_progress: Progress | None,
    batch_size: int,
) -> Flow[Document | list[str]]:
    """``DocumentStore.update``: one document by id, or every one ``where`` matches.

    Raises:
        ValidationError: Both or neither of ``doc_id`` and ``where``; options of
            the other form; invalid values. Nothing was written.
    """
    if (doc_id is None) == (where is None):
        raise ValidationError("update() takes a doc_id or where=, not both or neither")
    if where is None:
        assert doc_id is not None
        if dry_run is not False or on_progress is not None:
            raise ValidationError("dry_run and on_progress apply to update(where=...) only")
        return (
            yield from writes.update(
                state, doc_id, content=content, genre=genre, metadata=metadata
            )
        )
    if content is not None:
        raise ValidationError(
            "update(where=...) changes genres and metadata only: new content must be "
            "embedded again, document by document (update(doc_id, content=...))"
        )
    return (
        yield from update_where(
            state,
            where,
            genre=genre,
            metadata=metadata,
            dry_run=dry_run,
            on_progress=on_progress,
            batch_size=batch_size,
        )
    )


def _check_options(dry_run: object, on_progress: object) -> None:
    if not isinstance(dry_run, bool):
        raise ValidationError(f"dry_run must be True or False, not {dry_run!r}")
    if on_progress is not None and not callable(on_progress):
        raise ValidationError(
            f"on_progress must be a callable(done, total) or None, not {on_progress!r}"
        )


def update_where(
    state: StoreState,
    where: Filter,
    *,
    genre: str | Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    dry_run: bool,
    on_progress: Progress | None,
    batch_size: int,
) -> Flow[list[str]]:
    """Change the genres and/or metadata of every document ``where`` matches.

    Round trips: the listing (one per :data:`KEYS_PAGE` keys, at least one),
    then one per ``batch_size`` documents (each ending with the check that
    Redis indexed them and the guard of :func:`.writes.check_guard`).

    Returns:
        The ids changed, sorted (``dry_run``: those that would be).

    Raises:
        ValidationError: Invalid values or options; nothing was written.
        InvalidFilterError: An invalid filter; nothing was written.
        WriteError: Redis refused a change (``confirmed``: the ids changed before).
        IndexingError: Changed documents Redis could not index.
    """
    expression = filter_expression(state, Selection(where=where))
    _check_options(dry_run, on_progress)
    validate_k(batch_size, "batch_size")
    if genre is None and not metadata:
        raise ValidationError("update(where=...) needs genre= or a non-empty metadata=")
    genres, patch = _checked_patch(state, genre, metadata or None)
    yield from ensure(state)
    s = state.settings
    ids = sorted((yield from matching_ids(state, expression)))
    if dry_run:
        return ids
    changed: list[str] = []
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        keys = [s.key(i) for i in batch]
        commands = [c for key in keys for c in change_commands(key, genres, patch)]
        replies = yield Commands(
            [
                *commands,
                indexed_keys_command(s.name, keys),
                writes.guard_command(state),
            ],
            "updating documents",
            allow_errors=True,
        )
        *_, check, guard = replies
        done, error = _changed(batch, replies, len(commands) // len(batch))
        if error is not None:
            rest = [i for i in ids[start:] if i not in set(done)]
            raise writes.write_error(translate(error, "updating documents"), changed + done, rest)
        try:
            writes.check_guard(s, guard, batch)
        except WriteError as exc:
            raise writes.write_error(exc, changed, ids[start:]) from None
        if isinstance(check, Exception):
            raise translate(check, "checking that documents were indexed")
        indexed = set(result_keys(check))
        suspects = [i for i in done if s.key(i) not in indexed]
        if suspects and (missed := (yield from writes.unindexed(state, suspects))):
            raise (yield from writes.indexing_error(state, missed))
        changed += done
        if on_progress is not None:
            on_progress(start + len(batch), len(ids))
    return changed


def _checked_patch(
    state: StoreState, genre: object, metadata: object
) -> tuple[tuple[str, ...] | None, dict[str, Any] | None]:
    """The new genres and the metadata patch, validated as for a new document.

    A key given ``None`` is removed by the patch: an indexed one then holds no
    value to check against its kind.
    """
    fields = dict(state.settings.metadata_fields)
    removed: list[str] = []
    if isinstance(metadata, Mapping):
        removed = [k for k, v in metadata.items() if v is None and k in fields]
        metadata = {k: v for k, v in metadata.items() if k not in removed}
    _, genres, patch = prepare_update(None, genre, metadata, metadata_fields=fields)
    if patch is not None:
        patch.update(dict.fromkeys(removed))
    return genres, patch


def _changed(
    batch: Sequence[str], replies: Sequence[Any], per: int
) -> tuple[list[str], Exception | None]:
    """The ids a batch of :func:`change_commands` changed, and the first error, if any.

    A document that no longer existed when its change ran (deleted or expired
    since the listing) is skipped: its ``EXISTS`` said 0, and its path-level
    writes failed without writing anything.
    """
    done: list[str] = []
    errors: list[Exception] = []
    for n, doc_id in enumerate(batch):
        group = replies[n * per : (n + 1) * per]
        queued = [e for e in group if isinstance(e, Exception)]
        if queued:  # refused as queued (OOM ...), and then EXEC too
            errors += queued
            continue
        existed, *results = group[-1]
        failed = [e for e in results if isinstance(e, Exception)]
        if existed and failed:
            errors += failed
        elif existed:
            done.append(doc_id)
    return done, (errors[0] if errors else None)


def matching_ids(state: StoreState, expression: str) -> Flow[list[str]]:
    """The ids of every document matching ``expression`` (a cursor, ``KEYS_PAGE`` per read)."""
    s = state.settings
    command: tuple[Any, ...] = matching_keys_command(s.name, expression, page=KEYS_PAGE)
    keys: list[str] = []
    while True:
        ((reply, cursor),) = yield Commands([command], "finding matching documents")
        keys += aggregate_keys(reply)
        if not int(cursor):
            return [k.removeprefix(s.key_prefix) for k in dict.fromkeys(keys)]
        command = ("FT.CURSOR", "READ", s.name, cursor, "COUNT", KEYS_PAGE)


def delete(
    state: StoreState,
    ids: Iterable[str] | str | None,
    *,
    where: Filter | None,
    dry_run: bool,
    on_progress: Progress | None,
) -> Flow[int]:
    """``DocumentStore.delete``: by ids, or every document ``where`` matches.

    Raises:
        ValidationError: Both or neither of ``ids`` and ``where``, an invalid id,
            filter or option; nothing was deleted.
    """
    if (ids is None) == (where is None):
        raise ValidationError("delete() takes ids or where=, not both or neither")
    _check_options(dry_run, on_progress)
    if where is not None:
        return (yield from delete_where(state, where, dry_run=dry_run, on_progress=on_progress))
    assert ids is not None
    if on_progress is not None:
        raise ValidationError("on_progress applies to delete(where=...) only")
    if not dry_run:
        return (yield from writes.delete_ids(state, ids))
    if isinstance(ids, str):
        ids = [ids]
    distinct = list(dict.fromkeys(validate_id(i) for i in ids))
    if not distinct:
        return 0
    yield from ensure(state)
    (existing,) = yield Commands(
        [("EXISTS", *map(state.settings.key, distinct))], "counting documents"
    )
    return int(existing)


def delete_where(
    state: StoreState,
    where: Filter,
    *,
    dry_run: bool = False,
    on_progress: Progress | None = None,
) -> Flow[int]:
    """Delete every document matching ``where``, in rounds of ``DELETE_BATCH``; how many.

    With ``dry_run``, only count them (one round trip). With ``on_progress``,
    count them first (one more round trip) and report after each round.

    Raises:
        InvalidFilterError: An invalid filter; nothing was deleted.
    """
    if where is None or not isinstance(where, Filter):
        raise InvalidFilterError(
            f"where must be a Filter (from Tag, Num or Text), not {type(where).__name__}"
        )
    expression = filter_expression(state, Selection(where=where))
    yield from ensure(state)
    total = 0
    if dry_run or on_progress is not None:
        (reply,) = yield Commands(
            [count_command(state.settings.name, expression)], "counting documents"
        )
        total = total_results(reply)
        if dry_run:
            return total
    deleted = 0
    while True:
        s = state.settings
        (reply,) = yield Commands(
            [search_ids_command(s.name, expression, limit=DELETE_BATCH)],
            "finding documents to delete",
        )
        keys = result_keys(reply)
        if not keys:
            return deleted
        gone, guard = yield Commands(
            [("UNLINK", *keys), writes.guard_command(state)], "deleting documents"
        )
        writes.check_guard(s, guard, [k.removeprefix(s.key_prefix) for k in keys])
        deleted += int(gone)
        if on_progress is not None:
            on_progress(deleted, max(total, deleted))
