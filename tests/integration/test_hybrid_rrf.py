"""Reciprocal-rank fusion against the real server, sync and async.

The fused hits must equal an RRF computed here, in plain Python, from the two
rankings fetched separately: the vector ranking by a plain ``search``, the
text ranking by a hand-written ``FT.SEARCH ... SCORER BM25STD``, and every
document's distance by a search over the whole library.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_docstore import AsyncDocumentStore, DefaultEmbedder, Document, DocumentStore, Hit, Num
from redis_docstore.testing import StoreNames, cleanup_store, new_store_names

LIBRARY = Path(__file__).parents[2] / "fixtures" / "library.jsonl"
FIELDS = {"author": "tag", "year": "numeric"}

# (query, text, search options, the filter as RediSearch syntax for the hand-written text search)
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("a long journey", "dragon", {}, ""),
    ("music for a rainy night", "guitar blues", {"k": 5}, ""),
    (
        "a story about a crime",
        "confession forensic",
        {"genre": "true crime"},
        "@genre:{true\\ crime}",
    ),
    ("the sea", "ocean squid", {"where": Num("year") >= 1990, "rrf_k": 5}, "@year:[1990 +inf]"),
    ("love and loss", "witch potions knight", {"fetch_k": 15, "rrf_weights": (1.0, 2.5)}, ""),
    ("space travel", "robot", {"k": 3, "fetch_k": 50, "rrf_weights": (0.0, 1.0)}, ""),
]


@pytest.fixture(scope="module")
def library(
    redis_stack_url: str, embedder: DefaultEmbedder
) -> Iterator[tuple[DocumentStore, StoreNames]]:
    """The 300 fixture documents in a store of their own, for the whole module."""
    names = new_store_names()
    store = DocumentStore(
        redis_stack_url, index=names.index, prefix=names.prefix, embedder=embedder,
        metadata_fields=FIELDS,  # type: ignore[arg-type]
    )  # fmt: skip
    client = redis.Redis.from_url(redis_stack_url)
    try:
        with LIBRARY.open() as lines:
            store.add([Document(**json.loads(line)) for line in lines])
        yield store, names
    finally:
        store.close()
        cleanup_store(client, names)
        client.close()


def _text_ranking(
    client: redis.Redis, names: StoreNames, words: str, filter_syntax: str, limit: int
) -> list[tuple[str, float]]:
    """(id, BM25STD score), best first, written out by hand."""
    query = f"@content:({' | '.join(words.split())})"
    if filter_syntax:
        query += f" -(-({filter_syntax}))"
    reply = client.execute_command(  # type: ignore[no-untyped-call]
        "FT.SEARCH", names.index, query, "WITHSCORES", "SCORER", "BM25STD", "NOCONTENT",
        "LIMIT", "0", str(limit), "DIALECT", "2",
    )  # fmt: skip
    prefix = f"{names.prefix}:"
    assert not reply[b"warning"]
    return [
        (result[b"id"].decode().removeprefix(prefix), float(result[b"score"]))
        for result in reply[b"results"]
    ]


def _expected(
    vector: list[tuple[str, float]],
    text: list[tuple[str, float]],
    distances: dict[str, float],
    *,
    k: int,
    rrf_k: float,
    weights: tuple[float, float],
) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for weight, ranking in zip(weights, (vector, text), strict=True):
        for rank, (id, _) in enumerate(ranking, start=1):
            if weight:
                scores[id] = scores.get(id, 0.0) + weight / (rrf_k + rank)
    order = sorted(scores, key=lambda id: (-scores[id], distances[id], id))
    return [(id, scores[id]) for id in order[:k]]


def _oracle(
    store: DocumentStore, names: StoreNames, client: redis.Redis, case: tuple[Any, ...]
) -> list[tuple[str, float]]:
    query, words, options, filter_syntax = case
    options = dict(options)
    k = options.pop("k", 10)
    rrf_k = options.pop("rrf_k", 60)
    weights = options.pop("rrf_weights", (1.0, 1.0))
    window = max(k, options.pop("fetch_k", max(4 * k, 40)))
    vector = [(h.id, h.distance) for h in store.search(query, k=window, **options)]
    text = _text_ranking(client, names, words, filter_syntax, window)
    return _expected(vector, text, _all_distances(store, query), k=k, rrf_k=rrf_k, weights=weights)


def _all_distances(store: DocumentStore, query: str) -> dict[str, float]:
    """The server's distance from ``query`` to every document."""
    return {h.id: h.distance for h in store.search(query, k=300, ef_runtime=1000)}


def _rrf(case: tuple[Any, ...]) -> dict[str, Any]:
    _, words, options, _ = case
    return {"text": words, "text_mode": "rrf", **options}


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_rrf_equals_the_fusion_of_separately_fetched_rankings(
    library: tuple[DocumentStore, StoreNames], redis_client: redis.Redis, case: tuple[Any, ...]
) -> None:
    store, names = library
    expected = _oracle(store, names, redis_client, case)
    hits = store.search(case[0], **_rrf(case))
    assert [h.id for h in hits] == [id for id, _ in expected]
    assert [h.score for h in hits] == pytest.approx([score for _, score in expected])
    # Every hit's distance is the server's, also for documents only the text ranking held.
    distances = _all_distances(store, case[0])
    assert [h.distance for h in hits] == pytest.approx(
        [distances[h.id] for h in hits], rel=1e-5, abs=1e-5
    )


