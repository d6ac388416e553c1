"""Hybrid search and its scores against a real Redis Stack (raw FT.CREATE, no store)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pytest
import redis

from redis_docstore._commands.hybrid import build_hybrid_command, query_words
from redis_docstore._commands.replies import parse_hybrid_reply
from redis_docstore._documents import Hit
from redis_docstore._errors import InvalidQueryError

if TYPE_CHECKING:
    from redis_docstore.testing import StoreNames

# id: (content, genres, embedding). The query vector is QUERY; the query word "cat".
# No doc holds an inflected form of a query word (RediSearch stems query words).
DOCS: dict[str, tuple[str, list[str], list[float]]] = {
    "near-cat": ("the cat chased a red ball", ["pets"], [1.0, 0.1, 0.0, 0.0]),
    "near-plain": ("a quiet afternoon on the sofa", ["pets"], [1.0, 0.1, 0.0, 0.0]),
    "close": ("garden tools for sale", ["home"], [1.0, 0.3, 0.1, 0.0]),
    "mid-cat": ("cat food recipe with fish", ["cooking", "pets"], [1.0, 0.8, 0.0, 0.2]),
    "mid-plain": ("stock market report", ["news"], [0.8, 1.0, 0.1, 0.0]),
    "far-cat": ("my cat sleeps all day long", ["pets", "fun"], [0.0, 0.2, 1.0, 0.0]),
    "far-plain": ("weather forecast: rain", ["news"], [0.0, 1.0, 0.3, 0.0]),
    "opposite": ("nothing to see here", ["misc"], [-1.0, 0.0, 0.0, 0.2]),
    "unicode": ("un café crème à Zürich", ["travel"], [0.1, 0.0, 0.0, 1.0]),
    "dog": ("a dog barked at the mailman", ["pets"], [0.9, 0.0, 0.3, 0.3]),
}
QUERY = [1.0, 0.05, 0.0, 0.0]
ALL = len(DOCS)


def _cosine_distance(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a), np.asarray(b)
    return float(1.0 - va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def _l2_distance(a: list[float], b: list[float]) -> float:
    return float(np.sum((np.asarray(a) - np.asarray(b)) ** 2))


def _ip_distance(a: list[float], b: list[float]) -> float:
    return float(1.0 - np.asarray(a) @ np.asarray(b))


DISTANCES = {"cosine": _cosine_distance, "l2": _l2_distance, "ip": _ip_distance}


def _holding(words: list[str]) -> set[str]:
    """The docs whose content holds one of ``words`` (as RediSearch tokenizes it)."""
    return {
        doc_id
        for doc_id, (content, _, _) in DOCS.items()
        if set(words) & {w.lower() for w in query_words(content)}
    }


class Index:
    """A hybrid-searchable index over DOCS, and a RESP3 client to query it."""

    def __init__(self, client: redis.Redis, names: StoreNames, distance: Any) -> None:
        self.client = client
        self.names = names
        self.distance = distance

    def search(self, text: str, *, k: int = ALL, **options: Any) -> list[Hit]:
        args = build_hybrid_command(
            self.names.index, QUERY, text, k=k, distance=self.distance, **options
        )
        reply = self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        return parse_hybrid_reply(
            reply, key_prefix=f"{self.names.prefix}:", distance=self.distance
        )


def _create(client: redis.Redis, names: StoreNames, metric: str) -> Index:
    client.execute_command(  # type: ignore[no-untyped-call]
        "FT.CREATE", names.index, "ON", "JSON", "PREFIX", "1", f"{names.prefix}:",
        "SCHEMA",
        "$.content", "AS", "content", "TEXT",
        "$.genre[*]", "AS", "genre", "TAG", "SEPARATOR", "\x1f", "CASESENSITIVE",
        "$.embedding", "AS", "embedding", "VECTOR", "HNSW", "6",
        "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", metric.upper(),
    )  # fmt: skip
    # FT.CREATE scans the keyspace in the background; a key written while that
    # scan runs is indexed twice (the first copy stays in the term statistics
    # until the fork GC runs, ~30 s later), so BM25 scores would change in the
    # middle of a test. Write only once the scan is over.
    _wait_for(lambda: str(_info(client, names)["indexing"]) == "0", "the initial scan")
    for doc_id, (content, genres, embedding) in DOCS.items():
        document = {
            "content": content,
            "genre": genres,
            "embedding": embedding,
            "metadata": {"id": doc_id, "n": len(content)},
        }
        client.execute_command(  # type: ignore[no-untyped-call]
            "JSON.SET", f"{names.prefix}:{doc_id}", "$", orjson.dumps(document)
        )
    _wait_for(lambda: _info(client, names)["num_docs"] == ALL, f"{ALL} docs indexed")
    assert _info(client, names)["max_doc_id"] == ALL  # each document indexed once
    return Index(client, names, metric)


def _info(client: redis.Redis, names: StoreNames) -> dict[str, Any]:
    info: dict[str, Any] = client.execute_command("FT.INFO", names.index)  # type: ignore[no-untyped-call]
    return info


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def resp3(redis_stack_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_stack_url, protocol=3, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(params=["cosine", "l2", "ip"])
def index(request: pytest.FixtureRequest, resp3: redis.Redis, store_names: StoreNames) -> Index:
    """DOCS in an index of each metric."""
    return _create(resp3, store_names, request.param)


@pytest.fixture
def cosine(resp3: redis.Redis, store_names: StoreNames) -> Index:
    """DOCS in a COSINE index."""
    return _create(resp3, store_names, "cosine")


def _ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def test_alpha_one_is_pure_vector_order(index: Index) -> None:
    measure = DISTANCES[index.distance]
    expected = sorted(DOCS, key=lambda i: (round(measure(QUERY, DOCS[i][2]), 5), i))
    hits = index.search("cat", alpha=1.0)
    assert _ids(hits) == expected
    for hit in hits:
        want = measure(QUERY, DOCS[hit.id][2])
        assert hit.distance == pytest.approx(want, abs=1e-5)
        if index.distance == "l2":
            similarity = 1 / (1 + hit.distance)
        else:
            similarity = min(1.0, max(0.0, 1 - hit.distance / 2))
        assert hit.score == pytest.approx(similarity, abs=1e-9)
        assert hit.similarity == (similarity if index.distance == "cosine" else None)


def test_hits_carry_the_documents(index: Index) -> None:
    hits = index.search("cat", k=3)
    assert len(hits) == 3
    for hit in hits:
        content, genres, _ = DOCS[hit.id]
        assert hit.content == content
        assert hit.genres == tuple(genres)
        assert hit.metadata == {"id": hit.id, "n": len(content)}
    scores = [h.score for h in hits]
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_require_text_returns_only_docs_with_a_word(index: Index) -> None:
    hits = index.search("the cat", require_text=True)
    assert set(_ids(hits)) == _holding(["cat"]) == {"near-cat", "mid-cat", "far-cat"}
    hits = index.search("Cat DOG?", require_text=True)
    assert set(_ids(hits)) == _holding(["cat", "dog"])


def test_require_text_takes_the_k_nearest_holders(cosine: Index) -> None:
    hits = cosine.search("cat", k=2, require_text=True, alpha=1.0)
    assert _ids(hits) == ["near-cat", "mid-cat"]


def test_boost_ranks_a_doc_with_the_words_above_an_equally_near_one(index: Index) -> None:
    # near-cat and near-plain have the same embedding: only the word separates them.
    for alpha in (0.0, 0.5, 0.7, 0.99):
        ids = _ids(index.search("cat", alpha=alpha))
        assert ids.index("near-cat") < ids.index("near-plain"), alpha
        assert set(ids) == set(DOCS)  # the words only boost: nothing is dropped
    # Without the boost (alpha 1) the tie is broken by key: near-cat < near-plain
    # as well, so check the scores themselves.
    hits = {h.id: h for h in index.search("cat", alpha=0.7)}
    assert hits["near-cat"].score > hits["near-plain"].score  # type: ignore[operator]
    assert hits["near-plain"].distance == pytest.approx(hits["near-cat"].distance, abs=1e-6)


def test_boost_can_lift_a_farther_doc_with_the_words(cosine: Index) -> None:
    by_vector = _ids(cosine.search("cat", alpha=1.0))
    by_words = _ids(cosine.search("cat", alpha=0.0))
    assert by_vector.index("far-cat") > by_vector.index("close")
    assert by_words.index("far-cat") < by_words.index("close")
    assert set(by_words[:3]) == {"near-cat", "mid-cat", "far-cat"}
    # Docs without the word score 0 at alpha 0; they follow, nearest first.
    hits = cosine.search("cat", alpha=0.0)
    assert [h.score for h in hits[3:]] == [0.0] * (ALL - 3)
    assert [h.id for h in hits[3:]] == [i for i in by_vector if i not in by_words[:3]]


def test_text_score_is_tanh_of_bm25(cosine: Index) -> None:
    hits = {h.id: h for h in cosine.search("cat", alpha=0.0)}
    reply = cosine.client.execute_command(  # type: ignore[no-untyped-call]
        "FT.SEARCH", cosine.names.index, "@content:(cat)",
        "SCORER", "BM25STD", "WITHSCORES", "NOCONTENT", "DIALECT", "2",
    )  # fmt: skip
    bm25 = {r["id"].removeprefix(f"{cosine.names.prefix}:"): r["score"] for r in reply["results"]}
    assert set(bm25) == {"near-cat", "mid-cat", "far-cat"}
    for doc_id, score in bm25.items():
        assert score > 0
        assert hits[doc_id].score == pytest.approx(math.tanh(score / 4), rel=1e-6)


def test_filter_is_honoured(index: Index) -> None:
    pets = {i for i, (_, genres, _) in DOCS.items() if "pets" in genres}
    hits = index.search("cat", filter_expression="@genre:{pets}")
    assert set(_ids(hits)) == pets
    assert all("pets" in h.genres for h in hits)
    hits = index.search("cat", filter_expression="@genre:{pets}", require_text=True)
    assert set(_ids(hits)) == pets & _holding(["cat"])
    hits = index.search("weather", filter_expression="@genre:{pets}", require_text=True)
    assert hits == []
    hits = index.search("cat", k=2, filter_expression="@genre:{news|misc}")
    assert set(_ids(hits)) <= {"mid-plain", "far-plain", "opposite"}
    assert len(hits) == 2


def test_filter_does_not_change_the_scores(index: Index) -> None:
    # BM25STD would score the genre tag too (by the document's number of genres);
    # the filter is wrapped so that it only selects.
    unfiltered = {h.id: h.score for h in index.search("cat sofa", alpha=0.3)}
    filtered = index.search("cat sofa", alpha=0.3, filter_expression="@genre:{pets}")
    assert {h.id for h in filtered} == {"near-cat", "near-plain", "mid-cat", "far-cat", "dog"}
    for hit in filtered:
        assert hit.score == pytest.approx(unfiltered[hit.id], abs=1e-9), hit.id


HOSTILE = [
    "x) | (*",
    "@content:foo",
    '"quoted"',
    "-neg",
    "~tilde",
    "$p",
    "=>[KNN 10 @embedding $vector]",
    "@genre:{pets} | *",
    "%fuzzy% pre* w'*'",
    "back\\slash\\",
    "nul\x00 ctrl\x1f\x7f",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_only_words(cosine: Index, text: str) -> None:
    words = query_words(text)
    assert set(_ids(cosine.search(text, require_text=True))) == _holding(words) == set()
    hits = cosine.search(text, k=4)
    assert len(hits) == 4
    assert all(h.score is not None and 0.0 <= h.score <= 1.0 for h in hits)


@pytest.mark.parametrize("text", ["{} * ", "the | a", "*", "-(-(*))", "\x00"])
def test_text_without_words_is_refused(cosine: Index, text: str) -> None:
    with pytest.raises(InvalidQueryError):
        cosine.search(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-cat", {"near-cat", "mid-cat", "far-cat"}),  # not a negation
        ("cat) | (*", {"near-cat", "mid-cat", "far-cat"}),  # not a union with everything
        ("@genre:{pets} cat", {"near-cat", "mid-cat", "far-cat"}),
        ('"cat food"', {"near-cat", "mid-cat", "far-cat"}),  # OR-ed words, not a phrase
        ("Café ZÜRICH", {"unicode"}),
        ("crème", {"unicode"}),
    ],
)
def test_hostile_text_does_not_widen(cosine: Index, text: str, expected: set[str]) -> None:
    assert set(_ids(cosine.search(text, require_text=True))) == expected


def test_hostile_text_with_a_filter(cosine: Index) -> None:
    hits = cosine.search("x) | (* @genre:{news}", filter_expression="@genre:{pets}")
    assert hits
    assert all("pets" in h.genres for h in hits)


@pytest.mark.parametrize("k", [1, 3, ALL, ALL + 5])
def test_at_most_k(index: Index, k: int) -> None:
    assert len(index.search("cat", k=k)) == min(k, ALL)
    assert len(index.search("cat", k=k, require_text=True)) == min(k, 3)


def test_stopwords_only_is_refused_before_redis(cosine: Index) -> None:
    with pytest.raises(InvalidQueryError):
        cosine.search("the and of")
    # RediSearch itself would have taken every document as a candidate: before a
    # KNN, a clause of stopwords only is empty, and an empty filter is no filter.
    reply = cosine.client.execute_command(  # type: ignore[no-untyped-call]
        "FT.SEARCH", cosine.names.index,
        "(@content:(the | of))=>[KNN 20 @embedding $vector AS d]",
        "NOCONTENT", "PARAMS", "2", "vector", np.asarray(QUERY, "<f4").tobytes(),
        "DIALECT", "2",
    )  # fmt: skip
    assert reply["total_results"] == ALL


def test_bytes_replies_parse_the_same(cosine: Index, redis_stack_url: str) -> None:
    args = build_hybrid_command(cosine.names.index, QUERY, "cat", k=5, distance="cosine")
    with redis.Redis.from_url(redis_stack_url, protocol=3) as raw:
        reply = raw.execute_command(*args)
    assert isinstance(reply, dict) and b"results" in reply
    prefix = f"{cosine.names.prefix}:"
    assert parse_hybrid_reply(reply, key_prefix=prefix, distance="cosine") == cosine.search(
        "cat", k=5
    )


def test_underscores_in_query_words_are_not_syntax(
    redis_stack_url: str, store_names: StoreNames, embedder: object
) -> None:
    from redis_docstore import Document, DocumentStore

    with DocumentStore(
        redis_stack_url,
        index=store_names.index,
        prefix=store_names.prefix,
        embedder=embedder,  # type: ignore[arg-type]
    ) as store:
        store.add(
            [
                Document(content="call snake_case helpers", genre="code", id="a"),
                Document(content="plain words only", genre="code", id="b"),
            ]
        )
        hits = store.search("code", k=2, text="_ snake_case __", text_mode="require")
        assert [h.id for h in hits] == ["a"]
