from __future__ import annotations

import copy
import math
import pickle
import string
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redisvl.query import CountQuery, VectorQuery
from redisvl.query.filter import FilterExpression as RedisvlFilterExpression
from redisvl.query.filter import Tag as RedisvlTag

from redis_docstore._errors import InvalidFilterError, InvalidGenreError
from redis_docstore._filters.conditions import (
    Inclusive,
    Num,
    Tag,
    Text,
    genre_filter,
    genre_filters,
)
from redis_docstore._filters.expression import FieldKind, Filter, check_fields, combine, render
from redis_docstore._filters.genres import normalize_genres, validate_genre

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


# -- the Filter expression API -----------------------------------------------------------------

HOSTILE = [*TRICKY, "x`y", "_", "a_b", "back\\slash", "trailing\\", "a\\-b", "x\u00a0y"]
ASCII_SYNTAX = set(string.punctuation) | {" "}


def tag_body(rendered: str, field: str) -> str:
    assert rendered.startswith(f"@{field}:{{") and rendered.endswith("}"), rendered
    return rendered[len(field) + 3 : -1]


def unescape(body: str) -> str:
    """Undo the backslash escaping; every ASCII non-alphanumeric must have been escaped."""
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            out.append(body[i + 1])
            i += 2
            continue
        assert body[i] not in ASCII_SYNTAX, (body, i)
        out.append(body[i])
        i += 1
    return "".join(out)


# -- Filter -----------------------------------------------------------------------------------


def test_filter_str_repr_and_fields() -> None:
    flt = (Tag("genre") == "pets") & (Num("year") >= 2000)
    assert str(flt) == flt.expression == "(@genre:{pets} @year:[2000 +inf])"
    assert repr(flt) == "Filter('(@genre:{pets} @year:[2000 +inf])')"
    assert dict(flt.fields) == {"genre": "tag", "year": "numeric"}


def test_filter_is_immutable() -> None:
    flt = Tag("genre") == "pets"
    with pytest.raises(AttributeError):
        flt.expression = "*"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        flt._expression = "*"
    with pytest.raises(TypeError):
        flt.fields["genre"] = "numeric"  # type: ignore[index]


def test_filter_copies_and_pickles() -> None:
    flt = ~((Tag("genre") == "a") & (Num("year") > 1))
    assert copy.copy(flt) is flt and copy.deepcopy(flt) is flt
    restored = pickle.loads(pickle.dumps(flt))
    assert restored == flt and str(~restored) == "(@genre:{a} @year:[(1 +inf])"
    assert str(restored & (Tag("genre") == "b")) == str(flt & (Tag("genre") == "b"))


def test_filter_equality_and_hash_by_value() -> None:
    a, b = Tag("genre") == "pets", Tag("genre") == ["pets"]
    assert a == b and hash(a) == hash(b)
    assert a != (Tag("genre") == "drama")
    assert a != "@genre:{pets}"
    assert len({a, b, ~a}) == 2


def test_filter_has_no_truth_value() -> None:
    flt = Num("year") > 1
    with pytest.raises(TypeError, match="no truth value"):
        bool(flt)
    with pytest.raises(TypeError, match="no truth value"):
        1 < Num("year") < 5  # noqa: B015
    with pytest.raises(TypeError, match="no truth value"):
        flt and flt  # noqa: B018


@pytest.mark.parametrize("other", ["@genre:{x}", None, 1, RedisvlTag("genre") == "x"])
def test_combining_with_a_non_filter_is_a_type_error(other: object) -> None:
    flt = Tag("genre") == "pets"
    with pytest.raises(TypeError):
        flt & other  # type: ignore[operator]
    with pytest.raises(TypeError):
        flt | other  # type: ignore[operator]
    if not isinstance(other, RedisvlFilterExpression):  # redisvl's own & accepts anything
        with pytest.raises(TypeError):
            other & flt  # type: ignore[operator]


def test_one_field_with_two_kinds_is_an_error() -> None:
    with pytest.raises(InvalidFilterError, match=r"'year'.*numeric.*tag"):
        (Num("year") > 1) & (Tag("year") == "x")
    with pytest.raises(InvalidFilterError, match="'year'"):
        (Num("year") > 1) | Text("year").has_words("x")


