r"""Conditions on one field — :class:`Tag`, :class:`Num`, :class:`Text` — and genre filters.

Each condition builds a leaf :class:`~redis_docstore._filters.expression.Filter` from
redisvl's filter classes (for their escaping, widened where redisvl leaves
characters bare); ``&``, ``|`` and ``~`` combine leaves (see
:mod:`redis_docstore._filters.expression` for the semantics measured on RediSearch 2.10)::

    (Tag("genre") == ["pets", "sci-fi"]) & (Num("year") >= 2000)
    # (@genre:{pets|sci\-fi} @year:[2000 +inf])
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Collection, Sequence
from typing import Literal, get_args

from redisvl.query.filter import FilterExpression
from redisvl.query.filter import Num as _RedisvlNum
from redisvl.query.filter import Tag as _RedisvlTag
from redisvl.query.filter import Text as _RedisvlText
from redisvl.utils.token_escaper import TokenEscaper

from redis_docstore._errors import InvalidFilterError, InvalidGenreError
from redis_docstore._filters.expression import Filter, _check_name, _combine_all, combine
from redis_docstore._filters.genres import GENRE_FIELD, normalize_genres

__all__ = [
    "DEFAULT_STOPWORDS",
    "Inclusive",
    "Num",
    "Tag",
    "Text",
    "genre_filter",
    "genre_filters",
]

Inclusive = Literal["both", "neither", "left", "right"]

#: RediSearch's default stopwords: an index created without ``STOPWORDS``
#: does not store them, so a query for them alone matches nothing.
DEFAULT_STOPWORDS: frozenset[str] = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
        "is", "it", "no", "not", "of", "on", "or", "such", "that", "their", "then", "there",
        "these", "they", "this", "to", "was", "will", "with", "the",
    }
)  # fmt: skip

_INCLUSIVE: tuple[str, ...] = get_args(Inclusive)
# Every ASCII character but letters and digits. redisvl's TAG set misses "`"
# (unescaped, the value matches nothing) and "_" (alone, a syntax error). The
# same escaper serves text words outside quotes, where a lone "_" is also a
# syntax error; inside a quoted phrase an escape is taken literally, and the
# words are left as they are (they hold no ASCII punctuation but "_").
_ESCAPER = TokenEscaper(escape_chars_re=re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"))
_SAFE_WORD = re.compile(r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x9f]+")
# Where user text is split into words: the space, the tab and the ASCII
# punctuation RediSearch separates tokens at (ToksepMap_g), plus the backslash
# (an escape in RediSearch, which no filter should honour) and the other
# control characters (a document word next to one is glued to it anyway).
# Non-ASCII spaces are part of a word, in the index as here.
_WORD_SEPARATORS = re.compile(r"[\x00-\x20\x7f-\x9f!-/:-@\[-^`{-~]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _EscapingTag(_RedisvlTag):  # type: ignore[misc]  # redisvl is untyped
    """redisvl's Tag leaf, with an escaper that leaves no ASCII punctuation bare."""

    escaper = _ESCAPER


# -- Tag -----------------------------------------------------------------------------------------


