"""Rendered filters against a real RediSearch (DIALECT 2): each must select exactly the
documents a plain-Python predicate over the same documents selects."""

from __future__ import annotations

import math
import re
import string
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_docstore._errors import InvalidFilterError, InvalidGenreError
from redis_docstore._filters.conditions import Num, Tag, Text, genre_filters
from redis_docstore._filters.expression import Filter, combine, render
from redis_docstore._filters.genres import validate_genre
from redis_docstore.testing import StoreNames

Doc = Mapping[str, Any]
Predicate = Callable[[Doc], bool]

SCHEMA = [
    "SCHEMA",
    "$.genre[*]", "AS", "genre", "TAG", "SEPARATOR", "\x1f", "CASESENSITIVE",
    "$.metadata.author", "AS", "author", "TAG", "SEPARATOR", "\x1f", "CASESENSITIVE",
    "$.metadata.year", "AS", "year", "NUMERIC",
    "$.content", "AS", "content", "TEXT",
]  # fmt: skip

# No two content words share an English stem, so stemming changes no answer here.
DOCS: dict[str, dict[str, Any]] = {
    "d01": {
        "genre": ["pets"],
        "metadata": {"author": "Ann Lee", "year": 2001},
        "content": "the happy dog runs in the park",
    },
    "d02": {
        "genre": ["pets", "drama"],
        "metadata": {"author": "bob", "year": 1999},
        "content": "a sad cat sleeps",
    },
    "d03": {
        "genre": ["sci-fi"],
        "metadata": {"author": "Ann Lee", "year": 2010},
        "content": "robot ships explore distant stars",
    },
    "d04": {
        "genre": ["drama} | @genre:{x"],
        "metadata": {"author": "x) | (*", "year": 2000},
        "content": "drama on the high seas",
    },
    "d05": {
        "genre": ["*", "sci-fi"],
        "metadata": {"author": "$p", "year": -5.5},
        "content": "sci-fi film about time travel",
    },
    "d06": {
        "genre": ["w'*'", "a|b"],
        "metadata": {"author": "trailing\\", "year": 0},
        "content": "the quick brown fox jumps over the lazy dog",
    },
    "d07": {
        "genre": ["science fiction", "Ünïcödé"],
        "metadata": {"year": 2010.5},
        "content": "Ünïcödé naïve café 日本語",
    },
    "d08": {
        "genre": ["sci\\-fi", "x`y", "_"],
        "metadata": {"author": "日本語"},
        "content": "over a lazy fox",
    },
    "d09": {
        "metadata": {"author": "bob", "year": 1e6},
        "content": "snake_case and x_y identifiers",
    },
    "d10": {"genre": [], "metadata": {"year": 2001}, "content": "red blue green"},
    "d11": {
        "genre": ["Pets"],
        "metadata": {"author": "Bob", "year": 1999.999},
        "content": "jumps over lazy hounds",
    },
    "d12": {
        "genre": ["pets", "drama, comedy"],
        "metadata": {"author": "a-b", "year": 1e-05},
        "content": "QUICK Brown owl",
    },
}

# The oracle's own tokenizer (RediSearch's separators; the corpus has no backslash
# and no control character) and RediSearch's default stopwords.
_SEPARATORS = re.compile(r"[ \t!-/:-@\[-^`{-~]+")
_STOPWORDS = {
    "a", "is", "the", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in",
    "into", "it", "no", "not", "of", "on", "or", "such", "that", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
}  # fmt: skip


def _ascii_lower(word: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in word)


def tokens(text: str) -> list[str]:
    return [_ascii_lower(w) for w in _SEPARATORS.split(text) if w]


def indexed_words(doc: Doc) -> list[str]:
    return [w for w in tokens(doc.get("content", "")) if w not in _STOPWORDS]


def genres(doc: Doc) -> list[str]:
    return list(doc.get("genre", []))


def author(doc: Doc) -> str | None:
    value = doc.get("metadata", {}).get("author")
    return None if value is None else str(value)


def year(doc: Doc) -> float | None:
    value = doc.get("metadata", {}).get("year")
    return None if value is None else float(value)


