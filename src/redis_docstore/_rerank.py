"""Re-ranking search results: maximal marginal relevance (MMR).

MMR (Carbonell & Goldstein, 1998) picks results one at a time, each time the
candidate that best trades relevance to the query against redundancy with what
was already picked::

    lambda_mult * sim(query, c) - (1 - lambda_mult) * max(sim(c, s) for s in selected)

``sim`` is the cosine similarity. Pure: numpy, no Redis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from redis_docstore._errors import InvalidQueryError

__all__ = ["mmr"]

FloatArray = npt.NDArray[np.float64]


def _as_array(values: object, what: str, ndim: int) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidQueryError(f"{what} must be numbers, in vectors of one length") from exc
    if ndim == 2 and array.shape == (0,):  # no candidates
        array = array.reshape(0, 0)
    if array.ndim != ndim:
        shape = "a vector" if ndim == 1 else "a list of vectors"
        raise InvalidQueryError(f"{what} must be {shape}, not an array of shape {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidQueryError(f"{what} must hold finite numbers")
    return array


def _unit_rows(matrix: FloatArray) -> FloatArray:
    """Each row scaled to length 1; all-zero rows stay zero (similarity 0)."""
    # Divide by the largest |component| first, so that squaring cannot overflow.
    scale = np.max(np.abs(matrix), axis=1, keepdims=True)
    scaled = np.divide(matrix, scale, out=np.zeros_like(matrix), where=scale > 0)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    units: FloatArray = np.divide(scaled, norms, out=np.zeros_like(scaled), where=norms > 0)
    return units


def mmr(
    query: Sequence[float] | FloatArray,
    candidates: Sequence[Sequence[float]] | FloatArray,
    *,
    k: int,
    lambda_mult: float = 0.5,
) -> list[int]:
    """Select up to ``k`` candidates by maximal marginal relevance.

    The first pick is the candidate most similar to the query (with nothing
    picked yet there is no redundancy to weigh, whatever ``lambda_mult``);
    each further pick maximizes
    ``lambda_mult * sim(query, c) - (1 - lambda_mult) * max(sim(c, s) for s in selected)``
    over the candidates not yet picked. Ties go to the lowest index.

    Args:
        query: The query vector.
        candidates: The candidates' vectors, each as long as ``query``
            (for example the embeddings of a search's hits).
        k: How many to select; more than there are candidates selects all.
        lambda_mult: 1.0 orders by relevance alone; 0.0 maximizes diversity.

    Returns:
        Indices into ``candidates``, in selection order: ``min(k, n)`` of
        them, all distinct.

    ``k``, ``lambda_mult`` and ``query`` are trusted: the search spec
    (:func:`redis_docstore._ops.spec.make_search_spec`) and the query vector
    (``validate_vector``) were checked once, where the search was made. The
    candidates, as Redis returned them, are checked here.

    Raises:
        InvalidQueryError: Candidates that are ragged, non-finite, or of
            another length than ``query``.

    Cost: ``O(k * n * d)`` time and ``O(n * d)`` memory for ``n`` candidates
    of ``d`` dimensions.
    """
    lam = float(lambda_mult)
    q = np.asarray(query, dtype=np.float64)
    cands = _as_array(candidates, "candidates", 2)
    n = cands.shape[0]
    if n == 0:
        return []
    if cands.shape[1] != q.size:
        raise InvalidQueryError(f"candidates have {cands.shape[1]} dimensions, the query {q.size}")
    units = _unit_rows(cands)
    relevance = units @ _unit_rows(q.reshape(1, -1))[0]
    selected: list[int] = []
    is_selected = np.zeros(n, dtype=bool)
    redundancy = np.zeros(n)  # the max similarity to a selected candidate, once there is one
    for _ in range(min(k, n)):
        scores = lam * relevance - (1.0 - lam) * redundancy if selected else relevance.copy()
        scores[is_selected] = -np.inf
        best = int(np.argmax(scores))  # the first maximum: the lowest index
        picked = units @ units[best]
        redundancy = np.maximum(redundancy, picked) if selected else picked
        selected.append(best)
        is_selected[best] = True
    return selected
