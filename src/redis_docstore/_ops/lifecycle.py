"""The index's lifecycle: open (create or check) it, wait for it, drop it.

Opening reads the store's meta hash (:mod:`redis_docstore._ops.meta`), the
index's definition and the server's eviction policy in one round trip, adopts
what the meta hash records (a re-embedded generation, an older id scheme), and
creates the index or checks it against the store's settings. Every other
operation starts with :func:`ensure`, so the index is opened on first use.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from typing import Any

from redis_docstore._commands.replies import (
    decode,
    existing_shape,
    indexing_complete,
    indexing_progress,
)
from redis_docstore._connection import is_missing_index, translate
from redis_docstore._effects import Commands, CreateIndex, Flow, ScanDelete, Sleep
from redis_docstore._errors import (
    IndexNotReadyError,
    SchemaMismatchError,
    StoreError,
    UnsafeEvictionError,
    ValidationError,
)
from redis_docstore._ops.meta import embedder_name, meta_fields, meta_key
from redis_docstore._ops.state import StoreState
from redis_docstore._schema import ID_SCHEMES, expected_shape, schema_differences

__all__ = [
    "UNSAFE_EVICTION",
    "VOLATILE_EVICTION",
    "check_eviction",
    "create",
    "drop",
    "ensure",
    "wait_indexed",
    "warn_ttl_eviction",
]

logger = logging.getLogger("redis_docstore")

# Policies that may evict keys without a TTL, i.e. documents.
UNSAFE_EVICTION = frozenset({"allkeys-lru", "allkeys-lfu", "allkeys-random"})
# Policies that may evict keys with a TTL: documents given one, before they expire.
VOLATILE_EVICTION = frozenset({"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"})


def create(state: StoreState, overwrite: bool | None = None) -> Flow[None]:
    """Create the index if it does not exist; check it (and adopt its meta data) if it does.

    Args:
        state: The store's state; its settings follow the meta hash.
        overwrite: Replace an index of another schema; the store's option by default.

    Raises:
        SchemaMismatchError: The index differs and ``overwrite`` is off.
        UnsafeEvictionError: The server may evict documents.
        IndexNotReadyError: Still indexing after ``index_timeout``.
    """
    overwrite = state.overwrite if overwrite is None else overwrite
    s = state.settings
    meta_reply, info, policy = yield Commands(
        [
            ("HGETALL", meta_key(state.base_prefix)),
            ("FT.INFO", s.name),
            ("CONFIG", "GET", "maxmemory-policy"),
        ],
        f"opening index {s.name!r}",
        allow_errors=True,
    )
    check_eviction(state, policy)
    if isinstance(meta_reply, Exception):
        raise translate(meta_reply, f"reading the meta data of {s.name!r}")
    meta = {decode(k): decode(v) for k, v in (meta_reply or {}).items()}
    if meta.get("prefix") and meta["prefix"] != s.prefix:
        state.settings = s = replace(s, prefix=meta["prefix"], generation=True)
    # A store keeps the id scheme it was created with; one that records
    # none predates "content+genres" and hashed the content alone.
    scheme = meta.get("id_scheme") or ("content" if meta else s.id_scheme)
    if scheme not in ID_SCHEMES:
        raise SchemaMismatchError(s.name, [f"unknown id scheme {scheme!r} in its meta hash"])
    if scheme != s.id_scheme:
        state.settings = s = replace(s, id_scheme=scheme)
    epoch = int(meta.get("generation", 1))
    if epoch != s.epoch:
        state.embedders[epoch] = state.embedder
        state.settings = s = replace(s, epoch=epoch)
    if isinstance(info, Exception):
        if not is_missing_index(info):
            raise translate(info, f"reading index {s.name!r}")
        info = None
    differences = []
    if meta.get("embedder") and meta["embedder"] != embedder_name(state.embedder):
        differences.append(
            f"embedder: expected {embedder_name(state.embedder)!r}, "
            f"found {meta['embedder']!r} (use reembed() to change models)"
        )
    if info is not None:
        differences += schema_differences(expected_shape(s), existing_shape(info))
    if differences and not overwrite:
        raise SchemaMismatchError(s.name, differences)
    if info is None or differences:
        try:
            yield CreateIndex(s, overwrite=info is not None)
        except StoreError as exc:
            if info is not None or "already exists" not in str(exc).lower():
                raise
            # Another client created it between our FT.INFO and FT.CREATE:
            # check that one as if it had been there all along.
            yield from create(state, overwrite)
            return
    if not meta or differences:
        yield Commands(
            [("HSET", meta_key(state.base_prefix), *meta_fields(state.embedder, s, generation=1))],
            "recording the index's embedder",
        )
    yield from wait_indexed(state, s.name)
    state.ready = True


def check_eviction(state: StoreState, reply: Any) -> None:
    """Refuse (or, with ``allow_eviction``, warn about) a policy that evicts documents.

    Args:
        state: The store's state.
        reply: The reply of ``CONFIG GET maxmemory-policy``, or its error.

    Raises:
        UnsafeEvictionError: An ``allkeys-*`` policy without ``allow_eviction``.
    """
    if isinstance(reply, Exception):
        return  # CONFIG is often denied to application users: nothing to check
    policy = decode(next(iter(reply.values()), "")) if isinstance(reply, dict) else ""
    state.eviction_policy = policy
    if policy not in UNSAFE_EVICTION:
        return
    message = (
        f"the server's maxmemory-policy is {policy!r}: when memory runs out Redis "
        "deletes documents silently. Use 'noeviction' (writes then fail loudly) "
        "or a volatile-* policy"
    )
    if not state.allow_eviction:
        raise UnsafeEvictionError(message + ", or pass allow_eviction=True.")
    warnings.warn(message, RuntimeWarning, stacklevel=4)
    logger.warning(message)


def warn_ttl_eviction(state: StoreState) -> None:
    """Warn (once per store) that a ``volatile-*`` policy may evict documents given a TTL.

    Such a policy evicts only keys with a TTL: documents without one are safe
    (the store opens without a word), but a document given a TTL may be
    evicted before it expires when memory runs out. Called when a TTL is set,
    after the index was opened (which read the policy).
    """
    policy = state.eviction_policy
    if policy not in VOLATILE_EVICTION or state.ttl_eviction_warned:
        return
    state.ttl_eviction_warned = True
    message = (
        f"the server's maxmemory-policy is {policy!r}: when memory runs out, Redis may "
        "delete documents that have a TTL before they expire (documents without one "
        "are never evicted); use 'noeviction' to have writes fail instead"
    )
    warnings.warn(message, RuntimeWarning, stacklevel=4)
    logger.warning(message)


def wait_indexed(state: StoreState, index: str) -> Flow[None]:
    """Wait until ``index`` has indexed the keys that existed when it was made.

    A new index over existing keys (or one rebuilt after a restart) fills in
    the background; until it is done, searches would return partial results
    as if they were complete.

    Raises:
        IndexNotReadyError: Still indexing after the store's ``index_timeout``.
    """
    waited = 0.0
    while True:
        (info,) = yield Commands([("FT.INFO", index)], f"reading index {index!r}")
        if indexing_complete(info):
            return
        if waited > state.index_timeout:
            raise IndexNotReadyError(
                f"index {index!r} is still indexing existing documents after "
                f"{state.index_timeout:g} s ({indexing_progress(info):.0%} done)"
            )
        yield Sleep(0.05)
        waited += 0.05


def ensure(state: StoreState) -> Flow[None]:
    """Open the index unless this store already has (the first step of every operation)."""
    if not state.ready:
        yield from create(state)


def drop(state: StoreState, *, delete_documents: bool) -> Flow[None]:
    """Drop the index (and its alias), and with ``delete_documents`` every key of the store.

    Raises:
        ValidationError: ``delete_documents`` is not a bool.
    """
    if not isinstance(delete_documents, bool):
        raise ValidationError("drop() needs delete_documents=True or False, explicitly")
    s = state.settings
    (info,) = yield Commands([("FT.INFO", s.name)], "dropping the index", allow_errors=True)
    if isinstance(info, Exception):
        if not is_missing_index(info):
            raise translate(info, f"dropping index {s.name!r}")
    else:
        physical = decode(info.get("index_name", s.name))
        commands: list[tuple[Any, ...]] = [("FT.DROPINDEX", physical)]
        if physical != s.name:
            commands.insert(0, ("FT.ALIASDEL", s.name))
        yield Commands(commands, f"dropping index {s.name!r}", transaction=True)
    if delete_documents:
        yield ScanDelete(s.key_prefix + "*")
        yield Commands([("UNLINK", meta_key(state.base_prefix))], "deleting meta data")
        state.settings = replace(s, prefix=state.base_prefix, generation=False)
    state.ready = False
