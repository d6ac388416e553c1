"""Genres: what a valid genre is.

A genre is an identifier, matched exactly and case-sensitively. The index
stores genres in a TAG field whose separator is the ASCII unit separator
(``\x1f``) rather than RediSearch's default comma, so a genre such as
``"drama, comedy"`` is one tag that round-trips intact. What RediSearch cannot
store exactly is refused instead of silently mangled: leading or trailing
whitespace (tags are trimmed when indexed) and control characters (they do not
match once indexed; the separator is one).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from redis_docstore._errors import InvalidGenreError

__all__ = ["GENRE_FIELD", "GENRE_SEPARATOR", "normalize_genres", "validate_genre"]

GENRE_FIELD = "genre"
GENRE_SEPARATOR = "\x1f"
MAX_GENRE_BYTES = 1024
VALID_CACHE_SIZE = 4096
_VALID: set[str] = set()  # genres already checked (a set: safe under threads)


def validate_genre(genre: object) -> str:
    """Check one genre.

    Args:
        genre: The candidate genre.

    Returns:
        The genre, unchanged.

    Raises:
        InvalidGenreError: Not a string, empty, with leading or trailing
            whitespace, holding a control character or a lone surrogate, or
            longer than 1024 bytes in UTF-8.
    """
    if type(genre) is str and genre in _VALID:
        return genre  # genres repeat: each distinct one is checked once
    if not isinstance(genre, str):
        raise InvalidGenreError(f"a genre must be a string, not {type(genre).__name__}")
    if not genre.strip():
        raise InvalidGenreError("a genre must not be empty or whitespace")
    if genre != genre.strip():
        raise InvalidGenreError(f"genre {genre!r} has leading or trailing whitespace")
    if any(unicodedata.category(c) == "Cc" for c in genre):
        raise InvalidGenreError(f"genre {genre!r} contains a control character")
    try:
        size = len(genre.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidGenreError(f"genre {genre!r} is not valid text (a lone surrogate)") from None
    if size > MAX_GENRE_BYTES:
        # RediSearch stores longer tags, but they never match a query.
        raise InvalidGenreError(
            f"genre is {size} bytes long; at most {MAX_GENRE_BYTES} (UTF-8) are allowed"
        )
    if len(_VALID) >= VALID_CACHE_SIZE:
        _VALID.clear()
    _VALID.add(genre)
    return genre


def normalize_genres(genres: object) -> tuple[str, ...]:
    """Turn one genre or a list of genres into a tuple of distinct genres.

    Args:
        genres: A string, or a non-empty sequence of strings.

    Returns:
        The genres in their first-seen order, duplicates dropped.

    Raises:
        InvalidGenreError: ``None``, an empty list, or any invalid genre.
    """
    if isinstance(genres, str):
        return (validate_genre(genres),)
    if genres is None:
        raise InvalidGenreError("a genre is required")
    if not isinstance(genres, Sequence):
        raise InvalidGenreError(
            f"genres must be a string or a list of strings, not {type(genres).__name__}"
        )
    if not genres:
        raise InvalidGenreError("the list of genres is empty")
    return tuple(dict.fromkeys(validate_genre(g) for g in genres))
