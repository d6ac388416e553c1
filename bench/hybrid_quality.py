"""Hybrid search quality: vector-only, the linear score and RRF on labelled queries.

    python -m bench.hybrid_quality [--url redis://...] [--out bench/results/hybrid-quality]

Runs the queries of ``fixtures/library_queries.jsonl`` (each: a request in words,
the exact words a caller would add as ``text=``, and the ids of the relevant
documents of ``fixtures/library.jsonl``, judged by reading them) against the 300
library documents with the default model, and reports recall@5, recall@10, MRR
and nDCG@10 (binary relevance, over the first 10 hits) for:

* vector only (``search(query)``);
* the linear hybrid score (``text_mode="boost"``) at several ``alpha`` values,
  the default 0.7 among them, and ``text_mode="require"``;
* reciprocal-rank fusion (``text_mode="rrf"``) at its defaults and two variants.

Each hybrid method runs twice: with the labelled keywords as ``text=`` and with
the request itself as ``text=`` (what a caller without keywords would pass).
Every search asks for 10 hits with the default ``fetch_k`` (40). Small on
purpose (300 documents, 30 queries, under a minute): it shows how the methods
differ on queries that mix meaning and exact words, not a leaderboard.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis_docstore import Document, DocumentStore

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "fixtures" / "library.jsonl"
QUERIES = ROOT / "fixtures" / "library_queries.jsonl"
K = 10


@dataclass(frozen=True)
class Query:
    """A labelled query."""

    id: str
    query: str
    text: str
    relevant: frozenset[str]


def load_queries(path: Path = QUERIES) -> list[Query]:
    """The labelled queries of a JSON-lines file."""
    queries = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            queries.append(Query(row["id"], row["query"], row["text"], frozenset(row["relevant"])))
    return queries


def recall_at(ranked: Sequence[str], relevant: frozenset[str], k: int) -> float:
    """The share of the relevant documents among the first ``k`` hits."""
    return len(set(ranked[:k]) & relevant) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevant: frozenset[str], k: int = K) -> float:
    """``1 / position`` of the first relevant hit among the first ``k``; 0 if none."""
    for position, id in enumerate(ranked[:k], start=1):
        if id in relevant:
            return 1.0 / position
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: frozenset[str], k: int = K) -> float:
    """nDCG@k with binary relevance: DCG of the hits over the DCG of a perfect list."""
    dcg = sum(
        1.0 / math.log2(position + 1)
        for position, id in enumerate(ranked[:k], start=1)
        if id in relevant
    )
    ideal = sum(1.0 / math.log2(position + 1) for position in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def scores(runs: Sequence[tuple[Sequence[str], frozenset[str]]]) -> dict[str, float]:
    """Mean recall@5, recall@10, MRR and nDCG@10 over (ranked ids, relevant ids) pairs."""
    n = len(runs)
    return {
        "recall@5": sum(recall_at(r, rel, 5) for r, rel in runs) / n,
        "recall@10": sum(recall_at(r, rel, 10) for r, rel in runs) / n,
        "MRR": sum(reciprocal_rank(r, rel) for r, rel in runs) / n,
        "nDCG@10": sum(ndcg_at(r, rel) for r, rel in runs) / n,
    }


# A method: (name, the text= source ("" for none, "keywords", "query"), search options).
Method = tuple[str, str, dict[str, Any]]


def methods() -> list[Method]:
    """Every method compared, vector-only first."""
    hybrid: list[tuple[str, dict[str, Any]]] = [
        *((f"linear, alpha={a}", {"alpha": a}) for a in (0.3, 0.5, 0.7, 0.9)),
        ("linear require, alpha=0.7", {"text_mode": "require"}),
        ("RRF (rrf_k=60, weights 1:1)", {"text_mode": "rrf"}),
        ("RRF (rrf_k=20)", {"text_mode": "rrf", "rrf_k": 20}),
        ("RRF (weights 1:0.5)", {"text_mode": "rrf", "rrf_weights": (1.0, 0.5)}),
    ]
    return [
        ("vector only", "", {}),
        *((name, source, options) for source in ("keywords", "query") for name, options in hybrid),
    ]


def run(store: DocumentStore, queries: Sequence[Query]) -> list[dict[str, Any]]:
    """Every method's scores (and its mean search time) over ``queries``."""
    rows = []
    for name, source, options in methods():
        text: Callable[[Query], str | None] = {
            "": lambda q: None,
            "keywords": lambda q: q.text,
            "query": lambda q: q.query,
        }[source]
        started = time.perf_counter()
        ranked = [
            [h.id for h in store.search(q.query, k=K, text=text(q), **options)] for q in queries
        ]
        elapsed = (time.perf_counter() - started) / len(queries)
        row = {"method": name, "text": source or "-", "ms_per_query": 1000 * elapsed}
        row.update(scores([(r, q.relevant) for r, q in zip(ranked, queries, strict=True)]))
        rows.append(row)
    return rows


def markdown(rows: Sequence[dict[str, Any]], *, queries: int, documents: int) -> str:
    """The rows as a Markdown table."""
    lines = [
        f"{queries} labelled queries over {documents} documents, k={K}, fetch_k=40, "
        "all-MiniLM-L6-v2, L2/HNSW.",
        "",
        "| method | text= | recall@5 | recall@10 | MRR | nDCG@10 |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['text']} | {row['recall@5']:.3f} | "
            f"{row['recall@10']:.3f} | {row['MRR']:.3f} | {row['nDCG@10']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print (and with ``--out``, write) the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.hybrid_quality")
    parser.add_argument("--url", help="a Redis Stack server (default: an embedded one)")
    parser.add_argument("--out", type=Path, help="write OUT.md and OUT.json")
    args = parser.parse_args(argv)
    with LIBRARY.open(encoding="utf-8") as lines:
        documents = [Document(**json.loads(line)) for line in lines]
    queries = load_queries()
    options: dict[str, Any] = {"index": "hybrid-quality", "overwrite": True}
    store = (
        DocumentStore(args.url, **options) if args.url else DocumentStore.embedded(None, **options)
    )
    with store:
        store.add(documents)
        rows = run(store, queries)
        if args.url:
            store.drop(delete_documents=True)
    table = markdown(rows, queries=len(queries), documents=len(documents))
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(table, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
