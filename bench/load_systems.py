"""The load benchmark's machinery: inputs, the systems as callers use them, and cells.

See :mod:`bench.load` for the method. :class:`Inputs` hands out texts, vectors, genres
and document ids without repeats; the ``*Client`` classes are the six systems, one call
per operation; a :class:`Cell` runs one system with a set of callers (threads or asyncio
tasks) for a warm-up and a recorded window, and :func:`summarize` turns what each caller
recorded into ops/s, latency percentiles, errors and CPU.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
import redis
import redis.asyncio

from bench.corpus import FILTERS, Corpus
from bench.corpus import make_text_queries as _make_text_queries
from bench.systems import INDEX, escape_tag
from redis_docstore import AsyncDocumentStore, Document, DocumentStore
from redis_docstore._ops.state import DEFAULT_EF_RUNTIME

__all__ = [
    "ASYNC",
    "LABELS",
    "MIXED_SEARCH",
    "OPS",
    "SYSTEMS",
    "AsyncByHandClient",
    "AsyncRedisVLClient",
    "AsyncStoreClient",
    "ByHandClient",
    "Cell",
    "Inputs",
    "K",
    "RedisVLClient",
    "StoreClient",
    "Tally",
    "TextPool",
    "Window",
    "Workload",
    "WriteDoc",
    "cpu_probe",
    "doc_id",
    "redisvl_schema",
    "summarize",
]

K = 10
EF_RUNTIME = DEFAULT_EF_RUNTIME  # sent by every baseline too
ERROR_SAMPLES = 5
LABELS: dict[str, str] = {
    "store": "DocumentStore, threads",
    "store_async": "AsyncDocumentStore, asyncio",
    "by_hand": "by hand (encode + FT.SEARCH), threads",
    "by_hand_async": "by hand (to_thread encode + redis.asyncio), asyncio",
    "redisvl": "redisvl (HFTextVectorizer + SearchIndex), threads",
    "redisvl_async": "redisvl (AsyncSearchIndex), asyncio",
}
SYSTEMS = tuple(LABELS)
ASYNC = frozenset({"store_async", "by_hand_async", "redisvl_async"})
OPS = {"text": "search_text", "vector_np": "search_vector_np", "vector_list": "search_vector_list"}
MIXED_SEARCH = ("search_text", "search_vector_list")
RETURN = ("$.content", "$.genre", "$.metadata")


# -- inputs ---------------------------------------------------------------------------


class TextPool:
    """Texts never handed out twice in a run (queries and added documents alike)."""

    def __init__(self, seed: int) -> None:
        self._seed, self._chunks = seed, 0
        self._seen: set[str] = set()
        self._ready: deque[str] = deque()
        self._lock = threading.Lock()
        self.duplicates_dropped = 0
        self.refills_in_cells = 0  # the pool ran dry during a cell (a stall, counted)

    def reserve(self, count: int) -> None:
        """Make sure ``count`` unused texts are ready (outside any cell)."""
        while len(self._ready) < count:
            self._generate(max(2_000, count - len(self._ready)))

    def _generate(self, count: int) -> None:
        texts = _make_text_queries(count, seed=self._seed + 7919 * (self._chunks + 1))
        self._chunks += 1
        fresh = [t for t in dict.fromkeys(texts) if t not in self._seen]
        self.duplicates_dropped += count - len(fresh)
        self._seen.update(fresh)
        self._ready.extend(fresh)

    def take(self) -> str:
        """The next unused text."""
        while True:
            try:
                return self._ready.popleft()
            except IndexError:
                with self._lock:
                    if not self._ready:
                        self.refills_in_cells += 1
                        self._generate(2_000)

    @property
    def issued(self) -> int:
        """Texts handed out so far."""
        return len(self._seen) - len(self._ready)


@dataclass
class WriteDoc:
    """One document a writer adds (``vector`` None: the system embeds the text)."""

    id: str
    text: str
    genre: str
    year: int
    vector: list[float] | None

    def record(self, vector: list[float]) -> dict[str, Any]:
        """The JSON document, laid out as the store lays it out."""
        return {
            "content": self.text,
            "genre": [self.genre],
            "embedding": vector,
            "metadata": {"year": self.year},
        }


class Inputs:
    """Everything an operation needs, handed out without repeats (thread-safe)."""

    def __init__(self, corpus: Corpus, vectors: npt.NDArray[np.float32], seed: int) -> None:
        self.texts = TextPool(seed)
        self.vectors = vectors
        self.classes = corpus.classes
        self.all_genres = [g for names in corpus.classes.values() for g in names]
        self.doc_texts = corpus.texts
        self._vector_next = itertools.count()
        self._genre_next = {kind: itertools.count() for kind in (*OPS.values(), "write")}
        self._http_next = itertools.count()
        self._minted: dict[str, int] = {}
        self._mint_lock = threading.Lock()
        #: Per system, the numbers of the documents whose add returned their id.
        self.acked: dict[str, array[int]] = {}

    def vector(self) -> npt.NDArray[np.float32]:
        """The next query vector of the pool."""
        row: npt.NDArray[np.float32] = self.vectors[next(self._vector_next) % len(self.vectors)]
        return row

    def genre(self, kind: str) -> str | None:
        """The next filter for this kind of search: the classes in turn, a genre in turn."""
        i = next(self._genre_next[kind])
        cls = FILTERS[i % len(FILTERS)]
        if cls == "all":
            return None
        names = self.classes[cls]
        return names[(i // len(FILTERS)) % len(names)]

    def http_turn(self) -> int:
        """The number of the next HTTP operation (every ``POST_EVERY``-th one adds)."""
        return next(self._http_next)

    def mint(self, system: str) -> int:
        """A new document number for ``system`` (ids ``load-<system>-<n>``)."""
        with self._mint_lock:
            n = self._minted.get(system, 0)
            self._minted[system] = n + 1
            self.acked.setdefault(system, array("q"))
        return n

    def minted(self, system: str) -> int:
        """How many ids were handed out for ``system`` (written or not)."""
        return self._minted.get(system, 0)

    def write_doc(self, system: str, *, with_vector: bool) -> WriteDoc:
        """The next document to add; its content is a fresh text unless it has a vector."""
        n = self.mint(system)
        genre = self.all_genres[next(self._genre_next["write"]) % len(self.all_genres)]
        vector = self.vector().tolist() if with_vector else None
        text = self.doc_texts[n % len(self.doc_texts)] if with_vector else self.texts.take()
        return WriteDoc(doc_id(system, n), text, genre, 1900 + n % 126, vector)


def doc_id(system: str, n: int) -> str:
    """The id of a written document."""
    return f"load-{system}-{n}"


# -- the systems ------------------------------------------------------------------------


Query = str | npt.NDArray[np.float32] | list[float]


class SyncClient(Protocol):
    """A system as R threads use it."""

    def search(self, query: Query, genre: str | None) -> int: ...
    def add(self, doc: WriteDoc) -> str: ...


class AsyncClient(Protocol):
    """A system as R asyncio tasks use it."""

    async def search(self, query: Query, genre: str | None) -> int: ...
    async def add(self, doc: WriteDoc) -> str: ...


def _query(query: Query) -> str | Sequence[float]:
    """The store takes numpy vectors; its signature says ``Sequence[float]``."""
    return cast("str | Sequence[float]", query)


def _document(doc: WriteDoc) -> Document:
    return Document(
        content=doc.text, genre=doc.genre, id=doc.id, embedding=doc.vector,
        metadata={"year": doc.year},
    )  # fmt: skip


class StoreClient:
    """``DocumentStore``: one call per search, one document per ``add``."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def search(self, query: Query, genre: str | None) -> int:
        return len(self.store.search(_query(query), k=K, genre=genre))

    def add(self, doc: WriteDoc) -> str:
        (got,) = self.store.add(_document(doc))
        return got


