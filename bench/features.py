"""What each call costs, in round trips and latency, on the benchmark index.

``python -m bench.features [--n 100000] [--rounds 200] [--json out.json]``

One embedded Redis Stack and one store (its defaults: HNSW, L2, ``ef_runtime``
400) holding ``n`` documents of the benchmark corpus (:mod:`bench.corpus`:
clustered 384-dim unit vectors, so no model runs; ~20 genres with Zipf-like
shares; generated sentences; ``{"year": int}``), ``year`` declared numeric.
Every call is made the way application code makes it: one client, one call
at a time, query vectors as numpy rows.

Each round runs every call once, in an order that rotates round by round (so
the machine's noise hits all alike), after 20 warm-up rounds. Reported per
call: the round trips it made (the pipelines its flow sent, counted at the
runner), p50 / p95 latency, and the p50 against the store's own plain
``search(v, k=10)`` and against raw redis-py sending the prebuilt KNN
``FT.SEARCH`` to the same index, both measured in the same rounds. Calls that
write (``expire``/``persist``, ``add`` with and without ``ttl``) touch only
documents the run added for itself; the bulk changes run as dry runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import redis

from bench.corpus import DEFAULT_SEED, make_corpus
from bench.systems import PrecomputedEmbedder, store_documents
from redis_docstore import Document, DocumentStore, EmbeddedServer, Num
from redis_docstore._effects import Commands

__all__ = ["main", "run"]

WARMUP: Final = 20
BATCH: Final = 5_000
Call = Callable[[int], object]


class _Counter:
    """Counts the round trips (``Commands`` effects) a store's runner performs."""

    def __init__(self, store: DocumentStore) -> None:
        self.trips = 0
        runner = store._runner  # the benchmark looks inside on purpose
        perform = runner._perform

        def counted(effect: Any) -> Any:
            if isinstance(effect, Commands):
                self.trips += 1
            return perform(effect)

        runner._perform = counted


def _calls(store: DocumentStore, raw: redis.Redis, vectors: np.ndarray, ids: list[str],
           words: list[str], genre: str, fresh: list[str]) -> dict[str, Call]:  # fmt: skip
    index = store.settings.name
    q = len(vectors)

    def raw_search(i: int) -> object:
        blob = vectors[i % q].astype(np.float32).tobytes()
        return raw.execute_command(
            "FT.SEARCH", index, "*=>[KNN 10 @embedding $vector EF_RUNTIME $EF AS vector_distance]",
            "RETURN", "4", "$.content", "$.genre", "$.metadata", "vector_distance",
            "SORTBY", "vector_distance", "ASC", "DIALECT", "2", "LIMIT", "0", "10",
            "PARAMS", "4", "vector", blob, "EF", "400",
        )  # fmt: skip

    def example(i: int) -> list[str]:
        return [ids[(7 * i) % len(ids)], ids[(7 * i + 3) % len(ids)]]

    recent = Num("year") >= 2000
    return {
        "raw FT.SEARCH (KNN 10)": raw_search,
        "search(v, k=10)": lambda i: store.search(vectors[i % q], k=10),
        "search(v, k=10, genre=G)": lambda i: store.search(vectors[i % q], k=10, genre=genre),
        'search(v, k=10, fields=["id", "distance"])': lambda i: store.search(
            vectors[i % q], k=10, fields=["id", "distance"]
        ),
        "search(v, k=10, text=W) linear": lambda i: store.search(
            vectors[i % q], k=10, text=words[i % len(words)]
        ),
        'search(v, k=10, text=W, text_mode="rrf")': lambda i: store.search(
            vectors[i % q], k=10, text=words[i % len(words)], text_mode="rrf"
        ),
        "search_groups(v, genre, limit=5, group_size=3)": lambda i: store.search_groups(
            vectors[i % q], limit=5, group_size=3
        ),
        "recommend(2 ids, 1 id) average_vector": lambda i: store.recommend(
            example(i), [ids[(7 * i + 5) % len(ids)]], k=10
        ),
        "recommend(2 ids, 1 id) best_score": lambda i: store.recommend(
            example(i), [ids[(7 * i + 5) % len(ids)]], k=10, strategy="best_score"
        ),
        "recommend(2 vectors) average_vector": lambda i: store.recommend(
            [vectors[i % q], vectors[(i + 1) % q]], k=10
        ),
        "count()": lambda i: store.count(),
        "facets(genre)": lambda i: store.facets("genre"),
        "facets(genre, where=year>=2000)": lambda i: store.facets("genre", where=recent),
        "stats(year)": lambda i: store.stats("year"),
        "stats(year, genre=G)": lambda i: store.stats("year", genre=genre),
        "update(where=year==Y, metadata=..., dry_run=True)": lambda i: store.update(
            where=Num("year") == 1950 + i % 70, metadata={"seen": True}, dry_run=True
        ),
        "delete(where=year==Y, dry_run=True)": lambda i: store.delete(
            where=Num("year") == 1950 + i % 70, dry_run=True
        ),
        "add(1 doc)": lambda i: store.add(_fresh(vectors, fresh, i, "p")),
        "add(1 doc, ttl=3600)": lambda i: store.add(_fresh(vectors, fresh, i, "t"), ttl=3600),
        "expire([id], 3600)": lambda i: store.expire(fresh[i % len(fresh)], 3600),
        "persist([id])": lambda i: store.persist(fresh[i % len(fresh)]),
    }


