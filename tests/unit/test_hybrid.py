from __future__ import annotations

import itertools
import math
import re
from typing import Any

import numpy as np
import pytest

from redis_docstore import DocumentStore
from redis_docstore._commands.hybrid import (
    STOPWORDS,
    build_hybrid_command,
    build_hybrid_query_string,
    query_words,
    text_score_expression,
    vector_similarity_expression,
)
from redis_docstore._commands.replies import parse_hybrid_reply
from redis_docstore._documents import Hit
from redis_docstore._errors import (
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    ValidationError,
)

KNN = "=>[KNN 5 @embedding $vector AS vector_distance]"


def _args(**kwargs: Any) -> list[Any]:
    options: dict[str, Any] = {"k": 5, **kwargs}
    return build_hybrid_command("idx", [0.5, -1.0, 2.0], "cats and dogs", **options)


def _after(args: list[Any], keyword: str, n: int) -> list[Any]:
    i = args.index(keyword)
    return args[i + 1 : i + 1 + n]


def _applies(args: list[Any]) -> dict[str, str]:
    return {
        args[i + 3]: args[i + 1]
        for i, a in enumerate(args)
        if a == "APPLY" and args[i + 2] == "AS"
    }


def _evaluate(expression: str, **fields: float) -> float:
    """Evaluate an APPLY expression (arithmetic, abs, exp and @fields) in Python."""
    code = re.sub(r"@(\w+)", r"\1", expression)
    value = eval(code, {"__builtins__": {}, "abs": abs, "exp": _exp}, fields)
    return float(value)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf  # as RediSearch's exp() does


# --- the command ---------------------------------------------------------------------------


def test_whole_command() -> None:
    args = build_hybrid_command("idx", [1.0, 0.0], "The cat", k=3, distance="cosine", alpha=0.25)
    assert args == [
        "FT.AGGREGATE",
        "idx",
        "(~@content:(cat))=>[KNN 3 @embedding $vector AS vector_distance]",
        "SCORER",
        "BM25STD",
        "ADDSCORES",
        "LOAD",
        "5",
        "@__key",
        "$.content",
        "$.genre",
        "$.metadata",
        "@vector_distance",
        "APPLY",
        vector_similarity_expression("cosine"),
        "AS",
        "vector_similarity",
        "APPLY",
        text_score_expression(),
        "AS",
        "text_score",
        "APPLY",
        "0.25 * @vector_similarity + (1 - 0.25) * @text_score",
        "AS",
        "hybrid_score",
        "SORTBY",
        "6",
        "@hybrid_score",
        "DESC",
        "@vector_distance",
        "ASC",
        "@__key",
        "ASC",
        "MAX",
        "3",
        "PARAMS",
        "2",
        "vector",
        np.array([1.0, 0.0], dtype="<f4").tobytes(),
        "DIALECT",
        "2",
    ]


def test_words_only_boost_by_default() -> None:
    assert _args()[2] == "(~@content:(cats | dogs))" + KNN


def test_require_text() -> None:
    assert _args(require_text=True)[2] == "(@content:(cats | dogs))" + KNN


def test_filter_is_required_but_not_scored() -> None:
    assert _args(filter_expression="@genre:{pets|sci\\-fi}")[2] == (
        "(~@content:(cats | dogs) -(-(@genre:{pets|sci\\-fi})))" + KNN
    )
    assert _args(filter_expression=" @genre:{pets} ", require_text=True)[2] == (
        "(@content:(cats | dogs) -(-(@genre:{pets})))" + KNN
    )


def test_star_filter_is_no_filter() -> None:
    assert _args(filter_expression="*")[2] == _args()[2]
    assert _args(filter_expression=" * ")[2] == _args()[2]


def test_query_string_builder() -> None:
    assert build_hybrid_query_string(["a1"], k=2) == (
        "(~@content:(a1))=>[KNN 2 @embedding $vector AS vector_distance]"
    )


