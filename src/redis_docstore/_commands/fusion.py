"""Reciprocal-rank fusion (RRF): a vector ranking and a full-text ranking made one.

Redis 8.4 fuses the two server-side (``FT.HYBRID ... COMBINE RRF``); the
RediSearch 2.10 of Redis 8.2 has no ``FT.HYBRID``, so the store fetches both
rankings in one round trip (one pipeline: the ``KNN`` search of
:func:`~redis_docstore._commands.search.knn_command` and the full-text search
of :func:`text_search_command`) and fuses them here. No I/O.

How a query runs
----------------
1. **The vector ranking**: the ``window`` documents nearest to the query
   vector among those matching the filter, nearest first.
2. **The text ranking**: the ``window`` documents with the highest BM25
   score (``SCORER BM25STD``, as the linear hybrid search uses) among those
   matching the filter whose content holds at least one query word. The
   filter is wrapped as ``-(-(filter))`` (:func:`~.hybrid.unscored`), so only
   the words score. The words are :func:`~.hybrid.query_words` of the text,
   never query syntax.
3. **Fusion**: each document scores::

       score(d) = w_vector / (rrf_k + rank_vector(d)) + w_text / (rrf_k + rank_text(d))

   with a term only for the rankings that hold ``d``. Ranks count from 1;
   documents with equal scores in a ranking (equal distance, equal BM25)
   share the best of their ranks (competition ranking, ``1, 2, 2, 4``), so
   the server's arbitrary order among ties changes nothing. A ranking whose
   weight is 0 adds neither score nor documents.
4. **Order**: by fused score descending, then distance ascending, then id;
   at most ``k``.

Distances
---------
A document in the vector ranking keeps the distance the server reported. A
document only in the text ranking gets its distance computed from its stored
embedding (which the text search returns), in the index's metric with the
query and the embedding at the index's precision: the server's number up to
float rounding (about 1e-6; 1e-3 for a FLOAT16 index). So every hit's
``distance`` means what it means in any other search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import numpy as np

from redis_docstore._commands.hybrid import TEXT_SCORER, unscored, words_clause
from redis_docstore._commands.search import DIALECT, EMBEDDING_PATH, RETURN_FIELDS
from redis_docstore._documents import Hit
from redis_docstore._embeddings import VectorLike
from redis_docstore._schema import DataType, Distance

__all__ = [
    "DEFAULT_RRF_K",
    "competition_ranks",
    "embedding_distances",
    "rrf_fuse",
    "text_query_string",
    "text_search_command",
]

#: The rank constant of the RRF paper (Cormack et al., 2009), and the default
#: of Redis 8.4's ``FT.HYBRID``, Elasticsearch and Qdrant.
DEFAULT_RRF_K: Final = 60
#: What the text search returns per document: what a hit holds, and the
#: embedding for the distance of a document the vector ranking lacks.
TEXT_RETURN_FIELDS: Final = (*RETURN_FIELDS, EMBEDDING_PATH)


def text_query_string(words: Sequence[str], filter_expression: str = "*") -> str:
    """The query of the text ranking: any of ``words``, within the filter, only words scored.

    Args:
        words: Words from :func:`~.hybrid.query_words` (never raw user text).
        filter_expression: A RediSearch filter; ``"*"`` for none.

    Returns:
        E.g. ``@content:(cat | dog) -(-(@genre:{pets}))``.
    """
    clause = words_clause(words)
    filter_expression = filter_expression.strip()
    if filter_expression == "*":
        return clause
    return f"{clause} {unscored(filter_expression)}"


def text_search_command(
    index: str,
    words: Sequence[str],
    *,
    limit: int,
    filter_expression: str = "*",
    timeout_ms: int = 0,
) -> tuple[Any, ...]:
    """``FT.SEARCH`` for the text ranking: the ``limit`` best BM25 matches, best first.

    Args:
        index: The index (or alias) name.
        words: Words from :func:`~.hybrid.query_words`.
        limit: How many documents at most (the window).
        filter_expression: A RediSearch filter; ``"*"`` for none.
        timeout_ms: The server-side time limit; 0 for none.

    Returns:
        The command's arguments; its reply (RESP3) is parsed by
        :func:`~.replies.parse_text_reply`.
    """
    return (
        "FT.SEARCH", index, text_query_string(words, filter_expression),
        "WITHSCORES", "SCORER", TEXT_SCORER, "TIMEOUT", timeout_ms,
        "RETURN", len(TEXT_RETURN_FIELDS), *TEXT_RETURN_FIELDS,
        "LIMIT", 0, limit, "DIALECT", DIALECT,
    )  # fmt: skip


def competition_ranks(scores: Sequence[float | None]) -> list[int]:
    """The rank (from 1) of each entry of a ranking; equal scores share the best rank.

    Args:
        scores: The ranking's scores in its order (ascending distances or
            descending BM25 scores: only equality counts).

    Returns:
        E.g. ``[1, 2, 2, 4]`` for ``[0.1, 0.3, 0.3, 0.5]``.
    """
    ranks: list[int] = []
    for position, score in enumerate(scores, start=1):
        ranks.append(ranks[-1] if ranks and score == scores[position - 2] else position)
    return ranks


def embedding_distances(
    query: VectorLike,
    embeddings: Sequence[Sequence[float] | None],
    *,
    distance: Distance,
    datatype: DataType = "float32",
) -> list[float]:
    """The distance from ``query`` to each embedding, as RediSearch computes it.

    Args:
        query: The query vector.
        embeddings: Stored embeddings; ``None`` for a document without one.
        distance: The index's metric: ``"l2"`` (squared Euclidean),
            ``"cosine"`` (``1 - cos``) or ``"ip"`` (``1 - dot``).
        datatype: The index's vector type: both vectors are rounded to it
            first, as the index holds them.

    Returns:
        One distance per embedding; ``inf`` for ``None``.
    """
    present = [i for i, e in enumerate(embeddings) if e is not None]
    result = [math.inf] * len(embeddings)
    if not present:
        return result
    dtype = np.float16 if datatype == "float16" else np.float32
    q = np.asarray(query, dtype=dtype).astype(np.float64)
    rows = np.asarray([embeddings[i] for i in present], dtype=dtype).astype(np.float64)
    if distance == "l2":
        values = ((rows - q) ** 2).sum(axis=1)
    elif distance == "ip":
        values = 1.0 - rows @ q
    else:
        norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(q)
        cosines = np.divide(rows @ q, norms, out=np.zeros(len(rows)), where=norms > 0)
        values = 1.0 - cosines
    for i, value in zip(present, values.tolist(), strict=True):
        result[i] = value
    return result


def rrf_fuse(
    vector_hits: Sequence[Hit],
    text_hits: Sequence[Hit],
    *,
    k: int,
    rrf_k: float = DEFAULT_RRF_K,
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[Hit]:
    """Fuse a vector ranking and a text ranking by reciprocal rank (see the module doc).

    Args:
        vector_hits: The vector ranking, nearest first.
        text_hits: The text ranking, best first, each hit's ``score`` being
            its BM25 score and its ``distance`` already set.
        k: How many hits at most.
        rrf_k: The rank constant (> 0): larger flattens the ranks' weights.
        weights: ``(vector, text)``, each >= 0; a ranking of weight 0 adds
            neither score nor documents.

    Returns:
        New hits (the inputs are not changed), ``score`` being the fused
        score; a document in both rankings is the vector ranking's hit.
    """
    scores: dict[str, float] = {}
    rankings = (
        (weights[0], vector_hits, [h.distance for h in vector_hits]),
        (weights[1], text_hits, [h.score for h in text_hits]),
    )
    for weight, ranking, keys in rankings:
        if not weight:
            continue
        for hit, rank in zip(ranking, competition_ranks(keys), strict=True):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (rrf_k + rank)
    # The vector ranking's hit wherever it has one (its distance is the
    # server's), whatever the weights.
    hits = {hit.id: hit for hit in text_hits} | {hit.id: hit for hit in vector_hits}
    order = sorted(scores, key=lambda id: (-scores[id], hits[id].distance, id))
    return [replace(hits[id], score=scores[id]) for id in order[:k]]
