"""Faults: crashes, restarts, dropped connections, full memory, timeouts, racing writers.

Every test starts its own EmbeddedServer(s) and stops them (by their own pid).
The figures the tests measure are printed (run with ``pytest -s`` to see them).
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import redis

from redis_docstore import (
    DocstoreError,
    Document,
    DocumentStore,
    IncompleteResultsError,
    IndexNotReadyError,
    StoreConnectionError,
    StoreError,
    StoreFullError,
    UnsafeEvictionError,
    WriteError,
)
from redis_docstore._filters.conditions import Tag
from redis_docstore._server import EmbeddedServer, free_port

pytestmark = pytest.mark.slow

INDEX = "faults"
PREFIX = "faults"


class NoModel:
    """For stores whose documents all carry their embeddings: the model must not run."""

    def __init__(self, dims: int) -> None:
        self.dims = dims

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError(f"unexpected embedding of {len(texts)} texts")


def make_docs(n: int, dims: int, *, seed: int = 1, genres: int = 10) -> list[Document]:
    """``n`` documents ``d0..`` with precomputed embeddings and metadata."""
    vectors = np.random.default_rng(seed).normal(size=(n, dims)).astype(np.float32)
    return [
        Document(
            content=f"document {i} body",
            genre=[f"g{i % genres}", "all"],
            id=f"d{i}",
            embedding=vectors[i].tolist(),
            metadata={"i": i, "seed": seed},
        )
        for i in range(n)
    ]


def stored_form(doc: Document) -> dict[str, Any]:
    """The JSON object the store keeps for ``doc``, its embedding at float32 precision."""
    return {
        "content": doc.content,
        "genre": list(doc.genres),
        "embedding": float32(doc.embedding or []),
        "metadata": dict(doc.metadata or {}),
    }


def float32(values: Sequence[float]) -> list[float]:
    """Values rounded to float32, the index's precision.

    RedisJSON prints doubles with at most 16 significant digits, so a stored
    float32 value can come back a few ulps (of a double) away from what was
    written; at float32 precision it is the same.
    """
    return np.asarray(values, dtype=np.float32).tolist()  # type: ignore[no-any-return]


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def stored_documents(client: redis.Redis, prefix: str = PREFIX) -> dict[str, dict[str, Any]]:
    """Every document under ``prefix`` as stored, by id (meta hash left out; see float32)."""
    keys = sorted(
        k.decode()
        for k in client.scan_iter(match=f"{prefix}:*", count=1000)
        if k.decode() != f"{prefix}::meta"
    )
    docs: dict[str, dict[str, Any]] = {}
    for batch in chunks(keys, 1000):
        for key, raw in zip(batch, client.execute_command("JSON.MGET", *batch, "$"), strict=True):
            (doc,) = orjson.loads(raw)
            doc["embedding"] = float32(doc["embedding"])
            docs[key.removeprefix(f"{prefix}:")] = doc
    return docs


@contextmanager
def running(server: EmbeddedServer) -> Iterator[EmbeddedServer]:
    """Start ``server``; stop it (its own pid only) whatever happens."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def client_of(server: EmbeddedServer) -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=server.port)
    try:
        yield client
    finally:
        client.close()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        time.sleep(0.001)


# -- kill -9 mid-ingest -------------------------------------------------------------------