def test_and_or_not_rendering() -> None:
    a, b = Tag("genre") == "a", Num("n") < 3
    assert str(a & b) == "(@genre:{a} @n:[-inf (3])"
    assert str(a | b) == "(@genre:{a} | @n:[-inf (3])"
    assert str(~a) == "-(@genre:{a})"
    assert str(~(a & b)) == "-(@genre:{a} @n:[-inf (3])"
    assert str(~(a | b)) == "-(@genre:{a} | @n:[-inf (3])"


def test_precedence_is_explicit() -> None:
    a, b, c = Tag("genre") == "a", Tag("genre") == "b", Tag("genre") == "c"
    assert str((a & b) | ~c) == "((@genre:{a} @genre:{b}) | -(@genre:{c}))"
    assert str(a & (b | c)) == "(@genre:{a} (@genre:{b} | @genre:{c}))"
    assert str((a | b) & c) == "((@genre:{a} | @genre:{b}) @genre:{c})"


def test_same_operator_is_flattened() -> None:
    a, b, c = Tag("genre") == "a", Tag("genre") == "b", Tag("genre") == "c"
    assert str(a & b & c) == str(a & (b & c)) == "(@genre:{a} @genre:{b} @genre:{c})"
    assert str(a | b | c) == "(@genre:{a} | @genre:{b} | @genre:{c})"


def test_double_negation_cancels() -> None:
    a = Tag("genre") == "a"
    assert ~~a == a
    assert str(~~(a & a)) == "(@genre:{a} @genre:{a})"


def test_raw_filter_is_parenthesized_when_combined() -> None:
    raw = Filter("@x:{a} | @y:{b}", {"x": "tag", "y": "tag"})
    assert str(raw) == "@x:{a} | @y:{b}"
    assert str(raw & (Tag("z") == "c")) == "((@x:{a} | @y:{b}) @z:{c})"
    assert str(~raw) == "-(@x:{a} | @y:{b})"
    assert Filter("@x:{a}", {}).fields == {}


@pytest.mark.parametrize("expression", ["", "   ", "*", " * ", None])
def test_raw_filter_never_matches_all_by_accident(expression: object) -> None:
    with pytest.raises(InvalidFilterError):
        Filter(expression, {})  # type: ignore[arg-type]


def test_raw_filter_checks_fields() -> None:
    with pytest.raises(InvalidFilterError, match="field name"):
        Filter("@x:{a}", {"1x": "tag"})
    with pytest.raises(InvalidFilterError, match="kind"):
        Filter("@x:{a}", {"x": "vector"})  # type: ignore[dict-item]


@pytest.mark.parametrize("name", ["", "1year", "year-2", "a b", "é", "year\n", "@x", 3, None])
def test_invalid_field_names(name: object) -> None:
    for cls in (Tag, Num, Text):
        with pytest.raises(InvalidFilterError, match="field name"):
            cls(name)  # type: ignore[arg-type]


def test_field_builders_are_unhashable_and_named() -> None:
    assert Tag("_a1").name == "_a1" and repr(Num("y")) == "Num('y')"
    with pytest.raises(TypeError):
        hash(Tag("genre"))
    with pytest.raises(TypeError):
        hash(Num("year"))


# -- Tag ----------------------------------------------------------------------------------------


def test_tag_operators() -> None:
    tag = Tag("author")
    assert str(tag == "ann") == "@author:{ann}"
    assert str(tag == ["ann", "bob", "ann"]) == "@author:{ann|bob}"
    assert str(tag.any_of(["ann", "bob"])) == "@author:{ann|bob}"
    assert str(tag.any_of("ann bob")) == "@author:{ann\\ bob}"  # a string is one value
    assert str(tag != "ann") == "-(@author:{ann})"
    assert str(tag != ["ann", "bob"]) == "-(@author:{ann|bob})"
    assert str(tag.none_of(["ann", "bob"])) == "-(@author:{ann|bob})"
    assert str(tag.all_of(["ann", "bob"])) == "(@author:{ann} @author:{bob})"
    assert str(tag.all_of(["ann"])) == "@author:{ann}"
    assert dict((tag == "x").fields) == {"author": "tag"}


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["genre", "author"])
def test_tag_escapes_every_ascii_syntax_character(field: str, value: str) -> None:
    assert unescape(tag_body(str(Tag(field) == value), field)) == value
    pair = tag_body(str(Tag(field) == [value, "z"]), field)
    assert pair.endswith("|z") and unescape(pair[:-2]) == value


