"""Reciprocal-rank fusion (RRF): a vector ranking and a full-text ranking made one.

Redis 8.4 fuses the two server-side (``FT.HYBRID ... COMBINE RRF``); the
RediSearch 2.10 of Redis 8.2 has no ``FT.HYBRID``, so the store fetches both
rankings in one round trip (one pipeline: the ``KNN`` search of
:func:`~redis_docstore._commands.search.knn_command` and the full-text
searches of :func:`text_search_command`) and fuses them here. No I/O.

How a query runs
----------------
1. **The vector ranking**: the ``window`` documents nearest to the query
   vector among those matching the filter, nearest first.
2. **The text ranking**: the ``window`` documents with the highest BM25
   score (``SCORER BM25STD``, as the linear hybrid search uses) among those
   matching the filter whose content holds at least one query word; equal
   scores in the server's order (by document, the same in every call). The
   filter is wrapped as ``-(-(filter))`` (:func:`~.hybrid.unscored`), so only
   the words score. The words are :func:`~.hybrid.query_words` of the text,
   never query syntax.
3. **Fusion**: each document scores::

       score(d) = w_vector / (rrf_k + rank_vector(d)) + w_text / (rrf_k + rank_text(d))

   with a term only for the rankings that hold ``d``; a rank is the
   position in the ranking, from 1 (as in ``FT.HYBRID``, Elasticsearch and
   Qdrant). A ranking whose weight is 0 adds neither score nor documents.
4. **Order**: by fused score descending, then distance ascending, then id;
   at most ``k``.

What the text ranking returns
-----------------------------
A document only in the text ranking, at position ``p``, scores less than
each of the ``p - 1`` documents above it there; so it can be among the ``k``
hits only if ``p <= k``. The text ranking is therefore fetched as two
searches in the same pipeline: the first ``k`` documents in full (content,
genres, metadata and embedding), and the ids of all ``window`` (what they add
to documents of the vector ranking); :func:`text_ranking` joins the two
replies. Returning every embedding of the window instead made the text
ranking about 3x slower (1.9 ms against 0.7 ms for a window of 40 on the
fixture library).

Distances
---------
A document in the vector ranking keeps the distance the server reported. A
document only in the text ranking gets its distance computed from its stored
embedding, in the index's metric with the query and the embedding at the
index's precision: the server's number up to float rounding (about 1e-6;
1e-3 for a FLOAT16 index). So every hit's ``distance`` means what it means
in any other search.
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
    "embedding_distances",
    "rrf_fuse",
    "text_query_string",
    "text_ranking",
    "text_search_command",
]

#: The rank constant of the RRF paper (Cormack et al., 2009), and the default
#: of Redis 8.4's ``FT.HYBRID``, Elasticsearch and Qdrant.
DEFAULT_RRF_K: Final = 60
#: What the text ranking's first documents return: what a hit holds, and the
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
    documents: bool,
    filter_expression: str = "*",
    timeout_ms: int = 0,
) -> tuple[Any, ...]:
    """``FT.SEARCH`` for the text ranking: the ``limit`` best BM25 matches, best first.

    Args:
        index: The index (or alias) name.
        words: Words from :func:`~.hybrid.query_words`.
        limit: How many documents at most.
        documents: Return the documents (and their embeddings); else only
            their keys and scores (``NOCONTENT``).
        filter_expression: A RediSearch filter; ``"*"`` for none.
        timeout_ms: The server-side time limit; 0 for none.

    Returns:
        The command's arguments; its reply (RESP3) is parsed by
        :func:`~.replies.parse_text_reply`.
    """
    returned = (
        ("RETURN", len(TEXT_RETURN_FIELDS), *TEXT_RETURN_FIELDS) if documents else ("NOCONTENT",)
    )
    return (
        "FT.SEARCH", index, text_query_string(words, filter_expression),
        "WITHSCORES", "SCORER", TEXT_SCORER, "TIMEOUT", timeout_ms, *returned,
        "LIMIT", 0, limit, "DIALECT", DIALECT,
    )  # fmt: skip


def text_ranking(
    head: Sequence[Hit], ranked_ids: Sequence[str], vector_hits: Sequence[Hit]
) -> tuple[list[Hit], list[int]]:
    """The text ranking to fuse, from its two replies (see the module doc).

    Args:
        head: The first documents of the text ranking, in full.
        ranked_ids: The ids of the whole ranking, best first.
        vector_hits: The vector ranking.

    Returns:
        The hits and their ranks: the head's, at their positions, then every
        other ranked document that the vector ranking holds (its hit from
        there), at its position. Another document of the ranking, beyond the
        head, could not be among the hits (when the two replies agree, as
        they do unless a write came between them); it is left out.
    """
    in_head = {hit.id for hit in head}
    near = {hit.id: hit for hit in vector_hits}
    hits = list(head)
    ranks = list(range(1, len(head) + 1))
    for position, id in enumerate(ranked_ids, start=1):
        if id not in in_head and id in near:
            hits.append(near[id])
            ranks.append(position)
    return hits, ranks


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
    text_ranks: Sequence[int] | None = None,
) -> list[Hit]:
    """Fuse a vector ranking and a text ranking by reciprocal rank (see the module doc).

    Args:
        vector_hits: The vector ranking, nearest first (ranks 1, 2, ...).
        text_hits: The text ranking, best first, each hit's ``distance``
            already set.
        k: How many hits at most.
        rrf_k: The rank constant (> 0): larger flattens the ranks' weights.
        weights: ``(vector, text)``, each >= 0; a ranking of weight 0 adds
            neither score nor documents.
        text_ranks: The rank of each text hit, if not its position
            (:func:`text_ranking`).

    Returns:
        New hits (the inputs are not changed), ``score`` being the fused
        score; a document in both rankings is the vector ranking's hit.
    """
    scores: dict[str, float] = {}
    rankings = (
        (weights[0], vector_hits, range(1, len(vector_hits) + 1)),
        (
            weights[1],
            text_hits,
            range(1, len(text_hits) + 1) if text_ranks is None else text_ranks,
        ),
    )
    for weight, ranking, ranks in rankings:
        if not weight:
            continue
        for hit, rank in zip(ranking, ranks, strict=True):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (rrf_k + rank)
    # The vector ranking's hit wherever it has one (its distance is the
    # server's), whatever the weights.
    hits = {hit.id: hit for hit in text_hits} | {hit.id: hit for hit in vector_hits}
    order = sorted(scores, key=lambda id: (-scores[id], hits[id].distance, id))
    return [replace(hits[id], score=scores[id]) for id in order[:k]]
