from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_docstore import DocumentStore
from redis_docstore._errors import InvalidEmbeddingError, InvalidQueryError
from redis_docstore._rerank import mmr

QUERY = [1.0, 0.0]
# Two near-duplicates close to the query, and one vector in another direction.
NEAR = [1.0, 0.0]
NEAR_TWIN = [1.0, 0.01]
OTHER = [0.6, 0.8]  # cosine 0.6 with the query and with NEAR


def test_lambda_one_is_relevance_order() -> None:
    assert mmr(QUERY, [OTHER, NEAR_TWIN, NEAR], k=3, lambda_mult=1.0) == [2, 1, 0]


def test_low_lambda_picks_the_diverse_one_second() -> None:
    # Second pick: the twin scores 0.3 * 0.99995 - 0.7 * 0.99995 = -0.39998,
    # OTHER scores 0.3 * 0.6 - 0.7 * 0.6 = -0.24.
    assert mmr(QUERY, [NEAR, NEAR_TWIN, OTHER], k=3, lambda_mult=0.3) == [0, 2, 1]
    assert mmr(QUERY, [NEAR, NEAR_TWIN, OTHER], k=2, lambda_mult=0.3) == [0, 2]


def test_high_lambda_keeps_the_twin_second() -> None:
    # 0.9 * 0.99995 - 0.1 * 0.99995 = 0.79996 beats 0.9 * 0.6 - 0.1 * 0.6 = 0.48.
    assert mmr(QUERY, [NEAR, NEAR_TWIN, OTHER], k=3, lambda_mult=0.9) == [0, 1, 2]


def test_default_lambda_is_one_half() -> None:
    # Relevance: 0.707 for [3, 3] and [3, -3] (tied: [3, 3] first, lower index),
    # -0.316 for [-1, -3], -0.894 for [-2, 1]. Second pick at 0.5: [3, -3] scores
    # 0.5 * 0.707 - 0.5 * 0 = 0.354, [-1, -3] 0.5 * -0.316 - 0.5 * -0.894 = 0.289.
    # At 0.3 [-1, -3] wins (0.531 to 0.212); at 0.7 the third pick differs.
    candidates = [[-2.0, 1.0], [3.0, 3.0], [3.0, -3.0], [-1.0, -3.0]]
    assert mmr(QUERY, candidates, k=4) == [1, 2, 0, 3]
    assert mmr(QUERY, candidates, k=4, lambda_mult=0.3) == [1, 3, 2, 0]
    assert mmr(QUERY, candidates, k=4, lambda_mult=0.7) == [1, 2, 3, 0]


def test_lambda_zero_maximizes_diversity_after_the_most_relevant() -> None:
    candidates = [[1.0, 0.1], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]
    # First the most relevant ([1, 0]); then the one least similar to it
    # ([-1, 0], cosine -1); then the least similar to both: [0, 1] (max cosine 0).
    assert mmr(QUERY, candidates, k=4, lambda_mult=0.0) == [1, 3, 2, 0]


def test_k_larger_than_candidates_selects_all() -> None:
    assert sorted(mmr(QUERY, [NEAR, NEAR_TWIN, OTHER], k=10)) == [0, 1, 2]


def test_k_one_is_the_most_relevant() -> None:
    assert mmr(QUERY, [OTHER, NEAR_TWIN, NEAR], k=1, lambda_mult=0.0) == [2]


def test_no_candidates() -> None:
    assert mmr(QUERY, [], k=3) == []
    assert mmr(QUERY, np.empty((0, 2)), k=3) == []


def test_ties_go_to_the_lowest_index() -> None:
    # Same direction at different lengths: exactly tied cosines.
    assert mmr(QUERY, [[2.0, 2.0], [1.0, 1.0], [3.0, 3.0]], k=3, lambda_mult=1.0) == [0, 1, 2]
    assert mmr(QUERY, [[0.0, 1.0], [0.0, -1.0]], k=2, lambda_mult=1.0) == [0, 1]


def test_zero_vectors_have_similarity_zero() -> None:
    # A zero candidate (similarity 0) ranks above an opposite one (-1).
    assert mmr(QUERY, [[-1.0, 0.0], [0.0, 0.0]], k=2, lambda_mult=1.0) == [1, 0]
    # A zero query: every relevance is 0, so the order is by index at lambda 1.
    assert mmr([0.0, 0.0], [OTHER, NEAR, NEAR_TWIN], k=3, lambda_mult=1.0) == [0, 1, 2]
    # ... and diversity decides at lambda 0: after OTHER, the least similar to it.
    assert mmr([0.0, 0.0], [OTHER, NEAR, [0.0, -1.0]], k=3, lambda_mult=0.0) == [0, 2, 1]


def test_length_does_not_matter() -> None:
    short = [NEAR, NEAR_TWIN, OTHER]
    long = [[1e6 * x for x in v] for v in short]
    assert mmr(QUERY, long, k=3, lambda_mult=0.3) == mmr(QUERY, short, k=3, lambda_mult=0.3)
    assert mmr([1e-9, 0.0], short, k=3, lambda_mult=0.3) == [0, 2, 1]


def test_huge_and_tiny_components_do_not_overflow() -> None:
    candidates = [[1e308, 1e308], [1e-308, 0.0], [-1e308, 1e308]]
    assert mmr([1e308, 0.0], candidates, k=3, lambda_mult=1.0) == [1, 0, 2]


def test_numpy_inputs() -> None:
    got = mmr(np.array(QUERY), np.array([NEAR, NEAR_TWIN, OTHER]), k=3, lambda_mult=0.3)
    assert got == [0, 2, 1]
    assert all(type(i) is int for i in got)


