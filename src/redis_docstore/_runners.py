"""How a store performs a flow's effects: with blocking calls, or with awaits.

Every operation is a flow in :mod:`redis_docstore._ops` that yields effects
(:mod:`redis_docstore._effects`); a runner performs them and sends the results
back in. A store holds one, as an httpx client holds its transport:
:class:`~redis_docstore.DocumentStore` a :class:`BlockingRunner` (blocking
redis-py calls), :class:`~redis_docstore.AsyncDocumentStore` an
:class:`AsyncRunner` (``redis.asyncio`` awaits). They stand side by side here
so the twins stay visibly alike: a change to one belongs in the other. What
they share — the retry schedule and when to retry — is written once, in
:class:`RetrySchedule` and :class:`_Runner`.

Only runners open connections: the store's constructor makes its runner, and
its ``close`` closes it.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import redis
import redis.asyncio
import redis.exceptions
from redisvl.index import AsyncSearchIndex, SearchIndex

from redis_docstore._batching import EmbeddingBatcher
from redis_docstore._connection import (
    ASYNC_NO_RETRY,
    CLIENT_OPTIONS,
    NO_RETRY,
    execute,
    finish_replies,
    no_connections,
    redis_errors,
    translate,
)
from redis_docstore._effects import (
    Collect,
    Commands,
    CreateIndex,
    Embed,
    Flow,
    RespProtocol,
    ScanDelete,
    Sleep,
    Submit,
    pack,
)
from redis_docstore._errors import DocstoreError, StoreClosedError, StoreConnectionError
from redis_docstore._ops.lifecycle import wait_indexed
from redis_docstore._ops.state import StoreState
from redis_docstore._schema import build_schema

__all__ = [
    "RETRY_FIRST_DELAY",
    "RETRY_MAX_DELAY",
    "AsyncRunner",
    "BlockingRunner",
    "RetrySchedule",
]

T = TypeVar("T")
SCAN_BATCH = 1000
WRITERS = 4  # background write threads (one pipeline in flight per add call)
RETRY_FIRST_DELAY = 0.05  # seconds before resending after a connection error
RETRY_MAX_DELAY = 1.0  # ... doubling up to this


class RetrySchedule:
    """The pauses before resending one effect after connection errors.

    ``RETRY_FIRST_DELAY``, doubling up to ``RETRY_MAX_DELAY``, for ``timeout``
    seconds in all from the schedule's making (the first attempt).
    """

    def __init__(self, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout
        self._delay = RETRY_FIRST_DELAY

    def next_delay(self) -> float | None:
        """The pause before the next resend, or ``None`` when the time is up."""
        delay = self._delay
        if time.monotonic() + delay > self._deadline:
            return None
        self._delay = min(2 * delay, RETRY_MAX_DELAY)
        return delay


class _Runner:
    """What both runners hold: the store's state, the retry policy, the model batcher."""

    def __init__(self, url: str, state: StoreState, *, retry_timeout: float) -> None:
        self._url = url
        self._state = state
        self._retry_timeout = retry_timeout
        self._recovering = False
        self._idle: dict[RespProtocol, list[Any]] = no_connections()
        #: Concurrent callers' texts share the model's passes (see batching).
        self._batcher = EmbeddingBatcher()
        self._closed = False

    def _retry_delay(self, effect: Commands, schedule: RetrySchedule) -> float | None:
        """After a connection error: the pause before resending ``effect``, or ``None``.

        A store that never reached its server fails at once (a wrong URL); one
        that did rides out a restart or a dropped connection, for
        ``retry_timeout`` seconds in all. Only idempotent commands are resent.
        """
        if not effect.idempotent or not self._state.ready or self._recovering:
            return None
        return schedule.next_delay()


def _read_reply(connection: Any) -> Any:
    """The next reply; an error reply as its exception object (pipeline style)."""
    try:
        return connection.read_response()
    except redis.exceptions.ResponseError as exc:
        return exc


