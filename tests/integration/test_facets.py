"""Facets and numeric field statistics against a real Redis Stack, sync and async, and the CLI.

The oracle is Python over the same documents: ``collections.Counter`` for facets,
``min``/``max``/``sum`` for statistics. The store holds fixtures/library.jsonl
plus a few documents with a list of authors (a multi-valued tag field) and a
few without author, year or rating. Embeddings are given (seeded random
vectors of the default model's size), so no model runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from redis_docstore import (
    AsyncDocumentStore,
    DefaultEmbedder,
    Document,
    DocumentStore,
    EmbeddedServer,
    FieldStats,
    IncompleteResultsError,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    Num,
    Tag,
)
from redis_docstore._cli.commands import main
from redis_docstore.testing import StoreNames

LIBRARY = Path(__file__).parents[2] / "fixtures" / "library.jsonl"
FIELDS: dict[str, Any] = {"author": "tag", "year": "numeric", "rating": "numeric"}
CO_AUTHOR = "Ines Marlowe"
Row = dict[str, Any]


class NoModel:
    """For documents that carry their embeddings: the model must not run."""

    dims = 2

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        raise AssertionError(f"unexpected embedding of {len(texts)} texts")


def library_rows() -> list[Row]:
    rows: list[Row] = [json.loads(line) for line in LIBRARY.open() if line.strip()]
    for row in rows:
        row["metadata"].pop("language")  # not declared: no part of these tests
    first = rows[1]["metadata"]["author"]  # an author of the library
    # Several authors: the document counts once under each.
    for i in range(4):
        metadata = {"author": [first, CO_AUTHOR], "year": 2001 + i, "rating": 3.25 + i}
        rows.append({"id": f"multi-{i}", "content": f"co-written {i}", "genre": ["mystery"],
                     "metadata": metadata})  # fmt: skip
    rows.append({"id": "multi-4", "content": "a list of one author", "genre": "mystery",
                 "metadata": {"author": [CO_AUTHOR], "year": 1999, "rating": 4.5}})  # fmt: skip
    # Neither author nor year nor rating: no facet value, and no statistic counts them.
    for i in range(3):
        rows.append({"id": f"bare-{i}", "content": f"no metadata {i}", "genre": "mystery"})
    return rows


ROWS = library_rows()


def documents(rows: list[Row]) -> list[Document]:
    vectors = np.random.default_rng(14).standard_normal((len(rows), DefaultEmbedder.dims))
    return [Document(**row, embedding=v.tolist()) for row, v in zip(rows, vectors, strict=True)]


def values_of(row: Row, field: str) -> list[str]:
    """A row's values of a tag field, as the index has them (a list, or one string)."""
    value = row["genre"] if field == "genre" else row.get("metadata", {}).get(field)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(dict.fromkeys(value))


def expected_facets(
    rows: list[Row], field: str, keep: Callable[[Row], bool] = lambda row: True
) -> list[tuple[str, int]]:
    counts = Counter(v for row in rows if keep(row) for v in values_of(row, field))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def expected_stats(
    rows: list[Row], field: str, keep: Callable[[Row], bool] = lambda row: True
) -> tuple[int, float | None, float | None, float | None, float]:
    values = [
        row["metadata"][field] for row in rows if keep(row) and field in row.get("metadata", {})
    ]
    if not values:
        return 0, None, None, None, 0.0
    return len(values), min(values), max(values), sum(values) / len(values), sum(values)


def as_tuple(stats: FieldStats) -> tuple[int, float | None, float | None, float | None, float]:
    return stats.count, stats.min, stats.max, stats.mean, stats.sum


def year(row: Row) -> float:
    return float(row.get("metadata", {}).get("year", math.nan))


