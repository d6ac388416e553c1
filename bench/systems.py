"""The systems under test, behind one small interface.

Every Redis-backed system gets its own throwaway :class:`EmbeddedServer`, so
``INFO memory`` before and after its ingest measures that system's data alone,
and every one uses the same index: ``content`` TEXT, ``genre`` TAG over
``$.genre[*]`` (or a comma-joined HASH field), ``embedding`` HNSW FLOAT32 L2
with M=16, EF_CONSTRUCTION=200, EF_RUNTIME=10 (redisvl's defaults, which this
store's schema inherits). Every search asks for k=10 and returns the same
payload (content, genres, metadata, distance).

* ``raw``: redis-py, ``JSON.SET`` (orjson) in non-transactional pipelines, and a
  prebuilt ``FT.SEARCH`` argument list where only the vector changes; RESP2.
* ``store`` / ``store_async``: :class:`DocumentStore` / :class:`AsyncDocumentStore`
  given :class:`Document` objects with precomputed embeddings.
* ``store_f16``: the store with ``datatype="float16"``, when it offers one.
* ``redisvl``: plain redisvl, ``SearchIndex.load`` and ``VectorQuery``, JSON.
* ``redisvl_hash``: the same with HASH storage (float32 bytes): the memory
  baseline for JSON vs hash.
* ``chroma``: an in-process ``chromadb.PersistentClient`` (HNSW, l2,
  ef_construction=200, max_neighbors=16, Chroma's default ef_search=100);
  genres are a list metadata value filtered with ``$contains``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt
import orjson
import redis
import redis.asyncio

from bench.corpus import Corpus
from redis_docstore import AsyncDocumentStore, Document, DocumentStore, EmbeddedServer

__all__ = [
    "ALL_SYSTEMS",
    "LABELS",
    "PROBED",
    "ChromaSystem",
    "PrebuiltSearch",
    "PrecomputedEmbedder",
    "RawRedis",
    "RedisSystem",
    "RedisVLSystem",
    "StoreSystem",
    "System",
    "escape_tag",
    "float16_supported",
    "make_system",
    "started_pids",
]

K = 10
CHUNK = 10_000  # documents handed to a client library per call
INDEX = "bench"
EF_RUNTIME = 10
HNSW = {"M": 16, "EF_CONSTRUCTION": 200, "EF_RUNTIME": EF_RUNTIME, "EPSILON": 0.01}
RETURN = ("$.content", "$.genre", "$.metadata")
INDEX_TIMEOUT = 3600.0

LABELS: dict[str, str] = {
    "raw": "raw redis-py",
    "store": "this store (sync)",
    "store_async": "this store (async)",
    "store_f16": "this store, FLOAT16",
    "redisvl": "plain redisvl (JSON)",
    "redisvl_hash": "redisvl HASH (float32 bytes)",
    "chroma": "Chroma",
}
ALL_SYSTEMS = tuple(LABELS)
# The raw query run against these systems' own servers, beside them (raw@store).
PROBED = ("store", "store_async", "store_f16")
LABELS.update({f"raw@{name}": f"raw FT.SEARCH, {LABELS[name]}'s server" for name in PROBED})
LABELS["raw@store_async"] = "raw FT.SEARCH (redis.asyncio), this store (async)'s server"
# The sync store again, each query vector handed over as a Python list (what
# embedding APIs return), beside raw's query on the same server.
LABELS["store_list"] = "this store (sync), query vector as a Python list"
LABELS["raw@store_list"] = "raw FT.SEARCH, this store (sync)'s server (list pairs)"

_started: list[int] = []


def started_pids() -> list[int]:
    """The pids of every server this process started (to check they are gone)."""
    return list(_started)


def escape_tag(value: str) -> str:
    """Escape a TAG value for a RediSearch query (every non-word character)."""
    return re.sub(r"([^A-Za-z0-9_])", r"\\\1", value)


def float16_supported() -> bool:
    """Whether ``DocumentStore`` takes ``datatype=`` (for a FLOAT16 index)."""
    return "datatype" in inspect.signature(DocumentStore.__init__).parameters


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(start + size, n))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text(k): _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value.decode() if isinstance(value, bytes) else value


class PrecomputedEmbedder:
    """An embedder for documents and queries that arrive with their vectors.

    It is never called (every document carries an embedding); it only tells
    the store the dimensions.
    """

    name = "bench-precomputed-384"

    def __init__(self, dims: int) -> None:
        self.dims = dims

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Refuse: the benchmark never asks the store to embed vector-path documents."""
        raise RuntimeError("PrecomputedEmbedder cannot embed text")