@pytest.mark.parametrize("appendfsync", ["always", "everysec"])
def test_kill_9_mid_ingest_keeps_acknowledged_writes_and_rerun_converges(
    tmp_path: Path, appendfsync: str
) -> None:
    docs = make_docs(3000, 8)
    expected = {d.id: stored_form(d) for d in docs}
    server = EmbeddedServer(tmp_path / "data", appendfsync=appendfsync)  # type: ignore[arg-type]
    with running(server):
        store = DocumentStore(
            server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(8), retry_timeout=0.3
        )
        store.create()
        acked: list[tuple[float, list[str]]] = []  # (when the call returned, its ids)
        failures: list[BaseException] = []

        def ingest() -> None:
            try:
                for chunk in chunks(docs, 100):
                    ids = store.add(chunk)
                    acked.append((time.monotonic(), ids))
            except BaseException as exc:
                failures.append(exc)

        thread = threading.Thread(target=ingest, name="ingest")
        thread.start()
        wait_for(lambda: len(acked) >= 8)
        time.sleep(random.uniform(0.0, 0.03))  # land anywhere in the next calls
        killed_at = time.monotonic()
        server.kill()
        thread.join(60)
        store.close()
        assert not thread.is_alive()
        # The kill interrupted the ingest: a typed error, not completion.
        assert len(failures) == 1 and isinstance(failures[0], StoreError), failures
        acked_ids = [i for _, ids in acked for i in ids]
        recent = {i for when, ids in acked if when > killed_at - 2.0 for i in ids}

        server.start()  # same data directory: replays the append-only file
        with client_of(server) as client:
            after_crash = stored_documents(client)
        lost = [i for i in acked_ids if i not in after_crash]
        wrong = [i for i, doc in after_crash.items() if doc != expected.get(i)]
        assert wrong == [], "documents present after the crash must be complete and exact"
        if appendfsync == "always":
            assert lost == [], "every acknowledged document survives kill -9"
        else:
            # Redis' bound for everysec: at most the writes of the last ~2 s.
            assert set(lost) <= recent

        # Re-running the same ingest converges to exactly the source.
        with DocumentStore(server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(8)) as again:
            for chunk in chunks(docs, 100):
                again.add(chunk)
            count = again.count()
            listed = [d.id for d in again.iter_documents(batch_size=1000)]
        with client_of(server) as client:
            final = stored_documents(client)
    assert count == 3000
    assert len(listed) == len(set(listed)) == 3000
    assert final == expected
    print(
        f"\n[kill -9, appendfsync={appendfsync}] acknowledged={len(acked_ids)} "
        f"present after restart={len(after_crash)} lost acknowledged={len(lost)} "
        f"(acknowledged in the last 2 s: {len(recent)}) "
        f"after re-run: count={count} duplicated={len(listed) - len(set(listed))}"
    )


# -- restart during queries ----------------------------------------------------------------


def test_queries_during_restarts_wait_or_fail_typed_never_partial(tmp_path: Path) -> None:
    docs = make_docs(30000, 16)
    port = free_port()  # fixed, so the stores' URL stays valid across restarts
    server = EmbeddedServer(tmp_path / "data", port=port)
    query = np.random.default_rng(99).normal(size=16).astype(np.float32).tolist()
    with running(server):
        options: dict[str, Any] = {
            "index": INDEX, "prefix": PREFIX, "embedder": NoModel(16), "algorithm": "flat"
        }  # fmt: skip
        # One store rides out a restart, the other gives up quickly (typed errors).
        stores = {
            "patient": DocumentStore(server.url, **options, retry_timeout=30.0),
            "impatient": DocumentStore(server.url, **options, retry_timeout=0.01),
        }
        try:
            for chunk in chunks(docs, 5000):
                stores["patient"].add(chunk)
            stores["impatient"].create()
            expected = [
                (h.id, h.distance) for h in stores["patient"].search(query, k=10, genre="g3")
            ]
            assert len(expected) == 10
            assert stores["patient"].count("g3") == 3000

            done = threading.Event()
            outcomes = {name: {"complete": 0, "typed error": 0, "waited": 0} for name in stores}
            problems: list[str] = []

            def query_loop(name: str) -> None:
                store, seen = stores[name], outcomes[name]
                while not done.is_set():
                    started = time.monotonic()
                    try:
                        hits = store.search(query, k=10, genre="g3")
                        count = store.count("g3")
                    except (StoreConnectionError, IndexNotReadyError):
                        seen["typed error"] += 1
                        time.sleep(0.01)
                        continue
                    except BaseException as exc:
                        problems.append(f"{name}: {type(exc).__name__}: {exc}")
                        continue
                    # Never a shorter (or different) list presented as complete.
                    if [(h.id, h.distance) for h in hits] != expected or count != 3000:
                        problems.append(f"{name}: {len(hits)} hits, count {count}")
                    seen["complete"] += 1
                    seen["waited"] += time.monotonic() - started > 0.05

            threads = [threading.Thread(target=query_loop, args=(name,)) for name in stores]
            for thread in threads:
                thread.start()
            downtime = []
            try:
                for _ in range(3):
                    time.sleep(0.4)
                    stopped = time.monotonic()
                    server.stop()
                    server.start()
                    downtime.append(round(time.monotonic() - stopped, 3))
                time.sleep(0.2)
            finally:
                done.set()
                for thread in threads:
                    thread.join(60)
            after = stores["patient"].search(query, k=10, genre="g3")
        finally:
            for store in stores.values():
                store.close()
    print(f"\n[restart during queries] 30000 docs, restarts took {downtime} s; {outcomes}")
    assert problems == []
    assert [(h.id, h.distance) for h in after] == expected
    # The patient store rode out every restart (its queries waited); the
    # impatient one failed with typed errors while the server was away.
    assert outcomes["patient"]["typed error"] == 0
    assert outcomes["patient"]["waited"] >= 3
    assert outcomes["impatient"]["typed error"] >= 1