def genre_is(*values: str) -> Predicate:
    return lambda d: any(v in genres(d) for v in values)


def author_is(*values: str) -> Predicate:
    return lambda d: author(d) in values


def year_where(test: Callable[[float], bool]) -> Predicate:
    return lambda d: (y := year(d)) is not None and test(y)


def words_all(text: str) -> Predicate:
    wanted = [w for w in tokens(text) if w not in _STOPWORDS]
    return lambda d: all(w in indexed_words(d) for w in wanted)


def words_any(text: str) -> Predicate:
    wanted = [w for w in tokens(text) if w not in _STOPWORDS]
    return lambda d: any(w in indexed_words(d) for w in wanted)


def phrase(text: str) -> Predicate:
    wanted = [w for w in tokens(text) if w not in _STOPWORDS]

    def test(d: Doc) -> bool:
        have = indexed_words(d)
        n = len(wanted)
        return any(have[i : i + n] == wanted for i in range(len(have) - n + 1))

    return test


def both(p: Predicate, q: Predicate) -> Predicate:
    return lambda d: p(d) and q(d)


def either(p: Predicate, q: Predicate) -> Predicate:
    return lambda d: p(d) or q(d)


def neg(p: Predicate) -> Predicate:
    return lambda d: not p(d)


def expected(predicate: Predicate, docs: Mapping[str, Doc] = DOCS) -> set[str]:
    return {doc_id for doc_id, doc in docs.items() if predicate(doc)}


@dataclass
class Index:
    client: redis.Redis
    names: StoreNames

    def create(self, *options: str) -> None:
        self.client.execute_command(  # type: ignore[no-untyped-call]
            "FT.CREATE", self.names.index, "ON", "JSON",
            "PREFIX", "1", f"{self.names.prefix}:", *options, *SCHEMA,
        )  # fmt: skip

    def put(self, doc_id: str, doc: Doc) -> None:
        # Written after FT.CREATE, so indexed synchronously.
        self.client.execute_command(  # type: ignore[no-untyped-call]
            "JSON.SET", f"{self.names.prefix}:{doc_id}", "$", orjson.dumps(doc)
        )

    def ids(self, expression: str | Filter) -> set[str]:
        reply = self.client.execute_command(  # type: ignore[no-untyped-call]
            "FT.SEARCH", self.names.index, str(expression),
            "NOCONTENT", "DIALECT", "2", "LIMIT", "0", "100",
        )  # fmt: skip
        if isinstance(reply, dict):  # RESP3
            keys = [r[b"id"] for r in reply[b"results"]]
            total = int(reply[b"total_results"])
        else:  # RESP2: [total, key, key, ...]
            keys, total = list(reply[1:]), int(reply[0])
        assert total == len(keys) < 100
        prefix = f"{self.names.prefix}:"
        return {k.decode().removeprefix(prefix) for k in keys}


@pytest.fixture
def corpus(redis_client: redis.Redis, store_names: StoreNames) -> Index:
    index = Index(redis_client, store_names)
    index.create()
    for doc_id, doc in DOCS.items():
        index.put(doc_id, doc)
    assert index.ids("*") == set(DOCS)  # every document indexed, none failed
    return index


def case(flt: Filter | Callable[[], Filter | None], predicate: Predicate, name: str) -> Any:
    return pytest.param(flt, predicate, id=name)


HOSTILE_GENRES = [
    "drama} | @genre:{x", "*", "w'*'", "a|b", "science fiction", "Ünïcödé", "sci\\-fi",
    "sci-fi", "x`y", "_", "drama, comedy", "x) | (*", "$p", "trailing\\", "pets", "Pets",
]  # fmt: skip
HOSTILE_AUTHORS = [
    "Ann Lee", "Ann", "bob", "Bob", "x) | (*", "$p", "trailing\\", "trailing", "日本語", "a-b",
    "drama} | @genre:{x", "*",
]  # fmt: skip