class AsyncStoreClient:
    """``AsyncDocumentStore``, awaited."""

    def __init__(self, store: AsyncDocumentStore) -> None:
        self.store = store

    async def search(self, query: Query, genre: str | None) -> int:
        return len(await self.store.search(_query(query), k=K, genre=genre))

    async def add(self, doc: WriteDoc) -> str:
        (got,) = await self.store.add(_document(doc))
        return got


def knn_command(genre: str | None, blob: bytes) -> list[Any]:
    """The ``FT.SEARCH`` a user writes by hand: KNN 10, the filter, the store's EF_RUNTIME."""
    where = "*" if genre is None else f"(@genre:{{{escape_tag(genre)}}})"
    return [
        "FT.SEARCH", INDEX,
        f"{where}=>[KNN {K} @embedding $vec EF_RUNTIME {EF_RUNTIME} AS vector_distance]",
        "RETURN", str(len(RETURN) + 1), *RETURN, "vector_distance",
        "SORTBY", "vector_distance", "ASC", "LIMIT", "0", str(K), "DIALECT", "2",
        "PARAMS", "2", "vec", blob,
    ]  # fmt: skip


def parse_hits(reply: Any) -> list[dict[str, Any]]:
    """An ``FT.SEARCH`` reply as one dict per hit, as a hand-written client would.

    redis-py 8 speaks RESP3 by default (a map per reply); RESP2's flat list is read too.
    """
    if isinstance(reply, dict):
        return [
            {"id": hit[b"id"].decode(),
             **{k.decode(): v.decode() for k, v in hit[b"extra_attributes"].items()}}
            for hit in reply[b"results"]
        ]  # fmt: skip
    hits = []
    for key, fields in zip(reply[1::2], reply[2::2], strict=True):
        pairs = dict(zip(fields[::2], fields[1::2], strict=True))
        hits.append({"id": key.decode(), **{k.decode(): v.decode() for k, v in pairs.items()}})
    return hits


