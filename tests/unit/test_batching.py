"""EmbeddingBatcher: concurrent callers share passes, and nobody is left waiting."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from redis_docstore._batching import EmbeddingBatcher
from redis_docstore._errors import StoreClosedError

WAIT = 10.0  # seconds before a test calls something wedged


class Gated:
    """An embedder whose passes can be held open; records each pass's texts and thread."""

    dims = 2

    def __init__(self, fail_on: str | None = None) -> None:
        self.passes: list[list[str]] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_on = fail_on
        self.interrupt_next = False

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        self.passes.append(list(texts))
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.gate.wait(WAIT), "test gate never opened"
        if self.interrupt_next:
            self.interrupt_next = False
            raise KeyboardInterrupt
        if self.fail_on is not None and self.fail_on in texts:
            raise ValueError(f"cannot embed {self.fail_on!r}")
        return [[float(len(t)), float(t.count("a"))] for t in texts]


def vector(text: str) -> list[float]:
    return [float(len(text)), float(text.count("a"))]


def hold_first_pass(batcher: EmbeddingBatcher, embedder: Gated) -> threading.Thread:
    """Start a caller whose pass stays open until ``embedder.gate`` is set."""
    embedder.gate.clear()
    embedder.entered.clear()
    leader = threading.Thread(target=batcher.embed, args=(["leader"], embedder))
    leader.start()
    assert embedder.entered.wait(WAIT)
    return leader


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.001)


def callers(
    batcher: EmbeddingBatcher, embedder: Gated, texts: Sequence[str]
) -> tuple[list[threading.Thread], dict[str, Any]]:
    """One thread per text calling ``embed``; their results (or errors) by text."""
    results: dict[str, Any] = {}

    def call(text: str) -> None:
        try:
            results[text] = batcher.embed([text], embedder)
        except BaseException as exc:  # recorded for the test to look at
            results[text] = exc

    threads = [threading.Thread(target=call, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    return threads, results


def test_a_lone_caller_runs_the_model_in_its_own_thread_at_once() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)
    assert batcher.embed(["a", "bb"], embedder) == [vector("a"), vector("bb")]
    assert embedder.threads == [threading.current_thread().name]
    assert not batcher._drainers  # no other thread was ever needed
    assert batcher._owners == 0


def test_callers_arriving_during_a_pass_share_the_next_one() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)
    leader = hold_first_pass(batcher, embedder)
    texts = [f"text {'a' * i}" for i in range(12)]
    threads, results = callers(batcher, embedder, texts)
    wait_until(lambda: len(batcher._queue) == len(texts))
    embedder.gate.set()
    for thread in [leader, *threads]:
        thread.join(WAIT)
    assert embedder.passes[0] == ["leader"]
    assert sorted(embedder.passes[1]) == sorted(texts)  # one pass for all twelve
    assert len(embedder.passes) == 2
    assert all(results[t] == [vector(t)] for t in texts)
    assert batcher.passes == 2 and batcher.requests == 13
    wait_until(lambda: batcher._owners == 0)


def test_a_pass_holds_at_most_max_texts_but_never_splits_a_request() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(max_texts=3, lanes=1)
    leader = hold_first_pass(batcher, embedder)
    results: dict[int, Any] = {}

    def call(i: int, texts: list[str]) -> None:
        results[i] = batcher.embed(texts, embedder)

    big = [f"big {i}" for i in range(5)]
    first = threading.Thread(target=call, args=(0, big))
    first.start()
    wait_until(lambda: len(batcher._queue) == 1)
    rest = [threading.Thread(target=call, args=(i, [f"q{i}"])) for i in (1, 2, 3, 4)]
    for thread in rest:
        thread.start()
    wait_until(lambda: len(batcher._queue) == 5)
    embedder.gate.set()
    for thread in [leader, first, *rest]:
        thread.join(WAIT)
    assert embedder.passes[1] == big  # alone: larger than max_texts, still whole
    assert [len(p) for p in embedder.passes[2:]] == [3, 1]
    assert results[0] == [vector(t) for t in big]


def test_one_callers_bad_input_fails_only_that_caller() -> None:
    embedder, batcher = Gated(fail_on="boom"), EmbeddingBatcher(lanes=1)
    leader = hold_first_pass(batcher, embedder)
    threads, results = callers(batcher, embedder, ["fine", "boom", "also fine"])
    wait_until(lambda: len(batcher._queue) == 3)
    embedder.gate.set()
    for thread in [leader, *threads]:
        thread.join(WAIT)
    assert results["fine"] == [vector("fine")]
    assert results["also fine"] == [vector("also fine")]
    assert isinstance(results["boom"], ValueError)
    # The shared pass failed, then each request ran alone.
    assert sorted(embedder.passes[1]) == ["also fine", "boom", "fine"]
    assert sorted(map(tuple, embedder.passes[2:])) == [("also fine",), ("boom",), ("fine",)]


def test_texts_shared_by_callers_are_embedded_once() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)
    leader = hold_first_pass(batcher, embedder)
    threads, results = callers(batcher, embedder, ["same", "same ", "other"])
    extra = threading.Thread(target=batcher.embed, args=(["same", "other"], embedder))
    wait_until(lambda: len(batcher._queue) == 3)
    extra.start()
    wait_until(lambda: len(batcher._queue) == 4)
    embedder.gate.set()
    for thread in [leader, *threads, extra]:
        thread.join(WAIT)
    assert sorted(embedder.passes[1]) == ["other", "same", "same "]
    assert results["same"] == [vector("same")]


