"""The bad-input catalogue, write path and query path, against a real Redis Stack.

Every case is a typed error raised before anything is written (the store's
prefix then holds nothing but its ``<prefix>::meta`` hash, or the documents it
held before, unchanged), or the exact right result. A property test adds
arbitrary unicode genres: each is refused with ``InvalidGenreError`` (nothing
written) or matches exactly itself and none of its near-misses.
"""

from __future__ import annotations

import decimal
import math
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from redis_docstore import (
    DocstoreError,
    Document,
    DocumentNotFoundError,
    DocumentStore,
    InvalidDocumentError,
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    ValidationError,
)
from redis_docstore._embeddings import FLOAT32_MAX
from redis_docstore._filters.conditions import Tag
from redis_docstore.testing import StoreNames

NAN, INF = float("nan"), float("inf")
VECTOR = [1.0, 0.0, 0.0, 1.0]


class Tiny:
    """A deterministic 4-dim embedder: storage and filters are under test, not meaning."""

    dims = 4

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), float(t.count("e")), 1.0] for t in texts]


@pytest.fixture
def make_store(
    redis_stack_url: str, store_names: StoreNames
) -> Iterator[Callable[..., DocumentStore]]:
    """Open the test's store (created: its meta hash exists), with options."""
    opened: list[DocumentStore] = []

    def make(**options: Any) -> DocumentStore:
        store = DocumentStore(
            redis_stack_url,
            index=store_names.index,
            prefix=store_names.prefix,
            embedder=Tiny(),
            **options,
        )
        opened.append(store)
        store.create()
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., DocumentStore]) -> DocumentStore:
    return make_store(metadata_fields={"author": "tag"})