def test_params_hold_the_vector_as_float32_little_endian() -> None:
    args = _args()
    assert _after(args, "PARAMS", 3)[:2] == ["2", "vector"]
    blob = _after(args, "PARAMS", 3)[2]
    assert isinstance(blob, bytes)
    assert np.frombuffer(blob, dtype="<f4").tolist() == [0.5, -1.0, 2.0]
    assert args[-2:] == ["DIALECT", "2"]


def test_sorted_by_hybrid_score_at_most_k() -> None:
    args = _args(k=7)
    assert _after(args, "SORTBY", 9) == [
        "6",
        "@hybrid_score",
        "DESC",
        "@vector_distance",
        "ASC",
        "@__key",
        "ASC",
        "MAX",
        "7",
    ]
    assert "KNN 7 " in args[2]


@pytest.mark.parametrize(
    ("alpha", "shown"), [(0.7, "0.7"), (0, "0.0"), (1, "1.0"), (1e-5, "1e-05")]
)
def test_alpha_weights_the_vector(alpha: float, shown: str) -> None:
    hybrid = _applies(_args(alpha=alpha))["hybrid_score"]
    assert hybrid == f"{shown} * @vector_similarity + (1 - {shown}) * @text_score"
    value = _evaluate(hybrid, vector_similarity=0.8, text_score=0.4)
    assert value == pytest.approx(alpha * 0.8 + (1 - alpha) * 0.4)


# --- the scores ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance", "d", "expected"),
    [
        ("cosine", 0.0, 1.0),
        ("cosine", 1.0, 0.5),
        ("cosine", 2.0, 0.0),
        ("cosine", 0.4, 0.8),
        ("cosine", -1e-7, 1.0),  # rounding below 0 is clamped
        ("cosine", 2.0000001, 0.0),
        ("ip", 0.0, 1.0),  # dot 1
        ("ip", 1.0, 0.5),  # dot 0
        ("ip", 0.5, 0.75),
        ("ip", 2.0, 0.0),  # dot -1
        ("ip", -3.0, 1.0),  # dot 4: an unnormalized vector saturates
        ("ip", 5.0, 0.0),  # dot -4
        ("l2", 0.0, 1.0),
        ("l2", 1.0, 0.5),
        ("l2", 3.0, 0.25),
        ("l2", 1e30, 1e-30),
        ("l2", -1e-7, 1.0),
    ],
)
def test_vector_similarity(distance: Any, d: float, expected: float) -> None:
    expression = _applies(_args(distance=distance))["vector_similarity"]
    assert expression == vector_similarity_expression(distance)
    assert _evaluate(expression, vector_distance=d) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("distance", ["cosine", "ip", "l2"])
