"""The labelled queries and the metrics of ``bench.hybrid_quality`` (no search runs)."""

from __future__ import annotations

import json
import math

import pytest

from bench.hybrid_quality import (
    LIBRARY,
    QUERIES,
    load_queries,
    markdown,
    methods,
    ndcg_at,
    recall_at,
    reciprocal_rank,
    scores,
)
from redis_docstore._commands.hybrid import query_words


def test_the_labelled_queries_name_library_documents() -> None:
    library = {json.loads(line)["id"] for line in LIBRARY.open(encoding="utf-8")}
    queries = load_queries(QUERIES)
    assert 20 <= len(queries) <= 40
    assert len({q.id for q in queries}) == len(queries)
    for q in queries:
        assert q.relevant and q.relevant <= library, q.id
        assert query_words(q.text) and query_words(q.query), q.id  # both usable as text=


def test_recall() -> None:
    relevant = frozenset({"a", "b"})
    assert recall_at(["a", "x", "b"], relevant, 2) == 0.5
    assert recall_at(["a", "x", "b"], relevant, 3) == 1.0
    assert recall_at([], relevant, 10) == 0.0


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["x", "y", "b"], frozenset({"b", "a"})) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a"], frozenset({"a"})) == 1.0
    assert reciprocal_rank(["x"] * 10 + ["a"], frozenset({"a"})) == 0.0  # beyond 10


def test_ndcg() -> None:
    relevant = frozenset({"a", "b"})
    assert ndcg_at(["a", "b", "x"], relevant) == 1.0
    assert ndcg_at(["b", "a"], relevant) == 1.0
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at(["x", "a", "b"], relevant) == pytest.approx((1 / math.log2(3) + 0.5) / ideal)
    assert ndcg_at(["x"], relevant) == 0.0


def test_scores_average_over_queries_and_the_table_shows_them() -> None:
    result = scores([(["a"], frozenset({"a"})), (["x", "b"], frozenset({"b"}))])
    assert result == pytest.approx(
        {"recall@5": 1.0, "recall@10": 1.0, "MRR": 0.75, "nDCG@10": (1 + 1 / math.log2(3)) / 2}
    )
    table = markdown([{"method": "m", "text": "-", **result}], queries=2, documents=3)
    assert "| m | - | 1.000 | 1.000 | 0.750 | 0.815 |" in table


def test_the_methods_include_the_defaults() -> None:
    listed = {(name, source): options for name, source, options in methods()}
    assert listed[("vector only", "")] == {}
    assert listed[("linear, alpha=0.7", "keywords")] == {"alpha": 0.7}
    assert listed[("RRF (rrf_k=60, weights 1:1)", "query")] == {"text_mode": "rrf"}
