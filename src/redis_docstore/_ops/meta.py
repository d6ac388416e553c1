"""The store's meta hash: which model, prefix, generation and id scheme it has.

A store records its embedder in a hash, ``<prefix>::meta`` (ids cannot hold
``:``, so it is never a document's key, and a JSON index ignores hashes).
Opening the store with another embedder is a ``SchemaMismatchError``; writers
read the hash right after their writes (see :func:`~._ops.writes.check_guard`).
"""

from __future__ import annotations

from typing import Any

from redis_docstore._embeddings import Embedder
from redis_docstore._schema import IndexSettings

__all__ = ["LEASE_MS", "MIGRATING", "embedder_name", "meta_fields", "meta_key"]

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


def meta_fields(embedder: Embedder, settings: IndexSettings, *, generation: int) -> list[Any]:
    """The ``HSET`` field/value list recording a generation."""
    return [
        "embedder", embedder_name(embedder), "dims", settings.dims,
        "prefix", settings.prefix, "generation", generation, "id_scheme", settings.id_scheme,
    ]  # fmt: skip
