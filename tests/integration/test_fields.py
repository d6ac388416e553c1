"""Lean replies: ``fields=`` on search, search_many and explain, sync and async, real server.

The store holds fixtures/library.jsonl (300 documents) with deterministic
vectors (a hash of each text, so no model runs): what is under test is which
fields come back, not what the documents mean. Every lean search is checked
against the same search without ``fields=``: the same ids in the same order,
the same distances, similarities and scores to the last digit, the requested
fields equal and the others empty.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from redis_docstore import (
    DefaultEmbedder,
    Document,
    Hit,
    InvalidQueryError,
    Num,
    Tag,
)
from redis_docstore._cli.commands import main
from redis_docstore.testing import StoreNames
from tests.integration import test_search_api as search_api

LIBRARY = Path(__file__).parents[2] / "fixtures" / "library.jsonl"
METADATA_FIELDS = {"author": "tag", "year": "numeric", "rating": "numeric", "language": "tag"}
QUERY = "a dragon guarding its treasure"
STORED = ("content", "genres", "metadata")
EMPTY: dict[str, Any] = {"content": "", "genres": (), "metadata": {}}
FIELD_SETS: list[list[Any]] = [
    ["id", "distance"],
    ["id"],
    [],
    ["content"],
    ["genres"],
    ["metadata"],
    ["id", "content", "metadata"],
    ["genres", "distance", "genres"],
]


def hash_vector(text: str) -> list[float]:
    """A unit vector of the default model's 384 dims, from a hash of ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    v = np.random.default_rng(seed).standard_normal(DefaultEmbedder.dims)
    return [float(x) for x in v / np.linalg.norm(v)]


