from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import redis.exceptions

from redis_docstore import Document, DocumentStore
from redis_docstore._effects import Collect, Commands, Embed, Submit
from redis_docstore._errors import StoreFullError
from redis_docstore._ops.writes import WRITE_BATCH, load, records, write


class Tiny:
    dims = 2

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, float(len(t))] for t in texts]


GUARD_OK = ["1", None]  # the guard's HMGET: generation 1, no migration running
PER_DOCUMENT = 2  # without a TTL: JSON.SET, then PERSIST (see write_commands)


def written(n: int, reply: Any = "OK") -> list[Any]:
    """The replies of ``n`` documents' writes without a TTL: the JSON.SET's, PERSIST's 0."""
    return [reply, 0] * n


def documents_in(commands: Sequence[Any]) -> int:
    """How many documents a write pipeline carries (its writes, then the check and guard)."""
    return (len(commands) - 2) // PER_DOCUMENT


def indexed(store: DocumentStore, docs: list[Document]) -> dict[str, Any]:
    """The reply of a batch's INKEYS check that finds every document indexed."""
    keys = [store.settings.key(str(d.id)) for d in docs]
    return {"total_results": len(keys), "results": [{"id": k} for k in keys]}


def written_batches(docs: list[Document]) -> tuple[list[int], list[int]]:
    """Drive write() by hand: the sizes of the embed calls and of the pipelines."""
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    flow = write(store._state, records(store._state, docs))
    embedded: list[int] = []
    pipelines: list[int] = []
    tickets: dict[int, int] = {}
    reply: Any = None
    while True:
        try:
            effect = flow.send(reply)
        except StopIteration:
            return embedded, pipelines
        if isinstance(effect, Embed):
            embedded.append(len(effect.texts))
            reply = Tiny().embed_many(effect.texts)
        elif isinstance(effect, Submit):
            pipelines.append(documents_in(effect.commands.commands))
            reply = len(pipelines)
            tickets[reply] = pipelines[-1]
        elif isinstance(effect, Collect):
            reply = [*written(tickets.pop(effect.ticket)), indexed(store, docs), GUARD_OK]
        elif isinstance(effect, Commands):  # the last batch, sent directly
            pipelines.append(documents_in(effect.commands))
            reply = [*written(pipelines[-1]), indexed(store, docs), GUARD_OK]
        else:
            raise AssertionError(f"unexpected effect {effect!r}")


@pytest.mark.parametrize("n", [1, 7, WRITE_BATCH, 2 * WRITE_BATCH + 100])
def test_texts_end_in_small_pipelines_so_little_is_written_after_the_model(n: int) -> None:
    docs = [Document(content=f"text {i}", genre="g", id=str(i)) for i in range(n)]
    embedded, pipelines = written_batches(docs)
    quarter = WRITE_BATCH // 4
    assert sum(pipelines) == n
    assert embedded == pipelines  # each pipeline's texts embedded in one call
    assert pipelines[-1] <= quarter
    full = (n - 1) // WRITE_BATCH  # whole batches before the last one
    rest = n - full * WRITE_BATCH
    assert pipelines[:full] == [WRITE_BATCH] * full
    assert all(size <= quarter for size in pipelines[full:])
    assert sum(pipelines[full:]) == rest


def test_documents_with_embeddings_keep_full_pipelines() -> None:
    n = 2 * WRITE_BATCH + 100
    docs = [
        Document(content=f"text {i}", genre="g", id=str(i), embedding=[1.0, float(i)])
        for i in range(n)
    ]
    embedded, pipelines = written_batches(docs)
    assert embedded == []
    assert pipelines == [WRITE_BATCH, WRITE_BATCH, 100]