def timed_block(
    search: Callable[[npt.NDArray[np.float32], str | None], list[str]],
    vectors: npt.NDArray[np.float32],
    genres: Sequence[str | None],
) -> tuple[list[int], list[list[str]]]:
    """Run ``search`` on each query in turn; each one's latency (ns) and ids."""
    latencies, results = [], []
    clock = time.perf_counter_ns
    for vector, genre in zip(vectors, genres, strict=True):
        start = clock()
        ids = search(vector, genre)
        latencies.append(clock() - start)
        results.append(ids)
    return latencies, results


class System(ABC):
    """One system under test: set up, ingest, search, report memory, close."""

    name: ClassVar[str]
    #: Whether this system takes part in the query rounds.
    queries = True

    @property
    def label(self) -> str:
        """A human-readable name."""
        return LABELS[self.name]

    @abstractmethod
    def setup(self, dims: int) -> None:
        """Start the backend and create an empty index (not timed)."""

    @abstractmethod
    def ingest(self, corpus: Corpus) -> None:
        """Write every document (timed, together with :meth:`wait_indexed`)."""

    def ingest_rows(self, corpus: Corpus, rows: range) -> None:
        """Write some documents (the interleaved ingest's turns)."""
        raise NotImplementedError(f"{self.name} has no interleaved ingest")

    @abstractmethod
    def wait_indexed(self, n: int) -> None:
        """Block until all ``n`` documents are searchable (timed)."""

    @abstractmethod
    def search(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[str]:
        """The ids of the k nearest documents (with ``genre``, if given)."""

    def search_block(
        self,
        vectors: npt.NDArray[np.float32],
        genres: Sequence[str | None],
    ) -> tuple[list[int], list[list[str]]]:
        """Run queries one after the other; return each one's latency (ns) and ids."""
        return timed_block(self.search, vectors, genres)

    def memory_before(self) -> None:  # noqa: B027 - optional hook
        """Record the memory baseline, after :meth:`setup` (not timed)."""

    @abstractmethod
    def memory(self, n: int) -> dict[str, Any]:
        """Memory used by the ``n`` ingested documents, as a JSON-able mapping."""

    def versions(self) -> dict[str, str]:
        """Versions of the backend (server, modules), if any."""
        return {}

    @abstractmethod
    def close(self) -> None:
        """Stop the backend and remove its data."""


class RedisSystem(System):
    """A system on its own throwaway Redis Stack server."""

    # The same key names on every server: memory per document compares the
    # storage of identical keys, not of prefixes of different lengths.
    key_prefix: ClassVar[str] = f"{INDEX}:"
    vector_type: ClassVar[type] = np.float32

    def raw_probe(self) -> PrebuiltSearch:
        """The raw baseline's query against this system's own index and server."""
        return PrebuiltSearch(self.redis, INDEX, self.key_prefix, self.vector_type)

    def __init__(self) -> None:
        self.server: EmbeddedServer | None = None
        self.client: redis.Redis | None = None
        self._before = 0

    def start_server(self) -> str:
        """Start the system's server; return its URL."""
        self.server = EmbeddedServer(None).start()
        if self.server.pid is not None:
            _started.append(self.server.pid)
        self.client = redis.Redis.from_url(self.server.url, protocol=2)
        return self.server.url

    @property
    def redis(self) -> redis.Redis:
        """The benchmark's own RESP2 client of this server."""
        assert self.client is not None, "setup() first"
        return self.client

    def ft_info(self, index: str = INDEX) -> dict[str, Any]:
        """``FT.INFO`` of the system's index (or another one), decoded."""
        info = self.redis.execute_command("FT.INFO", index)  # type: ignore[no-untyped-call]
        if isinstance(info, list):
            info = dict(zip(info[::2], info[1::2], strict=True))
        return _decode(info)  # type: ignore[no-any-return]

    def used_memory(self) -> int:
        """``INFO memory`` ``used_memory``."""
        return int(self.redis.info("memory")["used_memory"])

    def wait_indexed(self, n: int, index: str = INDEX) -> None:
        """Poll ``FT.INFO`` until ``indexing`` is 0, ``percent_indexed`` 1 and ``num_docs`` n."""
        deadline = time.monotonic() + INDEX_TIMEOUT
        while True:
            info = self.ft_info(index)
            done = int(info.get("indexing", 0)) == 0 and float(info["percent_indexed"]) >= 1.0
            if done and int(info["num_docs"]) >= n:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: index not complete: {info['num_docs']} / {n}")
            time.sleep(0.005)

    def memory_before(self) -> None:
        """Record ``used_memory`` with the empty index."""
        self._before = self.used_memory()

    def memory(self, n: int) -> dict[str, Any]:
        """``used_memory`` growth per document, index sizes and a key-size sample."""
        after = self.used_memory()
        info = self.ft_info()
        mb = 1024 * 1024
        step = max(1, n // 200)
        sample = [
            int(
                self.redis.execute_command(  # type: ignore[no-untyped-call]
                    "MEMORY", "USAGE", f"{self.key_prefix}d{i:07d}", "SAMPLES", "0"
                )
                or 0
            )
            for i in range(0, n, step)
        ]
        return {
            "used_memory_before": self._before,
            "used_memory_after": after,
            "bytes_per_doc": (after - self._before) / n,
            "vector_index_bytes_per_doc": float(info.get("vector_index_sz_mb", 0)) * mb / n,
            "other_index_bytes_per_doc": float(info.get("total_index_memory_sz_mb", 0)) * mb / n,
            "key_bytes_per_doc_sample": sum(sample) / len(sample) if sample else None,
            "num_docs": int(info["num_docs"]),
        }

    def versions(self) -> dict[str, str]:
        """The server's and the modules' versions."""
        modules = {_text(m[b"name"]): str(m[b"ver"]) for m in self.redis.module_list()}
        return {
            "redis_server": str(self.redis.info("server")["redis_version"]),
            "search_module": modules.get("search", "?"),
            "json_module": modules.get("ReJSON", "?"),
        }

    def close(self) -> None:
        """Close the client and stop the server (by its own pid)."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.server is not None:
            self.server.stop()
            self.server = None


def _doc_json(corpus: Corpus, i: int) -> bytes:
    return orjson.dumps(
        {
            "content": corpus.texts[i],
            "genre": list(corpus.genres[i]),
            "embedding": corpus.vectors[i],
            "metadata": {"year": int(corpus.years[i])},
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


class RawRedis(RedisSystem):
    """redis-py only: pipelined ``JSON.SET`` (orjson), a prebuilt ``FT.SEARCH``."""

    name = "raw"

    def __init__(self, batch_size: int = 500) -> None:
        super().__init__()
        self.batch_size = batch_size

    @functools.cached_property
    def prebuilt(self) -> PrebuiltSearch:
        """The baseline query on this server."""
        return self.raw_probe()

    def setup(self, dims: int) -> None:
        """Start a server and ``FT.CREATE`` the index."""
        self.start_server()
        self.create_index(INDEX, self.key_prefix, dims)

    def create_index(self, index: str, prefix: str, dims: int) -> None:
        """``FT.CREATE`` the shared schema, on JSON under ``prefix``."""
        hnsw = [str(x) for pair in HNSW.items() for x in pair]
        vector = ["TYPE", "FLOAT32", "DIM", str(dims), "DISTANCE_METRIC", "L2", *hnsw]
        self.redis.execute_command(  # type: ignore[no-untyped-call]
            "FT.CREATE", index, "ON", "JSON", "PREFIX", "1", prefix, "SCHEMA",
            "$.content", "AS", "content", "TEXT",
            "$.genre[*]", "AS", "genre", "TAG", "SEPARATOR", "\x1f", "CASESENSITIVE",
            "$.embedding", "AS", "embedding", "VECTOR", "HNSW", str(len(vector)), *vector,
        )  # fmt: skip

    def write(self, corpus: Corpus, rows: range, prefix: str, batch_size: int) -> None:
        """``JSON.SET`` rows of the corpus in pipelines of ``batch_size``."""
        client = self.redis
        for batch in _chunks(len(rows), batch_size):
            pipe = client.pipeline(transaction=False)
            for j in batch:
                i = rows[j]
                key = f"{prefix}{corpus.ids[i]}"
                pipe.execute_command("JSON.SET", key, "$", _doc_json(corpus, i))  # type: ignore[no-untyped-call]
            pipe.execute()

    def ingest(self, corpus: Corpus) -> None:
        """Pipelined ``JSON.SET`` of every document."""
        self.ingest_rows(corpus, range(corpus.n))

    def ingest_rows(self, corpus: Corpus, rows: range) -> None:
        """Pipelined ``JSON.SET`` of these documents."""
        self.write(corpus, rows, self.key_prefix, self.batch_size)

    def search(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[str]:
        """One ``FT.SEARCH``: the prebuilt arguments with this vector."""
        return self.prebuilt.search(vector, genre)

    def prebuilt_for(self, index: str, key_prefix: str, *, ef_runtime: int) -> PrebuiltSearch:
        """Raw's prebuilt query on any index of the same shape (the text benchmark's).

        With ``ef_runtime`` in the query, as the store sends its own, so both
        do the same work on the server.
        """
        return PrebuiltSearch(self.redis, index, key_prefix, ef_runtime=ef_runtime)


class PrebuiltSearch:
    """The raw baseline's query: a prebuilt ``FT.SEARCH`` where only the vector changes.

    Also run against the store's own server (``raw@store``): servers built
    from the same data differ by several percent in latency, so the store is
    held to raw on the same index.
    """

    def __init__(
        self,
        client: redis.Redis,
        index: str,
        key_prefix: str,
        dtype: type = np.float32,
        *,
        ef_runtime: int | None = None,
    ) -> None:
        self.client, self.index, self.cut, self.dtype = client, index, len(key_prefix), dtype
        # None: the index's own EF_RUNTIME (what the comparison runs, for all systems).
        self.ef = "" if ef_runtime is None else f" EF_RUNTIME {ef_runtime}"
        self._queries: dict[str | None, list[Any]] = {}

    def _query(self, genre: str | None) -> list[Any]:
        if genre not in self._queries:
            where = "*" if genre is None else f"(@genre:{{{escape_tag(genre)}}})"
            self._queries[genre] = [
                "FT.SEARCH", self.index,
                f"{where}=>[KNN {K} @embedding $vector{self.ef} AS vector_distance]",
                "RETURN", str(len(RETURN) + 1), *RETURN, "vector_distance",
                "SORTBY", "vector_distance", "ASC", "DIALECT", "2", "LIMIT", "0", str(K),
                "PARAMS", "2", "vector", b"",
            ]  # fmt: skip
        return self._queries[genre]

    def args(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[Any]:
        """The prebuilt arguments with this vector in place."""
        args = self._query(genre)
        args[-1] = vector.astype(self.dtype, copy=False).tobytes()
        return args

    def ids(self, reply: list[Any]) -> list[str]:
        """The reply's keys, decoded, without the prefix (all the baseline parses)."""
        cut = self.cut
        return [key.decode()[cut:] for key in reply[1::2]]

    def search(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[str]:
        """The ids of the k nearest (``FT.SEARCH``, RESP2, keys decoded, nothing else)."""
        return self.ids(self.client.execute_command(*self.args(vector, genre)))  # type: ignore[no-untyped-call]

    def search_block(
        self, vectors: npt.NDArray[np.float32], genres: Sequence[str | None]
    ) -> tuple[list[int], list[list[str]]]:
        """Like :meth:`System.search_block`."""
        return timed_block(self.search, vectors, genres)


def _vec(vector: npt.NDArray[np.float32]) -> Sequence[float]:
    """The store takes numpy vectors; its signature says ``Sequence[float]``."""
    return cast("Sequence[float]", vector)


def store_documents(corpus: Corpus, rows: range) -> list[Document]:
    """The corpus rows ``rows`` as the store's documents (with their vectors)."""
    return [
        Document(
            content=corpus.texts[i],
            genre=list(corpus.genres[i]),
            id=corpus.ids[i],
            embedding=corpus.vectors[i],
            metadata={"year": int(corpus.years[i])},
        )
        for i in rows
    ]


class StoreSystem(RedisSystem):
    """:class:`DocumentStore` with precomputed embeddings."""

    name = "store"

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options = options
        self.store: DocumentStore | None = None

    def setup(self, dims: int) -> None:
        """Start a server, open the store and create its index."""
        url = self.start_server()
        # The comparison runs every Redis system at the same EF_RUNTIME (10);
        # the store's own default (100, for recall) is measured by the sweep.
        options = {"ef_runtime": HNSW["EF_RUNTIME"], **self.options}
        self.store = DocumentStore(url, index=INDEX, embedder=PrecomputedEmbedder(dims), **options)
        self.store.create()

    def ingest(self, corpus: Corpus) -> None:
        """``store.add`` in chunks of :data:`CHUNK` documents."""
        for rows in _chunks(corpus.n, CHUNK):
            self.ingest_rows(corpus, rows)

    def ingest_rows(self, corpus: Corpus, rows: range) -> None:
        """One ``store.add`` of these documents."""
        assert self.store is not None
        self.store.add(store_documents(corpus, rows))

    def search(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[str]:
        """``store.search(vector, k=10, genre=genre)``."""
        assert self.store is not None
        return [hit.id for hit in self.store.search(_vec(vector), k=K, genre=genre)]

    def search_list_block(
        self, vectors: npt.NDArray[np.float32], genres: Sequence[str | None]
    ) -> tuple[list[int], list[list[str]]]:
        """Like :meth:`search_block`, each vector a Python list (made before the clock)."""
        assert self.store is not None
        store, clock = self.store, time.perf_counter_ns
        latencies, results = [], []
        for vector, genre in zip(vectors.tolist(), genres, strict=True):
            start = clock()
            hits = store.search(vector, k=K, genre=genre)
            latencies.append(clock() - start)
            results.append([hit.id for hit in hits])
        return latencies, results

    def search_ef(
        self, vectors: npt.NDArray[np.float32], genres: Sequence[str | None], ef: int
    ) -> tuple[list[int], list[list[str]]]:
        """Like :meth:`search_block`, with ``ef_runtime=ef`` for every query."""
        assert self.store is not None
        store, clock = self.store, time.perf_counter_ns
        latencies, results = [], []
        for vector, genre in zip(vectors, genres, strict=True):
            start = clock()
            hits = store.search(_vec(vector), k=K, genre=genre, ef_runtime=ef)
            latencies.append(clock() - start)
            results.append([hit.id for hit in hits])
        return latencies, results

    def close(self) -> None:
        """Close the store, then stop the server."""
        if self.store is not None:
            self.store.close()
            self.store = None
        super().close()


class Float16StoreSystem(StoreSystem):
    """The store with a FLOAT16 vector index (when ``DocumentStore`` offers one)."""

    name = "store_f16"
    vector_type = np.float16

    def __init__(self) -> None:
        super().__init__(datatype="float16")


class AsyncStoreSystem(RedisSystem):
    """:class:`AsyncDocumentStore` on its own event loop; queries awaited one by one."""

    name = "store_async"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store: AsyncDocumentStore | None = None
        self._probe_clients: list[redis.asyncio.Redis] = []

    def setup(self, dims: int) -> None:
        """Start a server, open the async store and create its index."""
        url = self.start_server()
        self.store = AsyncDocumentStore(
            url, index=INDEX, embedder=PrecomputedEmbedder(dims), ef_runtime=EF_RUNTIME
        )
        self.loop.run_until_complete(self.store.create())

    def ingest(self, corpus: Corpus) -> None:
        """``await store.add`` in chunks of :data:`CHUNK` documents."""
        store = self.store
        assert store is not None

        async def load() -> None:
            for rows in _chunks(corpus.n, CHUNK):
                await store.add(store_documents(corpus, rows))

        self.loop.run_until_complete(load())

    def ingest_rows(self, corpus: Corpus, rows: range) -> None:
        """One ``await store.add`` of these documents."""
        assert self.store is not None
        self.loop.run_until_complete(self.store.add(store_documents(corpus, rows)))

    def search(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[str]:
        """One awaited search (see :meth:`search_block` for the timed path)."""
        assert self.store is not None
        hits = self.loop.run_until_complete(self.store.search(_vec(vector), k=K, genre=genre))
        return [hit.id for hit in hits]

    def search_block(
        self,
        vectors: npt.NDArray[np.float32],
        genres: Sequence[str | None],
    ) -> tuple[list[int], list[list[str]]]:
        """Await each search in turn inside one coroutine, timing each await."""
        store = self.store
        assert store is not None
        clock = time.perf_counter_ns

        async def block() -> tuple[list[int], list[list[str]]]:
            latencies, results = [], []
            for vector, genre in zip(vectors, genres, strict=True):
                start = clock()
                hits = await store.search(_vec(vector), k=K, genre=genre)
                latencies.append(clock() - start)
                results.append([hit.id for hit in hits])
            return latencies, results

        return self.loop.run_until_complete(block())

    def raw_probe(self) -> PrebuiltSearch:
        """The raw query with redis.asyncio on this loop: the async store's baseline."""
        assert self.server is not None
        client = redis.asyncio.Redis.from_url(self.server.url, protocol=2)
        self._probe_clients.append(client)
        return AsyncPrebuiltSearch(self.loop, client, INDEX, self.key_prefix)

    def close(self) -> None:
        """Close the store and the loop, then stop the server."""
        if self.store is not None:
            store, self.store = self.store, None
            self.loop.run_until_complete(store.close())
        for client in self._probe_clients:
            self.loop.run_until_complete(client.aclose())
        self.loop.close()
        super().close()


class AsyncPrebuiltSearch(PrebuiltSearch):
    """:class:`PrebuiltSearch` awaited one query at a time on an event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: redis.asyncio.Redis,
        index: str,
        key_prefix: str,
    ) -> None:
        super().__init__(cast("redis.Redis", client), index, key_prefix)
        self.loop, self.async_client = loop, client

    def search_block(
        self, vectors: npt.NDArray[np.float32], genres: Sequence[str | None]
    ) -> tuple[list[int], list[list[str]]]:
        """Await each query in turn inside one coroutine, timing each await."""
        clock, client = time.perf_counter_ns, self.async_client

        async def block() -> tuple[list[int], list[list[str]]]:
            latencies, results = [], []
            for vector, genre in zip(vectors, genres, strict=True):
                start = clock()
                reply = await client.execute_command(*self.args(vector, genre))  # type: ignore[no-untyped-call]
                ids = self.ids(reply)
                latencies.append(clock() - start)
                results.append(ids)
            return latencies, results

        return self.loop.run_until_complete(block())


class RedisVLSystem(RedisSystem):
    """Plain redisvl: ``SearchIndex.from_dict``, ``index.load``, ``VectorQuery``."""

    name = "redisvl"
    storage = "json"

    def __init__(self) -> None:
        super().__init__()
        self.index: Any = None

    def schema(self, dims: int) -> dict[str, Any]:
        """The redisvl schema: its defaults, the shared fields."""
        json = self.storage == "json"
        vector = {
            "algorithm": "hnsw",
            "dims": dims,
            "distance_metric": "l2",
            "datatype": "float32",
        }
        return {
            "index": {
                "name": INDEX,
                "prefix": self.key_prefix.rstrip(":"),
                "key_separator": ":",
                "storage_type": self.storage,
            },
            "fields": [
                {"name": "content", "type": "text", **({"path": "$.content"} if json else {})},
                {"name": "genre", "type": "tag", **({"path": "$.genre[*]"} if json else {})},
                {
                    "name": "embedding",
                    "type": "vector",
                    **({"path": "$.embedding"} if json else {}),
                    "attrs": vector,
                },
            ],
        }

    def setup(self, dims: int) -> None:
        """Start a server and create the redisvl index."""
        from redisvl.index import SearchIndex

        url = self.start_server()
        self.index = SearchIndex.from_dict(self.schema(dims), redis_url=url)
        self.index.create()

    def record(self, corpus: Corpus, i: int) -> dict[str, Any]:
        """One document as redisvl loads it (JSON: the embedding as a list)."""
        return {
            "content": corpus.texts[i],
            "genre": list(corpus.genres[i]),
            "embedding": corpus.vectors[i].tolist(),
            "metadata": {"year": int(corpus.years[i])},
        }

    def ingest(self, corpus: Corpus) -> None:
        """``index.load`` in chunks of :data:`CHUNK` (redisvl batches its pipelines)."""
        for rows in _chunks(corpus.n, CHUNK):
            self.index.load(
                [self.record(corpus, i) for i in rows],
                keys=[f"{self.key_prefix}{corpus.ids[i]}" for i in rows],
            )

    def search(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[str]:
        """``index.query(VectorQuery(...))`` with a ``Tag`` filter."""
        from redisvl.query import VectorQuery
        from redisvl.query.filter import Tag

        query = VectorQuery(
            vector=vector,
            vector_field_name="embedding",
            return_fields=list(RETURN),
            num_results=K,
            filter_expression=None if genre is None else Tag("genre") == genre,
            dtype="float32",
        )
        cut = len(self.key_prefix)
        return [doc["id"][cut:] for doc in self.index.query(query)]

    def close(self) -> None:
        """Disconnect redisvl, then stop the server."""
        if self.index is not None:
            self.index.disconnect()
            self.index = None
        super().close()


class RedisVLHashSystem(RedisVLSystem):
    """redisvl with HASH storage and float32 bytes: the memory baseline for JSON."""

    name = "redisvl_hash"
    storage = "hash"
    queries = False

    def record(self, corpus: Corpus, i: int) -> dict[str, Any]:
        """One document as a hash: genres comma-joined, the vector as bytes."""
        return {
            "content": corpus.texts[i],
            "genre": ",".join(corpus.genres[i]),
            "embedding": corpus.vectors[i].astype(np.float32).tobytes(),
            "year": int(corpus.years[i]),
        }


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class ChromaSystem(System):
    """In-process Chroma (``PersistentClient`` in a temporary directory)."""

    name = "chroma"

    def __init__(self) -> None:
        self.path: Path | None = None
        self.client: Any = None
        self.collection: Any = None
        self._rss_before = 0

    def setup(self, dims: int) -> None:
        """Open a client on a new directory and create the collection."""
        import chromadb
        from chromadb.config import Settings

        self.dims = dims
        self.path = Path(tempfile.mkdtemp(prefix="bench-chroma-"))
        self.client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False)
        )
        self.collection = self.client.create_collection(
            INDEX,
            configuration={"hnsw": {"space": "l2", "ef_construction": 200, "max_neighbors": 16}},
            embedding_function=None,
        )

    def memory_before(self) -> None:
        """Record this process's RSS (Chroma runs in-process)."""
        self._rss_before = _rss_bytes()

    def ingest(self, corpus: Corpus) -> None:
        """``collection.add`` in Chroma's maximum batch size (at most :data:`CHUNK`)."""
        size = min(CHUNK, int(self.client.get_max_batch_size()))
        for rows in _chunks(corpus.n, size):
            self.collection.add(
                ids=[corpus.ids[i] for i in rows],
                embeddings=corpus.vectors[rows.start : rows.stop],
                documents=[corpus.texts[i] for i in rows],
                metadatas=[
                    {"genre": list(corpus.genres[i]), "year": int(corpus.years[i])} for i in rows
                ],
            )

    def wait_indexed(self, n: int) -> None:
        """Check the count and run one query, so lazily applied writes are included."""
        if self.collection.count() < n:
            raise RuntimeError(f"chroma holds {self.collection.count()} of {n} documents")
        self.collection.query(query_embeddings=np.zeros((1, self.dims)), n_results=1)

    def search(self, vector: npt.NDArray[np.float32], genre: str | None) -> list[str]:
        """``collection.query`` with ``where={"genre": {"$contains": genre}}``."""
        reply = self.collection.query(
            query_embeddings=vector[None, :],
            n_results=K,
            where=None if genre is None else {"genre": {"$contains": genre}},
            include=["documents", "metadatas", "distances"],
        )
        return list(reply["ids"][0])

    def memory(self, n: int) -> dict[str, Any]:
        """Process RSS growth (approximate: in-process) and on-disk size per document."""
        assert self.path is not None
        rss = _rss_bytes()
        return {
            "rss_before": self._rss_before,
            "rss_after": rss,
            "bytes_per_doc": (rss - self._rss_before) / n,
            "disk_bytes_per_doc": _dir_bytes(self.path) / n,
            "note": "process RSS growth (Chroma runs in-process), approximate",
        }

    def versions(self) -> dict[str, str]:
        """chromadb's version."""
        import chromadb

        return {"chromadb": chromadb.__version__}

    def close(self) -> None:
        """Drop the client and remove the directory."""
        self.collection = None
        if self.client is not None:
            # No close() in the API; clearing the system cache releases it.
            self.client.clear_system_cache()
            self.client = None
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


def make_system(name: str, *, raw_batch: int = 500) -> System:
    """A new, not yet set up, system by name."""
    factories: dict[str, Any] = {
        "raw": lambda: RawRedis(raw_batch),
        "store": StoreSystem,
        "store_async": AsyncStoreSystem,
        "store_f16": Float16StoreSystem,
        "redisvl": RedisVLSystem,
        "redisvl_hash": RedisVLHashSystem,
        "chroma": ChromaSystem,
    }
    return factories[name]()  # type: ignore[no-any-return]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid still exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def cpu_count() -> int:
    """Usable cores."""
    return len(os.sched_getaffinity(0))
