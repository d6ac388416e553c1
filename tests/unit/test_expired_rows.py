"""Replies naming a document whose key expired but is not deleted yet.

Redis deletes an expired key lazily (when a command touches it) or in its
background cycle; until then the index still matches it, and every field the
search loads comes back as nothing: ``None`` instead of the field list (RESP2),
``extra_attributes: None`` (RESP3). Such a row is a document that no longer
exists: the parsers leave it out (seen on Redis 8.2 with RediSearch 2.10, see
tests/integration/test_expiry.py).
"""

from __future__ import annotations

from typing import Any

from redis_docstore._commands.replies import (
    aggregate_keys,
    parse_hybrid_reply,
    parse_search_reply,
    parse_text_reply,
    returned_embeddings,
)
from redis_docstore._ops.spec import SearchSpec
from redis_docstore._schema import IndexSettings

LIVE = ["vector_distance", "0.5", "$.content", "A", "$.genre", '["x"]', "$.metadata", "{}"]


def test_resp2_search_reply_leaves_expired_rows_out() -> None:
    reply = [3, "doc:gone", None, "doc:a", LIVE, "doc:gone2", None]
    (hit,) = parse_search_reply(reply, key_prefix="doc:")
    assert (hit.id, hit.content, hit.distance) == ("a", "A", 0.5)
    as_bytes = [3, b"doc:gone", None, b"doc:a", [x.encode() for x in LIVE]]
    assert [h.id for h in parse_search_reply(as_bytes, key_prefix="doc:")] == ["a"]


def test_resp2_reply_in_another_layout_leaves_expired_rows_out() -> None:
    fields = ["$.genre", '["y"]', "$.content", "B", "vector_distance", "1"]  # not the fast layout
    reply = [2, b"doc:gone", None, b"doc:b", [f.encode() for f in fields]]
    assert [h.id for h in parse_search_reply(reply, key_prefix="doc:")] == ["b"]


def test_resp3_search_reply_leaves_expired_rows_out() -> None:
    live = dict(zip(LIVE[::2], LIVE[1::2], strict=True))
    reply: dict[str, Any] = {
        "total_results": 2,
        "results": [
            {"id": "doc:gone", "extra_attributes": None, "values": []},
            {"id": "doc:a", "extra_attributes": live, "values": []},
        ],
        "warning": [],
    }
    assert [h.id for h in parse_search_reply(reply, key_prefix="doc:")] == ["a"]
    with_embedding = {**live, "$.embedding": "[1.0,2.0]"}
    reply["results"][1]["extra_attributes"] = with_embedding
    # Hits and their embeddings (MMR) stay aligned: both leave the row out.
    assert returned_embeddings(reply) == [[1.0, 2.0]]


def test_aggregate_keys_leave_expired_rows_out() -> None:
    reply = {
        "results": [
            {"extra_attributes": None, "values": []},
            {"extra_attributes": {"__key": "doc:a"}, "values": []},
            {"extra_attributes": {}, "values": []},
        ]
    }
    assert aggregate_keys(reply) == ["doc:a"]


def test_hybrid_reply_leaves_expired_rows_out() -> None:
    live = {
        "__key": "doc:a",
        "vector_distance": "0.5",
        "hybrid_score": "0.9",
        "$.content": "A",
        "$.genre": '["x"]',
        "$.metadata": "{}",
    }
    reply = {
        "results": [
            {"extra_attributes": None, "values": []},
            {"extra_attributes": {"hybrid_score": "0.3"}, "values": []},  # nothing loaded
            {"extra_attributes": live, "values": []},
        ]
    }
    (hit,) = parse_hybrid_reply(reply, key_prefix="doc:", distance="l2")
    assert (hit.id, hit.score) == ("a", 0.9)


def test_a_short_unfiltered_search_is_not_redone_exactly() -> None:
    # Unfiltered, HNSW returns k hits whenever the index holds k documents: a
    # short list means documents vanished (expired) meanwhile, and an exact
    # re-run (a hybrid policy, which Redis refuses without a filter) finds no more.
    settings = IndexSettings(name="idx", prefix="doc", dims=2)
    unfiltered = SearchSpec(settings=settings, expression="*", k=10)
    filtered = SearchSpec(settings=settings, expression="@genre:{x}", k=10)
    assert not unfiltered.may_be_incomplete([])
    assert filtered.may_be_incomplete([])


def test_rrf_text_reply_leaves_expired_rows_out() -> None:
    live = {"$.content": "A", "$.genre": '["x"]', "$.metadata": "{}", "$.embedding": "[1.0]"}
    reply: dict[str, Any] = {
        "total_results": 2,
        "results": [
            {"id": "doc:gone", "score": 2.0, "extra_attributes": None},
            {"id": "doc:a", "score": 1.0, "extra_attributes": live},
        ],
        "warning": [],
    }
    hits, embeddings = parse_text_reply(reply, key_prefix="doc:")
    assert [(h.id, h.score) for h in hits] == [("a", 1.0)]
    assert embeddings == [[1.0]]