def test_vector_similarity_is_monotone_in_0_1(distance: Any) -> None:
    expression = vector_similarity_expression(distance)
    values = [_evaluate(expression, vector_distance=d) for d in np.linspace(-1, 10, 200)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a >= b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize("score", [0.0, 0.1, 1.0, 1.73, 4.0, 12.5, 40.0, 1e6])
def test_text_score_is_tanh_of_a_quarter(score: float) -> None:
    expression = _applies(_args())["text_score"]
    value = _evaluate(expression, __score=score)
    assert value == pytest.approx(math.tanh(score / 4), abs=1e-12)
    assert 0.0 <= value <= 1.0


def test_text_score_saturates_without_nan() -> None:
    assert _evaluate(text_score_expression(), __score=1e308) == 1.0


# --- query words ---------------------------------------------------------------------------


def test_stopwords_are_removed_and_words_lowered() -> None:
    assert query_words("The Cat and THE hat, in a box!") == ["cat", "hat", "box"]


def test_duplicates_are_removed_in_order() -> None:
    assert query_words("dog cat Dog CAT dog") == ["dog", "cat"]


def test_redisearch_default_stopwords_are_included() -> None:
    assert {"a", "is", "the", "such", "into", "their", "will", "with", "no"} <= STOPWORDS


def test_words_are_split_like_redisearch_indexes_them() -> None:
    assert query_words("e-mail's state-of-the-art x.q/z") == [
        "e",
        "mail",
        "state",
        "art",
        "x",
        "q",
        "z",
    ]
    assert query_words("snake_case tab\there new\nline") == [
        "snake_case",
        "tab",
        "new",
        "line",
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x) | (*", ["x"]),
        ("@content:foo", ["content", "foo"]),
        ('"quoted phrase"', ["quoted", "phrase"]),
        ("-neg", ["neg"]),
        ("~tilde", ["tilde"]),
        ("$p", ["p"]),
        ("{curly} [square] <angle>", ["curly", "square", "angle"]),
        ("%fuzzy% pre*", ["fuzzy", "pre"]),
        ("w'wild*card'", ["w", "wild", "card"]),
        ("back\\slash", ["back", "slash"]),
        ("=>[KNN 100 @embedding $vector]", ["knn", "100", "embedding", "vector"]),
        ("@genre:{pets} | @content:(cat)", ["genre", "pets", "content", "cat"]),
        ("nul\x00byte bell\x07", ["nul", "byte", "bell"]),
        ("Café naïve 日本語 ÅNGSTRÖM", ["café", "naïve", "日本語", "ångström"]),
        (
            "non\u00a0breaking\u2028line\u3000ideographic",
            ["non", "breaking", "line", "ideographic"],
        ),
        ("«guillemets» — dash", ["«guillemets»", "—", "dash"]),
    ],
)
def test_hostile_text_becomes_plain_words(text: str, words: list[str]) -> None:
    assert query_words(text) == words
    query = _args_for(text)[2]
    assert query == f"(~@content:({' | '.join(words)}))" + KNN


@pytest.mark.parametrize(
    "text",
    ["x) | (*", "@content:foo", '"quoted"', "-neg", "~tilde", "$p", "{ab}", "ab\\|cd", "*x*"],
)
def test_no_query_syntax_survives(text: str) -> None:
    words_part = re.fullmatch(r"\(~@content:\((.*)\)\)" + re.escape(KNN), _args_for(text)[2])
    assert words_part is not None
    for word in words_part.group(1).split(" | "):
        assert re.fullmatch(r"[0-9a-z_\u0080-\U0010ffff]+", word), word


def _args_for(text: str) -> list[Any]:
    return build_hybrid_command("idx", [0.5, -1.0, 2.0], text, k=5)


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t", "the", "The AND of", "a, an; the!", "*", "{}", "()|~-", "'s"]
)
def test_no_words_is_an_error(text: str) -> None:
    with pytest.raises(InvalidQueryError, match="query text"):
        _args_for(text)


def test_text_must_be_a_string() -> None:
    with pytest.raises(InvalidQueryError, match="string"):
        build_hybrid_command("idx", [1.0], b"cat", k=1)  # type: ignore[arg-type]


# --- validation, once, where the search is made -------------------------------------------
#
# A hybrid search's k, alpha, filters and query vector are checked once, where the
# search is made (the spec, the query vector, the store's settings); the command
# builder trusts them. explain() makes a search exactly as search() does, unsent.


class Tiny:
    """A three-dimensional model; the stores below never connect."""

    dims = 3

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0] for _ in texts]


def _explain(vector: Any = (0.5, -1.0, 2.0), **options: Any) -> str:
    store = DocumentStore("redis://localhost:1", embedder=Tiny())
    return store.explain(list(vector), **{"k": 5, "text": "cats and dogs", **options})


def test_a_valid_hybrid_search_is_explained() -> None:
    line = _explain()
    assert line.startswith("FT.AGGREGATE ") and "<12 bytes>" in line


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3", None])
def test_bad_k(k: object) -> None:
    with pytest.raises(InvalidQueryError, match="k must be a positive integer"):
        _explain(k=k)


@pytest.mark.parametrize("alpha", [-0.01, 1.01, math.nan, math.inf, -math.inf, True, "0.5", None])
def test_bad_alpha(alpha: object) -> None:
    with pytest.raises(InvalidQueryError, match="alpha"):
        _explain(alpha=alpha)


