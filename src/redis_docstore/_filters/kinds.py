"""The kinds of field a store can declare, in one table: :data:`KINDS`.

A kind is everything the package knows about a field of that kind: how the index
declares it (``schema``), which document values it takes (``check``), and how the
``docstore`` CLI reads a ``--where NAME OP VALUE`` on it (``operators`` and
``condition``). The schema, the document validation and the CLI grammar all read
this table, so adding a kind is one :data:`FieldKind` literal (in :mod:`.expression`,
which checks filters against declared kinds) and one :class:`Kind` entry here, plus
the condition class it builds, in :mod:`.conditions`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from redis_docstore._errors import InvalidFilterError, ValidationError
from redis_docstore._filters.conditions import Num, Tag, Text
from redis_docstore._filters.expression import FieldKind, Filter
from redis_docstore._filters.genres import GENRE_SEPARATOR, normalize_genres

__all__ = ["KINDS", "FieldKind", "Kind"]


@dataclass(frozen=True)
class Kind:
    """One kind of field.

    Attributes:
        name: The kind's name, as declared (``metadata_fields={"year": "numeric"}``).
        schema: The index attributes of a field of this kind (the redisvl field's
            ``attrs``, and what ``FT.INFO`` reports back).
        check: Why a document value does not fit the kind (``None`` if it does).
        operators: The ``--where`` operators the kind takes.
        condition: Builds the filter of ``--where NAME OP VALUE`` (``op`` is one of
            ``operators``; ``value`` is the text after it).
    """

    name: FieldKind
    schema: Mapping[str, Any]
    check: Callable[[object], str | None]
    operators: tuple[str, ...]
    condition: Callable[[str, str, str], Filter]


# -- document values --------------------------------------------------------------------------


def _check_tag(value: object) -> str | None:
    try:
        normalize_genres(value)
    except ValidationError as exc:
        return str(exc)
    return None


def _check_numeric(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, not {type(value).__name__}"
    return None


def _check_text(value: object) -> str | None:
    return None if isinstance(value, str) else f"must be a string, not {type(value).__name__}"


# -- the --where grammar ----------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def looks_numeric(value: str) -> bool:
    """Whether ``--where`` text reads as a number or a ``LOW..HIGH`` range."""
    return bool(_NUMBER.fullmatch(value)) or ".." in value


def _number(text: str) -> int | float:
    if not _NUMBER.fullmatch(text):
        raise InvalidFilterError(f"{text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidFilterError(f"{text!r} is out of range")
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else value


def _tag_values(text: str) -> list[str]:
    """Split at unescaped ``|``; a backslash takes the next character literally."""
    values, current, chars = [], [], iter(text)
    for ch in chars:
        if ch == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise InvalidFilterError("a trailing backslash escapes nothing")
            current.append(escaped)
        elif ch == "|":
            values.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    values.append("".join(current).strip())
    return values


def _tag_condition(name: str, op: str, value: str) -> Filter:
    values = _tag_values(value)
    return Tag(name) == values if op == "=" else Tag(name) != values


def _numeric_condition(name: str, op: str, value: str) -> Filter:
    num = Num(name)
    if op in ("=", "!=") and ".." in value:
        low_text, _, high_text = (part.strip() for part in value.partition(".."))
        if not low_text and not high_text:
            raise InvalidFilterError("a range needs a bound: LOW..HIGH, LOW.. or ..HIGH")
        low = _number(low_text) if low_text else -math.inf
        high = _number(high_text) if high_text else math.inf
        flt = num.between(low, high)
        return ~flt if op == "!=" else flt
    compare: dict[str, Callable[[float], Filter]] = {
        "=": num.__eq__, "!=": num.__ne__, "<": num.__lt__, "<=": num.__le__,
        ">": num.__gt__, ">=": num.__ge__,
    }  # fmt: skip
    return compare[op](_number(value))


def _text_condition(name: str, op: str, value: str) -> Filter:
    text = Text(name)
    flt = text.has_words(value) if op in ("~", "!~") else text.has_phrase(value)
    return ~flt if op.startswith("!") else flt


KINDS: Mapping[FieldKind, Kind] = MappingProxyType(
    {
        "tag": Kind(
            name="tag",
            schema={"separator": GENRE_SEPARATOR, "case_sensitive": True},
            check=_check_tag,
            operators=("=", "!="),
            condition=_tag_condition,
        ),
        "numeric": Kind(
            name="numeric",
            schema={},
            check=_check_numeric,
            operators=("=", "!=", "<", "<=", ">", ">="),
            condition=_numeric_condition,
        ),
        "text": Kind(
            name="text",
            schema={},
            check=_check_text,
            operators=("~", "!~", "=", "!="),
            condition=_text_condition,
        ),
    }
)