class Tiny:
    """A two-dimensional model; the stores below never connect."""

    dims = 2

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def _store() -> DocumentStore:
    return DocumentStore("redis://localhost:1", embedder=Tiny())


# An MMR search's k, lambda and query vector are checked once, where the search is
# made (the spec, the query vector); mmr() trusts them. explain() makes a search
# exactly as search() does, without sending it.


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "2", None])
def test_bad_k(k: object) -> None:
    with pytest.raises(InvalidQueryError, match="k must be a positive integer"):
        _store().explain(QUERY, k=k, mmr_lambda=0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("lambda_mult", [-0.01, 1.01, math.nan, math.inf, True, "0.5"])
def test_bad_lambda(lambda_mult: object) -> None:
    with pytest.raises(InvalidQueryError, match="mmr_lambda"):
        _store().explain(QUERY, k=1, mmr_lambda=lambda_mult)  # type: ignore[arg-type]


def test_no_lambda_is_no_mmr() -> None:
    assert "$.embedding" in _store().explain(QUERY, k=1, mmr_lambda=0.5)
    assert "$.embedding" not in _store().explain(QUERY, k=1, mmr_lambda=None)


@pytest.mark.parametrize("lambda_mult", [0, 1, 0.0, 1.0])
def test_lambda_bounds_are_allowed(lambda_mult: float) -> None:
    assert mmr(QUERY, [NEAR, OTHER], k=2, lambda_mult=lambda_mult) == [0, 1]
    assert _store().explain(QUERY, k=2, mmr_lambda=lambda_mult)


@pytest.mark.parametrize(
    ("query", "candidates", "message"),
    [
        ([1.0, 0.0], [[1.0, 0.0], [1.0]], "candidates"),
        ([1.0, 0.0], [[1.0, 0.0, 0.0]], "dimensions"),
        ([1.0, 0.0], [[1.0, math.nan]], "finite"),
        ([1.0, 0.0], [[1.0, math.inf]], "finite"),
        ([1.0, 0.0], [1.0, 0.0], "list of vectors"),
        ([1.0, 0.0], [["a", "b"]], "numbers"),
    ],
)
def test_bad_candidates(query: object, candidates: object, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        mmr(query, candidates, k=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", [[math.nan, 0.0], [], [[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
def test_bad_query_vector(query: object) -> None:
    with pytest.raises(InvalidEmbeddingError, match="embedding"):
        _store().explain(query, k=1, mmr_lambda=0.5)  # type: ignore[arg-type]


# --- against a naive reference ------------------------------------------------------------


def _cosine(a: list[float], b: list[float]) -> float:
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    if na == 0 or nb == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)


def _reference_scores(
    query: list[float], candidates: list[list[float]], selected: list[int], lam: float
) -> dict[int, float]:
    """The MMR score of every candidate not yet selected, straight from the formula."""
    scores = {}
    for i, c in enumerate(candidates):
        if i in selected:
            continue
        relevance = _cosine(query, c)
        if not selected:
            scores[i] = relevance
        else:
            redundancy = max(_cosine(c, candidates[s]) for s in selected)
            scores[i] = lam * relevance - (1 - lam) * redundancy
    return scores


def _reference_mmr(
    query: list[float], candidates: list[list[float]], k: int, lam: float
) -> list[int]:
    selected: list[int] = []
    while len(selected) < min(k, len(candidates)):
        scores = _reference_scores(query, candidates, selected, lam)
        selected.append(max(scores, key=lambda i: (scores[i], -i)))
    return selected


# Small integers: exact ties (duplicates, zero vectors, parallel vectors) are common.
_component = st.integers(min_value=-3, max_value=3).map(float)


@st.composite
def _problems(draw: st.DrawFn) -> tuple[list[float], list[list[float]], int, float]:
    dims = draw(st.integers(min_value=1, max_value=4))
    vector = st.lists(_component, min_size=dims, max_size=dims)
    query = draw(vector)
    candidates = draw(st.lists(vector, max_size=8))
    k = draw(st.integers(min_value=1, max_value=10))
    lam = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0)))
    return query, candidates, k, lam


@settings(max_examples=300, deadline=None)
@given(_problems())
def test_matches_the_reference(problem: tuple[list[float], list[list[float]], int, float]) -> None:
    query, candidates, k, lam = problem
    got = mmr(query, candidates, k=k, lambda_mult=lam)
    assert len(got) == min(k, len(candidates))
    assert len(set(got)) == len(got)
    # Replay the selection: each pick must be a best one by the formula (up to
    # rounding), and no lower index may have been clearly better.
    for step, pick in enumerate(got):
        scores = _reference_scores(query, candidates, got[:step], lam)
        assert pick in scores
        assert scores[pick] >= max(scores.values()) - 1e-9
        assert all(scores[i] <= scores[pick] + 1e-9 for i in scores if i < pick)
    # Where no two scores are within rounding of each other, the sequence is the
    # reference's exactly.
    expected = _reference_mmr(query, candidates, k, lam)
    if got != expected:
        step = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
        scores = _reference_scores(query, candidates, got[:step], lam)
        assert abs(scores[got[step]] - scores[expected[step]]) <= 1e-9


@settings(max_examples=100, deadline=None)
@given(_problems())
def test_lambda_one_sorts_by_relevance(
    problem: tuple[list[float], list[list[float]], int, float],
) -> None:
    query, candidates, k, _ = problem
    got = mmr(query, candidates, k=k, lambda_mult=1.0)
    relevance = [_cosine(query, c) for c in candidates]
    assert all(relevance[a] >= relevance[b] - 1e-9 for a, b in itertools.pairwise(got))
    rest = set(range(len(candidates))) - set(got)
    assert all(relevance[got[-1]] >= relevance[i] - 1e-9 for i in rest) if got else not rest
