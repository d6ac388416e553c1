"""Search commands: building them (their replies are parsed in :mod:`.replies`). No I/O.

Every builder returns the complete argument tuple of one Redis command
(``("FT.SEARCH", index, ...)``), so the sync and the async store send the same
bytes, a pipeline can carry many of them, and ``explain`` can show them.
Parsers take RESP3 replies (redis-py ``protocol=3``), with str or bytes; the
KNN and range searches, which cannot be partial (``TIMEOUT 0``), are sent and
parsed as RESP2, which is cheaper to produce and to read.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import hiredis
import numpy as np
from redis.commands.search.query import Query
from redisvl.query import VectorQuery, VectorRangeQuery

from redis_docstore._effects import PackedCommand
from redis_docstore._embeddings import VectorLike
from redis_docstore._errors import InvalidQueryError
from redis_docstore._schema import EMBEDDING_FIELD, DataType

__all__ = [
    "DISTANCE_ALIAS",
    "FIELD_PATHS",
    "MAX_RESULTS",
    "RETURN_FIELDS",
    "aggregate_keys_command",
    "count_command",
    "indexed_keys_command",
    "knn_command",
    "range_command",
    "render_command",
    "return_paths",
    "search_ids_command",
    "validate_k",
    "validate_offset",
    "vector_bytes",
]

DISTANCE_ALIAS = "vector_distance"
DIALECT = 2
# JSON paths, not field aliases: the alias of a TAG over "$.genre[*]" returns
# only the first genre, "$.genre" returns the whole array as JSON text.
RETURN_FIELDS: Final = ("$.content", "$.genre", "$.metadata")
#: The path of each stored field a search may return (``fields=``), by its name
#: in :class:`~redis_docstore.Hit`.
FIELD_PATHS: Final = {"content": "$.content", "genres": "$.genre", "metadata": "$.metadata"}
EMBEDDING_PATH = "$.embedding"
HybridPolicy = Literal["BATCHES", "ADHOC_BF"]
#: The most hits one search may ask for: k, fetch_k and offset + k. Beyond it a
#: single call makes the server collect and sort that many documents.
MAX_RESULTS = 10_000
RANGE_EPSILON = 0.5


def validate_k(k: object, name: str = "k", *, limit: int | None = None) -> int:
    """Check a number of results.

    Args:
        k: The candidate.
        name: Its name, for the message.
        limit: The largest value allowed, if any.

    Raises:
        InvalidQueryError: Not a positive integer, or above ``limit``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise InvalidQueryError(f"{name} must be a positive integer, not {k!r}")
    if limit is not None and k > limit:
        raise InvalidQueryError(f"{name} must be at most {limit:,}, not {k:,}")
    return k


def validate_offset(offset: object) -> int:
    """Check a paging offset.

    Raises:
        InvalidQueryError: Not an integer >= 0.
    """
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidQueryError(f"offset must be an integer >= 0, not {offset!r}")
    return offset


def return_paths(fields: Sequence[str] | None) -> tuple[str, ...]:
    """The JSON paths a search returns for ``fields`` (names of :data:`FIELD_PATHS`).

    Args:
        fields: The stored fields asked for; ``None`` for all of them.

    Returns:
        The paths, in the order of ``fields``; every path for ``None``.
    """
    return RETURN_FIELDS if fields is None else tuple(FIELD_PATHS[name] for name in fields)


def _command(
    index: str, query: Query, params: Mapping[str, Any], *, sort_keys: bool = False
) -> tuple[Any, ...]:
    args: list[Any] = ["FT.SEARCH", index, *query.get_args()]
    if sort_keys:
        args.insert(args.index("NOCONTENT") + 1, "WITHSORTKEYS")
    if params:
        args.append("PARAMS")
        args.append(2 * len(params))
        for name, value in params.items():
            args.extend((name, value))
    return tuple(args)


def vector_bytes(vector: VectorLike, datatype: DataType = "float32") -> bytes:
    """A query vector as the index's binary type (FLOAT32 or FLOAT16)."""
    return np.asarray(vector, dtype=np.float16 if datatype == "float16" else np.float32).tobytes()


# The vector's place in a template; replaced by the query's bytes per call.
_VECTOR_SLOT = b"<vector>"
# A command template: its arguments, the vector's index among them, and the
# RESP encoding before and after the vector.
Template = tuple[tuple[Any, ...], int, bytes, bytes]


def _with_vector(template: Template, blob: bytes) -> PackedCommand:
    args, slot, before, after = template
    command = PackedCommand((*args[:slot], blob, *args[slot + 1 :]))
    command.packed = b"".join((before, b"$%d\r\n" % len(blob), blob, b"\r\n", after))
    return command


