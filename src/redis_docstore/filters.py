r"""Filters: typed, escaped RediSearch (DIALECT 2) filter expressions over declared fields.

Genres
------
A genre is an identifier, matched exactly and case-sensitively. The index
stores genres in a TAG field whose separator is the ASCII unit separator
(``\x1f``) rather than RediSearch's default comma, so a genre such as
``"drama, comedy"`` is one tag that round-trips intact. What RediSearch cannot
store exactly is refused instead of silently mangled: leading or trailing
whitespace (tags are trimmed when indexed) and control characters (they do not
match once indexed; the separator is one).

Filter expressions
------------------
:class:`Tag`, :class:`Num` and :class:`Text` name a field and build the leaves
of a :class:`Filter`; ``&`` (AND), ``|`` (OR) and ``~`` (NOT) combine them::

    pets = Tag("genre") == ["pets", "sci-fi"]
    pets & (Num("year") >= 2000) & ~Text("content").has_words("cat")
    # (@genre:{pets|sci\-fi} @year:[2000 +inf] -(@content:(cat)))

Every combination is parenthesized, so the rendered text always means what
the Python expression means, whatever RediSearch's own precedence. A filter
can never render as ``*`` (match everything): an empty list, empty text or a
text of stopwords only is an :class:`~redis_docstore.errors.InvalidFilterError`
(:class:`~redis_docstore.errors.InvalidGenreError` for the ``genre`` field).
A ``Filter`` has no truth value, so ``a and b``, ``not a`` and chained
comparisons (``1 < Num("x") < 5``) raise ``TypeError`` instead of silently
dropping a condition.

Semantics measured on RediSearch 2.10 (DIALECT 2):

* A negation ``-(...)`` matches every indexed document the inner filter does
  not, *including documents without that field* (``Tag("genre") != "pets"``
  matches documents with no genre; ``Num("year") != 2000`` those with no year).
* Tag values are escaped with redisvl's escaper, widened to every ASCII
  character that is not a letter or digit: redisvl leaves the backtick and the
  underscore bare, and ``@f:{x`y}`` matches nothing while ``@f:{_}`` is a
  syntax error.
* Numbers compare as IEEE doubles (integers beyond 2**53 are rounded, as they
  are when indexed); ``-0.0`` equals ``0``. RedisJSON's number parser is not
  always correctly rounded: a float written with 17 significant digits may be
  stored one unit in the last place off, so exact equality on such a value
  can miss; prefer ranges for computed floats.
* Text is matched word by word as the index tokenizes it: user text is split at
  the space, control characters and every ASCII punctuation mark but ``_``
  (RediSearch's separators, plus the backslash, an escape there), so
  ``has_words("sci-fi")`` finds ``sci`` and ``fi`` as the indexed text has
  them, and no word can hold query syntax. Like the index, non-ASCII spaces
  (no-break, ideographic ...) do not split words. RediSearch lower-cases ASCII
  letters only (words are rendered so), and stems English words (``dogs``
  also finds ``dog``).
  Stopwords are not indexed: they are dropped from text filters, and a text
  of stopwords only is refused, because RediSearch would answer it with
  nothing, and its negation, depending on the form, with nothing or with
  every document. (RediSearch 2.10 does not split *documents* at newlines
  or other control characters but the tab: the words on either side of one
  are indexed as a single token, which no text filter can find. A backslash
  in a document escapes the next character: ``a\b`` is indexed as ``ab``,
  ``a\-b`` as ``a-b``.)
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Literal, get_args

from redisvl.query.filter import FilterExpression
from redisvl.query.filter import Num as _RedisvlNum
from redisvl.query.filter import Tag as _RedisvlTag
from redisvl.query.filter import Text as _RedisvlText
from redisvl.utils.token_escaper import TokenEscaper

from redis_docstore.errors import InvalidFilterError, InvalidGenreError

__all__ = [
    "DEFAULT_STOPWORDS",
    "GENRE_FIELD",
    "GENRE_SEPARATOR",
    "FieldKind",
    "Filter",
    "Inclusive",
    "Num",
    "Tag",
    "Text",
    "check_fields",
    "combine",
    "genre_filter",
    "genre_filters",
    "normalize_genres",
    "render",
    "validate_genre",
]

GENRE_FIELD = "genre"
GENRE_SEPARATOR = "\x1f"

FieldKind = Literal["tag", "numeric", "text"]
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

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KINDS: tuple[str, ...] = get_args(FieldKind)
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


def validate_genre(genre: object) -> str:
    """Check one genre.

    Args:
        genre: The candidate genre.

    Returns:
        The genre, unchanged.

    Raises:
        InvalidGenreError: Not a string, empty, with leading or trailing
            whitespace, or holding a control character.
    """
    if not isinstance(genre, str):
        raise InvalidGenreError(f"a genre must be a string, not {type(genre).__name__}")
    if not genre.strip():
        raise InvalidGenreError("a genre must not be empty or whitespace")
    if genre != genre.strip():
        raise InvalidGenreError(f"genre {genre!r} has leading or trailing whitespace")
    if any(unicodedata.category(c) == "Cc" for c in genre):
        raise InvalidGenreError(f"genre {genre!r} contains a control character")
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


# -- Filter --------------------------------------------------------------------------------------

# How a filter's text reads as an operand: a leaf (@f:...), a group "(a b)" or
# "(a | b)" that we parenthesized, a negation "-(...)", or text given verbatim
# to the constructor, which is parenthesized wherever it is used.
_Form = Literal["leaf", "and", "or", "not", "raw"]


class Filter:
    """An immutable filter expression: its rendered RediSearch query text plus the fields it uses.

    Build filters with :class:`Tag`, :class:`Num` and :class:`Text`, and
    combine them with ``&`` (AND), ``|`` (OR) and ``~`` (NOT). Two filters are
    equal when their text and fields are.

    Args:
        expression: Query text, used verbatim (nothing is escaped), so never
            put user input in it; parenthesized wherever it is combined.
        fields: Every field the text refers to, with its kind.

    Raises:
        InvalidFilterError: Empty text, ``*`` (match everything), an invalid
            field name or kind.

    Attributes:
        expression: The RediSearch query text, e.g.
            ``(@genre:{pets} @year:[2000 +inf])``.
        fields: Every field referenced, with the kind the filter assumes.
    """

    __slots__ = ("_expression", "_fields", "_form", "_operand", "_parts")

    _expression: str
    _fields: Mapping[str, FieldKind]
    _form: _Form
    _operand: Filter | None
    _parts: tuple[str, ...]

    def __init__(self, expression: str, fields: Mapping[str, FieldKind]) -> None:
        if not isinstance(expression, str) or not expression.strip():
            raise InvalidFilterError("a filter expression must be non-empty text")
        if expression.strip() == "*":
            raise InvalidFilterError("'*' matches every document; pass no filter instead")
        if not isinstance(fields, Mapping):
            raise InvalidFilterError(f"fields must be a mapping, not {type(fields).__name__}")
        for name, kind in fields.items():
            _check_name(name)
            _check_kind(name, kind)
        self._init(expression, fields, "raw")

    def _init(
        self,
        expression: str,
        fields: Mapping[str, FieldKind],
        form: _Form,
        *,
        parts: tuple[str, ...] = (),
        operand: Filter | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "_expression", expression)
        set_(self, "_fields", MappingProxyType(dict(fields)))
        set_(self, "_form", form)
        set_(self, "_parts", parts)
        set_(self, "_operand", operand)

    @classmethod
    def _make(
        cls,
        expression: str,
        fields: Mapping[str, FieldKind],
        form: _Form,
        *,
        parts: tuple[str, ...] = (),
        operand: Filter | None = None,
    ) -> Filter:
        flt = cls.__new__(cls)
        flt._init(expression, fields, form, parts=parts, operand=operand)
        return flt

    @property
    def expression(self) -> str:
        """The RediSearch query text."""
        return self._expression

    @property
    def fields(self) -> Mapping[str, FieldKind]:
        """Every field referenced, with the kind the filter assumes (read-only)."""
        return self._fields

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Filter is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _restore_filter,
            (self._expression, dict(self._fields), self._form, self._parts, self._operand),
        )

    def __copy__(self) -> Filter:
        return self

    def __deepcopy__(self, memo: object) -> Filter:
        return self

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Filter is immutable; cannot delete {name!r}")

    def _as_operand(self) -> str:
        return f"({self._expression})" if self._form == "raw" else self._expression

    def _parts_for(self, form: _Form) -> tuple[str, ...]:
        # (a b) & c renders (a b c): flattening the same operator changes nothing.
        return self._parts if self._form == form else (self._as_operand(),)

    def _join(self, other: Filter, form: Literal["and", "or"]) -> Filter:
        fields = _merge_fields((self._fields, other._fields))
        parts = self._parts_for(form) + other._parts_for(form)
        return Filter._make(_group(parts, form), fields, form, parts=parts)

    def __and__(self, other: Filter) -> Filter:
        """Intersect: documents matching both filters, ``(a b)``.

        Args:
            other: Another filter.

        Returns:
            The intersection.

        Raises:
            TypeError: ``other`` is not a ``Filter``.
            InvalidFilterError: The filters use one field with different kinds.
        """
        if not isinstance(other, Filter):
            return NotImplemented
        return self._join(other, "and")

    def __or__(self, other: Filter) -> Filter:
        """Unite: documents matching either filter, ``(a | b)``.

        Args:
            other: Another filter.

        Returns:
            The union.

        Raises:
            TypeError: ``other`` is not a ``Filter``.
            InvalidFilterError: The filters use one field with different kinds.
        """
        if not isinstance(other, Filter):
            return NotImplemented
        return self._join(other, "or")

    def __invert__(self) -> Filter:
        """Negate: every indexed document this filter does not match, ``-(a)``.

        That includes documents lacking the field. ``~~a`` is ``a``.

        Returns:
            The negation.
        """
        if self._form == "not" and self._operand is not None:
            return self._operand
        inner = self._expression if self._form in ("and", "or") else f"({self._expression})"
        return Filter._make("-" + inner, self._fields, "not", operand=self)

    def __bool__(self) -> bool:
        raise TypeError(
            "a Filter has no truth value: combine filters with &, | and ~ (not 'and', 'or', "
            "'not' or chained comparisons), and test for a missing one with 'is None'"
        )

    def __str__(self) -> str:
        return self._expression

    def __repr__(self) -> str:
        return f"Filter({self._expression!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Filter):
            return NotImplemented
        return self._expression == other._expression and dict(self._fields) == dict(other._fields)

    def __hash__(self) -> int:
        return hash((self._expression, frozenset(self._fields.items())))


def _restore_filter(
    expression: str,
    fields: Mapping[str, FieldKind],
    form: _Form,
    parts: tuple[str, ...],
    operand: Filter | None,
) -> Filter:
    return Filter._make(expression, fields, form, parts=parts, operand=operand)


def _group(parts: Sequence[str], form: Literal["and", "or"]) -> str:
    return "(" + (" " if form == "and" else " | ").join(parts) + ")"


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise InvalidFilterError(
            f"field name {name!r} must be a letter or '_' followed by letters, digits or '_'"
        )
    return name


def _check_kind(name: str, kind: object) -> None:
    if kind not in _KINDS:
        raise InvalidFilterError(f"field {name!r}: kind must be one of {_KINDS}, not {kind!r}")


def _merge_fields(all_fields: Iterable[Mapping[str, FieldKind]]) -> dict[str, FieldKind]:
    merged: dict[str, FieldKind] = {}
    for fields in all_fields:
        for name, kind in fields.items():
            if merged.setdefault(name, kind) != kind:
                raise InvalidFilterError(
                    f"field {name!r} is used both as a {merged[name]} field and as a {kind} field"
                )
    return merged


def _combine_all(filters: Sequence[Filter], form: Literal["and", "or"]) -> Filter:
    result = filters[0]
    for flt in filters[1:]:
        result = result._join(flt, form)
    return result


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


# -- helpers -------------------------------------------------------------------------------------


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


def combine(*filters: Filter | None) -> Filter | None:
    """AND the given filters, skipping ``None``.

    Args:
        *filters: Filters or ``None``.

    Returns:
        Their intersection; the filter itself when only one is given; ``None``
        when none is.

    Raises:
        TypeError: An argument that is neither a ``Filter`` nor ``None``.
        InvalidFilterError: Two filters use one field with different kinds.
    """
    present: list[Filter] = []
    for flt in filters:
        if flt is None:
            continue
        if not isinstance(flt, Filter):
            raise TypeError(f"combine() takes filters or None, not {type(flt).__name__}")
        present.append(flt)
    return _combine_all(present, "and") if present else None


def check_fields(flt: Filter, declared: Mapping[str, FieldKind]) -> None:
    """Check that a filter uses only declared fields, each with its declared kind.

    Args:
        flt: The filter.
        declared: The index's filterable fields and their kinds.

    Raises:
        TypeError: ``flt`` is not a ``Filter``.
        InvalidFilterError: A field that is not declared (the message lists
            the declared ones), or used as another kind (``Num`` on a tag field).
    """
    if not isinstance(flt, Filter):
        raise TypeError(f"check_fields() takes a Filter, not {type(flt).__name__}")
    for name, kind in flt.fields.items():
        if name not in declared:
            known = ", ".join(f"{n} ({k})" for n, k in sorted(declared.items())) or "none"
            raise InvalidFilterError(
                f"the filter uses the undeclared field {name!r}; declared fields: {known}"
            )
        if declared[name] != kind:
            raise InvalidFilterError(
                f"field {name!r} is a {declared[name]} field, but the filter uses it as a "
                f"{kind} field"
            )


def render(flt: Filter | None) -> str:
    """The query text of a filter: ``*`` (every document) for ``None``.

    Args:
        flt: A filter, or ``None``.

    Returns:
        The RediSearch query text.

    Raises:
        TypeError: ``flt`` is neither a ``Filter`` nor ``None``.
    """
    if flt is None:
        return "*"
    if not isinstance(flt, Filter):
        raise TypeError(f"render() takes a Filter or None, not {type(flt).__name__}")
    return flt.expression
