from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import redis.exceptions

from redis_docstore import Document, DocumentStore
from redis_docstore.effects import Collect, Embed, Submit
from redis_docstore.errors import StoreFullError
from redis_docstore.writes import WRITE_BATCH, write_flow


class Tiny:
    dims = 2

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, float(len(t))] for t in texts]


def written_batches(docs: list[Document]) -> tuple[list[int], list[int]]:
    """Drive write_flow by hand: the sizes of the embed calls and of the pipelines."""
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    flow = write_flow(store, store._records(docs))
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
            pipelines.append(len(effect.commands.commands))
            reply = len(pipelines)
            tickets[reply] = len(effect.commands.commands)
        elif isinstance(effect, Collect):
            reply = ["OK"] * tickets.pop(effect.ticket)
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
    replies = {
        1: ["OK"] * 200 + [oom] * (WRITE_BATCH - 200),
        2: ["OK"] * 10 + [oom] * (WRITE_BATCH - 10),
    }
    store = DocumentStore("redis://localhost:1", embedder=Tiny())  # never connects
    submitted: list[int] = []

    def drive() -> None:
        flow = write_flow(store, store._records(docs))
        reply: Any = None
        while True:
            effect = flow.send(reply)
            if isinstance(effect, Submit):
                submitted.append(len(effect.commands.commands))
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
