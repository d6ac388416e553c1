"""Grouped search (search_groups) against the real server, checked by a numpy brute force.

The library (fixtures/library.jsonl, 300 documents) plus two documents of our own
(one with two authors, one with none) is stored on a FLAT index, whose KNN is
exact: every grouped search must equal grouping all matching documents by their
exact distance to the query.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import redis

from redis_docstore import (
    AsyncDocumentStore,
    DefaultEmbedder,
    Document,
    DocumentStore,
    Group,
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    Num,
    Tag,
)
from redis_docstore._cli.commands import main
from redis_docstore.testing import StoreNames, cleanup_store, new_store_names

LIBRARY = Path(__file__).parents[2] / "fixtures" / "library.jsonl"
FIELDS: dict[str, Any] = {"author": "tag", "year": "numeric"}
QUERIES = [
    "a detective solves a murder",
    "dragons and magic",
    "cooking pasta for a family",
    "a journey to the stars",
    "a love letter",
]
EXTRA = [
    Document(
        content="Two friends trade locked-room puzzles in an anthology of letters.",
        genre=["mystery", "history"],
        id="x-duo",
        metadata={"author": ["Helena Voss", "Silas Wren", "Helena Voss"], "year": 2001},
    ),
    Document(
        content="An anonymous pamphlet about a haunted lighthouse and its keeper.",
        genre="mystery",
        id="x-anon",
        metadata={"year": 1999},
    ),
]
Shown = list[tuple[str, list[str]]]


@pytest.fixture(scope="module")
def documents(embedder: DefaultEmbedder) -> list[Document]:
    """The library and EXTRA, embedded once."""
    rows = [orjson.loads(line) for line in LIBRARY.read_bytes().splitlines() if line.strip()]
    docs = [Document(**row) for row in rows] + EXTRA
    vectors = embedder.embed_many([d.content for d in docs])
    return [
        Document(d.content, d.genre, d.id, v, d.metadata)
        for d, v in zip(docs, vectors, strict=True)
    ]


@contextlib.contextmanager
def library_store(
    url: str, names: StoreNames, embedder: DefaultEmbedder, docs: list[Document], algorithm: str
) -> Iterator[DocumentStore]:
    options: dict[str, Any] = dict(
        index=names.index, prefix=names.prefix, embedder=embedder, algorithm=algorithm,
        metadata_fields=FIELDS,
    )  # fmt: skip
    with DocumentStore(url, **options) as store:
        store.add(docs)
        yield store


@pytest.fixture(scope="module")
def flat_names(redis_stack_url: str) -> Iterator[StoreNames]:
    names = new_store_names()
    yield names
    with redis.Redis.from_url(redis_stack_url) as client:
        cleanup_store(client, names)


@pytest.fixture(scope="module")
def flat(
    redis_stack_url: str,
    flat_names: StoreNames,
    embedder: DefaultEmbedder,
    documents: list[Document],
) -> Iterator[DocumentStore]:
    """A FLAT (exact KNN) store holding the documents; tests only read it."""
    with library_store(redis_stack_url, flat_names, embedder, documents, "flat") as store:
        yield store


@pytest.fixture(scope="module")
def stored(flat: DocumentStore) -> list[Document]:
    """The documents as the store holds them (embeddings at float32)."""
    docs = list(flat.iter_documents())
    assert len(docs) == 302
    return docs


@pytest.fixture(scope="module")
def vectors(embedder: DefaultEmbedder) -> list[list[float]]:
    return [list(v) for v in embedder.embed_many(QUERIES)]


def values_of(doc: Document, group_by: str) -> list[str]:
    if group_by == "genre":
        return list(doc.genres)
    value = (doc.metadata or {}).get(group_by)
    return [value] if isinstance(value, str) else list(dict.fromkeys(value or []))


def oracle(
    docs: Sequence[Document],
    vector: Sequence[float],
    *,
    group_by: str,
    limit: int,
    group_size: int,
    match: Callable[[Document], bool] = lambda d: True,
) -> list[tuple[str, list[tuple[str, float]]]]:
    """Every matching document by exact (squared L2) distance, grouped; the first groups."""
    rows = np.array([d.embedding for d in docs], dtype=np.float64)
    distances = ((rows - np.asarray(vector, dtype=np.float64)) ** 2).sum(axis=1)
    order = sorted(range(len(docs)), key=lambda i: (distances[i], docs[i].id))
    groups: dict[str, list[tuple[str, float]]] = {}
    for i in order:
        if match(docs[i]):
            for value in values_of(docs[i], group_by):
                groups.setdefault(value, []).append((str(docs[i].id), float(distances[i])))
    ranked = sorted(groups.items(), key=lambda g: (g[1][0][1], g[1][0][0], g[0]))
    return [(value, hits[:group_size]) for value, hits in ranked[:limit]]


def shown(groups: Sequence[Group]) -> Shown:
    return [(g.value, [h.id for h in g.hits]) for g in groups]


def assert_exact(
    groups: Sequence[Group], expected: list[tuple[str, list[tuple[str, float]]]]
) -> None:
    assert shown(groups) == [(value, [i for i, _ in hits]) for value, hits in expected]
    for group, (_, hits) in zip(groups, expected, strict=True):
        for hit, (_, distance) in zip(group.hits, hits, strict=True):
            assert hit.distance == pytest.approx(distance, abs=1e-4)


FILTERS: list[tuple[dict[str, Any], Callable[[Document], bool]]] = [
    ({}, lambda d: True),
    ({"genre": "mystery"}, lambda d: "mystery" in d.genres),
    ({"exclude_genres": ["science fiction"]}, lambda d: "science fiction" not in d.genres),
    ({"where": Num("year") >= 1990}, lambda d: (d.metadata or {}).get("year", 0) >= 1990),
    (
        {"where": Tag("author") == ["Helena Voss", "Silas Wren", "Kaito Brandvold"]},
        lambda d: bool(
            {"Helena Voss", "Silas Wren", "Kaito Brandvold"} & set(values_of(d, "author"))
        ),
    ),
]


@pytest.mark.parametrize("group_by", ["genre", "author"])
@pytest.mark.parametrize(("filters", "match"), FILTERS)
def test_groups_equal_the_brute_force_grouping(
    flat: DocumentStore,
    stored: list[Document],
    vectors: list[list[float]],
    group_by: str,
    filters: dict[str, Any],
    match: Callable[[Document], bool],
) -> None:
    for limit, group_size in [(5, 3), (3, 10), (12, 2)]:
        for vector in vectors:
            groups = flat.search_groups(
                vector, group_by=group_by, limit=limit, group_size=group_size, **filters
            )
            expected = oracle(
                stored, vector, group_by=group_by, limit=limit, group_size=group_size, match=match
            )
            assert expected
            assert_exact(groups, expected)


def test_a_text_query_is_embedded_like_search(
    flat: DocumentStore, vectors: list[list[float]]
) -> None:
    for text, vector in zip(QUERIES, vectors, strict=True):
        groups = flat.search_groups(text)
        assert shown(groups) == shown(flat.search_groups(vector))
        assert len(groups) == 5 and all(len(g.hits) == 3 for g in groups)
        nearest = flat.search(text, k=1)[0]
        assert groups[0].hits[0].id == nearest.id  # the first group holds the nearest hit
        assert groups[0].value in nearest.genres


def test_a_document_is_in_each_of_its_groups_and_without_the_field_in_none(
    flat: DocumentStore, stored: list[Document]
) -> None:
    duo = next(d for d in stored if d.id == "x-duo")
    anon = next(d for d in stored if d.id == "x-anon")
    assert duo.embedding is not None and anon.embedding is not None
    # Its own vector: x-duo is the nearest hit of both its genres (ties broken by value).
    by_genre = flat.search_groups(list(duo.embedding), limit=3)
    assert [g.value for g in by_genre[:2]] == ["history", "mystery"]
    assert [g.hits[0].id for g in by_genre[:2]] == ["x-duo", "x-duo"]
    # ... and of both its authors, once each though one is listed twice.
    by_author = flat.search_groups(list(duo.embedding), group_by="author", group_size=300)
    assert [g.value for g in by_author[:2]] == ["Helena Voss", "Silas Wren"]
    for group in by_author[:2]:
        assert [h.id for h in group.hits].count("x-duo") == 1
    # x-anon has no author: in its genre's group, in no author group.
    assert flat.search_groups(list(anon.embedding), limit=1)[0].hits[0].id == "x-anon"
    by_author = flat.search_groups(list(anon.embedding), group_by="author", limit=50)
    authors = {value for d in stored for value in values_of(d, "author")}
    assert len(by_author) == len(authors) == 41  # every author has a group
    assert all(h.id != "x-anon" for g in by_author for h in g.hits)


@contextlib.contextmanager
def round_trips(store: DocumentStore) -> Iterator[list[list[str]]]:
    """The commands of each round trip the store makes meanwhile, by name."""
    trips: list[list[str]] = []
    send = store._runner._send

    def counting(effect: Any) -> Any:
        trips.append([str(c[0]) for c in effect.commands])
        return send(effect)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store._runner, "_send", counting)
        yield trips


def test_round_trips(flat: DocumentStore, vectors: list[list[float]]) -> None:
    detective = vectors[0]
    # The 60 nearest hold 5 genres with 3 hits each: one round trip.
    with round_trips(flat) as trips:
        flat.search_groups(detective)
    assert trips == [["FT.SEARCH"]]
    # 5 authors with 3 hits each are not all among the 60 nearest: their
    # short groups are completed by one search each, in one more round trip.
    with round_trips(flat) as trips:
        groups = flat.search_groups(detective, group_by="author")
    assert trips[0] == ["FT.SEARCH"] and len(trips) == 2
    assert 1 <= len(trips[1]) <= 5 and set(trips[1]) == {"FT.SEARCH"}
    assert all(len(g.hits) == 3 for g in groups)
    # Only 12 genres: a 13th group is looked for among the field's values.
    with round_trips(flat) as trips:
        groups = flat.search_groups(detective, limit=13, group_size=1)
    assert trips[:2] == [["FT.SEARCH"], ["FT.TAGVALS"]]
    assert len(trips) == 3 and set(trips[2]) == {"FT.SEARCH"}
    assert len(groups) == 12


def test_hnsw_gives_the_same_groups_as_flat(
    redis_stack_url: str,
    store_names: StoreNames,
    embedder: DefaultEmbedder,
    documents: list[Document],
    flat: DocumentStore,
    vectors: list[list[float]],
) -> None:
    # HNSW is approximate in general; on 302 documents with ef_runtime 400 it is exact.
    with library_store(redis_stack_url, store_names, embedder, documents, "hnsw") as hnsw:
        for filters, _ in FILTERS:
            for group_by in ("genre", "author"):
                for vector in vectors:
                    options: dict[str, Any] = {"group_by": group_by, **filters}
                    got = hnsw.search_groups(vector, **options)
                    assert shown(got) == shown(flat.search_groups(vector, **options))


def test_the_async_store_gives_the_same_groups(
    redis_stack_url: str,
    flat_names: StoreNames,
    embedder: DefaultEmbedder,
    flat: DocumentStore,
) -> None:
    cases: list[dict[str, Any]] = [
        {},
        {"group_by": "author", "limit": 4, "group_size": 2},
        {"genre": ["mystery", "fantasy"], "where": Num("year") < 2000},
        {"limit": 13, "group_size": 1},
    ]

    async def run() -> list[list[Group]]:
        async with AsyncDocumentStore(
            redis_stack_url, index=flat_names.index, prefix=flat_names.prefix,
            embedder=embedder, algorithm="flat", metadata_fields=FIELDS,
        ) as store:  # fmt: skip
            return [await store.search_groups(q, **c) for q in QUERIES for c in cases]

    expected = [flat.search_groups(q, **c) for q in QUERIES for c in cases]
    assert asyncio.run(run()) == expected


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"group_by": "year"}, InvalidQueryError, "tag fields 'genre', 'author', not 'year'"),
        ({"group_by": "language"}, InvalidQueryError, "group_by must be one of"),
        ({"group_by": "content"}, InvalidQueryError, "group_by must be one of"),
        ({"limit": 0}, InvalidQueryError, "limit must be a positive integer"),
        ({"group_size": -1}, InvalidQueryError, "group_size must be a positive integer"),
        ({"limit": 5, "group_size": 2001}, InvalidQueryError, "at most 10,000, not 10,005"),
        ({"ef_runtime": 0}, InvalidQueryError, "ef_runtime must be a positive integer"),
        ({"genre": []}, InvalidGenreError, "the list of genres is empty"),
        ({"where": Tag("publisher") == "Acme"}, InvalidFilterError, "undeclared field"),
        ({"where": "year > 3"}, InvalidFilterError, "where must be a Filter"),
    ],
)
def test_bad_input_is_refused(
    flat: DocumentStore, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        flat.search_groups("a query", **options)


def test_bad_queries_are_refused(flat: DocumentStore) -> None:
    with pytest.raises(InvalidQueryError, match="empty"):
        flat.search_groups("   ")
    with pytest.raises(InvalidEmbeddingError):
        flat.search_groups([0.1, 0.2])
    with pytest.raises(InvalidEmbeddingError):
        flat.search_groups([float("nan")] * flat.settings.dims)


def test_the_cli_prints_the_groups(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    redis_stack_url: str,
    flat_names: StoreNames,
    embedder: DefaultEmbedder,
    flat: DocumentStore,
) -> None:
    original = DefaultEmbedder.embed_many
    monkeypatch.setattr(  # the CLI's store uses the session's model
        DefaultEmbedder, "embed_many", lambda self, texts: original(embedder, texts)
    )
    argv = [
        "--url", redis_stack_url, "--index", flat_names.index, "--prefix", flat_names.prefix,
        "--algorithm", "flat", "--field", "author=tag", "--field", "year=numeric",
        "search", QUERIES[1], "--group-by", "author", "--limit", "4", "--group-size", "2",
        "--where", "year>=1990",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    groups = flat.search_groups(
        QUERIES[1], group_by="author", limit=4, group_size=2, where=Num("year") >= 1990
    )
    assert [(g["value"], [h["id"] for h in g["hits"]]) for g in printed] == shown(groups)
    first = printed[0]["hits"][0]
    assert set(first) == {"id", "content", "genres", "distance", "metadata"}
    assert main([*argv, "--fields", "id,distance"]) == 0
    lean = json.loads(capsys.readouterr().out)
    assert [(g["value"], [h["id"] for h in g["hits"]]) for g in lean] == shown(groups)
    assert {frozenset(h) for g in lean for h in g["hits"]} == {frozenset({"id", "distance"})}
    assert first["distance"] == pytest.approx(groups[0].hits[0].distance)
    assert main([*argv[:-6], "--group-by", "year"]) == 1
    assert "group_by must be one of" in capsys.readouterr().err
    with contextlib.redirect_stderr(io.StringIO()):
        assert main([*argv, "-k", "3"]) == 2


@pytest.mark.parametrize("group_by", ["genre", "author"])
@pytest.mark.parametrize("fields", [[], ["id", "distance"], ["content"], ["genres", "metadata"]])
def test_fields_trim_the_hits_but_not_the_groups(
    flat: DocumentStore, vectors: list[list[float]], group_by: str, fields: list[str]
) -> None:
    full = flat.search_groups(vectors[0], group_by=group_by, limit=4, group_size=2)
    lean = flat.search_groups(
        vectors[0],
        group_by=group_by,
        limit=4,
        group_size=2,
        fields=fields,  # type: ignore[arg-type]
    )
    assert shown(lean) == shown(full)
    for short_group, whole_group in zip(lean, full, strict=True):
        for short, whole in zip(short_group.hits, whole_group.hits, strict=True):
            assert (short.id, short.distance) == (whole.id, whole.distance)
            assert short.content == (whole.content if "content" in fields else "")
            assert short.genres == (whole.genres if "genres" in fields else ())
            assert short.metadata == (whole.metadata if "metadata" in fields else {})
