"""recommend() against a real server, equal to a numpy oracle over every document.

The documents carry controlled vectors (random, fixed seed, float32) in FLAT
indexes, so the KNN searches are exact and the oracle can rank every document
itself: ids and order must be the same, distances and scores equal to float32
precision. Examples are ids, vectors and texts (a hash embedder: each text its
own deterministic vector).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from redis_docstore import (
    AsyncDocumentStore,
    Document,
    DocumentNotFoundError,
    DocumentStore,
    Hit,
    InvalidEmbeddingError,
    InvalidQueryError,
    Num,
    Tag,
    TextExample,
)
from redis_docstore._cli.commands import main
from redis_docstore.testing import StoreNames

N, DIMS = 60, 8
VECTORS = np.random.default_rng(14).normal(size=(N, DIMS)).astype(np.float32)
IDS = [f"d{i:02d}" for i in range(N)]
GENRES = [["a", "b", "c"][i % 3 : i % 3 + 1] + (["d"] if i % 5 == 0 else []) for i in range(N)]
YEARS = [1950 + i for i in range(N)]
Example = str | TextExample | Sequence[float]


class HashEmbedder:
    """Each text its own deterministic vector (only texts given as examples are embedded)."""

    dims = DIMS

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [vector_of(t).tolist() for t in texts]


def vector_of(text: str) -> np.ndarray:
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)
    return np.random.default_rng(seed).normal(size=DIMS).astype(np.float32)


def documents() -> list[Document]:
    return [
        Document(
            content=f"document {i}",
            genre=GENRES[i],
            id=IDS[i],
            embedding=VECTORS[i].tolist(),
            metadata={"year": YEARS[i]},
        )
        for i in range(N)
    ]


def open_store(url: str, names: StoreNames, distance: str, algorithm: str = "flat") -> Any:
    return DocumentStore(
        url,
        index=names.index,
        prefix=names.prefix,
        distance=distance,  # type: ignore[arg-type]
        algorithm=algorithm,  # type: ignore[arg-type]
        embedder=HashEmbedder(),
        metadata_fields={"year": "numeric"},
    )


@pytest.fixture(params=["l2", "cosine", "ip"])
def library(
    request: pytest.FixtureRequest, redis_stack_url: str, store_names: StoreNames
) -> Iterator[DocumentStore]:
    """The 60 documents in a FLAT index of each metric."""
    with open_store(redis_stack_url, store_names, request.param) as store:
        store.add(documents())
        yield store


@pytest.fixture
def l2_library(redis_stack_url: str, store_names: StoreNames) -> Iterator[DocumentStore]:
    with open_store(redis_stack_url, store_names, "l2") as store:
        store.add(documents())
        yield store


# -- the oracle: plain numpy over every document -------------------------------------------------


def as_vector(example: Example) -> np.ndarray:
    if isinstance(example, str):
        return VECTORS[IDS.index(example)].astype(np.float64)
    if isinstance(example, TextExample):
        return vector_of(example.text).astype(np.float64)
    return np.asarray(example, dtype=np.float64)


def metric(docs: np.ndarray, query: np.ndarray, distance: str) -> np.ndarray:
    """Distances of every row to one vector, in the index's metric."""
    docs, query = docs.astype(np.float64), query.astype(np.float64)
    if distance == "l2":
        return np.asarray(((docs - query) ** 2).sum(axis=1))
    if distance == "cosine":
        cos = docs @ query / (np.linalg.norm(docs, axis=1) * np.linalg.norm(query))
        return np.asarray(1.0 - cos)
    return np.asarray(1.0 - docs @ query)


def allowed(genre: str | None = None, min_year: int | None = None) -> list[int]:
    return [
        i
        for i in range(N)
        if (genre is None or genre in GENRES[i]) and (min_year is None or YEARS[i] >= min_year)
    ]


