"""Writing documents: add/load, update and delete by id, and saying exactly what landed.

:func:`load` is ``add``/``load``: validate (:func:`records`), skip what is
stored unchanged, embed batch n+1 while batch n is written, give every
document written the expiry asked for (a TTL, or none), check that Redis
indexed what it stored, and report exactly which documents were written when
something fails. :func:`update` changes fields in one transaction;
:func:`delete_ids` deletes. Every write is followed, in its pipeline, by the
guard (:func:`guard_command`, :func:`check_guard`) that refuses to acknowledge
what a running ``reembed`` may not carry over. Changes by filter are in
:mod:`.bulk`, expiry of stored documents in :mod:`.expiry`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from redis_docstore._commands.replies import decode, result_keys
from redis_docstore._commands.search import indexed_keys_command
from redis_docstore._commands.writes import expiry_command, ttl_milliseconds
from redis_docstore._connection import translate
from redis_docstore._documents import (
    Document,
    LoadReport,
    Record,
    parse_document,
    prepare_documents,
    prepare_update,
    validate_id,
    vector_json,
)
from redis_docstore._effects import Collect, Commands, Flow, Submit
from redis_docstore._embeddings import VectorLike
from redis_docstore._errors import (
    DocstoreError,
    DocumentNotFoundError,
    IndexingError,
    MigrationInProgressError,
    StoreConnectionError,
    StoreError,
    StoreFullError,
    StoreReembeddedError,
    ValidationError,
    WriteError,
)
from redis_docstore._ops.embedding import embed
from redis_docstore._ops.lifecycle import ensure, warn_ttl_eviction
from redis_docstore._ops.meta import MIGRATING, meta_key
from redis_docstore._ops.state import StoreState
from redis_docstore._schema import IndexSettings

__all__ = [
    "WRITE_BATCH",
    "check_guard",
    "delete_ids",
    "document_errors",
    "guard_command",
    "indexing_error",
    "load",
    "records",
    "unindexed",
    "update",
    "write",
    "write_commands",
    "write_error",
    "writes_per_document",
]

# Documents per pipeline. Measured (store ingest of 30k documents, best of 2,
# docs/s until indexed): 100: 2,417; 250: 2,409; 500: 2,337; 1,000: 2,390;
# 2,000: 2,273. Small batches keep the server busier (one is in flight while
# the next is built); 250 halves the round trips of 100 for the same rate.
WRITE_BATCH = 250


def records(
    state: StoreState,
    documents: Iterable[Document] | Document,
    settings: IndexSettings | None = None,
) -> list[Record]:
    """Validate documents for the store's index (all of them, before anything is written).

    Args:
        state: The store's state.
        documents: The documents (or one document).
        settings: The settings (generation) written to; the store's by default.

    Raises:
        ValidationError: An invalid document.
    """
    if isinstance(documents, Document):
        documents = [documents]
    s = state.settings if settings is None else settings
    return prepare_documents(
        documents,
        dims=s.dims,
        distance=s.distance,
        metadata_fields=dict(s.metadata_fields),
        id_scheme=s.id_scheme,
    )


def load(
    state: StoreState,
    documents: Iterable[Document] | Document,
    *,
    skip_unchanged: bool,
    ttl: object = None,
) -> Flow[LoadReport]:
    """Add or replace documents; with ``skip_unchanged``, leave those stored unchanged.

    Every document given ends with the expiry asked for: ``ttl`` (seconds or a
    timedelta) from now, or none at all (``None``), whether it was written or
    found unchanged. See ``DocumentStore.add`` and ``DocumentStore.load`` for
    the contract.
    """
    ttl_ms = None if ttl is None else ttl_milliseconds(ttl)
    documents = [documents] if isinstance(documents, Document) else list(documents)
    checked = state.settings
    prepared = records(state, documents)
    if not prepared:
        return LoadReport(ids=[])
    yield from ensure(state)
    if ttl_ms is not None:
        warn_ttl_eviction(state)
    s = state.settings
    if s is not checked:
        # The index, opened just now, keeps an older id scheme, or a reembed
        # switched generations: check the documents against what is written to.
        prepared = records(state, documents, s)
    # The last of several documents with one id wins, as in a dict.
    todo = list({r.id: r for r in prepared}.values())
    unchanged: set[str] = set()
    if skip_unchanged:
        stored = yield Commands(
            [("JSON.GET", s.key(r.id), "$.content", "$.genre", "$.metadata") for r in todo]
            + [("PTTL", s.key(r.id)) for r in todo],
            "reading stored documents",
        )
        docs, pttls = stored[: len(todo)], stored[len(todo) :]
        kept = [(r, t) for r, raw, t in zip(todo, docs, pttls, strict=True) if same(r, raw)]
        unchanged = {r.id for r, _ in kept}
        todo = [r for r in todo if r.id not in unchanged]
        # Unchanged documents are not written, but get the expiry asked for:
        # the TTL refreshed, or a TTL they had removed.
        fix = [r.id for r, t in kept if ttl_ms is not None or int(t) >= 0]
        if fix:
            *_, guard = yield Commands(
                [*(expiry_command(s.key(i), ttl_ms) for i in fix), guard_command(state)],
                "setting the expiry of unchanged documents",
            )
            check_guard(s, guard, fix)
    last = {r.id for r in todo}
    if todo:
        missed = yield from write(state, todo, s, ttl_ms=ttl_ms)
        if missed:
            raise (yield from indexing_error(state, missed))
    ids = [r.id for r in prepared]
    return LoadReport(
        ids=ids,
        written=[i for i in dict.fromkeys(ids) if i in last],
        unchanged=[i for i in dict.fromkeys(ids) if i in unchanged],
    )


def write(
    state: StoreState,
    records: Sequence[Record],
    settings: IndexSettings | None = None,
    *,
    ttl_ms: int | None = None,
) -> Flow[list[str]]:
    """Embed and write in batches, the model's work overlapping Redis' work.

    Batch n+1 is embedded while batch n is being written (one pipeline in
    flight, submitted in the background); a batch with nothing left to
    overlap (the only or the last one) is sent directly. Not MULTI/EXEC: each
    JSON.SET replaces one whole document atomically, a transaction would
    block other clients for a whole batch of HNSW inserts, and per-command
    replies tell exactly which documents were written if anything fails.

    Each pipeline ends with a search for its own keys (``INKEYS``), which
    Redis runs right after the writes: it costs the server a lookup per key,
    whatever the size of the index. Each document's expiry follows its write
    (:func:`write_commands`).

    Args:
        state: The store's state.
        records: Validated documents.
        settings: The settings (generation) written to; the store's by default.
        ttl_ms: Every document's time to live in ms; ``None``: no expiry.

    Returns:
        The ids written that Redis did not index (normally none: validation
        refuses what it could not index).
    """
    s = state.settings if settings is None else settings
    confirmed: list[str] = []
    missed: list[str] = []
    in_flight: list[tuple[Sequence[Record], Any]] = []
    # The last batch's replies, once received and until confirmed.
    received: tuple[Sequence[Record], Any] | None = None
    batches = [records[i : i + WRITE_BATCH] for i in range(0, len(records), WRITE_BATCH)]
    if batches and any(r.embedding is None for r in batches[-1]):
        # The last batch's write overlaps no embedding: in pieces of a quarter
        # batch, only the last piece is left to write once the model is done.
        last, quarter = batches.pop(), WRITE_BATCH // 4
        batches += [last[i : i + quarter] for i in range(0, len(last), quarter)]
    try:
        for n, batch in enumerate(batches, 1):
            missing = [r.content for r in batch if r.embedding is None]
            computed = iter((yield from embed(state, missing, s)))
            vectors = [r.embedding if r.embedding is not None else next(computed) for r in batch]
            # RESP2: nothing here can be partial, and its replies cost less to
            # make and read (~30 us of a single-document add).
            effect = Commands(
                write_commands(s, batch, vectors, guard_command(state), ttl_ms=ttl_ms),
                "writing documents",
                allow_errors=True,
                protocol=2,
            )
            if n < len(batches):
                in_flight.append((batch, (yield Submit(effect))))
                if len(in_flight) > 1:
                    ok, bad = yield from collect(state, s, *in_flight.pop(0), ttl_ms=ttl_ms)
                    confirmed += ok
                    missed += bad
            else:
                replies = yield effect
                received = (batch, replies)
                while in_flight:
                    ok, bad = yield from collect(state, s, *in_flight.pop(0), ttl_ms=ttl_ms)
                    confirmed += ok
                    missed += bad
                ok, bad = yield from confirm(state, s, batch, replies, ttl_ms=ttl_ms)
                received = None
                confirmed += ok
                missed += bad
    except (StoreError, ValidationError) as exc:
        written = confirmed + list(getattr(exc, "confirmed", ()))
        if isinstance(exc, ValidationError) and not (written or in_flight):
            raise  # e.g. the embedder failed on the first batch: nothing written
        # A batch still in flight ran on the server all the same, and memory
        # freed meanwhile can let some of its writes through: its replies say
        # which landed. Without replies (the connection failed) it is unconfirmed.
        for batch, ticket in in_flight:
            try:
                replies = yield Collect(ticket)
            except StoreError:
                continue
            written += landed(batch, replies, ttl_ms)
        if received is not None:  # the last batch, received before an earlier one failed
            batch, replies = received
            try:  # its writes count only if its own guard acknowledged them
                check_guard(s, replies[-1], [])
                written += landed(batch, replies, ttl_ms)
            except DocstoreError:
                pass
        written = list(dict.fromkeys(written))  # a batch may report its writes twice
        done = set(written)
        rest = [r.id for r in records if r.id not in done]
        raise write_error(exc, written, rest) from exc
    return missed


def update(
    state: StoreState,
    doc_id: str,
    *,
    content: str | None,
    genre: str | Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
) -> Flow[Document]:
    """Change the given fields only, in one MULTI/EXEC of path-level writes.

    Two clients updating different fields of one document never erase
    each other's change; new content is embedded again, the same content
    is not (its stored value is read first). See ``DocumentStore.update``.
    """
    validate_id(doc_id)
    new_content, genres, new_metadata = prepare_update(
        content, genre, metadata, metadata_fields=dict(state.settings.metadata_fields)
    )
    yield from ensure(state)  # first: a re-embedded store's keys are its generation's
    s = state.settings
    key = s.key(doc_id)
    changes: list[tuple[Any, ...]] = []
    if new_content is not None:
        stored, guard = yield Commands(
            [("JSON.GET", key, "$.content"), guard_command(state)],
            f"reading document {doc_id!r}",
        )
        if stored is None:
            check_guard(s, guard, [doc_id])  # not found in a generation left behind?
            raise DocumentNotFoundError(doc_id)
        if orjson.loads(stored) != [new_content]:
            (vector,) = yield from embed(state, [new_content], s)
            changes.append(("JSON.SET", key, "$.content", orjson.dumps(new_content)))
            changes.append(("JSON.SET", key, "$.embedding", vector_json(vector)))
    if genres is not None:
        changes.append(("JSON.SET", key, "$.genre", orjson.dumps(list(genres))))
    if new_metadata is not None:
        changes.append(("JSON.SET", key, "$.metadata", orjson.dumps(new_metadata)))
    # A path write to a missing key is an error reply, never a new document;
    # the transaction then reads the document back and checks it is indexed.
    *replies, raw, check, guard = yield Commands(
        [*changes, ("JSON.GET", key), indexed_keys_command(s.name, [key]), guard_command(state)],
        f"updating {doc_id!r}",
        transaction=True,
        allow_errors=True,
    )
    check_guard(s, guard, [doc_id])
    if raw is None:
        raise DocumentNotFoundError(doc_id)
    for reply in (*replies, raw, check):
        if isinstance(reply, Exception):
            raise translate(reply, f"updating {doc_id!r}")
    if key not in result_keys(check) and (yield from unindexed(state, [doc_id])):
        raise (yield from indexing_error(state, [doc_id]))
    document = parse_document(doc_id, raw)
    return replace(document, genre=list(document.genres))  # always a list, as given back


def delete_ids(state: StoreState, ids: Iterable[str] | str) -> Flow[int]:
    """Delete documents by id; how many existed.

    Raises:
        InvalidDocumentError: An invalid id; nothing was deleted.
    """
    if isinstance(ids, str):
        ids = [ids]
    ids = [validate_id(i) for i in ids]
    if not ids:
        return 0
    yield from ensure(state)  # a re-embedded store's keys are under its generation
    s = state.settings
    deleted, guard = yield Commands(
        [("UNLINK", *map(s.key, ids)), guard_command(state)], "deleting documents"
    )
    check_guard(s, guard, ids)
    return int(deleted)


def write_commands(
    settings: IndexSettings,
    batch: Sequence[Record],
    vectors: Sequence[VectorLike],
    guard: tuple[Any, ...],
    *,
    ttl_ms: int | None = None,
) -> list[tuple[Any, ...]]:
    """A batch's writes, the search that checks they were indexed, the guard.

    Each document is written by :func:`writes_per_document` commands:
    ``JSON.SET`` then ``PERSIST`` without a TTL (``JSON.SET`` on the root keeps
    an old TTL, and an added document replaces the stored one, expiry
    included); with a TTL, ``JSON.SET`` and ``PEXPIRE`` in a MULTI/EXEC of
    their own, so that no document is ever stored without the TTL it was
    given (a client dying half-way through sending a pipeline leaves a
    transaction unexecuted, not half done). A transaction per document, not
    per batch: it holds the server for one document's write only.
    """
    keys = [settings.key(r.id) for r in batch]
    commands: list[tuple[Any, ...]] = []
    for key, r, v in zip(keys, batch, vectors, strict=True):
        write = ("JSON.SET", key, "$", r.to_json(v))
        if ttl_ms is None:
            commands += [write, expiry_command(key, None)]
        else:
            commands += [("MULTI",), write, expiry_command(key, ttl_ms), ("EXEC",)]
    commands.append(indexed_keys_command(settings.name, keys))
    commands.append(guard)
    return commands


def writes_per_document(ttl_ms: int | None) -> int:
    """How many commands :func:`write_commands` sends per document."""
    return 2 if ttl_ms is None else 4


def document_errors(
    replies: Sequence[Any], count: int, ttl_ms: int | None
) -> list[Exception | None]:
    """Each document's error (``None``: written) from the replies of :func:`write_commands`.

    ``replies`` start with the ``count`` documents' replies; an error may be a
    command's own reply (``OOM`` refuses ``JSON.SET`` as it is queued, and
    then ``EXEC``), or one in the reply of ``EXEC``.
    """
    per = writes_per_document(ttl_ms)
    errors: list[Exception | None] = []
    for i in range(count):
        group = replies[i * per : (i + 1) * per]
        found = [e for e in group if isinstance(e, Exception)]
        if not found and isinstance(group[-1], list):  # EXEC
            found = [e for e in group[-1] if isinstance(e, Exception)]
        errors.append(found[0] if found else None)
    return errors


def landed(batch: Sequence[Record], replies: Sequence[Any], ttl_ms: int | None) -> list[str]:
    """The ids of ``batch`` its replies say were written (whatever else failed)."""
    errors = document_errors(replies, len(batch), ttl_ms)
    return [r.id for r, e in zip(batch, errors, strict=True) if e is None]


def collect(
    state: StoreState,
    settings: IndexSettings,
    batch: Sequence[Record],
    ticket: Any,
    *,
    ttl_ms: int | None = None,
) -> Flow[tuple[list[str], list[str]]]:
    """Wait for one submitted batch: :func:`confirm` of its replies."""
    replies = yield Collect(ticket)
    return (yield from confirm(state, settings, batch, replies, ttl_ms=ttl_ms))


def confirm(
    state: StoreState,
    settings: IndexSettings,
    batch: Sequence[Record],
    replies: Sequence[Any],
    *,
    ttl_ms: int | None = None,
) -> Flow[tuple[list[str], list[str]]]:
    """The ids a batch wrote and those of them Redis did not index; or a WriteError.

    ``replies`` are those of :func:`write_commands` for ``settings`` (the generation
    written to): the documents' (:func:`document_errors`), then the ``INKEYS``
    search, then the guard (:func:`check_guard`).
    """
    *_, check, guard = replies
    errors = document_errors(replies, len(batch), ttl_ms)
    ok = landed(batch, replies, ttl_ms)
    failed = [e for e in errors if e is not None]
    if failed:
        error = translate(failed[0], "writing documents")
        raise write_error(error, ok, [r.id for r in batch if r.id not in ok])
    check_guard(settings, guard, [r.id for r in batch])
    if isinstance(check, Exception):
        raise translate(check, "checking that documents were indexed")
    indexed = set(result_keys(check))
    suspects = [i for i in ok if settings.key(i) not in indexed]
    missed = (yield from unindexed(state, suspects)) if suspects else []
    return ok, missed


def unindexed(state: StoreState, ids: Sequence[str]) -> Flow[list[str]]:
    """Which of ``ids`` exist but are not in the index, asked in one transaction.

    Only when a batch's own check missed some of its keys: another client may
    have deleted a document between its write and the check (that is no
    indexing failure); the transaction sees keys and index at one instant.
    """
    s = state.settings
    keys = [s.key(i) for i in ids]
    # JSON.GET of a small path answers None for a missing key (and needs no
    # ACL rule beyond what the store has).
    *exists, reply = yield Commands(
        [*(("JSON.GET", key, "$.genre") for key in keys), indexed_keys_command(s.name, keys)],
        "checking that documents were indexed",
        transaction=True,
    )
    indexed = set(result_keys(reply))
    return [
        i
        for i, key, raw in zip(ids, keys, exists, strict=True)
        if raw is not None and key not in indexed
    ]


def indexing_error(state: StoreState, ids: Sequence[str]) -> Flow[IndexingError]:
    """The IndexingError for documents stored but not indexed, with Redis' reason."""
    s = state.settings
    (info,) = yield Commands([("FT.INFO", s.name)], "reading index statistics")
    reason = decode(info.get("Index Errors", {}).get("last indexing error", "unknown"))
    return IndexingError(
        f"{len(ids)} document(s) were stored but Redis could not index them "
        f"(last error: {reason}); they are invisible to searches: "
        + ", ".join(map(repr, ids[:10]))
        + (" ..." if len(ids) > 10 else ""),
        ids=list(ids),
    )