def _template(
    index: str, query: VectorQuery | VectorRangeQuery, timeout_ms: int, paths: Sequence[str]
) -> Template:
    # The query returns ``paths`` and the distance. With no path it is
    # NOCONTENT WITHSORTKEYS: each result is its key and its sort key, the
    # distance ("#0.25"), and the server never opens the document, where
    # RETURN 1 vector_distance does (3 KB documents, 5,000 of them, redis-py
    # round trip p50: 290 against 319 us for 10 hits, 576 against 805 for 100).
    # TIMEOUT 0, no time limit (the default): every reply is complete and RESP2
    # can carry it. With a limit, a query cut by it answers with a partial list
    # (ON_TIMEOUT RETURN, the server's default) that only a RESP3 warning
    # reveals: such searches are sent as RESP3 (SearchSpec.protocol).
    query.timeout(timeout_ms)
    if paths:
        query.return_fields(*paths, DISTANCE_ALIAS)
    else:
        query.no_content()
    args = _command(index, query, query.params, sort_keys=not paths)
    slot = next(i for i, arg in enumerate(args) if arg is _VECTOR_SLOT)
    before = b"*%d\r\n" % len(args) + _resp_arguments(args[:slot])
    return args, slot, before, _resp_arguments(args[slot + 1 :])


def _resp_arguments(args: tuple[Any, ...]) -> bytes:
    """The RESP encoding of ``args`` without the array header."""
    if not args:
        return b""
    packed: bytes = hiredis.pack_command(args)
    return packed[packed.index(b"\r\n") + 2 :]


@functools.lru_cache(maxsize=1024)
def _knn_template(
    index: str,
    k: int,
    offset: int,
    filter_expression: str,
    ef_runtime: int | None,
    hybrid_policy: HybridPolicy | None,
    paths: tuple[str, ...],
    timeout_ms: int,
) -> Template:
    # redisvl builds the query once per shape; each search only swaps the vector
    # in (no per-call query objects).
    query = VectorQuery(
        vector=_VECTOR_SLOT,
        vector_field_name=EMBEDDING_FIELD,
        num_results=offset + k,
        filter_expression=filter_expression,
        return_score=False,
        ef_runtime=ef_runtime,
        hybrid_policy=hybrid_policy,
        dialect=DIALECT,
    )
    query.paging(offset, k)
    return _template(index, query, timeout_ms, paths)


def knn_command(
    index: str,
    vector: VectorLike,
    *,
    k: int,
    offset: int = 0,
    filter_expression: str = "*",
    ef_runtime: int | None = None,
    hybrid_policy: HybridPolicy | None = None,
    with_embeddings: bool = False,
    fields: Sequence[str] | None = None,
    datatype: DataType = "float32",
    timeout_ms: int = 0,
) -> tuple[Any, ...]:
    """``FT.SEARCH`` for the nearest documents, page ``[offset, offset + k)``.

    Args:
        index: The index (or alias) name.
        vector: The validated query vector.
        k: The page size.
        offset: How many of the nearest to skip (KNN asks for ``offset + k``).
        filter_expression: A RediSearch filter; ``"*"`` for all documents.
        ef_runtime: HNSW search breadth for this query (``None``: the index's).
        hybrid_policy: ``"ADHOC_BF"`` forces an exact search of the filtered
            documents; ``None`` lets RediSearch choose.
        with_embeddings: Also return each document's embedding (for MMR).
        fields: The stored fields to return (names of :data:`FIELD_PATHS`);
            ``None`` for all. With none (and no embeddings) the reply holds
            only keys and distances (see :func:`~.replies.parse_lean_reply`).
        datatype: The index's vector type.
        timeout_ms: The server-side time limit; 0 for none.

    Returns:
        The command's arguments.
    """
    paths = return_paths(fields) + ((EMBEDDING_PATH,) if with_embeddings else ())
    template = _knn_template(
        index, k, offset, filter_expression, ef_runtime, hybrid_policy, paths, timeout_ms,
    )  # fmt: skip
    return _with_vector(template, vector_bytes(vector, datatype))


@functools.lru_cache(maxsize=256)
def _range_template(
    index: str,
    max_distance: float,
    k: int,
    offset: int,
    filter_expression: str,
    hnsw: bool,
    paths: tuple[str, ...],
    timeout_ms: int,
) -> Template:
    query = VectorRangeQuery(
        vector=_VECTOR_SLOT,
        vector_field_name=EMBEDDING_FIELD,
        distance_threshold=max_distance,
        num_results=offset + k,
        filter_expression=filter_expression,
        return_score=False,
        dialect=DIALECT,
        # HNSW's range search explores up to radius * (1 + epsilon); Redis'
        # 0.01 missed every in-range document of some queries on a 300-document
        # index, 0.1 found them all; 0.5 leaves a margin. FLAT is exact and
        # refuses the option.
        epsilon=RANGE_EPSILON if hnsw else None,
    )
    query.paging(offset, k)
    return _template(index, query, timeout_ms, paths)


