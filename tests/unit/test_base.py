from __future__ import annotations

import pytest

from redis_docstore import DocumentStore, InvalidQueryError
from redis_docstore.base import CACHE_SIZE


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
    return store._search_spec(**{**defaults, **options})  # type: ignore[arg-type]


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
    assert len(store._spec_cache) <= CACHE_SIZE