def test_close_fails_waiting_callers_at_once_and_refuses_new_ones() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)
    leader_result: list[Any] = []
    embedder.gate.clear()
    leader = threading.Thread(target=lambda: leader_result.append(batcher.embed(["x"], embedder)))
    leader.start()
    assert embedder.entered.wait(WAIT)
    threads, results = callers(batcher, embedder, ["a", "b"])
    wait_until(lambda: len(batcher._queue) == 2)
    batcher.close()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert all(isinstance(results[t], StoreClosedError) for t in ("a", "b"))
    with pytest.raises(StoreClosedError):
        batcher.embed(["late"], embedder)
    embedder.gate.set()  # the pass already running still answers its caller
    leader.join(WAIT)
    assert leader_result == [[vector("x")]]
    assert embedder.passes == [["x"]]


def test_an_interrupted_pass_puts_the_other_callers_back_in_the_queue() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)
    embedder.interrupt_next = True  # Ctrl-C arrives while the leader's pass runs
    outcome: list[BaseException] = []

    def leader() -> None:
        try:
            batcher.embed(["leader"], embedder)
        except KeyboardInterrupt as exc:
            outcome.append(exc)

    embedder.gate.clear()
    thread = threading.Thread(target=leader)
    thread.start()
    assert embedder.entered.wait(WAIT)
    threads, results = callers(batcher, embedder, ["waiting"])
    wait_until(lambda: len(batcher._queue) == 1)
    embedder.gate.set()
    for t in [thread, *threads]:
        t.join(WAIT)
        assert not t.is_alive()
    assert len(outcome) == 1
    assert results["waiting"] == [vector("waiting")]
    assert all("leader" not in p for p in embedder.passes[1:])  # its caller is gone
    wait_until(lambda: batcher._owners == 0)


def test_a_shared_pass_interrupted_requeues_everyone_unanswered() -> None:
    from redis_docstore._batching import _Request

    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)
    embedder.interrupt_next = True
    batch = [_Request(["a"], embedder), _Request(["b"], embedder)]
    with pytest.raises(KeyboardInterrupt):
        batcher._run(batch, requeue=True)
    assert list(batcher._queue) == batch
    assert not any(r.future.done() for r in batch)


def test_different_embedders_never_share_a_pass() -> None:
    first, second, batcher = Gated(), Gated(), EmbeddingBatcher(lanes=1)
    leader = hold_first_pass(batcher, first)
    a = threading.Thread(target=batcher.embed, args=(["a"], first))
    b = threading.Thread(target=batcher.embed, args=(["b"], second))
    a.start()
    wait_until(lambda: len(batcher._queue) == 1)
    b.start()
    wait_until(lambda: len(batcher._queue) == 2)
    first.gate.set()
    for thread in (leader, a, b):
        thread.join(WAIT)
    assert first.passes == [["leader"], ["a"]]
    assert second.passes == [["b"]]


def test_async_callers_share_passes_and_a_cancelled_one_is_skipped() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)

    async def main() -> None:
        embedder.gate.clear()
        leader = asyncio.ensure_future(batcher.aembed(["leader"], embedder))
        await asyncio.to_thread(embedder.entered.wait, WAIT)
        tasks = {t: asyncio.ensure_future(batcher.aembed([t], embedder)) for t in "abcd"}
        while len(batcher._queue) < 4:
            await asyncio.sleep(0.001)
        tasks["c"].cancel()
        await asyncio.sleep(0)
        embedder.gate.set()
        assert await asyncio.wait_for(leader, WAIT) == [vector("leader")]
        for text in "abd":
            assert await asyncio.wait_for(tasks[text], WAIT) == [vector(text)]
        with pytest.raises(asyncio.CancelledError):
            await tasks["c"]

    asyncio.run(main())
    assert embedder.passes[0] == ["leader"]
    assert sorted(embedder.passes[1]) == ["a", "b", "d"]  # "c" was never embedded
    assert len(embedder.passes) == 2


def test_a_cancelled_async_leader_leaves_nothing_waiting() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=1)

    async def main() -> None:
        embedder.gate.clear()
        leader = asyncio.ensure_future(batcher.aembed(["leader"], embedder))
        await asyncio.to_thread(embedder.entered.wait, WAIT)
        follower = asyncio.ensure_future(batcher.aembed(["follower"], embedder))
        while len(batcher._queue) < 1:
            await asyncio.sleep(0.001)
        leader.cancel()
        await asyncio.sleep(0)
        embedder.gate.set()
        assert await asyncio.wait_for(follower, WAIT) == [vector("follower")]

    asyncio.run(main())
    wait_until(lambda: batcher._owners == 0)
    assert batcher.embed(["after"], embedder) == [vector("after")]


def test_with_two_lanes_two_callers_run_at_once_and_the_third_waits() -> None:
    embedder, batcher = Gated(), EmbeddingBatcher(lanes=2)
    embedder.gate.clear()
    threads, results = callers(batcher, embedder, ["one", "two"])
    wait_until(lambda: len(embedder.passes) == 2)  # both passes started, neither finished
    assert not batcher._queue
    third, third_result = callers(batcher, embedder, ["three"])
    wait_until(lambda: len(batcher._queue) == 1)  # both lanes taken: it waits
    embedder.gate.set()
    for thread in [*threads, *third]:
        thread.join(WAIT)
    assert results == {"one": [vector("one")], "two": [vector("two")]}
    assert third_result == {"three": [vector("three")]}
    assert sorted(map(tuple, embedder.passes)) == [("one",), ("three",), ("two",)]
    wait_until(lambda: batcher._owners == 0)