CASES = [
    *(case(Tag("genre") == v, genre_is(v), f"genre=={v!r}") for v in HOSTILE_GENRES),
    *(case(Tag("author") == v, author_is(v), f"author=={v!r}") for v in HOSTILE_AUTHORS),
    case(Tag("genre") == ["pets", "sci-fi"], genre_is("pets", "sci-fi"), "genre any list"),
    case(Tag("genre").any_of(["x`y", "*"]), genre_is("x`y", "*"), "genre any_of hostile"),
    case(Tag("genre") != "pets", neg(genre_is("pets")), "genre != (no genre included)"),
    case(
        Tag("genre").all_of(["pets", "drama"]),
        lambda d: {"pets", "drama"} <= set(genres(d)),
        "genre all_of",
    ),
    case(
        Tag("genre").all_of(["sci-fi", "*"]),
        lambda d: {"sci-fi", "*"} <= set(genres(d)),
        "genre all_of hostile",
    ),
    case(
        Tag("genre").none_of(["pets", "sci-fi"]),
        neg(genre_is("pets", "sci-fi")),
        "genre none_of",
    ),
    case(Tag("author").any_of(["bob", "Bob"]), author_is("bob", "Bob"), "author any_of"),
    case(Tag("author") != "bob", neg(author_is("bob")), "author != (no author included)"),
    case(Num("year") == 2001, year_where(lambda y: y == 2001), "year == 2001"),
    case(Num("year") == 2001.0, year_where(lambda y: y == 2001), "year == 2001.0"),
    case(Num("year") != 2001, neg(year_where(lambda y: y == 2001)), "year != (no year incl.)"),
    case(Num("year") < 2000, year_where(lambda y: y < 2000), "year < 2000"),
    case(Num("year") <= 2000, year_where(lambda y: y <= 2000), "year <= 2000"),
    case(Num("year") > 2010, year_where(lambda y: y > 2010), "year > 2010"),
    case(Num("year") >= 2010, year_where(lambda y: y >= 2010), "year >= 2010"),
    case(Num("year") == -5.5, year_where(lambda y: y == -5.5), "year == -5.5"),
    case(Num("year") == 0, year_where(lambda y: y == 0), "year == 0"),
    case(Num("year") == -0.0, year_where(lambda y: y == 0), "year == -0.0"),
    case(Num("year") > 0, year_where(lambda y: y > 0), "year > 0"),
    case(Num("year") == 1e-05, year_where(lambda y: y == 1e-05), "year == 1e-05"),
    case(Num("year") >= 1e6, year_where(lambda y: y >= 1e6), "year >= 1e6"),
    case(
        Num("year").between(1999, 2001),
        year_where(lambda y: 1999 <= y <= 2001),
        "between both",
    ),
    case(
        Num("year").between(1999, 2001, inclusive="neither"),
        year_where(lambda y: 1999 < y < 2001),
        "between neither",
    ),
    case(
        Num("year").between(1999, 2001, inclusive="left"),
        year_where(lambda y: 1999 <= y < 2001),
        "between left",
    ),
    case(
        Num("year").between(1999, 2001, inclusive="right"),
        year_where(lambda y: 1999 < y <= 2001),
        "between right",
    ),
    case(Num("year").between(-math.inf, 0), year_where(lambda y: y <= 0), "between -inf 0"),
    case(
        Num("year").between(2010, math.inf, inclusive="neither"),
        year_where(lambda y: y > 2010),
        "between 2010 inf",
    ),
    case(Num("year").between(-math.inf, math.inf), year_where(lambda y: True), "has a year"),
    case(
        Num("year").is_in([1999, 2010.5, -5.5]),
        year_where(lambda y: y in (1999, 2010.5, -5.5)),
        "year is_in",
    ),
    *(
        case(Text("content").has_words(t), words_all(t), f"has_words({t!r})")
        for t in [
            "dog",
            "the happy dog",
            "sci-fi",
            "x_y",
            "snake_case",
            "Ünïcödé",
            "QUICK brown",
            "quick brown fox",
            "日本語 café",
            "drama} | @genre:{x",
            "$p",
            "w'*'",
            "trailing\\",
            "x) | (* fox",
            "naïve",
        ]
    ),
    *(
        case(Text("content").has_any_word(t), words_any(t), f"has_any_word({t!r})")
        for t in ["cat fox", "x) | (* cat", "drama} | @genre:{x", "owl|hounds", "a the seas"]
    ),
    *(
        case(Text("content").has_phrase(t), phrase(t), f"has_phrase({t!r})")
        for t in [
            "quick brown fox",
            "brown quick",
            "quick brown",
            "over the lazy",
            "jumps over lazy",
            "lazy dog",
            "sci-fi film",
            'say "sci fi" film',
            "time\\ travel",
        ]
    ),
    case(
        ((Tag("genre") == "pets") & (Num("year") >= 2000)) | ~Text("content").has_words("cat"),
        either(both(genre_is("pets"), year_where(lambda y: y >= 2000)), neg(words_all("cat"))),
        "(a & b) | ~c",
    ),
    case(
        ~((Tag("genre") == "pets") | (Num("year") < 2000)),
        neg(either(genre_is("pets"), year_where(lambda y: y < 2000))),
        "~(a | b)",
    ),
    case(
        ~(
            (Tag("genre") == "pets")
            & ~((Tag("author") == "bob") | Text("content").has_words("fox"))
        ),
        neg(both(genre_is("pets"), neg(either(author_is("bob"), words_all("fox"))))),
        "~(a & ~(b | c))",
    ),
    case(~~(Tag("genre") == "pets"), genre_is("pets"), "~~a"),
    case(
        ~(Text("content").has_words("lazy") | ~(Num("year") > 0)),
        neg(either(words_all("lazy"), neg(year_where(lambda y: y > 0)))),
        "~(text | ~num)",
    ),
    case(
        lambda: genre_filters(genre=["pets", "sci-fi"], exclude_genres=["drama"]),
        both(genre_is("pets", "sci-fi"), neg(genre_is("drama"))),
        "genre_filters any + exclude",
    ),
    case(
        lambda: genre_filters(genres_all=["pets", "drama, comedy"], exclude_genres=["Pets"]),
        both(lambda d: {"pets", "drama, comedy"} <= set(genres(d)), neg(genre_is("Pets"))),
        "genre_filters all + exclude",
    ),
    case(
        lambda: combine(genre_filters(exclude_genres=["pets"]), Num("year").between(0, 2001)),
        both(neg(genre_is("pets")), year_where(lambda y: 0 <= y <= 2001)),
        "combine",
    ),
    case(
        ~Filter("@genre:{pets} | @author:{bob}", {"genre": "tag", "author": "tag"}),
        neg(either(genre_is("pets"), author_is("bob"))),
        "~raw",
    ),
    case(
        Filter("@genre:{pets} | @author:{bob}", {}) & (Num("year") < 2000),
        both(either(genre_is("pets"), author_is("bob")), year_where(lambda y: y < 2000)),
        "raw & leaf",
    ),
]