# -- dropped connections and exhausted retries ---------------------------------------------


def test_client_kill_mid_batch_is_retried_without_duplicates() -> None:
    docs = make_docs(10000, 16)
    with running(EmbeddedServer()) as server, client_of(server) as admin:
        store = DocumentStore(
            server.url + "?client_name=docstore-test",
            index=INDEX,
            prefix=PREFIX,
            embedder=NoModel(16),
            algorithm="flat",
        )
        store.create()
        killed: list[int] = []
        stop = threading.Event()

        def killer() -> None:
            # Kill the store's connection while it is writing (its last command a
            # JSON.SET), then let it make progress for a while; five times.
            while not stop.is_set() and len(killed) < 5:
                for entry in admin.client_list():
                    if entry["name"] == "docstore-test" and entry["cmd"] == "json.set":
                        killed.append(admin.execute_command("CLIENT", "KILL", "ID", entry["id"]))
                        time.sleep(0.1)
                time.sleep(0.002)

        thread = threading.Thread(target=killer, name="client-kill")
        thread.start()
        try:
            ids = store.add(docs)
        finally:
            stop.set()
            thread.join(10)
        count = store.count()
        listed = [d.id for d in store.iter_documents(batch_size=2000)]
        final = stored_documents(admin)
        store.close()
    assert sum(killed) >= 1, "the store's connection was never killed during the add"
    assert ids == [d.id for d in docs]
    assert count == 10000
    assert len(listed) == len(set(listed)) == 10000
    assert final == {d.id: stored_form(d) for d in docs}
    print(f"\n[CLIENT KILL] {sum(killed)} connection(s) killed during one add of 10000: complete")


def test_exhausted_retries_say_which_documents_are_not_confirmed(tmp_path: Path) -> None:
    docs = make_docs(10000, 16)
    ids = [d.id for d in docs]
    server = EmbeddedServer(tmp_path / "data", appendfsync="always")
    with running(server):
        store = DocumentStore(
            server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(16), retry_timeout=0.5
        )
        store.create()
        outcome: list[Any] = []

        def add() -> None:
            try:
                outcome.append(store.add(docs))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=add, name="add")
        with client_of(server) as watcher:
            thread.start()
            wait_for(lambda: watcher.dbsize() >= 2000)
            server.kill()  # for good: no server comes back while the store retries
        thread.join(120)
        store.close()
        assert not thread.is_alive()
        (error,) = outcome
        assert isinstance(error, WriteError), error
        assert not isinstance(error, StoreFullError)
        confirmed, unconfirmed = error.confirmed, error.unconfirmed
        assert confirmed + unconfirmed == ids  # in order, each id once
        assert len(confirmed) >= 1500
        assert f"{len(unconfirmed)} not confirmed" in str(error)

        server.start()
        with client_of(server) as client:
            after_crash = stored_documents(client)
        expected = {d.id: stored_form(d) for d in docs}
        assert all(after_crash.get(i) == expected[i] for i in confirmed)
        with DocumentStore(server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(16)) as again:
            again.add([d for d in docs if d.id in set(unconfirmed)])
            count = again.count()
        with client_of(server) as client:
            final = stored_documents(client)
    assert count == 10000
    assert final == expected
    present = sum(i in after_crash for i in unconfirmed)
    print(
        f"\n[retries exhausted] WriteError: confirmed={len(confirmed)} "
        f"unconfirmed={len(unconfirmed)} (of which present after restart: {present}); "
        f"re-adding the unconfirmed: count={count}"
    )