def test_tag_escaping_of_specific_values() -> None:
    tag = Tag("genre")
    assert str(tag == "drama} | @genre:{x") == "@genre:{drama\\}\\ \\|\\ \\@genre\\:\\{x}"
    assert str(tag == "x) | (*") == "@genre:{x\\)\\ \\|\\ \\(\\*}"
    assert str(tag == "*") == "@genre:{\\*}"
    assert str(tag == "$p") == "@genre:{\\$p}"
    assert str(tag == "w'*'") == "@genre:{w\\'\\*\\'}"
    assert str(tag == "trailing\\") == "@genre:{trailing\\\\}"
    assert str(tag == "a|b") == "@genre:{a\\|b}"
    assert str(tag == "x`y") == "@genre:{x\\`y}"  # redisvl leaves the backtick bare
    assert str(tag == "_") == "@genre:{\\_}"  # bare, a syntax error
    assert str(tag == "Ünïcödé 日本語") == "@genre:{Ünïcödé\\ 日本語}"


def test_empty_tag_lists_raise() -> None:
    for method in ("any_of", "all_of", "none_of"):
        with pytest.raises(InvalidFilterError, match="empty"):
            getattr(Tag("author"), method)([])
        with pytest.raises(InvalidGenreError, match="empty"):
            getattr(Tag("genre"), method)([])
    with pytest.raises(InvalidFilterError, match="empty"):
        Tag("author") == []  # noqa: B015
    with pytest.raises(InvalidFilterError, match="empty"):
        Tag("author") != ()  # noqa: B015


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        (" x", "whitespace"),
        ("x\n", "whitespace"),
        ("a\x1fb", "control"),
        (["ok", "a\tb"], "control"),
        ([3], "string"),
        (None, "required"),
        ({"x"}, "list of strings"),
        (b"x", "string"),
    ],
)
def test_invalid_tag_values(value: object, message: str) -> None:
    with pytest.raises(InvalidFilterError, match=f"tag field 'author'.*{message}"):
        Tag("author") == value  # noqa: B015
    with pytest.raises(InvalidGenreError, match=message):
        Tag("genre") == value  # noqa: B015


# -- Num ----------------------------------------------------------------------------------------


def test_num_operators() -> None:
    year = Num("year")
    assert str(year == 2000) == "@year:[2000 2000]"
    assert str(year != 2000) == "-(@year:[2000 2000])"
    assert str(year < 2000) == "@year:[-inf (2000]"
    assert str(year <= 2000) == "@year:[-inf 2000]"
    assert str(year > 2000) == "@year:[(2000 +inf]"
    assert str(year >= 2000) == "@year:[2000 +inf]"
    assert str(year == -5.5) == "@year:[-5.5 -5.5]"
    assert str(year > 1e-05) == "@year:[(1e-05 +inf]"
    assert dict((year == 1).fields) == {"year": "numeric"}


@pytest.mark.parametrize(
    ("inclusive", "expected"),
    [
        ("both", "@year:[1990 2000]"),
        ("neither", "@year:[(1990 (2000]"),
        ("left", "@year:[1990 (2000]"),
        ("right", "@year:[(1990 2000]"),
    ],
)
def test_between_inclusive_variants(inclusive: Inclusive, expected: str) -> None:
    assert str(Num("year").between(1990, 2000, inclusive=inclusive)) == expected


def test_between_default_and_infinite_bounds() -> None:
    assert str(Num("year").between(1990, 2000)) == "@year:[1990 2000]"
    assert str(Num("year").between(-math.inf, 0)) == "@year:[-inf 0]"
    assert str(Num("year").between(0, math.inf, inclusive="neither")) == "@year:[(0 (inf]"
    assert str(Num("year").between(5, 5)) == "@year:[5 5]"


@pytest.mark.parametrize(
    ("low", "high", "inclusive"),
    [
        (2, 1, "both"),
        (1, 1, "neither"),
        (1, 1, "left"),
        (1, 1, "right"),
        (math.inf, math.inf, "both"),
        (-math.inf, -math.inf, "both"),
    ],
)
def test_empty_ranges_raise(low: float, high: float, inclusive: Inclusive) -> None:
    with pytest.raises(InvalidFilterError, match="empty range"):
        Num("year").between(low, high, inclusive=inclusive)


