"""Reciprocal-rank fusion without a server: the fusion, the text ranking, the spec, the flow."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from redis_docstore import AsyncDocumentStore, DocumentStore, IncompleteResultsError
from redis_docstore._commands.fusion import (
    embedding_distances,
    rrf_fuse,
    text_query_string,
    text_ranking,
    text_search_command,
)
from redis_docstore._commands.replies import parse_text_reply
from redis_docstore._documents import Hit
from redis_docstore._effects import Commands
from redis_docstore._errors import InvalidQueryError
from redis_docstore._ops import search


def _hit(id: str, distance: float = 1.0, score: float | None = None) -> Hit:
    return Hit(id=id, content=f"text of {id}", genres=("g",), distance=distance, score=score)


def _vector(*pairs: tuple[str, float]) -> list[Hit]:
    return [_hit(id, distance=d) for id, d in pairs]


def _text(*pairs: tuple[str, float], distance: float = 9.0) -> list[Hit]:
    return [_hit(id, distance=distance, score=s) for id, s in pairs]


def _scores(hits: list[Hit]) -> dict[str, float]:
    return {h.id: h.score for h in hits}  # type: ignore[misc]


# --- the fusion ----------------------------------------------------------------------------


def test_the_rrf_formula_with_the_default_constant() -> None:
    vector = _vector(("a", 0.1), ("b", 0.2), ("c", 0.3))
    text = _text(("c", 5.0), ("d", 4.0), ("a", 3.0))
    hits = rrf_fuse(vector, text, k=10)
    assert _scores(hits) == pytest.approx(
        {"a": 1 / 61 + 1 / 63, "c": 1 / 63 + 1 / 61, "b": 1 / 62, "d": 1 / 62}
    )
    # a and c tie on score: the nearer first; b and d tie: b (0.2) is nearer than d (9.0).
    assert [h.id for h in hits] == ["a", "c", "b", "d"]


def test_documents_in_one_ranking_only() -> None:
    hits = rrf_fuse(_vector(("v", 0.5)), _text(("t", 2.0), distance=0.7), k=5, rrf_k=1)
    assert _scores(hits) == {"v": 1 / 2, "t": 1 / 2}
    assert [(h.id, h.distance) for h in hits] == [("v", 0.5), ("t", 0.7)]
    assert rrf_fuse(_vector(("v", 0.5)), [], k=5)[0].score == pytest.approx(1 / 61)
    assert rrf_fuse([], _text(("t", 2.0)), k=5)[0].score == pytest.approx(1 / 61)
    assert rrf_fuse([], [], k=5) == []


def test_a_document_in_both_rankings_is_the_vector_rankings_hit() -> None:
    # The vector ranking's distance is the server's; the text hit's is computed.
    vector = [Hit("a", "x", (), 0.25, {"m": 1}, similarity=0.875)]
    text = [Hit("a", "x", (), 0.2500001, {"m": 1}, similarity=None, score=3.0)]
    (hit,) = rrf_fuse(vector, text, k=1)
    assert (hit.distance, hit.similarity) == (0.25, 0.875)
    assert hit.score == pytest.approx(2 / 61)


def test_a_rank_is_a_position_also_among_equal_scores() -> None:
    # b and c are equally near, c and d hold the words equally: the order the
    # server lists them in decides (RediSearch's is fixed per document).
    vector = _vector(("a", 0.1), ("b", 0.2), ("c", 0.2))
    text = _text(("c", 3.0), ("d", 3.0))
    hits = rrf_fuse(vector, text, k=10)
    assert _scores(hits) == pytest.approx(
        {"a": 1 / 61, "b": 1 / 62, "c": 1 / 63 + 1 / 61, "d": 1 / 62}
    )
    assert [h.id for h in hits] == ["c", "a", "b", "d"]  # b and d tie: b is nearer


def test_explicit_text_ranks() -> None:
    vector = _vector(("a", 0.1))
    text = _text(("b", 3.0), ("a", 1.0))
    hits = rrf_fuse(vector, text, k=10, rrf_k=1, text_ranks=[1, 7])
    assert _scores(hits) == pytest.approx({"a": 1 / 2 + 1 / 8, "b": 1 / 2})


def test_equal_fused_scores_order_by_distance_then_id() -> None:
    hits = rrf_fuse(_vector(("z", 0.3)), _text(("y", 1.0), distance=0.3), k=3)
    assert [h.id for h in hits] == ["y", "z"]  # both 1/61 at distance 0.3: by id
    hits = rrf_fuse(_vector(("z", 0.3)), _text(("y", 1.0), distance=0.2), k=3)
    assert [h.id for h in hits] == ["y", "z"]  # the nearer first
    hits = rrf_fuse(_vector(("y", 0.3)), _text(("z", 1.0), distance=0.2), k=3)
    assert [h.id for h in hits] == ["z", "y"]


def test_weights_scale_each_ranking() -> None:
    vector = _vector(("a", 0.1), ("b", 0.2))
    text = _text(("b", 5.0), ("a", 4.0))
    assert [h.id for h in rrf_fuse(vector, text, k=2)] == ["a", "b"]  # tie: nearer
    assert [h.id for h in rrf_fuse(vector, text, k=2, weights=(1.0, 2.0))] == ["b", "a"]
    hits = rrf_fuse(vector, text, k=2, rrf_k=10, weights=(0.5, 2.0))
    assert _scores(hits) == pytest.approx({"a": 0.5 / 11 + 2 / 12, "b": 0.5 / 12 + 2 / 11})


def test_a_ranking_of_weight_zero_adds_neither_score_nor_documents() -> None:
    vector = _vector(("a", 0.1), ("b", 0.2))
    text = _text(("c", 5.0), ("b", 4.0))
    assert [(h.id, h.score) for h in rrf_fuse(vector, text, k=5, weights=(1.0, 0.0))] == [
        ("a", 1 / 61),
        ("b", 1 / 62),
    ]
    only_text = rrf_fuse(vector, text, k=5, weights=(0.0, 1.0))
    assert [(h.id, h.score) for h in only_text] == [("c", 1 / 61), ("b", 1 / 62)]
    assert only_text[1].distance == 0.2  # still the vector ranking's hit


def test_at_most_k_and_the_inputs_are_untouched() -> None:
    vector = _vector(*((f"v{i}", i / 10) for i in range(5)))
    text = _text(*((f"t{i}", 10.0 - i) for i in range(5)))
    before = [(h.id, h.score) for h in vector + text]
    assert len(rrf_fuse(vector, text, k=3)) == 3
    assert [(h.id, h.score) for h in vector + text] == before


def _oracle(
    vector: list[str],
    text: list[str],
    rrf_k: float,
    w: tuple[float, float],
    distances: dict[str, float],
) -> list[str]:
    """The textbook RRF over rankings without ties, written as plainly as possible;
    equal fused scores ordered by distance."""
    scores: dict[str, float] = {}
    for weight, ranking in ((w[0], vector), (w[1], text)):
        for position, id in enumerate(ranking):
            if weight > 0:
                scores[id] = scores.get(id, 0.0) + weight / (rrf_k + position + 1)
    return sorted(scores, key=lambda id: (-scores[id], distances[id]))


@pytest.mark.parametrize("seed", range(20))
def test_against_a_plain_oracle(seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"d{i:02}" for i in range(30)]
    vector_ids = rng.sample(ids, rng.randint(0, 15))
    text_ids = rng.sample(ids, rng.randint(0, 15))
    rrf_k = rng.choice([1, 10, 60, 0.5])
    weights = (rng.choice([0.0, 0.3, 1.0]), rng.choice([0.5, 1.0, 2.0]))
    distances = {id: rng.random() for id in ids}  # distinct: no ties anywhere
    vector = _vector(*sorted(((id, distances[id]) for id in vector_ids), key=lambda p: p[1]))
    text = _text(*((id, 100.0 - i) for i, id in enumerate(text_ids)))
    for h in text:
        h.distance = distances[h.id]
    nearest_first = [h.id for h in vector]
    expected = _oracle(nearest_first, text_ids, rrf_k, weights, distances)
    hits = rrf_fuse(vector, text, k=8, rrf_k=rrf_k, weights=weights)
    assert [h.id for h in hits] == expected[:8]


# --- distances of documents only the text ranking holds ------------------------------------


@pytest.mark.parametrize("distance", ["l2", "cosine", "ip"])
def test_embedding_distances_as_redisearch_computes_them(distance: Any) -> None:
    rng = np.random.default_rng(7)
    query = rng.normal(size=8).astype(np.float32)
    rows = rng.normal(size=(5, 8)).astype(np.float32)
    expected = {
        "l2": lambda e: float(((e - query) ** 2).sum()),
        "cosine": lambda e: (
            1 - float(e @ query) / float(np.linalg.norm(e) * np.linalg.norm(query))
        ),
        "ip": lambda e: 1 - float(e @ query),
    }[distance]
    got = embedding_distances(query, [*rows.tolist(), None], distance=distance)
    assert got[:5] == pytest.approx([expected(e) for e in rows], rel=1e-5, abs=1e-6)
    assert got[5] == math.inf
    assert embedding_distances(query, [], distance=distance) == []
    assert embedding_distances(query, [None], distance=distance) == [math.inf]


def test_embedding_distances_round_to_the_index_type() -> None:
    query = [1.0001, 0.0]
    row = [1.0, 0.0]
    assert embedding_distances(query, [row], distance="l2")[0] > 0
    # float16 has no 1.0001: the query is 1.0 as a FLOAT16 index sees it.
    assert embedding_distances(query, [row], distance="l2", datatype="float16") == [0.0]


# --- the text ranking's command and reply --------------------------------------------------


def test_text_query_string() -> None:
    assert text_query_string(["cat", "dog"]) == "@content:(cat | dog)"
    assert text_query_string(["cat"], " * ") == "@content:(cat)"
    assert text_query_string(["a_b"], "@genre:{x}") == "@content:(a\\_b) -(-(@genre:{x}))"


def test_text_search_command() -> None:
    assert text_search_command(
        "idx", ["cat"], limit=10, documents=True, filter_expression="@year:[2000 +inf]",
        timeout_ms=250,
    ) == (
        "FT.SEARCH", "idx", "@content:(cat) -(-(@year:[2000 +inf]))",
        "WITHSCORES", "SCORER", "BM25STD", "TIMEOUT", 250,
        "RETURN", 4, "$.content", "$.genre", "$.metadata", "$.embedding",
        "LIMIT", 0, 10, "DIALECT", 2,
    )  # fmt: skip
    assert text_search_command("idx", ["cat", "dog"], limit=40, documents=False) == (
        "FT.SEARCH", "idx", "@content:(cat | dog)", "WITHSCORES", "SCORER", "BM25STD",
        "TIMEOUT", 0, "NOCONTENT", "LIMIT", 0, 40, "DIALECT", 2,
    )  # fmt: skip


def test_text_ranking_joins_the_head_and_the_ids() -> None:
    head = _text(("t1", 9.0), ("t2", 8.0))
    vector = _vector(("v1", 0.1), ("t4", 0.2), ("t2", 0.3))
    hits, ranks = text_ranking(head, ["t1", "t2", "t3", "t4", "t5"], vector)
    # t3 and t5, beyond the head and not in the vector ranking, could not be hits.
    assert [(h.id, h.distance) for h in hits] == [("t1", 9.0), ("t2", 9.0), ("t4", 0.2)]
    assert ranks == [1, 2, 4]
    assert text_ranking(head, ["t1", "t2"], []) == (head, [1, 2])
    # A write between the two searches: the head is the truth for its documents.
    hits, ranks = text_ranking(head, ["t4", "t2", "t1"], vector)
    assert ([h.id for h in hits], ranks) == (["t1", "t2", "t4"], [1, 2, 1])


def test_a_text_only_document_beyond_the_head_is_never_a_hit() -> None:
    # Why only the first k of the text ranking need their documents: a
    # document only there, at position p, has p - 1 better ones above it.
    rng = random.Random(3)
    for _ in range(200):
        ids = [f"d{i}" for i in range(30)]
        vector = _vector(*((id, rng.random()) for id in rng.sample(ids, 12)))
        vector.sort(key=lambda h: h.distance)
        text = _text(*((id, 0.0) for id in rng.sample(ids, 12)))
        k = rng.randint(1, 8)
        weights = (rng.choice([0.0, 0.1, 1.0]), rng.choice([0.5, 1.0, 5.0]))
        hits = rrf_fuse(vector, text, k=k, rrf_k=rng.choice([1, 60]), weights=weights)
        in_vector = {h.id for h in vector}
        position = {h.id: p for p, h in enumerate(text, start=1)}
        assert all(position[h.id] <= k for h in hits if h.id not in in_vector)


TEXT_REPLY: dict[str, Any] = {
    "attributes": [],
    "total_results": 7,
    "format": "STRING",
    "results": [
        {
            "id": "doc:b",
            "score": 2.5,
            "extra_attributes": {
                "$.content": "a cat",
                "$.genre": '["pets","fun, games"]',
                "$.metadata": '{"n":1}',
                "$.embedding": "[0.5,-1.0]",
            },
            "values": [],
        },
        {"id": "doc:doc:a", "score": 1.25, "extra_attributes": {}, "values": []},
    ],
    "warning": [],
}


def _encoded(value: Any) -> Any:
    if isinstance(value, dict):
        return {_encoded(k): _encoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encoded(v) for v in value]
    return value.encode() if isinstance(value, str) else value


def test_parse_text_reply() -> None:
    hits, embeddings = parse_text_reply(TEXT_REPLY, key_prefix="doc:")
    assert hits == [
        Hit("b", "a cat", ("pets", "fun, games"), math.inf, {"n": 1}, score=2.5),
        Hit("doc:a", "", (), math.inf, {}, score=1.25),
    ]
    assert embeddings == [[0.5, -1.0], None]
    assert parse_text_reply(_encoded(TEXT_REPLY), key_prefix="doc:") == (hits, embeddings)
    assert parse_text_reply({"results": []}, key_prefix="doc:") == ([], [])


def test_a_partial_text_reply_is_refused() -> None:
    with pytest.raises(IncompleteResultsError, match="Timeout"):
        parse_text_reply({**TEXT_REPLY, "warning": ["Timeout limit was reached"]}, key_prefix="")


# --- the search: validated once, explained, sent in one round trip -------------------------


class Tiny:
    """A two-dimensional model; the stores below never connect."""

    dims = 2

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def _store(**options: Any) -> DocumentStore:
    return DocumentStore("redis://localhost:1", embedder=Tiny(), **options)


def _explain(**options: Any) -> str:
    return _store().explain([1.0, 0.0], **{"k": 5, "text": "cats", "text_mode": "rrf", **options})


def test_explain_shows_every_command() -> None:
    vector_line, head_line, ids_line = _explain(genre="pets").split("\n")
    assert vector_line.startswith('FT.SEARCH docstore "(@genre:{pets})=>[KNN 40 @embedding')
    assert "<8 bytes>" in vector_line
    assert head_line == (
        'FT.SEARCH docstore "@content:(cats) -(-(@genre:{pets}))" WITHSCORES SCORER BM25STD '
        "TIMEOUT 0 RETURN 4 $.content $.genre $.metadata $.embedding LIMIT 0 5 DIALECT 2"
    )
    assert ids_line == (
        'FT.SEARCH docstore "@content:(cats) -(-(@genre:{pets}))" WITHSCORES SCORER BM25STD '
        "TIMEOUT 0 NOCONTENT LIMIT 0 40 DIALECT 2"
    )
    assert "KNN 7 " in _explain(fetch_k=7) and "NOCONTENT LIMIT 0 7 " in _explain(fetch_k=7)
    # A window of k (each ranking holds at least k): the head is the whole text ranking.
    vector_line, head_line = _explain(fetch_k=3).split("\n")
    assert "KNN 5 " in vector_line and "$.embedding LIMIT 0 5 " in head_line
    timed = _store(query_timeout=0.25).explain([1.0, 0.0], text="cats", text_mode="rrf")
    assert [line.count("TIMEOUT 250 ") for line in timed.split("\n")] == [1, 1, 1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"text": None}, "text_mode='rrf' needs text="),
        ({"text": "the of"}, "only stopwords"),
        ({"rrf_k": 0}, "rrf_k must be a number > 0"),
        ({"rrf_k": -1}, "rrf_k must be a number > 0"),
        ({"rrf_k": math.inf}, "rrf_k must be a number > 0"),
        ({"rrf_k": math.nan}, "rrf_k must be a number > 0"),
        ({"rrf_k": True}, "rrf_k must be a number > 0"),
        ({"rrf_k": "60"}, "rrf_k must be a number > 0"),
        ({"rrf_weights": (0, 0)}, "not both 0"),
        ({"rrf_weights": (-1, 1)}, "rrf_weights must be two numbers >= 0"),
        ({"rrf_weights": (1, math.nan)}, "rrf_weights"),
        ({"rrf_weights": (1,)}, "rrf_weights"),
        ({"rrf_weights": (1, 1, 1)}, "rrf_weights"),
        ({"rrf_weights": (True, 1)}, "rrf_weights"),
        ({"rrf_weights": "11"}, "rrf_weights"),
        ({"rrf_weights": 1.0}, "rrf_weights"),
        ({"alpha": 0.5}, "alpha weighs the linear hybrid score"),
        ({"offset": 5}, "offset is not supported"),
        ({"mmr_lambda": 0.5}, "text and mmr_lambda cannot be combined"),
        ({"max_distance": 1.0}, "max_distance and text cannot be combined"),
        ({"fetch_k": 0}, "fetch_k must be a positive integer"),
        ({"text_mode": "RRF"}, "text_mode must be 'boost', 'require' or 'rrf'"),
        ({"text_mode": "boost", "rrf_k": 60}, "apply to text_mode='rrf'"),
        ({"text_mode": "require", "rrf_weights": (1, 1)}, "apply to text_mode='rrf'"),
    ],
)
def test_bad_rrf_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        _explain(**options)


def test_good_rrf_options() -> None:
    for options in ({"rrf_k": 1}, {"rrf_k": 0.5}, {"rrf_weights": [0, 1]}, {"alpha": 0.7}):
        assert _explain(**options).count("FT.SEARCH") == 3


def test_a_cached_spec_never_lets_equal_bool_weights_through() -> None:
    store = _store()
    store.explain([1.0, 0.0], text="cats", text_mode="rrf", rrf_weights=(1, 1))
    with pytest.raises(InvalidQueryError, match="rrf_weights"):
        store.explain([1.0, 0.0], text="cats", text_mode="rrf", rrf_weights=(True, 1))


def _knn_reply(*pairs: tuple[str, float]) -> dict[str, Any]:
    return {
        "total_results": len(pairs),
        "results": [
            {
                "id": f"docstore:{id}",
                "extra_attributes": {
                    "vector_distance": str(d),
                    "$.content": id,
                    "$.genre": '["g"]',
                    "$.metadata": "{}",
                },
                "values": [],
            }
            for id, d in pairs
        ],
        "warning": [],
    }


def _text_reply(*rows: tuple[str, float, list[float]]) -> dict[str, Any]:
    return {
        "total_results": len(rows),
        "results": [
            {
                "id": f"docstore:{id}",
                "score": score,
                "extra_attributes": {
                    "$.content": id,
                    "$.genre": '["g"]',
                    "$.metadata": "{}",
                    "$.embedding": str(embedding),
                },
                "values": [],
            }
            for id, score, embedding in rows
        ],
        "warning": [],
    }


def test_the_flow_sends_every_ranking_in_one_round_trip() -> None:
    store = _store(distance="cosine")
    store._state.ready = True  # no index to open: the replies below stand in for Redis
    spec = search.spec(
        store._state, genre=None, genres_all=None, exclude_genres=None, where=None,
        k=2, offset=0, max_distance=None, text="cats", text_mode="rrf", alpha=0.7,
        mmr_lambda=None, fetch_k=5, ef_runtime=None, rrf_k=None, rrf_weights=None,
    )  # fmt: skip
    flow = search.search(store._state, [[1.0, 0.0], [0.0, 1.0]], spec)
    effect = next(flow)
    assert isinstance(effect, Commands) and effect.protocol == 3
    commands = [" ".join(map(str, c[2:])) for c in effect.commands]
    assert len(commands) == 4  # two vector rankings, one shared text ranking in two parts
    assert "KNN 5 " in commands[0] and "KNN 5 " in commands[1]
    assert commands[2].startswith("@content:(cats) ") and "$.embedding LIMIT 0 2 " in commands[2]
    assert commands[3].startswith("@content:(cats) ") and "NOCONTENT LIMIT 0 5 " in commands[3]
    replies = [
        _knn_reply(("a", 0.0), ("b", 0.5), ("e", 0.7), ("f", 0.8), ("h", 0.9)),
        _knn_reply(("h", 0.1), ("a", 0.2), ("f", 0.3), ("g", 0.4), ("b", 0.5)),
        _text_reply(("c", 4.0, [0.1, 0.995]), ("a", 2.0, [1.0, 0.0])),
        _text_reply(("c", 4.0, []), ("a", 2.0, []), ("d", 1.5, []), ("e", 1.0, [])),
    ]
    with pytest.raises(StopIteration) as done:
        flow.send(replies)
    first, second = done.value.value
    # e: 3rd nearest and 4th in the text ranking (beyond its head); d, only in the
    # text ranking and beyond its head, cannot be a hit.
    assert [(h.id, h.score) for h in first] == [("a", 1 / 61 + 1 / 62), ("e", 1 / 63 + 1 / 64)]
    assert [(h.id, h.distance) for h in first] == [("a", 0.0), ("e", 0.7)]
    # c is only in the text ranking: its distance is computed (1 - cos), and
    # puts it before h, which it ties with.
    assert [(h.id, h.score) for h in second] == [("a", 2 / 62), ("c", 1 / 61)]
    cosine = 0.995 / math.hypot(0.1, 0.995)
    assert second[1].distance == pytest.approx(1 - cosine, abs=1e-6)
    assert second[1].similarity == pytest.approx(1 - (1 - cosine) / 2, abs=1e-6)


def test_both_stores_take_the_rrf_options() -> None:
    import inspect

    for method in ("search", "search_many", "explain"):
        for store in (DocumentStore, AsyncDocumentStore):
            parameters = inspect.signature(getattr(store, method)).parameters
            assert parameters["rrf_k"].default is None
            assert parameters["rrf_weights"].default is None
            assert parameters["rrf_k"].kind is inspect.Parameter.KEYWORD_ONLY


# --- the CLI -------------------------------------------------------------------------------


def test_cli_rrf_options_parse() -> None:
    from redis_docstore._cli.commands import build_parser

    args = build_parser().parse_args(["search", "q"])
    assert (args.rrf, args.rrf_k, args.rrf_weights) == (False, None, None)
    argv = ["search", "q", "--text", "w", "--rrf", "--rrf-k", "10", "--rrf-weights", "1", "0.5"]
    args = build_parser().parse_args(argv)
    assert (args.rrf, args.rrf_k, args.rrf_weights) == (True, 10.0, [1.0, 0.5])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rrf"], "--rrf needs --text WORDS"),
        (["--text", "w", "--rrf", "--require-text"], "pick one"),
        (["--text", "w", "--rrf-k", "10"], "--rrf-k and --rrf-weights apply to --rrf"),
        (["--text", "w", "--rrf-weights", "1", "1"], "apply to --rrf"),
    ],
)
def test_cli_rrf_input_errors_exit_2_before_any_connection(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from redis_docstore._cli.commands import main

    code = main(["--url", "redis://127.0.0.1:1", "search", "q", *argv])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.startswith("docstore: error: ") and message in captured.err
