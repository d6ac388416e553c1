"""DocumentStore against a real Redis Stack (see redis_docstore.testing)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import redis

from redis_docstore import (
    DefaultEmbedder,
    Document,
    DocumentStore,
    InvalidDocumentError,
    InvalidEmbeddingError,
    InvalidGenreError,
    InvalidQueryError,
    SchemaMismatchError,
    StoreConnectionError,
    ValidationError,
)
from redis_docstore.testing import StoreNames

DOCS_PAGE = [
    Document(content="That is a very happy person", genre="persons"),
    Document(content="That is a happy dog", genre="pets"),
    Document(content="Today is a sunny day", genre="weather"),
]
# L2 distances printed by the Redis docs page for "That is a happy person".
PAGE_DISTANCES = [0.114169985056, 0.610845386982, 1.48624813557]


class TinyEmbedder:
    """A deterministic 4-dim embedder for tests about storage, not meaning."""

    dims = 4

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), float(t.count("e")), 1.0] for t in texts]


def keys_under(client: redis.Redis, prefix: str) -> list[str]:
    """Document keys under a prefix (the store's one meta hash left out)."""
    keys = (k.decode() for k in client.scan_iter(match=f"{prefix}:*", count=1000))
    return sorted(k for k in keys if k != f"{prefix}::meta")


@pytest.fixture
def tiny_store(redis_stack_url: str, store_names: StoreNames) -> Iterator[DocumentStore]:
    with DocumentStore(
        redis_stack_url,
        index=store_names.index,
        prefix=store_names.prefix,
        embedder=TinyEmbedder(),
    ) as s:
        yield s


def test_docs_page_example(store: DocumentStore) -> None:
    store.add(DOCS_PAGE)
    hits = store.search("That is a happy person", k=3)
    assert [h.content for h in hits] == [d.content for d in DOCS_PAGE]
    assert [h.genres for h in hits] == [("persons",), ("pets",), ("weather",)]
    for hit, expected in zip(hits, PAGE_DISTANCES, strict=True):
        assert isinstance(hit.distance, float)
        assert hit.distance == pytest.approx(expected, abs=1e-5)


def test_docs_page_filtered(store: DocumentStore) -> None:
    store.add(DOCS_PAGE)
    hits = store.search("That is a happy person", k=3, genre="pets")
    assert [h.content for h in hits] == ["That is a happy dog"]
    assert hits[0].distance == pytest.approx(PAGE_DISTANCES[1], abs=1e-5)
    both = store.search("That is a happy person", k=3, genre=["pets", "weather"])
    assert [h.content for h in both] == ["That is a happy dog", "Today is a sunny day"]


def test_distances_match_numpy(store: DocumentStore, embedder: DefaultEmbedder) -> None:
    store.add(DOCS_PAGE)
    query = "That is a happy person"
    vectors = np.array(embedder.embed_many([d.content for d in DOCS_PAGE]), dtype=np.float32)
    q = np.array(embedder.embed_many([query])[0], dtype=np.float32)
    expected = sorted(((vectors - q) ** 2).sum(axis=1).tolist())
    assert [h.distance for h in store.search(query, k=3)] == pytest.approx(expected, abs=1e-5)


def test_metadata_and_several_genres_round_trip(store: DocumentStore) -> None:
    metadata = {
        "author": "Ann",
        "year": 2024,
        "score": 0.5,
        "tags": ["a", None, True, {"deep": [1, 2.25]}],
        "unicode": "日本 ✓",
        "empty": {},
    }
    (doc_id,) = store.add(
        [Document(content="A dog in space", genre=["pets", "sci-fi"], metadata=metadata)]
    )
    got = store.get(doc_id)
    assert got is not None
    assert got.content == "A dog in space"
    assert got.genre == ["pets", "sci-fi"]
    assert got.metadata == metadata
    assert got.embedding is not None and len(got.embedding) == 384
    (hit,) = store.search("dog", k=5, genre="sci-fi")
    assert hit.id == doc_id
    assert hit.genres == ("pets", "sci-fi")
    assert hit.metadata == metadata
    assert store.count("pets") == store.count("sci-fi") == 1


def test_stored_as_one_json_object(
    tiny_store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames
) -> None:
    tiny_store.add([Document(content="abc", genre=["x", "y"], id="one", metadata={"k": 1})])
    assert keys_under(redis_client, store_names.prefix) == [f"{store_names.prefix}:one"]
    assert redis_client.type(f"{store_names.prefix}:one") == b"ReJSON-RL"
    # Beside the documents: one hash recording the index's embedder.
    assert redis_client.hgetall(f"{store_names.prefix}::meta") == {
        b"embedder": b"TinyEmbedder",
        b"dims": b"4",
        b"prefix": store_names.prefix.encode(),
        b"generation": b"1",
        b"id_scheme": b"content+genres",
    }
    assert redis_client.json().get(f"{store_names.prefix}:one") == {
        "content": "abc",
        "genre": ["x", "y"],
        "embedding": [3.0, 1.0, 0.0, 1.0],
        "metadata": {"k": 1},
    }


def test_add_is_an_idempotent_upsert(tiny_store: DocumentStore) -> None:
    first = tiny_store.add(DOCS_PAGE)
    second = tiny_store.add(DOCS_PAGE)
    assert first == second
    assert len(set(first)) == 3
    assert tiny_store.count() == 3


def test_ids_in_input_order_and_caller_ids(tiny_store: DocumentStore) -> None:
    ids = tiny_store.add(
        [
            Document(content="b", genre="g", id="zeta"),
            Document(content="a", genre="g"),
            Document(content="c", genre="g", id="alpha"),
        ]
    )
    assert ids[0] == "zeta" and ids[2] == "alpha"
    assert len(ids[1]) == 32
    doc = tiny_store.get("zeta")
    assert doc is not None and doc.content == "b"


def test_upsert_by_id_replaces_the_document(tiny_store: DocumentStore) -> None:
    tiny_store.add([Document(content="old", genre="a", id="d1", metadata={"v": 1})])
    tiny_store.add([Document(content="new text", genre="b", id="d1")])
    doc = tiny_store.get("d1")
    assert doc is not None
    assert (doc.content, doc.genre, doc.metadata) == ("new text", "b", {})
    assert tiny_store.count() == 1
    assert tiny_store.count("a") == 0


def test_duplicate_ids_in_one_batch_last_wins(tiny_store: DocumentStore) -> None:
    ids = tiny_store.add(
        [
            Document(content="first", genre="a", id="same"),
            Document(content="last", genre="b", id="same"),
        ]
    )
    assert ids == ["same", "same"]
    doc = tiny_store.get("same")
    assert doc is not None and doc.content == "last"
    assert tiny_store.count() == 1


def test_supplied_embeddings_are_kept(tiny_store: DocumentStore) -> None:
    vector = [0.25, -1.5, 3.0, 1e-7]
    tiny_store.add([Document(content="x", genre="g", id="v", embedding=np.array(vector))])
    doc = tiny_store.get("v")
    assert doc is not None and doc.embedding == vector
    (hit,) = tiny_store.search(vector, k=1)
    assert hit.id == "v"
    assert hit.distance == pytest.approx(0.0, abs=1e-9)


BAD_DOCUMENTS = [
    (Document(content="", genre="a"), InvalidDocumentError),
    (Document(content="c", genre=""), InvalidGenreError),
    (Document(content="c", genre=[]), InvalidGenreError),
    (Document(content="c", genre=None), InvalidGenreError),  # type: ignore[arg-type]
    (Document(content="c", genre="a", embedding=[1.0, 2.0, 3.0]), InvalidEmbeddingError),
    (
        Document(content="c", genre="a", embedding=[1.0, 2.0, 3.0, float("nan")]),
        InvalidEmbeddingError,
    ),
    (Document(content="c", genre="a", embedding=[1.0, 2.0, 3.0, "4"]), InvalidEmbeddingError),  # type: ignore[list-item]
    (Document(content="c", genre="a", id="x:y"), InvalidDocumentError),
    (Document(content="c", genre="a", metadata={"s": {1}}), InvalidDocumentError),
]


@pytest.mark.parametrize(("bad", "error"), BAD_DOCUMENTS)
def test_one_bad_document_writes_nothing(
    tiny_store: DocumentStore,
    redis_client: redis.Redis,
    store_names: StoreNames,
    bad: Document,
    error: type[ValidationError],
) -> None:
    batch = [Document(content=f"good {i}", genre="g") for i in range(5)]
    batch.insert(3, bad)
    with pytest.raises(error) as info:
        tiny_store.add(batch)
    assert info.value.position == 3
    assert keys_under(redis_client, store_names.prefix) == []


class BrokenEmbedder(TinyEmbedder):
    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = super().embed_many(texts)
        vectors[-1][0] = float("inf")
        return vectors


def test_a_bad_embedder_writes_nothing(
    redis_stack_url: str, store_names: StoreNames, redis_client: redis.Redis
) -> None:
    with (
        DocumentStore(
            redis_stack_url,
            index=store_names.index,
            prefix=store_names.prefix,
            embedder=BrokenEmbedder(),
        ) as s,
        pytest.raises(InvalidEmbeddingError, match="finite"),
    ):
        s.add([Document(content="a", genre="g"), Document(content="b", genre="g")])
    assert keys_under(redis_client, store_names.prefix) == []


TRICKY_GENRES = [
    "sci-fi",
    "sci fi",
    "scifi",
    "drama} | @genre:{x",
    "x) | (*",
    "*",
    "$p",
    "w'*'",
    "trailing\\",
    "a|b",
    "a",
    "b",
    "drama, comedy",
    "drama",
    "{braces}",
    "Pets",
    "pets",
    "Ünïcödé",
    "ünïcödé",
    "日本語",
    "emoji 🎬",
]


def test_tricky_genres_match_exactly_themselves(tiny_store: DocumentStore) -> None:
    tiny_store.add(
        [Document(content=f"doc {i}", genre=g, id=f"g{i}") for i, g in enumerate(TRICKY_GENRES)]
    )
    for i, genre in enumerate(TRICKY_GENRES):
        assert tiny_store.count(genre) == 1, genre
        hits = tiny_store.search([1.0, 0.0, 0.0, 1.0], k=len(TRICKY_GENRES), genre=genre)
        assert [h.id for h in hits] == [f"g{i}"], genre
        assert hits[0].genres == (genre,)
    assert tiny_store.count(["a|b", "*"]) == 2
    assert tiny_store.count("nonexistent") == 0


def test_empty_genre_filters_are_errors(tiny_store: DocumentStore) -> None:
    tiny_store.add(DOCS_PAGE)
    for bad in ([], "", " "):
        with pytest.raises(InvalidGenreError):
            tiny_store.search("x", genre=bad)
        with pytest.raises(InvalidGenreError):
            tiny_store.count(bad)


def test_query_errors(tiny_store: DocumentStore) -> None:
    tiny_store.add(DOCS_PAGE)
    with pytest.raises(InvalidQueryError):
        tiny_store.search("x", k=0)
    with pytest.raises(InvalidQueryError):
        tiny_store.search("   ")
    with pytest.raises(InvalidEmbeddingError):
        tiny_store.search([1.0, 2.0])
    with pytest.raises(InvalidEmbeddingError):
        tiny_store.search([1.0, 2.0, float("nan"), 0.0])


def test_get_delete_and_count(tiny_store: DocumentStore) -> None:
    ids = tiny_store.add(DOCS_PAGE)
    assert tiny_store.get("missing") is None
    assert tiny_store.delete([ids[0], "missing"]) == 1
    assert tiny_store.delete(ids[1]) == 1
    assert tiny_store.get(ids[0]) is None
    assert tiny_store.count() == 1
    assert tiny_store.count(["persons", "pets"]) == 0
    assert tiny_store.delete([]) == 0
    with pytest.raises(InvalidDocumentError):
        tiny_store.delete(["ok", "bad*"])
    assert tiny_store.count() == 1


@pytest.mark.parametrize(
    ("changed", "difference"),
    [
        ({"distance": "cosine"}, "embedding.distance"),
        ({"algorithm": "flat"}, "embedding.algorithm"),
        ({"prefix": "elsewhere"}, "prefixes"),
        ({"embedder": "dims8"}, "embedding.dims"),
    ],
)
def test_schema_drift_is_a_typed_error(
    redis_stack_url: str,
    store_names: StoreNames,
    changed: dict[str, object],
    difference: str,
) -> None:
    base = {"index": store_names.index, "prefix": store_names.prefix, "embedder": TinyEmbedder()}
    with DocumentStore(redis_stack_url, **base) as first:  # type: ignore[arg-type]
        first.add(DOCS_PAGE)
        first.create()  # idempotent
    if changed.get("embedder") == "dims8":
        eight = TinyEmbedder()
        eight.dims = 8
        changed = {"embedder": eight}
    other = DocumentStore(redis_stack_url, **{**base, **changed})  # type: ignore[arg-type]
    with other, pytest.raises(SchemaMismatchError, match=difference) as info:
        other.count()
    assert info.value.index == store_names.index
    assert any(difference in d for d in info.value.differences)
    # Nothing was dropped: the original store still sees its documents.
    with DocumentStore(redis_stack_url, **base) as again:  # type: ignore[arg-type]
        assert again.count() == 3


def test_overwrite_recreates_a_drifted_index(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    names = {"index": store_names.index, "prefix": store_names.prefix}
    with DocumentStore(redis_stack_url, embedder=TinyEmbedder(), **names) as first:
        first.add(DOCS_PAGE)
    with DocumentStore(
        redis_stack_url, embedder=TinyEmbedder(), distance="cosine", overwrite=True, **names
    ) as second:
        second.create()
        hits = second.search([1.0, 0.0, 0.0, 0.0], k=3)
        assert len(hits) == 3  # documents were kept and re-indexed
        assert all(0.0 <= h.distance <= 2.0 for h in hits)


@pytest.mark.parametrize("distance", ["l2", "cosine", "ip"])
def test_flat_index_is_exact(redis_stack_url: str, store_names: StoreNames, distance: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(200, 4)).astype(np.float32)
    if distance == "ip":
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = rng.normal(size=4).astype(np.float32)
    with DocumentStore(
        redis_stack_url,
        index=store_names.index,
        prefix=store_names.prefix,
        embedder=TinyEmbedder(),
        algorithm="flat",
        distance=distance,  # type: ignore[arg-type]
    ) as s:
        s.add(
            [
                Document(content=f"v{i}", genre="g", id=str(i), embedding=v)
                for i, v in enumerate(vectors)
            ]
        )
        hits = s.search(query.tolist(), k=10)
    if distance == "l2":
        exact = ((vectors - query) ** 2).sum(axis=1)
    elif distance == "cosine":
        exact = 1 - vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    else:
        exact = 1 - vectors @ query
    order = np.argsort(exact, kind="stable")[:10]
    assert [h.id for h in hits] == [str(i) for i in order]
    assert [h.distance for h in hits] == pytest.approx(exact[order].tolist(), abs=1e-5)


def test_drop_deletes_only_our_prefix(
    tiny_store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames
) -> None:
    tiny_store.add(DOCS_PAGE)
    neighbour = f"{store_names.prefix}tor:1"  # shares the prefix's letters, not its separator
    redis_client.set(neighbour, "keep me")
    try:
        tiny_store.drop(delete_documents=True)
        assert keys_under(redis_client, store_names.prefix) == []
        assert redis_client.get(neighbour) == b"keep me"
        assert tiny_store.count() == 0  # recreated on first use
    finally:
        redis_client.delete(neighbour)


def test_drop_keeping_documents(
    tiny_store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames
) -> None:
    tiny_store.add(DOCS_PAGE)
    tiny_store.drop(delete_documents=False)
    assert len(keys_under(redis_client, store_names.prefix)) == 3
    assert tiny_store.count() == 3  # the recreated index picks them up again


def test_unreachable_server_is_a_typed_error() -> None:
    with (
        DocumentStore("redis://127.0.0.1:1", embedder=TinyEmbedder()) as s,
        pytest.raises(StoreConnectionError),
    ):
        s.count()


def test_repr_never_shows_the_password() -> None:
    with DocumentStore("redis://user:s3cret-sentinel@127.0.0.1:1/0", embedder=TinyEmbedder()) as s:
        assert "s3cret-sentinel" not in repr(s)
        assert "s3cret-sentinel" not in s.url
        with pytest.raises(StoreConnectionError) as info:
            s.count()
        assert "s3cret-sentinel" not in str(info.value)


def test_floats_round_trip_to_the_last_bit_or_one_ulp(tiny_store: DocumentStore) -> None:
    """RedisJSON 2.8 parses some 17-digit doubles to a neighbouring value.

    Short floats (what metadata usually holds) come back exactly; a float
    that needs all 17 digits may come back one ulp off, and load() still
    recognises the document as unchanged.
    """
    short = {"rating": 4.5, "price": 19.99, "ratio": 0.1}
    tiny_store.add(Document(content="short floats", genre="g", id="s", metadata=short))
    doc = tiny_store.get("s")
    assert doc is not None and doc.metadata == short

    long = 1990.0780064134347
    tiny_store.add(Document(content="a long float", genre="g", id="l", metadata={"x": long}))
    doc = tiny_store.get("l")
    assert doc is not None
    back = doc.metadata["x"]  # type: ignore[index]
    assert abs(back - long) <= 2 * math.ulp(long)
    again = Document(content="a long float", genre="g", id="l", metadata={"x": long})
    report = tiny_store.load(again)
    assert report.unchanged == ["l"] and report.written == []


def test_load_keeps_the_last_version_of_a_repeated_id(tiny_store: DocumentStore) -> None:
    tiny_store.add(Document(content="old", genre="g", id="x"))
    report = tiny_store.load(
        [Document(content="old", genre="g", id="x"), Document(content="new", genre="g", id="x")]
    )
    assert report.written == ["x"] and report.unchanged == []
    doc = tiny_store.get("x")
    assert doc is not None and doc.content == "new"


def test_documents_redis_cannot_index_are_reported(
    tiny_store: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net behind validation: a document Redis stores but does not index
    (here a wrong-length vector, let through by a deliberately broken check) is an
    IndexingError naming it, never a silent gap in search results."""
    import numpy as np

    from redis_docstore import IndexingError
    from redis_docstore import _documents as documents_module

    tiny_store.add([Document(content="fine", genre="g", id="ok")])
    real = documents_module.validate_vector

    def lenient(vector: object, **kwargs: object) -> object:
        if kwargs.get("position") == 1:
            return np.ones(3)  # one value short: RediSearch refuses to index it
        return real(vector, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(documents_module, "validate_vector", lenient)
    monkeypatch.setattr(documents_module, "_python_vectors", lambda *a, **k: {})  # one by one
    with pytest.raises(IndexingError, match="could not index") as info:
        tiny_store.add(
            [
                Document(content="good", genre="g", id="a", embedding=[1.0, 0.0, 0.0, 1.0]),
                Document(content="bad", genre="g", id="b", embedding=[1.0, 0.0, 0.0, 1.0]),
            ]
        )
    assert info.value.ids == ["b"]
    assert tiny_store.get("b") is not None  # stored ...
    assert tiny_store.count() == 2  # ... but only "ok" and "a" are searchable


def test_per_call_writes_send_nothing_whose_cost_grows_with_the_index(
    tiny_store: DocumentStore, redis_stack_url: str
) -> None:
    """add, update, delete, get and search send only their own commands (plus an
    INKEYS check of the keys written): never FT.INFO, which walks the whole index."""
    tiny_store.add(Document(content="first", genre="g", id="d0"))  # opens the index
    admin = redis.Redis.from_url(redis_stack_url)
    admin.config_resetstat()
    for i in range(1, 21):
        tiny_store.add(Document(content=f"text {i}", genre="g", id=f"d{i}"))
    tiny_store.update("d3", genre=["g", "h"])
    tiny_store.update("d4", content="a new text")
    assert tiny_store.get("d5") is not None
    assert len(tiny_store.search("text", k=3, genre="g")) == 3
    assert tiny_store.delete(["d6", "d7"]) == 2
    calls = {
        name.removeprefix("cmdstat_").lower(): entry["calls"]
        for name, entry in admin.info("commandstats").items()
    }
    calls.pop("config|resetstat", None)
    calls.pop("info", None)
    assert "ft.info" not in calls, calls
    # 20 adds, the genre update's path write, the content update's two (content, embedding).
    assert calls["json.set"] == 20 + 1 + 2
    # One INKEYS check per write call, the search itself: nothing else searches.
    assert calls["ft.search"] == 22 + 1
    # Each write call (20 adds, 2 updates, 1 delete) reads the meta hash's generation and
    # migration flag (O(1)); so does the content update's read of the stored content.
    assert calls["hmget"] == 20 + 2 + 1 + 1


DUPLICATES = Path(__file__).parents[2] / "fixtures" / "duplicates.jsonl"


def test_the_same_text_under_other_genres_is_another_document(tiny_store: DocumentStore) -> None:
    """fixtures/duplicates.jsonl: texts listed under several categories, some rows twice,
    genres in either order, one price changed. Added without ids, nothing is merged
    that differs in content or genres, and re-adding it all changes nothing."""
    rows = [orjson.loads(line) for line in DUPLICATES.read_bytes().splitlines()]
    docs = [Document(**row) for row in rows]
    distinct = {(row["content"], frozenset(row["genre"])) for row in rows}
    assert len(distinct) > len({row["content"] for row in rows})  # what the fixture is for
    ids = tiny_store.add(docs)
    assert len(set(ids)) == len(distinct) == tiny_store.count()
    for genre in {g for row in rows for g in row["genre"]}:
        expected = sum(1 for _, genres in distinct if genre in genres)
        assert tiny_store.count(genre=genre) == expected, genre
    # Genres in another order are the same document; metadata is not part of the id:
    # the skillet listed at two prices is one document, at the price added last.
    birds = [
        i for i, row in zip(ids, rows, strict=True) if row["content"].startswith("A paperback")
    ]
    assert birds[1] == birds[2] != birds[0]
    skillet = {
        i for i, row in zip(ids, rows, strict=True) if row["content"].startswith("Cast iron")
    }
    (skillet_id,) = skillet
    stored = tiny_store.get(skillet_id)
    assert stored is not None and stored.metadata == {"price": 35}
    again = tiny_store.load(docs)  # resumable ingest: nothing written twice
    assert again.written == [] and sorted(again.unchanged) == sorted(set(ids))
    assert tiny_store.count() == len(distinct)


def test_a_store_created_with_the_content_id_scheme_keeps_it(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    from redis_docstore._documents import content_id
    from redis_docstore._ops.meta import meta_key

    options: dict[str, Any] = {
        "index": store_names.index, "prefix": store_names.prefix, "embedder": TinyEmbedder()
    }  # fmt: skip
    with DocumentStore(redis_stack_url, **options) as first:
        first.add(Document(content="first", genre="a"))
        assert first.info()["settings"]["id_scheme"] == "content+genres"
    with redis.Redis.from_url(redis_stack_url) as client:  # as a store made before the scheme
        client.hdel(meta_key(store_names.prefix), "id_scheme")
    with DocumentStore(redis_stack_url, **options) as old:
        ids = old.add([Document(content="same", genre="a"), Document(content="same", genre="b")])
        assert ids == [content_id("same")] * 2  # one document, as before
        assert old.count() == 2
        assert old.info()["settings"]["id_scheme"] == "content"


def test_a_search_cut_by_the_query_timeout_is_an_incomplete_results_error(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    """query_timeout bounds what one search may cost the shared server, and a search cut
    by it never passes for complete."""

    class Fixed:
        dims, name = 64, "fixed-64"

        def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
            return [[1.0] * 64 for _ in texts]

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((5_000, 64)).astype(np.float32)
    options: dict[str, Any] = {
        "index": store_names.index, "prefix": store_names.prefix, "embedder": Fixed(),
        "algorithm": "flat",
    }  # fmt: skip
    with DocumentStore(redis_stack_url, **options) as unbounded:
        unbounded.add(
            [
                Document(content=f"d{i}", genre="g", id=f"d{i}", embedding=v)
                for i, v in enumerate(vectors)
            ]
        )
        assert len(unbounded.search(vectors[0], k=5_000)) == 5_000  # TIMEOUT 0: complete
    with DocumentStore(redis_stack_url, query_timeout=0.001, **options) as bounded:
        from redis_docstore import IncompleteResultsError

        with pytest.raises(IncompleteResultsError, match="Timeout limit"):
            bounded.search(vectors[0], k=5_000)  # exact, 5,000 documents loaded: > 1 ms
