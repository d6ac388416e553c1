from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from redis_docstore._commands.replies import (
    aggregate_keys,
    parse_documents,
    parse_search_reply,
    similarity,
    total_results,
)
from redis_docstore._commands.search import (
    aggregate_keys_command,
    count_command,
    knn_command,
    range_command,
    render_command,
    validate_k,
    validate_offset,
)
from redis_docstore._documents import Document, Hit
from redis_docstore._errors import InvalidQueryError


def test_knn_command_without_filter() -> None:
    cmd = knn_command("idx", [0.5, 1.0], k=3)
    assert cmd[:3] == ("FT.SEARCH", "idx", "*=>[KNN 3 @embedding $vector AS vector_distance]")
    args = list(cmd)
    ret = args.index("RETURN")
    assert args[ret : ret + 5] == ["RETURN", 4, "$.content", "$.genre", "$.metadata"]
    assert args[args.index("LIMIT") : args.index("LIMIT") + 3] == ["LIMIT", 0, 3]
    assert args[-4:-2] == ["PARAMS", 2]
    assert np.frombuffer(args[-1], dtype=np.float32).tolist() == [0.5, 1.0]


@pytest.mark.parametrize(
    "cmd",
    [knn_command("idx", [0.5], k=3), range_command("idx", [0.5], max_distance=1.0, k=3)],
    ids=["knn", "range"],
)
def test_vector_searches_have_no_time_limit(cmd: tuple[object, ...]) -> None:
    # A search cut by the server's TIMEOUT would be partial (ON_TIMEOUT RETURN)
    # with nothing in a RESP2 reply to say so; TIMEOUT 0 rules that out.
    args = list(cmd)
    assert args[args.index("TIMEOUT") + 1] == 0


def test_knn_command_paging_filter_ef_and_exact() -> None:
    cmd = knn_command(
        "idx",
        [0.0],
        k=10,
        offset=20,
        filter_expression="@genre:{sci\\-fi}",
        ef_runtime=150,
        hybrid_policy="ADHOC_BF",
        with_embeddings=True,
    )
    query = cmd[2]
    assert query.startswith("(@genre:{sci\\-fi})=>[KNN 30 @embedding $vector")
    assert "HYBRID_POLICY ADHOC_BF" in query
    assert "EF_RUNTIME $EF" in query
    args = list(cmd)
    assert args[args.index("LIMIT") : args.index("LIMIT") + 3] == ["LIMIT", 20, 10]
    assert "$.embedding" in args
    params = args[args.index("PARAMS") :]
    assert "EF" in params and 150 in params


def test_range_command() -> None:
    cmd = range_command("idx", [1.0, 0.0], max_distance=0.25, k=5, offset=5)
    assert "VECTOR_RANGE $distance_threshold $vector" in cmd[2]
    args = list(cmd)
    assert args[args.index("LIMIT") : args.index("LIMIT") + 3] == ["LIMIT", 5, 5]
    assert 0.25 in args


def test_count_and_aggregate_commands() -> None:
    # LIMIT 0 1, not 0 0: RediSearch 2.10 drops the timeout warning from LIMIT 0 0 replies.
    assert count_command("idx") == (
        "FT.SEARCH", "idx", "*", "NOCONTENT", "LIMIT", 0, 1, "DIALECT", 2,
    )  # fmt: skip
    cmd = aggregate_keys_command("idx", "@genre:{a}", cursor_count=50, max_results=1234)
    assert cmd == (
        "FT.AGGREGATE", "idx", "@genre:{a}", "LOAD", 1, "@__key", "SORTBY", 2, "@__key",
        "ASC", "MAX", 1234, "WITHCURSOR", "COUNT", 50, "DIALECT", 2,
    )  # fmt: skip


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3", None])
def test_bad_k(k: object) -> None:
    with pytest.raises(InvalidQueryError, match="k must be a positive integer"):
        validate_k(k)


@pytest.mark.parametrize("offset", [-1, 0.5, True, "1"])
def test_bad_offset(offset: object) -> None:
    with pytest.raises(InvalidQueryError, match="offset"):
        validate_offset(offset)


