"""Recommendation by example: scoring against plain loops, validation, the flow's effects."""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import orjson
import pytest

from redis_docstore import (
    DocumentNotFoundError,
    DocumentStore,
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    TextExample,
)
from redis_docstore._cli.commands import build_parser, main
from redis_docstore._commands.search import MAX_RESULTS
from redis_docstore._effects import Commands, Embed
from redis_docstore._ops import recommend
from redis_docstore._ops.recommend import (
    MAX_EXAMPLES,
    average_vector,
    best_scores,
    distances,
    rank,
    scaled_sigmoid,
)

METRICS = ("l2", "cosine", "ip")


class Tiny:
    dims = 3

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), 1.0, 0.5] for t in texts]


def offline_store(distance: str = "l2", algorithm: str = "flat") -> DocumentStore:
    """A store that never connects (validation and flows driven by hand)."""
    return DocumentStore(
        "redis://localhost:1",
        index="rec",
        embedder=Tiny(),
        distance=distance,  # type: ignore[arg-type]
        algorithm=algorithm,  # type: ignore[arg-type]
        metadata_fields={"year": "numeric"},
    )


def rows(seed: int, n: int, dims: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dims))


# -- the scoring, against loops ------------------------------------------------------------------


def loop_distance(a: Sequence[float], b: Sequence[float], metric: str) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    if metric == "l2":
        return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))
    if metric == "ip":
        return 1.0 - dot
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 - dot / norms


@pytest.mark.parametrize("metric", METRICS)
def test_distances_are_the_metric_of_each_pair(metric: str) -> None:
    c, e = rows(1, 5), rows(2, 3)
    got = distances(c, e, metric)  # type: ignore[arg-type]
    assert got.shape == (5, 3)
    for i in range(5):
        for j in range(3):
            assert got[i, j] == pytest.approx(loop_distance(c[i], e[j], metric), abs=1e-12)


def test_average_vector_is_qdrants_formula() -> None:
    p, n = rows(3, 3), rows(4, 2)
    mean = [sum(r[d] for r in p) / 3 for d in range(3)]
    mean_neg = [sum(r[d] for r in n) / 2 for d in range(3)]
    assert average_vector(p, n[:0], "l2") == pytest.approx(mean)
    expected = [mean[d] + mean[d] - mean_neg[d] for d in range(3)]
    assert average_vector(p, n, "l2") == pytest.approx(expected)
    assert average_vector(p, n, "ip") == pytest.approx(expected)


