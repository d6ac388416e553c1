"""The docstore CLI against a real Redis Stack, run in-process (and `serve` as a process)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_docstore import DefaultEmbedder
from redis_docstore._cli.commands import DEMO_QUERY, SERVE_FILE, main
from redis_docstore._server import free_port
from redis_docstore.testing import StoreNames, cleanup_store, new_store_names

FIXTURE = Path(__file__).parents[2] / "fixtures" / "docs_page.jsonl"
LIBRARY = Path(__file__).parents[2] / "fixtures" / "library.jsonl"
LIBRARY_DOCS: list[dict[str, Any]] = [json.loads(line) for line in LIBRARY.open()]
LIBRARY_FIELDS = ["--field", "author=tag", "--field", "year=numeric", "--field", "rating=numeric"]
LIBRARY_FIELDS += ["--field", "language=tag"]
DOCSTORE = Path(sys.executable).parent / "docstore"
PAGE_ORDER = ["That is a very happy person", "That is a happy dog", "Today is a sunny day"]
PAGE_DISTANCES = [0.114169985056, 0.610845386982, 1.48624813557]


@contextlib.contextmanager
def counting_model(embedder: DefaultEmbedder) -> Iterator[list[int]]:
    """Every DefaultEmbedder runs the session's model; yields the size of each model call.

    Patching the class (not a module's factory function) works wherever the
    store creates its default embedder.
    """
    calls: list[int] = []
    original = DefaultEmbedder.embed_many

    def embed_many(self: DefaultEmbedder, texts: Sequence[str]) -> list[list[float]]:
        calls.append(len(texts))
        return original(embedder, texts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DefaultEmbedder, "embed_many", embed_many)
        yield calls


@pytest.fixture(autouse=True)
def model_calls(embedder: DefaultEmbedder) -> Iterator[list[int]]:
    """In-process runs use the session's model instead of loading their own; counted."""
    with counting_model(embedder) as calls:
        yield calls


def url_names(url: str, names: StoreNames) -> list[str]:
    return ["--url", url, "--index", names.index, "--prefix", names.prefix]


@pytest.fixture
def names(redis_stack_url: str, store_names: StoreNames) -> list[str]:
    """Global options for the test's server, index and prefix."""
    return url_names(redis_stack_url, store_names)


@pytest.fixture
def other_names(redis_stack_url: str) -> Iterator[list[str]]:
    """Global options for a second fresh index, removed after the test."""
    extra = new_store_names()
    yield url_names(redis_stack_url, extra)
    with redis.Redis.from_url(redis_stack_url) as client:
        cleanup_store(client, extra)


@pytest.fixture(scope="module")
def library(redis_stack_url: str, embedder: DefaultEmbedder) -> Iterator[list[str]]:
    """fixtures/library.jsonl (300 documents) added once with `docstore add`; its options.

    Tests using it only read (or write elsewhere).
    """
    lib = new_store_names()
    argv = [*url_names(redis_stack_url, lib), *LIBRARY_FIELDS]
    out, err = io.StringIO(), io.StringIO()
    with (
        counting_model(embedder),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main([*argv, "add", str(LIBRARY), "--batch-size", "100"])
    try:
        assert (code, err.getvalue()) == (0, "added 300, unchanged 0, rejected 0\n")
        assert json.loads(out.getvalue()) == summary(300)
        yield argv
    finally:
        with redis.Redis.from_url(redis_stack_url) as client:
            cleanup_store(client, lib)


def summary(added: int, unchanged: int = 0, *rejections: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": added,
        "unchanged": unchanged,
        "rejected": len(rejections),
        "rejections": list(rejections),
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Run main(argv); return its exit code, stdout parsed as JSON (or None), stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def run_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    """Run a command that prints JSON Lines (export); return the objects."""
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def genres_of(doc: dict[str, Any]) -> list[str]:
    return [doc["genre"]] if isinstance(doc["genre"], str) else list(doc["genre"])


def library_ids(match: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {d["id"] for d in LIBRARY_DOCS if match(d)}


def assert_page_results(results: list[dict[str, Any]]) -> None:
    assert [r["content"] for r in results] == PAGE_ORDER
    assert [r["genres"] for r in results] == [["persons"], ["pets"], ["weather"]]
    for result, expected in zip(results, PAGE_DISTANCES, strict=True):
        assert isinstance(result["distance"], float)
        assert result["distance"] == pytest.approx(expected, abs=1e-5)


def keys_under(client: redis.Redis, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=f"{prefix}:*"))


# -- add, search, count (the docs page) ----------------------------------------------------------


def test_add_search_count_the_docs_page(
    capsys: pytest.CaptureFixture[str], names: list[str]
) -> None:
    assert run(capsys, *names, "add", str(FIXTURE)) == (
        0,
        summary(3),
        "added 3, unchanged 0, rejected 0\n",
    )

    code, hits, _ = run(capsys, *names, "search", DEMO_QUERY, "-k", "3")
    assert code == 0
    assert_page_results(hits)
    assert [h["metadata"] for h in hits] == [{}, {}, {}]
    assert len({h["id"] for h in hits}) == 3

    code, pets, _ = run(capsys, "search", DEMO_QUERY, "--genre", "pets", *names)
    assert code == 0
    assert [(h["content"], h["genres"]) for h in pets] == [("That is a happy dog", ["pets"])]
    assert pets[0]["distance"] == pytest.approx(PAGE_DISTANCES[1], abs=1e-5)

    code, either, _ = run(
        capsys, *names, "search", DEMO_QUERY, "--genre", "pets", "--genre", "weather"
    )
    assert code == 0
    assert [h["content"] for h in either] == PAGE_ORDER[1:]

    assert run(capsys, *names, "count") == (0, 3, "")
    assert run(capsys, *names, "count", "--genre", "pets") == (0, 1, "")
    assert run(capsys, *names, "count", "--genre", "nothing") == (0, 0, "")


def test_add_from_stdin_with_ids_and_metadata(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, names: list[str]
) -> None:
    lines = [
        {"content": "A cat asleep in the sun", "genre": ["pets", "weather"], "id": "cat"},
        {"content": "Rain all week", "genre": "weather", "metadata": {"source": "radio"}},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, result, _ = run(capsys, *names, "add", "-", "--ids")
    assert code == 0
    assert result["added"] == 2
    assert result["ids"][0] == "cat"
    assert len(result["ids"]) == 2

    code, hits, _ = run(capsys, *names, "search", "rainy weather", "--genre", "weather")
    assert code == 0
    by_id = {h["id"]: h for h in hits}
    assert by_id["cat"]["genres"] == ["pets", "weather"]
    assert by_id[result["ids"][1]]["metadata"] == {"source": "radio"}


# -- add: CSV, bad rows, --skip-invalid, resuming ------------------------------------------------

CSV_TEXT = (
    "id,content,genre,author,year,rating\n"
    'c1,"A detective, a storm, and a locked room",mystery|crime,Ann Lee,1999,4.5\n'
    "c2,Baking sourdough bread at home,cooking,Bob,2010,\n"
    'c3,"Jazz ""standards"" for quiet evenings",jazz & blues | music,Ann Lee,1987,3\n'
)
CSV_FIELDS = ["--field", "author=tag", "--field", "year=numeric", "--field", "rating=numeric"]


def test_add_csv_then_filter_on_its_metadata(
    capsys: pytest.CaptureFixture[str], names: list[str], tmp_path: Path
) -> None:
    books = tmp_path / "books.csv"
    books.write_text(CSV_TEXT)
    opts = [*names, *CSV_FIELDS]
    code, result, err = run(capsys, *opts, "add", str(books), "--ids", "--quiet")
    assert (code, result, err) == (0, {**summary(3), "ids": ["c1", "c2", "c3"]}, "")

    assert run_lines(capsys, *opts, "export", "--no-embeddings", "-q") == [
        {
            "id": "c1",
            "content": "A detective, a storm, and a locked room",
            "genre": ["mystery", "crime"],
            "metadata": {"author": "Ann Lee", "year": 1999, "rating": 4.5},
        },
        {
            "id": "c2",
            "content": "Baking sourdough bread at home",
            "genre": "cooking",
            "metadata": {"author": "Bob", "year": 2010},
        },
        {
            "id": "c3",
            "content": 'Jazz "standards" for quiet evenings',
            "genre": ["jazz & blues", "music"],
            "metadata": {"author": "Ann Lee", "year": 1987, "rating": 3},
        },
    ]
    where = ["--where", "author=Ann Lee", "--where", "year=1990..2000"]
    code, hits, _ = run(capsys, *opts, "search", "a locked room mystery", *where)
    assert code == 0
    assert [h["id"] for h in hits] == ["c1"]
    assert hits[0]["metadata"] == {"author": "Ann Lee", "year": 1999, "rating": 4.5}
    assert run(capsys, *opts, "count", "--where", "rating>=3") == (0, 2, "")
    assert run(capsys, *opts, "count", "--where", "author!=Ann Lee") == (0, 1, "")
    code, genres, _ = run(capsys, *opts, "genres")
    assert (code, genres) == (
        0,
        {"crime": 1, "cooking": 1, "jazz & blues": 1, "music": 1, "mystery": 1},
    )


def test_add_csv_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, names: list[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CSV_TEXT.encode())))
    code, result, _ = run(capsys, *names, *CSV_FIELDS, "add", "-", "--format", "csv", "--json")
    assert (code, result) == (0, summary(3))
    assert run(capsys, *names, *CSV_FIELDS, "count", "--genre", "music") == (0, 1, "")


def test_a_bad_line_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    tmp_path: Path,
    redis_client: redis.Redis,
    store_names: StoreNames,
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"content": "That is a happy dog", "genre": "pets"}\n{"content": "", "genre": "pets"}\n'
    )
    code, out, err = run(capsys, *names, "add", str(bad))
    assert code == 2
    assert out == summary(
        0, 0, {"file": str(bad), "line": 2, "reason": "content must not be empty"}
    )
    assert "docstore: error: 1 document is invalid; nothing was written" in err
    assert "Traceback" not in err
    assert keys_under(redis_client, store_names.prefix) == []
    assert run(capsys, *names, "count") == (0, 0, "")


