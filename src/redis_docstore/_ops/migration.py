"""Model migration: a new generation of keys and index, then an alias switch.

The store records its embedder in its meta hash (:mod:`redis_docstore._ops.meta`);
opening it with another embedder is a ``SchemaMismatchError``.

``reembed`` copies every document into generation *n* — keys
``<prefix>.v<n>:<id>``, index ``<index>.v<n>`` — embedding each with the new
model, waits for that index to be complete, and then, in one MULTI/EXEC,
points the store's index name at it (an alias from then on), drops the old
index and records the new generation. Searches see the old index or the
complete new one, never a half-built index. A document that expires keeps its
expiry time: its copy expires at the same instant.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from redis_docstore._commands.replies import decode
from redis_docstore._commands.search import validate_k
from redis_docstore._connection import is_missing_index, translate
from redis_docstore._documents import prepare_documents
from redis_docstore._effects import Commands, CreateIndex, Embed, Flow, ScanDelete
from redis_docstore._embeddings import Embedder
from redis_docstore._errors import InvalidEmbeddingError, ValidationError
from redis_docstore._ops.lifecycle import ensure, wait_indexed
from redis_docstore._ops.meta import LEASE_MS, MIGRATING, meta_fields, meta_key
from redis_docstore._ops.reads import cursor_page
from redis_docstore._ops.state import StoreState
from redis_docstore._schema import IndexSettings

__all__ = ["reembed"]


def reembed(state: StoreState, embedder: Embedder, *, batch_size: int) -> Flow[int]:
    """Copy every document into a new generation embedded by ``embedder``, then switch.

    See ``DocumentStore.reembed`` for the contract; this is its flow.
    """
    validate_k(batch_size, "batch_size")
    if not isinstance(embedder, Embedder):
        raise ValidationError("embedder must have dims and embed_many()")
    yield from ensure(state)
    old = state.settings
    (meta_reply,) = yield Commands([("HGETALL", meta_key(state.base_prefix))], "reading meta data")
    meta = {decode(k): decode(v) for k, v in (meta_reply or {}).items()}
    (info,) = yield Commands([("FT.INFO", old.name)], f"reading index {old.name!r}")
    old_physical = decode(info.get("index_name", old.name))
    generation = int(meta.get("generation", 1)) + 1
    new = replace(
        old,
        prefix=f"{state.base_prefix}.v{generation}",
        generation=True,
        dims=embedder.dims,
        epoch=generation,
    )
    new_physical = f"{old.name}.v{generation}"
    # A run interrupted before its switch left a half-built generation.
    (leftover,) = yield Commands(
        [("FT.DROPINDEX", new_physical, "DD")], "clearing a leftover", allow_errors=True
    )
    if isinstance(leftover, Exception) and not is_missing_index(leftover):
        raise translate(leftover, "clearing a leftover re-embedding")
    yield ScanDelete(new.key_prefix + "*")
    yield CreateIndex(replace(new, name=new_physical), overwrite=False)

    # From here until the switch, every client's writes are refused (their
    # guard, read right after the write, sees the flag: MigrationInProgressError),
    # so each write acknowledged before it ran earlier and is in the copy below.
    # The flag is a leased hash field: a migration that dies stops refusing
    # writes when its lease runs out.
    meta_hash = meta_key(state.base_prefix)
    lease = ("HPEXPIRE", meta_hash, LEASE_MS, "FIELDS", 1, MIGRATING)
    yield Commands([("HSET", meta_hash, MIGRATING, generation), lease], "announcing the migration")
    try:
        copied = yield from _copy(state, embedder, new, batch_size=batch_size, lease=lease)
        yield Commands([lease], "renewing the migration's lease")
        yield from wait_indexed(state, new_physical)
    except Exception:  # a store error thrown in here: writes resume now, not at the lease
        yield Commands([("HDEL", meta_hash, MIGRATING)], "ending the migration")
        raise

    # The switch: one transaction, so a search sees the old index or the
    # complete new one, never a half-built index; writes resume with it.
    switch: list[tuple[Any, ...]] = (
        [("FT.DROPINDEX", old.name), ("FT.ALIASADD", old.name, new_physical)]
        if old_physical == old.name
        else [("FT.ALIASUPDATE", old.name, new_physical), ("FT.DROPINDEX", old_physical)]
    )
    switch.append(("HSET", meta_hash, *meta_fields(embedder, new, generation=generation)))
    switch.append(("HDEL", meta_hash, MIGRATING))
    yield Commands(switch, "switching to the re-embedded index", transaction=True)
    # A write works with the settings it read once (and their generation's model):
    # the old ones (its guard then refuses it) or the new ones, never a mix.
    state.embedders[generation] = embedder
    state.settings = new
    state.embedder = embedder
    yield ScanDelete(old.key_prefix + "*", keep=frozenset({meta_hash}))
    return copied


def _copy(
    state: StoreState,
    embedder: Embedder,
    new: IndexSettings,
    *,
    batch_size: int,
    lease: tuple[Any, ...],
) -> Flow[int]:
    """Every document of the store, embedded by ``embedder``, written under ``new``.

    Each copy gets its original's expiry time (``PEXPIRETIME``, an absolute
    time, read after the model's work: ``PEXPIREAT`` on the copy); a document
    gone by then (deleted, or expired) is not copied.
    """
    old = state.settings
    copied = 0
    cursor: int | None = None
    while cursor != 0:
        docs, cursor = yield from cursor_page(state, "*", batch_size=batch_size, cursor=cursor)
        if not docs:
            continue
        vectors = yield Embed([d.content for d in docs], embedder)
        if len(vectors) != len(docs):
            raise InvalidEmbeddingError("the new embedder returned the wrong number of vectors")
        records = prepare_documents(
            [replace(d, embedding=v) for d, v in zip(docs, vectors, strict=True)],
            dims=new.dims,
            distance=new.distance,
            metadata_fields=dict(new.metadata_fields),
        )
        expiry = yield Commands(
            [("PEXPIRETIME", old.key(r.id)) for r in records], "reading expiry times"
        )
        commands: list[tuple[Any, ...]] = []
        for r, at in zip(records, expiry, strict=True):
            if int(at) == -2:
                continue  # deleted or expired since it was read
            key = new.key(r.id)
            commands.append(
                ("JSON.SET", key, "$", r.to_json(r.embedding if r.embedding is not None else []))
            )
            if int(at) >= 0:
                commands.append(("PEXPIREAT", key, int(at)))
        yield Commands([*commands, lease], "writing re-embedded documents", transaction=True)
        copied += sum(c[0] == "JSON.SET" for c in commands)
    return copied
