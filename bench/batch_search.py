"""Batch search vs one query at a time, on the fixture library (issue #3's figure).

Run: ``.venv/bin/python -m bench.batch_search`` (starts and stops its own server).
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from redis_docstore import DefaultEmbedder, Document, DocumentStore
from redis_docstore._server import EmbeddedServer

LIBRARY = Path(__file__).parents[1] / "fixtures" / "library.jsonl"
GENRES = ["fantasy", "mystery", "cooking"]


def main() -> None:
    """Print the time of 100 text and 100 vector queries, one by one and batched."""
    rows = [orjson.loads(line) for line in LIBRARY.read_bytes().splitlines() if line.strip()]
    embedder = DefaultEmbedder()
    with (
        EmbeddedServer(None) as server,
        DocumentStore(server.url, index="batch", embedder=embedder) as store,
    ):
        store.add([Document(**row) for row in rows])
        queries = [row["content"].split(".")[0] for row in rows[:100]]
        for _ in range(3):
            store._state.embedding_cache.clear()  # every text query must reach the model
            start = time.perf_counter()
            one = [store.search(q, k=10, genre=GENRES) for q in queries]
            single = time.perf_counter() - start
            store._state.embedding_cache.clear()
            start = time.perf_counter()
            many = store.search_many(queries, k=10, genre=GENRES)
            batched = time.perf_counter() - start
            assert [[h.id for h in a] for a in one] == [[h.id for h in b] for b in many]
            vectors = [store._state.embedding_cache[(embedder.name, q)] for q in queries]
            start = time.perf_counter()
            for vector in vectors:
                store.search(vector, k=10, genre=GENRES)
            v_single = time.perf_counter() - start
            start = time.perf_counter()
            store.search_many(vectors, k=10, genre=GENRES)
            v_batched = time.perf_counter() - start
            print(
                f"100 text queries: one by one {single:.2f} s, search_many {batched:.2f} s "
                f"({single / batched:.1f}x); 100 vector queries: one by one "
                f"{v_single * 1000:.1f} ms, search_many {v_batched * 1000:.1f} ms "
                f"({v_single / v_batched:.1f}x)"
            )


if __name__ == "__main__":
    main()
