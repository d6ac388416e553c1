"""One store shared by many threads or tasks, as a web service shares it.

Concurrent callers must get exactly what they would get one after the other,
their texts must share the model's passes, and closing the store must never
leave a caller hanging.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from redis_docstore import (
    AsyncDocumentStore,
    DefaultEmbedder,
    Document,
    DocumentStore,
    StoreClosedError,
)
from redis_docstore.testing import StoreNames, cleanup_store, new_store_names

THREADS = 16
TOPICS = [
    "a dog chasing a ball in the park",
    "the history of the roman empire",
    "baking sourdough bread at home",
    "jazz musicians in new orleans",
    "a detective solving a murder in a rainy city",
    "planting tomatoes in a small garden",
    "the physics of black holes",
    "learning to play the violin",
]


@pytest.fixture
def other_names(redis_stack_url: str) -> Iterator[StoreNames]:
    """A second index and prefix, for the same operations run in sequence."""
    names = new_store_names()
    yield names
    with redis.Redis.from_url(redis_stack_url) as client:
        cleanup_store(client, names)


def script(store: DocumentStore, t: int) -> list[Any]:
    """Thread ``t``'s operations on its own ids and genre; what each returned."""
    genre = f"g{t}"
    docs = [
        Document(content=f"{TOPICS[(t + i) % len(TOPICS)]} ({t}.{i})", genre=genre, id=f"t{t}-{i}")
        for i in range(4)
    ]
    out: list[Any] = []
    for doc in docs:  # one document per add, as requests arrive
        out.append(store.add(doc))
    out.append(store.update(f"t{t}-0", content=f"{TOPICS[t % len(TOPICS)]}, rewritten"))
    out.append(store.update(f"t{t}-1", genre=[genre, "shared"], metadata={"n": t}))
    out.append(store.delete(f"t{t}-2"))
    for query in (TOPICS[t % len(TOPICS)], TOPICS[(t + 3) % len(TOPICS)], f"thread {t}"):
        hits = store.search(query, k=3, genre=genre)
        out.append([(h.id, h.content, h.genres, h.metadata, Close(h.distance)) for h in hits])
    out.append(store.get(f"t{t}-3"))
    return out