def test_between_rejects_unknown_inclusive() -> None:
    with pytest.raises(InvalidFilterError, match="inclusive"):
        Num("year").between(1, 2, inclusive="all")  # type: ignore[arg-type]


BAD_NUMBERS = [True, False, math.nan, "1", None, Decimal("1"), 1j, 10**400, [1]]


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_bad_numbers_raise(value: Any) -> None:
    year = Num("year")
    builds: list[Callable[[], Filter]] = [
        lambda: year == value,
        lambda: year != value,
        lambda: year < value,
        lambda: year <= value,
        lambda: year > value,
        lambda: year >= value,
        lambda: year.between(value, 5),
        lambda: year.between(0, value),
        lambda: year.is_in([1, value]),
    ]
    for build in builds:
        with pytest.raises(InvalidFilterError):
            build()


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinity_only_as_a_between_bound(value: float) -> None:
    year = Num("year")
    builds: list[Callable[[], Filter]] = [
        lambda: year == value,
        lambda: year != value,
        lambda: year < value,
        lambda: year <= value,
        lambda: year > value,
        lambda: year >= value,
        lambda: year.is_in([value]),
    ]
    for build in builds:
        with pytest.raises(InvalidFilterError, match="finite"):
            build()


def test_other_real_numbers_are_plain_in_the_text() -> None:
    year = Num("year")
    assert str(year == np.int64(7)) == "@year:[7 7]"
    assert str(year == np.float32(0.5)) == "@year:[0.5 0.5]"
    assert str(year == Fraction(1, 4)) == "@year:[0.25 0.25]"
    assert str(year == 2**60) == "@year:[1152921504606846976 1152921504606846976]"


def test_is_in() -> None:
    year = Num("year")
    assert str(year.is_in([1999])) == "@year:[1999 1999]"
    assert str(year.is_in([1999, 2001.5, 1999])) == "(@year:[1999 1999] | @year:[2001.5 2001.5])"
    with pytest.raises(InvalidFilterError, match="empty"):
        year.is_in([])
    with pytest.raises(InvalidFilterError, match="list of numbers"):
        year.is_in("12")  # type: ignore[arg-type]
    with pytest.raises(InvalidFilterError, match="list of numbers"):
        year.is_in(1999)  # type: ignore[arg-type]


# -- Text ---------------------------------------------------------------------------------------


def test_text_operators() -> None:
    content = Text("content")
    assert str(content.has_words("happy dog")) == "@content:(happy dog)"
    assert str(content.has_any_word("happy dog")) == "@content:(happy|dog)"
    assert str(content.has_phrase("happy dog")) == '@content:("happy dog")'
    assert str(content.has_words("dog")) == "@content:(dog)"
    assert dict(content.has_words("dog").fields) == {"content": "text"}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("drama} | @genre:{x", "drama genre x"),
        ("x) | (*", "x"),
        ("$p", "p"),
        ("w'*'", "w"),
        ("trailing\\", "trailing"),
        ("a\\-b", "b"),  # "a" is a stopword
        ("a|b", "b"),
        ("sci-fi  film", "sci fi film"),
        ('say "hi" now', "say hi now"),
        ("Ünïcödé 日本語 naïve", "Ünïcödé 日本語 naïve"),
        ("Sci-Fi FILM", "sci fi film"),
        ("x\u00a0y tab\tsep", "x\u00a0y tab sep"),  # a no-break space is part of a word
        ("line\none", "line one"),
        ("emoji 🎬!", "emoji 🎬"),
    ],
)
def test_text_is_split_into_plain_words(text: str, words: str) -> None:
    content = Text("content")
    assert str(content.has_words(text)) == f"@content:({words})"
    assert str(content.has_any_word(text)) == f"@content:({words.replace(' ', '|')})"
    assert str(content.has_phrase(text)) == f'@content:("{words}")'


def test_underscores_are_escaped_outside_quotes_only() -> None:
    # "@content:(_)" is a syntax error; '@content:("snake\_case")' matches nothing
    content = Text("content")
    assert str(content.has_words("snake_case _")) == "@content:(snake\\_case \\_)"
    assert str(content.has_any_word("snake_case _")) == "@content:(snake\\_case|\\_)"
    assert str(content.has_phrase("snake_case _")) == '@content:("snake_case _")'