def _fresh(vectors: np.ndarray, fresh: list[str], i: int, tag: str) -> Document:
    doc_id = f"bench-{tag}-{i}"
    if tag == "p":
        fresh.append(doc_id)
    return Document(
        content=f"a benchmark document {i}", genre="bench", id=doc_id,
        embedding=vectors[i % len(vectors)], metadata={"year": 2000},
    )  # fmt: skip


def run(*, n: int, rounds: int, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Build the index, time every call; the results as a dict."""
    corpus = make_corpus(n, seed=seed)
    rng = np.random.default_rng([seed, 5])
    rows = rng.integers(0, n, rounds + WARMUP)
    noisy = corpus.vectors[rows] + rng.normal(0, 0.05, (len(rows), corpus.dims))
    vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    with EmbeddedServer(None) as server:
        raw = redis.Redis.from_url(server.url)
        store = DocumentStore(
            server.url, index="features", embedder=PrecomputedEmbedder(corpus.dims),
            metadata_fields={"year": "numeric"},
        )  # fmt: skip
        start = time.perf_counter()
        for lo in range(0, n, BATCH):
            store.add(store_documents(corpus, range(lo, min(n, lo + BATCH))))
        print(f"[features] {n:,} documents in {time.perf_counter() - start:.0f} s", flush=True)
        words = [text.split()[2] for text in corpus.texts[:: max(1, n // 500)]]
        genre = max(corpus.shares, key=corpus.shares.__getitem__)
        ids = [corpus.ids[i] for i in range(0, n, max(1, n // 1000))]
        fresh: list[str] = []
        calls = _calls(store, raw, vectors, ids, words, genre, fresh)
        counter = _Counter(store)
        times: dict[str, list[float]] = {name: [] for name in calls}
        trips: dict[str, list[int]] = {name: [] for name in calls}
        names = list(calls)
        for r in range(-WARMUP, rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                before = counter.trips
                t0 = time.perf_counter()
                calls[name](r + WARMUP)
                elapsed = time.perf_counter() - t0
                if r >= 0:
                    times[name].append(elapsed * 1e3)
                    trips[name].append(counter.trips - before)
        store.close()
        raw.close()
    base = statistics.median(times["search(v, k=10)"])
    raw_p50 = statistics.median(times["raw FT.SEARCH (KNN 10)"])
    rows = []
    for name in names:
        t = sorted(times[name])
        p50 = statistics.median(t)
        rows.append({
            "call": name,
            "round_trips": (min(trips[name]), statistics.mean(trips[name]), max(trips[name])),
            "p50_ms": p50, "p95_ms": t[int(0.95 * (len(t) - 1))],
            "vs_search": p50 / base, "vs_raw": p50 / raw_p50,
        })  # fmt: skip
    return {"n": n, "rounds": rounds, "seed": seed, "rows": rows}


def table(result: dict[str, Any]) -> str:
    """The results as a markdown table."""
    out = [
        f"Calls on a {result['n']:,}-document index, {result['rounds']} rounds (one client):",
        "",
        "| call | round trips (min / mean / max) | p50 ms | p95 ms | p50 vs search | p50 vs raw |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        lo, mean, hi = row["round_trips"]
        out.append(
            f"| `{row['call']}` | {lo} / {mean:.2f} / {hi} | {row['p50_ms']:.3f} | "
            f"{row['p95_ms']:.3f} | {row['vs_search']:.2f}x | {row['vs_raw']:.2f}x |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.features", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    result = run(n=args.n, rounds=args.rounds, seed=args.seed)
    text = table(result)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