def test_average_vector_under_cosine_averages_directions() -> None:
    # The long vector would dominate a plain mean; under COSINE only its direction counts.
    p = np.array([[100.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert average_vector(p, p[:0], "cosine") == pytest.approx([0.5, 0.5, 0.0])
    n = np.array([[0.0, 0.0, 3.0]])
    assert average_vector(p, n, "cosine") == pytest.approx([1.0, 1.0, -1.0])


def test_average_vector_needs_a_positive_and_a_direction() -> None:
    with pytest.raises(InvalidQueryError, match="at least one positive"):
        average_vector(np.zeros((0, 3)), rows(1, 1), "l2")
    opposite = np.array([[1.0, 0.0, 0.0], [-2.0, 0.0, 0.0]])
    with pytest.raises(InvalidQueryError, match="cancel out"):
        average_vector(opposite, opposite[:0], "cosine")
    assert not np.any(
        average_vector(np.array([[1.0, 0, 0], [-1.0, 0, 0]]), np.zeros((0, 3)), "l2")
    )


def test_scaled_sigmoid_is_qdrants_fast_sigmoid() -> None:
    xs = np.array([-50.0, -2.0, -0.5, 0.0, 0.5, 2.0, 50.0])
    got = scaled_sigmoid(xs)
    for x, y in zip(xs, got, strict=True):
        assert y == pytest.approx(0.5 * (x / (1 + abs(x)) + 1))
    assert list(got) == sorted(got) and got.min() > 0 and got.max() < 1
    assert scaled_sigmoid(np.array([0.0]))[0] == 0.5


def loop_best_score(c: Sequence[float], pos: Any, neg: Any, metric: str) -> float:
    """Qdrant's RecoBestScoreQuery::score_by with similarity = -distance."""
    sig = lambda x: 0.5 * (x / (1 + abs(x)) + 1)  # noqa: E731
    max_pos = max((-loop_distance(c, p, metric) for p in pos), default=-math.inf)
    max_neg = max((-loop_distance(c, n, metric) for n in neg), default=-math.inf)
    return sig(max_pos) if max_pos > max_neg else -sig(max_neg)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("n_pos", "n_neg"), [(1, 0), (2, 1), (3, 3), (0, 2)])
def test_best_scores_match_qdrants_rule(metric: str, n_pos: int, n_neg: int) -> None:
    c, pos, neg = rows(5, 30), rows(6, n_pos), rows(7, n_neg)
    scores, dist = best_scores(c, pos, neg, metric)  # type: ignore[arg-type]
    for i in range(30):
        assert scores[i] == pytest.approx(loop_best_score(c[i], pos, neg, metric), abs=1e-12)
        nearest = min(loop_distance(c[i], e, metric) for e in (pos if n_pos else neg))
        assert dist[i] == pytest.approx(nearest, abs=1e-12)
    if n_pos and n_neg:  # both sides occur in this sample
        assert (scores > 0).any() and (scores < 0).any()


def test_best_scores_rank_every_positive_winner_above_every_negative_winner() -> None:
    pos, neg = np.array([[0.0, 0.0, 0.0]]), np.array([[10.0, 0.0, 0.0]])
    c = np.array([[4.9, 0, 0], [5.1, 0, 0], [-30.0, 0, 0], [10.0, 0, 0], [5.0, 0, 0]])
    scores, dist = best_scores(c, pos, neg, "l2")
    # Nearer the positive than the negative: positive scores, nearer higher,
    # even at distance 900; a tie goes to the negative (as in Qdrant). Among
    # the others, the farther from the negative the higher: e (25) before b (24.01).
    assert list(scores > 0) == [True, False, True, False, False]
    assert rank(scores, dist, ["a", "b", "c", "d", "e"]) == [0, 2, 4, 1, 3]
    assert list(dist) == pytest.approx([4.9**2, 5.1**2, 900.0, 100.0, 25.0])


def test_rank_breaks_ties_by_distance_then_id() -> None:
    assert rank([0.5, 0.5, 0.5, 0.9], [2.0, 1.0, 1.0, 3.0], ["z", "y", "x", "w"]) == [3, 2, 1, 0]


# -- validation: typed errors before any I/O -----------------------------------------------------


def req(store: DocumentStore, positive: Any = None, negative: Any = None, **kw: Any) -> Any:
    options: dict[str, Any] = dict(
        k=10, strategy="average_vector", fetch_k=None, genre=None, genres_all=None,
        exclude_genres=None, where=None, ef_runtime=None,
    )  # fmt: skip
    return recommend.request(store._state, positive, negative, **{**options, **kw})


def test_a_request_sorts_its_examples_into_ids_texts_and_vectors() -> None:
    store = offline_store()
    r = req(store, ["a", TextExample("some text"), [1, 2, 3], "a"], [np.ones(3), "b"], k=4)
    assert r.ids == ("a", "b")  # distinct, in order
    assert r.texts == ("some text",)
    assert r.positive[0] == "a" and r.positive[1] == TextExample("some text")
    assert list(r.positive[2]) == [1.0, 2.0, 3.0]
    assert r.spec.k == 4 + 2  # the example ids come back too, and are dropped
    best = req(store, ["a"], strategy="best_score", k=5)
    assert best.spec.k == 50 + 1  # fetch_k: max(4 * k, 50)
    assert req(store, ["a"], strategy="best_score", k=20, fetch_k=30).spec.k == 31


@pytest.mark.parametrize(
    ("positive", "negative", "options", "error", "match"),
    [
        (None, None, {}, InvalidQueryError, "at least one positive or negative"),
        ([], [], {}, InvalidQueryError, "at least one positive or negative"),
        (None, ["a"], {}, InvalidQueryError, "average_vector strategy needs"),
        (None, ["a"], {"strategy": "best_score"}, InvalidQueryError, "cosine or ip index"),
        (["a"], None, {"strategy": "nearest"}, InvalidQueryError, "strategy must be"),
        (["a"], None, {"k": 0}, InvalidQueryError, "k must be a positive integer"),
        (["a"], None, {"k": True}, InvalidQueryError, "k must be a positive integer"),
        (["a"], None, {"k": MAX_RESULTS}, InvalidQueryError, "number of example ids"),
        (["a"], None, {"fetch_k": 5}, InvalidQueryError, "fetch_k applies to the best_score"),
        (["a"], None, {"strategy": "best_score", "k": 9, "fetch_k": 5}, InvalidQueryError,
         r"fetch_k \(5\) must be >= k \(9\)"),
        (["a"], None, {"strategy": "best_score", "fetch_k": 0}, InvalidQueryError, "fetch_k"),
        (["a"], ["a"], {}, InvalidQueryError, "'a' is both a positive and a negative"),
        ("a", None, {}, InvalidQueryError, "positive must be a list of examples"),
        ([1.0, 2.0, 3.0], None, {}, InvalidQueryError, r"positive\[0\]: .*\[vector\]"),
        (["a"], TextExample("x"), {}, InvalidQueryError, "negative must be a list"),
        (["a"], [{"id": "b"}], {}, InvalidQueryError, r"negative\[0\]: an example is"),
        ([b"abc"], None, {}, InvalidQueryError, r"positive\[0\]: an example is"),
        (["a b"], None, {}, InvalidQueryError, r"TextExample\('a b'\)"),
        (["doc:1"], None, {}, InvalidQueryError, "a string is a document id"),
        (["a", [1.0, 2.0]], None, {}, InvalidEmbeddingError, r"positive\[1\]: .*3"),
        (["a"], [[1.0, math.nan, 0.0]], {}, InvalidEmbeddingError, r"negative\[0\]"),
        (["a"], None, {"genre": []}, InvalidGenreError, "empty"),
        (["a"], None, {"where": "year > 3"}, InvalidFilterError, "where must be a Filter"),
        (["a"], None, {"ef_runtime": 0}, InvalidQueryError, "ef_runtime"),
    ],
)  # fmt: skip
def test_bad_requests_raise_typed_errors(
    positive: Any, negative: Any, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        req(offline_store(), positive, negative, **options)


def test_too_many_examples() -> None:
    store = offline_store()
    req(store, [f"d{i}" for i in range(MAX_EXAMPLES)])
    with pytest.raises(InvalidQueryError, match=f"at most {MAX_EXAMPLES} examples"):
        req(store, [f"d{i}" for i in range(MAX_EXAMPLES)], [[1.0, 0.0, 0.0]])


def test_negative_only_best_score_is_allowed_on_cosine_and_ip() -> None:
    for distance in ("cosine", "ip"):
        r = req(offline_store(distance), None, ["a"], strategy="best_score")
        assert r.positive == () and r.negative == ("a",)


def test_a_zero_vector_has_no_direction_under_cosine() -> None:
    with pytest.raises(InvalidEmbeddingError):
        req(offline_store("cosine"), [[0.0, 0.0, 0.0]])


def test_text_examples_must_hold_text() -> None:
    for bad in ("", "   ", None, 3):
        with pytest.raises(InvalidQueryError, match="TextExample needs a non-empty text"):
            TextExample(bad)  # type: ignore[arg-type]


def test_the_store_method_validates_before_connecting() -> None:
    # The store points at a closed port: a request that reached the runner
    # would fail with a connection error, not these.
    store = offline_store()
    with pytest.raises(InvalidQueryError):
        store.recommend([], [])
    with pytest.raises(InvalidQueryError):
        store.recommend(["a"], strategy="best_scores")  # type: ignore[arg-type]


# -- the flow: its effects, driven by hand -------------------------------------------------------


def knn_reply(prefix: str, found: Sequence[tuple[str, float, Sequence[float]]]) -> list[Any]:
    """A RESP2 FT.SEARCH reply (decoded) with the returned embeddings."""
    reply: list[Any] = [len(found)]
    for doc_id, distance, embedding in found:
        reply += [
            f"{prefix}{doc_id}",
            [
                "vector_distance", str(distance), "$.content", f"text of {doc_id}",
                "$.genre", '["g"]', "$.metadata", "{}", "$.embedding", orjson.dumps(embedding),
            ],
        ]  # fmt: skip
    return reply


def drive(flow: Generator[Any, Any, Any], answer: Any) -> tuple[list[Any], Any]:
    """Run a flow, answering each effect with ``answer(effect)``; (effects, result)."""
    effects = []
    try:
        effect = next(flow)
        while True:
            effects.append(effect)
            effect = flow.send(answer(effect))
    except StopIteration as stop:
        return effects, stop.value


def test_an_unknown_id_raises_after_one_read_and_sends_nothing_else() -> None:
    store = offline_store()
    store._state.ready = True  # the index is open: no lifecycle commands
    r = req(store, ["a", TextExample("never embedded")], ["b"])
    stored = orjson.dumps([[1.0, 0.0, 0.0]]).decode()
    flow = recommend.recommend(store._state, r)
    effect = next(flow)
    assert isinstance(effect, Commands)
    key_prefix = store._state.settings.key_prefix
    assert effect.commands == [("JSON.MGET", f"{key_prefix}a", f"{key_prefix}b", "$.embedding")]
    with pytest.raises(DocumentNotFoundError, match="'b'") as caught:
        flow.send([[stored, None]])
    assert caught.value.id == "b"


def test_average_vector_is_one_round_trip_with_vectors_two_with_ids() -> None:
    store = offline_store()
    store._state.ready = True
    prefix = store._state.settings.key_prefix
    hits = [("a", 0.1, [1, 0, 0]), ("c", 0.2, [0, 1, 0]), ("d", 0.3, [0, 0, 1])]

    def answer(effect: Any) -> Any:
        if isinstance(effect, Embed):
            return [[1.0, 1.0, 1.0] for _ in effect.texts]
        (command,) = effect.commands
        if command[0] == "JSON.MGET":
            return [[orjson.dumps([[2.0, 0.0, 0.0]]).decode()]]
        return [knn_reply(prefix, hits)]

    effects, result = drive(
        recommend.recommend(store._state, req(store, [[1, 0, 0]], k=2)), answer
    )
    assert [type(e) for e in effects] == [Commands]
    assert [h.id for h in result] == ["a", "c"]
    r = req(store, ["a", TextExample("t")], k=2)
    effects, result = drive(recommend.recommend(store._state, r), answer)
    assert [type(e) for e in effects] == [Commands, Embed, Commands]
    assert effects[0].commands[0][0] == "JSON.MGET" and effects[2].commands[0][0] == "FT.SEARCH"
    assert [h.id for h in result] == ["c", "d"]  # the example "a" is dropped; k hits remain
    knn = " ".join(str(a) for a in effects[2].commands[0] if not isinstance(a, bytes))
    assert "KNN 3 @embedding" in knn  # k + 1 example id


def test_best_score_is_one_pipeline_of_one_search_per_positive() -> None:
    store = offline_store()
    store._state.ready = True
    prefix = store._state.settings.key_prefix
    lists = {
        1.0: [("a", 0.0, [1, 0, 0]), ("c", 0.1, [0.9, 0.1, 0]), ("n", 0.2, [0, 0, 1])],
        0.0: [("d", 0.0, [0, 1, 0]), ("c", 0.5, [0.9, 0.1, 0]), ("e", 0.6, [0, 0.5, 0.9])],
    }

    def answer(effect: Any) -> Any:
        assert isinstance(effect, Commands)
        return [
            knn_reply(prefix, lists[float(np.frombuffer(c[c.index("PARAMS") + 3], np.float32)[0])])
            for c in effect.commands
        ]

    r = req(store, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], ["n"], strategy="best_score", k=3)
    seen: list[Any] = []

    def answer_all(effect: Any) -> Any:
        seen.append(effect)
        if effect.commands[0][0] == "JSON.MGET":
            return [[orjson.dumps([[0.0, 0.0, 1.0]]).decode()]]
        return answer(effect)

    effects, result = drive(recommend.recommend(store._state, r), answer_all)
    assert [len(e.commands) for e in effects] == [1, 2]  # MGET, then 2 searches at once
    knn = " ".join(str(a) for a in effects[1].commands[0] if not isinstance(a, bytes))
    assert "$.embedding" in knn and "KNN 51 @embedding" in knn  # fetch_k 50 + the id
    pos = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    neg = np.array([[0.0, 0, 1]])
    cands = {"a": [1, 0, 0], "c": [0.9, 0.1, 0], "d": [0, 1, 0], "e": [0, 0.5, 0.9]}
    expected = sorted(cands, key=lambda i: -loop_best_score(cands[i], pos, neg, "l2"))[:3]
    assert [h.id for h in result] == expected == ["a", "d", "c"]
    for hit in result:
        assert hit.score == pytest.approx(loop_best_score(cands[hit.id], pos, neg, "l2"))
        assert hit.distance == pytest.approx(
            min(loop_distance(cands[hit.id], p, "l2") for p in pos)
        )


# -- the command line ----------------------------------------------------------------------------


def test_the_recommend_command_parses_its_examples() -> None:
    argv = ["recommend", "--positive", "a", "--positive", "b", "--negative-text", "rain"]
    args = build_parser().parse_args([*argv, "--strategy", "best_score", "--genre", "x"])
    assert (args.positive, args.negative, args.positive_text) == (["a", "b"], None, None)
    assert args.negative_text == ["rain"]
    assert (args.strategy, args.k, args.fetch_k, args.genre) == ("best_score", 10, None, ["x"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["recommend", "--positive", "a", "--strategy", "nearest"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["recommend"], "recommend needs --positive or --negative"),
        (["recommend", "--positive", "a", "--fetch-k", "9"], "--fetch-k applies to --strategy"),
    ],
)
def test_recommend_input_errors_exit_2_before_any_connection(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--url", "redis://127.0.0.1:1", *argv])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.startswith("docstore: error: ") and message in captured.err


def test_best_score_reruns_short_hnsw_lists_exactly() -> None:
    # HNSW with a filter may return fewer candidates than match: as search
    # does, the flow counts the matches and re-runs the short lists exactly.
    store = offline_store(algorithm="hnsw")
    store._state.ready = True
    prefix = store._state.settings.key_prefix
    r = req(store, [[1.0, 0.0, 0.0]], strategy="best_score", k=2, genre="g")
    full = [("a", 0.0, [1, 0, 0]), ("b", 0.5, [0, 1, 0]), ("c", 0.9, [0, 0, 1])]

    def answer(effect: Any) -> Any:
        (command,) = effect.commands
        text = " ".join(str(a) for a in command if not isinstance(a, bytes))
        if "NOCONTENT" in text:
            return [{"total_results": 3, "results": [], "warning": []}]
        return [knn_reply(prefix, full if "ADHOC_BF" in text else full[:1])]

    effects, result = drive(recommend.recommend(store._state, r), answer)
    texts = [" ".join(str(a) for a in e.commands[0] if not isinstance(a, bytes)) for e in effects]
    assert len(effects) == 3
    assert "EF_RUNTIME" in texts[0] and "ADHOC_BF" not in texts[0]
    assert "NOCONTENT" in texts[1] and "@genre:{g}" in texts[1]
    assert "ADHOC_BF" in texts[2] and "EF_RUNTIME" not in texts[2]
    assert [h.id for h in result] == ["a", "b"]
