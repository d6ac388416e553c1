"""The search and document API, run against the sync AND the async store.

Every scenario gets ``api``: a DocumentStore, or an AsyncDocumentStore seen
through a thin adapter that runs each coroutine on one event loop. Both hold
the 300 documents of fixtures/library.jsonl, embedded once per session.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from redis_docstore import (
    AsyncDocumentStore,
    DefaultEmbedder,
    Document,
    DocumentNotFoundError,
    DocumentStore,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    Num,
    Tag,
    Text,
    ValidationError,
)
from redis_docstore.testing import StoreNames

LIBRARY = Path(__file__).parents[2] / "fixtures" / "library.jsonl"
METADATA_FIELDS = {"author": "tag", "year": "numeric", "rating": "numeric", "language": "tag"}


@pytest.fixture(scope="session")
def library(embedder: DefaultEmbedder) -> list[Document]:
    """The fixture library, with embeddings computed once per session."""
    rows = [orjson.loads(line) for line in LIBRARY.read_bytes().splitlines() if line.strip()]
    vectors = embedder.embed_many([row["content"] for row in rows])
    return [Document(**row, embedding=v) for row, v in zip(rows, vectors, strict=True)]


class AsyncAdapter:
    """Calls an AsyncDocumentStore's methods synchronously, on one event loop."""

    def __init__(self, store: AsyncDocumentStore, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name == "iter_documents":
            return lambda **kw: iter(self.loop.run_until_complete(_collect(attr(**kw))))
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: self.loop.run_until_complete(attr(*a, **kw))
        return attr


async def _collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


def open_api(
    kind: str, url: str, names: StoreNames, embedder: Any, **options: Any
) -> Iterator[Any]:
    """Yield a sync store or an adapted async store; close it afterwards."""
    options = {"index": names.index, "prefix": names.prefix, "embedder": embedder, **options}
    if kind == "sync":
        with DocumentStore(url, **options) as store:
            yield store
        return
    loop = asyncio.new_event_loop()
    store = AsyncDocumentStore(url, **options)
    try:
        yield AsyncAdapter(store, loop)
    finally:
        loop.run_until_complete(store.close())
        loop.close()


@pytest.fixture(params=["sync", "async"])
def api(
    request: pytest.FixtureRequest,
    redis_stack_url: str,
    store_names: StoreNames,
    embedder: DefaultEmbedder,
    library: list[Document],
) -> Iterator[Any]:
    """A store (sync or async) holding the library, with metadata fields declared."""
    for store in open_api(
        request.param, redis_stack_url, store_names, embedder, metadata_fields=METADATA_FIELDS
    ):
        store.add(library)
        yield store


def ids_where(library: list[Document], predicate: Callable[[Document], bool]) -> set[str]:
    return {d.id for d in library if predicate(d)}  # type: ignore[misc]


def all_ids(api: Any, **filters: Any) -> set[str]:
    return {d.id for d in api.iter_documents(**filters)}


# -- genre filters -----------------------------------------------------------------


def test_genre_any_all_none(api: Any, library: list[Document]) -> None:
    cases: list[tuple[dict[str, Any], Callable[[Document], bool]]] = [
        ({"genre": "fantasy"}, lambda d: "fantasy" in d.genres),
        (
            {"genre": ["mystery", "true crime"]},
            lambda d: {"mystery", "true crime"} & set(d.genres),
        ),
        (
            {"genres_all": ["science fiction", "mystery"]},
            lambda d: {"science fiction", "mystery"} <= set(d.genres),
        ),
        ({"exclude_genres": ["science fiction"]}, lambda d: "science fiction" not in d.genres),
        (
            {"genre": ["children's books", "nature documentary"], "exclude_genres": ["history"]},
            lambda d: (
                bool({"children's books", "nature documentary"} & set(d.genres))
                and "history" not in d.genres
            ),
        ),
        ({"genre": "jazz & blues"}, lambda d: "jazz & blues" in d.genres),
        ({"genre": "sci-fi comedy"}, lambda d: "sci-fi comedy" in d.genres),
    ]
    for filters, predicate in cases:
        expected = ids_where(library, predicate)
        assert expected, filters
        assert api.count(**filters) == len(expected), filters
        assert all_ids(api, **filters) == expected, filters
        hits = api.search("a story", k=len(expected) + 5, **filters)
        assert {h.id for h in hits} == expected, filters


def test_empty_genre_filters_are_errors(api: Any) -> None:
    for filters in ({"genre": []}, {"genres_all": []}, {"exclude_genres": []}, {"genre": " "}):
        with pytest.raises(InvalidGenreError):
            api.search("x", **filters)
        with pytest.raises(InvalidGenreError):
            api.count(**filters)


# -- metadata filters ----------------------------------------------------------------


def test_metadata_filters(api: Any, library: list[Document]) -> None:
    meta = lambda d: d.metadata or {}  # noqa: E731
    author = meta(library[0])["author"]
    cases: list[tuple[Any, Callable[[Document], bool]]] = [
        (Tag("author") == author, lambda d: meta(d)["author"] == author),
        (Num("year") >= 2000, lambda d: meta(d)["year"] >= 2000),
        (Num("year").between(1990, 1999), lambda d: 1990 <= meta(d)["year"] <= 1999),
        (Num("rating") > 4.5, lambda d: meta(d)["rating"] > 4.5),
        (Tag("language") != "en", lambda d: meta(d)["language"] != "en"),
        (
            (Tag("genre") == "cooking") & (Num("year") < 2000),
            lambda d: "cooking" in d.genres and meta(d)["year"] < 2000,
        ),
        (
            (Tag("genre") == "romance") | (Num("rating") <= 1.5),
            lambda d: "romance" in d.genres or meta(d)["rating"] <= 1.5,
        ),
        (~(Tag("language") == "en"), lambda d: meta(d)["language"] != "en"),
        (Num("year").is_in([1999, 2001]), lambda d: meta(d)["year"] in (1999, 2001)),
        (Text("content").has_words("dragon"), lambda d: "dragon" in d.content.lower()),
    ]
    for where, predicate in cases:
        expected = ids_where(library, predicate)
        assert expected, where
        assert api.count(where=where) == len(expected), where
        assert all_ids(api, where=where) == expected, where
        hits = api.search("anything at all", k=len(expected) + 3, where=where)
        assert {h.id for h in hits} == expected, where


def test_undeclared_and_mistyped_fields_are_errors(api: Any, library: list[Document]) -> None:
    with pytest.raises(InvalidFilterError, match="rating_count"):
        api.search("x", where=Num("rating_count") > 1)
    with pytest.raises(InvalidFilterError, match="author"):
        api.count(where=Num("author") > 1)
    with pytest.raises(InvalidFilterError):
        api.count(where="@year:[1 2]")
    # Undeclared metadata still round-trips.
    doc = api.get(library[0].id)
    assert doc is not None and doc.metadata == library[0].metadata


# -- distance threshold, similarity, paging ------------------------------------------


@pytest.mark.parametrize(
    "query", ["a detective solves a murder", "a dragon guarding its treasure"]
)
def test_max_distance_is_a_range_query(
    api: Any, library: list[Document], embedder: Any, query: str
) -> None:
    q = np.array(embedder.embed_many([query])[0], dtype=np.float32)
    vectors = np.array([d.embedding for d in library], dtype=np.float32)
    distances = ((vectors - q) ** 2).sum(axis=1)
    radius = float(np.sort(distances)[12])
    hits = api.search(query, k=100, max_distance=radius)
    expected = {library[i].id for i in np.flatnonzero(distances <= radius)}
    assert {h.id for h in hits} == expected
    assert all(h.distance <= radius + 1e-5 for h in hits)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert api.search(query, k=100, max_distance=0.0) == []


def test_paging_through_search_results(api: Any) -> None:
    full = api.search("ancient history of empires", k=30, ef_runtime=200)
    pages = [
        api.search("ancient history of empires", k=10, offset=o, ef_runtime=200)
        for o in (0, 10, 20)
    ]
    assert [h.id for page in pages for h in page] == [h.id for h in full]


def test_listing_and_iterating_in_id_order(api: Any, library: list[Document]) -> None:
    expected = sorted(d.id for d in library if "fantasy" in d.genres)  # type: ignore[type-var]
    first = api.list_documents(genre="fantasy", limit=20)
    second = api.list_documents(genre="fantasy", offset=20, limit=20)
    rest = api.list_documents(genre="fantasy", offset=40, limit=100)
    assert [d.id for d in first + second + rest] == expected
    iterated = list(api.iter_documents(genre="fantasy", batch_size=7))
    assert [d.id for d in iterated] == expected
    by_id = {d.id: d for d in library}
    assert all(d.content == by_id[d.id].content for d in iterated)
    assert len(list(api.iter_documents(batch_size=64))) == len(library)


# -- facets ----------------------------------------------------------------------------


def test_genre_facets(api: Any, library: list[Document]) -> None:
    expected: dict[str, int] = {}
    for d in library:
        for g in d.genres:
            expected[g] = expected.get(g, 0) + 1
    facets = api.genres()
    assert facets == expected
    assert list(facets.values()) == sorted(facets.values(), reverse=True)
    since_2000: dict[str, int] = {}
    for d in library:
        if (d.metadata or {})["year"] >= 2000:
            for g in d.genres:
                since_2000[g] = since_2000.get(g, 0) + 1
    assert api.genres(where=Num("year") >= 2000) == since_2000


# -- batch search ------------------------------------------------------------------------


def test_search_many_equals_one_by_one(api: Any) -> None:
    queries = ["a dog story", "how to bake bread", "jazz in new orleans", "space travel"]
    many = api.search_many(queries, k=5, genre=["cooking", "children's books", "jazz & blues"])
    single = [
        api.search(q, k=5, genre=["cooking", "children's books", "jazz & blues"]) for q in queries
    ]
    assert [[h.id for h in hits] for hits in many] == [[h.id for h in hits] for hits in single]
    for a, b in zip(many, single, strict=True):
        assert [h.distance for h in a] == pytest.approx([h.distance for h in b], abs=1e-6)


class CountingEmbedder:
    """The session model, counting the texts it embeds (to prove what is not re-embedded)."""

    def __init__(self, inner: DefaultEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dims = inner.dims
        self.calls: list[int] = []

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return self.inner.embed_many(texts)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_search_many_is_one_model_batch_and_one_round_trip(
    kind: str, redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> None:
    counting = CountingEmbedder(embedder)
    for api in open_api(kind, redis_stack_url, store_names, counting):
        api.add([Document(content=f"text number {i}", genre="g") for i in range(20)])
        store = api if kind == "sync" else api.store
        sent: list[int] = []
        original = store._runner._send

        def counting_send(effect: Any, original: Any = original, sent: list[int] = sent) -> Any:
            sent.append(len(effect.commands))
            return original(effect)

        store._runner._send = counting_send
        counting.calls.clear()
        results = api.search_many([f"query {i}" for i in range(8)], k=3)
        assert len(results) == 8 and all(len(r) == 3 for r in results)
        assert counting.calls == [8]
        assert sent == [8]  # 8 FT.SEARCH in one pipeline, one round trip


# -- updates and deletes -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_updates_reembed_only_new_content(
    kind: str, redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> None:
    counting = CountingEmbedder(embedder)
    for api in open_api(kind, redis_stack_url, store_names, counting):
        (doc_id,) = api.add([Document(content="A happy dog", genre="pets", metadata={"v": 1})])
        before = api.get(doc_id)
        counting.calls.clear()
        updated = api.update(doc_id, genre=["pets", "animals"], metadata={"v": 2})
        assert counting.calls == []
        assert updated.genre == ["pets", "animals"] and updated.metadata == {"v": 2}
        after = api.get(doc_id)
        # The indexed (float32) vector is unchanged; RedisJSON may print the
        # 17th significant digit of a float64 differently on each round trip.
        assert np.array_equal(
            np.array(after.embedding, dtype=np.float32),
            np.array(before.embedding, dtype=np.float32),
        )
        assert api.count("animals") == 1
        api.update(doc_id, content="Today is a sunny day")
        assert counting.calls == [1]
        changed = api.get(doc_id)
        assert changed.content == "Today is a sunny day"
        assert changed.genre == ["pets", "animals"]
        assert changed.embedding != before.embedding
        (hit,) = api.search("sunny weather", k=1)
        assert hit.id == doc_id
        with pytest.raises(DocumentNotFoundError, match="missing"):
            api.update("missing", genre="x")
        with pytest.raises(ValidationError):
            api.update(doc_id)
        with pytest.raises(InvalidGenreError):
            api.update(doc_id, genre=[])
        assert api.get(doc_id).genre == ["pets", "animals"]


def test_delete_by_filter(api: Any, library: list[Document]) -> None:
    doomed = ids_where(
        library, lambda d: "cooking" in d.genres and (d.metadata or {})["year"] < 1990
    )
    assert doomed
    where = (Tag("genre") == "cooking") & (Num("year") < 1990)
    assert api.delete(where=where) == len(doomed)
    assert api.count() == len(library) - len(doomed)
    assert all(api.get(i) is None for i in doomed)
    assert api.count(where=where) == 0
    with pytest.raises(ValidationError):
        api.delete()
    with pytest.raises(ValidationError):
        api.delete(["a"], where=where)


# -- hybrid, MMR, completeness, explain ----------------------------------------------------


def test_hybrid_text_and_vector(api: Any, library: list[Document]) -> None:
    required = api.search("a journey", k=10, text="dragon", text_mode="require")
    with_word = ids_where(library, lambda d: "dragon" in d.content.lower())
    assert required and {h.id for h in required} <= with_word
    assert all(h.score is not None for h in required)
    assert [h.score for h in required] == sorted((h.score for h in required), reverse=True)
    # Boosting re-ranks the fetch_k nearest: with all 300 as candidates, the
    # word lifts the dragon stories above nearer documents without it.
    boosted = api.search("a journey", k=10, text="dragon", alpha=0.3, fetch_k=300)
    plain = api.search("a journey", k=10)
    assert sum(h.id in with_word for h in boosted) > sum(h.id in with_word for h in plain)
    hostile = api.search("a journey", k=5, text='x) | (* "@content:{y} -z', text_mode="boost")
    assert len(hostile) == 5
    with pytest.raises(InvalidQueryError):
        api.search("x", text="the a of")


def test_mmr_diversifies(api: Any) -> None:
    plain = api.search("a dog", k=5)
    relevant = api.search("a dog", k=5, mmr_lambda=1.0, fetch_k=30)
    assert [h.id for h in relevant] == [h.id for h in plain]
    diverse = api.search("a dog", k=5, mmr_lambda=0.2, fetch_k=30)
    assert len(diverse) == 5 and len({h.id for h in diverse}) == 5
    assert [h.id for h in diverse] != [h.id for h in plain]
    assert diverse[0].id == plain[0].id

    def spread(hits: list[Any]) -> float:
        vectors = np.array([api.get(h.id).embedding for h in hits])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        sims = vectors @ vectors.T
        return float(sims[np.triu_indices(len(hits), 1)].mean())

    assert spread(diverse) < spread(plain)
    with pytest.raises(InvalidQueryError):
        api.search("a dog", mmr_lambda=1.5)


def test_small_filtered_sets_are_complete(api: Any, library: list[Document]) -> None:
    rare = ids_where(library, lambda d: "sci-fi comedy" in d.genres)
    hits = api.search("a cookbook", k=50, genre="sci-fi comedy", ef_runtime=1)
    assert {h.id for h in hits} == rare
    pets = ids_where(library, lambda d: "fantasy" in d.genres)
    hits = api.search("a cookbook", k=10, genre="fantasy", ef_runtime=1)
    assert len(hits) == 10 and {h.id for h in hits} <= pets


def test_explain_shows_the_escaped_query(api: Any) -> None:
    line = api.explain("x", k=3, genre=["sci-fi comedy", "a|b"], where=Num("year") >= 2000)
    assert line.startswith("FT.SEARCH ")
    assert "@genre:{sci\\\\-fi\\\\ comedy|a\\\\|b}" in line or "sci\\-fi\\ comedy" in line
    assert "KNN 3 @embedding $vector" in line
    assert "<1536 bytes>" in line


def test_cosine_similarity_on_hits(
    redis_stack_url: str,
    store_names: StoreNames,
    embedder: DefaultEmbedder,
    library: list[Document],
) -> None:
    for store in open_api("sync", redis_stack_url, store_names, embedder, distance="cosine"):
        store.add(library[:50])
        hits = store.search("a murder mystery", k=10)
        for hit in hits:
            assert hit.similarity is not None and 0.0 <= hit.similarity <= 1.0
            assert hit.similarity == pytest.approx(1 - hit.distance / 2)
        assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)


def test_info(api: Any, library: list[Document]) -> None:
    info = api.info()
    assert info["documents"] == len(library)
    assert info["indexing_failures"] == 0
    assert info["indexing_complete"] is True
    assert info["embedder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["bytes_per_document_sample"] > 384 * 4
    assert info["schema"]["year"]["type"] == "NUMERIC"


def test_tag_metadata_lists_and_wrong_types(
    redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> None:
    for store in open_api(
        "sync",
        redis_stack_url,
        store_names,
        embedder,
        metadata_fields={"tags": "tag", "n": "numeric"},
    ):
        store.add(
            [
                Document(
                    content="one", genre="g", id="a", metadata={"tags": ["x", "y z"], "n": 1}
                ),
                Document(content="two", genre="g", id="b", metadata={"tags": "y z"}),
                Document(content="three", genre="g", id="c", metadata={}),
            ]
        )
        assert {d.id for d in store.iter_documents(where=Tag("tags") == "y z")} == {"a", "b"}
        assert store.count(where=Tag("tags") == "x") == 1
        assert store.count(where=Num("n") >= 0) == 1
        assert store.count() == 3  # a document without the field is still indexed
        with pytest.raises(ValidationError, match="must be a number"):
            store.add([Document(content="four", genre="g", metadata={"n": "5"})])
        assert store.info()["indexing_failures"] == 0
