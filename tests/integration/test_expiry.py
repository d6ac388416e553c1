"""Expiry against a real Redis Stack, for the sync and the async store: short TTLs.

Redis deletes an expired key when a command touches it, or in its background
cycle (10 times a second); the index drops the key when told of its deletion.
The tests wait for that with a deadline, then check that every read has
forgotten the document. Until the deletion, an expired document is still
matched by the index with no fields at all: the last tests stop the background
cycle on a private server (``DEBUG SET-ACTIVE-EXPIRE 0``) to hold that moment.
"""

from __future__ import annotations

import asyncio
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_docstore import (
    AsyncDocumentStore,
    Document,
    DocumentNotFoundError,
    DocumentStore,
    InvalidDocumentError,
    Num,
    StoreFullError,
    Tag,
    ValidationError,
    WriteError,
)
from redis_docstore._server import EmbeddedServer
from redis_docstore.testing import StoreNames
from tests.integration.test_search_api import open_api

FIELDS = {"year": "numeric", "author": "tag"}


class Tiny:
    """A deterministic 4-dim embedder for tests about storage, not meaning."""

    dims = 4
    name = "tiny-4"

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), float(t.count("e")), 1.0] for t in texts]


class TinyThree:
    """Another model (3 dims), to re-embed with."""

    dims = 3
    name = "tiny-3"

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("o")), 1.0] for t in texts]


def docs(n: int, *, prefix: str = "d", genre: str = "tales") -> list[Document]:
    return [
        Document(
            content=f"a tale about apples number {i} {prefix}",
            genre=[genre, "extra"] if i % 2 else genre,
            id=f"{prefix}{i}",
            metadata={"year": 1900 + i, "author": f"author{i % 3}", "n": i},
        )
        for i in range(n)
    ]


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, redis_stack_url: str, store_names: StoreNames) -> Any:
    """A store (sync, or async through an adapter) on a fresh index, tiny model."""
    yield from open_api(
        request.param, redis_stack_url, store_names, Tiny(), metadata_fields=FIELDS
    )


