"""Model migration: reembed() builds a new generation and switches the alias."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import redis

from redis_docstore import Document, DocumentStore, SchemaMismatchError
from redis_docstore.testing import StoreNames


class Letters:
    """A 4-dim embedder counting letters (the 'old model')."""

    name = "letters-v1"
    dims = 4

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), float(t.count("e")), 1.0] for t in texts]


class Vowels:
    """A 3-dim embedder (the 'new model', other dims)."""

    name = "vowels-v2"
    dims = 3

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(t.count("o")), float(t.count("i")), 1.0] for t in texts]


DOCS = [
    Document(content=f"document {'o' * i}{'i' * (9 - i)}", genre=["g", f"g{i % 3}"], id=f"d{i}")
    for i in range(10)
]


def keys(client: redis.Redis, pattern: str) -> set[str]:
    return {k.decode() for k in client.scan_iter(match=pattern, count=1000)}


def test_reembed_switches_to_a_complete_new_generation(
    redis_stack_url: str, store_names: StoreNames, redis_client: redis.Redis
) -> None:
    names = {"index": store_names.index, "prefix": store_names.prefix}
    with DocumentStore(redis_stack_url, embedder=Letters(), **names) as store:
        store.add(DOCS)
        assert store.reembed(Vowels(), batch_size=3) == len(DOCS)
        assert store.count() == len(DOCS)
        assert store.count("g1") == 3
        doc = store.get("d4")
        assert doc is not None and doc.embedding == [5.0, 5.0, 1.0]  # "document" has an o
        assert doc.genre == ["g", "g1"]
        (hit,) = store.search([10.0, 0.0, 1.0], k=1)
        assert hit.id == "d9"
        # The old generation's keys are gone; the new ones carry the documents.
        assert keys(redis_client, f"{store_names.prefix}:*") == {f"{store_names.prefix}::meta"}
        assert len(keys(redis_client, f"{store_names.prefix}.v2:*")) == len(DOCS)
        info = store.info()
        assert info["physical_index"] == f"{store_names.index}.v2"
        assert info["embedder"] == "vowels-v2" and info["generation"] == 2

    # Reopening with the new model works; with the old one it is a typed error.
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as again:
        assert again.count() == len(DOCS)
        assert again.search([1.0, 9.0, 1.0], k=1)[0].id == "d0"
        again.add([Document(content="new one", genre="g", id="n1")])
        assert again.get("n1") is not None
    with (
        DocumentStore(redis_stack_url, embedder=Letters(), **names) as old,
        pytest.raises(SchemaMismatchError, match="embedder"),
    ):
        old.count()

    # A second migration moves the alias again, and drop cleans everything up.
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as store:
        assert store.reembed(Letters()) == len(DOCS) + 1
        assert store.info()["physical_index"] == f"{store_names.index}.v3"
        assert store.get("n1") is not None
        store.drop(delete_documents=True)
    leftovers = keys(redis_client, f"{store_names.prefix}*")
    assert leftovers == set()


def test_searches_during_reembed_use_the_old_index(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    names = {"index": store_names.index, "prefix": store_names.prefix}
    with DocumentStore(redis_stack_url, embedder=Letters(), **names) as store:
        store.add(DOCS)
        observer = DocumentStore(redis_stack_url, embedder=Letters(), **names)
        seen: list[int] = []

        class Watching(Vowels):
            def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
                # Mid-migration, another client still sees every document.
                seen.append(observer.count())
                return super().embed_many(texts)

        with observer:
            store.reembed(Watching(), batch_size=4)
        assert seen == [len(DOCS)] * 3


def test_every_write_acknowledged_during_a_migration_is_in_the_new_generation(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    """Two writers (one sharing the migrating store, one with a store object of its own,
    as another process) add, update and delete documents all through a 20,000-document
    migration. A write is refused with a typed error while it runs; afterwards every
    acknowledged write is there and every acknowledged delete is not."""
    import random
    import threading
    import time

    from redis_docstore import (
        DocumentNotFoundError,
        MigrationInProgressError,
        StoreReembeddedError,
    )

    names = {"index": store_names.index, "prefix": store_names.prefix}
    store = DocumentStore(redis_stack_url, embedder=Letters(), **names)
    other = DocumentStore(redis_stack_url, embedder=Letters(), **names)
    base = [
        Document(content=f"base {i}", genre="g", id=f"b{i}", embedding=[i % 7, 1.0, 2.0, 1.0])
        for i in range(20_000)
    ]
    for start in range(0, len(base), 5_000):
        store.add(base[start : start + 5_000])
    assert other.count() == 20_000  # the other client has opened the store
    stop = threading.Event()
    # Per writer: (seconds since start, op, id, outcome): "present:<content>", "absent",
    # or "unknown" when the write was refused.
    logs: dict[str, list[tuple[float, str, str]]] = {"shared": [], "other": []}
    began = time.monotonic()

    def write(tag: str, client: DocumentStore) -> None:
        rng = random.Random(tag)
        for i in range(1_000_000):
            if stop.is_set():
                return
            doc_id = f"{tag}{rng.randrange(60)}"
            op = rng.choice(["add", "add", "update", "delete"])
            try:
                if op == "add":
                    client.add(Document(content=f"{tag} {i}", genre="w", id=doc_id))
                    outcome = f"present:{tag} {i}"
                elif op == "update":
                    client.update(doc_id, content=f"{tag} {i} updated")
                    outcome = f"present:{tag} {i} updated"
                else:
                    client.delete(doc_id)
                    outcome = "absent"
            except DocumentNotFoundError:
                outcome = "absent"  # an update of a document that was not there
            except (MigrationInProgressError, StoreReembeddedError) as exc:
                outcome = f"unknown:{type(exc).__name__}"
            except Exception as exc:  # anything else fails the test, below
                outcome = f"error:{type(exc).__name__}: {exc}"
            logs[tag].append((time.monotonic() - began, doc_id, outcome))

    writers = [
        threading.Thread(target=write, args=("shared", store)),
        threading.Thread(target=write, args=("other", other)),
    ]
    for thread in writers:
        thread.start()
    time.sleep(0.3)
    started = time.monotonic() - began
    assert store.reembed(Vowels(), batch_size=500) >= 20_000
    switched = time.monotonic() - began
    time.sleep(0.3)
    stop.set()
    for thread in writers:
        thread.join(30)

    errors = [o for log in logs.values() for _, _, o in log if o.startswith("error")]
    assert errors == [], errors[:5]
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as fresh:
        for tag, log in logs.items():
            last: dict[str, str] = {}
            for _, doc_id, outcome in log:
                last[doc_id] = outcome
            for doc_id, outcome in last.items():
                if outcome.startswith("unknown"):
                    continue  # refused: the caller knows it was not acknowledged
                doc = fresh.get(doc_id)
                if outcome == "absent":
                    assert doc is None, (tag, doc_id)
                else:
                    events = [(round(t, 3), o) for t, i, o in log if i == doc_id][-4:]
                    assert doc is not None, (tag, doc_id, events, started, switched)
                    assert doc.content == outcome.removeprefix("present:"), (tag, doc_id, events)
        assert fresh.count(genre="g") == 20_000
    # The race was run: writes were acknowledged before the migration, refused during it;
    # afterwards the shared store writes to the new generation, the other one is told to
    # reopen.
    for tag in logs:
        before = [o for t, _, o in logs[tag] if t < started]
        during = [o for t, _, o in logs[tag] if started < t < switched - 0.05]
        assert before, tag
        assert not any(o.startswith("unknown") for o in before), (tag, before)
        assert any("MigrationInProgressError" in o for o in during), (tag, during[-5:])
    after = {tag: [o for t, _, o in logs[tag] if t > switched + 0.05] for tag in logs}
    assert after["shared"], after
    assert not any(o.startswith("unknown") for o in after["shared"]), after["shared"][:5]
    assert after["other"], after
    assert all("StoreReembeddedError" in o for o in after["other"]), after["other"][:5]
    store.close()
    other.close()


def test_a_fresh_store_on_a_re_embedded_index_reads_its_generation_from_the_first_call(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    names = {"index": store_names.index, "prefix": store_names.prefix}
    with DocumentStore(redis_stack_url, embedder=Letters(), **names) as store:
        store.add(DOCS)
        store.reembed(Vowels())
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as fresh:
        doc = fresh.get("d3")  # its first call: the key is under generation 2's prefix
        assert doc is not None and doc.content == DOCS[3].content
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as fresh:
        assert fresh.update("d4", genre="new").genre == ["new"]  # its first call too
    with DocumentStore(redis_stack_url, embedder=Vowels(), **names) as fresh:
        assert fresh.delete("d5") == 1
        assert fresh.count() == len(DOCS) - 1
