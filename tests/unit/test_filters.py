from __future__ import annotations

import pytest

from redis_docstore.errors import InvalidGenreError
from redis_docstore.filters import genre_filter, normalize_genres, validate_genre

TRICKY = [
    "sci-fi",
    "science fiction",
    "drama} | @genre:{x",
    "x) | (*",
    "*",
    "$p",
    "w'*'",
    "trailing\\",
    "a|b",
    "{braces}",
    "drama, comedy",
    "Ünïcödé",
    "日本語",
    "emoji 🎬",
]


@pytest.mark.parametrize("genre", TRICKY)
def test_tricky_genres_are_valid(genre: str) -> None:
    assert validate_genre(genre) == genre


@pytest.mark.parametrize("genre", TRICKY)
def test_filter_escapes_every_query_character(genre: str) -> None:
    rendered = str(genre_filter(genre))
    assert rendered.startswith("@genre:{") and rendered.endswith("}")
    body = rendered[len("@genre:{") : -1]
    # Every character RediSearch treats as syntax is preceded by a backslash.
    i = 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        assert body[i].isalnum() or body[i] == "_" or ord(body[i]) > 127, (genre, body)
        i += 1


def test_list_means_any_of() -> None:
    assert str(genre_filter(["pets", "sci-fi"])) == "@genre:{pets|sci\\-fi}"


def test_duplicates_are_dropped_in_order() -> None:
    assert normalize_genres(["b", "a", "b"]) == ("b", "a")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" pets", "whitespace"),
        ("pets\n", "whitespace"),
        ("a\x1fb", "control"),
        ("a\tb", "control"),
        (3, "string"),
        (None, "string"),
    ],
)
def test_invalid_genres(value: object, message: str) -> None:
    with pytest.raises(InvalidGenreError, match=message):
        validate_genre(value)


def test_empty_filter_is_an_error_not_match_all() -> None:
    with pytest.raises(InvalidGenreError, match="empty"):
        genre_filter([])
    with pytest.raises(InvalidGenreError, match="empty"):
        genre_filter("")


def test_missing_genre_is_an_error() -> None:
    with pytest.raises(InvalidGenreError, match="required"):
        normalize_genres(None)


def test_non_sequence_genres_are_rejected() -> None:
    with pytest.raises(InvalidGenreError, match="list of strings"):
        normalize_genres({"pets"})
