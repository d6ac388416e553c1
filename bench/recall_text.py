"""Recall on real text: HNSW settings against exact search, on ~38k short real texts.

    python -m bench.recall_text [--texts 38000] [--queries 400]

The clustered synthetic vectors of ``python -m bench`` give recall@10 of 1.000 at the
store's defaults; sentence embeddings of real text are harder for HNSW (a higher
intrinsic dimension, many near-duplicates). This builds a corpus of real short texts
that ship with Python and the installed packages (sentences and short paragraphs of the
Python reference, docstrings of the standard library and of every installed package,
package READMEs), embeds them with the default model, writes them once into one
embedded Redis Stack, and builds one index per HNSW setting (M, EF_CONSTRUCTION) over
the same keys. Queries are the first half (by words) of other texts of the same kind,
not in the corpus; the truth is the exact top-10 by squared L2 (numpy, float64 over the
stored float32 vectors). A miss that is an exact tie with the 10th neighbour (the same
distance) counts as found.

Writes ``bench/results/recall-text.json`` and ``recall-text.md``: per setting and
EF_RUNTIME, mean recall@10, the worst query, queries below 1.0 and below 0.9, p50
latency, and the index's memory per document.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import redis

from bench.realtext import prose
from redis_docstore import DefaultEmbedder, EmbeddedServer

ROOT = Path(__file__).resolve().parents[1]
K = 10
PREFIX = "rt"
SETTINGS = ((16, 200), (32, 200), (32, 400), (48, 400))  # (M, EF_CONSTRUCTION)
EFS = (100, 200, 400, 800)
SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _log(message: str) -> None:
    print(f"[recall-text {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _docstrings(root: Path, skip: set[str]) -> Iterator[str]:
    for path in sorted(root.rglob("*.py")):
        if skip & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(
                node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            ):
                yield from prose(ast.get_docstring(node) or "")


def texts() -> list[str]:
    """Unique short real texts: every sentence (6-40 words) of every prose paragraph."""
    from pydoc_data.topics import topics

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    skip = {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "ensurepip"}
    paragraphs = [p for t in sorted(topics) for p in prose(topics[t])]
    paragraphs += _docstrings(stdlib, skip)
    paragraphs += _docstrings(site, skip)
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        paragraphs += prose(meta.read_text(encoding="utf-8", errors="replace"))
    sentences = (s.strip() for p in paragraphs for s in SPLIT.split(p))
    return list(dict.fromkeys(s for s in sentences if 6 <= len(s.split()) <= 40))


def corpus_and_queries(n: int, q: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` corpus texts and ``q`` queries: the first half of ``q`` other texts."""
    pool = texts()
    if len(pool) < n + q:
        raise SystemExit(f"only {len(pool)} real texts found; need {n + q}")
    rng = random.Random(seed)
    rng.shuffle(pool)
    corpus, rest = pool[:n], pool[n : n + q]
    queries = [" ".join(t.split()[: max(3, len(t.split()) // 2)]) for t in rest]
    return corpus, queries


def exact(
    vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Squared L2 from ``query`` to every vector, in float64."""
    diff = vectors.astype(np.float64) - query.astype(np.float64)
    return np.einsum("ij,ij->i", diff, diff)


def recall(found: Sequence[int], distances: npt.NDArray[np.float64]) -> float:
    """Share of the exact top-k found; a document tied with the k-th counts as one of them."""
    order = np.argsort(distances, kind="stable")
    kth = distances[order[K - 1]]
    truth = set(order[:K].tolist())
    ties = set(np.flatnonzero(np.abs(distances - kth) <= 1e-6 * max(kth, 1e-12)).tolist())
    hits = sum(1 for i in found if i in truth or i in ties)
    return min(hits, K) / K


def _index(client: redis.Redis, name: str, m: int, efc: int, dims: int) -> None:
    client.execute_command(  # type: ignore[no-untyped-call]
        "FT.CREATE", name, "ON", "JSON", "PREFIX", "1", f"{PREFIX}:", "SCHEMA",
        "$.embedding", "AS", "embedding", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32",
        "DIM", str(dims), "DISTANCE_METRIC", "L2", "M", str(m), "EF_CONSTRUCTION", str(efc),
    )  # fmt: skip
    while True:
        info = _info(client, name)
        if int(info["indexing"]) == 0 and float(info["percent_indexed"]) >= 1.0:
            return
        time.sleep(0.2)


def _info(client: redis.Redis, name: str) -> dict[Any, Any]:
    reply = client.execute_command("FT.INFO", name)  # type: ignore[no-untyped-call]
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=True)
    return {_str(key): value for key, value in pairs}


def _memory_mb(client: redis.Redis, name: str) -> float:
    info = _info(client, name)
    return float(info["vector_index_sz_mb"])


def _search(client: redis.Redis, name: str, vector: bytes, ef: int) -> list[int]:
    reply = client.execute_command(  # type: ignore[no-untyped-call]
        "FT.SEARCH", name, f"*=>[KNN {K} @embedding $v EF_RUNTIME {ef}]", "NOCONTENT",
        "PARAMS", "2", "v", vector, "DIALECT", "2", "TIMEOUT", "0", "LIMIT", "0", str(K),
    )  # fmt: skip
    keys = reply[1:]
    return [int(_str(key).removeprefix(f"{PREFIX}:")) for key in keys]


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def run(n: int, q: int) -> dict[str, Any]:
    corpus, queries = corpus_and_queries(n, q)
    _log(f"{len(corpus):,} texts, {len(queries)} queries; embedding")
    cache = Path(tempfile.gettempdir()) / f"recall-text-{n}-{q}.npz"
    if cache.exists():  # a re-run (the texts are deterministic) skips the model
        saved = np.load(cache)
        vectors, query_vectors = saved["vectors"], saved["queries"]
    else:
        embedder = DefaultEmbedder()
        began = time.perf_counter()
        vectors = np.asarray(embedder.embed_many(corpus), dtype=np.float32)
        query_vectors = np.asarray(embedder.embed_many(queries), dtype=np.float32)
        _log(f"embedded in {time.perf_counter() - began:.0f} s")
        np.savez(cache, vectors=vectors, queries=query_vectors)
    truth = [exact(vectors, v) for v in query_vectors]
    results: dict[str, Any] = {"n": n, "queries": q, "k": K, "settings": {}}
    with EmbeddedServer() as server:
        client = redis.Redis.from_url(server.url, protocol=2)
        for start in range(0, n, 1_000):
            pipe = client.pipeline(transaction=False)
            for i in range(start, min(start + 1_000, n)):
                body = orjson.dumps(
                    {"content": corpus[i], "embedding": vectors[i]},
                    option=orjson.OPT_SERIALIZE_NUMPY,
                )
                pipe.execute_command("JSON.SET", f"{PREFIX}:{i}", "$", body)  # type: ignore[no-untyped-call]
            pipe.execute()
        for m, efc in SETTINGS:
            name = f"idx-m{m}-efc{efc}"
            began = time.perf_counter()
            _index(client, name, m, efc, vectors.shape[1])
            built = time.perf_counter() - began
            per_ef: dict[str, Any] = {}
            for ef in EFS:
                scores, latencies = [], []
                for qv, distances in zip(query_vectors, truth, strict=True):
                    t = time.perf_counter()
                    found = _search(client, name, qv.tobytes(), ef)
                    latencies.append(time.perf_counter() - t)
                    scores.append(recall(found, distances))
                per_ef[str(ef)] = {
                    "mean": float(np.mean(scores)),
                    "worst": float(min(scores)),
                    "below_1": sum(s < 1.0 for s in scores),
                    "below_0_9": sum(s < 0.9 for s in scores),
                    "p50_ms": statistics.median(latencies) * 1e3,
                }
                _log(f"M={m} EFC={efc} EF={ef}: {per_ef[str(ef)]}")
            results["settings"][f"{m}/{efc}"] = {
                "m": m,
                "ef_construction": efc,
                "build_s": built,
                "vector_index_bytes_per_doc": _memory_mb(client, name) * 1024 * 1024 / n,
                "efs": per_ef,
            }
            client.execute_command("FT.DROPINDEX", name)  # type: ignore[no-untyped-call]
        client.close()
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"## Recall@{K} on real text: {results['n']:,} short texts, {results['queries']} "
        "queries (the first half of other texts), all-MiniLM-L6-v2, L2",
        "",
        "| M / EF_CONSTRUCTION | index build s | vector index B/doc | EF_RUNTIME | mean recall "
        "| worst | queries < 1.0 | queries < 0.9 | p50 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, s in results["settings"].items():
        for ef, r in s["efs"].items():
            lines.append(
                f"| {label} | {s['build_s']:.1f} | {s['vector_index_bytes_per_doc']:,.0f} | {ef} "
                f"| {r['mean']:.4f} | {r['worst']:.1f} | {r['below_1']} | {r['below_0_9']} "
                f"| {r['p50_ms']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recall_text", description=__doc__)
    parser.add_argument("--texts", type=int, default=38_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    results = run(args.texts, args.queries)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "recall-text.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (args.out / "recall-text.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