@pytest.fixture(autouse=True)
def no_model() -> Iterator[None]:
    """Every DefaultEmbedder (the stores' and the CLI's) hashes instead of running the model."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            DefaultEmbedder, "embed_many", lambda self, texts: [hash_vector(t) for t in texts]
        )
        yield


@pytest.fixture(scope="module")
def library() -> list[Document]:
    rows = [orjson.loads(line) for line in LIBRARY.read_bytes().splitlines() if line.strip()]
    return [Document(**row, embedding=hash_vector(row["content"])) for row in rows]


def open_api(kind: str, url: str, names: StoreNames, **options: Any) -> Iterator[Any]:
    """A sync store or an adapted async store (cosine, the metadata fields); closed after."""
    return search_api.open_api(
        kind, url, names, DefaultEmbedder(), distance="cosine",
        metadata_fields=METADATA_FIELDS, **options,
    )  # fmt: skip


@pytest.fixture(params=["sync", "async"])
def api(
    request: pytest.FixtureRequest,
    redis_stack_url: str,
    store_names: StoreNames,
    library: list[Document],
) -> Iterator[Any]:
    """A store (sync or async, cosine) holding the library."""
    for store in open_api(request.param, redis_stack_url, store_names):
        store.add(library)
        yield store


def assert_lean(lean: Sequence[Hit], full: Sequence[Hit], fields: Sequence[str]) -> None:
    """``lean`` are ``full`` with only ``fields`` (plus id, distance, similarity, score)."""
    assert full
    assert [h.id for h in lean] == [h.id for h in full]
    for short, whole in zip(lean, full, strict=True):
        assert (short.distance, short.similarity, short.score) == (
            whole.distance,
            whole.similarity,
            whole.score,
        )
        for name in STORED:
            expected = getattr(whole, name) if name in fields else EMPTY[name]
            assert getattr(short, name) == expected, name
        assert type(short.genres) is tuple and type(short.metadata) is dict


SEARCHES: list[dict[str, Any]] = [
    {},
    {"k": 25},
    {"k": 5, "offset": 7},
    {"genre": ["fantasy", "mystery"], "exclude_genres": ["romance"]},
    {"where": (Num("year") >= 1990) & ~(Tag("language") == "en"), "k": 50},
    {"max_distance": 1.0, "k": 40},
    {"text": "dragon treasure", "k": 8},
    {"text": "dragon", "text_mode": "require", "alpha": 0.3, "genre": "fantasy"},
    {"text": "dragon treasure", "text_mode": "rrf", "k": 8, "fetch_k": 30},
    {"text": "dragon", "text_mode": "rrf", "rrf_k": 10, "genre": "fantasy"},
    {"mmr_lambda": 0.4, "k": 6, "fetch_k": 30},
    {"mmr_lambda": 0.7, "k": 5, "where": Num("rating") >= 3},
]


@pytest.mark.parametrize("options", SEARCHES, ids=lambda o: ",".join(o) or "plain")
def test_search_returns_only_the_fields_asked_for(api: Any, options: dict[str, Any]) -> None:
    full = api.search(QUERY, **options)
    for fields in FIELD_SETS:
        assert_lean(api.search(QUERY, fields=fields, **options), full, fields)
    every = ["id", "distance", *STORED]
    assert api.search(QUERY, fields=every, **options) == full
    assert api.search(QUERY, fields=None, **options) == full


@pytest.mark.parametrize(
    "options",
    [{}, {"genre": "fantasy", "k": 4}, {"text": "dragon"}, {"text": "dragon", "text_mode": "rrf"}],
)
def test_search_many_takes_fields_for_every_query(api: Any, options: dict[str, Any]) -> None:
    queries = [QUERY, "a detective solves a murder", hash_vector("a vector query")]
    for fields in (["id", "distance"], ["metadata"]):
        lean = api.search_many(queries, fields=fields, **options)
        full = api.search_many(queries, **options)
        assert len(lean) == len(queries)
        for short, whole in zip(lean, full, strict=True):
            assert_lean(short, whole, fields)
        assert lean == [api.search(q, fields=fields, **options) for q in queries]


def test_lean_searches_with_a_time_limit(
    redis_stack_url: str, store_names: StoreNames, library: list[Document]
) -> None:
    """A store with query_timeout sends its searches as RESP3: lean replies parse there too."""
    for kind in ("sync", "async"):
        for store in open_api(kind, redis_stack_url, store_names, query_timeout=5):
            if kind == "sync":
                store.add(library)
            assert "TIMEOUT 5000" in store.explain(QUERY, fields=["id"])
            for options in ({"k": 12}, {"max_distance": 1.0}, {"genre": "fantasy"}):
                full = store.search(QUERY, **options)
                assert_lean(store.search(QUERY, fields=["id"], **options), full, [])
                assert_lean(store.search(QUERY, fields=["genres"], **options), full, ["genres"])


def test_explain_shows_what_the_server_is_asked_for(api: Any) -> None:
    ids_only = api.explain(QUERY, fields=["id", "distance"])
    assert " NOCONTENT " in ids_only and " WITHSORTKEYS " in ids_only
    assert "RETURN" not in ids_only and "$.content" not in ids_only
    assert " RETURN 2 $.metadata vector_distance " in api.explain(QUERY, fields=["metadata"])
    assert " RETURN 4 $.content $.genre $.metadata vector_distance " in api.explain(QUERY)
    ranged = api.explain(QUERY, fields=[], max_distance=0.5)
    assert "VECTOR_RANGE" in ranged and " NOCONTENT " in ranged
    # MMR reads the embeddings it needs, and nothing else that was not asked for.
    mmr = api.explain(QUERY, fields=["id"], mmr_lambda=0.5)
    assert " RETURN 2 $.embedding vector_distance " in mmr
    hybrid = api.explain(QUERY, fields=["id"], text="dragon")
    assert " LOAD 2 @__key @vector_distance " in hybrid
    assert " LOAD 3 @__key $.genre @vector_distance " in api.explain(
        QUERY, fields=["genres"], text="dragon"
    )
    assert " LOAD 5 @__key $.content $.genre $.metadata @vector_distance " in api.explain(
        QUERY, text="dragon"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["genre"], "unknown field 'genre'"),
        (["id", "embedding"], "unknown field 'embedding'"),
        (["ID"], "unknown field 'ID'"),
        ([1], "unknown field 1"),
        ("id", "not str"),
        (5, "not int"),
    ],
)
def test_bad_fields_are_refused_before_anything_is_sent(
    api: Any, fields: Any, message: str
) -> None:
    for call in (
        lambda: api.search(QUERY, fields=fields),
        lambda: api.search_many([QUERY], fields=fields),
        lambda: api.explain(QUERY, fields=fields),
    ):
        with pytest.raises(InvalidQueryError, match=message) as caught:
            call()
        assert "'id', 'distance', 'content', 'genres', 'metadata'" in str(caught.value)


def test_cli_search_fields(
    capsys: pytest.CaptureFixture[str],
    redis_stack_url: str,
    store_names: StoreNames,
    library: list[Document],
) -> None:
    for store in open_api("sync", redis_stack_url, store_names):
        store.add(library)
        full = store.search(QUERY, k=5, genre="fantasy")
    argv = ["--url", redis_stack_url, "--index", store_names.index, "--prefix", store_names.prefix]
    argv += ["--distance", "cosine", "--field", "author=tag", "--field", "year=numeric"]
    argv += ["--field", "rating=numeric", "--field", "language=tag"]

    def run(*args: str) -> tuple[int, Any, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main([*argv, "search", QUERY, "-k", "5", "--genre", "fantasy", *args])
        return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()

    code, hits, _ = run("--fields", "id,distance")
    assert code == 0
    assert hits == [{"id": h.id, "distance": h.distance, "similarity": h.similarity} for h in full]
    code, hits, _ = run("--fields", "genres, metadata")
    assert code == 0
    assert [set(h) for h in hits] == [{"id", "distance", "similarity", "genres", "metadata"}] * 5
    assert [h["metadata"] for h in hits] == [h.metadata for h in full]
    code, explained, _ = run("--fields", "id", "--explain")
    assert code == 0 and " NOCONTENT WITHSORTKEYS " in explained["command"]
    code, hits, err = run("--fields", "id,genre")
    assert (code, hits) == (2, None)
    assert "unknown field 'genre'" in err
