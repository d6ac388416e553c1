"""Writing documents: embed and write in overlapping batches, and say what landed.

``load_flow`` is ``add``/``load``: validate (already done by the caller's
``_records``), skip what is stored unchanged, embed batch n+1 while batch n is
written, check that Redis indexed what it stored, and report exactly which
documents were written when something fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from redis_docstore.connection import translate
from redis_docstore.documents import Document, Record
from redis_docstore.effects import Collect, Commands, Flow, Submit
from redis_docstore.errors import (
    DocstoreError,
    IndexingError,
    StoreConnectionError,
    StoreError,
    StoreFullError,
    ValidationError,
    WriteError,
)
from redis_docstore.migration import decode
from redis_docstore.query import indexed_keys_command, result_keys

if TYPE_CHECKING:
    from redis_docstore.base import StoreBase

__all__ = ["LoadReport", "load_flow", "write_error"]

# Documents per pipeline. Measured (store ingest of 30k documents, best of 2,
# docs/s until indexed): 100: 2,417; 250: 2,409; 500: 2,337; 1,000: 2,390;
# 2,000: 2,273. Small batches keep the server busier (one is in flight while
# the next is built); 250 halves the round trips of 100 for the same rate.
WRITE_BATCH = 250


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What :meth:`load` did.

    Attributes:
        ids: Every document's id, in input order.
        written: Ids written (new or changed), in input order.
        unchanged: Ids already stored with the same content, genres and
            metadata: neither embedded nor written again.
    """

    ids: list[str]
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def load_flow(
    store: StoreBase, documents: Iterable[Document] | Document, *, skip_unchanged: bool
) -> Flow[LoadReport]:
    records = store._records(documents)
    if not records:
        return LoadReport(ids=[])
    yield from store._ensure_flow()
    s = store.settings
    # The last of several documents with one id wins, as in a dict.
    todo = list({r.id: r for r in records}.values())
    unchanged: set[str] = set()
    if skip_unchanged:
        stored = yield Commands(
            [("JSON.GET", s.key(r.id), "$.content", "$.genre", "$.metadata") for r in todo],
            "reading stored documents",
        )
        unchanged = {r.id for r, raw in zip(todo, stored, strict=True) if same(r, raw)}
        todo = [r for r in todo if r.id not in unchanged]
    last = {r.id for r in todo}
    if todo:
        failures = yield from indexing_failures_flow(store)
        yield from write_flow(store, todo)
        yield from check_indexed_flow(store, failures, [r.id for r in todo])
    ids = [r.id for r in records]
    return LoadReport(
        ids=ids,
        written=[i for i in dict.fromkeys(ids) if i in last],
        unchanged=[i for i in dict.fromkeys(ids) if i in unchanged],
    )


def write_flow(store: StoreBase, records: Sequence[Record]) -> Flow[None]:
    """Embed and write in batches, the model's work overlapping Redis' work.

    Batch n+1 is embedded while batch n is being written (one pipeline in
    flight, submitted in the background). Not MULTI/EXEC: each JSON.SET
    replaces one whole document atomically, a transaction would block other
    clients for a whole batch of HNSW inserts, and per-command replies tell
    exactly which documents were written if anything fails.
    """
    s = store.settings
    confirmed: list[str] = []
    in_flight: list[tuple[Sequence[Record], Any]] = []
    batches = [records[i : i + WRITE_BATCH] for i in range(0, len(records), WRITE_BATCH)]
    if batches and any(r.embedding is None for r in batches[-1]):
        # The last batch's write overlaps no embedding: in pieces of a quarter
        # batch, only the last piece is left to write once the model is done.
        last, quarter = batches.pop(), WRITE_BATCH // 4
        batches += [last[i : i + quarter] for i in range(0, len(last), quarter)]
    try:
        for batch in batches:
            missing = [r.content for r in batch if r.embedding is None]
            computed = iter((yield from store._embed_flow(missing)))
            commands = [
                (
                    "JSON.SET",
                    s.key(r.id),
                    "$",
                    r.to_json(r.embedding if r.embedding is not None else next(computed)),
                )
                for r in batch
            ]
            ticket = yield Submit(Commands(commands, "writing documents", allow_errors=True))
            in_flight.append((batch, ticket))
            if len(in_flight) > 1:
                confirmed += yield from collect_flow(*in_flight.pop(0))
        while in_flight:
            confirmed += yield from collect_flow(*in_flight.pop(0))
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
            written += [
                r.id for r, e in zip(batch, replies, strict=True) if not isinstance(e, Exception)
            ]
        done = set(written)
        rest = [r.id for r in records if r.id not in done]
        raise write_error(exc, written, rest) from exc


def collect_flow(batch: Sequence[Record], ticket: Any) -> Flow[list[str]]:
    """Wait for one submitted batch; the ids it wrote, or a WriteError."""
    replies = yield Collect(ticket)
    ok = [r.id for r, e in zip(batch, replies, strict=True) if not isinstance(e, Exception)]
    failed = [e for e in replies if isinstance(e, Exception)]
    if failed:
        error = translate(failed[0], "writing documents")
        raise write_error(error, ok, [r.id for r in batch if r.id not in ok])
    return ok


def indexing_failures_flow(store: StoreBase) -> Flow[int]:
    (info,) = yield Commands([("FT.INFO", store.settings.name)], "reading index statistics")
    return int(info.get("hash_indexing_failures", 0))


def check_indexed_flow(store: StoreBase, failures_before: int, ids: Sequence[str]) -> Flow[None]:
    """Raise IndexingError if Redis stored some of ``ids`` but could not index them."""
    s = store.settings
    (info,) = yield Commands([("FT.INFO", s.name)], "reading index statistics")
    if int(info.get("hash_indexing_failures", 0)) <= failures_before:
        return
    keys = list(dict.fromkeys(s.key(i) for i in ids))
    indexed: set[str] = set()
    for start in range(0, len(keys), WRITE_BATCH):
        chunk = keys[start : start + WRITE_BATCH]
        (reply,) = yield Commands(
            [indexed_keys_command(s.name, chunk)], "checking that documents were indexed"
        )
        indexed.update(result_keys(reply))
    missing = [k.removeprefix(s.key_prefix) for k in keys if k not in indexed]
    if missing:
        reason = decode(info.get("Index Errors", {}).get("last indexing error", "unknown"))
        raise IndexingError(
            f"{len(missing)} document(s) were stored but Redis could not index them "
            f"(last error: {reason}); they are invisible to searches: "
            + ", ".join(map(repr, missing[:10]))
            + (" ..." if len(missing) > 10 else ""),
            ids=missing,
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