def guard_command(state: StoreState) -> tuple[Any, ...]:
    """Read after a write, in the same pipeline: the generation, and whether a migration runs."""
    return ("HMGET", meta_key(state.base_prefix), "generation", MIGRATING)


def check_guard(settings: IndexSettings, reply: Any, ids: Sequence[str]) -> None:
    """Refuse to acknowledge writes that a migration may not carry over.

    ``reply`` is :func:`guard_command`'s, read by Redis right after the writes;
    ``settings`` are those the writes were made with (their generation).
    A write whose guard saw no migration ran before ``reembed`` set its flag,
    so its copy includes it; one that saw the flag, or a newer generation
    (another client switched), is not acknowledged.

    Raises:
        MigrationInProgressError: ``reembed`` was running.
        StoreReembeddedError: The store moved to another generation.
    """
    if isinstance(reply, Exception):
        raise translate(reply, "reading the store's meta data")
    generation, migrating = (decode(v) for v in reply)
    sample = ", ".join(map(repr, ids[:5])) + (" ..." if len(ids) > 5 else "")
    if generation is not None and int(generation) != settings.epoch:
        raise StoreReembeddedError(
            f"the store was re-embedded (generation {generation}; these writes went to "
            f"generation {settings.epoch}): reopen it with the new embedder; "
            f"not acknowledged: {sample}",
            confirmed=[],
            unconfirmed=list(ids),
        )
    if migrating is not None:
        raise MigrationInProgressError(
            f"reembed() is running (to generation {migrating}): writes are refused until "
            f"it ends; not acknowledged: {sample}",
            confirmed=[],
            unconfirmed=list(ids),
        )


