"""Lean replies (``fields=``) without a server: validation, the spec, commands and replies."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

import hiredis
import numpy as np
import pytest

from redis_docstore import DocumentStore, Hit, IncompleteResultsError, InvalidQueryError
from redis_docstore._cli.commands import _hit_json, build_parser
from redis_docstore._cli.options import fields_type
from redis_docstore._commands.hybrid import build_hybrid_command
from redis_docstore._commands.replies import parse_lean_reply, parse_search_reply
from redis_docstore._commands.search import knn_command, range_command
from redis_docstore._documents import HIT_FIELDS
from redis_docstore._ops import search
from redis_docstore._ops.spec import SearchSpec, stored_fields

ALLOWED = "'id', 'distance', 'content', 'genres', 'metadata'"


class Tiny:
    dims = 2

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def spec_of(store: DocumentStore, **options: Any) -> SearchSpec:
    defaults: dict[str, Any] = dict(
        genre=None, genres_all=None, exclude_genres=None, where=None, k=10, offset=0,
        max_distance=None, text=None, text_mode="boost", alpha=0.7, mmr_lambda=None,
        fetch_k=None, ef_runtime=None,
    )  # fmt: skip
    return search.spec(store._state, **{**defaults, **options})


@pytest.fixture
def store() -> DocumentStore:
    return DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects


# -- validation ----------------------------------------------------------------------------------


def test_the_names_are_the_attributes_of_a_hit() -> None:
    hit = Hit("a", "text", ("g",), 0.5)
    assert HIT_FIELDS == ("id", "distance", "content", "genres", "metadata")
    assert all(hasattr(hit, name) for name in HIT_FIELDS)


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        (None, None),
        ([], ()),
        (["id", "distance"], ()),
        (("id",), ()),
        (["distance"], ()),
        (["metadata", "content"], ("content", "metadata")),
        (["genres", "genres", "id"], ("genres",)),
        (["content", "genres", "metadata"], None),  # everything: the default reply
        (list(HIT_FIELDS), None),
        ({"metadata"}, ("metadata",)),
    ],
)
def test_stored_fields(fields: Any, stored: tuple[str, ...] | None) -> None:
    assert stored_fields(fields) == stored


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("id", "not str"),
        (b"id", "not bytes"),
        (5, "not int"),
        (["genre"], "unknown field 'genre'"),
        (["Content"], "unknown field 'Content'"),
        (["embedding"], "unknown field 'embedding'"),
        (["id", None], "unknown field None"),
        ([["id"]], r"unknown field \['id'\]"),
    ],
)
def test_bad_fields(store: DocumentStore, fields: Any, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message) as caught:
        stored_fields(fields)
    assert ALLOWED in str(caught.value)
    with pytest.raises(InvalidQueryError, match=message):
        spec_of(store, fields=fields)


# -- the spec ------------------------------------------------------------------------------------


def test_fields_are_part_of_the_cached_spec(store: DocumentStore) -> None:
    full = spec_of(store)
    assert full.fields is None and not full.lean
    lean = spec_of(store, fields=["id", "distance"])
    assert lean is spec_of(store, fields=["id", "distance"])  # a list is cached too
    assert lean is not full and lean.fields == () and lean.lean
    assert spec_of(store, fields=["metadata"]).fields == ("metadata",)
    assert spec_of(store, fields=["content", "genres", "metadata"]) == full
    assert spec_of(store, fields=None) is full


def test_only_plain_and_range_searches_are_lean(store: DocumentStore) -> None:
    assert spec_of(store, fields=[], max_distance=0.5).lean
    assert not spec_of(store, fields=[], mmr_lambda=0.5).lean  # it reads the embeddings
    assert not spec_of(store, fields=[], text="dragon").lean  # FT.AGGREGATE


def test_the_exact_rerun_of_a_lean_search_is_lean(store: DocumentStore) -> None:
    lean = spec_of(store, fields=["id"], genre="rare")
    exact = replace(lean, exact=True)
    command = list(exact.command(np.ones(2)))
    assert "HYBRID_POLICY ADHOC_BF" in command[2]
    assert command[command.index("NOCONTENT") + 1] == "WITHSORTKEYS"


def test_a_lean_spec_parses_sort_keys(store: DocumentStore) -> None:
    lean = spec_of(store, fields=[])
    prefix = store._state.settings.key_prefix
    reply = [2, f"{prefix}a", "#0.25", f"{prefix}b", "#1.5"]
    assert lean.parse(reply, np.ones(2)) == [Hit("a", "", (), 0.25), Hit("b", "", (), 1.5)]


def test_a_lean_mmr_search_drops_the_embeddings(store: DocumentStore) -> None:
    spec = spec_of(store, fields=["id"], mmr_lambda=1.0, k=2, fetch_k=3)
    prefix = store._state.settings.key_prefix
    reply = [3]
    for name, distance, vector in (("a", 0.5, "[0,1]"), ("b", 0.1, "[1,0]"), ("c", 0.2, "[1,1]")):
        reply += [prefix + name, ["vector_distance", str(distance), "$.embedding", vector]]
    hits = spec.parse(reply, np.array([1.0, 0.0]))
    assert hits == [Hit("b", "", (), 0.1), Hit("c", "", (), 0.2)]


# -- commands ------------------------------------------------------------------------------------


def after(args: list[Any], word: str, n: int) -> list[Any]:
    i = args.index(word)
    return args[i : i + n]


@pytest.mark.parametrize(
    "build",
    [
        lambda **kw: knn_command("idx", [0.5, 1.0], k=3, **kw),
        lambda **kw: range_command("idx", [0.5, 1.0], max_distance=1.0, k=3, **kw),
    ],
    ids=["knn", "range"],
)
def test_search_commands_return_the_fields_asked_for(build: Any) -> None:
    full = list(build())
    assert after(full, "RETURN", 6) == [
        "RETURN", 4, "$.content", "$.genre", "$.metadata", "vector_distance",
    ]  # fmt: skip
    assert "NOCONTENT" not in full and "WITHSORTKEYS" not in full
    assert list(build(fields=None)) == full
    assert after(list(build(fields=("genres",))), "RETURN", 4) == [
        "RETURN", 2, "$.genre", "vector_distance",
    ]  # fmt: skip
    lean = list(build(fields=()))
    assert "RETURN" not in lean
    assert after(lean, "NOCONTENT", 2) == ["NOCONTENT", "WITHSORTKEYS"]
    assert after(lean, "SORTBY", 3) == ["SORTBY", "vector_distance", "ASC"]  # the sort key
    for command in (build(), build(fields=()), build(fields=("metadata", "content"))):
        assert command.packed == hiredis.pack_command(tuple(command))


def test_mmr_commands_read_embeddings_whatever_the_fields() -> None:
    lean = list(knn_command("idx", [0.5], k=3, fields=(), with_embeddings=True))
    assert after(lean, "RETURN", 4) == ["RETURN", 2, "$.embedding", "vector_distance"]
    assert "NOCONTENT" not in lean
    full = list(knn_command("idx", [0.5], k=3, with_embeddings=True))
    assert after(full, "RETURN", 2) == ["RETURN", 5]


def test_hybrid_command_loads_the_fields_asked_for() -> None:
    def load(**kw: Any) -> list[Any]:
        args = build_hybrid_command("idx", [0.5], "dragon", k=3, **kw)
        return args[args.index("LOAD") : args.index("APPLY")]

    assert load() == [
        "LOAD", "5", "@__key", "$.content", "$.genre", "$.metadata", "@vector_distance",
    ]  # fmt: skip
    assert load(fields=None) == load()
    assert load(fields=()) == ["LOAD", "2", "@__key", "@vector_distance"]
    assert load(fields=("metadata",)) == ["LOAD", "3", "@__key", "$.metadata", "@vector_distance"]


# -- replies -------------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {encode(k): encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value.encode() if isinstance(value, str) else value


LEAN_RESP2 = [
    3,
    "doc:a",
    "#-1.1920928955078125e-07",
    "doc:b",
    "#0.20587706565856934",
    "doc:c",
    "#2",
]
LEAN_RESP3 = {
    "attributes": [],
    "total_results": 3,
    "format": "STRING",
    "results": [
        {"id": "doc:a", "sortkey": "#-1.1920928955078125e-07", "values": []},
        {"id": "doc:b", "sortkey": "#0.20587706565856934", "values": []},
        {"id": "doc:c", "sortkey": "#2", "values": []},
    ],
    "warning": [],
}


@pytest.mark.parametrize(
    "reply",
    [LEAN_RESP2, encode(LEAN_RESP2), LEAN_RESP3, encode(LEAN_RESP3)],
    ids=["resp2", "resp2-bytes", "resp3", "resp3-bytes"],
)
def test_parse_lean_reply(reply: Any) -> None:
    hits = parse_lean_reply(reply, key_prefix="doc:")
    # Rounded to the 12 significant digits RediSearch gives a RETURNed distance.
    assert hits == [
        Hit("a", "", (), -1.19209289551e-07),
        Hit("b", "", (), 0.205877065659),
        Hit("c", "", (), 2.0),
    ]
    assert all(type(h.distance) is float and h.similarity is None for h in hits)
    cosine = parse_lean_reply(reply, key_prefix="doc:", distance="cosine")
    assert [h.similarity for h in cosine] == [1.0, 1 - 0.205877065659 / 2, 0.0]


def test_parse_lean_reply_empty_and_partial() -> None:
    assert parse_lean_reply([0], key_prefix="doc:") == []
    assert parse_lean_reply({"total_results": 0, "results": []}, key_prefix="doc:") == []
    with pytest.raises(IncompleteResultsError, match="Timeout"):
        parse_lean_reply({**LEAN_RESP3, "warning": ["Timeout limit was reached"]}, key_prefix="")


def test_parse_search_reply_with_some_fields() -> None:
    reply = [
        2,
        "doc:a",
        ["vector_distance", "0.5", "$.metadata", '{"year":1999}'],
        "doc:b",
        ["vector_distance", "1", "$.genre", '["x","y"]'],
    ]
    assert parse_search_reply(reply, key_prefix="doc:") == [
        Hit("a", "", (), 0.5, {"year": 1999}),
        Hit("b", "", ("x", "y"), 1.0, {}),
    ]


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_fields_option() -> None:
    assert fields_type("id,distance") == ["id", "distance"]
    assert fields_type(" content , metadata,") == ["content", "metadata"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown field 'genre'"):
        fields_type("id,genre")
    args = build_parser().parse_args(
        ["--field", "year=numeric", "search", "q", "--fields", "id", "--field", "a=tag"]
    )
    assert args.hit_fields == ["id"]
    assert args.fields_before == [("year", "numeric")] and args.fields == [("a", "tag")]
    assert build_parser().parse_args(["search", "q"]).hit_fields is None


def test_cli_hit_json_prints_what_was_asked_for() -> None:
    hit = Hit("a", "", ("g",), 0.5, {}, similarity=0.75)
    assert _hit_json(hit, fields=["id"]) == {"id": "a", "distance": 0.5, "similarity": 0.75}
    assert _hit_json(hit, fields=["genres"]) == {
        "id": "a", "genres": ["g"], "distance": 0.5, "similarity": 0.75,
    }  # fmt: skip
    assert set(_hit_json(hit)) == {"id", "content", "genres", "distance", "metadata", "similarity"}