def oracle_average(
    positive: Sequence[Example],
    negative: Sequence[Example],
    distance: str,
    k: int,
    rows: Sequence[int],
) -> list[tuple[str, float]]:
    pos = np.array([as_vector(e) for e in positive])
    neg = np.array([as_vector(e) for e in negative]).reshape(len(negative), DIMS)
    if distance == "cosine":  # each example counts by its direction
        pos = pos / np.linalg.norm(pos, axis=1, keepdims=True)
        if len(neg):
            neg = neg / np.linalg.norm(neg, axis=1, keepdims=True)
    query = 2 * pos.mean(axis=0) - neg.mean(axis=0) if len(neg) else pos.mean(axis=0)
    d = metric(VECTORS, query.astype(np.float32), distance)
    excluded = {e for e in [*positive, *negative] if isinstance(e, str)}
    ranked = sorted((i for i in rows if IDS[i] not in excluded), key=lambda i: d[i])
    return [(IDS[i], float(d[i])) for i in ranked[:k]]


def oracle_best(
    positive: Sequence[Example],
    negative: Sequence[Example],
    distance: str,
    k: int,
    rows: Sequence[int],
) -> list[tuple[str, float, float]]:
    """Qdrant's best_score, similarity = -distance, over every allowed document."""

    def sigmoid(x: float) -> float:
        return 0.5 * (x / (1 + abs(x)) + 1)

    to_pos = [metric(VECTORS, as_vector(e), distance) for e in positive]
    to_neg = [metric(VECTORS, as_vector(e), distance) for e in negative]
    excluded = {e for e in [*positive, *negative] if isinstance(e, str)}
    scored = []
    for i in rows:
        if IDS[i] in excluded:
            continue
        d_pos = min((float(d[i]) for d in to_pos), default=float("inf"))
        d_neg = min((float(d[i]) for d in to_neg), default=float("inf"))
        score = sigmoid(-d_pos) if d_pos < d_neg else -sigmoid(-d_neg)
        scored.append((IDS[i], score, d_pos if positive else d_neg))
    scored.sort(key=lambda t: -t[1])
    return scored[:k]


def candidates(
    positive: Sequence[Example],
    negative: Sequence[Example],
    distance: str,
    fetch_k: int,
    rows: Sequence[int],
) -> list[int]:
    """The best_score candidates: the fetch_k (+ example ids) nearest rows of each positive.

    With no positives, those of each negated negative (COSINE, IP).
    """
    ids = {e for e in [*positive, *negative] if isinstance(e, str)}
    seeds = [as_vector(e) for e in positive] or [-as_vector(e) for e in negative]
    found: set[int] = set()
    for seed in seeds:
        d = metric(VECTORS, seed.astype(np.float32), distance)
        found.update(sorted(rows, key=lambda i: d[i])[: fetch_k + len(ids)])
    return sorted(found)


def assert_average(hits: list[Hit], expected: list[tuple[str, float]]) -> None:
    assert [h.id for h in hits] == [i for i, _ in expected]
    assert [h.distance for h in hits] == pytest.approx([d for _, d in expected], abs=1e-4)
    assert all(h.score is None for h in hits)


def assert_best(hits: list[Hit], expected: list[tuple[str, float, float]]) -> None:
    assert [h.id for h in hits] == [i for i, _, _ in expected]
    assert [h.score for h in hits] == pytest.approx([s for _, s, _ in expected], abs=1e-6)
    assert [h.distance for h in hits] == pytest.approx([d for _, _, d in expected], abs=1e-5)


def metric_of(store: DocumentStore) -> str:
    return store.settings.distance


# -- average_vector ------------------------------------------------------------------------------


def test_average_vector_by_ids_matches_numpy(library: DocumentStore) -> None:
    distance = metric_of(library)
    for positive, negative in [
        (["d03"], []),
        (["d03", "d17"], ["d40"]),
        (["d08"], ["d09", "d10"]),
    ]:
        hits = library.recommend(positive, negative, k=7)
        assert_average(hits, oracle_average(positive, negative, distance, 7, range(N)))
        assert not {h.id for h in hits} & {*positive, *negative}