def range_command(
    index: str,
    vector: VectorLike,
    *,
    max_distance: float,
    k: int,
    offset: int = 0,
    filter_expression: str = "*",
    fields: Sequence[str] | None = None,
    datatype: DataType = "float32",
    hnsw: bool = True,
    timeout_ms: int = 0,
) -> tuple[Any, ...]:
    """``FT.SEARCH`` for documents within ``max_distance``, nearest first.

    Args:
        index: The index (or alias) name.
        vector: The validated query vector.
        max_distance: The radius, in the index's distance (squared for L2).
        k: The page size.
        offset: How many of the nearest to skip.
        filter_expression: A RediSearch filter; ``"*"`` for all documents.
        fields: The stored fields to return, as for :func:`knn_command`.
        datatype: The index's vector type.
        hnsw: Whether the index is HNSW (its range search gets a wider epsilon).
        timeout_ms: The server-side time limit; 0 for none.

    Returns:
        The command's arguments.
    """
    template = _range_template(
        index, max_distance, k, offset, filter_expression, hnsw, return_paths(fields), timeout_ms
    )
    return _with_vector(template, vector_bytes(vector, datatype))


def count_command(index: str, filter_expression: str = "*") -> tuple[Any, ...]:
    """``FT.SEARCH`` that only counts the documents matching a filter.

    ``LIMIT 0 1`` rather than ``LIMIT 0 0``: RediSearch 2.10 leaves the
    timeout warning out of a ``LIMIT 0 0`` reply, so a partial count would
    pass for complete.
    """
    return (
        "FT.SEARCH", index, filter_expression, "NOCONTENT", "LIMIT", 0, 1, "DIALECT", DIALECT,
    )  # fmt: skip


def search_ids_command(index: str, filter_expression: str, *, limit: int) -> tuple[Any, ...]:
    """``FT.SEARCH`` for the keys of up to ``limit`` documents matching a filter."""
    return (
        "FT.SEARCH", index, filter_expression, "NOCONTENT", "LIMIT", 0, limit,
        "DIALECT", DIALECT,
    )  # fmt: skip


def indexed_keys_command(index: str, keys: Sequence[str]) -> tuple[Any, ...]:
    """``FT.SEARCH`` answering which of ``keys`` the index holds (``INKEYS``)."""
    return (
        "FT.SEARCH", index, "*", "INKEYS", len(keys), *keys, "NOCONTENT",
        "LIMIT", 0, len(keys), "DIALECT", DIALECT,
    )  # fmt: skip


def aggregate_keys_command(
    index: str,
    filter_expression: str = "*",
    *,
    offset: int = 0,
    limit: int | None = None,
    cursor_count: int | None = None,
    max_results: int | None = None,
) -> tuple[Any, ...]:
    """``FT.AGGREGATE`` for the keys of matching documents, ordered by key.

    Only keys are loaded (documents are read with ``JSON.MGET``), so a cursor
    over the whole index holds keys, not documents, on the server.

    Args:
        index: The index (or alias) name.
        filter_expression: A RediSearch filter; ``"*"`` for all documents.
        offset: With ``limit``, the page's start.
        limit: The page size; ``None`` for no ``LIMIT``.
        cursor_count: Read with a cursor, this many keys per read.
        max_results: ``SORTBY ... MAX``: how many to sort (SORTBY keeps only
            10 without it or a ``LIMIT``).

    Returns:
        The command's arguments.
    """
    args: list[Any] = [
        "FT.AGGREGATE", index, filter_expression, "LOAD", 1, "@__key",
        "SORTBY", 2, "@__key", "ASC",
    ]  # fmt: skip
    if max_results is not None:
        args += ["MAX", max_results]
    if limit is not None:
        args += ["LIMIT", offset, limit]
    if cursor_count is not None:
        args += ["WITHCURSOR", "COUNT", cursor_count]
    args += ["DIALECT", DIALECT]
    return tuple(args)


def render_command(command: Sequence[Any]) -> str:
    """Show a command as one line, quoting where needed; bytes params abbreviated."""
    parts = []
    for arg in command:
        if isinstance(arg, bytes):
            parts.append(f"<{len(arg)} bytes>")
            continue
        text = str(arg)
        if not text or any(c.isspace() or c in "\"'\\" for c in text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(text)
    return " ".join(parts)
