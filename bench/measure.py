"""Timing and accuracy: ingest, interleaved query rounds, statistics, recall.

Ingest cannot be interleaved, so each system's ingest runs while the other
systems' servers sit idle; queries run in rounds (each system ``block``
queries, then the next, the order rotating every round) so that noise from
other work on the machine hits every system alike.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from bench.corpus import FILTERS, Corpus, QuerySet
from bench.systems import CHUNK, RawRedis, StoreSystem, System
from redis_docstore import Document

__all__ = [
    "IngestResult",
    "QueryRounds",
    "calibrate_raw_batch",
    "ef_sweep",
    "interleaved_ingest",
    "latency_stats",
    "measure_ingest",
    "query_rounds",
    "recall_at_k",
    "rotated",
    "single_adds",
]

Searcher = Callable[
    [npt.NDArray[np.float32], Sequence[str | None]], tuple[list[int], list[list[str]]]
]


@dataclass
class IngestResult:
    """One system's ingest: wall time from the first write to a complete index."""

    docs: int
    seconds: float
    write_seconds: float
    memory: dict[str, Any]

    @property
    def docs_per_s(self) -> float:
        """Documents per second, index complete."""
        return self.docs / self.seconds

    def to_json(self) -> dict[str, Any]:
        """As a JSON-able mapping."""
        return {
            "docs": self.docs,
            "seconds": self.seconds,
            "write_seconds": self.write_seconds,
            "docs_per_s": self.docs_per_s,
            "memory": self.memory,
        }


def measure_ingest(system: System, corpus: Corpus) -> IngestResult:
    """Set the system up, then time its ingest until every document is indexed.

    Index creation and the memory baseline come before the clock starts.
    """
    system.setup(corpus.dims)
    gc.collect()
    system.memory_before()
    start = time.perf_counter()
    system.ingest(corpus)
    written = time.perf_counter()
    system.wait_indexed(corpus.n)
    end = time.perf_counter()
    gc.collect()
    return IngestResult(
        docs=corpus.n,
        seconds=end - start,
        write_seconds=written - start,
        memory=system.memory(corpus.n),
    )


def interleaved_ingest(
    systems: dict[str, System], corpus: Corpus, *, turn: int = CHUNK
) -> dict[str, dict[str, Any]]:
    """Ingest the corpus into every system at once, ``turn`` documents each in turn.

    A turn is one call of the client library, the size every ingest in the
    benchmark hands it (``CHUNK``): a store checks per ``add`` call that
    Redis indexed what it wrote (two ``FT.INFO``, a few ms at 100k), so
    smaller turns would change the work, not just its interleaving.

    Each system's clock runs only in its own turns (from its first write to
    its index complete), the order rotating every round: a burst of load
    elsewhere on the machine lands on all of them alike, as in the query
    rounds. Each system writes to its own, newly set up server.

    Returns:
        Per system: docs/s, and seconds per turn.
    """
    for system in systems.values():
        system.setup(corpus.dims)
    gc.collect()
    names = list(systems)
    turns: dict[str, list[float]] = {name: [] for name in names}
    for i, start in enumerate(range(0, corpus.n, turn)):
        rows = range(start, min(start + turn, corpus.n))
        for name in rotated(names, i):
            system = systems[name]
            begin = time.perf_counter()
            system.ingest_rows(corpus, rows)
            system.wait_indexed(rows.stop)
            turns[name].append(time.perf_counter() - begin)
    return {
        name: {"docs_per_s": corpus.n / sum(seconds), "turn_seconds": seconds}
        for name, seconds in turns.items()
    }