def _blob(vector: Any) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


class ByHandClient:
    """``model.encode([q])`` then a raw ``FT.SEARCH``; ``JSON.SET`` one document."""

    def __init__(self, model: Any, client: redis.Redis, prefix: str) -> None:
        self.model, self.client, self.prefix = model, client, prefix

    def search(self, query: Query, genre: str | None) -> int:
        vector: Any = self.model.encode([query])[0] if isinstance(query, str) else query
        reply = self.client.execute_command(*knn_command(genre, _blob(vector)))  # type: ignore[no-untyped-call]
        return len(parse_hits(reply))

    def add(self, doc: WriteDoc) -> str:
        vector = doc.vector
        if vector is None:
            vector = self.model.encode([doc.text])[0].tolist()
        self.client.json().set(f"{self.prefix}:{doc.id}", "$", doc.record(vector))
        return doc.id


class AsyncByHandClient:
    """The same with ``asyncio.to_thread(model.encode, ...)`` and redis.asyncio."""

    def __init__(self, model: Any, client: redis.asyncio.Redis, prefix: str) -> None:
        self.model, self.client, self.prefix = model, client, prefix

    async def search(self, query: Query, genre: str | None) -> int:
        vector: Any = query
        if isinstance(query, str):
            vector = (await asyncio.to_thread(self.model.encode, [query]))[0]
        reply = await self.client.execute_command(*knn_command(genre, _blob(vector)))  # type: ignore[no-untyped-call]
        return len(parse_hits(reply))

    async def add(self, doc: WriteDoc) -> str:
        vector = doc.vector
        if vector is None:
            vector = (await asyncio.to_thread(self.model.encode, [doc.text]))[0].tolist()
        await self.client.json().set(f"{self.prefix}:{doc.id}", "$", doc.record(vector))
        return doc.id


def redisvl_schema(dims: int) -> dict[str, Any]:
    """The store's index as a redisvl schema dict (``redis_docstore._schema.build_schema``)."""
    tag = {"separator": "\x1f", "case_sensitive": True}
    vector = {"algorithm": "hnsw", "dims": dims, "distance_metric": "l2", "datatype": "float32"}
    return {
        "index": {"name": INDEX, "prefix": f"{INDEX}:", "key_separator": ":",
                  "storage_type": "json"},
        "fields": [
            {"name": "content", "type": "text", "path": "$.content"},
            {"name": "genre", "type": "tag", "path": "$.genre[*]", "attrs": tag},
            {"name": "year", "type": "numeric", "path": "$.metadata.year"},
            {"name": "embedding", "type": "vector", "path": "$.embedding", "attrs": vector},
        ],
    }  # fmt: skip


def vector_query(vector: Any, genre: str | None) -> Any:
    """redisvl's ``VectorQuery``: k=10, a Tag filter, the store's EF_RUNTIME."""
    from redisvl.query import VectorQuery
    from redisvl.query.filter import Tag

    return VectorQuery(
        vector=vector,
        vector_field_name="embedding",
        return_fields=list(RETURN),
        num_results=K,
        filter_expression=None if genre is None else Tag("genre") == genre,
        ef_runtime=EF_RUNTIME,
    )


class RedisVLClient:
    """``HFTextVectorizer.embed`` + ``SearchIndex.query``; ``index.load`` one record."""

    def __init__(self, vectorizer: Any, index: Any) -> None:
        self.vectorizer, self.index = vectorizer, index

    def search(self, query: Query, genre: str | None) -> int:
        vector = self.vectorizer.embed(query) if isinstance(query, str) else query
        return len(self.index.query(vector_query(vector, genre)))

    def add(self, doc: WriteDoc) -> str:
        vector = doc.vector
        if vector is None:
            vector = self.vectorizer.embed(doc.text)
        (key,) = self.index.load([doc.record(vector)], keys=[f"{INDEX}:{doc.id}"])
        return str(key).removeprefix(f"{INDEX}:")


