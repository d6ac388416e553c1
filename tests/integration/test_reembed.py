"""Model migration: reembed() builds a new generation and switches the alias."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import redis

from redis_docstore import Document, DocumentStore, SchemaMismatchError
from redis_docstore.testing import StoreNames


class Letters:
    """A 4-dim embedder counting letters (the 'old model')."""

    name = "letters-v1"
    dims = 4

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), float(t.count("e")), 1.0] for t in texts]


class Vowels:
    """A 3-dim embedder (the 'new model', other dims)."""

    name = "vowels-v2"
    dims = 3

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(t.count("o")), float(t.count("i")), 1.0] for t in texts]


DOCS = [
    Document(content=f"document {'o' * i}{'i' * (9 - i)}", genre=["g", f"g{i % 3}"], id=f"d{i}")
    for i in range(10)
]


def keys(client: redis.Redis, pattern: str) -> set[str]:
    return {k.decode() for k in client.scan_iter(match=pattern, count=1000)}


def test_reembed_switches_to_a_complete_new_generation(
    redis_stack_url: str, store_names: StoreNames, redis_client: redis.Redis
) -> None:
    names = {"index": store_names.index, "prefix": store_names.prefix}
    with DocumentStore(redis_stack_url, embedder=Letters(), **names) as store:
        store.add(DOCS)
        assert store.reembed(Vowels(), batch_size=3) == len(DOCS)
        assert store.count() == len(DOCS)
        assert store.count("g1") == 3
        doc = store.get("d4")
        assert doc is not None and doc.embedding == [5.0, 5.0, 1.0]  # "document" has an o
        assert doc.genre == ["g", "g1"]
        (hit,) = store.search([10.0, 0.0, 1.0], k=1)
        assert hit.id == "d9"
        # The old generation's keys are gone; the new ones carry the documents.
        assert keys(redis_client, f"{store_names.prefix}:*") == {f"{store_names.prefix}::meta"}
        assert len(keys(redis_client, f"{store_names.prefix}.v2:*")) == len(DOCS)
        info = store.info()
        assert info["physical_index"] == f"{store_names.index}.v2"
        assert info["embedder"] == "vowels-v2" and info["generation"] == 2

    # Reopening with the new model works; with the old one it is a typed error.
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as again:
        assert again.count() == len(DOCS)
        assert again.search([1.0, 9.0, 1.0], k=1)[0].id == "d0"
        again.add([Document(content="new one", genre="g", id="n1")])
        assert again.get("n1") is not None
    with (
        DocumentStore(redis_stack_url, embedder=Letters(), **names) as old,
        pytest.raises(SchemaMismatchError, match="embedder"),
    ):
        old.count()

    # A second migration moves the alias again, and drop cleans everything up.
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as store:
        assert store.reembed(Letters()) == len(DOCS) + 1
        assert store.info()["physical_index"] == f"{store_names.index}.v3"
        assert store.get("n1") is not None
        store.drop(delete_documents=True)
    leftovers = keys(redis_client, f"{store_names.prefix}*")
    assert leftovers == set()


def test_searches_during_reembed_use_the_old_index(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    names = {"index": store_names.index, "prefix": store_names.prefix}
    with DocumentStore(redis_stack_url, embedder=Letters(), **names) as store:
        store.add(DOCS)
        observer = DocumentStore(redis_stack_url, embedder=Letters(), **names)
        seen: list[int] = []

        class Watching(Vowels):
            def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
                # Mid-migration, another client still sees every document.
                seen.append(observer.count())
                return super().embed_many(texts)

        with observer:
            store.reembed(Watching(), batch_size=4)
        assert seen == [len(DOCS)] * 3