class BlockingRunner(_Runner):
    """Performs flows with blocking redis-py calls (the runner of ``DocumentStore``).

    Args:
        url: The Redis URL.
        state: The store's state (its settings, models and ready flag).
        retry_timeout: Seconds to keep resending after connection errors.
    """

    def __init__(self, url: str, state: StoreState, *, retry_timeout: float) -> None:
        super().__init__(url, state, retry_timeout=retry_timeout)
        self._client: redis.Redis = redis.Redis.from_url(url, retry=NO_RETRY, **CLIENT_OPTIONS)
        # RESP3 for everything; RESP2, opened on first use, for searches.
        # Connections are taken from the pools once and kept (see _send_once).
        self._clients: dict[RespProtocol, redis.Redis] = {3: self._client}
        self._pid = os.getpid()
        self._writer: ThreadPoolExecutor | None = None  # background writes (Submit)
        self._setup_lock = threading.Lock()  # threads share the store: one pool, one client

    def close(self) -> None:
        """Finish background writes and close every connection (the store's ``close``).

        Callers still waiting for the model get ``StoreClosedError``; later
        calls too.
        """
        self._closed = True
        self._batcher.close()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        self._idle = no_connections()
        for client in self._clients.values():
            client.close()  # disconnects our connections too (checked out of its pool)

    def run(self, flow: Flow[T]) -> T:
        """Perform ``flow``'s effects until it returns; its result.

        Raises:
            StoreClosedError: The runner was closed.
            DocstoreError: What the flow raised (an effect's error is raised
                inside the flow first, at its yield).
        """
        if self._closed:
            raise StoreClosedError("the store was closed")
        result: Any = None
        error: DocstoreError | None = None
        while True:
            try:
                # An effect's error is raised inside the flow, at its yield, so
                # the flow can say what it means (which writes are unconfirmed).
                effect = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                result, error = self._perform(effect), None
            except DocstoreError as exc:
                result, error = None, exc

    def _perform(self, effect: Any) -> Any:
        if isinstance(effect, Commands):
            return self._send(effect)
        if isinstance(effect, Embed):
            return self._batcher.embed(effect.texts, effect.embedder or self._state.embedder)
        if isinstance(effect, Sleep):
            time.sleep(effect.seconds)
            return None
        if isinstance(effect, CreateIndex):
            index = SearchIndex(build_schema(effect.settings), redis_client=self._client)
            with redis_errors(f"creating index {effect.settings.name!r}"):
                index.create(overwrite=effect.overwrite, drop=False)
            return None
        if isinstance(effect, ScanDelete):
            return self._scan_delete(effect.pattern, effect.keep)
        if isinstance(effect, Submit):
            with self._setup_lock:  # threads share the store, and its one pool
                if self._writer is None:
                    self._writer = ThreadPoolExecutor(
                        WRITERS, thread_name_prefix="docstore-writer"
                    )
            return self._writer.submit(self._send, effect.commands)
        if isinstance(effect, Collect):
            return effect.ticket.result()
        raise TypeError(f"unknown effect {effect!r}")

    def _send(self, effect: Commands) -> list[Any]:
        schedule = RetrySchedule(self._retry_timeout)
        while True:
            try:
                return self._send_once(effect)
            except StoreConnectionError:
                delay = self._retry_delay(effect, schedule)
                if delay is None:
                    raise
            time.sleep(delay)
            self._recover()

    def _recover(self) -> None:
        """After a reconnection: a restarted server may still be rebuilding the index."""
        if self._state.ready and not self._recovering:
            self._recovering = True
            try:
                self.run(wait_indexed(self._state, self._state.settings.name))
            except StoreConnectionError:
                pass  # still down; the caller keeps retrying
            finally:
                self._recovering = False

    def _send_once(self, effect: Commands) -> list[Any]:
        commands = effect.commands
        if effect.transaction:
            with redis_errors(effect.action):
                pipe = self._client.pipeline(transaction=True)
                for command in commands:
                    execute(pipe, *command)
                return pipe.execute(raise_on_error=not effect.allow_errors)
        # One round trip on a connection of our own: redis-py's execute_command
        # checks a pooled connection out and in, wraps retries and records
        # metrics per call, which costs as much as a search takes on the server.
        protocol = effect.protocol
        try:
            connection = self._checkout(protocol)
            try:
                connection.send_packed_command([pack(commands)])
                replies = [_read_reply(connection) for _ in commands]
            except BaseException:
                connection.disconnect()  # never hand on a half-read connection
                raise
            finally:
                self._idle[protocol].append(connection)
            callbacks = self._clients[protocol].response_callbacks
            return finish_replies(commands, replies, callbacks, allow_errors=effect.allow_errors)
        except redis.exceptions.RedisError as exc:
            raise translate(exc, effect.action) from exc

    def _checkout(self, protocol: RespProtocol) -> Any:  # a redis-py Connection (untyped)
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours
            self._idle, self._pid = no_connections(), os.getpid()
        try:
            return self._idle[protocol].pop()  # atomic: threads share the lists
        except IndexError:
            pass
        if protocol not in self._clients:
            with self._setup_lock:  # two threads must not make two clients (one leaked)
                if protocol not in self._clients:
                    options = {**CLIENT_OPTIONS, "protocol": protocol}
                    self._clients[protocol] = redis.Redis.from_url(
                        self._url, retry=NO_RETRY, **options
                    )
        return self._clients[protocol].connection_pool.get_connection()

    def _scan_delete(self, pattern: str, keep: frozenset[str]) -> int:
        # SCAN, never KEYS; the pattern is always under our own "<prefix>:".
        deleted = 0
        batch: list[str] = []
        with redis_errors("deleting documents"):
            for key in self._client.scan_iter(match=pattern, count=SCAN_BATCH):
                if key in keep:
                    continue
                batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    deleted += self._client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += self._client.unlink(*batch)
        return deleted