class AsyncRedisVLClient:
    """The vectorizer in ``asyncio.to_thread``, ``AsyncSearchIndex``."""

    def __init__(self, vectorizer: Any, index: Any) -> None:
        self.vectorizer, self.index = vectorizer, index

    async def search(self, query: Query, genre: str | None) -> int:
        if isinstance(query, str):
            query = await asyncio.to_thread(self.vectorizer.embed, query)
        return len(await self.index.query(vector_query(query, genre)))

    async def add(self, doc: WriteDoc) -> str:
        vector: list[float] | None = doc.vector
        if vector is None:
            vector = cast("list[float]", await asyncio.to_thread(self.vectorizer.embed, doc.text))
        (key,) = await self.index.load([doc.record(vector)], keys=[f"{INDEX}:{doc.id}"])
        return str(key).removeprefix(f"{INDEX}:")


# -- cells ------------------------------------------------------------------------------


@dataclass
class Window:
    """A cell's clock (``perf_counter_ns``): recorded from ``warm_end`` to ``end``."""

    warm_end: int = 0
    end: int = 0


@dataclass
class Tally:
    """One caller's record of a cell."""

    latencies: dict[str, array[int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    short: dict[str, int] = field(default_factory=dict)

    def done(self, kind: str, start: int, stop: int, hits: int, window: Window) -> None:
        if window.warm_end <= stop <= window.end:
            self.latencies.setdefault(kind, array("q")).append(stop - start)
            if "search" in kind and hits < K:
                self.short[kind] = self.short.get(kind, 0) + 1

    def error(self, kind: str, exc: BaseException) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append(f"{kind}: {type(exc).__name__}: {str(exc)[:300]}")

    @property
    def ops(self) -> int:
        return sum(len(v) for v in self.latencies.values())


Prepared = tuple[str, Callable[[], Any], str | None]  # kind, call, id it must return


class Workload:
    """Turns an operation kind into a call on one system, its inputs prepared."""

    def __init__(self, name: str, client: Any, inputs: Inputs) -> None:
        self.name, self.client, self.inputs = name, client, inputs

    def prepare(self, kind: str) -> Prepared:
        inputs, client = self.inputs, self.client
        if kind.startswith("add"):
            doc = inputs.write_doc(self.name, with_vector=kind == "add_vector")
            return kind, lambda: client.add(doc), doc.id
        query: Query
        if kind == "search_text":
            query = inputs.texts.take()
        elif kind == "search_vector_np":
            query = inputs.vector()
        else:
            query = inputs.vector().tolist()
        genre = inputs.genre(kind)
        return kind, lambda: client.search(query, genre), None

    def acked(self, kind: str, doc: str | None, result: Any) -> int:
        """Check an add returned its id and remember it; a search's hit count."""
        if doc is None:
            return int(result)
        if result != doc:
            raise AssertionError(f"add returned {result!r}, expected {doc!r}")
        self.inputs.acked[self.name].append(int(doc.rsplit("-", 1)[1]))
        return 1


def _sync_worker(
    work: Workload,
    kinds: Sequence[str],
    tally: Tally,
    window: Window,
    go: threading.Event,
    pace: float,
) -> None:
    go.wait()
    clock = time.perf_counter_ns
    for kind in itertools.cycle(kinds):
        if clock() >= window.end:
            return
        kind, call, doc = work.prepare(kind)
        start = clock()
        try:
            result = call()
            stop = clock()
            hits = work.acked(kind, doc, result)
        except Exception as exc:
            tally.error(kind, exc)
            continue
        tally.done(kind, start, stop, hits, window)
        if pace:  # an operation every `pace` seconds at most
            time.sleep(max(0.0, (start + pace * 1e9 - clock()) / 1e9))


async def _async_worker(
    work: Workload, kinds: Sequence[str], tally: Tally, window: Window, pace: float
) -> None:
    clock = time.perf_counter_ns
    for kind in itertools.cycle(kinds):
        if clock() >= window.end:
            return
        kind, call, doc = work.prepare(kind)
        start = clock()
        try:
            result = await call()
            stop = clock()
            hits = work.acked(kind, doc, result)
        except Exception as exc:
            tally.error(kind, exc)
            continue
        tally.done(kind, start, stop, hits, window)
        if pace:
            await asyncio.sleep(max(0.0, (start + pace * 1e9 - clock()) / 1e9))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    times = os.times()
    snap = {"t": time.perf_counter(), "client": times.user + times.system}
    for name, pid in pids.items():
        snap[name] = cpu_seconds(pid)
    return snap


def cpu_probe(window: Window, pids: dict[str, int], out: dict[str, float]) -> None:
    """Sleep to the window's start, read CPU times, sleep to its end, read again."""
    time.sleep(max(0.0, (window.warm_end - time.perf_counter_ns()) / 1e9))
    before = _cpu_snapshot(pids)
    time.sleep(max(0.0, (window.end - time.perf_counter_ns()) / 1e9))
    after = _cpu_snapshot(pids)
    wall = after["t"] - before["t"]
    for name in after:
        if name != "t":
            out[f"{name}_cpu_pct"] = 100.0 * (after[name] - before[name]) / wall


@dataclass
class Cell:
    """One system, a set of callers (each cycling through its kinds), a warm-up, a window."""

    system: str
    work: Workload
    callers: list[tuple[str, ...]]
    warmup: float
    seconds: float
    tallies: list[Tally] = field(default_factory=list)
    #: Seconds per operation for callers whose kinds are all writes (0: as fast as they can).
    write_pace: float = 0.0

    def _pace(self, kinds: tuple[str, ...]) -> float:
        return self.write_pace if all(k.startswith("add") for k in kinds) else 0.0

    def run(self, loop: asyncio.AbstractEventLoop, pids: dict[str, int]) -> dict[str, Any]:
        """Run the cell; its summary (throughput, latency, errors, CPU)."""
        self.tallies = self.tallies or [Tally() for _ in self.callers]
        window, cpu = Window(), dict[str, float]()
        go = threading.Event()
        threads = []
        if self.system not in ASYNC:
            threads = [
                threading.Thread(
                    target=_sync_worker,
                    args=(self.work, kinds, t, window, go, self._pace(kinds)),
                )
                for kinds, t in zip(self.callers, self.tallies, strict=True)
            ]
            for thread in threads:
                thread.start()
        window.warm_end = time.perf_counter_ns() + int(self.warmup * 1e9)
        window.end = window.warm_end + int(self.seconds * 1e9)
        probe = threading.Thread(target=cpu_probe, args=(window, pids, cpu))
        probe.start()
        go.set()
        if self.system in ASYNC:
            loop.run_until_complete(self._tasks(window))
        for thread in threads:
            thread.join()
        probe.join()
        return summarize(self.tallies, self.seconds, cpu, len(self.callers))

    async def _tasks(self, window: Window) -> None:
        await asyncio.gather(
            *(
                _async_worker(self.work, kinds, t, window, self._pace(kinds))
                for kinds, t in zip(self.callers, self.tallies, strict=True)
            )
        )


def kind_stats(latencies_ns: Sequence[int], seconds: float) -> dict[str, Any]:
    """ops, ops/s and p50/p95/p99/mean latency (ms) of one kind of operation."""
    ns = np.asarray(latencies_ns, dtype=np.float64)
    if len(ns) == 0:
        return {"ops": 0, "ops_per_s": 0.0}
    p50, p95, p99 = np.percentile(ns, [50, 95, 99]) / 1e6
    return {
        "ops": len(ns), "ops_per_s": len(ns) / seconds, "p50_ms": float(p50),
        "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(ns.mean() / 1e6),
    }  # fmt: skip


def summarize(
    tallies: Sequence[Tally], seconds: float, cpu: dict[str, float], callers: int
) -> dict[str, Any]:
    """A cell's results: per kind, all kinds together, errors, short results, CPU."""
    merged: dict[str, list[int]] = {}
    errors: dict[str, int] = {}
    short: dict[str, int] = {}
    samples: list[str] = []
    for t in tallies:
        for kind, values in t.latencies.items():
            merged.setdefault(kind, []).extend(values)
        for kind, count in t.errors.items():
            errors[kind] = errors.get(kind, 0) + count
        for kind, count in t.short.items():
            short[kind] = short.get(kind, 0) + count
        samples += t.samples[: ERROR_SAMPLES - len(samples)]
    everything = [x for values in merged.values() for x in values]
    return {
        "callers": callers,
        "seconds": seconds,
        **kind_stats(everything, seconds),
        "kinds": {kind: kind_stats(values, seconds) for kind, values in sorted(merged.items())},
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "error_samples": samples,
        "short_results": short,
        **cpu,
    }