def test_retry_timeout_bounds_the_wait_for_a_dead_server() -> None:
    with running(EmbeddedServer()) as server:
        store = DocumentStore(
            server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(4), retry_timeout=0.5
        )
        store.add(Document("x", "g", id="x", embedding=[1.0, 2.0, 3.0, 4.0]))
        server.kill()
        started = time.monotonic()
        with pytest.raises(StoreConnectionError):
            store.count()
        elapsed = time.monotonic() - started
        store.close()
    print(f"\n[retry_timeout=0.5] a dead server failed count() after {elapsed:.2f} s")
    # retry_timeout, plus at most one back-off step and connection attempts.
    assert elapsed < 0.5 + 1.5


# -- maxmemory ------------------------------------------------------------------------------


def test_noeviction_full_memory_is_a_typed_error_and_reads_keep_working() -> None:
    extra = ("--maxmemory", "30mb", "--maxmemory-policy", "noeviction")
    with running(EmbeddedServer(extra_args=extra)) as server, client_of(server) as client:
        store = DocumentStore(
            server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(32), algorithm="flat"
        )
        rng = np.random.default_rng(5)
        written: list[str] = []
        error: WriteError | None = None
        for round_ in range(100):  # 1500 documents (several write batches) per call
            vectors = rng.normal(size=(1500, 32)).astype(np.float32)
            batch = [
                Document(
                    content=f"document {round_}-{i}",
                    genre=f"g{i % 7}",
                    id=f"r{round_}x{i}",
                    embedding=vectors[i].tolist(),
                    metadata={"round": round_, "i": i},
                )
                for i in range(1500)
            ]
            try:
                store.add(batch)
            except WriteError as exc:
                error = exc
                break
            written += [d.id for d in batch]
        assert error is not None, "30 MB never filled up"
        batch_ids = [d.id for d in batch]
        assert sorted(error.confirmed + error.unconfirmed) == sorted(batch_ids)
        assert error.unconfirmed, "the error lists what was not written"
        # A write Redis refused for memory was not executed: unconfirmed means absent.
        assert all(store.get(i) is None for i in error.unconfirmed)
        # What was confirmed is readable and searchable; reads keep working.
        for doc_id in [*written[:3], *error.confirmed[:3], *error.confirmed[-3:]]:
            assert store.get(doc_id) is not None
        total = len(written) + len(error.confirmed)
        assert store.count() == total
        assert sum(store.genres().values()) == total
        assert len(store.list_documents(limit=50)) == 50
        assert sum(1 for _ in store.iter_documents(batch_size=5000)) == total
        if error.confirmed:
            last = store.get(error.confirmed[-1])
            assert last is not None and last.embedding is not None
            (hit,) = store.search(last.embedding, k=1, genre=last.genre)
            assert hit.id == error.confirmed[-1]
        used = client.info("memory")["used_memory_human"]
        store.close()
    print(
        f"\n[maxmemory 30mb noeviction] {type(error).__name__} after {total} documents "
        f"(used_memory {used}): confirmed={len(error.confirmed)} "
        f"unconfirmed={len(error.unconfirmed)}; message: {str(error)[:120]}"
    )
    # Checked last, so the checks above run even when it fails: full memory must
    # say so (StoreFullError), not be a generic write failure.
    assert isinstance(error, StoreFullError), f"{type(error).__name__}: {error}"


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_evicting_policies_are_refused_or_warned_about(policy: str) -> None:
    extra = ("--maxmemory", "30mb", "--maxmemory-policy", policy)
    with running(EmbeddedServer(extra_args=extra)) as server:
        with (
            DocumentStore(server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(4)) as store,
            pytest.raises(UnsafeEvictionError, match=policy),
        ):
            store.create()
        with (
            DocumentStore(
                server.url,
                index=INDEX,
                prefix=PREFIX,
                embedder=NoModel(4),
                allow_eviction=True,
            ) as store,
            pytest.warns(RuntimeWarning, match=policy),
        ):
            store.create()


