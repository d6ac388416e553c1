"""Redis replies as Python values: every parser, and the one place bytes become text.

The commands built in :mod:`.search` and :mod:`.hybrid` come back here: hits,
documents, keys and totals. redis-py hands back ``bytes`` or ``str`` depending
on the protocol and the command (RESP2 or RESP3, ``decode_responses`` off);
every parser reads replies through :func:`decode`, :func:`as_text` and
:func:`decoded`. No I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from redis_docstore._commands.aggregate import STATS_ALIASES
from redis_docstore._commands.hybrid import HYBRID_SCORE_ALIAS, KEY_FIELD
from redis_docstore._commands.search import DISTANCE_ALIAS, EMBEDDING_PATH
from redis_docstore._documents import Document, FieldStats, Hit, parse_document
from redis_docstore._errors import IncompleteResultsError
from redis_docstore._schema import Distance, Shape

__all__ = [
    "aggregate_keys",
    "as_text",
    "check_complete",
    "decode",
    "decoded",
    "existing_shape",
    "indexing_complete",
    "indexing_progress",
    "parse_documents",
    "parse_field_stats",
    "parse_hybrid_reply",
    "parse_lean_reply",
    "parse_search_reply",
    "parse_text_reply",
    "result_keys",
    "returned_embeddings",
    "similarity",
    "tag_values",
    "total_results",
]


def decode(value: Any) -> Any:
    """``bytes`` to ``str``; anything else unchanged (a reply value of either protocol)."""
    return value.decode() if isinstance(value, bytes) else value


def as_text(value: Any) -> str:
    """A reply value as ``str``: ``bytes`` decoded, anything else through ``str()``."""
    return value.decode() if isinstance(value, bytes) else str(value)


def decoded(value: Any) -> Any:
    """A whole reply with every ``bytes`` decoded: mapping keys, values and list items."""
    if isinstance(value, Mapping):
        return {as_text(k): decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return decode(value)


def check_complete(reply: Mapping[Any, Any]) -> None:
    """Refuse a reply that Redis marked as partial.

    RESP3 replies carry a ``warning`` list: a query that hit its timeout (with
    RediSearch's default ``ON_TIMEOUT RETURN``) or a prefix expansion limit
    answers with what it found so far, and says so only there.

    Raises:
        IncompleteResultsError: The reply has warnings.
    """
    warnings = _get(reply, "warning", None) or []
    if warnings:
        shown = "; ".join(as_text(w) for w in warnings)
        raise IncompleteResultsError(f"Redis returned partial results: {shown}")


def _get(mapping: Mapping[Any, Any], key: str, default: Any = None) -> Any:
    if key in mapping:
        return mapping[key]
    return mapping.get(key.encode(), default)


def similarity(distance: float, metric: Distance) -> float | None:
    """``1 - d/2`` clamped to [0, 1] for COSINE; ``None`` for the other metrics."""
    if metric != "cosine":
        return None
    return min(1.0, max(0.0, 1.0 - distance / 2.0))


def parse_search_reply(reply: Any, *, key_prefix: str, distance: Distance = "l2") -> list[Hit]:
    """Turn an ``FT.SEARCH`` KNN or range reply into hits, in reply order.

    Args:
        reply: The RESP2 list or RESP3 map (str or bytes).
        key_prefix: The store's key prefix (``doc:``), stripped from keys.
        distance: The index's metric, for ``Hit.similarity``.

    Returns:
        The hits, with ``distance`` as a float.

    Raises:
        IncompleteResultsError: Redis marked the (RESP3) reply as partial.
    """
    # The hot path of every search: plain loops and local names, no helpers.
    cut = len(key_prefix)
    if isinstance(reply, list) and not (len(reply) > 1 and isinstance(reply[1], bytes)):
        loads = orjson.loads
        d, c, g, m = _LAYOUT
        hits = []
        for i in range(1, len(reply), 2):
            f = reply[i + 1]
            if f is None:  # expired, not yet deleted: see _results
                continue
            if len(f) == 8 and f[0] == d and f[2] == c and f[4] == g and f[6] == m:
                hits.append(
                    Hit(reply[i][cut:], f[3], tuple(loads(f[5])), float(f[1]), loads(f[7]))
                )
            else:  # another layout (fields=, or a document missing one): by name
                hits.append(_hit(reply[i][cut:], dict(zip(f[::2], f[1::2], strict=True))))
    else:
        hits = [_hit(key[cut:], attrs) for key, attrs in _results(reply)]
    if distance == "cosine":
        for hit in hits:
            hit.similarity = similarity(hit.distance, distance)
    return hits


# How RediSearch 2.10 lays out each RESP2 result of our searches' RETURN.
_LAYOUT = (DISTANCE_ALIAS, "$.content", "$.genre", "$.metadata")


def parse_lean_reply(reply: Any, *, key_prefix: str, distance: Distance = "l2") -> list[Hit]:
    """Turn the reply of a search for ids and distances only into hits.

    Such a search (``fields=["id", "distance"]``) is ``NOCONTENT
    WITHSORTKEYS``: each result is a key and its sort key, the distance as
    ``"#0.20587706565856934"``. That is more digits than the 12 significant
    ones RediSearch gives a returned distance (``"0.205877065659"``); it is
    rounded to those, so that a lean search reports the very distances of a
    full one.

    Args:
        reply: The RESP2 list ``[total, key, sortkey, ...]`` or the RESP3 map
            (str or bytes).
        key_prefix: The store's key prefix (``doc:``), stripped from keys.
        distance: The index's metric, for ``Hit.similarity``.

    Returns:
        The hits in reply order: ``content=""``, ``genres=()``, ``metadata={}``.

    Raises:
        IncompleteResultsError: Redis marked the (RESP3) reply as partial.
    """
    cut = len(key_prefix)
    if isinstance(reply, list):
        if len(reply) > 1 and isinstance(reply[1], bytes):
            reply = decoded(reply)
        pairs: Any = zip(reply[1::2], reply[2::2], strict=True)
    else:
        if b"results" in reply:
            reply = decoded(reply)
        check_complete(reply)
        pairs = [(result["id"], result["sortkey"]) for result in reply.get("results", ())]
    hits = [Hit(key[cut:], "", (), float(f"{float(sort[1:]):.12g}")) for key, sort in pairs]
    if distance == "cosine":
        for hit in hits:
            hit.similarity = similarity(hit.distance, distance)
    return hits


def _hit(id: str, attrs: Mapping[str, Any]) -> Hit:
    genres = attrs.get("$.genre")
    metadata = attrs.get("$.metadata")
    return Hit(
        id,
        attrs.get("$.content", ""),
        tuple(orjson.loads(genres)) if genres else (),
        float(attrs[DISTANCE_ALIAS]),
        orjson.loads(metadata) if metadata else {},
    )


def _results(reply: Any) -> list[tuple[str, dict[str, Any]]]:
    """(key, returned fields) of each result of an ``FT.SEARCH`` reply.

    A document whose key expired but is not deleted yet (Redis deletes expired
    keys lazily and in a background cycle; the index drops them when it is
    told of the deletion) is still matched, with no fields at all (``None``):
    it is left out, as the document no longer exists.
    """
    if isinstance(reply, list):  # RESP2: [total, key, [field, value, ...], ...]
        if len(reply) > 1 and isinstance(reply[1], bytes):
            reply = decoded(reply)
        return [
            (reply[i], dict(zip(reply[i + 1][::2], reply[i + 1][1::2], strict=True)))
            for i in range(1, len(reply), 2)
            if reply[i + 1] is not None
        ]
    if b"results" in reply:
        reply = decoded(reply)
    check_complete(reply)
    return [
        (result["id"], result["extra_attributes"])
        for result in reply.get("results", ())
        if result.get("extra_attributes") is not None
    ]


def returned_embeddings(reply: Any) -> list[list[float]]:
    """The ``$.embedding`` of each result of a reply (``with_embeddings=True``)."""
    return [orjson.loads(attrs[EMBEDDING_PATH]) for _, attrs in _results(reply)]


def total_results(reply: Mapping[Any, Any]) -> int:
    """The ``total_results`` of an ``FT.SEARCH`` or ``FT.AGGREGATE`` reply."""
    check_complete(reply)
    return int(_get(reply, "total_results", 0))


def result_keys(reply: Mapping[Any, Any] | list[Any]) -> list[str]:
    """The keys of an ``FT.SEARCH ... NOCONTENT`` reply (RESP3 map, or RESP2 list)."""
    if isinstance(reply, list):  # [total, key, key, ...]
        return [as_text(key) for key in reply[1:]]
    check_complete(reply)
    return [as_text(_get(result, "id")) for result in _get(reply, "results", [])]


def aggregate_keys(reply: Mapping[Any, Any]) -> list[str]:
    """The keys of an :func:`aggregate_keys_command` reply (or cursor page).

    A row without fields is a document that expired and is not deleted yet: left out.
    """
    check_complete(reply)
    rows = (_get(result, "extra_attributes") for result in _get(reply, "results", []))
    return [as_text(_get(row, "__key")) for row in rows if row]


def parse_documents(
    keys: Sequence[str], raws: Sequence[Any], *, key_prefix: str
) -> list[Document]:
    """Documents from ``JSON.MGET <keys> .``; keys deleted meanwhile are left out."""
    return [
        parse_document(key.removeprefix(key_prefix), raw)
        for key, raw in zip(keys, raws, strict=True)
        if raw is not None
    ]


def parse_hybrid_reply(
    reply: Mapping[Any, Any], *, key_prefix: str, distance: Distance
) -> list[Hit]:
    """Turn the RESP3 reply of a :func:`build_hybrid_command` into hits.

    Args:
        reply: The reply (redis-py ``protocol=3``): a map whose ``results``
            hold one ``extra_attributes`` map per row; str or bytes keys and
            values.
        key_prefix: The store's key prefix (``doc:``), stripped from keys.
        distance: The index's metric; for ``"cosine"`` hits get a
            ``similarity`` of ``1 - distance / 2`` (clamped to ``[0, 1]``
            against rounding), otherwise ``None``.

    Returns:
        The hits in the reply's order, ``score`` being the hybrid score.
    """
    check_complete(reply)
    hits = []
    for row in _get(reply, "results") or []:
        attrs = {as_text(k): v for k, v in (_get(row, "extra_attributes") or {}).items()}
        if KEY_FIELD not in attrs or DISTANCE_ALIAS not in attrs:
            continue  # expired, not yet deleted: nothing could be loaded (see _results)
        dist = float(as_text(attrs[DISTANCE_ALIAS]))
        genres = attrs.get("$.genre")
        metadata = attrs.get("$.metadata")
        hits.append(
            Hit(
                id=as_text(attrs[KEY_FIELD]).removeprefix(key_prefix),
                content=as_text(attrs.get("$.content", "")),
                genres=tuple(orjson.loads(genres)) if genres else (),
                distance=dist,
                metadata=orjson.loads(metadata) if metadata else {},
                similarity=similarity(dist, distance),
                score=float(as_text(attrs[HYBRID_SCORE_ALIAS])),
            )
        )
    return hits


def parse_text_reply(
    reply: Mapping[Any, Any], *, key_prefix: str
) -> tuple[list[Hit], list[list[float] | None]]:
    """Turn the RESP3 reply of a :func:`~.fusion.text_search_command` into hits.

    Args:
        reply: The reply (redis-py ``protocol=3``), str or bytes.
        key_prefix: The store's key prefix (``doc:``), stripped from keys.

    Returns:
        The hits in the reply's order (best BM25 first), ``score`` being the
        BM25 score and ``distance`` ``inf`` (no query vector here: the
        caller computes it from the embeddings); and each document's
        embedding (``None`` for a document stored without one).

    Raises:
        IncompleteResultsError: Redis marked the reply as partial.
    """
    check_complete(reply)
    hits = []
    embeddings: list[list[float] | None] = []
    for result in _get(reply, "results") or []:
        attrs = _get(result, "extra_attributes")
        if attrs is None:
            continue  # expired, not yet deleted: nothing could be loaded (see _results)
        genres = _get(attrs, "$.genre")
        metadata = _get(attrs, "$.metadata")
        embedding = _get(attrs, EMBEDDING_PATH)
        hits.append(
            Hit(
                id=as_text(_get(result, "id")).removeprefix(key_prefix),
                content=as_text(_get(attrs, "$.content", "")),
                genres=tuple(orjson.loads(genres)) if genres else (),
                distance=math.inf,
                metadata=orjson.loads(metadata) if metadata else {},
                score=float(_get(result, "score")),
            )
        )
        embeddings.append(orjson.loads(embedding) if embedding else None)
    return hits, embeddings


# -- facets and statistics ---------------------------------------------------------------------


def tag_values(reply: Sequence[Any]) -> list[str]:
    """The values of an ``FT.TAGVALS`` reply, sorted."""
    return sorted(as_text(value) for value in reply)


def parse_field_stats(reply: Mapping[Any, Any]) -> FieldStats:
    """The :class:`FieldStats` of a :func:`~.aggregate.field_stats_command` reply.

    Args:
        reply: The RESP3 map: no row when no document matched, else one row
            whose values are numbers as text (``"3"``, ``"1.5"``, ``"1e+300"``).

    Returns:
        The statistics; ``mean`` is ``sum / count``.

    Raises:
        IncompleteResultsError: Redis marked the reply as partial.
    """
    check_complete(reply)
    rows = _get(reply, "results") or []
    if not rows:
        return FieldStats(count=0, min=None, max=None, mean=None, sum=0.0)
    attrs = {as_text(k): as_text(v) for k, v in _get(rows[0], "extra_attributes").items()}
    count, low, high, total = (attrs[alias] for alias in STATS_ALIASES)
    n, sum_ = int(count), float(total)
    return FieldStats(count=n, min=float(low), max=float(high), mean=sum_ / n, sum=sum_)


# -- FT.INFO ------------------------------------------------------------------------------------


def existing_shape(info: Mapping[Any, Any]) -> Shape:
    """Normalize an ``FT.INFO`` reply (RESP3 map) into a shape.

    Args:
        info: The reply, with str or bytes keys.

    Returns:
        The shape; fields of types we do not know keep just path and type.
    """
    info = decoded(info)
    definition = info.get("index_definition", {})
    shape: Shape = {
        "storage": definition.get("key_type"),
        "prefixes": list(definition.get("prefixes", [])),
    }
    for attr in info.get("attributes", []):
        kind = attr.get("type")
        entry: dict[str, Any] = {"path": attr.get("identifier"), "type": kind}
        if kind == "TAG":
            entry["separator"] = attr.get("SEPARATOR", ",")
            entry["case_sensitive"] = "CASESENSITIVE" in attr.get("flags", [])
        elif kind == "VECTOR":
            entry["algorithm"] = str(attr.get("algorithm", "")).upper()
            entry["dims"] = int(attr.get("dim", 0))
            entry["distance"] = str(attr.get("distance_metric", "")).upper()
            entry["datatype"] = str(attr.get("data_type", "")).upper()
        shape[attr.get("attribute")] = entry
    return shape


def indexing_progress(info: Mapping[Any, Any]) -> float:
    """The fraction of existing documents indexed, from an ``FT.INFO`` reply."""
    info = decoded(info)
    return float(info.get("percent_indexed", 1.0))


def indexing_complete(info: Mapping[Any, Any]) -> bool:
    """Whether an index has finished indexing existing documents (``FT.INFO``)."""
    return int(decoded(info).get("indexing", 0)) == 0 and indexing_progress(info) >= 1.0
