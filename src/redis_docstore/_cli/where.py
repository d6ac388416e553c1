"""The ``docstore`` CLI's ``--field NAME=KIND`` and ``--where NAME OP VALUE`` options.

The grammar of each kind (its operators and what a value means) is read from the
field-kind table, :data:`redis_docstore._filters.kinds.KINDS`; a condition becomes
the same :class:`~redis_docstore.Filter` Python code builds (``Tag``, ``Num``,
``Text``), so every value is escaped by the filters and never read as query
syntax. Pure: unit-tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from redis_docstore._cli.files import InputError
from redis_docstore._errors import ValidationError
from redis_docstore._filters.expression import FieldKind, Filter
from redis_docstore._filters.kinds import KINDS, looks_numeric

__all__ = ["parse_field", "parse_where", "parse_wheres"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = sorted({op for kind in KINDS.values() for op in kind.operators}, key=len)[::-1]
_WHERE = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|" + "|".join(map(re.escape, _OPERATORS)) + r")\s*(.*?)\s*",
    re.DOTALL,
)


def parse_field(text: str) -> tuple[str, FieldKind]:
    """Parse ``NAME=KIND`` (KIND: tag, numeric or text) of ``--field``.

    Raises:
        InputError: Not that form, a bad name or an unknown kind.
    """
    name, sep, kind = text.partition("=")
    name, kind = name.strip(), kind.strip().lower()
    if not sep or not _NAME.fullmatch(name):
        raise InputError(f"expected NAME=KIND (NAME: letters, digits, '_'), not {text!r}")
    for known in KINDS:
        if kind == known:
            return name, known
    raise InputError(f"field {name!r}: KIND must be {', '.join(KINDS)}, not {kind!r}")


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
        ranged = op in ("=", "!=") and looks_numeric(value)
        kind = "text" if "~" in op else "numeric" if op[0] in "<>" or ranged else "tag"
    if op not in KINDS[kind].operators:
        *some, last = KINDS[kind].operators
        takes = f"{', '.join(some)} or {last}"
        raise InputError(f"{where}: the {kind} field {name!r} takes {takes} (not {op!r})")
    try:
        return KINDS[kind].condition(name, op, value)
    except ValidationError as exc:  # the filter refused a value
        raise InputError(f"{where}: {exc}") from None


def parse_wheres(texts: Sequence[str], fields: Mapping[str, FieldKind]) -> Filter | None:
    """Parse every ``--where`` and AND them (``None`` for none)."""
    filters = [parse_where(text, fields) for text in texts]
    result = filters[0] if filters else None
    for flt in filters[1:]:
        result = result & flt if result is not None else flt
    return result
