from __future__ import annotations

import numpy as np
import pytest

from redis_docstore.documents import Hit
from redis_docstore.errors import InvalidGenreError, InvalidQueryError
from redis_docstore.query import build_count_query, build_vector_query, parse_search_reply


def test_vector_query_without_filter() -> None:
    query = build_vector_query([0.5, 1.0], k=3)
    assert query.query_string() == "*=>[KNN 3 @embedding $vector AS vector_distance]"
    args = query.get_args()
    assert args[args.index("RETURN") + 1 : args.index("RETURN") + 5] == [
        3 + 1,
        "$.content",
        "$.genre",
        "$.metadata",
    ]
    assert np.frombuffer(query.params["vector"], dtype=np.float32).tolist() == [0.5, 1.0]


def test_vector_query_with_escaped_genres() -> None:
    query = build_vector_query([0.0], k=2, genre=["sci-fi", "a b"])
    assert query.query_string() == (
        "(@genre:{sci\\-fi|a\\ b})=>[KNN 2 @embedding $vector AS vector_distance]"
    )


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3"])
def test_bad_k(k: object) -> None:
    with pytest.raises(InvalidQueryError, match="k must be a positive integer"):
        build_vector_query([0.0], k=k)  # type: ignore[arg-type]


def test_empty_genre_list_never_matches_all() -> None:
    with pytest.raises(InvalidGenreError):
        build_vector_query([0.0], k=1, genre=[])
    with pytest.raises(InvalidGenreError):
        build_count_query([])


def test_count_query() -> None:
    assert build_count_query().query_string() == "*"
    assert build_count_query("pets").query_string() == "@genre:{pets}"


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


def test_parse_search_reply_with_bytes() -> None:
    def encode(value: object) -> object:
        if isinstance(value, dict):
            return {encode(k): encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value.encode() if isinstance(value, str) else value

    hits = parse_search_reply(encode(REPLY), key_prefix="doc:")  # type: ignore[arg-type]
    assert [h.id for h in hits] == ["abc", "def"]
    assert hits[0].genres == ("persons", "x, y")


def test_parse_empty_reply() -> None:
    assert parse_search_reply({"total_results": 0, "results": []}, key_prefix="doc:") == []
