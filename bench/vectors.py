"""Vectors as Python lists, what embedding APIs return: checking them, and bulk adds.

Part of ``make bench-load`` (``bench.load`` part F):

- ``validate``: the time to check one 384-float list (``validate_vector``), against a
  float32 numpy row (the model's own output), median of many calls.
- ``bulk_add``: on one server already holding ``base`` documents, ``store.add`` of
  1,000 documents whose embeddings are Python lists against raw redis-py writing the same
  1,000 documents as one pipeline of ``JSON.SET`` (orjson, the embedding as the list it
  is), the calls alternating (who goes first swapping), each timed until its replies are
  back (RediSearch indexes JSON documents as they are written). Every call writes new
  documents, so both insert into the same growing HNSW graph.
"""

from __future__ import annotations

import statistics
import time
import timeit
from typing import Any

import numpy as np
import orjson
import redis

from bench.corpus import Corpus, make_corpus
from bench.systems import INDEX, PrecomputedEmbedder
from redis_docstore import Document, DocumentStore, EmbeddedServer
from redis_docstore._embeddings import validate_vector

__all__ = ["run_vectors"]

DIMS = 384
BULK = 1_000
PAIRS = 10
BASE = 20_000


def _validate(corpus: Corpus) -> dict[str, Any]:
    """Microseconds per ``validate_vector`` of a list, and of a float32 row."""
    rows = [corpus.vectors[i].tolist() for i in range(64)]
    arrays = [corpus.vectors[i] for i in range(64)]

    def per_call(vectors: list[Any]) -> float:
        def run() -> None:
            for v in vectors:
                validate_vector(v, dims=DIMS, distance="l2")

        best = min(timeit.repeat(run, number=100, repeat=25))
        return best / (200 * len(vectors)) * 1e6

    return {"list_us": per_call(rows), "float32_us": per_call(arrays), "dims": DIMS}


def _raw_json(corpus: Corpus, i: int, embedding: list[float]) -> bytes:
    return orjson.dumps(
        {
            "content": corpus.texts[i],
            "genre": list(corpus.genres[i]),
            "embedding": embedding,
            "metadata": {"year": int(corpus.years[i])},
        }
    )


def _bulk(corpus: Corpus, *, base: int, pairs: int, bulk: int) -> dict[str, Any]:
    server = EmbeddedServer(None).start()
    try:
        store = DocumentStore(
            server.url, index=INDEX, metadata_fields={"year": "numeric"},
            embedder=PrecomputedEmbedder(DIMS),
        )  # fmt: skip
        client = redis.Redis.from_url(server.url, protocol=2)
        try:
            for start in range(0, base, 5_000):
                store.add(
                    [
                        Document(
                            content=corpus.texts[i], genre=list(corpus.genres[i]),
                            id=corpus.ids[i], embedding=corpus.vectors[i],
                            metadata={"year": int(corpus.years[i])},
                        )
                        for i in range(start, min(start + 5_000, base))
                    ]
                )  # fmt: skip
            store_s: list[float] = []
            raw_s: list[float] = []
            nxt = base
            for pair in range(pairs):
                for who in ("store", "raw") if pair % 2 == 0 else ("raw", "store"):
                    rows = range(nxt, nxt + bulk)
                    nxt += bulk
                    lists = [corpus.vectors[i].tolist() for i in rows]  # before the clock
                    if who == "store":
                        docs = [
                            Document(
                                content=corpus.texts[i], genre=list(corpus.genres[i]),
                                id=corpus.ids[i], embedding=v,
                                metadata={"year": int(corpus.years[i])},
                            )
                            for i, v in zip(rows, lists, strict=True)
                        ]  # fmt: skip
                        began = time.perf_counter()
                        store.add(docs)
                        store_s.append(time.perf_counter() - began)
                    else:
                        began = time.perf_counter()
                        pipe = client.pipeline(transaction=False)
                        for i, v in zip(rows, lists, strict=True):
                            pipe.execute_command(  # type: ignore[no-untyped-call]
                                "JSON.SET",
                                f"{INDEX}:{corpus.ids[i]}",
                                "$",
                                _raw_json(corpus, i, v),
                            )
                        pipe.execute()
                        raw_s.append(time.perf_counter() - began)
            count = store.count()
        finally:
            client.close()
            store.close()
    finally:
        server.stop()
    ratios = [r / s for r, s in zip(raw_s, store_s, strict=True)]
    return {
        "base": base,
        "bulk": bulk,
        "pairs": pairs,
        "store_s": store_s,
        "raw_s": raw_s,
        "store_docs_per_s": bulk / statistics.median(store_s),
        "raw_docs_per_s": bulk / statistics.median(raw_s),
        "ratio": statistics.median(raw_s) / statistics.median(store_s),
        "pair_ratio_geomean": float(np.exp(np.mean(np.log(ratios)))),
        "pair_ratio_min": min(ratios),
        "pair_ratio_max": max(ratios),
        "indexed_at_end": count,
    }


def run_vectors(
    *, seed: int, base: int = BASE, pairs: int = PAIRS, bulk: int = BULK
) -> dict[str, Any]:
    """Part F: list validation time and list-embedding bulk adds against raw."""
    corpus = make_corpus(base + 2 * pairs * bulk, seed=seed)
    return {
        "validate": _validate(corpus),
        "bulk_add": _bulk(corpus, base=base, pairs=pairs, bulk=bulk),
    }