def test_a_batch_in_flight_when_another_fails_reports_what_it_wrote() -> None:
    # Redis refuses writes for memory (noeviction) in batch 0 while batch 1 is
    # already sent; memory freed meanwhile lets batch 1's first writes through.
    docs = [
        Document(content=f"text {i}", genre="g", id=str(i), embedding=[1.0, float(i)])
        for i in range(2 * WRITE_BATCH + 100)
    ]
    oom = redis.exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    check = indexed(store, docs)
    replies = {
        1: written(200) + written(WRITE_BATCH - 200, oom) + [check, GUARD_OK],
        2: written(10) + written(WRITE_BATCH - 10, oom) + [check, GUARD_OK],
    }
    submitted: list[int] = []

    def drive() -> None:
        flow = write(store._state, records(store._state, docs))
        reply: Any = None
        while True:
            effect = flow.send(reply)
            if isinstance(effect, Submit):
                submitted.append(documents_in(effect.commands.commands))
                reply = len(submitted)
            elif isinstance(effect, Collect):
                reply = replies.pop(effect.ticket)
            else:
                raise AssertionError(f"unexpected effect {effect!r}")

    with pytest.raises(StoreFullError) as info:
        drive()
    ids = [d.id for d in docs]
    batch0, batch1 = ids[:WRITE_BATCH], ids[WRITE_BATCH : 2 * WRITE_BATCH]
    assert submitted == [WRITE_BATCH, WRITE_BATCH] and not replies  # both collected
    assert info.value.confirmed == batch0[:200] + batch1[:10]
    assert sorted(info.value.unconfirmed) == sorted(batch0[200:] + batch1[10:] + ids[-100:])


def test_the_last_batch_received_before_an_earlier_one_fails_reports_what_it_wrote() -> None:
    # The last batch is sent and answered while batch 0 is still in flight; then
    # batch 0's replies show Redis refused writes for memory. The last batch's
    # documents were written all the same: they are confirmed, not unconfirmed.
    docs = [
        Document(content=f"text {i}", genre="g", id=str(i), embedding=[1.0, float(i)])
        for i in range(WRITE_BATCH + 100)
    ]
    oom = redis.exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    check = indexed(store, docs)
    flow = write(store._state, records(store._state, docs))

    def drive() -> None:
        reply: Any = None
        while True:
            effect = flow.send(reply)
            if isinstance(effect, Submit):
                reply = "ticket"
            elif isinstance(effect, Collect):
                reply = [*written(200), *written(WRITE_BATCH - 200, oom), check, GUARD_OK]
            else:  # the last batch, sent and answered at once
                reply = [*written(documents_in(effect.commands)), check, GUARD_OK]

    with pytest.raises(StoreFullError) as info:
        drive()
    ids = [d.id for d in docs]
    assert info.value.confirmed == ids[:200] + ids[WRITE_BATCH:]
    assert info.value.unconfirmed == ids[200:WRITE_BATCH]


def drive_load(docs: list[Document], answer: Any) -> Any:
    """Run ``add`` of ``docs`` by hand; ``answer(effect)`` replies to each Commands."""
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    store._state.ready = True  # the index "exists": no opening round trip
    flow = load(store._state, docs, skip_unchanged=False)
    reply: Any = None
    try:
        while True:
            reply = answer(store, flow.send(reply))
    except StopIteration as stop:
        return stop.value


def test_each_pipeline_ends_with_a_search_for_its_own_keys_and_no_ft_info() -> None:
    docs = [
        Document(content=f"t{i}", genre="g", id=f"d{i}", embedding=[1.0, 0.5]) for i in range(3)
    ]
    sent: list[Any] = []

    def answer(store: DocumentStore, effect: Any) -> Any:
        assert isinstance(effect, Commands), effect  # one pipeline: sent directly
        sent.append(effect.commands)
        return [*written(3), indexed(store, docs), GUARD_OK]

    report = drive_load(docs, answer)
    assert report.ids == ["d0", "d1", "d2"]
    (commands,) = sent
    assert [c[0] for c in commands] == ["JSON.SET", "PERSIST"] * 3 + ["FT.SEARCH", "HMGET"]
    check = commands[-2]
    keys = [c[1] for c in commands[:6:2]]
    assert check[check.index("INKEYS") + 1 :][: len(keys) + 1] == (3, *keys)
    assert not any(c[0] == "FT.INFO" for c in commands)


