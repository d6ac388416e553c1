"""``--field`` and ``--where`` (``redis_docstore._cli.where``)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from redis_docstore import Filter, Num, Tag, Text
from redis_docstore._cli.files import InputError
from redis_docstore._cli.where import parse_field, parse_where, parse_wheres

FIELDS: dict[str, Any] = {
    "genre": "tag",
    "content": "text",
    "author": "tag",
    "year": "numeric",
    "summary": "text",
}


# -- --field -------------------------------------------------------------------------------------


def test_parse_field() -> None:
    assert parse_field("author=tag") == ("author", "tag")
    assert parse_field(" year = NUMERIC ") == ("year", "numeric")
    assert parse_field("_summary2=text") == ("_summary2", "text")
    for bad in ("author", "author=", "=tag", "2x=tag", "a-b=tag", "author=keyword", "a b=tag"):
        with pytest.raises(InputError):
            parse_field(bad)


# -- --where -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("author=Ann", Tag("author") == "Ann"),
        ("author = Ann Lee ", Tag("author") == "Ann Lee"),
        ("author=Ann|Bob", Tag("author") == ["Ann", "Bob"]),
        ("author==Ann", Tag("author") == "Ann"),
        ("year==1999", Num("year") == 1999),
        ("author=Ann | Bob", Tag("author") == ["Ann", "Bob"]),
        ("author!=Ann|Bob", Tag("author") != ["Ann", "Bob"]),
        (r"author=a\|b|c", Tag("author") == ["a|b", "c"]),
        (r"author=back\\slash", Tag("author") == "back\\slash"),
        ("author=1999", Tag("author") == "1999"),
        ("genre=sci-fi|jazz & blues", Tag("genre") == ["sci-fi", "jazz & blues"]),
        ("year=1999", Num("year") == 1999),
        ("year!=1999", Num("year") != 1999),
        ("year>=2000", Num("year") >= 2000),
        ("year>2000", Num("year") > 2000),
        ("year<2010.5", Num("year") < 2010.5),
        ("year<=-1e3", Num("year") <= -1000.0),
        ("year=1990..1999", Num("year").between(1990, 1999)),
        ("year = 1990 .. 1999", Num("year").between(1990, 1999)),
        ("year=1.5..2", Num("year").between(1.5, 2)),
        ("year=1990..", Num("year").between(1990, math.inf)),
        ("year=..1999", Num("year").between(-math.inf, 1999)),
        ("year!=1990..1999", ~Num("year").between(1990, 1999)),
        ("content~happy dogs", Text("content").has_words("happy dogs")),
        ("content!~cats", ~Text("content").has_words("cats")),
        ("content=a happy dog", Text("content").has_phrase("a happy dog")),
        ("summary!=a happy dog", ~Text("summary").has_phrase("a happy dog")),
        # undeclared fields: guessed from the operator and value (the store refuses them)
        ("publisher=Acme", Tag("publisher") == "Acme"),
        ("pages>100", Num("pages") > 100),
        ("pages=100", Num("pages") == 100),
        ("pages=1..5", Num("pages").between(1, 5)),
        ("notes~word", Text("notes").has_words("word")),
    ],
)
def test_parse_where(text: str, expected: Filter) -> None:
    assert parse_where(text, FIELDS) == expected


@pytest.mark.parametrize(
    "value",
    [
        'Ann" | @genre:{*}',
        "x} | @year:[-inf +inf] | @author:{y",
        "*",
        "-(Ann)",
        "a\\",  # a lone trailing backslash is refused below; "a\\\\" is one backslash
        "${x}",
        "O'Brien; DROP",
    ],
)
def test_hostile_tag_values_are_only_data(value: str) -> None:
    text = "author=" + value.replace("\\", "\\\\").replace("|", "\\|")
    flt = parse_where(text, FIELDS)
    assert flt == (Tag("author") == value)
    assert dict(flt.fields) == {"author": "tag"}
    assert flt.expression.startswith("@author:{") and flt.expression.endswith("}")
    # Every ASCII punctuation mark of the value is escaped inside the braces.
    inner = flt.expression[len("@author:{") : -1]
    unescaped = [c for i, c in enumerate(inner) if c in "{}|*()\"'$@" and inner[i - 1] != "\\"]
    assert unescaped == []


def test_hostile_text_is_split_into_words() -> None:
    flt = parse_where("content~cat) | @genre:{*} -(dog", FIELDS)
    assert flt == Text("content").has_words("cat genre dog")
    assert "@genre" not in flt.expression.replace("@content", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("author", "expected NAME OP VALUE"),
        ("=Ann", "expected NAME OP VALUE"),
        ("au thor=Ann", "expected NAME OP VALUE"),
        ("@author=Ann", "expected NAME OP VALUE"),
        ("2author=Ann", "expected NAME OP VALUE"),
        ("author=", "no value after '='"),
        ("author=  ", "no value after '='"),
        ("author>Ann", "the tag field 'author' takes = or !="),
        ("author~Ann", "the tag field 'author' takes = or !="),
        ("author=Ann\\", "trailing backslash"),
        ("author=Ann||Bob", "must not be empty"),
        ("year=abc", "'abc' is not a number"),
        ("year>=2000x", "is not a number"),
        ("year>=inf", "is not a number"),
        ("year>=1e999", "out of range"),
        ("year=..", "a range needs a bound"),
        ("year=1..x", "'x' is not a number"),
        ("year~2000", "the numeric field 'year' takes =, !=, <, <=, > or >= (not '~')"),
        ("content>3", "the text field 'content' takes"),
        ("content~the", "stopwords"),
        ("content~ ...", "holds no word"),
        ("genre=\x07bell", "control character"),
    ],
)
def test_bad_where_conditions(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_where(text, FIELDS)
    assert str(info.value).startswith(f"--where {text!r}: ")
    assert message in str(info.value)


def test_where_conditions_are_anded() -> None:
    assert parse_wheres([], FIELDS) is None
    assert parse_wheres(["year>=2000"], FIELDS) == (Num("year") >= 2000)
    assert parse_wheres(["year>=2000", "author=Ann", "content~dog"], FIELDS) == (
        (Num("year") >= 2000) & (Tag("author") == "Ann") & Text("content").has_words("dog")
    )