def test_words_are_deduplicated_but_phrases_are_not() -> None:
    content = Text("content")
    assert str(content.has_words("Dog dog DOG cat")) == "@content:(dog cat)"
    assert str(content.has_any_word("cat Dog dog")) == "@content:(cat|dog)"
    assert str(content.has_phrase("dog eat dog")) == '@content:("dog eat dog")'
    # RediSearch folds ASCII only: these are two terms
    assert str(content.has_words("ÄPFEL äpfel")) == "@content:(Äpfel äpfel)"
    # A word the query parser reads as a number is not lower-cased there
    assert str(content.has_words("INF 1E5")) == "@content:(inf 1e5)"


def test_stopwords_are_dropped() -> None:
    content = Text("content")
    assert str(content.has_words("The happy DOG")) == "@content:(happy dog)"
    assert str(content.has_any_word("the|dog")) == "@content:(dog)"
    assert str(content.has_phrase("over the moon")) == '@content:("over moon")'


@pytest.mark.parametrize("text", ["the", "The A an", "to be, or not to be", "IS"])
def test_stopwords_only_raise(text: str) -> None:
    content = Text("content")
    for method in (content.has_words, content.has_any_word, content.has_phrase):
        with pytest.raises(InvalidFilterError, match="stopwords"):
            method(text)


def test_stopwords_for_an_index_without_them() -> None:
    content = Text("content", stopwords=())
    assert str(content.has_words("the")) == "@content:(the)"
    assert str(content.has_phrase("over the moon")) == '@content:("over the moon")'
    custom = Text("content", stopwords={"Dog"})
    assert str(custom.has_words("the dog cat")) == "@content:(the cat)"
    with pytest.raises(InvalidFilterError, match="collection"):
        Text("content", stopwords="the")


@pytest.mark.parametrize("text", ["", "   ", "\t\n", "*", "-- | ()", "\\", "{}"])
def test_empty_text_raises(text: str) -> None:
    content = Text("content")
    for method in (content.has_words, content.has_any_word, content.has_phrase):
        with pytest.raises(InvalidFilterError, match="no word"):
            method(text)


@pytest.mark.parametrize("text", [None, 3, ["dog"], b"dog"])
def test_non_string_text_raises(text: object) -> None:
    with pytest.raises(InvalidFilterError, match="string"):
        Text("content").has_words(text)  # type: ignore[arg-type]


# -- helpers ------------------------------------------------------------------------------------


def test_genre_filters() -> None:
    assert genre_filters() is None
    assert str(genre_filters(genre="pets")) == "@genre:{pets}"
    assert str(genre_filters(genre=["pets", "sci-fi"])) == "@genre:{pets|sci\\-fi}"
    assert str(genre_filters(genres_all=["a", "b"])) == "(@genre:{a} @genre:{b})"
    assert str(genre_filters(exclude_genres=["a", "b"])) == "-(@genre:{a|b})"
    both = genre_filters(genre=["a", "b"], genres_all=["c"], exclude_genres=["d"])
    assert str(both) == "(@genre:{a|b} @genre:{c} -(@genre:{d}))"


