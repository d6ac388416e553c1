"""The ``docstore`` CLI's ``--field NAME=KIND`` and ``--where NAME OP VALUE`` options.

They become the same :class:`~redis_docstore.Filter` objects Python code builds
(``Tag``, ``Num``, ``Text``), so every value is escaped by the filters and
never read as query syntax. Pure: unit-tested without a server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from redis_docstore._cli.files import InputError
from redis_docstore._errors import ValidationError
from redis_docstore._filters.conditions import Num, Tag, Text
from redis_docstore._filters.expression import Filter

if TYPE_CHECKING:
    from redis_docstore._filters.expression import FieldKind

__all__ = ["parse_field", "parse_where", "parse_wheres"]

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHERE = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|!~|=|>|<|~)\s*(.*?)\s*", re.DOTALL
)
_KINDS: Final[tuple[str, ...]] = ("tag", "numeric", "text")


def parse_field(text: str) -> tuple[str, FieldKind]:
    """Parse ``NAME=KIND`` (KIND: tag, numeric or text) of ``--field``.

    Raises:
        InputError: Not that form, a bad name or an unknown kind.
    """
    name, sep, kind = text.partition("=")
    name, kind = name.strip(), kind.strip().lower()
    if not sep or not _NAME.fullmatch(name):
        raise InputError(f"expected NAME=KIND (NAME: letters, digits, '_'), not {text!r}")
    if kind not in _KINDS:
        raise InputError(f"field {name!r}: KIND must be tag, numeric or text, not {kind!r}")
    return name, kind  # type: ignore[return-value]  # checked against _KINDS


def _number(text: str, where: str) -> int | float:
    if not _NUMBER.fullmatch(text):
        raise InputError(f"{where}: {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"{where}: {text!r} is out of range")
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else value


def _tag_values(text: str, where: str) -> list[str]:
    """Split at unescaped ``|``; a backslash takes the next character literally."""
    values, current, chars = [], [], iter(text)
    for ch in chars:
        if ch == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise InputError(f"{where}: a trailing backslash escapes nothing")
            current.append(escaped)
        elif ch == "|":
            values.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    values.append("".join(current).strip())
    return values


def _numeric(name: str, op: str, value: str, where: str) -> Filter:
    num = Num(name)
    if op in ("=", "!=") and ".." in value:
        low_text, _, high_text = value.partition("..")
        if not low_text.strip() and not high_text.strip():
            raise InputError(f"{where}: a range needs a bound: LOW..HIGH, LOW.. or ..HIGH")
        low = _number(low_text.strip(), where) if low_text.strip() else -math.inf
        high = _number(high_text.strip(), where) if high_text.strip() else math.inf
        flt = num.between(low, high)
        return ~flt if op == "!=" else flt
    number = _number(value, where)
    ops: dict[str, Callable[[float], Filter]] = {
        "=": num.__eq__, "!=": num.__ne__, "<": num.__lt__, "<=": num.__le__,
        ">": num.__gt__, ">=": num.__ge__,
    }  # fmt: skip
    if op not in ops:
        raise InputError(f"{where}: {op!r} does not apply to the numeric field {name!r}")
    return ops[op](number)


def _filter(name: str, kind: str, op: str, value: str, where: str) -> Filter:
    if kind == "numeric":
        return _numeric(name, op, value, where)
    if kind == "tag":
        if op not in ("=", "!="):
            raise InputError(f"{where}: the tag field {name!r} takes = or != (not {op!r})")
        values = _tag_values(value, where)
        return Tag(name) == values if op == "=" else Tag(name) != values
    if op in ("~", "!~"):
        flt = Text(name).has_words(value)
    elif op in ("=", "!="):
        flt = Text(name).has_phrase(value)
    else:
        raise InputError(f"{where}: the text field {name!r} takes ~, !~, = or != (not {op!r})")
    return ~flt if op.startswith("!") else flt


def parse_where(text: str, fields: Mapping[str, FieldKind]) -> Filter:
    """Parse one ``--where`` condition into a :class:`~redis_docstore.Filter`.

    ``NAME OP VALUE`` (``==`` is ``=``); the field's declared kind (``fields``)
    decides what it means (an undeclared field is guessed from the operator and
    value, and the store then refuses it):

    * tag: ``author=Ann``, ``author=Ann|Bob`` (any of), ``author!=Ann`` (none of;
      ``\\|`` is a literal ``|``, ``\\\\`` a backslash);
    * numeric: ``year=1999``, ``year!=1999``, ``year>=2000`` (also ``>``, ``<``,
      ``<=``), ``year=1990..1999`` (between, inclusive; ``1990..``, ``..1999``);
    * text: ``content~word words`` (has every word), ``content!~words`` (has
      not), ``content=a phrase`` (the exact phrase), ``content!=a phrase``.

    Values are data, never query syntax: everything is escaped by the filters.

    Raises:
        InputError: Not that form, a missing or bad value, or an operator that
            does not fit the field's kind.
    """
    where = f"--where {text!r}"
    match = _WHERE.fullmatch(text)
    if match is None:
        raise InputError(f"{where}: expected NAME OP VALUE, with OP one of = != < <= > >= ~ !~")
    name, op, value = match.groups()
    op = "=" if op == "==" else op
    if not value:
        raise InputError(f"{where}: no value after {op!r}")
    kind = fields.get(name)
    if kind is None:  # undeclared: guess, and let the store say it is undeclared
        ranged = op in ("=", "!=") and (_NUMBER.fullmatch(value) or ".." in value)
        kind = "text" if "~" in op else "numeric" if op[0] in "<>" or ranged else "tag"
    try:
        return _filter(name, kind, op, value, where)
    except InputError:
        raise
    except ValidationError as exc:  # the filter refused a value
        raise InputError(f"{where}: {exc}") from None


def parse_wheres(texts: Sequence[str], fields: Mapping[str, FieldKind]) -> Filter | None:
    """Parse every ``--where`` and AND them (``None`` for none)."""
    filters = [parse_where(text, fields) for text in texts]
    result = filters[0] if filters else None
    for flt in filters[1:]:
        result = result & flt if result is not None else flt
    return result
