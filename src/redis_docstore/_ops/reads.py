"""Reading: documents by id, counts, pages and cursors, and index statistics.

The read operations of both stores, written once as flows (see
:mod:`redis_docstore._effects`), as :mod:`redis_docstore._ops.writes` holds the
writes (and :mod:`redis_docstore._ops.facets` the facets and field statistics).
Commands are built in :mod:`redis_docstore._commands.search` and replies parsed in
:mod:`redis_docstore._commands.replies`.
Filters arrive as a :class:`~redis_docstore._ops.filtering.Selection`, rendered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis_docstore._commands.replies import (
    aggregate_keys,
    decode,
    existing_shape,
    indexing_complete,
    parse_documents,
    result_keys,
    total_results,
)
from redis_docstore._commands.search import (
    aggregate_keys_command,
    count_command,
    search_ids_command,
    validate_k,
    validate_offset,
)
from redis_docstore._documents import Document, parse_document, validate_id
from redis_docstore._effects import Commands, Flow
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.filtering import expression as filter_expression
from redis_docstore._ops.lifecycle import ensure
from redis_docstore._ops.meta import meta_key
from redis_docstore._ops.state import StoreState

__all__ = ["count", "cursor_page", "get", "info", "page", "read_documents"]


def get(state: StoreState, doc_id: str) -> Flow[Document | None]:
    """The document with id ``doc_id``, or ``None`` (``DocumentStore.get``)."""
    validate_id(doc_id)
    yield from ensure(state)  # first: a re-embedded store's keys are its generation's
    key = state.settings.key(doc_id)
    (raw,) = yield Commands([("JSON.GET", key)], f"reading document {doc_id!r}")
    return None if raw is None else parse_document(doc_id, raw)


def count(state: StoreState, selection: Selection) -> Flow[int]:
    """How many indexed documents match ``selection``."""
    expression = filter_expression(state, selection)
    yield from ensure(state)
    (reply,) = yield Commands(
        [count_command(state.settings.name, expression)], "counting documents"
    )
    return total_results(reply)


def page(
    state: StoreState, selection: Selection, *, offset: int, limit: int
) -> Flow[list[Document]]:
    """One page of the documents matching ``selection``, ordered by id."""
    expression = filter_expression(state, selection)
    validate_offset(offset)
    validate_k(limit, "limit")
    yield from ensure(state)
    (reply,) = yield Commands(
        [aggregate_keys_command(state.settings.name, expression, offset=offset, limit=limit)],
        "listing documents",
    )
    return (yield from read_documents(state, aggregate_keys(reply)))


def read_documents(state: StoreState, keys: Sequence[str]) -> Flow[list[Document]]:
    """The documents stored under ``keys`` (one ``JSON.MGET``)."""
    if not keys:
        return []
    (raws,) = yield Commands([("JSON.MGET", *keys, ".")], "reading documents")
    return parse_documents(keys, raws, key_prefix=state.settings.key_prefix)


def cursor_page(
    state: StoreState, expression: str, *, batch_size: int, cursor: int | None
) -> Flow[tuple[list[Document], int]]:
    """One page of a whole-index read: (documents, next cursor or 0)."""
    validate_k(batch_size, "batch_size")
    yield from ensure(state)
    name = state.settings.name
    if cursor is None:
        (counted,) = yield Commands([count_command(name, expression)], "counting documents")
        total = total_results(counted)
        if not total:
            return [], 0
        command = aggregate_keys_command(
            name, expression, cursor_count=batch_size, max_results=total
        )
    else:
        command = ("FT.CURSOR", "READ", name, cursor, "COUNT", batch_size)
    ((reply, next_cursor),) = yield Commands([command], "reading documents")
    docs = yield from read_documents(state, aggregate_keys(reply))
    return docs, int(next_cursor)


def info(state: StoreState) -> Flow[dict[str, Any]]:
    """The index's statistics and settings (``DocumentStore.info``)."""
    yield from ensure(state)
    s = state.settings
    info, meta_reply, sample = yield Commands(
        [
            ("FT.INFO", s.name),
            ("HGETALL", meta_key(state.base_prefix)),
            search_ids_command(s.name, "*", limit=20),
        ],
        f"reading index {s.name!r}",
    )
    keys = result_keys(sample)
    sizes = (
        (yield Commands([("MEMORY", "USAGE", key) for key in keys], "sizing documents"))
        if keys
        else []
    )
    meta = {decode(k): decode(v) for k, v in (meta_reply or {}).items()}
    errors = info.get("Index Errors", {})
    return {
        "index": s.name,
        "physical_index": decode(info.get("index_name", s.name)),
        "prefix": s.key_prefix,
        "documents": int(info.get("num_docs", 0)),
        "indexing_failures": int(info.get("hash_indexing_failures", 0)),
        "last_indexing_error": errors.get("last indexing error"),
        "last_indexing_error_key": errors.get("last indexing error key"),
        "indexing_complete": indexing_complete(info),
        "index_memory_mb": float(info.get("total_index_memory_sz_mb", 0.0)),
        "vector_index_memory_mb": float(info.get("vector_index_sz_mb", 0.0)),
        "bytes_per_document_sample": (
            round(sum(int(n or 0) for n in sizes) / len(sizes)) if sizes else None
        ),
        "embedder": meta.get("embedder"),
        "generation": int(meta.get("generation", 1)),
        "settings": {
            "dims": s.dims,
            "distance": s.distance,
            "algorithm": s.algorithm,
            "metadata_fields": dict(s.metadata_fields),
            "ef_runtime": state.ef_runtime,
            "id_scheme": s.id_scheme,
        },
        "schema": existing_shape(info),
    }