class AsyncRunner(_Runner):
    """Performs flows with ``redis.asyncio`` awaits (the runner of ``AsyncDocumentStore``).

    The model runs in a worker thread, so embedding never blocks the event loop.

    Args:
        url: The Redis URL.
        state: The store's state (its settings, models and ready flag).
        retry_timeout: Seconds to keep resending after connection errors.
    """

    def __init__(self, url: str, state: StoreState, *, retry_timeout: float) -> None:
        super().__init__(url, state, retry_timeout=retry_timeout)
        self._client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            url, retry=ASYNC_NO_RETRY, **CLIENT_OPTIONS
        )
        # As BlockingRunner: RESP3, RESP2 for searches, connections kept.
        self._clients: dict[RespProtocol, redis.asyncio.Redis] = {3: self._client}

    async def close(self) -> None:
        """Close every connection (the store's ``close``); waiting callers and later
        calls get ``StoreClosedError``."""
        self._closed = True
        self._batcher.close()
        self._idle = no_connections()
        for client in self._clients.values():
            await client.aclose()  # disconnects our connections too (checked out of its pool)

    async def run(self, flow: Flow[T]) -> T:
        """Perform ``flow``'s effects until it returns; its result (``BlockingRunner.run``)."""
        if self._closed:
            raise StoreClosedError("the store was closed")
        result: Any = None
        error: DocstoreError | None = None
        while True:
            try:
                effect = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                result, error = await self._perform(effect), None
            except DocstoreError as exc:
                result, error = None, exc

    async def _perform(self, effect: Any) -> Any:
        if isinstance(effect, Commands):
            return await self._send(effect)
        if isinstance(effect, Embed):
            return await self._batcher.aembed(
                effect.texts, effect.embedder or self._state.embedder
            )
        if isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        if isinstance(effect, CreateIndex):
            index = AsyncSearchIndex(build_schema(effect.settings), redis_client=self._client)
            with redis_errors(f"creating index {effect.settings.name!r}"):
                await index.create(overwrite=effect.overwrite, drop=False)
            return None
        if isinstance(effect, ScanDelete):
            return await self._scan_delete(effect.pattern, effect.keep)
        if isinstance(effect, Submit):
            return asyncio.ensure_future(self._send(effect.commands))
        if isinstance(effect, Collect):
            return await effect.ticket
        raise TypeError(f"unknown effect {effect!r}")

    async def _send(self, effect: Commands) -> list[Any]:
        schedule = RetrySchedule(self._retry_timeout)
        while True:
            try:
                return await self._send_once(effect)
            except StoreConnectionError:
                delay = self._retry_delay(effect, schedule)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            await self._recover()

    async def _recover(self) -> None:
        """After a reconnection: a restarted server may still be rebuilding the index."""
        if self._state.ready and not self._recovering:
            self._recovering = True
            try:
                await self.run(wait_indexed(self._state, self._state.settings.name))
            except StoreConnectionError:
                pass  # still down; the caller keeps retrying
            finally:
                self._recovering = False

    async def _send_once(self, effect: Commands) -> list[Any]:
        commands = effect.commands
        if effect.transaction:
            with redis_errors(effect.action):
                pipe = self._client.pipeline(transaction=True)
                for command in commands:
                    execute(pipe, *command)
                replies: list[Any] = await pipe.execute(raise_on_error=not effect.allow_errors)
                return replies
        # One round trip on a connection of our own (see BlockingRunner._send_once).
        protocol = effect.protocol
        idle = self._idle[protocol]
        try:
            connection = idle.pop() if idle else await self._connect(protocol)
            try:
                await connection.send_packed_command(pack(commands))
                replies = []
                for _ in commands:  # inline: a coroutine per reply costs a search ~2 us
                    try:
                        replies.append(await connection.read_response())
                    except redis.exceptions.ResponseError as exc:
                        replies.append(exc)  # pipeline style: the flow decides
            except BaseException:
                await connection.disconnect(nowait=True)  # never reuse a half-read one
                raise
            finally:
                self._idle[protocol].append(connection)
            callbacks: Any = self._clients[protocol].response_callbacks
            replies = finish_replies(
                commands, replies, callbacks, allow_errors=effect.allow_errors
            )
            # redis.asyncio callbacks may be coroutines, as its client allows.
            return [await r if inspect.isawaitable(r) else r for r in replies]
        except redis.exceptions.RedisError as exc:
            raise translate(exc, effect.action) from exc

    async def _connect(self, protocol: RespProtocol) -> Any:  # a redis-py Connection
        """A new connection of ``protocol`` from its client's pool (kept after use)."""
        if protocol not in self._clients:
            options = {**CLIENT_OPTIONS, "protocol": protocol}
            self._clients[protocol] = redis.asyncio.Redis.from_url(
                self._url, retry=ASYNC_NO_RETRY, **options
            )
        pool = self._clients[protocol].connection_pool
        return await pool.get_connection()  # type: ignore[no-untyped-call]

    async def _scan_delete(self, pattern: str, keep: frozenset[str]) -> int:
        # SCAN, never KEYS; the pattern is always under our own "<prefix>:".
        deleted = 0
        batch: list[str] = []
        with redis_errors("deleting documents"):
            async for key in self._client.scan_iter(match=pattern, count=SCAN_BATCH):
                if key in keep:
                    continue
                batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    deleted += await self._client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += await self._client.unlink(*batch)
        return deleted