class Tag:
    """A TAG field: exact, case-sensitive match of string values (like genres).

    A value follows the rules of a genre (:func:`validate_genre`): a non-empty
    string without leading or trailing whitespace or control characters. A
    single string is one value, never a list of characters.

    Args:
        name: The field name (letters, digits and ``_``; not starting with a digit).

    Raises:
        InvalidFilterError: An invalid field name.
    """

    __slots__ = ("_name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a Filter

    def __init__(self, name: str) -> None:
        self._name = _check_name(name)

    @property
    def name(self) -> str:
        """The field name."""
        return self._name

    def __repr__(self) -> str:
        return f"Tag({self._name!r})"

    def _values(self, values: object) -> tuple[str, ...]:
        if self._name == GENRE_FIELD:
            return normalize_genres(values)
        try:
            return normalize_genres(values)
        except InvalidGenreError as exc:
            raise InvalidFilterError(f"tag field {self._name!r}: {exc}") from exc

    def _leaf(self, values: Sequence[str]) -> Filter:
        expression = str(_EscapingTag(self._name) == list(values))
        return Filter._make(expression, {self._name: "tag"}, "leaf")

    def __eq__(self, value: str | Sequence[str]) -> Filter:  # type: ignore[override]
        """Match documents having the value, or any of the values: ``@f:{a|b}``.

        Args:
            value: One value, or a non-empty list.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: An empty list or an invalid value
                (``InvalidGenreError`` on the ``genre`` field).
        """
        return self.any_of(value)

    def __ne__(self, value: str | Sequence[str]) -> Filter:  # type: ignore[override]
        """Match documents having none of the values (nor any value at all): ``-(@f:{a|b})``.

        Args:
            value: One value, or a non-empty list.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: An empty list or an invalid value
                (``InvalidGenreError`` on the ``genre`` field).
        """
        return self.none_of(value)

    def any_of(self, values: Sequence[str]) -> Filter:
        """Match documents having at least one of the values: ``@f:{a|b}``.

        Args:
            values: A non-empty list of values (or one string).

        Returns:
            The filter.

        Raises:
            InvalidFilterError: An empty list or an invalid value
                (``InvalidGenreError`` on the ``genre`` field).
        """
        return self._leaf(self._values(values))

    def all_of(self, values: Sequence[str]) -> Filter:
        """Match documents having every one of the values: ``(@f:{a} @f:{b})``.

        Args:
            values: A non-empty list of values (or one string).

        Returns:
            The filter.

        Raises:
            InvalidFilterError: An empty list or an invalid value
                (``InvalidGenreError`` on the ``genre`` field).
        """
        return _combine_all([self._leaf([v]) for v in self._values(values)], "and")

    def none_of(self, values: Sequence[str]) -> Filter:
        """Match documents having none of the values (nor any value at all): ``-(@f:{a|b})``.

        Args:
            values: A non-empty list of values (or one string).

        Returns:
            The filter.

        Raises:
            InvalidFilterError: An empty list or an invalid value
                (``InvalidGenreError`` on the ``genre`` field).
        """
        return ~self.any_of(values)


# -- Num -----------------------------------------------------------------------------------------


def _number(value: object, what: str, *, infinite_ok: bool = False) -> int | float:
    """A plain int or float for the query text, or InvalidFilterError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidFilterError(f"{what} must be a number, not {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        number: int | float = int(value)
    else:
        try:
            number = float(value)
        except (OverflowError, ValueError) as exc:
            raise InvalidFilterError(f"{what} {value!r} is not a usable number") from exc
    try:
        as_float = float(number)
    except OverflowError as exc:
        raise InvalidFilterError(f"{what} {value!r} is too large for a double") from exc
    if math.isnan(as_float):
        raise InvalidFilterError(f"{what} must not be NaN")
    if math.isinf(as_float) and not infinite_ok:
        raise InvalidFilterError(f"{what} must be finite, not {as_float!r}")
    return number


class Num:
    """A NUMERIC field: comparisons and ranges of numbers.

    Values are ``int`` or ``float`` (or another real number type, such as
    numpy's); ``bool``, NaN and non-numbers are refused, and so are infinities,
    except as :meth:`between` bounds.

    Args:
        name: The field name (letters, digits and ``_``; not starting with a digit).

    Raises:
        InvalidFilterError: An invalid field name.
    """

    __slots__ = ("_name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a Filter

    def __init__(self, name: str) -> None:
        self._name = _check_name(name)

    @property
    def name(self) -> str:
        """The field name."""
        return self._name

    def __repr__(self) -> str:
        return f"Num({self._name!r})"

    def _leaf(self, expression: object) -> Filter:
        return Filter._make(str(expression), {self._name: "numeric"}, "leaf")

    def __eq__(self, value: float) -> Filter:  # type: ignore[override]
        """Match documents whose value equals ``value``: ``@f:[v v]``.

        Args:
            value: A finite number.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: A bool, NaN, infinity or non-number.
        """
        return self._leaf(_RedisvlNum(self._name) == _number(value, "value"))

    def __ne__(self, value: float) -> Filter:  # type: ignore[override]
        """Match documents whose value differs from ``value`` (or that have none): ``-(@f:[v v])``.

        Args:
            value: A finite number.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: A bool, NaN, infinity or non-number.
        """
        return ~(self == value)

    def __lt__(self, value: float) -> Filter:
        """Match documents whose value is below ``value``: ``@f:[-inf (v]``.

        Args:
            value: A finite number.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: A bool, NaN, infinity or non-number.
        """
        return self._leaf(_RedisvlNum(self._name) < _number(value, "value"))

    def __le__(self, value: float) -> Filter:
        """Match documents whose value is at most ``value``: ``@f:[-inf v]``.

        Args:
            value: A finite number.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: A bool, NaN, infinity or non-number.
        """
        return self._leaf(_RedisvlNum(self._name) <= _number(value, "value"))

    def __gt__(self, value: float) -> Filter:
        """Match documents whose value is above ``value``: ``@f:[(v +inf]``.

        Args:
            value: A finite number.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: A bool, NaN, infinity or non-number.
        """
        return self._leaf(_RedisvlNum(self._name) > _number(value, "value"))

    def __ge__(self, value: float) -> Filter:
        """Match documents whose value is at least ``value``: ``@f:[v +inf]``.

        Args:
            value: A finite number.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: A bool, NaN, infinity or non-number.
        """
        return self._leaf(_RedisvlNum(self._name) >= _number(value, "value"))

    def between(self, low: float, high: float, *, inclusive: Inclusive = "both") -> Filter:
        """Match documents whose value lies between ``low`` and ``high``: ``@f:[low high]``.

        Args:
            low: The lower bound; may be ``-math.inf``.
            high: The upper bound; may be ``math.inf``.
            inclusive: Which bounds belong to the range: ``"both"`` (default),
                ``"neither"``, ``"left"`` (``low`` only) or ``"right"`` (``high`` only).
                An excluded bound renders as ``(v``.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: A bound that is a bool, NaN or non-number; an
                unknown ``inclusive``; or an empty range (``low > high``, or
                equal bounds that are infinite or not both included).
        """
        lo = _number(low, "low", infinite_ok=True)
        hi = _number(high, "high", infinite_ok=True)
        if inclusive not in _INCLUSIVE:
            raise InvalidFilterError(f"inclusive must be one of {_INCLUSIVE}, not {inclusive!r}")
        if lo > hi or (lo == hi and (inclusive != "both" or math.isinf(lo))):
            raise InvalidFilterError(
                f"between({lo!r}, {hi!r}, inclusive={inclusive!r}) is an empty range"
            )
        rendered = _RedisvlNum(self._name).between(lo, hi, inclusive=inclusive)
        return self._leaf(rendered)

    def is_in(self, values: Sequence[float]) -> Filter:
        """Match documents whose value equals any of ``values``: ``(@f:[a a] | @f:[b b])``.

        Args:
            values: A non-empty list of finite numbers.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: Not a list, an empty list, or a value that is a
                bool, NaN, infinity or non-number.
        """
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise InvalidFilterError(
                f"values must be a list of numbers, not {type(values).__name__}"
            )
        if not values:
            raise InvalidFilterError(f"numeric field {self._name!r}: the list of values is empty")
        distinct = dict.fromkeys(_number(v, "value") for v in values)
        return _combine_all([self == v for v in distinct], "or")


# -- Text ----------------------------------------------------------------------------------------


class Text:
    """A TEXT field: full-text match of words; user text is never query syntax.

    The text is split into words where RediSearch splits documents (see the
    module documentation): the space, control characters and ASCII
    punctuation but ``_``. Matching is as RediSearch's: ASCII letters are
    case-insensitive, English words are stemmed, stopwords are not indexed.

    Args:
        name: The field name (letters, digits and ``_``; not starting with a digit).
        stopwords: The words the index does not store, dropped from the
            filters; :data:`DEFAULT_STOPWORDS` (the default) for an index
            created without ``STOPWORDS``, an empty collection for one created
            with ``STOPWORDS 0``.

    Raises:
        InvalidFilterError: An invalid field name.
    """

    __slots__ = ("_name", "_stopwords")

    def __init__(self, name: str, *, stopwords: Collection[str] = DEFAULT_STOPWORDS) -> None:
        self._name = _check_name(name)
        if isinstance(stopwords, str):
            raise InvalidFilterError("stopwords must be a collection of words, not a string")
        self._stopwords = frozenset(str(w).translate(_ASCII_LOWER) for w in stopwords)

    @property
    def name(self) -> str:
        """The field name."""
        return self._name

    def __repr__(self) -> str:
        return f"Text({self._name!r})"

    def _words(self, text: object, method: str, *, distinct: bool) -> list[str]:
        if not isinstance(text, str):
            raise InvalidFilterError(f"{method}() takes a string, not {type(text).__name__}")
        # Lower-cased as RediSearch lower-cases terms (ASCII letters only: "Ä" and
        # "ä" are different terms), and here rather than there: the query parser
        # does not lower-case a word it reads as a number, so "INF" or "1E5"
        # would find nothing.
        words = [w.translate(_ASCII_LOWER) for w in _WORD_SEPARATORS.split(text) if w]
        if not words:
            raise InvalidFilterError(f"{method}({text!r}) holds no word to search for")
        kept = [w for w in words if w not in self._stopwords]
        if not kept:
            raise InvalidFilterError(
                f"{method}({text!r}) holds only stopwords, which the index does not store: "
                "RediSearch would match nothing (and a negation nothing or everything)"
            )
        if distinct:
            kept = list(dict.fromkeys(kept))
        if not all(_SAFE_WORD.fullmatch(w) for w in kept):  # pragma: no cover - split prevents it
            raise InvalidFilterError(f"{method}({text!r}) holds a word that cannot be searched")
        return kept

    def _leaf(self, expression: object) -> Filter:
        return Filter._make(str(expression), {self._name: "text"}, "leaf")

    def has_words(self, words: str) -> Filter:
        """Match documents holding all of the words, anywhere: ``@f:(w1 w2)``.

        Args:
            words: Words separated by spaces or punctuation.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: Not a string, no word, or stopwords only.
        """
        return self._leaf(
            _RedisvlText(self._name)
            % " ".join(_ESCAPER.escape(w) for w in self._words(words, "has_words", distinct=True))
        )

    def has_any_word(self, words: str) -> Filter:
        """Match documents holding at least one of the words: ``@f:(w1|w2)``.

        Args:
            words: Words separated by spaces or punctuation.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: Not a string, no word, or stopwords only.
        """
        return self._leaf(
            _RedisvlText(self._name)
            % "|".join(
                _ESCAPER.escape(w) for w in self._words(words, "has_any_word", distinct=True)
            )
        )

    def has_phrase(self, phrase: str) -> Filter:
        """Match documents holding the words next to each other, in order: ``@f:("w1 w2")``.

        Punctuation between words is ignored, as the index ignores it.
        Stopwords are dropped (the index keeps no trace of them, not even a
        position), so ``"over the moon"`` also matches ``"over a moon"`` and
        ``"over moon"``.

        Args:
            phrase: The words of the phrase.

        Returns:
            The filter.

        Raises:
            InvalidFilterError: Not a string, no word, or stopwords only.
        """
        words = self._words(phrase, "has_phrase", distinct=False)
        return self._leaf(_RedisvlText(self._name) == " ".join(words))


# -- genres ---------------------------------------------------------------------------------------


def genre_filters(
    *,
    genre: str | Sequence[str] | None = None,
    genres_all: Sequence[str] | None = None,
    exclude_genres: Sequence[str] | None = None,
) -> Filter | None:
    """Build the genre filter of a query: any-of, all-of and none-of, combined with AND.

    Args:
        genre: Documents with any of these genres (one genre or a list).
        genres_all: Documents with every one of these genres.
        exclude_genres: Documents with none of these genres (documents
            without any genre included).

    Returns:
        The filter, or ``None`` when all three are ``None``.

    Raises:
        InvalidGenreError: An empty list or an invalid genre.
    """
    tag = Tag(GENRE_FIELD)
    parts = [
        None if genre is None else tag.any_of(genre),
        None if genres_all is None else tag.all_of(genres_all),
        None if exclude_genres is None else tag.none_of(exclude_genres),
    ]
    return combine(*parts)


def genre_filter(genres: str | Sequence[str]) -> FilterExpression:
    """Build the redisvl filter matching documents that have any of ``genres``.

    Kept for callers that hand a redisvl ``FilterExpression`` to redisvl
    queries; new code uses :func:`genre_filters` and :func:`render`, whose
    text is the same.

    Args:
        genres: One genre, or a non-empty list (any of them matches).

    Returns:
        A redisvl filter expression, e.g. ``@genre:{sci\\-fi|drama}``.

    Raises:
        InvalidGenreError: An empty list or an invalid genre. An empty filter
            is never turned into "match everything".
    """
    return FilterExpression((Tag(GENRE_FIELD) == genres).expression)
