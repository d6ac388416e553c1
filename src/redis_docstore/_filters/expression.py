r"""Filters: typed, escaped RediSearch (DIALECT 2) filter expressions over declared fields.

This module holds :class:`Filter` and how filters combine; the conditions on
one field (:class:`~redis_docstore._filters.conditions.Tag`, ``Num``, ``Text``) and
the genre filters are in :mod:`redis_docstore._filters.conditions`.

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
text of stopwords only is an :class:`~redis_docstore._errors.InvalidFilterError`
(:class:`~redis_docstore._errors.InvalidGenreError` for the ``genre`` field).
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

import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Literal, get_args

from redis_docstore._errors import InvalidFilterError

__all__ = ["FieldKind", "Filter", "check_fields", "combine", "render"]

FieldKind = Literal["tag", "numeric", "text"]

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KINDS: tuple[str, ...] = get_args(FieldKind)


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


# -- helpers -------------------------------------------------------------------------------------


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