@pytest.mark.parametrize(("flt", "predicate"), CASES)
def test_filter_selects_what_the_predicate_selects(
    corpus: Index, flt: Filter | Callable[[], Filter | None], predicate: Predicate
) -> None:
    built = flt if isinstance(flt, Filter) else flt()
    assert built is not None
    assert corpus.ids(render(built)) == expected(predicate)


def test_the_corpus_makes_the_cases_meaningful() -> None:
    # Most cases select some but not all documents; a vacuous oracle would not.
    sizes = [len(expected(p.values[1])) for p in CASES]
    assert sum(0 < n < len(DOCS) for n in sizes) > len(CASES) * 2 // 3


def test_stopword_only_text_matches_nothing_so_it_is_refused(corpus: Index) -> None:
    # Why Text refuses stopword-only input: RediSearch answers it with nothing.
    assert corpus.ids("@content:(the)") == set()
    assert corpus.ids("@content:(the|a)") == set()
    with pytest.raises(InvalidFilterError, match="stopwords"):
        Text("content").has_words("the a")


def test_stopwords_disabled(redis_client: redis.Redis, store_names: StoreNames) -> None:
    index = Index(redis_client, store_names)
    index.create("STOPWORDS", "0")
    for doc_id, doc in DOCS.items():
        index.put(doc_id, doc)
    content = Text("content", stopwords=())

    def words(doc: Doc) -> list[str]:
        return tokens(doc.get("content", ""))

    assert index.ids(content.has_words("the")) == {
        i for i, d in DOCS.items() if "the" in words(d)
    } == {"d01", "d04", "d06"}  # fmt: skip
    assert index.ids(content.has_phrase("over the lazy")) == {"d06"}
    assert index.ids(content.has_phrase("over a lazy")) == {"d08"}
    assert index.ids(~content.has_words("the")) == set(DOCS) - {"d01", "d04", "d06"}