@pytest.mark.parametrize("option", ["genre", "genres_all", "exclude_genres"])
@pytest.mark.parametrize("value", [[], "", [" x"], ["a\x1fb"]])
def test_genre_filters_raise_invalid_genre(option: str, value: object) -> None:
    with pytest.raises(InvalidGenreError):
        genre_filters(**{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("genre", [*TRICKY, "x`y", "_"])
def test_genre_filter_is_kept_and_agrees_with_genre_filters(genre: str) -> None:
    legacy = genre_filter(genre)
    assert isinstance(legacy, RedisvlFilterExpression)
    assert str(legacy) == render(genre_filters(genre=genre)) == str(Tag("genre") == genre)


def test_combine() -> None:
    a, b = Tag("genre") == "a", Num("n") > 1
    assert combine() is None
    assert combine(None, None) is None
    assert combine(a) is a
    assert combine(None, a, None) is a
    assert str(combine(a, None, b)) == "(@genre:{a} @n:[(1 +inf])"
    assert str(combine(a & b, a)) == "(@genre:{a} @n:[(1 +inf] @genre:{a})"
    with pytest.raises(TypeError):
        combine(a, "@x:{y}")  # type: ignore[arg-type]


DECLARED: dict[str, FieldKind] = {"genre": "tag", "content": "text", "year": "numeric"}


def test_check_fields() -> None:
    check_fields(
        (Tag("genre") == "a") & (Num("year") > 1) | Text("content").has_words("x"), DECLARED
    )
    check_fields(Filter("@whatever:{x}", {}), DECLARED)
    with pytest.raises(InvalidFilterError, match=r"undeclared field 'author'.*genre \(tag\)"):
        check_fields((Tag("genre") == "a") & (Tag("author") == "b"), DECLARED)
    with pytest.raises(InvalidFilterError, match=r"'genre' is a tag field.*numeric"):
        check_fields(Num("genre") > 1, DECLARED)
    with pytest.raises(InvalidFilterError, match=r"'year' is a numeric field.*tag"):
        check_fields(~(Tag("year") == "1999"), DECLARED)
    with pytest.raises(InvalidFilterError, match="declared fields: none"):
        check_fields(Tag("genre") == "a", {})
    with pytest.raises(TypeError):
        check_fields("@genre:{a}", DECLARED)  # type: ignore[arg-type]


def test_render() -> None:
    assert render(None) == "*"
    assert render(Tag("genre") == "a") == "@genre:{a}"
    with pytest.raises(TypeError):
        render("@genre:{a}")  # type: ignore[arg-type]


def test_rendered_filters_work_in_redisvl_queries() -> None:
    flt = (Tag("genre") == "pets") | ~(Num("year") < 2000)
    vector = VectorQuery(
        vector=[0.0, 1.0],
        vector_field_name="embedding",
        filter_expression=render(flt),
        dtype="float32",
    )
    assert vector.query_string() == (
        "((@genre:{pets} | -(@year:[-inf (2000])))=>[KNN 10 @embedding $vector AS vector_distance]"
    )
    no_filter = VectorQuery(
        vector=[0.0], vector_field_name="embedding", filter_expression=render(None)
    )
    assert no_filter.query_string().startswith("*=>[KNN")
    assert CountQuery(filter_expression=render(flt)).query_string() == str(flt)
    assert CountQuery(filter_expression=render(None)).query_string() == "*"


# -- properties ---------------------------------------------------------------------------------

VALID_TAG = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cs", "Cc")),
        st.sampled_from(string.punctuation + " "),
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s == s.strip())


@given(VALID_TAG)
@settings(max_examples=200, deadline=None)  # a stalled CI machine is not a slow test
def test_any_valid_tag_value_renders_escaped_and_round_trips(value: str) -> None:
    assert unescape(tag_body(str(Tag("author") == value), "author")) == value


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)  # a stalled CI machine is not a slow test
def test_any_text_renders_plain_words_or_raises(text: str) -> None:
    try:
        rendered = str(Text("content").has_words(text))
    except InvalidFilterError:
        return
    body = rendered[len("@content:(") : -1]
    for word in body.split(" "):
        assert word and not (set(word.replace("\\_", "")) & ASCII_SYNTAX), (text, rendered)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in word)
    phrase = str(Text("content").has_phrase(text))
    assert phrase.startswith('@content:("') and phrase.endswith('")')
    assert not (set(phrase[len('@content:("') : -2]) & ASCII_SYNTAX - {"_", " "}), phrase


def test_the_kind_table_covers_every_field_kind_and_drives_schema_values_and_cli() -> None:
    from typing import get_args

    from redis_docstore._cli.where import parse_field, parse_where
    from redis_docstore._filters.expression import FieldKind
    from redis_docstore._filters.kinds import KINDS
    from redis_docstore._schema import IndexSettings, build_schema

    assert set(KINDS) == set(get_args(FieldKind))
    fields = {f"f_{kind}": kind for kind in KINDS}
    settings = IndexSettings(name="i", prefix="p", dims=4, metadata_fields=tuple(fields.items()))
    declared = {f.name: f.type for f in build_schema(settings).fields.values()}
    for name, kind in fields.items():
        assert str(declared[name]).lower().endswith(kind)
        assert parse_field(f"{name}={kind}") == (name, kind)
        for op in KINDS[kind].operators:
            value = "1" if kind == "numeric" else "word"
            assert isinstance(parse_where(f"{name}{op}{value}", fields), Filter)
    assert KINDS["numeric"].check(1.5) is None
    assert KINDS["numeric"].check("1") == "must be a number, not str"
    assert KINDS["text"].check(3) == "must be a string, not int"
    assert KINDS["tag"].check(["a", "b"]) is None
    assert KINDS["tag"].check("") is not None