def wait_until(condition: Callable[[], bool], *, deadline: float = 5.0) -> float:
    """Poll ``condition`` until true; the seconds it took (fails after ``deadline``)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < deadline, "still not true after the deadline"
        time.sleep(0.05)
    return time.monotonic() - start


SEARCHES = (
    "search", "filtered", "genre", "range", "hybrid", "mmr", "many", "groups", "recommend",
    "lean", "list", "iter",
)  # fmt: skip


def every_read(api: Any) -> dict[str, Any]:
    """What each kind of read sees: ids, counts, genres."""
    query = "a tale about apples"
    return {
        "search": {h.id for h in api.search(query, k=50)},
        "filtered": {h.id for h in api.search(query, k=50, where=Num("year") >= 1900)},
        "genre": {h.id for h in api.search(query, k=50, genre="tales")},
        "range": {h.id for h in api.search(query, k=50, max_distance=1e9)},
        "hybrid": {h.id for h in api.search(query, k=50, text="apples")},
        "mmr": {h.id for h in api.search(query, k=50, mmr_lambda=0.5)},
        "many": {h.id for hits in api.search_many([query], k=50) for h in hits},
        "groups": {
            h.id for g in api.search_groups(query, limit=50, group_size=50) for h in g.hits
        },
        "recommend": {h.id for h in api.recommend([[30.0, 3.0, 1.0, 1.0]], k=50)},
        "lean": {h.id for h in api.search(query, k=50, fields=["id", "distance"])},
        "list": {d.id for d in api.list_documents(limit=100)},
        "iter": {d.id for d in api.iter_documents()},
        "count": api.count(),
        "count_genre": api.count(genre="extra"),
        "genres": api.genres(),
        "facets": api.facets("author"),
        "stats": api.stats("year").count,
    }


def test_documents_added_with_a_ttl_vanish_from_every_read(api: Any) -> None:
    api.add(docs(4, prefix="keep"))
    api.add(docs(4, prefix="gone"), ttl=2)  # time enough for every read first, under load
    added = time.monotonic()  # the expiry instant is at most 2 s after this
    left = api.ttl("gone0")
    assert left is not None and 1.0 < left <= 2.0
    assert api.ttl("keep0") is None
    before = every_read(api)
    assert before["count"] == 8 and before["search"] == before["iter"]
    time.sleep(max(0.0, added + 2.01 - time.monotonic()))
    assert api.get("gone1") is None  # a read of an expired key never returns it
    waited = wait_until(lambda: api.count() == 4)
    kept = {f"keep{i}" for i in range(4)}
    assert every_read(api) == {
        **{name: kept for name in SEARCHES},
        "count": 4,
        "count_genre": 2,
        "genres": {"tales": 4, "extra": 2},
        "facets": {"author0": 2, "author1": 1, "author2": 1},
        "stats": 4,
    }
    assert all(api.get(f"gone{i}") is None for i in range(4))
    with pytest.raises(DocumentNotFoundError):
        api.ttl("gone0")
    print(f"\n[expiry] expired documents left the index {waited + 2.0:.2f} s after the add")


def test_an_add_replaces_the_expiry_and_a_timedelta_is_seconds(api: Any) -> None:
    (doc,) = docs(1)
    api.add(doc, ttl=100)
    assert 99 < api.ttl("d0") <= 100
    api.add(doc)  # replaces the document whole: no ttl, no expiry
    assert api.ttl("d0") is None
    api.add(doc, ttl=timedelta(minutes=2))
    assert 119 < api.ttl("d0") <= 120
    api.add(doc, ttl=5)  # a shorter one replaces a longer one
    assert 0 < api.ttl("d0") <= 5
    api.add([doc, docs(2)[1]], ttl=30)
    assert all(29 < api.ttl(i) <= 30 for i in ("d0", "d1"))


def test_load_gives_unchanged_documents_the_expiry_asked_for(api: Any) -> None:
    batch = docs(3)
    api.add(batch[:2], ttl=100)
    report = api.load(batch, ttl=30)  # d0, d1 unchanged: their TTL is refreshed
    assert report.unchanged == ["d0", "d1"] and report.written == ["d2"]
    assert all(29 < api.ttl(f"d{i}") <= 30 for i in range(3))
    report = api.load(batch)  # no ttl: unchanged documents lose theirs
    assert report.unchanged == ["d0", "d1", "d2"] and report.written == []
    assert [api.ttl(f"d{i}") for i in range(3)] == [None, None, None]
    assert api.load(batch).unchanged == ["d0", "d1", "d2"]  # nothing to do, nothing done


def test_expire_and_persist_say_how_many_they_changed(
    api: Any, redis_stack_url: str, store_names: StoreNames, redis_client: redis.Redis
) -> None:
    api.add(docs(3))
    # Another store, same ids under another prefix: never touched.
    with DocumentStore(
        redis_stack_url,
        index=store_names.index + "_other",
        prefix=store_names.prefix + "_other",
        embedder=Tiny(),
        metadata_fields=FIELDS,
    ) as other:
        other.add(docs(3))
        try:
            assert api.expire(["d0", "d1", "d0", "missing"], 50) == 2  # distinct, stored
            assert api.expire("d2", timedelta(seconds=60)) == 1
            assert api.expire([], 5) == 0
            assert 49 < api.ttl("d0") <= 50 and 59 < api.ttl("d2") <= 60
            assert [other.ttl(f"d{i}") for i in range(3)] == [None, None, None]
            assert api.persist(["d0", "d0", "missing"]) == 1
            assert api.persist("d0") == 0  # had none any more
            assert api.ttl("d0") is None and api.ttl("d1") is not None
            assert other.persist(["d1", "d2"]) == 0
        finally:
            other.drop(delete_documents=True)
    keys = [f"{store_names.prefix}:d{i}" for i in range(3)]
    assert [redis_client.pttl(k) > 0 for k in keys] == [False, True, True]


@pytest.mark.parametrize(
    "seconds", [0, -1, 0.0, math.nan, math.inf, "5", True, None, timedelta(0), 1e12, [5]]
)
def test_bad_seconds_change_nothing(api: Any, seconds: object) -> None:
    api.add(docs(1))
    with pytest.raises(ValidationError):
        api.expire("d0", seconds)
    if seconds is not None:  # ttl=None is the default: no expiry
        with pytest.raises(ValidationError):
            api.add(docs(2)[1], ttl=seconds)
        with pytest.raises(ValidationError):
            api.load(docs(3), ttl=seconds)
    assert api.ttl("d0") is None
    assert api.count() == 1 and api.get("d1") is None


@pytest.mark.parametrize("ids", ["a:b", "", ["ok", "a*"], [5], "has space"])
def test_bad_ids_change_nothing(api: Any, ids: Any) -> None:
    api.add(docs(1, prefix="ok"))
    with pytest.raises(InvalidDocumentError):
        api.expire(ids, 5)
    with pytest.raises(InvalidDocumentError):
        api.persist(ids)
    if isinstance(ids, str):
        with pytest.raises(InvalidDocumentError):
            api.ttl(ids)
    assert api.ttl("ok0") is None


def test_updates_keep_the_expiry(api: Any) -> None:
    api.add(docs(3), ttl=100)
    api.update("d0", metadata={"year": 2000})
    api.update("d1", content="an entirely new text", genre="other")
    assert api.update(where=Num("year") == 1902, metadata={"seen": True}) == ["d2"]
    assert all(98 < api.ttl(f"d{i}") <= 100 for i in range(3))
    assert api.get("d2").metadata["seen"] is True


def test_reembed_carries_each_expiry_time(
    api: Any, redis_client: redis.Redis, store_names: StoreNames
) -> None:
    api.add(docs(3, prefix="keep"))
    api.add(docs(3, prefix="temp"), ttl=100)
    api.add(docs(2, prefix="gone"), ttl=0.3)
    times = {
        f"temp{i}": redis_client.pexpiretime(f"{store_names.prefix}:temp{i}") for i in range(3)
    }
    time.sleep(0.5)
    try:
        assert api.reembed(TinyThree(), batch_size=2) == 6  # the expired ones are not copied
        prefix = api.info()["prefix"]
        assert prefix == f"{store_names.prefix}.v2:"
        for doc_id, at in times.items():
            assert redis_client.pexpiretime(prefix + doc_id) == at  # the same instant
        assert [api.ttl(f"keep{i}") for i in range(3)] == [None, None, None]
        assert api.count() == 6 and api.get("gone0") is None
    finally:
        api.drop(delete_documents=True)  # the new generation's keys and index


def test_a_restarted_server_drops_what_expired_while_it_was_down(tmp_path: Path) -> None:
    # The append-only file keeps each key's absolute expiry time.
    server = EmbeddedServer(tmp_path / "data")
    names = {
        "index": "restart",
        "prefix": "restart",
        "embedder": Tiny(),
        "metadata_fields": FIELDS,
    }
    server.start()
    try:
        with DocumentStore(server.url, **names) as store:
            store.add(docs(3, prefix="keep"))
            store.add(docs(3, prefix="gone"), ttl=1)
            store.add(docs(1, prefix="later"), ttl=3600)
        server.stop()
        time.sleep(1.5)  # they expire while the server is down
        server.start()
        with DocumentStore(server.url, **names) as store:
            wait_until(lambda: store.count() == 4)
            assert {d.id for d in store.iter_documents()} == {"keep0", "keep1", "keep2", "later0"}
            assert {h.id for h in store.search("a tale", k=10)} == {
                "keep0", "keep1", "keep2", "later0",
            }  # fmt: skip
            left = store.ttl("later0")
            assert left is not None and 3590 < left < 3600
    finally:
        server.stop()


def test_a_full_server_never_keeps_a_document_without_the_ttl_it_was_given() -> None:
    # noeviction: Redis refuses JSON.SET as it is queued, and then the document's EXEC.
    server = EmbeddedServer(extra_args=["--maxmemory", "30mb", "--maxmemory-policy", "noeviction"])
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        with DocumentStore(server.url, index="full", prefix="full", embedder=Tiny()) as store:
            error: WriteError | None = None
            for round_ in range(200):  # 500 documents of ~2 KB per call
                batch = [
                    Document(content=f"{round_}-{i} " + "x" * 2000, genre="g", id=f"r{round_}x{i}")
                    for i in range(500)
                ]
                try:
                    store.add(batch, ttl=3600)
                except WriteError as exc:
                    error = exc
                    break
            assert isinstance(error, StoreFullError), error
            assert error.confirmed and error.unconfirmed
            keys = [k for k in client.scan_iter(match="full:*", count=1000) if k != b"full::meta"]
            ttls = [client.pttl(k) for k in keys]
            assert len(keys) > 1000 and all(t > 3_500_000 for t in ttls), min(ttls)
            assert all(store.get(i) is None for i in error.unconfirmed)
            assert store.count() == len(keys)
        client.close()
    finally:
        server.stop()


# -- expired, not yet deleted; eviction policies ----------------------------------------------


@pytest.fixture(scope="module")
def private_server() -> Iterator[EmbeddedServer]:
    """A server of our own: DEBUG allowed (to stop active expiry), a volatile policy."""
    server = EmbeddedServer(
        extra_args=["--enable-debug-command", "local", "--maxmemory-policy", "volatile-lru"]
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sync", "async"])
def held(request: pytest.FixtureRequest, private_server: EmbeddedServer) -> Iterator[Any]:
    """A store on the private server, whose active expiry is stopped during the test."""
    names = StoreNames(index=f"held_{request.param}", prefix=f"held_{request.param}")
    client = redis.Redis.from_url(private_server.url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # volatile-lru: tested below
        for store in open_api(request.param, private_server.url, names, Tiny(), **{
            "metadata_fields": FIELDS, "overwrite": True,
        }):  # fmt: skip
            client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
            try:
                yield store
            finally:
                client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
                store.drop(delete_documents=True)
                client.close()


def test_expired_documents_not_yet_deleted_are_left_out(held: Any) -> None:
    held.add(docs(4, prefix="keep"))
    held.add(docs(4, prefix="gone"), ttl=0.2)
    time.sleep(0.4)
    kept = {f"keep{i}" for i in range(4)}
    seen = every_read(held)
    # The index still matches them: counts include them until Redis deletes them ...
    assert (seen["count"], seen["count_genre"], seen["genres"]) == (
        8, 4, {"tales": 8, "extra": 4},
    )  # fmt: skip
    assert (seen["facets"], seen["stats"]) == ({"author0": 4, "author1": 2, "author2": 2}, 8)
    # ... but no search or listing that reads documents returns one that no longer exists;
    gone = {f"gone{i}" for i in range(4)}
    for name in SEARCHES:
        assert seen[name] == (kept | gone if name == "lean" else kept), name
    # a search for ids and distances only never reads them: a get() of its hit says None.
    assert all(held.get(i) is None for i in gone)
    # Changes by filter skip them (nothing re-created), dry runs too.
    assert held.update(where=Num("year") >= 1900, metadata={"x": 1}, dry_run=True) == sorted(kept)
    assert held.update(where=Tag("genre") == "tales", metadata={"x": 1}) == sorted(kept)
    # A command that touches a key deletes it if expired (JSON.GET above, EXISTS of
    # a dry run), and the index forgets it: counts are exact again.
    assert held.delete(sorted(gone), dry_run=True) == 0
    assert (held.count(), held.genres(), held.stats("year").count) == (
        4, {"tales": 4, "extra": 2}, 4,
    )  # fmt: skip
    assert {h.id for h in held.search("a tale", k=50, fields=["id", "distance"])} == kept
    assert held.delete(where=Tag("genre") == "tales") == 4


def test_ttls_on_a_volatile_policy_warn_once_per_store(private_server: EmbeddedServer) -> None:
    names = {"index": "volatile", "prefix": "volatile", "embedder": Tiny(), "overwrite": True}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning without a TTL
        with DocumentStore(private_server.url, **names) as store:
            store.add(docs(2))
            store.persist("d0")
    with DocumentStore(private_server.url, **names) as store:
        try:
            with pytest.warns(RuntimeWarning, match="volatile-lru.*before they expire"):
                store.add(docs(1), ttl=60)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # once per store
                store.expire("d1", 60)
                store.add(docs(1), ttl=60)
        finally:
            store.drop(delete_documents=True)

    async def run() -> None:
        store = AsyncDocumentStore(private_server.url, **names)
        try:
            with pytest.warns(RuntimeWarning, match="volatile-lru"):
                await store.expire("d0", 60)
        finally:
            await store.drop(delete_documents=True)
            await store.close()

    asyncio.run(run())
