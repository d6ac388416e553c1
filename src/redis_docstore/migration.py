"""Model migration: a new generation of keys and index, then an alias switch.

A store records its embedder in a hash, ``<prefix>::meta`` (ids cannot hold
``:``, so it is never a document's key, and a JSON index ignores hashes).
Opening the store with another embedder is a ``SchemaMismatchError``.

``reembed`` copies every document into generation *n* — keys
``<prefix>.v<n>:<id>``, index ``<index>.v<n>`` — embedding each with the new
model, waits for that index to be complete, and then, in one MULTI/EXEC,
points the store's index name at it (an alias from then on), drops the old
index and records the new generation. Searches see the old index or the
complete new one, never a half-built index.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from redis_docstore.connection import is_missing_index, translate
from redis_docstore.documents import prepare_documents
from redis_docstore.effects import Commands, CreateIndex, Embed, Flow, ScanDelete
from redis_docstore.embeddings import Embedder
from redis_docstore.errors import InvalidEmbeddingError, ValidationError
from redis_docstore.query import validate_k
from redis_docstore.schema import IndexSettings

if TYPE_CHECKING:
    from redis_docstore.base import StoreBase

__all__ = [
    "LEASE_MS",
    "MIGRATING",
    "decode",
    "embedder_name",
    "meta_fields",
    "meta_key",
    "reembed_flow",
]

#: The meta hash field set while a migration runs; writers read it (see writes.check_guard).
MIGRATING = "migrating"
#: How long the flag outlives its last renewal (once per copied batch): a migration that
#: dies stops refusing writes after this.
LEASE_MS = 120_000


def meta_key(prefix: str) -> str:
    """The key of a store's meta hash (never a document key: ids have no ``:``)."""
    return f"{prefix}::meta"


def embedder_name(embedder: Embedder) -> str:
    """An embedder's ``name``, or its class name."""
    name = getattr(embedder, "name", None)
    return name if isinstance(name, str) and name else type(embedder).__qualname__


def decode(value: Any) -> Any:
    """``bytes`` to ``str``; anything else unchanged."""
    return value.decode() if isinstance(value, bytes) else value


def meta_fields(embedder: Embedder, settings: IndexSettings, *, generation: int) -> list[Any]:
    """The ``HSET`` field/value list recording a generation."""
    return [
        "embedder", embedder_name(embedder), "dims", settings.dims,
        "prefix", settings.prefix, "generation", generation, "id_scheme", settings.id_scheme,
    ]  # fmt: skip


def reembed_flow(store: StoreBase, embedder: Embedder, *, batch_size: int) -> Flow[int]:
    """Copy every document into a new generation embedded by ``embedder``, then switch.

    See ``DocumentStore.reembed`` for the contract; this is its flow.
    """
    validate_k(batch_size, "batch_size")
    if not isinstance(embedder, Embedder):
        raise ValidationError("embedder must have dims and embed_many()")
    yield from store._ensure_flow()
    old = store.settings
    (meta_reply,) = yield Commands(
        [("HGETALL", meta_key(store._base_prefix))], "reading meta data"
    )
    meta = {decode(k): decode(v) for k, v in (meta_reply or {}).items()}
    (info,) = yield Commands([("FT.INFO", old.name)], f"reading index {old.name!r}")
    old_physical = decode(info.get("index_name", old.name))
    generation = int(meta.get("generation", 1)) + 1
    new = replace(
        old,
        prefix=f"{store._base_prefix}.v{generation}",
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
    meta_hash = meta_key(store._base_prefix)
    lease = ("HPEXPIRE", meta_hash, LEASE_MS, "FIELDS", 1, MIGRATING)
    yield Commands([("HSET", meta_hash, MIGRATING, generation), lease], "announcing the migration")
    try:
        copied = yield from _copy_flow(store, embedder, new, batch_size=batch_size, lease=lease)
        yield Commands([lease], "renewing the migration's lease")
        yield from store._wait_indexed_flow(new_physical)
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
    store._embedders[generation] = embedder
    store.settings = new
    store.embedder = embedder
    yield ScanDelete(old.key_prefix + "*", keep=frozenset({meta_hash}))
    return copied


def _copy_flow(
    store: StoreBase,
    embedder: Embedder,
    new: IndexSettings,
    *,
    batch_size: int,
    lease: tuple[Any, ...],
) -> Flow[int]:
    """Every document of the store, embedded by ``embedder``, written under ``new``."""
    copied = 0
    cursor: int | None = None
    while cursor != 0:
        docs, cursor = yield from store._cursor_flow("*", batch_size=batch_size, cursor=cursor)
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
        yield Commands(
            [
                (
                    "JSON.SET",
                    new.key(r.id),
                    "$",
                    r.to_json(r.embedding if r.embedding is not None else []),
                )
                for r in records
            ]
            + [lease],
            "writing re-embedded documents",
            transaction=True,
        )
        copied += len(records)
    return copied