@pytest.mark.parametrize("distance", ["L2", "euclidean", "", None])
def test_bad_distance(distance: object) -> None:
    with pytest.raises(ValidationError, match="distance"):
        DocumentStore("redis://localhost:1", embedder=Tiny(), distance=distance)  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["", "  ", 3, "@genre:{x}"])
def test_bad_filter(where: object) -> None:
    with pytest.raises(InvalidFilterError, match="where must be a Filter"):
        _explain(where=where)


@pytest.mark.parametrize("genre", ["", [], None])
def test_no_filter_or_an_empty_one(genre: Any) -> None:
    if genre is None:  # no filter: every document is a candidate
        assert "-(-(" not in _explain(genre=genre)
    else:
        with pytest.raises(InvalidGenreError):
            _explain(genre=genre)


@pytest.mark.parametrize(
    "vector",
    [[], [math.nan, 0.0, 0.0], [1.0, math.inf, 0.0], [[1.0, 2.0, 3.0]], [1e39, 0.0, 0.0],
     ["x", 0.0, 0.0]],
)  # fmt: skip
def test_bad_vector(vector: Any) -> None:
    with pytest.raises(InvalidEmbeddingError, match="embedding"):
        _explain(vector)


# --- parsing -------------------------------------------------------------------------------


def _row(key: str, distance: str, score: str, **extra: str) -> dict[str, Any]:
    attrs = {
        "vector_distance": distance,
        "__score": "1.5",
        "__key": key,
        "vector_similarity": "0.9",
        "text_score": "0.35",
        "hybrid_score": score,
        **extra,
    }
    return {"extra_attributes": attrs, "values": []}


REPLY: dict[str, Any] = {
    "attributes": [],
    "total_results": 3,
    "format": "STRING",
    "results": [
        _row(
            "doc:b",
            "0.2",
            "0.87",
            **{
                "$.content": "a cat",
                "$.genre": '["pets","fun, games"]',
                "$.metadata": '{"n":1,"tags":["x"]}',
            },
        ),
        _row(
            "doc:a",
            "0.0",
            "0.8",
            **{"$.content": "doc:a text", "$.genre": '["news"]', "$.metadata": "{}"},
        ),
        _row("doc:doc:c", "2.0000001", "0.1"),
    ],
    "warning": [],
}


def test_parse_reply_in_order() -> None:
    hits = parse_hybrid_reply(REPLY, key_prefix="doc:", distance="cosine")
    assert hits == [
        Hit(
            id="b",
            content="a cat",
            genres=("pets", "fun, games"),
            distance=0.2,
            metadata={"n": 1, "tags": ["x"]},
            similarity=0.9,
            score=0.87,
        ),
        Hit(
            id="a",
            content="doc:a text",
            genres=("news",),
            distance=0.0,
            metadata={},
            similarity=1.0,
            score=0.8,
        ),
        # Only the prefix is stripped; missing fields give empty values, and
        # the similarity stays in [0, 1].
        Hit(id="doc:c", content="", genres=(), distance=2.0000001, similarity=0.0, score=0.1),
    ]


def test_parse_bytes_reply() -> None:
    def encode(value: Any) -> Any:
        if isinstance(value, dict):
            return {encode(k): encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value.encode() if isinstance(value, str) else value

    assert parse_hybrid_reply(encode(REPLY), key_prefix="doc:", distance="cosine") == (
        parse_hybrid_reply(REPLY, key_prefix="doc:", distance="cosine")
    )


@pytest.mark.parametrize("distance", ["l2", "ip"])
def test_parse_without_similarity(distance: str) -> None:
    hits = parse_hybrid_reply(REPLY, key_prefix="doc:", distance=distance)
    assert [h.similarity for h in hits] == [None, None, None]
    assert [h.score for h in hits] == [0.87, 0.8, 0.1]
    assert [h.distance for h in hits] == [0.2, 0.0, 2.0000001]


def test_parse_empty_reply() -> None:
    assert parse_hybrid_reply({"results": []}, key_prefix="doc:", distance="l2") == []
    assert parse_hybrid_reply({}, key_prefix="doc:", distance="l2") == []
