"""Lean replies: ``store.search(v, k=k)`` against the same with ``fields=["id", "distance"]``.

``python -m bench.lean [--n 100000] [--queries 1000] [--json out.json]``

One embedded Redis Stack server and one store (its default index: HNSW, L2,
its default ``ef_runtime``) holding ``n`` documents of the benchmark corpus
(:mod:`bench.corpus`: clustered unit vectors of 384 dims, so no model runs,
genres with Zipf-like shares, years) whose content is LONG text: 2-4 KB of words
from a fixed made-up vocabulary, deterministic per document (seeded by the
corpus seed and the document's row). Metadata: year, rating and a ~100-byte
source line. A full k=10 reply so carries ~30 KB of content, a k=100 one ~300 KB.

Queries: ``--queries`` unit vectors near documents (a document's vector plus
noise, normalized; drawn from their own seed). For each row -- k=10 and k=100,
unfiltered and with the corpus's largest genre -- every query runs once full
and once lean, back to back, who goes first alternating query by query, so the
machine's noise hits both alike (after 50 warm-up pairs). Each pair must return
the same ids at the same distances, or the run fails.

Reported per row: p50, p95 and mean latency (microseconds, one client,
sequential) of each, the p50 ratio lean / full, the p50 saving, and the median
of the per-query ratios. The time is what the caller sees: the server's work,
the transfer and the client's parsing of the reply.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt

from bench.corpus import DEFAULT_SEED, DIMS, Corpus, make_corpus
from bench.systems import PrecomputedEmbedder
from redis_docstore import Document, DocumentStore, EmbeddedServer

__all__ = ["long_content", "main", "run"]

LEAN: Final[tuple[Literal["id", "distance"], ...]] = ("id", "distance")
KS = (10, 100)
WARMUP = 50
BATCH = 5_000
MIN_CHARS, MAX_CHARS = 2_048, 4_096
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _vocabulary(seed: int, size: int = 5_000) -> list[str]:
    rng = np.random.default_rng([seed, 1])
    lengths = rng.integers(2, 11, size)
    return ["".join(rng.choice(_LETTERS, n)) for n in lengths]


def long_content(vocabulary: Sequence[str], seed: int, row: int) -> str:
    """Document ``row``'s text: 2-4 KB of words, the same on every machine."""
    rng = np.random.default_rng([seed, 2, row])
    target = int(rng.integers(MIN_CHARS, MAX_CHARS + 1))
    words = rng.integers(0, len(vocabulary), target // 4)  # words average ~7 chars + space
    text = " ".join(vocabulary[i] for i in words)
    cut = text.rfind(" ", 0, target)
    return text[:cut] if cut > 0 else text[:target]


def _documents(corpus: Corpus, vocabulary: Sequence[str], rows: range) -> list[Document]:
    return [
        Document(
            content=long_content(vocabulary, corpus.seed, i),
            genre=list(corpus.genres[i]),
            id=corpus.ids[i],
            embedding=corpus.vectors[i],
            metadata={
                "year": int(corpus.years[i]),
                "rating": round(1 + (i * 7919 % 400) / 100, 2),
                "source": f"archive box {i % 977}, shelf {i % 31}, scanned in batch {i // 1000}"
                " by the digitisation project",
            },
        )
        for i in rows
    ]


def _queries(corpus: Corpus, q: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng([corpus.seed, 3])
    rows = rng.integers(0, corpus.n, q)
    vectors = corpus.vectors[rows] + rng.normal(0, 0.05, (q, corpus.dims)).astype(np.float32)
    normalized: npt.NDArray[np.float32] = (
        vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ).astype(np.float32)
    return normalized


def _stats(us: Sequence[float]) -> dict[str, float]:
    p50, p95 = np.percentile(us, [50, 95])
    return {"p50_us": float(p50), "p95_us": float(p95), "mean_us": float(np.mean(us))}


def _row(
    store: DocumentStore, queries: npt.NDArray[np.float32], *, k: int, genre: str | None
) -> dict[str, Any]:
    clock = time.perf_counter_ns
    full_us: list[float] = []
    lean_us: list[float] = []
    vectors = list(queries)
    for i, vector in enumerate([*vectors[:WARMUP], *vectors]):
        query = cast("Sequence[float]", vector)  # the store takes numpy vectors
        timed = i >= min(WARMUP, len(vectors))
        order = (False, True) if i % 2 == 0 else (True, False)
        hits = {}
        for lean in order:
            start = clock()
            got = store.search(query, k=k, genre=genre, fields=LEAN if lean else None)
            elapsed = (clock() - start) / 1e3
            hits[lean] = got
            if timed:
                (lean_us if lean else full_us).append(elapsed)
        full, short = hits[False], hits[True]
        if [(h.id, h.distance) for h in full] != [(h.id, h.distance) for h in short]:
            raise AssertionError(f"query {i}: the lean search returned other hits")
        if short and (short[0].content or short[0].metadata or not full[0].content):
            raise AssertionError(f"query {i}: the lean search returned content or metadata")
    ratios = [s / f for s, f in zip(lean_us, full_us, strict=True)]
    full_stats, lean_stats = _stats(full_us), _stats(lean_us)
    return {
        "k": k,
        "genre": genre,
        "queries": len(full_us),
        "full": full_stats,
        "lean": lean_stats,
        "p50_ratio": lean_stats["p50_us"] / full_stats["p50_us"],
        "p50_saving_us": full_stats["p50_us"] - lean_stats["p50_us"],
        "median_pair_ratio": statistics.median(ratios),
    }


def run(*, n: int, queries: int, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Build the index and measure every row; the results as a JSON-able dict."""
    corpus = make_corpus(n, seed=seed)
    vocabulary = _vocabulary(seed)
    query_vectors = _queries(corpus, queries)
    largest = max(corpus.shares, key=corpus.shares.__getitem__)
    server = EmbeddedServer(None).start()
    try:
        with DocumentStore(server.url, index="lean", embedder=PrecomputedEmbedder(DIMS)) as store:
            store.create()
            began = time.perf_counter()
            chars = 0
            for start in range(0, n, BATCH):
                docs = _documents(corpus, vocabulary, range(start, min(start + BATCH, n)))
                chars += sum(len(d.content) for d in docs)
                store.add(docs)
                print(f"added {start + len(docs):,} / {n:,}", file=sys.stderr)
            if store.count() != n:
                raise AssertionError(f"{store.count()} documents indexed, not {n}")
            load_s = time.perf_counter() - began
            rows = []
            for k in KS:
                for genre in (None, largest):
                    print(f"k={k} genre={genre}", file=sys.stderr)
                    rows.append(_row(store, query_vectors, k=k, genre=genre))
    finally:
        server.stop()
    return {
        "n": n,
        "seed": seed,
        "mean_content_bytes": chars / n,
        "largest_genre": largest,
        "largest_genre_share": corpus.shares[largest],
        "load_s": load_s,
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    """The rows as a Markdown table."""
    lines = [
        f"N={result['n']:,} documents, mean content {result['mean_content_bytes']:,.0f} bytes; "
        f"{result['rows'][0]['queries']} queries per row, full and lean interleaved",
        "",
        "| k | filter | full p50 | lean p50 | full p95 | lean p95 | p50 lean/full "
        "| p50 saving | median pair ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        genre = "none" if row["genre"] is None else f"genre {row['genre']!r}"
        lines.append(
            f"| {row['k']} | {genre} | {row['full']['p50_us']:,.0f} us "
            f"| {row['lean']['p50_us']:,.0f} us | {row['full']['p95_us']:,.0f} us "
            f"| {row['lean']['p95_us']:,.0f} us | {row['p50_ratio']:.2f} "
            f"| {row['p50_saving_us']:,.0f} us | {row['median_pair_ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.lean``: build the index, measure, print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.lean", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", type=int, default=100_000, help="documents (default 100,000)")
    parser.add_argument(
        "--queries", type=int, default=1_000, help="queries per row (default 1,000)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    args = parser.parse_args(argv)
    result = run(n=args.n, queries=args.queries, seed=args.seed)
    print(table(result))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