def test_a_written_document_the_index_lacks_is_an_indexing_error() -> None:
    from redis_docstore._errors import IndexingError

    docs = [
        Document(content=f"t{i}", genre="g", id=f"d{i}", embedding=[1.0, 0.5]) for i in range(2)
    ]
    asked: list[str] = []

    def answer(store: DocumentStore, effect: Any) -> Any:
        asked.append(effect.commands[0][0])
        if effect.commands[0][0] == "JSON.SET":  # the check finds only d0
            return [*written(2), indexed(store, docs[:1]), GUARD_OK]
        if effect.transaction:  # the confirmation: d1 exists, unindexed
            assert effect.commands[0][:2] == ("JSON.GET", store.settings.key("d1"))
            return ['[["g"]]', indexed(store, [])]
        assert effect.commands == [("FT.INFO", store.settings.name)]  # the reason
        return [{"Index Errors": {"last indexing error": "Invalid JSON type"}}]

    with pytest.raises(IndexingError, match="Invalid JSON type") as info:
        drive_load(docs, answer)
    assert info.value.ids == ["d1"]
    assert asked == ["JSON.SET", "JSON.GET", "FT.INFO"]


def test_a_document_deleted_between_write_and_check_is_no_indexing_error() -> None:
    docs = [Document(content="t", genre="g", id="d0", embedding=[1.0, 0.5])]

    def answer(store: DocumentStore, effect: Any) -> Any:
        if effect.commands[0][0] == "JSON.SET":
            return [*written(1), indexed(store, []), GUARD_OK]  # deleted by another client
        return [None, indexed(store, [])]  # gone: not written-but-invisible

    assert drive_load(docs, answer).ids == ["d0"]


def test_writes_seen_by_a_running_migration_are_not_acknowledged() -> None:
    from redis_docstore._errors import MigrationInProgressError, StoreReembeddedError
    from redis_docstore._ops.writes import check_guard

    store = DocumentStore("redis://localhost:1", embedder=Tiny())
    check_guard(store.settings, ["1", None], ["a"])  # generation 1, nothing running: acknowledged
    check_guard(
        store.settings, [None, None], ["a"]
    )  # no meta hash (dropped meanwhile): nothing to say
    with pytest.raises(MigrationInProgressError, match="reembed\\(\\) is running") as running:
        check_guard(store.settings, ["1", "2"], ["a", "b"])
    assert running.value.unconfirmed == ["a", "b"] and running.value.confirmed == []
    with pytest.raises(StoreReembeddedError, match="reopen it") as moved:
        check_guard(store.settings, [b"2", None], ["a"])
    assert moved.value.unconfirmed == ["a"]


def test_an_add_cut_by_a_migration_confirms_only_the_batches_before_it() -> None:
    from redis_docstore._errors import MigrationInProgressError

    docs = [
        Document(content=f"t{i}", genre="g", id=f"d{i}", embedding=[1.0, float(i)])
        for i in range(2 * WRITE_BATCH + 10)
    ]
    ids = [d.id for d in docs]
    guards = iter([GUARD_OK, ["1", "2"], ["1", "2"]])  # the flag appears after batch 1

    def answer(store: DocumentStore, effect: Any) -> Any:
        if isinstance(effect, Submit):
            return documents_in(effect.commands.commands)
        if isinstance(effect, Collect):
            return [*written(effect.ticket), indexed(store, docs), next(guards)]
        return [*written(documents_in(effect.commands)), indexed(store, docs), next(guards)]

    with pytest.raises(MigrationInProgressError) as info:
        drive_load(docs, answer)
    assert info.value.confirmed == ids[:WRITE_BATCH]
    assert sorted(info.value.unconfirmed) == sorted(ids[WRITE_BATCH:])