# The same selections, as store arguments and as Python predicates.
SELECTIONS: list[tuple[str, dict[str, Any], Callable[[Row], bool]]] = [
    ("everything", {}, lambda row: True),
    ("genre", {"genre": "mystery"}, lambda row: "mystery" in values_of(row, "genre")),
    ("where", {"where": Num("year") >= 1990}, lambda row: year(row) >= 1990),
    (
        "genre and where",
        {"genre": ["fantasy", "romance"], "where": Num("rating") < 3},
        lambda row: (
            bool({"fantasy", "romance"} & set(values_of(row, "genre")))
            and row.get("metadata", {}).get("rating", 99) < 3
        ),
    ),
    (
        "all, exclude, tag",
        {
            "genres_all": ["mystery"],
            "exclude_genres": ["thriller"],
            "where": Tag("author") != CO_AUTHOR,
        },
        lambda row: (
            "mystery" in values_of(row, "genre")
            and "thriller" not in values_of(row, "genre")
            and CO_AUTHOR not in values_of(row, "author")
        ),
    ),
]


@pytest.fixture
def store(
    redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> Iterator[DocumentStore]:
    with DocumentStore(
        redis_stack_url,
        index=store_names.index,
        prefix=store_names.prefix,
        embedder=embedder,
        metadata_fields=FIELDS,
    ) as s:
        s.add(documents(ROWS))
        yield s


def test_the_fixture_has_what_the_tests_need() -> None:
    assert len(ROWS) == 308
    assert any(len(values_of(row, "genre")) > 1 for row in ROWS)
    assert sum(CO_AUTHOR in values_of(row, "author") for row in ROWS) == 5


# -- facets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["genre", "author"])
@pytest.mark.parametrize(("label", "filters", "keep"), SELECTIONS, ids=[s[0] for s in SELECTIONS])
def test_facets_count_every_value_as_the_oracle_does(
    store: DocumentStore,
    field: str,
    label: str,
    filters: dict[str, Any],
    keep: Callable[[Row], bool],
) -> None:
    expected = expected_facets(ROWS, field, keep)
    assert expected, "a selection that matches nothing tests nothing here"
    assert list(store.facets(field, **filters, limit=None).items()) == expected
    assert list(store.facets(field, **filters).items()) == expected[:20]
    assert list(store.facets(field, **filters, limit=3).items()) == expected[:3]
    if field == "genre":
        assert list(store.genres(**filters).items()) == expected


def test_a_document_with_several_values_counts_once_for_each(store: DocumentStore) -> None:
    first = ROWS[1]["metadata"]["author"]
    library_only = sum(row["metadata"]["author"] == first for row in ROWS[:300])
    authors = store.facets("author", limit=None)
    assert authors[CO_AUTHOR] == 5  # four co-written documents and a list of one
    assert authors[first] == library_only + 4
    # Each document counts once per author: the total exceeds the documents with one.
    with_author = sum(bool(values_of(row, "author")) for row in ROWS)
    assert sum(authors.values()) == with_author + 4
    # The same through a filter on the other author.
    assert store.facets("author", where=Tag("author") == CO_AUTHOR) == {CO_AUTHOR: 5, first: 4}
    genres = store.genres()
    assert sum(genres.values()) > store.count()  # multi-genre documents


def test_facets_leave_out_values_nothing_matches(store: DocumentStore) -> None:
    assert store.facets("author", where=Num("year") > 3000) == {}
    assert store.genres(where=Num("year") > 3000) == {}
    assert store.facets("author", genre="mystery", where=Num("year").between(2001, 2002)) == {
        ROWS[1]["metadata"]["author"]: 2,
        CO_AUTHOR: 2,
    }


def test_deleted_documents_leave_the_facets(store: DocumentStore) -> None:
    gone = ["multi-0", "multi-1", "multi-4"]
    assert store.delete(gone) == 3
    rest = [row for row in ROWS if row["id"] not in gone]
    assert list(store.facets("author", limit=None).items()) == expected_facets(rest, "author")
    assert store.facets("author", limit=None)[CO_AUTHOR] == 2
    assert list(store.genres().items()) == expected_facets(rest, "genre")
    assert as_tuple(store.stats("year")) == expected_stats(rest, "year")
    # Every co-written document gone: the value is left out, though FT.TAGVALS
    # may still list it until the index's garbage collection.
    assert store.delete(["multi-2", "multi-3"]) == 2
    assert CO_AUTHOR not in store.facets("author", limit=None)


def test_facets_of_an_empty_store(
    redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> None:
    with DocumentStore(
        redis_stack_url, index=store_names.index, prefix=store_names.prefix,
        embedder=embedder, metadata_fields=FIELDS,
    ) as empty:  # fmt: skip
        assert empty.facets("author") == {}
        assert empty.genres() == {}
        assert empty.stats("year") == FieldStats(0, None, None, None, 0.0)


class TinyModel:
    name, dims = "tiny-facets", 3

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[len(t) / 100, t.count("a") / 10, 1.0] for t in texts]


def test_facets_and_stats_after_reembed(store: DocumentStore) -> None:
    # The index name is an alias from then on; FT.TAGVALS and FT.AGGREGATE follow it.
    assert store.reembed(TinyModel()) == len(ROWS)
    assert store.info()["physical_index"].endswith(".v2")
    assert list(store.facets("author", limit=None).items()) == expected_facets(ROWS, "author")
    assert list(store.genres().items()) == expected_facets(ROWS, "genre")
    assert as_tuple(store.stats("year")) == expected_stats(ROWS, "year")


def test_facets_cost_two_round_trips_and_stats_one(store: DocumentStore) -> None:
    sent: list[list[str]] = []
    original = store._runner._send

    def counting_send(effect: Any) -> Any:
        sent.append([command[0] for command in effect.commands])
        return original(effect)

    store._runner._send = counting_send  # type: ignore[method-assign]
    authors = store.facets("author", genre="mystery")
    distinct = len({v for row in ROWS for v in values_of(row, "author")})
    assert list(authors.items()) == expected_facets(ROWS, "author", SELECTIONS[1][2])[:20]
    assert sent == [["FT.TAGVALS"], ["FT.SEARCH"] * distinct]
    sent.clear()
    store.stats("rating", where=Num("year") >= 2000)
    assert sent == [["FT.AGGREGATE"]]


# -- stats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["year", "rating"])
@pytest.mark.parametrize(("label", "filters", "keep"), SELECTIONS, ids=[s[0] for s in SELECTIONS])
def test_stats_agree_with_python(
    store: DocumentStore,
    field: str,
    label: str,
    filters: dict[str, Any],
    keep: Callable[[Row], bool],
) -> None:
    count, low, high, mean, total = expected_stats(ROWS, field, keep)
    stats = store.stats(field, **filters)
    assert isinstance(stats, FieldStats)
    assert (stats.count, stats.min, stats.max) == (count, low, high)
    if field == "year":  # integers: RediSearch sends the sum exactly
        assert (stats.sum, stats.mean) == (total, mean)
    else:
        assert stats.sum == pytest.approx(total, rel=1e-12)
        assert stats.mean == pytest.approx(mean, rel=1e-12)


def test_stats_count_only_documents_with_the_field(store: DocumentStore) -> None:
    # RediSearch's COUNT counts every row and AVG divides by it: the store
    # asks for documents with the field only.
    assert store.stats("year").count == len(ROWS) - 3 == store.count() - 3
    assert store.stats("year", genre="mystery").count == store.count(genre="mystery") - 3


def test_stats_of_no_matching_document(store: DocumentStore) -> None:
    empty = FieldStats(count=0, min=None, max=None, mean=None, sum=0.0)
    assert store.stats("year", where=Num("year") > 3000) == empty
    # Documents match, but none has the field.
    bare = [row["id"] for row in ROWS if row["id"].startswith("bare-")]
    others = [row["id"] for row in ROWS if row["id"] not in bare]
    assert store.delete(others) == len(others)
    assert store.count() == len(bare)
    assert store.stats("rating") == empty


def test_stats_precision(store: DocumentStore) -> None:
    # 17 significant digits: RediSearch sends 12 (FieldStats says so).
    precise = 1718000000.123456
    store.add(
        Document(
            "precise",
            "timing",
            id="t",
            embedding=[0.0] * DefaultEmbedder.dims,
            metadata={"year": precise},
        )
    )
    stats = store.stats("year", genre="timing")
    assert stats.count == 1
    assert stats.min == pytest.approx(precise, rel=5e-12)
    assert stats.max == stats.min == stats.mean == stats.sum
    big = 2**52 + 1  # an integer: exact
    store.update("t", metadata={"year": big})
    assert store.stats("year", genre="timing") == FieldStats(1, big, big, big, big)


def test_timeouts_never_pass_partial_facets_or_stats_as_complete() -> None:
    n = 30000
    docs = [
        Document(f"d{i}", [f"g{i % 40}", "all"], id=f"d{i}", embedding=[1.0, float(i % 7)],
                 metadata={"author": f"a{i % 30}", "year": i / 4})
        for i in range(n)
    ]  # fmt: skip
    calls: dict[str, Callable[[DocumentStore], Any]] = {
        "stats": lambda s: s.stats("year"),
        "facets": lambda s: s.facets("author", limit=None),
    }
    server = EmbeddedServer().start()
    try:
        with (
            DocumentStore(server.url, index="t", embedder=NoModel(), metadata_fields=FIELDS) as s,
            redis.Redis.from_url(server.url) as admin,
        ):
            for start in range(0, n, 5000):
                s.add(docs[start : start + 5000])
            complete = {name: call(s) for name, call in calls.items()}
            assert complete["stats"] == FieldStats(
                n, 0.0, (n - 1) / 4, (n - 1) / 8, n * (n - 1) / 8
            )
            assert complete["facets"] == {f"a{i}": n // 30 for i in range(30)}
            # Test code configures the server; the library never does.
            admin.execute_command("FT.CONFIG", "SET", "TIMEOUT", "1")
            outcomes: Counter[str] = Counter()
            for on_timeout in ("RETURN", "FAIL"):
                admin.execute_command("FT.CONFIG", "SET", "ON_TIMEOUT", on_timeout)
                for name, call in calls.items():
                    for _ in range(3):
                        try:
                            assert call(s) == complete[name], f"{on_timeout} {name}: partial"
                        except IncompleteResultsError:
                            outcomes[f"{on_timeout} {name}"] += 1
    finally:
        server.stop()
    print(f"\n[facets/stats timeouts] typed errors: {dict(outcomes)}")
    assert outcomes["RETURN stats"] and outcomes["FAIL stats"], outcomes


# -- bad input -----------------------------------------------------------------------------------


TAGS, NUMBERS = "tag fields: author, genre", "numeric fields: rating, year"
BAD_INPUT: list[tuple[Callable[[Any], Any], type[Exception], list[str]]] = [
    (lambda s: s.facets("content"), InvalidQueryError, ["'content' is a text field", TAGS]),
    (lambda s: s.facets("year"), InvalidQueryError, ["'year' is a numeric field", TAGS]),
    (lambda s: s.facets("publisher"), InvalidQueryError, ["not a declared field", TAGS]),
    (lambda s: s.facets(None), InvalidQueryError, ["must be a string"]),
    (lambda s: s.facets("author", limit=0), InvalidQueryError, ["limit"]),
    (lambda s: s.facets("author", limit=True), InvalidQueryError, ["limit"]),
    (lambda s: s.facets("author", limit=2.5), InvalidQueryError, ["limit"]),
    (lambda s: s.facets("genre", genre=[]), InvalidGenreError, ["empty"]),
    (lambda s: s.facets("author", where=Num("pages") > 1), InvalidFilterError, ["pages"]),
    (lambda s: s.facets("author", where="year > 1"), InvalidFilterError, ["Filter"]),
    (lambda s: s.stats("author"), InvalidQueryError, ["'author' is a tag field", NUMBERS]),
    (lambda s: s.stats("genre"), InvalidQueryError, ["'genre' is a tag field", NUMBERS]),
    (lambda s: s.stats("pages"), InvalidQueryError, ["not a declared field", NUMBERS]),
    (lambda s: s.stats("year", where=Tag("year") == "x"), InvalidFilterError, ["numeric"]),
]


@pytest.mark.parametrize(("call", "error", "words"), BAD_INPUT)
def test_bad_input_is_a_typed_error(
    store: DocumentStore, call: Callable[[Any], Any], error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as caught:
        call(store)
    for word in words:
        assert word in str(caught.value)


# -- the async store -----------------------------------------------------------------------------


def test_the_async_store_answers_as_the_sync_one(
    store: DocumentStore, redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> None:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("facets", ("author",), {}),
        ("facets", ("genre",), {"limit": None, "where": Num("year") >= 1990}),
        ("facets", ("author",), {"genre": "mystery", "limit": 5}),
        ("genres", (), {"exclude_genres": ["mystery"]}),
        ("stats", ("rating",), {"genre": "fantasy"}),
        ("stats", ("year",), {"where": Num("year") > 3000}),
    ]
    expected = [getattr(store, name)(*args, **kw) for name, args, kw in calls]

    async def run() -> list[Any]:
        async with AsyncDocumentStore(
            redis_stack_url, index=store_names.index, prefix=store_names.prefix,
            embedder=embedder, metadata_fields=FIELDS,
        ) as astore:  # fmt: skip
            results = [await getattr(astore, name)(*args, **kw) for name, args, kw in calls]
            with pytest.raises(InvalidQueryError):
                await astore.facets("content")
            with pytest.raises(InvalidQueryError):
                await astore.stats("author")
            return results

    results = asyncio.run(run())
    assert results == expected
    assert [list(r.items()) for r in results if isinstance(r, dict)] == [
        list(r.items()) for r in expected if isinstance(r, dict)
    ]


# -- the CLI -------------------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    text = out.getvalue()
    return code, (json.loads(text) if text.strip() else None), err.getvalue()


def test_cli_facets_and_stats(
    store: DocumentStore, redis_stack_url: str, store_names: StoreNames
) -> None:
    names = [
        "--url",
        redis_stack_url,
        "--index",
        store_names.index,
        "--prefix",
        store_names.prefix,
    ]
    names += ["--field", "author=tag", "--field", "year=numeric", "--field", "rating=numeric"]
    code, printed, _ = run_cli("facets", "author", *names)
    assert code == 0
    assert list(printed.items()) == expected_facets(ROWS, "author")[:20]
    code, printed, _ = run_cli(
        "facets", "author", "--limit", "4", "--genre", "mystery", "--where", "year>=1990", *names
    )
    mystery_since_1990 = expected_facets(
        ROWS, "author", lambda row: "mystery" in values_of(row, "genre") and year(row) >= 1990
    )
    assert code == 0 and list(printed.items()) == mystery_since_1990[:4]
    code, printed, _ = run_cli("facets", "genre", "--all", *names)
    assert code == 0 and list(printed.items()) == expected_facets(ROWS, "genre")
    code, genres, _ = run_cli("genres", *names)
    assert code == 0 and genres == printed
    code, printed, _ = run_cli("stats", "rating", "--where", "year<1990", *names)
    count, low, high, mean, total = expected_stats(ROWS, "rating", lambda row: year(row) < 1990)
    assert code == 0
    assert (printed["count"], printed["min"], printed["max"]) == (count, low, high)
    assert printed["mean"] == pytest.approx(mean, rel=1e-12)
    assert printed["sum"] == pytest.approx(total, rel=1e-12)
    code, printed, err = run_cli("facets", "year", *names)
    assert (code, printed) == (1, None)
    assert "'year' is a numeric field" in err
    code, printed, err = run_cli("stats", "author", *names)
    assert (code, printed) == (1, None)
    assert "numeric" in err
    code, _, err = run_cli("facets", "author", "--limit", "0", *names)
    assert code == 2 and "positive integer" in err
