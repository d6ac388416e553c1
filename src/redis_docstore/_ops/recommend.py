"""Recommendation by example: "more like these, less like those" (Qdrant's recommend).

:func:`request` validates a recommendation once, at the edge (the examples,
the strategy, ``k``, ``fetch_k``, the filters); :func:`recommend` is its flow:
it reads the embeddings of the examples given as ids (one ``JSON.MGET``),
embeds those given as texts, and searches.

Two strategies, as Qdrant names them:

- ``average_vector``: one KNN search for ``avg(pos) + (avg(pos) - avg(neg))``
  (``avg(pos)`` without negatives); under COSINE each example is normalized
  first, so each counts by its direction.
- ``best_score``: candidates from one pipelined batch of KNN searches (the
  ``fetch_k`` nearest of each positive), each rescored here by
  :func:`best_scores`: closer to some positive than to every negative, it
  scores ``sigmoid(-d_pos)`` in (0, 1); otherwise ``-sigmoid(-d_neg)`` in
  (-1, 0) (``sigmoid(x) = (x / (1 + |x|) + 1) / 2``, Qdrant's fast sigmoid;
  ``d_pos``, ``d_neg``: the distance to the nearest positive, negative).

The scoring functions are pure numpy, tested against plain loops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import orjson

from redis_docstore._commands.replies import (
    parse_search_reply,
    returned_embeddings,
    similarity,
    total_results,
)
from redis_docstore._commands.search import MAX_RESULTS, count_command, knn_command, validate_k
from redis_docstore._documents import Hit, HitField, TextExample, validate_id
from redis_docstore._effects import Commands, Flow
from redis_docstore._embeddings import VectorLike, validate_vector
from redis_docstore._errors import (
    DocumentNotFoundError,
    InvalidDocumentError,
    InvalidEmbeddingError,
    InvalidQueryError,
)
from redis_docstore._filters.expression import Filter
from redis_docstore._ops import search
from redis_docstore._ops.embedding import embed
from redis_docstore._ops.lifecycle import ensure
from redis_docstore._ops.spec import SearchSpec
from redis_docstore._ops.state import StoreState
from redis_docstore._schema import Distance

__all__ = [
    "MAX_EXAMPLES",
    "STRATEGIES",
    "Example",
    "Recommendation",
    "Strategy",
    "average_vector",
    "best_scores",
    "distances",
    "rank",
    "recommend",
    "request",
    "scaled_sigmoid",
]

Strategy = Literal["average_vector", "best_score"]
STRATEGIES: tuple[Strategy, ...] = ("average_vector", "best_score")
#: What ``recommend`` takes as one example: a stored document's id, a text to
#: embed (wrapped), or a vector.
Example: TypeAlias = str | TextExample | VectorLike
#: The most examples (positive and negative together) of one call.
MAX_EXAMPLES = 256
Matrix: TypeAlias = npt.NDArray[np.float64]


# -- scoring (pure) ------------------------------------------------------------------------------


def distances(candidates: Matrix, examples: Matrix, metric: Distance) -> Matrix:
    """The distance of each candidate (row) to each example (column), as Redis measures it.

    Args:
        candidates: ``(n, dims)``.
        examples: ``(m, dims)``.
        metric: ``"l2"`` (squared Euclidean), ``"cosine"`` (``1 - cos``) or
            ``"ip"`` (``1 - a·b``).

    Returns:
        ``(n, m)`` distances, float64.
    """
    c = np.asarray(candidates, dtype=np.float64)
    e = np.asarray(examples, dtype=np.float64)
    if metric == "l2":
        # Column by column: an (n, m, dims) difference would not fit in memory
        # for thousands of candidates and hundreds of examples; and the sum of
        # squared differences, unlike |c|^2 - 2c.e + |e|^2, is exact at 0.
        columns = [((c - row) ** 2).sum(axis=1) for row in e]
        return np.stack(columns, axis=1) if columns else np.zeros((len(c), 0))
    if metric == "cosine":
        c = c / np.linalg.norm(c, axis=1, keepdims=True)
        e = e / np.linalg.norm(e, axis=1, keepdims=True)
    return np.asarray(1.0 - c @ e.T)


def average_vector(positive: Matrix, negative: Matrix, metric: Distance) -> Matrix:
    """The query of the ``average_vector`` strategy.

    ``avg(pos)`` without negatives, else ``avg(pos) + (avg(pos) - avg(neg))``
    (Qdrant's formula). Under COSINE every example is normalized first.

    Args:
        positive: ``(p, dims)``, ``p >= 1``.
        negative: ``(q, dims)``, ``q >= 0``.
        metric: The index's metric.

    Returns:
        The query vector, float64.

    Raises:
        InvalidQueryError: No positive example, or (COSINE) examples that
            cancel out into a zero vector, which has no direction.
    """
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if len(pos) == 0:
        raise InvalidQueryError("the average_vector strategy needs at least one positive example")
    if metric == "cosine":
        pos = pos / np.linalg.norm(pos, axis=1, keepdims=True)
        if len(neg):
            neg = neg / np.linalg.norm(neg, axis=1, keepdims=True)
    mean = pos.mean(axis=0)
    query = mean + (mean - neg.mean(axis=0)) if len(neg) else mean
    if metric == "cosine" and not np.any(query):
        raise InvalidQueryError(
            "the examples cancel out: their average is a zero vector, which has no direction"
        )
    return np.asarray(query)


def scaled_sigmoid(x: Matrix) -> Matrix:
    """Qdrant's fast sigmoid scaled to (0, 1): ``(x / (1 + |x|) + 1) / 2``, increasing."""
    x = np.asarray(x, dtype=np.float64)
    return np.asarray(0.5 * (x / (1.0 + np.abs(x)) + 1.0))


def best_scores(
    candidates: Matrix, positive: Matrix, negative: Matrix, metric: Distance
) -> tuple[Matrix, Matrix]:
    """The ``best_score`` strategy's score of each candidate, and its distance.

    With similarity ``-distance``: a candidate nearer to its nearest positive
    than to its nearest negative scores ``sigmoid(-d_pos)``, in (0, 1), the
    nearer the higher; any other ``-sigmoid(-d_neg)``, in (-1, 0), the farther
    from every negative the higher. So a candidate that is closer to a
    positive always outranks one that is not (Qdrant's ``best_score``).

    Args:
        candidates: ``(n, dims)``.
        positive: ``(p, dims)``.
        negative: ``(q, dims)``; ``p + q >= 1``.
        metric: The index's metric.

    Returns:
        ``(scores, distance)``: each ``(n,)``; the distance is to the nearest
        positive example, or with no positives to the nearest negative one.
    """
    n = len(candidates)
    inf = np.full(n, np.inf)
    d_pos = distances(candidates, positive, metric).min(axis=1) if len(positive) else inf
    d_neg = distances(candidates, negative, metric).min(axis=1) if len(negative) else inf
    # With similarity = -distance, "best positive > best negative" is d_pos < d_neg
    # (a tie goes to the negative, as in Qdrant). The side that won is finite.
    won = d_pos < d_neg
    pos_score = scaled_sigmoid(-np.where(np.isinf(d_pos), 0.0, d_pos))
    neg_score = -scaled_sigmoid(-np.where(np.isinf(d_neg), 0.0, d_neg))
    return np.where(won, pos_score, neg_score), np.asarray(d_pos if len(positive) else d_neg)


def rank(
    scores: Sequence[float] | Matrix, tie: Sequence[float] | Matrix, ids: Sequence[str]
) -> list[int]:
    """Positions ordered by descending score, then ascending ``tie``, then id."""
    return sorted(range(len(ids)), key=lambda i: (-float(scores[i]), float(tie[i]), ids[i]))


# -- the request (validated at the edge) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A validated recommendation.

    Attributes:
        positive, negative: Each example as an id (str), a text
            (:class:`TextExample`) or a validated vector, in order.
        ids: The distinct ids among them, excluded from the hits.
        texts: The distinct texts among them, embedded in one batch.
        k: How many hits.
        strategy: ``"average_vector"`` or ``"best_score"``.
        spec: The KNN search: ``k + len(ids)`` hits (``average_vector``) or
            ``fetch_k + len(ids)`` candidates per search (``best_score``), so
            that dropping the examples still leaves enough.
    """

    positive: tuple[str | TextExample | npt.NDArray[Any], ...]
    negative: tuple[str | TextExample | npt.NDArray[Any], ...]
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    k: int
    strategy: Strategy
    spec: SearchSpec


def _examples(
    name: str, given: object, state: StoreState
) -> tuple[str | TextExample | npt.NDArray[Any], ...]:
    if given is None:
        return ()
    if isinstance(given, str | bytes | TextExample | Mapping) or not isinstance(
        given, Sequence | np.ndarray
    ):
        raise InvalidQueryError(
            f"{name} must be a list of examples (ids, TextExample texts or vectors), "
            f"not {type(given).__name__}"
        )
    s = state.settings
    out: list[str | TextExample | npt.NDArray[Any]] = []
    for i, example in enumerate(given):
        where = f"{name}[{i}]"
        if isinstance(example, str):
            try:
                out.append(validate_id(example))
            except InvalidDocumentError as exc:
                raise InvalidQueryError(
                    f"{where}: {exc}; a string is a document id (to recommend by a text, "
                    f"wrap it: TextExample({example!r}))"
                ) from None
        elif isinstance(example, TextExample):
            out.append(example)
        elif isinstance(example, Sequence | np.ndarray) and not isinstance(example, bytes):
            try:
                out.append(validate_vector(example, dims=s.dims, distance=s.distance))
            except InvalidEmbeddingError as exc:
                raise InvalidEmbeddingError(f"{where}: {exc}") from None
        else:
            hint = " (one vector is passed as a list of one: [vector])" * isinstance(
                example, int | float
            )
            raise InvalidQueryError(
                f"{where}: an example is a document id (str), a TextExample or a vector, "
                f"not {type(example).__name__}{hint}"
            )
    return tuple(out)


def request(
    state: StoreState,
    positive: object,
    negative: object,
    *,
    k: int,
    strategy: str,
    fetch_k: int | None,
    genre: str | Sequence[str] | None,
    genres_all: Sequence[str] | None,
    exclude_genres: Sequence[str] | None,
    where: Filter | None,
    ef_runtime: int | None,
    fields: Sequence[HitField] | None = None,
) -> Recommendation:
    """Validate a recommendation's arguments (``DocumentStore.recommend``); no I/O.

    Raises:
        InvalidQueryError: A bad strategy, ``k`` or ``fetch_k``; no examples,
            too many, or none positive where the strategy needs one; an id
            both positive and negative; an example of no known kind.
        InvalidEmbeddingError: A vector example of the wrong length or with
            non-finite values.
        InvalidGenreError / InvalidFilterError: An invalid filter.
    """
    if strategy not in STRATEGIES:
        raise InvalidQueryError(
            f"strategy must be 'average_vector' or 'best_score', not {strategy!r}"
        )
    validate_k(k, limit=MAX_RESULTS)
    pos = _examples("positive", positive, state)
    neg = _examples("negative", negative, state)
    if not pos and not neg:
        raise InvalidQueryError("recommend needs at least one positive or negative example")
    if len(pos) + len(neg) > MAX_EXAMPLES:
        raise InvalidQueryError(f"at most {MAX_EXAMPLES} examples, not {len(pos) + len(neg)}")
    both = {e for e in pos if isinstance(e, str)} & {e for e in neg if isinstance(e, str)}
    if both:
        raise InvalidQueryError(f"{sorted(both)[0]!r} is both a positive and a negative example")
    if not pos and strategy == "average_vector":
        raise InvalidQueryError("the average_vector strategy needs at least one positive example")
    if not pos and state.settings.distance == "l2":
        # With negatives only, the candidates are the nearest documents to each
        # negated negative: the least similar ones under COSINE and IP, but
        # not the farthest ones under L2.
        raise InvalidQueryError(
            "best_score with negative examples only needs a cosine or ip index; "
            "give a positive example on an l2 index"
        )
    if strategy == "average_vector":
        if fetch_k is not None:
            raise InvalidQueryError("fetch_k applies to the best_score strategy")
        size = k
    else:
        size = (
            min(max(4 * k, 50), MAX_RESULTS)
            if fetch_k is None
            else validate_k(fetch_k, "fetch_k", limit=MAX_RESULTS)
        )
        if size < k:
            raise InvalidQueryError(f"fetch_k ({size}) must be >= k ({k})")
    ids = tuple(dict.fromkeys(e for e in (*pos, *neg) if isinstance(e, str)))
    if size + len(ids) > MAX_RESULTS:
        raise InvalidQueryError(
            f"{'k' if strategy == 'average_vector' else 'fetch_k'} + the number of example "
            f"ids must be at most {MAX_RESULTS:,}, not {size + len(ids):,}"
        )
    texts = tuple(dict.fromkeys(e.text for e in (*pos, *neg) if isinstance(e, TextExample)))
    spec = search.spec(
        state, k=size + len(ids), offset=0, genre=genre, genres_all=genres_all,
        exclude_genres=exclude_genres, where=where, max_distance=None, text=None,
        text_mode="boost", alpha=0.7, mmr_lambda=None, fetch_k=None, ef_runtime=ef_runtime,
        fields=fields,
    )  # fmt: skip
    return Recommendation(pos, neg, ids, texts, k, strategy, spec)


# -- the flow ------------------------------------------------------------------------------------


def recommend(state: StoreState, req: Recommendation) -> Flow[list[Hit]]:
    """The hits of a validated recommendation (``DocumentStore.recommend``).

    Round trips: one ``JSON.MGET`` when examples are ids, then one search
    (``average_vector``) or one pipeline of searches (``best_score``); an HNSW
    search short of hits under a filter adds a count and an exact re-run, as
    for ``search``. Texts add one model pass.

    Raises:
        DocumentNotFoundError: An example id that is not stored (nothing else
            is sent).
        InvalidQueryError: COSINE examples that cancel out.
    """
    yield from ensure(state)
    s = state.settings
    spec = req.spec if req.spec.settings is s else replace(req.spec, settings=s)
    stored: dict[str, Matrix] = {}
    if req.ids:
        (raws,) = yield Commands(
            [("JSON.MGET", *(s.key(i) for i in req.ids), "$.embedding")], "reading the examples"
        )
        for doc_id, raw in zip(req.ids, raws, strict=True):
            found = orjson.loads(raw) if raw is not None else []
            if not found:
                raise DocumentNotFoundError(doc_id)
            stored[doc_id] = np.asarray(found[0])
    texts = dict(zip(req.texts, (yield from embed(state, list(req.texts))), strict=True))

    def matrix(examples: Sequence[str | TextExample | npt.NDArray[Any]]) -> Matrix:
        rows = [
            stored[e] if isinstance(e, str) else texts[e.text] if isinstance(e, TextExample) else e
            for e in examples
        ]
        return _index_precision(rows, s.dims)

    positive, negative = matrix(req.positive), matrix(req.negative)
    excluded = set(req.ids)
    if req.strategy == "average_vector":
        # float32, the index's type: validated as it is by the search flow.
        query: Any = average_vector(positive, negative, s.distance).astype(np.float32)
        (hits,) = yield from search.search(state, [query], spec)
        return [h for h in hits if h.id not in excluded][: req.k]
    seeds = positive if len(positive) else -negative
    found_lists = yield from _knn_with_embeddings(state, spec, seeds)
    candidates: dict[str, tuple[Hit, list[float]]] = {}
    for hits, embeddings in found_lists:
        for hit, embedding in zip(hits, embeddings, strict=True):
            if hit.id not in excluded:
                candidates.setdefault(hit.id, (hit, embedding))
    if not candidates:
        return []
    ids = list(candidates)
    rows = _index_precision([candidates[i][1] for i in ids], s.dims)
    scores, dist = best_scores(rows, positive, negative, s.distance)
    out = []
    for i in rank(scores, dist, ids)[: req.k]:
        hit = candidates[ids[i]][0]
        hit.distance = float(dist[i])
        hit.similarity = similarity(hit.distance, s.distance)
        hit.score = float(scores[i])
        out.append(hit)
    return out


def _index_precision(rows: Sequence[Any], dims: int) -> Matrix:
    """Vectors as float32 values (the index's own precision), in a float64 matrix.

    RedisJSON returns an embedding as decimals whose float64 value is a hair
    off the float32 that was stored and indexed; rounding every vector (the
    stored ones and those given) to float32 makes a vector given as an example
    equal to the stored one it copies, so ties are ties.
    """
    return np.asarray(rows, dtype=np.float32).astype(np.float64).reshape(len(rows), dims)


def _knn_with_embeddings(
    state: StoreState, spec: SearchSpec, vectors: Matrix
) -> Flow[list[tuple[list[Hit], list[list[float]]]]]:
    """The ``spec.k`` nearest of each vector, with their embeddings, in one pipeline.

    As ``search``: HNSW lists short of ``spec.k`` under a filter that more
    documents match are re-run as exact searches.
    """
    s = state.settings
    hnsw = s.algorithm == "hnsw"

    def command(vector: Matrix, exact: bool) -> tuple[Any, ...]:
        return knn_command(
            s.name, vector, k=spec.k, filter_expression=spec.expression,
            ef_runtime=spec.ef_runtime if hnsw and not exact else None,
            hybrid_policy="ADHOC_BF" if exact else None, with_embeddings=True,
            fields=spec.fields, datatype=s.datatype, timeout_ms=spec.timeout_ms,
        )  # fmt: skip

    def parse(reply: Any) -> tuple[list[Hit], list[list[float]]]:
        hits = parse_search_reply(reply, key_prefix=s.key_prefix, distance=s.distance)
        return hits, returned_embeddings(reply)

    replies = yield Commands(
        [command(v, False) for v in vectors], "searching candidates", protocol=spec.protocol
    )
    results = [parse(reply) for reply in replies]
    short = [i for i, (hits, _) in enumerate(results) if hnsw and len(hits) < spec.k]
    if short:
        (reply,) = yield Commands(
            [count_command(s.name, spec.expression)], "checking completeness"
        )
        expected = min(spec.k, total_results(reply))
        redo = [i for i in short if len(results[i][0]) < expected]
        if redo:
            replies = yield Commands(
                [command(vectors[i], True) for i in redo],
                "searching candidates exactly",
                protocol=spec.protocol,
            )
            for i, reply in zip(redo, replies, strict=True):
                results[i] = parse(reply)
    return results
