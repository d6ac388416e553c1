"""The boundary with redis-py: clients, error translation, and URLs safe to print.

Only the stores open connections; this module holds what both the sync and
the async store need to do so, and the one place where redis-py and redisvl
errors become :class:`~redis_docstore.errors.DocstoreError` subclasses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.exceptions
from redisvl.exceptions import RedisVLError

from redis_docstore.errors import MissingModuleError, StoreConnectionError, StoreError

__all__ = ["execute", "is_missing_index", "redact_url", "redis_errors", "translate"]


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
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return StoreConnectionError(f"{action}: {exc}")
    message = str(exc)
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


def is_missing_index(exc: BaseException) -> bool:
    """Whether a reply error says the index (or alias) does not exist."""
    message = str(exc).lower()
    return "unknown index name" in message or "no such index" in message