class Close(float):
    """A distance: batched and one-by-one forward passes agree to ~1e-6, not bit for bit."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and abs(self - other) <= 1e-5

    __hash__ = float.__hash__


def comparable(value: Any) -> Any:
    """Documents without their embeddings (compared apart, to float tolerance)."""
    if isinstance(value, Document):
        return (value.id, value.content, value.genre, value.metadata)
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def test_sixteen_threads_on_one_store_give_the_results_of_a_sequence(
    redis_stack_url: str,
    store_names: StoreNames,
    other_names: StoreNames,
    embedder: DefaultEmbedder,
) -> None:
    with DocumentStore(
        redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=embedder
    ) as shared:
        start = threading.Barrier(THREADS)

        def run(t: int) -> list[Any]:
            start.wait()
            return script(shared, t)

        with ThreadPoolExecutor(THREADS) as pool:
            concurrent = list(pool.map(run, range(THREADS)))
        batching = (shared._runner._batcher.requests, shared._runner._batcher.passes)
        shared_count = shared.count()
        shared_docs = {d.id: d for d in shared.list_documents(limit=1000)}

    with DocumentStore(
        redis_stack_url, index=other_names.index, prefix=other_names.prefix, embedder=embedder
    ) as alone:
        sequential = [script(alone, t) for t in range(THREADS)]
        alone_docs = {d.id: d for d in alone.list_documents(limit=1000)}
        assert alone.count() == shared_count == 3 * THREADS

    assert comparable(concurrent) == comparable(sequential)
    assert shared_docs.keys() == alone_docs.keys()
    for doc_id, doc in shared_docs.items():
        assert comparable(doc) == comparable(alone_docs[doc_id])
        assert doc.embedding == pytest.approx(alone_docs[doc_id].embedding, abs=1e-5)
    requests, passes = batching
    assert passes < requests, batching  # concurrent texts shared forward passes


def test_concurrent_text_searches_share_passes_and_match_one_by_one(
    redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> None:
    queries = [f"{topic}, asked by caller {i}" for i in range(4) for topic in TOPICS]
    with DocumentStore(
        redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=embedder
    ) as store:
        store.add([Document(content=t, genre=["all", f"g{i % 2}"]) for i, t in enumerate(TOPICS)])
        before = store._runner._batcher.requests, store._runner._batcher.passes
        start = threading.Barrier(THREADS)

        def search(i: int) -> list[tuple[str, float]]:
            if i < THREADS:
                start.wait()
            return [(h.id, h.distance) for h in store.search(queries[i], k=3, genre="g1")]

        with ThreadPoolExecutor(THREADS) as pool:
            together = list(pool.map(search, range(len(queries))))
        requests = store._runner._batcher.requests - before[0]
        passes = store._runner._batcher.passes - before[1]
        store.embedding_cache_size = 0  # no cache: each query embedded alone again
        store._state.embedding_cache.clear()
        alone = [[(h.id, h.distance) for h in store.search(q, k=3, genre="g1")] for q in queries]
    assert passes < requests == len(queries)
    for mine, theirs in zip(together, alone, strict=True):
        assert [i for i, _ in mine] == [i for i, _ in theirs]
        assert [d for _, d in mine] == pytest.approx([d for _, d in theirs], abs=1e-5)


def test_concurrent_async_callers_share_passes_and_match_one_by_one(
    redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> None:
    queries = [f"{topic} (task {i})" for i in range(4) for topic in TOPICS]

    async def main() -> tuple[list[Any], list[Any], int, int]:
        async with AsyncDocumentStore(
            redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=embedder
        ) as store:
            await store.add([Document(content=t, genre="all") for t in TOPICS])
            adds = [
                store.add(Document(content=f"{q}!", genre="new", id=f"n{i}"))
                for i, q in enumerate(queries[:8])
            ]
            searches = [store.search(q, k=2, genre="all") for q in queries]
            results = await asyncio.gather(*searches, *adds)
            together = [[h.id for h in hits] for hits in results[: len(queries)]]
            counters = store._runner._batcher.requests, store._runner._batcher.passes
            store.embedding_cache_size = 0
            store._state.embedding_cache.clear()
            alone = [[h.id for h in await store.search(q, k=2, genre="all")] for q in queries]
            assert await store.count(genre="new") == 8
            return together, alone, *counters

    together, alone, requests, passes = asyncio.run(main())
    assert together == alone
    assert passes < requests


class HeldEmbedder:
    """A tiny embedder whose passes wait until the test lets them go."""

    dims = 3

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        self.entered.set()
        assert self.gate.wait(10)
        return [[1.0, float(len(t)), 0.5] for t in texts]

    @classmethod
    def open(cls) -> HeldEmbedder:
        """One that never holds a pass."""
        embedder = cls()
        embedder.gate.set()
        return embedder


def test_closing_an_async_store_fails_its_waiting_callers_instead_of_hanging(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    held = HeldEmbedder()

    async def main() -> tuple[list[BaseException | None], list[Any], int]:
        store = AsyncDocumentStore(
            redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=held
        )
        await store.add(Document(content="x", genre="g", embedding=[1.0, 1.0, 1.0]))
        calls = [asyncio.ensure_future(store.search(f"q{i}", k=1)) for i in range(6)]
        queued = len(calls) - store._runner._batcher.lanes  # the others are in passes, held
        deadline = time.monotonic() + 10
        while len(store._runner._batcher._queue) < queued:
            assert time.monotonic() < deadline, "callers never queued"
            await asyncio.sleep(0.001)
        await store.close()
        done, _ = await asyncio.wait(calls, timeout=5)  # the queued ones, at once
        closed = [c.exception() for c in done]
        held.gate.set()  # the passes already running finish, one way or the other
        rest = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 10)
        with pytest.raises(StoreClosedError):
            await store.search("after close", k=1)
        return closed, rest, queued

    closed, rest, queued = asyncio.run(main())
    assert len(closed) == queued and all(isinstance(o, StoreClosedError) for o in closed)
    assert len(rest) == 6


def test_closing_a_sync_store_fails_its_waiting_threads_instead_of_hanging(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    held = HeldEmbedder()
    store = DocumentStore(
        redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=held
    )
    store.create()
    queued = 6 - store._runner._batcher.lanes  # the others are in passes, held
    with ThreadPoolExecutor(6) as pool:
        calls = [pool.submit(store.search, f"q{i}", k=1) for i in range(6)]
        deadline = time.monotonic() + 10
        while len(store._runner._batcher._queue) < queued:
            assert time.monotonic() < deadline, "callers never queued"
            time.sleep(0.001)
        store.close()
        done, _ = futures.wait(calls, timeout=5)  # the queued ones, at once
        assert len(done) == queued
        assert all(isinstance(c.exception(), StoreClosedError) for c in done)
        held.gate.set()
        for call in calls:
            call.exception(timeout=10)  # every one finishes, one way or the other
    with pytest.raises(StoreClosedError):
        store.count()


def test_concurrent_updates_of_different_fields_all_survive(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    """Two threads update different fields of the same documents many times: each
    update writes only its own field, so neither ever erases the other's change."""
    rounds, ids = 150, ["a", "b", "c"]
    with DocumentStore(
        redis_stack_url,
        index=store_names.index,
        prefix=store_names.prefix,
        embedder=HeldEmbedder.open(),
        metadata_fields={"n": "numeric"},
    ) as store:
        store.add(
            [Document(content=f"text {i}", genre="g0", id=i, metadata={"n": 0}) for i in ids]
        )
        lost: list[str] = []
        start = threading.Barrier(2)

        def genres() -> None:
            start.wait()
            for i in range(1, rounds + 1):
                for doc_id in ids:
                    store.update(doc_id, genre=[f"g{i}"])
                    seen = store.get(doc_id)
                    if seen is None or seen.genre != f"g{i}":
                        lost.append(f"genre of {doc_id} after g{i}: {seen and seen.genre}")

        def metadata() -> None:
            start.wait()
            for i in range(1, rounds + 1):
                for doc_id in ids:
                    store.update(doc_id, metadata={"n": i})
                    seen = store.get(doc_id)
                    if seen is None or seen.metadata != {"n": i}:
                        lost.append(f"metadata of {doc_id} after n={i}: {seen and seen.metadata}")

        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(genres), pool.submit(metadata)]:
                done.result()
        assert lost == []
        for doc_id in ids:
            doc = store.get(doc_id)
            assert doc is not None
            assert (doc.genre, doc.metadata) == (f"g{rounds}", {"n": rounds})
        assert store.count(genre=f"g{rounds}") == len(ids)