def write_error(exc: DocstoreError, confirmed: list[str], rest: list[str]) -> WriteError:
    sample = ", ".join(map(repr, rest[:5])) + (" ..." if len(rest) > 5 else "")
    message = str(exc)
    if "OOM" in message or "maxmemory" in message:
        return StoreFullError(
            f"Redis is out of memory (maxmemory, noeviction): {len(confirmed)} document(s) "
            f"written, {len(rest)} not written ({sample}). Reads still work.",
            confirmed=confirmed,
            unconfirmed=rest,
        )
    if isinstance(exc, StoreConnectionError):
        return WriteError(
            f"the connection failed while writing (retries exhausted): {len(confirmed)} "
            f"document(s) confirmed, {len(rest)} not confirmed ({sample}); adding them "
            f"again is safe. Cause: {exc}",
            confirmed=confirmed,
            unconfirmed=rest,
        )
    if isinstance(exc, WriteError):
        return type(exc)(str(exc), confirmed=confirmed, unconfirmed=rest)
    return WriteError(
        f"writing failed: {len(confirmed)} document(s) confirmed, {len(rest)} not "
        f"({sample}). Cause: {exc}",
        confirmed=confirmed,
        unconfirmed=rest,
    )


def same(record: Record, raw: Any) -> bool:
    """Whether a stored document (multi-path JSON.GET reply) equals ``record``."""
    if raw is None:
        return False
    stored = orjson.loads(raw)
    try:
        (content,) = stored["$.content"]
        (genres,) = stored["$.genre"]
        (metadata,) = stored["$.metadata"]
    except (KeyError, ValueError):
        return False
    same = content == record.content and tuple(genres) == record.genres
    return same and json_equal(metadata, record.metadata)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality, floats within a few units in the last place.

    RedisJSON 2.8 parses some 17-digit doubles to a neighbouring value, so a
    float may come back one ulp off what was written.
    """
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and not isinstance(a, bool)
            and not isinstance(b, bool)
            and math.isclose(a, b, rel_tol=1e-15, abs_tol=0.0)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)
