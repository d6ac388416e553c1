from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from redis_docstore.documents import (
    Document,
    content_id,
    parse_document,
    prepare_documents,
    validate_id,
)
from redis_docstore.errors import (
    InvalidDocumentError,
    InvalidEmbeddingError,
    InvalidGenreError,
    ValidationError,
)


def prepare(*docs: Any, dims: int = 3) -> list[Any]:
    return prepare_documents(docs, dims=dims, distance="l2")


def test_default_id_is_stable_and_content_derived() -> None:
    a, b, c = prepare(
        Document(content="hello", genre="x"),
        Document(content="hello", genre=["y", "z"]),
        Document(content="hello!", genre="x"),
    )
    assert a.id == b.id == content_id("hello")
    assert a.id != c.id
    assert len(a.id) == 32
    assert content_id("hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e"


def test_record_keeps_genres_metadata_and_embedding() -> None:
    (record,) = prepare(
        Document(
            content="c",
            genre=["a", "b", "a"],
            id="my-id",
            embedding=[1, 2, 3],
            metadata={"n": 1, "nested": {"l": [1, None, "x"]}},
        )
    )
    assert record.id == "my-id"
    assert record.genres == ("a", "b")
    assert record.embedding is not None and record.embedding.tolist() == [1.0, 2.0, 3.0]
    assert record.metadata == {"n": 1, "nested": {"l": [1, None, "x"]}}
    stored = orjson.loads(record.to_json([1.0, 2.0, 3.0]))
    assert stored == {
        "content": "c",
        "genre": ["a", "b"],
        "embedding": [1.0, 2.0, 3.0],
        "metadata": {"n": 1, "nested": {"l": [1, None, "x"]}},
    }


@pytest.mark.parametrize(
    ("doc", "error", "message"),
    [
        (Document(content="", genre="a"), InvalidDocumentError, "content must not be empty"),
        (Document(content="  \n", genre="a"), InvalidDocumentError, "content must not be empty"),
        (Document(content=3, genre="a"), InvalidDocumentError, "content must be a string"),  # type: ignore[arg-type]
        (Document(content="\ud800", genre="a"), InvalidDocumentError, "lone surrogate"),
        (Document(content="c", genre=[]), InvalidGenreError, "empty"),
        (Document(content="c", genre=None), InvalidGenreError, "required"),  # type: ignore[arg-type]
        (Document(content="c", genre=""), InvalidGenreError, "empty"),
        (Document(content="c", genre=["ok", 5]), InvalidGenreError, "string"),  # type: ignore[list-item]
        (Document(content="c", genre="a", embedding=[1.0]), InvalidEmbeddingError, "has 1"),
        (
            Document(content="c", genre="a", embedding=[1.0, math.nan, 0]),
            InvalidEmbeddingError,
            "finite",
        ),
        (Document(content="c", genre="a", id=""), InvalidDocumentError, "empty"),
        (Document(content="c", genre="a", metadata=[1]), InvalidDocumentError, "mapping"),  # type: ignore[arg-type]
        (
            Document(content="c", genre="a", metadata={"x": {1, 2}}),
            InvalidDocumentError,
            "set is not JSON",
        ),
        (
            Document(content="c", genre="a", metadata={"x": math.nan}),
            InvalidDocumentError,
            "not valid JSON",
        ),
        (
            Document(content="c", genre="a", metadata={1: "x"}),  # type: ignore[dict-item]
            InvalidDocumentError,
            "keys must be strings",
        ),
        (
            Document(content="c", genre="a", metadata={"big": 2**70}),
            InvalidDocumentError,
            "64-bit",
        ),
        ("not a document", InvalidDocumentError, "expected a Document"),
    ],
)
def test_invalid_documents_name_their_position(doc: Any, error: type, message: str) -> None:
    good = Document(content="fine", genre="ok")
    with pytest.raises(error, match=message) as info:
        prepare(good, good, doc)
    assert isinstance(info.value, ValidationError)
    assert info.value.position == 2
    assert "document #2" in str(info.value)


@pytest.mark.parametrize(
    "bad", ["", "a:b", "a*", "a?", "[a]", "a\\b", "a b", "a\nb", "x" * 513, 7, None]
)
def test_invalid_ids(bad: object) -> None:
    with pytest.raises(InvalidDocumentError):
        validate_id(bad)


@pytest.mark.parametrize("good", ["a", "doc-1", "ÄÖÜ", "a.b_c@d/e", "x" * 512])
def test_valid_ids(good: str) -> None:
    assert validate_id(good) == good


def test_parse_document_round_trip() -> None:
    raw = orjson.dumps(
        {"content": "c", "genre": ["a", "b"], "embedding": [0.5], "metadata": {"k": [1]}}
    )
    doc = parse_document("id1", raw)
    assert doc == Document(
        content="c", genre=["a", "b"], id="id1", embedding=[0.5], metadata={"k": [1]}
    )
    single = parse_document("id2", orjson.dumps({"content": "c", "genre": ["a"]}))
    assert single.genre == "a"
    assert single.genres == ("a",)
    assert single.metadata == {}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"year": "1999"}, "metadata.year .* must be a number, not str"),
        ({"year": True}, "must be a number, not bool"),
        ({"author": 7}, "metadata.author .*string"),
        ({"author": ["ok", ""]}, "metadata.author"),
        ({"author": " padded"}, "whitespace"),
        ({"summary": ["not", "text"]}, "metadata.summary .* must be a string"),
    ],
)
def test_indexed_metadata_values_must_fit_their_field(
    metadata: dict[str, object], message: str
) -> None:
    fields = {"year": "numeric", "author": "tag", "summary": "text"}
    with pytest.raises(InvalidDocumentError, match=message):
        prepare_documents(
            [Document(content="c", genre="g", metadata=metadata)],
            dims=3,
            distance="l2",
            metadata_fields=fields,  # type: ignore[arg-type]
        )


def test_indexed_metadata_fields_may_be_absent_or_lists_of_tags() -> None:
    fields = {"year": "numeric", "author": "tag"}
    (record,) = prepare_documents(
        [Document(content="c", genre="g", metadata={"author": ["Ann", "Bob"], "other": [1]})],
        dims=3,
        distance="l2",
        metadata_fields=fields,  # type: ignore[arg-type]
    )
    assert record.metadata == {"author": ["Ann", "Bob"], "other": [1]}