def test_the_fusion_uses_both_rankings(library: tuple[DocumentStore, StoreNames]) -> None:
    store, _ = library
    # "dragon" is in few documents, none of them among the nearest to "a long journey":
    # RRF brings them in, the vector ranking alone does not.
    nearest = {h.id for h in store.search("a long journey", k=40)}
    hits = store.search("a long journey", k=10, text="dragon", text_mode="rrf")
    from_text = [h for h in hits if h.id not in nearest]
    assert from_text and all("dragon" in h.content.lower() for h in from_text)
    assert any(h.id in nearest for h in hits)


def test_the_filter_holds_for_both_rankings(library: tuple[DocumentStore, StoreNames]) -> None:
    store, _ = library
    hits = store.search(
        "a love story", k=20, text="dragon knight", text_mode="rrf",
        genre="fantasy", where=Num("year") >= 1990,
    )  # fmt: skip
    assert hits
    assert all("fantasy" in h.genres and h.metadata["year"] >= 1990 for h in hits)
    assert len(hits) == len({h.id for h in hits})


def test_one_rrf_search_sends_three_searches_in_one_round_trip(
    library: tuple[DocumentStore, StoreNames], redis_client: redis.Redis
) -> None:
    store, _ = library
    store.search("warm up", k=1)  # the index is open

    def searches() -> int:
        stats: Any = redis_client.info("commandstats")
        return int(stats.get("cmdstat_FT.SEARCH", {}).get("calls", 0))

    before = searches()
    store.search("a long journey", text="dragon", text_mode="rrf")
    assert searches() - before == 3  # KNN, the text ranking's head, its ids
    store.search_many(["a", "b", "c"], text="dragon", text_mode="rrf")
    assert searches() - before == 3 + 5  # three KNN rankings and one shared text ranking
    store.search("a long journey", k=5, fetch_k=5, text="dragon", text_mode="rrf")
    assert searches() - before == 3 + 5 + 2  # a window of k: the head is the whole ranking


def _summary(hits: list[Hit]) -> list[tuple[str, float, float | None]]:
    return [(h.id, h.distance, h.score) for h in hits]


def test_async_equals_sync_and_search_many_equals_search(
    library: tuple[DocumentStore, StoreNames], redis_stack_url: str, embedder: DefaultEmbedder
) -> None:
    store, names = library
    queries = [case[0] for case in CASES]

    async def run() -> tuple[list[list[Hit]], list[list[Hit]], list[list[Hit]]]:
        async with AsyncDocumentStore(
            redis_stack_url, index=names.index, prefix=names.prefix, embedder=embedder,
            metadata_fields=FIELDS,  # type: ignore[arg-type]
        ) as astore:  # fmt: skip
            each = [await astore.search(case[0], **_rrf(case)) for case in CASES]
            many = await astore.search_many(queries, k=7, text="dragon blues", text_mode="rrf")
            one = [
                await astore.search(q, k=7, text="dragon blues", text_mode="rrf") for q in queries
            ]
            return each, many, one

    each, many, one = asyncio.run(run())
    assert [_summary(h) for h in each] == [
        _summary(store.search(case[0], **_rrf(case))) for case in CASES
    ]
    assert [_summary(h) for h in many] == [_summary(h) for h in one]
    sync_many = store.search_many(queries, k=7, text="dragon blues", text_mode="rrf")
    assert [_summary(h) for h in sync_many] == [_summary(h) for h in many]


def test_the_cli_runs_rrf_searches(
    library: tuple[DocumentStore, StoreNames],
    redis_stack_url: str,
    embedder: DefaultEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from redis_docstore._cli.commands import main
    from redis_docstore._ops import state as state_module

    monkeypatch.setattr(state_module, "default_embedder", lambda: embedder)
    store, names = library
    argv = [
        "--url", redis_stack_url, "--index", names.index, "--prefix", names.prefix,
        "--field", "author=tag", "--field", "year=numeric",
        "search", "a long journey", "-k", "5", "--text", "dragon", "--rrf",
        "--rrf-k", "10", "--rrf-weights", "1", "2", "--where", "year>=1960",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = store.search(
        "a long journey", k=5, text="dragon", text_mode="rrf", rrf_k=10, rrf_weights=(1, 2),
        where=Num("year") >= 1960,
    )  # fmt: skip
    assert [(h["id"], h["score"]) for h in printed] == [(h.id, h.score) for h in expected]
    assert main([*argv, "--explain"]) == 0
    command = json.loads(capsys.readouterr().out)["command"]
    knn, head, ids = command.split("\n")
    assert "KNN 40 @embedding" in knn  # fetch_k: max(4 * k, 40)
    query = '"@content:(dragon) -(-(@year:[1960 +inf]))" WITHSCORES SCORER BM25STD'
    assert query in head and query in ids
    assert head.endswith("$.embedding LIMIT 0 5 DIALECT 2")
    assert ids.endswith("NOCONTENT LIMIT 0 40 DIALECT 2")
