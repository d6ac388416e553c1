"""Expiry and changes by filter without a server: the commands sent and how replies are read."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import orjson
import pytest
import redis.exceptions

from redis_docstore import Document, DocumentStore, Tag
from redis_docstore._commands.writes import (
    MAX_TTL_SECONDS,
    change_commands,
    expiry_command,
    ttl_milliseconds,
)
from redis_docstore._effects import Commands
from redis_docstore._errors import (
    MigrationInProgressError,
    StoreFullError,
    ValidationError,
    WriteError,
)
from redis_docstore._ops import bulk, expiry
from redis_docstore._ops.writes import document_errors, load

GUARD_OK = ["1", None]
OOM = redis.exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
MISSING = redis.exceptions.ResponseError("new objects must be created at the root")


class Tiny:
    dims = 2

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, float(len(t))] for t in texts]


def drive(flow: Any, answer: Callable[[Commands], Any]) -> tuple[Any, list[Commands]]:
    """Run a flow by hand: ``answer`` replies to each Commands; (its result, what it sent)."""
    sent: list[Commands] = []
    reply: Any = None
    try:
        while True:
            effect = flow.send(reply)
            assert isinstance(effect, Commands), effect
            sent.append(effect)
            reply = answer(effect)
    except StopIteration as stop:
        return stop.value, sent


def ready_store() -> DocumentStore:
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    store._state.ready = True  # the index "exists": no opening round trip
    return store


# -- ttl values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ms"),
    [(1, 1000), (0.25, 250), (1.0004, 1000), (0.0001, 1), (timedelta(minutes=2), 120_000)],
)
def test_ttl_milliseconds(value: object, ms: int) -> None:
    assert ttl_milliseconds(value) == ms


@pytest.mark.parametrize(
    "value",
    [0, -1, -0.5, math.nan, math.inf, True, "1", None, [1], timedelta(0), MAX_TTL_SECONDS * 2],
)
def test_bad_ttls(value: object) -> None:
    with pytest.raises(ValidationError, match="seconds"):
        ttl_milliseconds(value, "seconds")


def test_expiry_command() -> None:
    assert expiry_command("k", None) == ("PERSIST", "k")
    assert expiry_command("k", 1500) == ("PEXPIRE", "k", 1500)


# -- writes with and without a ttl ---------------------------------------------------------------


def test_a_document_and_its_ttl_go_in_one_transaction_of_its_own() -> None:
    store = ready_store()
    docs = [Document(f"t{i}", "g", id=f"d{i}", embedding=[1.0, 0.5]) for i in range(2)]
    keys = [store.settings.key(f"d{i}") for i in range(2)]

    def answer(effect: Commands) -> Any:
        check = {"results": [{"id": k} for k in keys]}
        return ["OK", "QUEUED", True, ["OK", 1]] * 2 + [check, GUARD_OK]

    report, (sent,) = drive(load(store._state, docs, skip_unchanged=False, ttl=2.5), answer)
    assert report.ids == ["d0", "d1"]
    names = [c[0] for c in sent.commands]
    assert names == ["MULTI", "JSON.SET", "PEXPIRE", "EXEC"] * 2 + ["FT.SEARCH", "HMGET"]
    assert sent.commands[2] == ("PEXPIRE", keys[0], 2500)
    assert not sent.transaction  # the pipeline is not one transaction: each document is


def test_document_errors_are_found_in_queue_replies_and_in_exec() -> None:
    replies = [
        *["OK", "QUEUED", True, ["OK", 1]],  # written
        *["OK", OOM, True, redis.exceptions.ResponseError("EXECABORT")],  # refused as queued
        *["OK", "QUEUED", True, [MISSING, 0]],  # failed as it ran
    ]
    errors = document_errors(replies, 3, 1000)
    assert errors[0] is None and errors[1] is OOM and errors[2] is MISSING
    assert document_errors(["OK", 0, OOM, 0], 2, None) == [None, OOM]


def test_a_full_store_refuses_ttl_writes_as_it_refuses_others() -> None:
    store = ready_store()
    docs = [Document(f"t{i}", "g", id=f"d{i}", embedding=[1.0, 0.5]) for i in range(2)]
    aborted = redis.exceptions.ResponseError("EXECABORT Transaction discarded")

    def answer(effect: Commands) -> Any:
        written = ["OK", "QUEUED", True, ["OK", 1]]
        return [*written, "OK", OOM, True, aborted, {"results": []}, GUARD_OK]

    with pytest.raises(StoreFullError) as info:
        drive(load(store._state, docs, skip_unchanged=False, ttl=5), answer)
    assert info.value.confirmed == ["d0"] and info.value.unconfirmed == ["d1"]


def test_load_sets_the_expiry_of_unchanged_documents_only_where_needed() -> None:
    store = ready_store()
    docs = [Document(f"t{i}", "g", id=f"d{i}", embedding=[1.0, 0.5]) for i in range(3)]
    stored = orjson.dumps({"$.content": ["t0"], "$.genre": [["g"]], "$.metadata": [{}]})
    stored1 = orjson.dumps({"$.content": ["t1"], "$.genre": [["g"]], "$.metadata": [{}]})

    def run(ttl: object) -> list[Commands]:
        def answer(effect: Commands) -> Any:
            first = effect.commands[0][0]
            if first == "JSON.GET":  # d0 and d1 unchanged; d0 has a TTL, d1 none
                return [stored, stored1, None, 5000, -1, -2]
            if first in ("PEXPIRE", "PERSIST"):
                return [1] * (len(effect.commands) - 1) + [GUARD_OK]
            keys = [store.settings.key("d2")]
            return [
                *(["OK", "QUEUED", 1, ["OK", 1]] if ttl else ["OK", 0]),
                {"results": [{"id": k} for k in keys]},
                GUARD_OK,
            ]

        report, sent = drive(load(store._state, docs, skip_unchanged=True, ttl=ttl), answer)
        assert report.unchanged == ["d0", "d1"] and report.written == ["d2"]
        return sent

    read, fix, write = run(ttl=None)
    assert [c[0] for c in read.commands] == ["JSON.GET"] * 3 + ["PTTL"] * 3
    assert fix.commands[:-1] == [("PERSIST", store.settings.key("d0"))]  # only d0 had one
    assert [c[0] for c in write.commands[:2]] == ["JSON.SET", "PERSIST"]
    read, fix, write = run(ttl=9)
    assert fix.commands[:-1] == [("PEXPIRE", store.settings.key(i), 9000) for i in ("d0", "d1")]
    assert fix.commands[-1][0] == "HMGET"  # the guard


# -- expire, persist, ttl ----------------------------------------------------------------------


def test_expire_and_persist_send_one_pipeline_with_the_guard() -> None:
    store = ready_store()
    count, (sent,) = drive(
        expiry.expire(store._state, ["a", "b", "a"], 1.5), lambda e: [True, False, GUARD_OK]
    )
    assert count == 1
    key = store.settings.key
    assert sent.commands[:2] == [("PEXPIRE", key("a"), 1500), ("PEXPIRE", key("b"), 1500)]
    assert sent.commands[2][0] == "HMGET"
    with pytest.raises(MigrationInProgressError):
        drive(expiry.persist(store._state, "a"), lambda e: [1, ["1", "2"]])
    assert drive(expiry.persist(store._state, []), lambda e: None) == (0, [])


def test_ttl_reads_seconds() -> None:
    store = ready_store()
    assert drive(expiry.ttl(store._state, "a"), lambda e: [1500])[0] == 1.5
    assert drive(expiry.ttl(store._state, "a"), lambda e: [-1])[0] is None
    with pytest.raises(KeyError):
        drive(expiry.ttl(store._state, "a"), lambda e: [-2])


# -- changes by filter ---------------------------------------------------------------------------


def test_change_commands() -> None:
    assert change_commands("k", ("a", "b"), {"x": None}) == [
        ("MULTI",),
        ("EXISTS", "k"),
        ("JSON.SET", "k", "$.genre", b'["a","b"]'),
        ("JSON.MERGE", "k", "$.metadata", b'{"x":null}'),
        ("EXEC",),
    ]
    assert [c[0] for c in change_commands("k", None, {"x": 1})] == [
        "MULTI", "EXISTS", "JSON.MERGE", "EXEC",
    ]  # fmt: skip


def listing(keys: list[str], *, pages: int = 1) -> Callable[[Commands], Any]:
    """Replies to the key listing (``pages`` cursor reads), then ``None`` for the rest."""
    chunks = [keys[i::pages] for i in range(pages)]
    cursors = [*range(pages - 1, 0, -1), 0]

    def answer(effect: Commands) -> Any:
        chunk, cursor = chunks.pop(0), cursors.pop(0)
        rows = [{"extra_attributes": {"__key": k}} for k in chunk]
        return [[{"results": rows}, cursor]]

    return answer


def update_flow(store: DocumentStore, **options: Any) -> Any:
    defaults: dict[str, Any] = {
        "genre": None, "metadata": {"x": 1}, "dry_run": False, "on_progress": None,
        "batch_size": 2,
    }  # fmt: skip
    return bulk.update_where(store._state, Tag("genre") == "g", **{**defaults, **options})


def test_update_by_filter_lists_then_changes_in_batches() -> None:
    store = ready_store()
    key = store.settings.key
    keys = [key(i) for i in ("c", "a", "b")]
    lists = listing(keys, pages=2)
    progress: list[tuple[int, int]] = []

    def answer(effect: Commands) -> Any:
        if effect.commands[0][0] in ("FT.AGGREGATE", "FT.CURSOR"):
            return lists(effect)
        n = (len(effect.commands) - 2) // 4
        changed = [c[1] for c in effect.commands if c[0] == "EXISTS"]
        return ["OK", "QUEUED", "QUEUED", [1, "OK"]] * n + [
            {"results": [{"id": k} for k in changed]},
            GUARD_OK,
        ]

    ids, sent = drive(update_flow(store, on_progress=lambda d, t: progress.append((d, t))), answer)
    assert ids == ["a", "b", "c"] and progress == [(2, 3), (3, 3)]
    assert [e.commands[0][0] for e in sent] == ["FT.AGGREGATE", "FT.CURSOR", "MULTI", "MULTI"]
    assert sent[1].commands[0][:4] == ("FT.CURSOR", "READ", store.settings.name, 1)
    assert [c[1] for c in sent[2].commands if c[0] == "EXISTS"] == [key("a"), key("b")]
    # A dry run lists only.
    ids, sent = drive(update_flow(store, dry_run=True), listing(keys))
    assert ids == ["a", "b", "c"] and len(sent) == 1


def test_a_document_gone_before_its_change_is_skipped_and_other_errors_raise() -> None:
    store = ready_store()
    keys = [store.settings.key(i) for i in ("a", "b", "c")]
    lists = listing(keys)
    gone = ["OK", "QUEUED", "QUEUED", [0, MISSING]]  # EXISTS said 0: skipped
    ok = ["OK", "QUEUED", "QUEUED", [1, "OK"]]

    def answer(effect: Commands) -> Any:
        if effect.commands[0][0] == "FT.AGGREGATE":
            return lists(effect)
        return [*ok, *gone, *ok, {"results": [{"id": keys[0]}, {"id": keys[2]}]}, GUARD_OK]

    ids, _ = drive(update_flow(store, batch_size=3), answer)
    assert ids == ["a", "c"]

    def full(effect: Commands) -> Any:
        if effect.commands[0][0] == "FT.AGGREGATE":
            return listing(keys)(effect)
        refused = ["OK", OOM, "QUEUED", redis.exceptions.ResponseError("EXECABORT")]
        return [*ok, *refused, *ok, {"results": []}, GUARD_OK]

    with pytest.raises(WriteError) as info:
        drive(update_flow(store, batch_size=3), full)
    assert isinstance(info.value, StoreFullError)
    assert info.value.confirmed == ["a", "c"] and info.value.unconfirmed == ["b"]


def test_a_migration_refuses_a_batch_and_confirms_the_ones_before() -> None:
    store = ready_store()
    keys = [store.settings.key(i) for i in ("a", "b", "c")]
    lists = listing(keys)
    guards = iter([GUARD_OK, ["1", "2"]])

    def answer(effect: Commands) -> Any:
        if effect.commands[0][0] == "FT.AGGREGATE":
            return lists(effect)
        n = (len(effect.commands) - 2) // 4
        changed = [c[1] for c in effect.commands if c[0] == "EXISTS"]
        return ["OK", "QUEUED", "QUEUED", [1, "OK"]] * n + [
            {"results": [{"id": k} for k in changed]},
            next(guards),
        ]

    with pytest.raises(MigrationInProgressError) as info:
        drive(update_flow(store), answer)
    assert info.value.confirmed == ["a", "b"] and info.value.unconfirmed == ["c"]


@pytest.mark.parametrize(
    "options",
    [
        {"metadata": {"x": object()}},
        {"metadata": None, "genre": None},
        {"metadata": {}},
        {"genre": ""},
        {"batch_size": 0},
        {"dry_run": None},
        {"on_progress": "no"},
    ],
)
def test_bad_updates_send_nothing(options: dict[str, Any]) -> None:
    store = ready_store()
    with pytest.raises(ValidationError):
        next(update_flow(store, **options))


def test_delete_by_filter_counts_for_a_dry_run_and_for_progress() -> None:
    store = ready_store()
    where = Tag("genre") == "g"
    total, sent = drive(
        bulk.delete_where(store._state, where, dry_run=True), lambda e: [{"total_results": 7}]
    )
    assert total == 7 and [e.commands[0][0] for e in sent] == ["FT.SEARCH"]
    progress: list[tuple[int, int]] = []
    found = iter([["doc:a", "doc:b"], []])

    def answer(effect: Commands) -> Any:
        command = effect.commands[0]
        if command[0] == "UNLINK":
            return [2, GUARD_OK]
        if "NOCONTENT" in command and command[command.index("LIMIT") + 2] == 1:
            return [{"total_results": 1}]  # the count: one more arrives meanwhile
        return [{"results": [{"id": k} for k in next(found)]}]

    deleted, _ = drive(
        bulk.delete_where(store._state, where, on_progress=lambda d, t: progress.append((d, t))),
        answer,
    )
    assert deleted == 2 and progress == [(2, 2)]