def stored(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under the prefix but the meta hash, with its raw JSON."""
    keys = sorted(
        k.decode()
        for k in client.scan_iter(match=f"{prefix}:*", count=1000)
        if k.decode() != f"{prefix}::meta"
    )
    return {k: client.execute_command("JSON.GET", k) for k in keys}


@dataclass(frozen=True)
class Case:
    name: str
    value: Any
    error: type[DocstoreError]


def cases(*items: Case) -> Any:
    return pytest.mark.parametrize("case", items, ids=[c.name for c in items])


# -- write path: one bad document in a batch writes nothing ---------------------------------

BAD_EMBEDDINGS = [
    Case("dims-1", [1.0, 2.0, 3.0], InvalidEmbeddingError),
    Case("dims+1", [1.0, 2.0, 3.0, 4.0, 5.0], InvalidEmbeddingError),
    Case("empty", [], InvalidEmbeddingError),
    Case("NaN", [1.0, NAN, 0.0, 1.0], InvalidEmbeddingError),
    Case("+Inf", [1.0, INF, 0.0, 1.0], InvalidEmbeddingError),
    Case("-Inf", [1.0, -INF, 0.0, 1.0], InvalidEmbeddingError),
    Case("beyond float32", [1.0, 3.5e38, 0.0, 1.0], InvalidEmbeddingError),
    Case("beyond -float32", [1.0, -3.5e38, 0.0, 1.0], InvalidEmbeddingError),
    Case("int beyond float", [10**400, 0, 0, 1], InvalidEmbeddingError),
    Case("string element", ["1.0", 0.0, 0.0, 1.0], InvalidEmbeddingError),
    Case("bool element", [True, 0.0, 0.0, 1.0], InvalidEmbeddingError),
    Case("None element", [None, 0.0, 0.0, 1.0], InvalidEmbeddingError),
    Case("nested list", [[1.0], 0.0, 0.0, 1.0], InvalidEmbeddingError),
    Case("complex element", [1j, 0.0, 0.0, 1.0], InvalidEmbeddingError),
    Case("Decimal element", [decimal.Decimal("1.5"), 0.0, 0.0, 1.0], InvalidEmbeddingError),
    Case("a string", "1.0 0 0 1", InvalidEmbeddingError),
    Case("bytes", b"\x00" * 16, InvalidEmbeddingError),
    Case("a generator", (x for x in VECTOR), InvalidEmbeddingError),
    Case(
        "a dict (its keys are not a vector)",
        {0: 1.0, 1: 0.0, 2: 0.0, 3: 1.0},
        InvalidEmbeddingError,
    ),
    Case("a set (unordered)", {1.0, 2.0, 3.0, 4.0}, InvalidEmbeddingError),
    Case("numpy 2-d", np.ones((1, 4)), InvalidEmbeddingError),
    Case("numpy bool", np.array([True, False, False, True]), InvalidEmbeddingError),
    Case("numpy object", np.array([1.0, "a", 0.0, 1.0], dtype=object), InvalidEmbeddingError),
    Case("numpy NaN", np.array([1.0, NAN, 0.0, 1.0]), InvalidEmbeddingError),
]

BAD_GENRES = [
    Case("empty", "", InvalidGenreError),
    Case("space", " ", InvalidGenreError),
    Case("tab", "\t", InvalidGenreError),
    Case("leading space", " drama", InvalidGenreError),
    Case("trailing space", "drama ", InvalidGenreError),
    Case("trailing newline", "drama\n", InvalidGenreError),
    Case("leading no-break space", "\u00a0drama", InvalidGenreError),
    Case("NUL inside", "dra\x00ma", InvalidGenreError),
    Case("unit separator (the tag separator)", "dra\x1fma", InvalidGenreError),
    Case("DEL", "dra\x7fma", InvalidGenreError),
    Case("NEL (C1 control)", "dra\x85ma", InvalidGenreError),
    Case("lone surrogate", "dra\ud800ma", InvalidGenreError),
    Case("None", None, InvalidGenreError),
    Case("int", 5, InvalidGenreError),
    Case("float", 2.5, InvalidGenreError),
    Case("bytes", b"drama", InvalidGenreError),
    Case("empty list", [], InvalidGenreError),
    Case("list with empty", ["ok", ""], InvalidGenreError),
    Case("list with None", ["ok", None], InvalidGenreError),
    Case("list with int", ["ok", 5], InvalidGenreError),
    Case("list with surrogate", ["ok", "\udfff"], InvalidGenreError),
    Case("nested list", [["drama"]], InvalidGenreError),
    Case("set", {"drama"}, InvalidGenreError),
    Case("dict", {"drama": 1}, InvalidGenreError),
]

BAD_IDS = [
    Case("empty", "", InvalidDocumentError),
    Case("key separator", "a:b", InvalidDocumentError),
    Case("the meta key's id", ":meta", InvalidDocumentError),
    Case("glob *", "a*", InvalidDocumentError),
    Case("glob ?", "a?", InvalidDocumentError),
    Case("glob [", "a[1]", InvalidDocumentError),
    Case("glob ]", "a]", InvalidDocumentError),
    Case("backslash", "a\\b", InvalidDocumentError),
    Case("space inside", "a b", InvalidDocumentError),
    Case("leading space", " a", InvalidDocumentError),
    Case("newline", "a\n", InvalidDocumentError),
    Case("NUL", "a\x00", InvalidDocumentError),
    Case("lone surrogate", "a\ud800", InvalidDocumentError),
    Case("int", 5, InvalidDocumentError),
    Case("bytes", b"a", InvalidDocumentError),
    Case("513 characters", "x" * 513, InvalidDocumentError),
]

BAD_CONTENTS = [
    Case("empty", "", InvalidDocumentError),
    Case("whitespace", " \n\t", InvalidDocumentError),
    Case("None", None, InvalidDocumentError),
    Case("int", 5, InvalidDocumentError),
    Case("bytes", b"text", InvalidDocumentError),
    Case("list", ["text"], InvalidDocumentError),
    Case("lone high surrogate", "text \ud800", InvalidDocumentError),
    Case("lone low surrogate", "\udfff text", InvalidDocumentError),
]

BAD_METADATA = [
    Case("not a mapping", "author=ann", InvalidDocumentError),
    Case("a set value", {"s": {1}}, InvalidDocumentError),
    Case("an int key", {1: "one"}, InvalidDocumentError),
    Case("NaN value", {"f": NAN}, InvalidDocumentError),
    Case("Inf value", {"f": INF}, InvalidDocumentError),
    Case("int beyond 64 bits", {"i": 2**64}, InvalidDocumentError),
    Case("lone surrogate value", {"k": "\ud800"}, InvalidDocumentError),
    Case("lone surrogate key", {"\ud800": 1}, InvalidDocumentError),
    Case("indexed tag not a string", {"author": 5}, InvalidDocumentError),
]


def good(i: int) -> Document:
    return Document(f"good document {i}", "g", id=f"good{i}", embedding=[float(i), 1.0, 0.0, 1.0])


def assert_batch_writes_nothing(
    store: DocumentStore, client: redis.Redis, prefix: str, bad: Any, error: type[Exception]
) -> None:
    batch = [good(0), good(1), bad, good(3)]
    with pytest.raises(error) as info:
        store.add(batch)
    assert isinstance(info.value, ValidationError)
    assert info.value.position == 2
    assert stored(client, prefix) == {}


@cases(*BAD_EMBEDDINGS)
def test_bad_embedding_writes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    bad = Document("bad", "g", id="bad", embedding=case.value)
    assert_batch_writes_nothing(store, redis_client, store_names.prefix, bad, case.error)


@cases(
    Case("all zeros", [0.0, 0.0, 0.0, 0.0], InvalidEmbeddingError),
    Case("negative zeros", [-0.0, 0.0, -0.0, 0.0], InvalidEmbeddingError),
    Case("numpy zeros", np.zeros(4, dtype=np.float32), InvalidEmbeddingError),
)
def test_all_zero_embedding_under_cosine_writes_nothing(
    make_store: Callable[..., DocumentStore],
    redis_client: redis.Redis,
    store_names: StoreNames,
    case: Case,
) -> None:
    store = make_store(distance="cosine")
    bad = Document("bad", "g", id="bad", embedding=case.value)
    assert_batch_writes_nothing(store, redis_client, store_names.prefix, bad, case.error)


@cases(*BAD_GENRES)
def test_bad_genre_writes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    bad = Document("bad", case.value, id="bad", embedding=VECTOR)
    assert_batch_writes_nothing(store, redis_client, store_names.prefix, bad, case.error)


@cases(*BAD_IDS)
def test_bad_id_writes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    bad = Document("bad", "g", id=case.value, embedding=VECTOR)
    assert_batch_writes_nothing(store, redis_client, store_names.prefix, bad, case.error)


@cases(*BAD_CONTENTS)
def test_bad_content_writes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    bad = Document(case.value, "g", id="bad", embedding=VECTOR)
    assert_batch_writes_nothing(store, redis_client, store_names.prefix, bad, case.error)


@cases(*BAD_METADATA)
def test_bad_metadata_writes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    bad = Document("bad", "g", id="bad", embedding=VECTOR, metadata=case.value)
    assert_batch_writes_nothing(store, redis_client, store_names.prefix, bad, case.error)


def test_not_a_document_writes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames
) -> None:
    bad = {"content": "a dict, not a Document", "genre": "g"}
    assert_batch_writes_nothing(store, redis_client, store_names.prefix, bad, InvalidDocumentError)


@cases(
    Case(
        "NaN embedding", Document("bad", "g", id="bad", embedding=[NAN, 0, 0, 1]), ValidationError
    ),
    Case("lone surrogate genre", Document("bad", "\ud800", id="bad"), InvalidGenreError),
    Case(
        "lone surrogate metadata", Document("bad", "g", metadata={"k": "\ud800"}), ValidationError
    ),
)
def test_a_bad_document_late_in_a_large_batch_writes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    """Several write batches (500 documents each): the bad one is found before the first."""
    batch = [good(i) for i in range(1200)]
    batch[1100] = case.value
    with pytest.raises(case.error) as info:
        store.add(batch)
    assert info.value.position == 1100
    assert stored(redis_client, store_names.prefix) == {}


# -- write path: update ---------------------------------------------------------------------


@cases(
    Case("genre empty", {"genre": ""}, InvalidGenreError),
    Case("genre empty list", {"genre": []}, InvalidGenreError),
    Case("genre int", {"genre": 5}, InvalidGenreError),
    Case("genre control character", {"genre": "a\x00b"}, InvalidGenreError),
    Case("genre lone surrogate", {"genre": "a\ud800"}, InvalidGenreError),
    Case("content empty", {"content": "  "}, InvalidDocumentError),
    Case("content int", {"content": 5}, InvalidDocumentError),
    Case("content lone surrogate", {"content": "x\udfff"}, InvalidDocumentError),
    Case("metadata not a mapping", {"metadata": [1, 2]}, InvalidDocumentError),
    Case("metadata set", {"metadata": {"s": {1}}}, InvalidDocumentError),
    Case("metadata lone surrogate", {"metadata": {"k": "\ud800"}}, InvalidDocumentError),
    Case("nothing to change", {}, ValidationError),
)
def test_bad_update_changes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    store.add(Document("original text", ["a", "b"], id="u1", metadata={"author": "ann"}))
    before = stored(redis_client, store_names.prefix)
    with pytest.raises(case.error):
        store.update("u1", **case.value)
    assert stored(redis_client, store_names.prefix) == before


@cases(
    Case("id with separator", "a:b", InvalidDocumentError),
    Case("id with glob", "u*", InvalidDocumentError),
    Case("empty id", "", InvalidDocumentError),
    Case("missing id", "nope", DocumentNotFoundError),
)
def test_update_of_a_bad_or_missing_id_changes_nothing(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    store.add(Document("original text", "a", id="u1"))
    before = stored(redis_client, store_names.prefix)
    with pytest.raises(case.error):
        store.update(case.value, genre="b")
    assert stored(redis_client, store_names.prefix) == before


# -- query path: typed errors, nothing sent that writes ---------------------------------------

BAD_QUERIES: list[Case] = [
    Case("vector dims-1", lambda s: s.search([1.0, 0.0, 1.0]), InvalidEmbeddingError),
    Case("vector dims+1", lambda s: s.search([1.0, 0.0, 1.0, 0.0, 1.0]), InvalidEmbeddingError),
    Case("vector empty", lambda s: s.search([]), InvalidEmbeddingError),
    Case("vector NaN", lambda s: s.search([1.0, NAN, 0.0, 1.0]), InvalidEmbeddingError),
    Case("vector +Inf", lambda s: s.search([1.0, INF, 0.0, 1.0]), InvalidEmbeddingError),
    Case("vector beyond float32", lambda s: s.search([3.5e38, 0, 0, 1]), InvalidEmbeddingError),
    Case("vector strings", lambda s: s.search(["1", "0", "0", "1"]), InvalidEmbeddingError),
    Case("vector None elements", lambda s: s.search([None] * 4), InvalidEmbeddingError),
    Case("vector nested", lambda s: s.search([[1.0, 0.0, 0.0, 1.0]]), InvalidEmbeddingError),
    Case("vector numpy NaN", lambda s: s.search(np.full(4, NAN)), InvalidEmbeddingError),
    Case(
        "vector a dict",
        lambda s: s.search({0: 1.0, 1: 0.0, 2: 0.0, 3: 1.0}),
        InvalidEmbeddingError,
    ),
    Case("vector a set", lambda s: s.search({1.0, 2.0, 3.0, 4.0}), InvalidEmbeddingError),
    Case("vector None", lambda s: s.search(None), InvalidEmbeddingError),
    Case(
        "many: one NaN vector", lambda s: s.search_many([VECTOR, [NAN] * 4]), InvalidEmbeddingError
    ),
    Case("text empty", lambda s: s.search(""), InvalidQueryError),
    Case("text whitespace", lambda s: s.search(" \n"), InvalidQueryError),
    Case("k = 0", lambda s: s.search(VECTOR, k=0), InvalidQueryError),
    Case("k = -1", lambda s: s.search(VECTOR, k=-1), InvalidQueryError),
    Case("k = 1.5", lambda s: s.search(VECTOR, k=1.5), InvalidQueryError),
    Case("k = True", lambda s: s.search(VECTOR, k=True), InvalidQueryError),
    Case("k = '3'", lambda s: s.search(VECTOR, k="3"), InvalidQueryError),
    Case("k = None", lambda s: s.search(VECTOR, k=None), InvalidQueryError),
    Case("offset = -1", lambda s: s.search(VECTOR, offset=-1), InvalidQueryError),
    Case("list limit = 0", lambda s: s.list_documents(limit=0), InvalidQueryError),
    Case("iter batch_size = 0", lambda s: list(s.iter_documents(batch_size=0)), InvalidQueryError),
    Case("genre []", lambda s: s.search(VECTOR, genre=[]), InvalidGenreError),
    Case("genre ''", lambda s: s.search(VECTOR, genre=""), InvalidGenreError),
    Case("genre ' '", lambda s: s.search(VECTOR, genre=" "), InvalidGenreError),
    Case("genre ['']", lambda s: s.search(VECTOR, genre=[""]), InvalidGenreError),
    Case("genre ['ok', None]", lambda s: s.search(VECTOR, genre=["ok", None]), InvalidGenreError),
    Case("genre 5", lambda s: s.search(VECTOR, genre=5), InvalidGenreError),
    Case("genre control char", lambda s: s.search(VECTOR, genre="a\x00"), InvalidGenreError),
    Case("genre untrimmed", lambda s: s.search(VECTOR, genre="drama "), InvalidGenreError),
    Case("genre lone surrogate", lambda s: s.search(VECTOR, genre="\ud800"), InvalidGenreError),
    Case("genres_all []", lambda s: s.search(VECTOR, genres_all=[]), InvalidGenreError),
    Case("exclude_genres []", lambda s: s.search(VECTOR, exclude_genres=[]), InvalidGenreError),
    Case("count genre []", lambda s: s.count([]), InvalidGenreError),
    Case("count genre ''", lambda s: s.count(""), InvalidGenreError),
    Case("count genre surrogate", lambda s: s.count("a\udfff"), InvalidGenreError),
    Case("count genres_all []", lambda s: s.count(genres_all=[]), InvalidGenreError),
    Case("genres() filter []", lambda s: s.genres(genre=[]), InvalidGenreError),
    Case("list genre []", lambda s: s.list_documents(genre=[]), InvalidGenreError),
    Case("iter genre ''", lambda s: s.iter_documents(genre=""), InvalidGenreError),
    Case("where not a Filter", lambda s: s.count(where="@genre:{x}"), InvalidFilterError),
    Case(
        "where undeclared field", lambda s: s.count(where=Tag("nope") == "x"), InvalidFilterError
    ),
    Case(
        "where tag surrogate", lambda s: s.count(where=Tag("author") == "\ud800"), ValidationError
    ),
    Case("hybrid text surrogate", lambda s: s.search(VECTOR, text="a\ud800"), InvalidQueryError),
    Case("delete neither", lambda s: s.delete(), ValidationError),
    Case("delete glob id", lambda s: s.delete("*"), InvalidDocumentError),
    Case("delete empty id", lambda s: s.delete([""]), InvalidDocumentError),
    Case("get separator id", lambda s: s.get("a:b"), InvalidDocumentError),
    Case("get None", lambda s: s.get(None), InvalidDocumentError),
]


@cases(*BAD_QUERIES)
def test_bad_query_is_a_typed_error(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, case: Case
) -> None:
    with pytest.raises(case.error):
        case.value(store)
    assert stored(redis_client, store_names.prefix) == {}


@cases(
    Case("vector all zeros", [0.0, 0.0, 0.0, 0.0], InvalidEmbeddingError),
    Case("vector negative zeros", [-0.0, -0.0, 0.0, 0.0], InvalidEmbeddingError),
)
def test_all_zero_query_under_cosine_is_a_typed_error(
    make_store: Callable[..., DocumentStore],
    redis_client: redis.Redis,
    store_names: StoreNames,
    case: Case,
) -> None:
    store = make_store(distance="cosine")
    with pytest.raises(case.error):
        store.search(case.value)
    assert stored(redis_client, store_names.prefix) == {}


# -- the exact right result -------------------------------------------------------------------


def test_duplicate_ids_in_one_batch_last_wins(store: DocumentStore) -> None:
    ids = store.add(
        [
            Document("first version", "a", id="same", embedding=VECTOR),
            Document("other", "b", id="other", embedding=VECTOR),
            Document("last version", "c", id="same", embedding=[2.0, 0.0, 0.0, 1.0]),
        ]
    )
    assert ids == ["same", "other", "same"]
    doc = store.get("same")
    assert doc is not None
    assert (doc.content, doc.genre, doc.embedding) == ("last version", "c", [2.0, 0.0, 0.0, 1.0])
    assert store.count() == 2
    assert store.count("a") == 0


def test_colliding_ids_are_one_document(store: DocumentStore) -> None:
    (hashed,) = store.add(Document("some text", "a"))  # the id is a hash of the content
    store.add(Document("replaced", "b", id=hashed))
    store.add(Document("replaced again", "c", id=hashed))
    assert store.count() == 1
    doc = store.get(hashed)
    assert doc is not None and (doc.content, doc.genre) == ("replaced again", "c")
    # Ids differ by case: two documents.
    store.add([Document("upper", "g", id="Doc"), Document("lower", "g", id="doc")])
    assert store.count("g") == 2


@pytest.mark.parametrize(
    "doc_id", ["日本語", "{braces}", "émoji-🎬", "dots.and-dashes_1", "x" * 512, "meta"]
)
def test_unusual_valid_ids_round_trip(store: DocumentStore, doc_id: str) -> None:
    store.add(Document("text", "g", id=doc_id, embedding=VECTOR))
    doc = store.get(doc_id)
    assert doc is not None and doc.id == doc_id
    assert [h.id for h in store.search(VECTOR, k=5)] == [doc_id]
    assert store.delete(doc_id) == 1
    assert store.count() == 0


@pytest.mark.parametrize(
    "content",
    ["a\x00b", "tab\there", "line\nbreak", "unit\x1fsep\x07bell", "日本語 ✓ 🎬", "x" * 100_000],
)
def test_unusual_valid_content_round_trips(store: DocumentStore, content: str) -> None:
    store.add(Document(content, "g", id="c", embedding=VECTOR))
    doc = store.get("c")
    assert doc is not None and doc.content == content
    (hit,) = store.search(VECTOR, k=1)
    assert hit.content == content


def test_duplicate_genres_are_stored_once(store: DocumentStore) -> None:
    store.add(Document("text", ["a", "b", "a"], id="d"))
    doc = store.get("d")
    assert doc is not None and doc.genre == ["a", "b"]
    store.add(Document("text", ("t1", "t2"), id="t"))  # a tuple is a list of genres
    assert store.count("t2") == 1


def accepted_and_exact(store: DocumentStore, client: redis.Redis, prefix: str, genre: str) -> None:
    """A genre the store accepts matches itself only; one it refuses writes nothing."""
    try:
        store.add(Document("target", genre, id="target", embedding=VECTOR))
    except InvalidGenreError:
        assert f"{prefix}:target" not in stored(client, prefix)
        with pytest.raises(InvalidGenreError):
            store.count(genre)  # the filter refuses what the write refuses
        return
    doc = store.get("target")
    assert doc is not None and doc.genre == genre
    assert store.count(genre) == 1
    hits = store.search(VECTOR, k=10, genre=genre)
    assert [h.id for h in hits] == ["target"]
    assert hits[0].genres == (genre,)


@pytest.mark.parametrize(
    "genre",
    [
        "drama, comedy",  # a comma: one genre, not two
        "a,b",
        ",",
        "g" * 1024,  # the store's limit: 1024 UTF-8 bytes
        "é" * 512,  # 1024 UTF-8 bytes
        "g" * 1025,  # refused (RediSearch stores tags over 4096 bytes that never match)
        "é" * 2049,  # 4098 UTF-8 bytes: refused
    ],
    ids=[
        "comma-space",
        "comma",
        "only-comma",
        "1024-bytes",
        "1024-bytes-unicode",
        "1025-bytes",
        "4098-bytes-unicode",
    ],
)
def test_a_genre_round_trips_or_is_rejected(
    store: DocumentStore, redis_client: redis.Redis, store_names: StoreNames, genre: str
) -> None:
    store.add([Document("decoy", ["drama", "comedy", "a", "b", "g"], id="decoy")])
    accepted_and_exact(store, redis_client, store_names.prefix, genre)
    if "," in genre:
        for part in genre.split(","):
            if part.strip():
                assert store.count(part.strip()) == 1  # only the decoy


def test_an_embedding_at_the_float32_limit_can_be_updated(store: DocumentStore) -> None:
    # The very edge of float32 does not survive RedisJSON's printing (it comes
    # back a hair above FLOAT32_MAX), so it is refused up front...
    with pytest.raises(InvalidEmbeddingError, match="finite float32"):
        store.add(Document("edge", "a", id="edge", embedding=[FLOAT32_MAX, 0.0, 0.0, 1.0]))
    # ... while values just inside it round-trip and stay updatable.
    edge = [FLOAT32_MAX * 0.999, -FLOAT32_MAX * 0.999, 1e-45, 1.0]
    store.add(Document("edge", "a", id="edge", embedding=edge))
    doc = store.get("edge")
    assert doc is not None and doc.embedding is not None
    assert np.array_equal(np.float32(doc.embedding), np.float32(edge))
    updated = store.update("edge", genre="b")  # keeps the stored embedding
    assert updated.genre == ["b"]
    assert store.count("b") == 1


def test_metadata_floats_round_trip_to_the_last_ulp(store: DocumentStore) -> None:
    """Short floats and every int come back exactly; 17-digit floats within 2 ulp.

    RedisJSON 2.8 prints floats with at most ~16 significant digits and does not
    always parse 17 correctly; the README states this limit.
    """
    exact = {"z": 0.1, "rating": 4.5, "big": 2**63 - 1, "neg": -7}
    long = {"x": 1.5833568572998047, "y": 123456789.12345679}
    store.add(Document("text", "g", id="m", metadata={**exact, **long}, embedding=VECTOR))
    for metadata in (store.get("m").metadata, store.search(VECTOR, k=1)[0].metadata):  # type: ignore[union-attr]
        assert {k: metadata[k] for k in exact} == exact
        for key, value in long.items():
            assert abs(metadata[key] - value) <= 2 * math.ulp(value)


def test_k_beyond_the_corpus_returns_everything(store: DocumentStore) -> None:
    store.add(
        [Document(f"text {i}", "g", id=f"d{i}", embedding=[1.5 * i, 0, 0, 1]) for i in range(3)]
    )
    assert [h.id for h in store.search(VECTOR, k=50)] == ["d1", "d0", "d2"]
    assert [h.id for h in store.search(VECTOR, k=50, genre="g")] == ["d1", "d0", "d2"]
    # Past RediSearch's own limit of results: still a typed error, never a raw one.
    try:
        hits = store.search(VECTOR, k=10**7)
    except DocstoreError:
        pass
    else:
        assert len(hits) == 3


# -- injection probes ---------------------------------------------------------------------------

PROBES = [
    "drama} | @genre:{x",
    "x) | (*",
    "*",
    "$p",
    "w'*'",
    "trailing\\",
    "\\",
    "drama|x",
    "-drama",
    "@genre:{drama}",
    '"drama"',
    "drama*",
    "%drama%",
    "~drama",
    "(drama)",
    "{drama}",
    "$",
    "'",
    "_",
    "`",
    "a;b",
    ":",
    "drama -x",
]
DECOYS = ["drama", "x", "p", "w", "trailing", "Drama", "comedy", "a", "b"]


def test_injection_probes_match_only_the_literal_value(store: DocumentStore) -> None:
    store.add(
        [Document(f"decoy {d}", d, id=f"decoy{i}", embedding=VECTOR) for i, d in enumerate(DECOYS)]
    )
    # Before any document has them, each probe matches nothing (never everything).
    for probe in PROBES:
        assert store.count(probe) == 0, probe
        assert store.search(VECTOR, k=50, genre=probe) == [], probe
        assert store.count(exclude_genres=[probe]) == len(DECOYS), probe
    store.add(
        [Document(f"probe {p}", p, id=f"probe{i}", embedding=VECTOR) for i, p in enumerate(PROBES)]
    )
    total = len(DECOYS) + len(PROBES)
    for i, probe in enumerate(PROBES):
        assert store.count(probe) == 1, probe
        hits = store.search(VECTOR, k=50, genre=probe)
        assert [h.id for h in hits] == [f"probe{i}"], probe
        assert hits[0].genres == (probe,)
        assert store.count(genres_all=[probe]) == 1, probe
        assert store.count(exclude_genres=[probe]) == total - 1, probe
        assert [d.id for d in store.list_documents(genre=probe)] == [f"probe{i}"], probe
    assert store.count(PROBES[:3]) == 3
    assert store.genres() == {g: 1 for g in sorted([*DECOYS, *PROBES])}


# -- property: arbitrary unicode genres ------------------------------------------------------


def near_misses(genre: str) -> set[str]:
    """Genres close to ``genre`` that must not match it (case, normalization, affixes)."""
    variants = {
        genre.upper(),
        genre.lower(),
        genre.capitalize(),
        genre.title(),
        genre.swapcase(),
        genre.casefold(),
        genre + "x",
        "x" + genre,
        genre[:-1],
        genre[1:],
        genre + genre,
        genre + "*",
        *(unicodedata.normalize(form, genre) for form in ("NFC", "NFD", "NFKC", "NFKD")),
    }
    variants.discard(genre)
    return {v for v in variants if v}


@pytest.fixture
def property_store(redis_stack_url: str, store_names: StoreNames) -> Iterator[DocumentStore]:
    with DocumentStore(
        redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=Tiny()
    ) as s:
        s.create()
        yield s


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    genre=st.one_of(
        st.text(max_size=24),  # anything, many of them refused
        st.text(st.characters(exclude_categories=("Cc", "Cs", "Z")), min_size=1, max_size=24),
    )
)
def test_any_unicode_genre_matches_exactly_itself(
    property_store: DocumentStore,
    redis_client: redis.Redis,
    store_names: StoreNames,
    genre: str,
) -> None:
    store = property_store
    assert store.count() == 0
    ids = ["target"]
    try:
        try:
            store.add(Document("target", genre, id="target", embedding=VECTOR))
        except InvalidGenreError:
            event("refused")
            assert stored(redis_client, store_names.prefix) == {}
            with pytest.raises(InvalidGenreError):
                store.count(genre)
            return
        event("accepted")
        decoys = []
        for n, variant in enumerate(sorted(near_misses(genre))):
            try:
                store.add(Document("decoy", variant, id=f"decoy{n}", embedding=VECTOR))
            except InvalidGenreError:
                continue
            decoys.append(variant)
            ids.append(f"decoy{n}")
        assert store.count(genre) == 1
        hits = store.search(VECTOR, k=len(ids) + 1, genre=genre)
        assert [h.id for h in hits] == ["target"]
        assert hits[0].genres == (genre,)
        doc = store.get("target")
        assert doc is not None and doc.genre == genre
        for variant in decoys:
            assert store.count(variant) == 1, variant
    finally:
        store.delete(ids)


def test_near_misses_are_near() -> None:
    """The property's decoys include case and normalization variants."""
    assert {"Drama", "DRAMA", "dramax", "xdrama", "dram"} <= near_misses("drama")
    assert unicodedata.normalize("NFD", "é") in near_misses("é")