def test_average_vector_by_vectors_and_texts_matches_numpy(library: DocumentStore) -> None:
    distance = metric_of(library)
    # A stored document's vector given as a vector is not excluded: d03 is its own nearest.
    positive: list[Example] = [VECTORS[3].tolist(), np.asarray(VECTORS[17])]
    hits = library.recommend(positive, [VECTORS[40].tolist()], k=5)
    assert_average(hits, oracle_average(positive, [VECTORS[40].tolist()], distance, 5, range(N)))
    mixed: list[Example] = [TextExample("a heist in space"), "d05"]
    negative: list[Example] = [TextExample("rain"), VECTORS[7].tolist()]
    hits = library.recommend(mixed, negative, k=6)
    assert_average(hits, oracle_average(mixed, negative, distance, 6, range(N)))
    assert "d05" not in {h.id for h in hits}


def test_average_vector_with_filters_matches_numpy(library: DocumentStore) -> None:
    distance = metric_of(library)
    positive, negative = ["d03", "d04"], ["d30"]
    hits = library.recommend(positive, negative, k=8, genre="a", where=Num("year") >= 1970)
    rows = allowed(genre="a", min_year=1970)
    assert_average(hits, oracle_average(positive, negative, distance, 8, rows))
    # An example outside the filter still counts as an example.
    hits = library.recommend(["d01"], k=50, where=Tag("genre") == "d")
    assert_average(hits, oracle_average(["d01"], [], distance, 50, allowed(genre="d")))
    assert len(hits) == len(allowed(genre="d"))


def test_the_example_ids_are_never_hits(l2_library: DocumentStore) -> None:
    examples = ["d00", "d11", "d22"]
    for strategy in ("average_vector", "best_score"):
        hits = l2_library.recommend(examples[:2], examples[2:], k=N, strategy=strategy)  # type: ignore[arg-type]
        assert sorted(h.id for h in hits) == sorted(set(IDS) - set(examples))
    (hit,) = l2_library.recommend(["d00"], k=1)
    assert hit.id != "d00"


# -- best_score ----------------------------------------------------------------------------------


def test_best_score_matches_numpy_over_every_document(library: DocumentStore) -> None:
    distance = metric_of(library)
    cases: list[tuple[list[Example], list[Example]]] = [
        (["d03"], []),
        (["d03", "d17"], ["d40"]),
        ([TextExample("a heist in space"), VECTORS[9].tolist()], ["d09", TextExample("rain")]),
    ]
    for positive, negative in cases:
        # fetch_k = N: every document is a candidate, so the oracle ranks the same set.
        hits = library.recommend(positive, negative, k=10, strategy="best_score", fetch_k=N)
        assert_best(hits, oracle_best(positive, negative, distance, 10, range(N)))
        # Otherwise the candidates are the fetch_k nearest of each positive.
        for fetch_k in (10, 25):
            few = library.recommend(
                positive, negative, k=10, strategy="best_score", fetch_k=fetch_k
            )
            rows = candidates(positive, negative, distance, fetch_k, range(N))
            assert len(rows) < N
            assert_best(few, oracle_best(positive, negative, distance, 10, rows))


def test_best_score_puts_documents_nearer_a_positive_first(l2_library: DocumentStore) -> None:
    hits = l2_library.recommend(["d03"], ["d17", "d40"], k=N, strategy="best_score")
    scores = [h.score for h in hits]
    assert all(s is not None for s in scores)
    signs = [s > 0 for s in scores]  # type: ignore[operator]
    assert signs == sorted(signs, reverse=True) and True in signs and False in signs
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_best_score_with_filters_matches_numpy(library: DocumentStore) -> None:
    distance = metric_of(library)
    positive, negative = ["d03", "d04"], ["d30"]
    hits = library.recommend(
        positive, negative, k=8, strategy="best_score", fetch_k=N, genre="b",
        where=Num("year") >= 1965,
    )  # fmt: skip
    rows = allowed(genre="b", min_year=1965)
    assert_best(hits, oracle_best(positive, negative, distance, 8, rows))