def test_bad_rows_anywhere_write_nothing_unless_skipped(
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    tmp_path: Path,
    redis_client: redis.Redis,
    store_names: StoreNames,
    model_calls: list[int],
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        "".join(json.dumps({"content": f"doc {n}", "genre": "g"}) + "\n" for n in range(299))
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("content,genre,n\nfine,g,1\nfine too,g|h,2\n,g,3\nlast,,4\n")
    code, out, err = run(capsys, *names, "add", str(good), str(bad), "--batch-size", "50")
    assert code == 2
    rejections = [
        {"file": str(bad), "line": 4, "reason": "content must not be empty"},
        {"file": str(bad), "line": 5, "reason": "the genre cell is empty"},
    ]
    assert out == summary(0, 0, *rejections)
    assert f"  {bad}, line 4: content must not be empty\n" in err
    assert keys_under(redis_client, store_names.prefix) == []
    assert model_calls == []

    code, out, err = run(capsys, *names, "add", str(good), str(bad), "--skip-invalid")
    assert (code, out) == (0, summary(301, 0, *rejections))
    assert err.startswith("added 301, unchanged 0, rejected 2\n")
    assert run(capsys, *names, "count") == (0, 301, "")
    assert run(capsys, *names, "count", "--genre", "h") == (0, 1, "")
    assert sum(model_calls) == 301


def test_an_interrupted_add_resumes_without_embedding_again(
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    tmp_path: Path,
    model_calls: list[int],
) -> None:
    part, whole = tmp_path / "part.jsonl", tmp_path / "whole.jsonl"
    lines = LIBRARY.read_text().splitlines(keepends=True)[:20]
    part.write_text("".join(lines[:8]))
    whole.write_text("".join(lines))
    assert run(capsys, *names, *LIBRARY_FIELDS, "add", str(part), "--json") == (0, summary(8), "")
    assert model_calls == [8]
    code, out, err = run(capsys, *names, *LIBRARY_FIELDS, "add", str(whole), "--progress")
    assert (code, out) == (0, summary(12, 8))
    assert model_calls == [8, 12]
    assert "\radding [" in err
    assert "20/20 100%" in err
    assert err.endswith("added 12, unchanged 8, rejected 0\n")


def test_rerunning_add_changes_nothing_and_runs_no_model(
    capsys: pytest.CaptureFixture[str], library: list[str], model_calls: list[int]
) -> None:
    code, out, err = run(capsys, *library, "add", str(LIBRARY), "--ids")
    assert (code, err) == (0, "added 0, unchanged 300, rejected 0\n")
    assert out == {**summary(0, 300), "ids": [d["id"] for d in LIBRARY_DOCS]}
    assert model_calls == []


# -- filters on the library ----------------------------------------------------------------------

FILTER_CASES: list[tuple[list[str], Callable[[dict[str, Any]], bool]]] = [
    (
        ["--genre", "mystery", "--genre", "romance"],
        lambda d: bool({"mystery", "romance"} & set(genres_of(d))),
    ),
    (
        ["--all-genres", "fantasy", "--all-genres", "romance"],
        lambda d: {"fantasy", "romance"} <= set(genres_of(d)),
    ),
    (
        ["--genre", "fantasy", "--exclude-genre", "romance"],
        lambda d: "fantasy" in genres_of(d) and "romance" not in genres_of(d),
    ),
    (
        ["--exclude-genre", "science fiction", "--exclude-genre", "jazz & blues"],
        lambda d: not {"science fiction", "jazz & blues"} & set(genres_of(d)),
    ),
    (
        ["--where", "author=Helena Voss|Marcus Bell"],
        lambda d: d["metadata"]["author"] in {"Helena Voss", "Marcus Bell"},
    ),
    (["--where", "author!=Helena Voss"], lambda d: d["metadata"]["author"] != "Helena Voss"),
    (
        ["--where", "year=1990..1999", "--where", "rating>=4"],
        lambda d: 1990 <= d["metadata"]["year"] <= 1999 and d["metadata"]["rating"] >= 4,
    ),
    (["--where", "year<1960"], lambda d: d["metadata"]["year"] < 1960),
    (
        ["--where", "year>2020", "--genre", "cooking"],
        lambda d: d["metadata"]["year"] > 2020 and "cooking" in genres_of(d),
    ),
    (["--where", "language!=en"], lambda d: d["metadata"]["language"] != "en"),
    (["--where", "rating=..2.5"], lambda d: d["metadata"]["rating"] <= 2.5),
]


@pytest.mark.parametrize(("options", "match"), FILTER_CASES)
def test_search_count_and_export_take_every_filter(
    capsys: pytest.CaptureFixture[str],
    library: list[str],
    options: list[str],
    match: Callable[[dict[str, Any]], bool],
) -> None:
    expected = library_ids(match)
    assert 0 < len(expected) < 300
    code, hits, _ = run(capsys, *library, "search", "a story", "-k", "300", *options)
    assert code == 0
    assert {h["id"] for h in hits} == expected
    assert run(capsys, *library, "count", *options) == (0, len(expected), "")
    exported = run_lines(capsys, *library, "export", "-q", "--no-embeddings", *options)
    assert [d["id"] for d in exported] == sorted(expected)


def test_text_conditions(capsys: pytest.CaptureFixture[str], library: list[str]) -> None:
    code, hits, _ = run(
        capsys, *library, "search", "magic", "-k", "300", "--where", "content~dragon"
    )
    assert code == 0
    assert hits
    assert all("dragon" in h["content"].lower() for h in hits)
    code, others, _ = run(capsys, *library, "count", "--where", "content!~dragon")
    assert (code, others + len(hits)) == (0, 300)


def test_genres_with_and_without_filters(
    capsys: pytest.CaptureFixture[str], library: list[str]
) -> None:
    expected = Counter(g for d in LIBRARY_DOCS for g in genres_of(d))
    code, genres, _ = run(capsys, *library, "genres")
    assert code == 0
    assert genres == dict(expected)
    assert list(genres) == [g for g, _ in sorted(expected.items(), key=lambda i: (-i[1], i[0]))]
    french = Counter(
        g for d in LIBRARY_DOCS if d["metadata"]["language"] == "fr" for g in genres_of(d)
    )
    assert run(capsys, *library, "genres", "--where", "language=fr")[1] == dict(french)
    code, romance, _ = run(
        capsys, *library, "genres", "--genre", "romance", "--exclude-genre", "fantasy"
    )
    assert code == 0
    assert "fantasy" not in romance
    assert romance["romance"] == len(
        library_ids(lambda d: "romance" in genres_of(d) and "fantasy" not in genres_of(d))
    )


def test_search_options(
    capsys: pytest.CaptureFixture[str], library: list[str], model_calls: list[int]
) -> None:
    query = ["search", "a dragon guarding its treasure"]
    code, top, _ = run(capsys, *library, *query, "-k", "10")
    assert code == 0
    assert len(top) == 10
    distances = [h["distance"] for h in top]
    assert distances == sorted(distances)

    code, page, _ = run(capsys, *library, *query, "-k", "5", "--offset", "5")
    assert [h["id"] for h in page] == [h["id"] for h in top[5:]]

    # (A range query on HNSW can miss everything when the query is far from all
    # documents, as "a dragon ..." is here: a store issue; this query is close.)
    detective = ["search", "a detective solves a murder"]
    code, nearest, _ = run(capsys, *library, *detective, "-k", "10")
    limit = (nearest[5]["distance"] + nearest[6]["distance"]) / 2
    code, near, _ = run(capsys, *library, *detective, "--max-distance", str(limit))
    assert code == 0
    assert [h["id"] for h in near] == [h["id"] for h in nearest[:6]]

    code, required, _ = run(capsys, *library, *query, "--text", "dragon", "--require-text")
    assert code == 0
    assert required
    assert all("dragon" in h["content"].lower() and "score" in h for h in required)
    code, boosted, _ = run(capsys, *library, *query, "--text", "dragon", "--alpha", "0.2")
    scores = [h["score"] for h in boosted]
    assert scores == sorted(scores, reverse=True)

    code, diverse, _ = run(capsys, *library, *query, "-k", "5", "--mmr", "0.3", "--fetch-k", "30")
    assert code == 0
    assert len({h["id"] for h in diverse}) == 5
    code, pool, _ = run(capsys, *library, *query, "-k", "30")
    assert {h["id"] for h in diverse} <= {h["id"] for h in pool}

    code, wide, _ = run(capsys, *library, *query, "-k", "10", "--ef-runtime", "200")
    assert (code, [h["id"] for h in wide][:3]) == (0, [h["id"] for h in top][:3])

    calls = len(model_calls)
    options = ["--genre", "fantasy", "--where", "year>=2000", "--where", "author=Ann|O'Neil"]
    code, explained, _ = run(capsys, *library, *query, *options, "--explain", "--ef-runtime", "64")
    assert code == 0
    assert set(explained) == {"command"}
    command = explained["command"]
    assert command.startswith(f"FT.SEARCH {library[3]} ")
    for part in (
        "@genre:{fantasy}",
        "@year:[2000 +inf]",
        "@author:{Ann|O\\\\'Neil}",
        "EF_RUNTIME $EF",
    ):
        assert part in command
    assert command.endswith(" EF 64")
    assert len(model_calls) == calls  # explain runs no model


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "q", "--where", "publisher=Acme"], "undeclared field 'publisher'"),
        (["count", "--where", "author>3"], "the tag field 'author' takes = or !="),
        (["search", "q", "--text", "dog", "--mmr", "0.5"], "cannot be combined"),
        (["search", "q", "--alpha", "2", "--text", "dog"], "alpha must be"),
        (["count", "--genre", " padded"], "whitespace"),
    ],
)
def test_bad_filters_exit_with_a_clear_error(
    capsys: pytest.CaptureFixture[str], library: list[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *library, *argv)
    assert code in (1, 2)
    assert out is None
    assert err.startswith("docstore: error: ")
    assert message in err
    assert "Traceback" not in err


def test_undeclared_fields_are_a_schema_mismatch(
    capsys: pytest.CaptureFixture[str], library: list[str]
) -> None:
    without_fields = library[:6]
    code, out, err = run(capsys, *without_fields, "count")
    assert (code, out) == (1, None)
    assert "different schema" in err


# -- export, round trip, info --------------------------------------------------------------------


def test_export_then_add_round_trips_without_the_model(
    capsys: pytest.CaptureFixture[str],
    library: list[str],
    other_names: list[str],
    tmp_path: Path,
    model_calls: list[int],
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    code, out, err = run(capsys, *library, "export", "-o", str(first))
    assert (code, out, err) == (
        0,
        {"exported": 300, "file": str(first)},
        f"exported 300 documents to {first}\n",
    )
    exported = [json.loads(line) for line in first.read_text().splitlines()]
    assert [d["id"] for d in exported] == sorted(d["id"] for d in LIBRARY_DOCS)
    by_id = {d["id"]: d for d in LIBRARY_DOCS}
    for doc in exported:
        assert len(doc.pop("embedding")) == 384
        assert doc == by_id[doc["id"]]

    code, out, _ = run(capsys, *other_names, *LIBRARY_FIELDS, "add", str(first))
    assert (code, out) == (0, summary(300))
    assert model_calls == []  # the embeddings came with the documents
    assert run(capsys, *other_names, *LIBRARY_FIELDS, "export", "-o", str(second), "-q")[0] == 0
    assert second.read_text() == first.read_text()

    query = ["search", "detectives in a foggy city", "--where", "year>=1980"]
    code, hits, _ = run(capsys, *library, *query)
    code2, hits2, _ = run(capsys, *other_names, *LIBRARY_FIELDS, *query)
    assert (code, code2) == (0, 0)
    assert [h["id"] for h in hits2] == [h["id"] for h in hits]
    assert [h["distance"] for h in hits2] == pytest.approx([h["distance"] for h in hits], abs=1e-6)
    assert model_calls == [1, 1]  # one query embedding each


def test_export_to_stdout_streams_json_lines(
    capsys: pytest.CaptureFixture[str], library: list[str]
) -> None:
    code = main([*library, "export", "--genre", "cooking", "--batch-size", "7"])
    captured = capsys.readouterr()
    assert code == 0
    lines = captured.out.splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["id"] for d in docs] == sorted(library_ids(lambda d: "cooking" in genres_of(d)))
    assert all(len(d["embedding"]) == 384 for d in docs)
    assert captured.err == f"exported {len(docs)} documents\n"


def test_info(capsys: pytest.CaptureFixture[str], library: list[str]) -> None:
    code, info, err = run(capsys, *library, "info")
    assert (code, err) == (0, "")
    assert info["index"] == library[3]
    assert info["documents"] == 300
    assert info["indexing_failures"] == 0
    assert info["settings"]["metadata_fields"] == {
        "author": "tag",
        "year": "numeric",
        "rating": "numeric",
        "language": "tag",
    }
    assert info["settings"]["dims"] == 384
    assert info["index_memory_mb"] >= 0
    assert info["schema"]


# -- errors and the demo -------------------------------------------------------------------------


def test_store_errors_exit_1_without_traceback_or_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"redis://alice:s3cret-pw@127.0.0.1:{free_port()}/0"
    for argv in (["count"], ["info"], ["genres"], ["export"], ["search", "q"]):
        code, out, err = run(capsys, "--url", url, "--index", "nothing_here", *argv)
        assert code == 1, argv
        assert out is None
        assert err.startswith("docstore: error: ")
        assert "Traceback" not in err
        assert "s3cret-pw" not in err


def test_a_schema_mismatch_exits_1(capsys: pytest.CaptureFixture[str], names: list[str]) -> None:
    assert run(capsys, *names, "add", str(FIXTURE))[0] == 0
    code, out, err = run(capsys, *names, "--distance", "cosine", "count")
    assert code == 1
    assert out is None
    assert err.startswith("docstore: error: ")
    assert "different schema" in err
    assert err.endswith("--distance and --algorithm it was created with\n")
    assert run(capsys, *names, "count") == (0, 3, "")  # untouched


def test_demo_on_a_url_leaves_nothing_behind(
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    redis_client: redis.Redis,
    store_names: StoreNames,
) -> None:
    code, out, _ = run(capsys, *names, "demo")
    assert code == 0
    assert out["query"] == "That is a happy person"
    assert_page_results(out["results"])
    assert out["filtered"]["genre"] == "pets"
    assert [r["content"] for r in out["filtered"]["results"]] == ["That is a happy dog"]
    assert set(out["results"][0]) == {"id", "content", "genres", "distance"}
    indexes = {i.decode() for i in redis_client.execute_command("FT._LIST")}
    assert store_names.index not in indexes
    assert keys_under(redis_client, store_names.prefix) == []


def test_demo_refuses_an_index_in_use(
    capsys: pytest.CaptureFixture[str], names: list[str]
) -> None:
    assert run(capsys, *names, "add", str(FIXTURE))[0] == 0
    code, out, err = run(capsys, *names, "demo")
    assert (code, out) == (1, None)
    assert "already" in err or "exist" in err
    assert run(capsys, *names, "count") == (0, 3, "")  # the existing data is untouched


@pytest.mark.slow
def test_demo_on_a_throwaway_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert_page_results(out["results"])
    assert [r["content"] for r in out["filtered"]["results"]] == ["That is a happy dog"]


def process_exists(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """`docstore serve` as a child process; killed by its pid if a test leaves it running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.Popen(
        [str(DOCSTORE), "serve", "--data-dir", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc, port, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)


@pytest.mark.slow
def test_serve_runs_until_sigterm(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    serve_process: tuple[subprocess.Popen[str], int, Path],
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    proc, port, data_dir = serve_process
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "docstore serve printed nothing within 60 s"
    info = json.loads(proc.stdout.readline())
    server_pid = info["pid"]
    try:
        assert info["url"] == f"redis://127.0.0.1:{port}"
        assert info["data_dir"] == str(data_dir.resolve())
        with redis.Redis.from_url(info["url"]) as client:
            assert client.ping() is True
            # Other commands on the same --data-dir use the running server.
            assert (data_dir / SERVE_FILE).is_file()
            assert run(capsys, "--data-dir", str(data_dir), "add", str(FIXTURE), "-q") == (
                0,
                summary(3),
                "",
            )
            assert len(list(client.scan_iter(match="docstore:[^:]*"))) == 3

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
        assert not port_open(port)
        assert not process_exists(server_pid)
        assert not (data_dir / SERVE_FILE).exists()
        assert (data_dir / "appendonlydir").is_dir()  # persistent
    finally:
        if process_exists(server_pid) and proc.poll() is not None:
            os.kill(server_pid, signal.SIGKILL)  # the server serve started, by its pid