REPLY = {
    "attributes": [],
    "total_results": 2,
    "format": "STRING",
    "results": [
        {
            "id": "doc:abc",
            "extra_attributes": {
                "vector_distance": "0.114169925451",
                "$.content": "That is a very happy person",
                "$.genre": '["persons","x, y"]',
                "$.metadata": '{"k":[1,null]}',
            },
            "values": [],
        },
        {
            "id": "doc:def",
            "extra_attributes": {
                "vector_distance": "1.5",
                "$.content": "Today",
                "$.genre": '["weather"]',
                "$.metadata": "{}",
            },
            "values": [],
        },
    ],
    "warning": [],
}


def encode(value: object) -> object:
    if isinstance(value, dict):
        return {encode(k): encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value.encode() if isinstance(value, str) else value


def test_parse_search_reply() -> None:
    hits = parse_search_reply(REPLY, key_prefix="doc:")
    assert hits == [
        Hit(
            id="abc",
            content="That is a very happy person",
            genres=("persons", "x, y"),
            distance=0.114169925451,
            metadata={"k": [1, None]},
        ),
        Hit(id="def", content="Today", genres=("weather",), distance=1.5, metadata={}),
    ]
    assert isinstance(hits[0].distance, float)
    assert total_results(REPLY) == 2


def resp2(reply: dict[str, Any]) -> list[Any]:
    """The RESP2 form of a RESP3 FT.SEARCH reply."""
    flat: list[Any] = [reply["total_results"]]
    for result in reply["results"]:
        fields = [x for pair in result["extra_attributes"].items() for x in pair]
        flat += [result["id"], fields]
    return flat


@pytest.mark.parametrize("form", [resp2, lambda r: encode(resp2(r))], ids=["str", "bytes"])
def test_parse_search_reply_resp2(form: Callable[[dict[str, Any]], Any]) -> None:
    assert parse_search_reply(form(REPLY), key_prefix="doc:") == parse_search_reply(
        REPLY, key_prefix="doc:"
    )
    assert parse_search_reply([0], key_prefix="doc:") == []


def test_parse_search_reply_resp2_in_any_field_order() -> None:
    reply = [
        2,
        "doc:a",
        ["vector_distance", "0.5", "$.content", "A", "$.genre", '["x"]', "$.metadata", "{}"],
        "doc:b",  # another order, and no metadata (a document written by someone else)
        ["$.genre", '["y","z"]', "$.content", "B", "vector_distance", "1"],
    ]
    assert parse_search_reply(reply, key_prefix="doc:") == [
        Hit(id="a", content="A", genres=("x",), distance=0.5, metadata={}),
        Hit(id="b", content="B", genres=("y", "z"), distance=1.0, metadata={}),
    ]


def test_parse_search_reply_with_bytes_and_cosine() -> None:
    hits = parse_search_reply(encode(REPLY), key_prefix="doc:", distance="cosine")  # type: ignore[arg-type]
    assert [h.id for h in hits] == ["abc", "def"]
    assert hits[0].genres == ("persons", "x, y")
    assert hits[0].similarity == pytest.approx(1 - 0.114169925451 / 2)
    assert hits[1].similarity == pytest.approx(0.25)


def test_similarity_only_for_cosine() -> None:
    assert similarity(0.0, "cosine") == 1.0
    assert similarity(2.0, "cosine") == 0.0
    assert similarity(2.0000001, "cosine") == 0.0
    assert similarity(0.5, "l2") is None
    assert similarity(0.5, "ip") is None


def test_parse_empty_reply() -> None:
    assert parse_search_reply({"total_results": 0, "results": []}, key_prefix="doc:") == []


def test_aggregate_keys_and_documents() -> None:
    reply = {
        "results": [
            {"extra_attributes": {"__key": "doc:a"}},
            {"extra_attributes": {"__key": "doc:b"}},
        ]
    }
    keys = aggregate_keys(reply)
    assert keys == ["doc:a", "doc:b"]
    raws = ['{"content":"x","genre":["g"],"embedding":[1.0],"metadata":{}}', None]
    assert parse_documents(keys, raws, key_prefix="doc:") == [
        Document(content="x", genre="g", id="a", embedding=[1.0], metadata={})
    ]


def test_render_command_quotes_and_abbreviates() -> None:
    line = render_command(("FT.SEARCH", "idx", "@genre:{a\\ b}", "PARAMS", 2, "v", b"\x00" * 8))
    assert line == 'FT.SEARCH idx "@genre:{a\\\\ b}" PARAMS 2 v <8 bytes>'