@pytest.mark.parametrize("distance", ["cosine", "ip"])
def test_best_score_with_negatives_only(
    redis_stack_url: str, store_names: StoreNames, distance: str
) -> None:
    with open_store(redis_stack_url, store_names, distance) as store:
        store.add(documents())
        negative: list[Example] = ["d12", TextExample("rain")]
        hits = store.recommend(None, negative, k=6, strategy="best_score", fetch_k=N)
        assert_best(hits, oracle_best([], negative, distance, 6, range(N)))
        assert all(h.score is not None and h.score < 0 for h in hits)
        # With fewer candidates: the nearest to each negated negative, the least similar.
        hits = store.recommend(None, negative, k=6, strategy="best_score", fetch_k=6)
        rows = candidates([], negative, distance, 6, range(N))
        assert_best(hits, oracle_best([], negative, distance, 6, rows))


def test_an_hnsw_index_gives_the_same_hits(redis_stack_url: str, store_names: StoreNames) -> None:
    # 60 documents at EF_RUNTIME 400: HNSW is exact here, and a filter that
    # leaves fewer than k documents takes the completeness check.
    with open_store(redis_stack_url, store_names, "cosine", algorithm="hnsw") as store:
        store.add(documents())
        hits = store.recommend(["d03", "d17"], ["d40"], k=7)
        assert_average(hits, oracle_average(["d03", "d17"], ["d40"], "cosine", 7, range(N)))
        rows = allowed(genre="d", min_year=1980)
        few = store.recommend(["d03"], k=20, genre="d", where=Num("year") >= 1980, ef_runtime=50)
        assert_average(few, oracle_average(["d03"], [], "cosine", 20, rows))
        best = store.recommend(
            ["d03"], ["d40"], k=20, strategy="best_score", genre="d", where=Num("year") >= 1980
        )
        assert_best(best, oracle_best(["d03"], ["d40"], "cosine", 20, rows))


# -- errors --------------------------------------------------------------------------------------


def test_an_unknown_id_is_a_typed_error(l2_library: DocumentStore) -> None:
    for strategy in ("average_vector", "best_score"):
        with pytest.raises(DocumentNotFoundError, match="'nope'") as caught:
            l2_library.recommend(["d01", "nope"], strategy=strategy)  # type: ignore[arg-type]
        assert caught.value.id == "nope"
        with pytest.raises(DocumentNotFoundError):
            l2_library.recommend(["d01"], ["gone"], strategy=strategy)  # type: ignore[arg-type]
    l2_library.delete("d01")
    with pytest.raises(DocumentNotFoundError, match="'d01'"):
        l2_library.recommend(["d01"])


