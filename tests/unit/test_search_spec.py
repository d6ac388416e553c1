from __future__ import annotations

from typing import Any

import pytest

from redis_docstore import DocumentStore, InvalidQueryError
from redis_docstore._ops import search
from redis_docstore._ops.state import CACHE_SIZE


class Tiny:
    dims = 2

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def spec_of(store: DocumentStore, **options: object) -> object:
    defaults: dict[str, object] = dict(
        genre=None, genres_all=None, exclude_genres=None, where=None, k=10, offset=0,
        max_distance=None, text=None, text_mode="boost", alpha=0.7, mmr_lambda=None,
        fetch_k=None, ef_runtime=None,
    )  # fmt: skip
    return search.spec(store._state, **{**defaults, **options})  # type: ignore[arg-type]


def test_search_specs_are_cached_per_shape() -> None:
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    first = spec_of(store, genre=["a", "b"], k=5)
    assert spec_of(store, genre=["a", "b"], k=5) is first
    assert spec_of(store, genre=["a", "b"], k=6) is not first
    assert spec_of(store, genre=["a"], k=5) is not first


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ({"k": 1}, {"k": True}),
        ({"offset": 0}, {"offset": False}),
        ({"ef_runtime": 1}, {"ef_runtime": True}),
    ],
)
def test_a_cached_spec_never_lets_an_equal_invalid_value_through(
    good: dict[str, object], bad: dict[str, object]
) -> None:
    store = DocumentStore("redis://localhost:1", embedder=Tiny())
    spec_of(store, **good)
    with pytest.raises(InvalidQueryError):
        spec_of(store, **bad)


def test_the_spec_cache_is_bounded() -> None:
    store = DocumentStore("redis://localhost:1", embedder=Tiny())
    for i in range(CACHE_SIZE + 10):
        spec_of(store, k=i + 1)
    assert len(store._state.spec_cache) <= CACHE_SIZE


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 10_001}, "k must be at most 10,000"),
        ({"k": 10, "offset": 9_995}, "offset \\+ k must be at most 10,000"),
        ({"k": 10, "mmr_lambda": 0.5, "fetch_k": 20_000}, "fetch_k must be at most 10,000"),
        ({"k": 10, "text": "dogs", "fetch_k": 10**9}, "fetch_k must be at most 10,000"),
        ({"k": 10, "fetch_k": 50}, "fetch_k applies to text="),
    ],
)
def test_one_search_asks_for_at_most_max_results(options: dict[str, object], message: str) -> None:
    from redis_docstore._commands.search import MAX_RESULTS

    assert MAX_RESULTS == 10_000  # the documented bound
    store = DocumentStore("redis://localhost:1", embedder=Tiny())
    with pytest.raises(InvalidQueryError, match=message):
        spec_of(store, **options)
    assert spec_of(store, k=MAX_RESULTS) is not None
    assert spec_of(store, k=5_000, offset=5_000) is not None


def test_a_query_timeout_puts_a_time_limit_on_vector_searches_and_reads_them_as_resp3() -> None:
    plain = DocumentStore("redis://localhost:1", embedder=Tiny())
    limited = DocumentStore("redis://localhost:1", embedder=Tiny(), query_timeout=0.25)
    for store, timeout, protocol in ((plain, 0, 2), (limited, 250, 3)):
        for options in ({}, {"max_distance": 0.5}, {"mmr_lambda": 0.5}):
            spec: Any = spec_of(store, **options)
            command = spec.command([1.0, 0.0])
            assert command[command.index("TIMEOUT") + 1] == timeout
            assert spec.protocol == protocol


@pytest.mark.parametrize("bad", [0, -1, True, "1", float("nan"), 10**6])
def test_query_timeout_must_be_a_positive_number_of_seconds(bad: object) -> None:
    from redis_docstore import ValidationError

    with pytest.raises(ValidationError, match="query_timeout"):
        DocumentStore("redis://localhost:1", embedder=Tiny(), query_timeout=bad)  # type: ignore[arg-type]
