"""The boundary with redis-py: clients, error translation, and URLs safe to print.

Only the stores open connections; this module holds what both the sync and
the async store need to do so, and the one place where redis-py and redisvl
errors become :class:`~redis_docstore._errors.DocstoreError` subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.exceptions
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry
from redisvl.exceptions import RedisVLError

from redis_docstore._effects import RespProtocol
from redis_docstore._errors import (
    IncompleteResultsError,
    MissingModuleError,
    StoreConnectionError,
    StoreError,
)

__all__ = [
    "ASYNC_NO_RETRY",
    "CLIENT_OPTIONS",
    "NO_RETRY",
    "RETRYABLE",
    "execute",
    "finish_replies",
    "is_missing_index",
    "no_connections",
    "redact_url",
    "redis_errors",
    "translate",
]

MAX_MESSAGE = 500
# Our clients: RESP3 replies (maps), str replies, and no retries inside
# redis-py: the stores retry themselves, and after a reconnection they wait
# for the index to be complete again (a restarted server rebuilds it).
CLIENT_OPTIONS: dict[str, Any] = {"protocol": 3, "decode_responses": True}
NO_RETRY = Retry(NoBackoff(), 0)
ASYNC_NO_RETRY = AsyncRetry(NoBackoff(), 0)
# Errors after which an idempotent command is sent again (BusyLoadingError,
# a server still loading its data, is a ConnectionError).
RETRYABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def redact_url(url: str) -> str:
    """Return ``url`` with its password, if any, replaced by ``***`` (safe to print).

    Both places redis-py reads a password from are covered: the user-info part
    and a ``password=`` query parameter.
    """
    parts = original = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name.lower() == "password" for name, _ in query):
        hidden = [(name, "***" if name.lower() == "password" else v) for name, v in query]
        parts = parts._replace(query=urlencode(hidden, safe="*"))
    return url if parts == original else urlunsplit(parts)


def translate(exc: Exception, action: str) -> StoreError:
    """The error of ours that stands for a redis-py or redisvl error.

    Args:
        exc: The error raised (or returned in a pipeline's replies).
        action: What we were doing, for the message ("searching", ...).

    Returns:
        A ``StoreConnectionError``, ``MissingModuleError`` or ``StoreError``.
    """
    message = str(exc)
    if len(message) > MAX_MESSAGE:
        # redis-py quotes a failed pipeline command whole: a document, maybe.
        message = message[:MAX_MESSAGE] + " ..."
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return StoreConnectionError(f"{action}: {message}")
    if "timeout limit was reached" in message.lower():
        return IncompleteResultsError(f"{action}: the query timed out ({message})")
    if "unknown command" in message.lower() and ("'FT." in message or "'JSON." in message):
        return MissingModuleError(
            f"{action}: the server lacks the Query Engine or JSON module ({message}); "
            "use Redis Stack / Redis 8, or DocumentStore.embedded()"
        )
    return StoreError(f"{action}: {message}")


@contextmanager
def redis_errors(action: str) -> Iterator[None]:
    """Translate redis-py and redisvl errors raised inside into ours."""
    try:
        yield
    except (redis.exceptions.RedisError, RedisVLError) as exc:
        raise translate(exc, action) from exc


def execute(client: Any, *args: Any) -> Any:
    """``client.execute_command``, typed (redis-py leaves it untyped)."""
    return client.execute_command(*args)


def no_connections() -> dict[RespProtocol, list[Any]]:
    """The stores' idle connections per protocol, none yet (see ``_send_once``)."""
    return {2: [], 3: []}


def finish_replies(
    commands: Sequence[tuple[Any, ...]],
    replies: list[Any],
    callbacks: Mapping[Any, Callable[..., Any]],
    *,
    allow_errors: bool,
) -> list[Any]:
    """Replies read straight off a connection, as ``execute_command`` would return them.

    The stores send commands on connections they hold (redis-py's per-call
    pool checkout, retry and metrics wrappers cost ~30 us, as much as a
    search): this applies redis-py's response callbacks (``INFO``, ...) and
    its pipeline rule for error replies.

    Args:
        commands: The commands sent.
        replies: Their replies; an error reply is a ``ResponseError`` object.
        callbacks: The client's ``response_callbacks``.
        allow_errors: Keep error replies in the list instead of raising.

    Returns:
        The replies.

    Raises:
        redis.exceptions.ResponseError: The first error reply, unless allowed.
    """
    for i, (command, reply) in enumerate(zip(commands, replies, strict=True)):
        if isinstance(reply, redis.exceptions.ResponseError):
            if not allow_errors:
                raise reply
            continue
        callback = callbacks.get(command[0])
        if callback is not None:
            replies[i] = callback(reply)
    return replies


def is_missing_index(exc: BaseException) -> bool:
    """Whether a reply error says the index (or alias) does not exist."""
    message = str(exc).lower()
    return "unknown index name" in message or "no such index" in message
