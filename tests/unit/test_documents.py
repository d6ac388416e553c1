from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pytest

from redis_docstore._documents import (
    Document,
    content_id,
    default_id,
    parse_document,
    prepare_documents,
    validate_id,
)
from redis_docstore._errors import (
    InvalidDocumentError,
    InvalidEmbeddingError,
    InvalidGenreError,
    ValidationError,
)


def prepare(*docs: Any, dims: int = 3) -> list[Any]:
    return prepare_documents(docs, dims=dims, distance="l2")


def test_default_id_covers_content_and_the_set_of_genres() -> None:
    a, b, c, d, e = prepare(
        Document(content="hello", genre="x"),
        Document(content="hello", genre=["y", "z"]),
        Document(content="hello!", genre="x"),
        Document(content="hello", genre=["z", "y", "z"]),  # same set, other order
        Document(content="hello", genre="x", metadata={"v": 2}),  # metadata is not in it
    )
    assert len({a.id, b.id, c.id}) == 3  # same text, other genres: another document
    assert b.id == d.id and a.id == e.id
    assert len(a.id) == 32
    assert a.id == default_id("hello", ["x"])
    assert default_id("hello", ["x"]) == default_id("hello", ("x",), "content+genres")
    # No separator trick makes two documents share an id.
    assert default_id("a", ["b c"]) != default_id("a b", ["c"])


def test_the_content_scheme_of_older_stores_hashes_the_text_alone() -> None:
    old = prepare_documents(
        [Document(content="hello", genre="x"), Document(content="hello", genre="y")],
        dims=3,
        distance="l2",
        id_scheme="content",
    )
    assert old[0].id == old[1].id == content_id("hello") == default_id("hello", ["z"], "content")
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


@pytest.mark.parametrize(
    "bad", ["a\u3000b", "a\u00a0b", "a\tb", "\u200bab\x7f", "a\u2028b", "a\ud800"]
)
def test_ids_with_any_unicode_whitespace_or_control_are_invalid(bad: str) -> None:
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


def test_a_batch_of_python_vectors_is_checked_at_once_and_kept_at_float32() -> None:
    vectors: list[Any] = [[0.1, 0.2, 0.3], (1, 2, 3), [np.float32(0.5), 1.0, 0.0]]
    vectors.append(np.array([0.25, 0.5, 0.75], dtype=np.float32))  # numpy rows mix in
    records = prepare(
        *(Document(content=f"c{i}", genre="a", embedding=v) for i, v in enumerate(vectors))
    )
    for record, vector in zip(records, vectors, strict=True):
        assert record.embedding is not None
        assert record.embedding.tolist() == np.asarray(vector, dtype=np.float32).tolist()


BAD_ROWS = [
    ([1.0, 2.0], "has 2 values"),
    ([1.0, True, 2.0], "bool, not a number"),
    ([np.True_, 0.5, 2.0], "not a number"),
    ([1.0, None, 2.0], "NoneType, not a number"),
    ([1.0, "2", 2.0], "str, not a number"),
    ([1.0, [2.0], 2.0], "list, not a number"),
    ([1.0, math.inf, 2.0], "not a finite float32"),
    ([1.0, 1e39, 2.0], "not a finite float32"),
    ([1.0, 10**400, 2.0], "not a finite float32"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_ROWS)
def test_one_bad_python_vector_in_a_batch_is_named(bad: list[Any], message: str) -> None:
    docs = [Document(content=f"c{i}", genre="a", embedding=[0.5, 1.0, 0.0]) for i in range(5)]
    docs[3] = Document(content="bad", genre="a", embedding=bad)
    with pytest.raises(InvalidEmbeddingError, match=message) as info:
        prepare(*docs)
    assert info.value.position == 3


def test_the_first_bad_document_is_named_whatever_its_fault() -> None:
    docs = [Document(content=f"c{i}", genre="a", embedding=[0.5, 1.0, 0.0]) for i in range(5)]
    docs[3] = Document(content="bad", genre="a", embedding=[1.0, True, 0.0])
    docs[1] = Document(content="bad", genre="", embedding=[0.5, 1.0, 0.0])
    with pytest.raises(InvalidGenreError) as info:
        prepare(*docs)
    assert info.value.position == 1