def calibrate_raw_batch(
    corpus: Corpus, sizes: Sequence[int] = (100, 500, 1000), sample: int = 5000
) -> dict[int, float]:
    """Ingest ``sample`` documents once per pipeline size on a scratch server.

    Each size gets its own index (so each builds the same-size HNSW graph).

    Returns:
        Documents per second (index complete) for each pipeline size.
    """
    raw = RawRedis()
    raw.start_server()
    rows = range(min(sample, corpus.n))
    rates: dict[int, float] = {}
    try:
        for size in sizes:
            index, prefix = f"cal{size}", f"cal{size}:"
            raw.create_index(index, prefix, corpus.dims)
            start = time.perf_counter()
            raw.write(corpus, rows, prefix, size)
            raw.wait_indexed(len(rows), index)
            rates[size] = len(rows) / (time.perf_counter() - start)
    finally:
        raw.close()
    return rates


def latency_stats(latencies_ns: Sequence[int]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds and sequential QPS (calls / total time)."""
    ns = np.asarray(latencies_ns, dtype=np.float64)
    p50, p95, p99 = np.percentile(ns, [50, 95, 99]) / 1e6
    return {
        "n": len(ns),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(ns.mean() / 1e6),
        "qps": float(len(ns) / (ns.sum() / 1e9)),
    }


def recall_at_k(
    results: Sequence[Sequence[str]], truth: npt.NDArray[np.int64], ids: Sequence[str]
) -> float:
    """Mean fraction of the exact top-k found (over queries with any match)."""
    scores = []
    for got, want in zip(results, truth, strict=True):
        expected = {ids[i] for i in want.tolist() if i >= 0}
        if expected:
            scores.append(len(expected.intersection(got)) / len(expected))
    return float(np.mean(scores)) if scores else float("nan")


@dataclass
class QueryRounds:
    """Latencies (ns) and returned ids, per system and per filter."""

    latencies: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    results: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)

    def summary(self, queries: QuerySet, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per system and filter: latency statistics and recall@k."""
        return {
            name: {
                f: {
                    **latency_stats(self.latencies[name][f]),
                    "recall": recall_at_k(self.results[name][f], queries.truth[f], ids),
                }
                for f in self.latencies[name]
            }
            for name in self.latencies
        }


def query_rounds(
    searchers: dict[str, Searcher],
    queries: QuerySet,
    *,
    block: int = 100,
    warmup: int = 20,
    filters: Sequence[str] = FILTERS,
    passes: int = 1,
    partners: dict[str, str] | None = None,
) -> QueryRounds:
    """Run every query under every filter on every searcher, interleaved.

    Args:
        searchers: Name to a function running a block of queries.
        queries: The query set.
        block: Queries per system per turn.
        warmup: Queries per system and filter run first and not recorded.
        filters: Which filters to run.
        passes: Times the whole set is run; every pass's latencies count
            (spread over a longer time, a burst of load elsewhere on the
            machine hits every system alike), the first pass's results give
            recall.
        partners: Searcher name to another that shares its server (raw's
            query on a store's index): in that turn the two alternate query by
            query, who goes first swapping each time, so their ratio compares
            them under the same conditions, one query apart.

    Returns:
        Latencies and results in query order.
    """
    rounds = QueryRounds(
        latencies={name: {f: [] for f in filters} for name in searchers},
        results={name: {f: [] for f in filters} for name in searchers},
    )
    partners = partners or {}
    led = set(partners.values())
    names = [name for name in searchers if name not in led]  # a partner runs in its lead's turn
    for f in filters:
        for name in searchers:
            searchers[name](queries.vectors[:warmup], queries.genres[f][:warmup])
    gc.collect()
    turn = 0
    for done in range(passes):
        for f in filters:
            genres = queries.genres[f]
            for start in range(0, queries.q, block):
                stop = min(start + block, queries.q)
                for name in rotated(names, turn):
                    for who, lo, hi in _steps(name, partners.get(name), start, stop):
                        lat, res = searchers[who](queries.vectors[lo:hi], genres[lo:hi])
                        rounds.latencies[who][f] += lat
                        if done == 0:
                            rounds.results[who][f] += res
                turn += 1
    return rounds


def rotated(names: Sequence[str], turn: int) -> list[str]:
    """``names`` starting from the ``turn``-th, the order reversed every other cycle.

    Each turn the next one goes first. A plain rotation also puts each one
    right after the same other one two times in three (raw, store, async:
    async mostly follows the store), so whatever a system leaves behind (a
    server still busy, cold caches) would land on one neighbour; reversing
    every other cycle of ``len(names)`` turns makes every ordered pair of
    neighbours equally common.
    """
    n = len(names)
    k = turn % n
    order = [*names[k:], *names[:k]]
    return order[::-1] if (turn // n) % 2 else order


def _steps(name: str, partner: str | None, start: int, stop: int) -> list[tuple[str, int, int]]:
    """(searcher, first, end) calls for one turn: one block, or a pair alternating."""
    if partner is None:
        return [(name, start, stop)]
    pairs = ((name, partner), (partner, name))  # who goes first swaps each query
    return [(who, i, i + 1) for i in range(start, stop) for who in pairs[i % 2]]


def ef_sweep(
    store: StoreSystem,
    queries: QuerySet,
    ids: Sequence[str],
    efs: Sequence[int] = (10, 50, 100, 200),
    *,
    block: int = 100,
) -> dict[str, dict[str, Any]]:
    """Recall@k and latency of the store at several ``ef_runtime`` values.

    The values are interleaved like systems in :func:`query_rounds`.

    Returns:
        ``{str(ef): {filter: stats with recall}}``.
    """
    searchers: dict[str, Searcher] = {
        str(ef): functools.partial(store.search_ef, ef=ef) for ef in efs
    }
    return query_rounds(searchers, queries, block=block).summary(queries, ids)


def single_adds(store: StoreSystem, extra: Corpus, *, pairs: int) -> dict[str, Any]:
    """One document per call, the store against raw ``JSON.SET``, on the same server.

    Each pair writes the same document twice under two new ids (so both
    insert into the HNSW graph): once as raw redis-py does it, ``orjson.dumps``
    of the document then one ``JSON.SET`` (both timed: an application has a
    document to write, not its JSON), once with ``store.add(Document(...))``;
    the vector as numpy, and in a second set of pairs as a Python list (which
    raw writes as the list's own JSON). Who goes first alternates. The index
    has the size being measured, so a per-call cost that grows with N shows here.

    Returns:
        Per kind (``numpy``, ``list``): latency statistics of raw and of the
        store, and the ratio of their p50s.
    """
    assert store.store is not None
    client, prefix, clock = store.redis, store.key_prefix, time.perf_counter_ns
    dumps, numpy = orjson.dumps, orjson.OPT_SERIALIZE_NUMPY
    out: dict[str, Any] = {}
    for kind in ("numpy", "list"):
        raw_ns: list[int] = []
        store_ns: list[int] = []
        for i in range(min(pairs, extra.n)):
            vector = extra.vectors[i] if kind == "numpy" else extra.vectors[i].tolist()
            doc = Document(
                content=extra.texts[i],
                genre=list(extra.genres[i]),
                id=f"one-{kind}-s{i}",
                embedding=vector,
                metadata={"year": int(extra.years[i])},
            )
            record = {
                "content": doc.content,
                "genre": doc.genre,
                "embedding": vector,
                "metadata": doc.metadata,
            }
            key = f"{prefix}one-{kind}-r{i}"
            for turn in (0, 1) if i % 2 else (1, 0):
                start = clock()
                if turn:
                    client.execute_command("JSON.SET", key, "$", dumps(record, option=numpy))  # type: ignore[no-untyped-call]
                    raw_ns.append(clock() - start)
                else:
                    store.store.add(doc)
                    store_ns.append(clock() - start)
        raw, mine = latency_stats(raw_ns), latency_stats(store_ns)
        out[kind] = {"raw": raw, "store": mine, "ratio_p50": mine["p50_ms"] / raw["p50_ms"]}
    return out