@pytest.mark.parametrize(
    ("positive", "negative", "options", "error"),
    [
        ([], [], {}, InvalidQueryError),
        (None, ["d01"], {}, InvalidQueryError),  # average_vector needs a positive
        (None, ["d01"], {"strategy": "best_score"}, InvalidQueryError),  # l2: needs a positive
        (["d01"], ["d01"], {}, InvalidQueryError),
        (["space opera"], None, {}, InvalidQueryError),  # a text must be wrapped
        ([[1.0, 2.0]], None, {}, InvalidEmbeddingError),
        (["d01"], None, {"k": 0}, InvalidQueryError),
        (["d01"], None, {"fetch_k": 20}, InvalidQueryError),
    ],
)  # fmt: skip
def test_bad_input_is_refused(
    l2_library: DocumentStore,
    positive: Any,
    negative: Any,
    options: dict[str, Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        l2_library.recommend(positive, negative, **options)


# -- async ---------------------------------------------------------------------------------------


def test_the_async_store_gives_the_same_hits(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    calls: list[tuple[list[Example], list[Example], dict[str, Any]]] = [
        (["d03", "d17"], ["d40"], {"k": 7}),
        ([TextExample("a heist in space"), "d05"], [VECTORS[7].tolist()], {"k": 5, "genre": "a"}),
        (["d03"], ["d17"], {"k": 9, "strategy": "best_score", "where": Num("year") >= 1960}),
    ]
    with open_store(redis_stack_url, store_names, "cosine") as store:
        store.add(documents())
        expected = [store.recommend(p, n, **kw) for p, n, kw in calls]

    async def run() -> list[list[Hit]]:
        async with AsyncDocumentStore(
            redis_stack_url, index=store_names.index, prefix=store_names.prefix,
            distance="cosine", algorithm="flat", embedder=HashEmbedder(),
            metadata_fields={"year": "numeric"},
        ) as astore:  # fmt: skip
            got = [await astore.recommend(p, n, **kw) for p, n, kw in calls]
            with pytest.raises(DocumentNotFoundError):
                await astore.recommend(["nope"])
            return got

    assert asyncio.run(run()) == expected
    assert all(expected)


# -- the command line ----------------------------------------------------------------------------


def cli(argv: Sequence[str]) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def test_the_recommend_command(
    redis_stack_url: str, store_names: StoreNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis_docstore._ops import state as state_module

    monkeypatch.setattr(state_module, "default_embedder", lambda: HashEmbedder())
    options = [
        "--url", redis_stack_url, "--index", store_names.index, "--prefix", store_names.prefix,
        "--algorithm", "flat", "--field", "year=numeric",
    ]  # fmt: skip
    with open_store(redis_stack_url, store_names, "l2") as store:
        store.add(documents())
    by: Callable[..., list[str]] = lambda *argv: [h["id"] for h in cli([*options, *argv])[1]]  # noqa: E731
    assert by(
        "recommend", "--positive", "d03", "--positive", "d17", "--negative", "d40", "-k", "7"
    ) == [i for i, _ in oracle_average(["d03", "d17"], ["d40"], "l2", 7, range(N))]
    text = [TextExample("a heist in space")]
    argv = ["recommend", "--positive-text", "a heist in space", "--negative", "d09"]
    argv += [
        "--strategy",
        "best_score",
        "--fetch-k",
        "60",
        "--genre",
        "b",
        "--where",
        "year>=1965",
    ]
    expected = oracle_best([*text], ["d09"], "l2", 10, allowed(genre="b", min_year=1965))
    code, hits, _ = cli([*options, *argv])
    assert code == 0
    assert [h["id"] for h in hits] == [i for i, _, _ in expected]
    assert [h["score"] for h in hits] == pytest.approx([s for _, s, _ in expected], abs=1e-6)
    assert set(hits[0]) == {"id", "content", "genres", "distance", "metadata", "score"}
    code, lean, _ = cli([*options, *argv, "--fields", "id,genres"])
    assert code == 0 and [h["id"] for h in lean] == [h["id"] for h in hits]
    assert set(lean[0]) == {"id", "genres", "distance", "score"}
    code, out, err = cli([*options, "recommend", "--positive", "nope"])
    assert (code, out) == (1, None) and "no document with id 'nope'" in err
    code, out, err = cli([*options, "recommend", "-k", "3"])
    assert (code, out) == (2, None) and "needs --positive or --negative" in err
    code, out, err = cli([*options, "recommend", "--positive", "d01", "--fetch-k", "9"])
    assert (code, out) == (2, None) and "--fetch-k applies to --strategy best_score" in err


@pytest.mark.parametrize("strategy", ["average_vector", "best_score"])
@pytest.mark.parametrize("fields", [[], ["id", "distance"], ["content"], ["genres", "metadata"]])
def test_fields_trim_the_hits_and_keep_their_order_and_scores(
    l2_library: DocumentStore, strategy: str, fields: list[str]
) -> None:
    full = l2_library.recommend(["d03", "d17"], ["d40"], k=8, strategy=strategy)  # type: ignore[arg-type]
    lean = l2_library.recommend(
        ["d03", "d17"],
        ["d40"],
        k=8,
        strategy=strategy,
        fields=fields,  # type: ignore[arg-type]
    )
    assert [(h.id, h.distance, h.score) for h in lean] == [
        (h.id, h.distance, h.score) for h in full
    ]
    for short, whole in zip(lean, full, strict=True):
        assert short.content == (whole.content if "content" in fields else "")
        assert short.genres == (whole.genres if "genres" in fields else ())
        assert short.metadata == (whole.metadata if "metadata" in fields else {})
