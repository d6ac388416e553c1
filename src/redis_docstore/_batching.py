"""Cross-caller micro-batching of the model: concurrent callers share forward passes.

A web service shares one store between many requests, and each text search
needs one model call. One text per forward pass wastes the model (on 2 cores,
all-MiniLM-L6-v2 embeds ~50 short texts/s one at a time and ~250/s sixteen at
a time), so the store's embedding calls go through an :class:`EmbeddingBatcher`:

- A caller that finds the model idle runs the pass itself, at once, in its
  own thread (the async store: in a worker thread, as before). No timer, no
  hand-off: a lone caller pays a lock and a future.
- Two passes may run at once (``lanes``): one pass of one short text uses two
  cores poorly, and with one lane two callers would take turns (31 searches/s
  at 2 callers against 49 for two plain ``model.encode`` calls at once); with
  two, 2 and 4 callers run as fast as encoding in parallel, and 16 callers as
  fast as with one lane (measured on 2 cores, 20k documents).
- Texts that arrive while a pass runs wait in a queue; when the pass ends,
  the next one takes every queued request (whole requests, first come first
  served, up to ``max_texts`` texts), run by a background thread so that the
  caller who ran the last pass gets its answer without waiting for more. The
  next pass starts at once: waiting a few ms for the callers just answered to
  come back (so that passes merge) was measured and gained nothing, since
  their searches then run while the model waits (16 callers, 20k documents:
  128 searches/s without the wait, 118-121 with it).
- Each caller gets its own vectors or its own error: if a shared pass fails,
  its requests are run again one by one, so one caller's bad input never
  fails another's request. A cancelled caller's request is skipped if it has
  not started; a pass interrupted in the caller's thread (Ctrl-C) puts the
  other callers' requests back in the queue. :meth:`close` fails every queued
  request with :class:`~redis_docstore._errors.StoreClosedError`.

The thread that runs passes after the first one is started on first need and
lives as long as the batcher. Sync and async callers share all of this; the
async side only awaits the same futures.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from redis_docstore._embeddings import Embedder
from redis_docstore._errors import StoreClosedError

__all__ = ["EmbeddingBatcher"]

DEFAULT_MAX_TEXTS = 256  # texts per shared pass, unless the embedder says (batch_size)
DEFAULT_LANES = 2  # passes that may run at once (see the module docstring)


@dataclass(eq=False)
class _Request:
    texts: list[str]
    embedder: Embedder
    future: Future[Any] = field(default_factory=Future)
    alone: bool = False  # its shared pass failed: run it on its own


class EmbeddingBatcher:
    """Runs ``embed_many`` for many callers, one pass at a time, batching who waits.

    Args:
        max_texts: Most texts per shared pass (a larger single request still
            runs whole); by default the embedder's ``batch_size`` if it has
            one, else 256.
        lanes: How many passes may run at once.
    """

    def __init__(self, *, max_texts: int | None = None, lanes: int = DEFAULT_LANES) -> None:
        self.max_texts = max_texts
        self.lanes = lanes
        #: How many passes ran, and how many requests they served (for tests
        #: and benchmarks: requests / passes is the batching achieved).
        self.passes = 0
        self.requests = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[_Request] = deque()
        self._owners = 0  # lanes taken: a pass running, or a thread about to start one
        self._handoffs = 0  # lanes handed to the drainers, not yet picked up
        self._closed = False
        self._drainers: list[threading.Thread] = []

    # -- the callers' side -----------------------------------------------------

    def embed(self, texts: Sequence[str], embedder: Embedder) -> Any:
        """Embed ``texts`` with ``embedder``, batched with concurrent callers (blocking).

        Returns:
            What ``embedder.embed_many`` returned for these texts (the rows of
            a shared pass's result that are this caller's).

        Raises:
            StoreClosedError: The batcher was closed before the pass ran.
            Exception: Whatever the embedder raised for these texts.
        """
        request, lead = self._submit(texts, embedder)
        try:
            if lead:
                self._lead(request)
            return request.future.result()
        except BaseException:
            request.future.cancel()  # interrupted while waiting: nobody needs it now
            raise

    async def aembed(self, texts: Sequence[str], embedder: Embedder) -> Any:
        """Like :meth:`embed`, awaited: the pass runs in a worker thread."""
        request, lead = self._submit(texts, embedder)
        if lead:
            # If this coroutine is cancelled, the thread still finishes its
            # pass and hands the queue on: nothing is left waiting.
            await asyncio.get_running_loop().run_in_executor(None, self._lead, request)
            return request.future.result()
        return await asyncio.wrap_future(request.future)  # cancels the request if cancelled

    def close(self) -> None:
        """Fail every queued request with StoreClosedError; refuse new ones.

        A pass already running finishes and delivers its vectors.
        """
        with self._lock:
            self._closed = True
            waiting, self._queue = list(self._queue), deque()
            self._wake.notify_all()
        for request in waiting:
            _settle(request.future, error=StoreClosedError("the store was closed"))

    # -- passes ------------------------------------------------------------------
    #
    # At most ``lanes`` threads at a time own a lane of the model (``_owners``):
    # a caller who found one free, or a drainer it was handed on to. An owner
    # takes batches with ``_next`` until that finds the queue empty and
    # releases the lane, or (a caller whose own request is answered) hands
    # the lane and the queue on.

    def _submit(self, texts: Sequence[str], embedder: Embedder) -> tuple[_Request, bool]:
        """Queue a request; True if the caller now owns the model and runs the pass."""
        request = _Request(list(texts), embedder)
        if self._pid != os.getpid():  # forked: the parent's threads are not here
            self._reset()
        with self._lock:
            if self._closed:
                raise StoreClosedError("the store was closed")
            self._queue.append(request)
            lead = self._owners < self.lanes
            if lead:
                self._owners += 1
        return request, lead

    def _lead(self, request: _Request) -> None:
        """Run passes in the caller's thread until its request is answered."""
        owner = True
        try:
            while not request.future.done():
                batch = self._next()
                if batch is None:
                    owner = False  # released
                    return
                self._run(batch, requeue=True)
        finally:
            if owner:
                self._pass_on()

    def _next(self) -> list[_Request] | None:
        """The next pass's requests (oldest first, one embedder), or None: model released."""
        with self._lock:
            batch: list[_Request] = []
            size = 0
            while self._queue:
                request = self._queue[0]
                if request.future.done():  # cancelled by its caller, or closed
                    self._queue.popleft()
                    continue
                if batch and (
                    request.alone
                    or batch[0].alone
                    or request.embedder is not batch[0].embedder
                    or size + len(request.texts) > self._limit(request.embedder)
                ):
                    break
                batch.append(self._queue.popleft())
                size += len(request.texts)
            if not batch:
                self._owners -= 1
                return None
            self.passes += 1
            self.requests += len(batch)
            return batch

    def _limit(self, embedder: Embedder) -> int:
        limit = self.max_texts or getattr(embedder, "batch_size", 0)
        return limit if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_TEXTS

    def _pass_on(self) -> None:
        """A caller done with its own request: hand its lane to a drainer, or release it."""
        with self._lock:
            if self._queue and not self._closed:
                self._handoffs += 1
                if not self._drainers:
                    self._drainers = [
                        threading.Thread(target=self._drain, name="docstore-embedder", daemon=True)
                        for _ in range(self.lanes)
                    ]
                    for thread in self._drainers:
                        thread.start()
                self._wake.notify()
            else:
                self._owners -= 1

    def _drain(self) -> None:
        """A background thread: run what callers queued while passes ran."""
        while True:
            with self._lock:
                while not (self._handoffs or self._closed):
                    self._wake.wait()
                if self._closed:
                    return
                self._handoffs -= 1
            while (batch := self._next()) is not None:
                self._run(batch, requeue=False)

    def _run(self, batch: list[_Request], *, requeue: bool) -> None:
        """One pass over ``batch``; on failure, each request alone.

        Args:
            requeue: Put unanswered requests back if the pass is interrupted
                (Ctrl-C in a caller's thread); else they get the error.
        """
        embedder = batch[0].embedder
        try:
            if len(batch) == 1:
                _settle(batch[0].future, result=embedder.embed_many(batch[0].texts))
                return
            unique = list(dict.fromkeys(t for r in batch for t in r.texts))
            vectors = embedder.embed_many(unique)
            if len(vectors) != len(unique):
                raise ValueError("the embedder returned the wrong number of vectors")
            row = {text: i for i, text in enumerate(unique)}
            for request in batch:
                _settle(request.future, result=_rows(vectors, [row[t] for t in request.texts]))
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].future, error=exc)
                return
            for request in batch:  # whose input was it? each alone, next
                request.alone = True
            with self._lock:
                self._queue.extendleft(reversed(batch))
        except BaseException as exc:
            unanswered = [r for r in batch if not r.future.done()]
            if not requeue:
                for request in unanswered:
                    _settle(request.future, error=exc)
                return
            with self._lock:
                self._queue.extendleft(reversed(unanswered))
            raise


def _rows(vectors: Any, rows: list[int]) -> Any:
    """The given rows of a pass's result (numpy: one fancy-index; else a list)."""
    if hasattr(vectors, "shape"):
        return vectors[rows]
    return [vectors[i] for i in rows]


def _settle(
    future: Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    """Answer a request unless it was cancelled (its caller is gone)."""
    try:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
    except InvalidStateError:
        pass