def test_volatile_policy_opens_without_warning() -> None:
    extra = ("--maxmemory", "30mb", "--maxmemory-policy", "volatile-lru")
    with (
        running(EmbeddedServer(extra_args=extra)) as server,
        DocumentStore(server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(4)) as store,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        store.create()
        store.add(Document("x", "g", id="x", embedding=[1.0, 2.0, 3.0, 4.0]))
        assert store.count() == 1


# -- query timeout -------------------------------------------------------------------------


def test_query_timeouts_never_return_partial_results_as_complete() -> None:
    n = 50000
    docs = [
        Document(
            content=f"document {i} word{i % 100}",
            genre=f"g{i % 50}",
            id=f"d{i}",
            embedding=vector,
        )
        for i, vector in enumerate(
            np.random.default_rng(3).normal(size=(n, 8)).astype(np.float32).tolist()
        )
    ]
    query = [0.5] * 8
    half = [f"g{i}" for i in range(25)]
    queries: dict[str, Callable[[DocumentStore], Any]] = {
        "count(25 genres)": lambda s: s.count(half),
        "count(where !=)": lambda s: s.count(where=Tag("genre") != "g1"),
        "genres()": lambda s: s.genres(),
        "search(k=10)": lambda s: [h.id for h in s.search(query, k=10)],
        "search(25 genres)": lambda s: [h.id for h in s.search(query, k=10, genre=half)],
        "search(max_distance)": lambda s: [h.id for h in s.search(query, max_distance=4.0)],
        "search(text)": lambda s: [h.id for h in s.search(query, k=10, text="word5")],
        "list_documents()": lambda s: [d.id for d in s.list_documents(limit=20)],
        "iter_documents()": lambda s: sum(1 for _ in s.iter_documents(batch_size=5000)),
    }
    with running(EmbeddedServer()) as server, client_of(server) as admin:
        store = DocumentStore(
            server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(8), algorithm="flat"
        )
        started = time.monotonic()
        for chunk in chunks(docs, 5000):
            store.add(chunk)
        build = time.monotonic() - started
        problems: list[str] = []
        expected: dict[str, Any] = {}
        for name, run in queries.items():
            try:
                expected[name] = run(store)
            except DocstoreError as exc:  # without a timeout: a bug of its own
                problems.append(f"{name} failed before any timeout: {type(exc).__name__}: {exc}")
        assert expected["count(25 genres)"] == 25000
        assert expected["iter_documents()"] == n

        tally: dict[str, dict[str, int]] = {}
        # Test code configures the server; the library never does.
        admin.execute_command("FT.CONFIG", "SET", "TIMEOUT", "1")
        for on_timeout in ("RETURN", "FAIL"):
            admin.execute_command("FT.CONFIG", "SET", "ON_TIMEOUT", on_timeout)
            for name, run in queries.items():
                if name not in expected:
                    continue
                seen = tally.setdefault(f"{on_timeout} {name}", {"complete": 0, "typed": 0})
                for _ in range(4):
                    try:
                        got = run(store)
                    except IncompleteResultsError:
                        seen["typed"] += 1
                        continue
                    seen["complete"] += 1
                    if got != expected[name]:
                        shown = got if isinstance(got, int) else f"{type(got).__name__}"
                        problems.append(
                            f"ON_TIMEOUT {on_timeout}: {name} returned {shown} without an "
                            f"error (complete: {expected[name]!r:.60})"
                        )
        store.close()
    print(f"\n[query timeout] built {n} docs in {build:.1f} s; outcomes: {tally}")
    print("\n".join(problems))
    timed_out = sum(seen["typed"] for seen in tally.values())
    assert timed_out >= 1, "no query ever timed out: the test proves nothing"
    # KNN and range searches carry TIMEOUT 0: complete every time, never an error.
    for on_timeout in ("RETURN", "FAIL"):
        for name in ("search(k=10)", "search(25 genres)", "search(max_distance)"):
            assert tally[f"{on_timeout} {name}"] == {"complete": 4, "typed": 0}, name
    assert problems == []


# -- concurrent writers ----------------------------------------------------------------------

WRITERS = 4
SHARED_IDS = 500


def writer_docs(k: int) -> list[Document]:
    """Writer ``k``'s version of the shared documents: every field derives from ``k``."""
    return [
        Document(
            content=f"writer {k} document {i}",
            genre=[f"writer-{k}", f"g{i % 5}"],
            id=f"w{i}",
            embedding=[float(k), float(i), float(k * 1000 + i), 1.0],
            metadata={"writer": k, "i": i, "tag": "x" * k},
        )
        for i in range(SHARED_IDS)
    ]


def write_as(url: str, k: int, rounds: int, go: Any) -> None:
    """One writer process: the shared ids, in random order, ``rounds`` times."""
    rng = random.Random(k)
    docs = writer_docs(k)
    with DocumentStore(url, index=INDEX, prefix=PREFIX, embedder=NoModel(4)) as store:
        go.wait(60)  # every writer is ready: they start together
        for _ in range(rounds):
            order = list(docs)
            rng.shuffle(order)
            for chunk in chunks(order, 20):
                store.add(chunk)


def test_concurrent_writer_processes_leave_whole_documents() -> None:
    context = multiprocessing.get_context("spawn")
    with running(EmbeddedServer()) as server, client_of(server) as client:
        # The index exists before the race (creating it concurrently is the next test).
        with DocumentStore(server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(4)) as first:
            first.create()
        go = context.Barrier(WRITERS)
        processes = [
            context.Process(target=write_as, args=(server.url, k, 5, go), name=f"writer-{k}")
            for k in range(WRITERS)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
        assert [p.exitcode for p in processes] == [0] * WRITERS
        with DocumentStore(server.url, index=INDEX, prefix=PREFIX, embedder=NoModel(4)) as store:
            count = store.count()
            per_writer = {k: store.count(f"writer-{k}") for k in range(WRITERS)}
            listed = [d.id for d in store.iter_documents()]
        final = stored_documents(client)
    versions = {k: {d.id: stored_form(d) for d in writer_docs(k)} for k in range(WRITERS)}
    torn = [
        doc_id
        for doc_id, doc in final.items()
        if not any(versions[k].get(doc_id) == doc for k in range(WRITERS))
    ]
    assert torn == [], "every document is one writer's complete version"
    assert sorted(final) == sorted(f"w{i}" for i in range(SHARED_IDS))
    assert count == SHARED_IDS
    assert len(listed) == len(set(listed)) == SHARED_IDS
    assert sum(per_writer.values()) == SHARED_IDS
    print(f"\n[{WRITERS} writer processes] count={count}; documents won per writer: {per_writer}")


def test_concurrent_first_use_of_a_new_index() -> None:
    """Several clients opening the same new store at once: all of them work."""
    errors: list[str] = []
    counts: list[int] = []
    with running(EmbeddedServer()) as server, client_of(server) as client:
        for round_ in range(10):
            names = {"index": f"race{round_}", "prefix": f"race{round_}"}
            go = threading.Barrier(WRITERS)

            def open_and_add(k: int, names: dict[str, str] = names, go: Any = go) -> None:
                doc = Document(f"text {k}", "g", id=f"d{k}", embedding=[1.0, 2.0, 3.0, float(k)])
                with DocumentStore(server.url, **names, embedder=NoModel(4)) as store:
                    go.wait(10)  # every client has its store: first use at once
                    try:
                        store.add(doc)
                    except Exception as exc:
                        errors.append(f"{names['index']}, client {k}: {type(exc).__name__}: {exc}")

            threads = [threading.Thread(target=open_and_add, args=(k,)) for k in range(WRITERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            with DocumentStore(server.url, **names, embedder=NoModel(4)) as store:
                counts.append(store.count())
        indexes = sorted(i.decode() for i in client.execute_command("FT._LIST"))
    print(f"\n[concurrent first use] {len(errors)} of {10 * WRITERS} clients failed: {errors[:1]}")
    assert indexes == sorted(f"race{r}" for r in range(10))
    assert errors == []
    assert counts == [WRITERS] * 10
