from __future__ import annotations

import pytest

from redis_docstore._commands.replies import existing_shape, indexing_complete, indexing_progress
from redis_docstore._errors import ValidationError
from redis_docstore._schema import IndexSettings, build_schema, expected_shape, schema_differences


def ft_info(
    *, dims: int = 384, metric: str = "L2", algorithm: str = "HNSW", prefix: str = "doc:"
) -> dict[str, object]:
    """An FT.INFO reply (RESP3) as Redis 8.2 / search 2.10 sends it for our index."""
    vector: dict[str, object] = {
        "identifier": "$.embedding",
        "attribute": "embedding",
        "type": "VECTOR",
        "algorithm": algorithm,
        "data_type": "FLOAT32",
        "dim": dims,
        "distance_metric": metric,
        "flags": [],
    }
    return {
        "index_name": "idx",
        "index_definition": {"key_type": "JSON", "prefixes": [prefix], "default_score": 1.0},
        "attributes": [
            {
                "identifier": "$.content",
                "attribute": "content",
                "type": "TEXT",
                "WEIGHT": 1.0,
                "flags": [],
            },
            {
                "identifier": "$.genre[*]",
                "attribute": "genre",
                "type": "TAG",
                "SEPARATOR": "\x1f",
                "flags": ["CASESENSITIVE"],
            },
            vector,
        ],
    }


SETTINGS = IndexSettings(name="idx", prefix="doc", dims=384)


def test_matching_index_has_no_differences() -> None:
    assert schema_differences(expected_shape(SETTINGS), existing_shape(ft_info())) == []


def test_bytes_replies_are_understood() -> None:
    def encode(value: object) -> object:
        if isinstance(value, dict):
            return {encode(k): encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value.encode() if isinstance(value, str) else value

    info = encode(ft_info())
    assert schema_differences(expected_shape(SETTINGS), existing_shape(info)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("info", "difference"),
    [
        (ft_info(dims=768), "embedding.dims: expected 384, found 768"),
        (ft_info(metric="COSINE"), "embedding.distance: expected 'L2', found 'COSINE'"),
        (ft_info(algorithm="FLAT"), "embedding.algorithm: expected 'HNSW', found 'FLAT'"),
        (ft_info(prefix="other:"), "prefixes: expected ['doc:'], found ['other:']"),
    ],
)
def test_each_difference_is_named(info: dict[str, object], difference: str) -> None:
    assert schema_differences(expected_shape(SETTINGS), existing_shape(info)) == [difference]


def test_missing_and_extra_fields_are_named() -> None:
    info = ft_info()
    attributes = info["attributes"]
    assert isinstance(attributes, list)
    attributes.pop(0)
    attributes.append({"identifier": "$.year", "attribute": "year", "type": "NUMERIC"})
    assert schema_differences(expected_shape(SETTINGS), existing_shape(info)) == [
        "missing field 'content'",
        "unexpected field 'year'",
    ]


def test_tag_options_are_compared() -> None:
    info = ft_info()
    attributes = info["attributes"]
    assert isinstance(attributes, list)
    attributes[1] = {
        "identifier": "$.genre[*]",
        "attribute": "genre",
        "type": "TAG",
        "SEPARATOR": ",",
        "flags": [],
    }
    assert schema_differences(expected_shape(SETTINGS), existing_shape(info)) == [
        "genre.case_sensitive: expected True, found False",
        "genre.separator: expected '\\x1f', found ','",
    ]


def test_build_schema_follows_settings() -> None:
    settings = IndexSettings(name="n", prefix="p", dims=8, distance="cosine", algorithm="flat")
    schema = build_schema(settings)
    assert schema.index.name == "n"
    assert schema.index.prefix == "p:"
    assert schema.index.storage_type.value == "json"
    vector = schema.fields["embedding"]
    assert vector.attrs.dims == 8
    assert vector.attrs.algorithm.value.lower() == "flat"
    assert vector.attrs.distance_metric.value.lower() == "cosine"
    genre = schema.fields["genre"]
    assert genre.path == "$.genre[*]"
    assert genre.attrs.case_sensitive is True
    assert genre.attrs.separator == "\x1f"


def test_key_has_separator_so_prefixes_never_overlap() -> None:
    assert SETTINGS.key("abc") == "doc:abc"
    assert not "doctor:1".startswith(SETTINGS.key_prefix)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "has space"},
        {"prefix": "a:b"},
        {"prefix": "a*"},
        {"distance": "manhattan"},
        {"algorithm": "ivf"},
        {"dims": 0},
        {"dims": True},
    ],
)
def test_invalid_settings(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"name": "idx", "prefix": "doc", "dims": 3}
    with pytest.raises(ValidationError):
        IndexSettings(**{**base, **kwargs})  # type: ignore[arg-type]


def test_indexing_state_from_ft_info() -> None:
    assert indexing_complete({"indexing": 0, "percent_indexed": 1.0})
    assert not indexing_complete({"indexing": 1, "percent_indexed": 0.25})
    assert not indexing_complete({b"indexing": 0, b"percent_indexed": 0.5})
    assert indexing_progress({"percent_indexed": "0.75"}) == 0.75