def test_filters_as_a_knn_prefilter(redis_client: redis.Redis, store_names: StoreNames) -> None:
    # The form redisvl's VectorQuery sends: "(<filter>)=>[KNN ...]".
    redis_client.execute_command(  # type: ignore[no-untyped-call]
        "FT.CREATE", store_names.index, "ON", "JSON", "PREFIX", "1", f"{store_names.prefix}:",
        "SCHEMA", "$.genre[*]", "AS", "genre", "TAG", "SEPARATOR", "\x1f", "CASESENSITIVE",
        "$.content", "AS", "content", "TEXT",
        "$.embedding", "AS", "embedding", "VECTOR", "FLAT", "6",
        "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    index = Index(redis_client, store_names)
    for i, (doc_id, doc) in enumerate(DOCS.items()):
        index.put(doc_id, {**doc, "embedding": [float(i), 0.0]})
    vector = array("f", [0.0, 0.0]).tobytes()
    for flt, predicate in [
        (~(Tag("genre") == "pets"), neg(genre_is("pets"))),
        (
            (Tag("genre") == "pets") | Text("content").has_words("fox"),
            either(genre_is("pets"), words_all("fox")),
        ),
        (
            ~((Tag("genre") == "*") & ~Text("content").has_phrase("time travel")),
            neg(both(genre_is("*"), neg(phrase("time travel")))),
        ),
    ]:
        reply = redis_client.execute_command(  # type: ignore[no-untyped-call]
            "FT.SEARCH", store_names.index,
            f"({render(flt)})=>[KNN 100 @embedding $vector AS distance]",
            "PARAMS", "2", "vector", vector, "NOCONTENT", "DIALECT", "2", "LIMIT", "0", "100",
        )  # fmt: skip
        keys = [r[b"id"] for r in reply[b"results"]] if isinstance(reply, dict) else reply[1:]
        found = {k.decode().removeprefix(f"{store_names.prefix}:") for k in keys}
        assert found == expected(predicate), str(flt)


# -- properties, against the real index ---------------------------------------------------------


def _valid_genre(value: str) -> bool:
    try:
        validate_genre(value)
    except InvalidGenreError:
        return False
    return True


TAG_VALUES = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(string.punctuation + " "),
    ),
    min_size=1,
    max_size=24,
).filter(_valid_genre)

# Any text but control characters and the backslash, which glue document words:
# RediSearch 2.10 does not split documents at a newline (or any control character
# but the tab), and a backslash escapes the next character ("a\\b" is indexed as "ab").
TEXTS = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\\"),
        st.sampled_from(string.punctuation.replace("\\", "") + "  \t"),
    ),
    min_size=1,
    max_size=30,
)

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@given(value=TAG_VALUES)
@PROPERTY_SETTINGS
def test_any_tag_value_matches_exactly_itself(corpus: Index, value: str) -> None:
    corpus.put("hyp", {"genre": [value], "metadata": {"author": value}})
    docs = {**DOCS, "hyp": {"genre": [value], "metadata": {"author": value}}}
    assert corpus.ids(Tag("genre") == value) == expected(genre_is(value), docs)
    assert corpus.ids(Tag("author") == value) == expected(author_is(value), docs)
    assert corpus.ids(Tag("genre") != value) == expected(neg(genre_is(value)), docs)
    assert "hyp" in corpus.ids(Tag("genre").any_of([value, "pets"]))


@given(text=TEXTS)
@PROPERTY_SETTINGS
def test_any_text_finds_the_document_holding_it(corpus: Index, text: str) -> None:
    corpus.put("hyp", {"content": text})
    content = Text("content")
    for build in (content.has_words, content.has_any_word, content.has_phrase):
        try:
            flt = build(text)
        except InvalidFilterError:
            # Nothing to search for: no word, or stopwords only.
            assert not [w for w in tokens(text) if w not in _STOPWORDS]
            return
        found = corpus.ids(flt)  # never a syntax error
        assert "hyp" in found, (text, str(flt))
        assert "hyp" not in corpus.ids(~flt), (text, str(flt))


NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.sampled_from([0, -0.0, 5e-324, 1e-05, 2**53, 2**53 + 1, 1999, 2001, -5.5]),
)
COMPARISONS: dict[str, Callable[[Num, float], Filter]] = {
    "==": lambda n, v: n == v,
    "!=": lambda n, v: n != v,
    "<": lambda n, v: n < v,
    "<=": lambda n, v: n <= v,
    ">": lambda n, v: n > v,
    ">=": lambda n, v: n >= v,
}
# RediSearch compares doubles: so does the oracle.
ORACLE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda y, v: y == v,
    "!=": lambda y, v: y != v,
    "<": lambda y, v: y < v,
    "<=": lambda y, v: y <= v,
    ">": lambda y, v: y > v,
    ">=": lambda y, v: y >= v,
}


@given(stored=NUMBERS, value=NUMBERS, op=st.sampled_from(sorted(COMPARISONS)))
@PROPERTY_SETTINGS
def test_any_number_compares_as_a_double(
    corpus: Index, stored: float, value: float, op: str
) -> None:
    corpus.put("hyp", {"metadata": {"year": stored}})
    # The oracle uses the number as RedisJSON keeps it: its parser is not always
    # correctly rounded (1.0949202305530977e+39 is stored 1 ulp lower).
    key = f"{corpus.names.prefix}:hyp"
    doc = orjson.loads(corpus.client.execute_command("JSON.GET", key))  # type: ignore[no-untyped-call]
    docs = {**DOCS, "hyp": doc}
    test = ORACLE[op]
    if op == "!=":
        predicate = neg(year_where(lambda y: y == float(value)))
    else:
        predicate = year_where(lambda y: test(y, float(value)))
    assert corpus.ids(COMPARISONS[op](Num("year"), value)) == expected(predicate, docs)


# Leaves of random filter trees, each with its oracle.
LEAVES: list[tuple[Filter, Predicate]] = [
    (Tag("genre") == "pets", genre_is("pets")),
    (Tag("genre") == ["sci-fi", "*"], genre_is("sci-fi", "*")),
    (Tag("genre").all_of(["pets", "drama"]), lambda d: {"pets", "drama"} <= set(genres(d))),
    (Tag("author") == "bob", author_is("bob")),
    (Tag("author") == "x) | (*", author_is("x) | (*")),
    (Num("year") >= 2000, year_where(lambda y: y >= 2000)),
    (Num("year") < 0.5, year_where(lambda y: y < 0.5)),
    (Num("year").between(1999, 2001, inclusive="left"), year_where(lambda y: 1999 <= y < 2001)),
    (Text("content").has_words("lazy"), words_all("lazy")),
    (Text("content").has_any_word("cat owl"), words_any("cat owl")),
    (Text("content").has_phrase("quick brown"), phrase("quick brown")),
]


def _and(a: tuple[Filter, Predicate], b: tuple[Filter, Predicate]) -> tuple[Filter, Predicate]:
    return a[0] & b[0], both(a[1], b[1])


def _or(a: tuple[Filter, Predicate], b: tuple[Filter, Predicate]) -> tuple[Filter, Predicate]:
    return a[0] | b[0], either(a[1], b[1])


def _not(a: tuple[Filter, Predicate]) -> tuple[Filter, Predicate]:
    return ~a[0], neg(a[1])


TREES = st.recursive(
    st.sampled_from(LEAVES),
    lambda sub: st.one_of(
        st.builds(_and, sub, sub), st.builds(_or, sub, sub), st.builds(_not, sub)
    ),
    max_leaves=8,
)


@given(tree=TREES)
@PROPERTY_SETTINGS
def test_any_and_or_not_tree_selects_what_its_predicate_selects(
    corpus: Index, tree: tuple[Filter, Predicate]
) -> None:
    flt, predicate = tree
    assert corpus.ids(flt) == expected(predicate), str(flt)
