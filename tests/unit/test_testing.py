"""Pure tests of redis_docstore.testing: backend choice and names (no server)."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_docstore.testing import (
    RedactedURL,
    StoreNames,
    choose_backend,
    docker_engine_available,
    escape_glob,
    new_store_names,
    redact_url,
    stack_server,
)


class DockerProbe:
    """A fake ``docker_available`` that records whether it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answer


@pytest.mark.parametrize("docker", [True, False])
def test_redis_url_wins_without_asking_docker(docker: bool) -> None:
    probe = DockerProbe(docker)
    assert choose_backend({"REDIS_URL": "redis://db:6379/0"}, probe) == "url"
    assert probe.calls == 0


def test_docker_when_no_url_and_an_engine_answers() -> None:
    probe = DockerProbe(True)
    assert choose_backend({"HOME": "/root"}, probe) == "docker"
    assert probe.calls == 1


def test_embedded_when_no_url_and_no_engine() -> None:
    probe = DockerProbe(False)
    assert choose_backend({}, probe) == "embedded"
    assert probe.calls == 1


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_redis_url_counts_as_unset(empty: str) -> None:
    assert choose_backend({"REDIS_URL": empty}, DockerProbe(False)) == "embedded"
    assert choose_backend({"REDIS_URL": empty}, DockerProbe(True)) == "docker"


def test_no_docker_engine_is_detected_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-such-docker.sock'}")
    started = time.monotonic()
    assert docker_engine_available() is False
    assert time.monotonic() - started < 2.0


def test_a_hanging_docker_host_is_given_up_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        assert docker_engine_available(timeout=0.5) is False
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://:s3cret@db:6380/1", "redis://:***@db:6380/1"),
        ("rediss://alice:s3cret@db.example:6380", "rediss://alice:***@db.example:6380"),
        ("redis://alice:p%40ss@db:6379?ssl_cert_reqs=none", "redis://alice:***@db:6379?ssl_cert_reqs=none"),
        ("redis://db:6379/0?password=s3cret&db=2", "redis://db:6379/0?password=***&db=2"),
        ("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
    ],
)  # fmt: skip
def test_redact_url_hides_the_password(url: str, safe: str) -> None:
    assert redact_url(url) == safe
    assert "s3cret" not in redact_url(url)


def test_a_redacted_url_is_the_url_but_its_repr_hides_the_password() -> None:
    url = RedactedURL("redis://:s3cret@db:6379/0")
    assert url == "redis://:s3cret@db:6379/0"
    assert isinstance(url, str)
    assert f"{url}" == "redis://:s3cret@db:6379/0"
    assert repr(url) == "'redis://:***@db:6379/0'"
    assert "s3cret" not in repr([url])


def test_store_names_are_unique_and_simple() -> None:
    names = [new_store_names() for _ in range(200)]
    assert len({n.index for n in names}) == 200
    for n in names:
        assert re.fullmatch(r"t[0-9a-f]{10}", n.index)
        assert n.prefix == n.index
        assert not n.prefix.endswith(":")


def test_store_names_are_frozen() -> None:
    names = StoreNames(index="i", prefix="p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        names.index = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("t0123456789", "t0123456789"), ("a*b?c[d]e", r"a\*b\?c\[d\]e"), ("x\\y", "x\\\\y")],
)
def test_escape_glob(raw: str, escaped: str) -> None:
    assert escape_glob(raw) == escaped


class Stack:
    """A fake server starter: yields ``url``, or raises ``error`` on start."""

    def __init__(self, url: str, error: Exception | None = None) -> None:
        self.url, self.error = url, error
        self.started = self.stopped = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[str]:
        self.started += 1
        if self.error is not None:
            raise self.error
        try:
            yield self.url
        finally:
            self.stopped += 1


def test_the_image_tag_is_pinned() -> None:
    from redis_docstore.testing import REDIS_STACK_IMAGE

    name, _, tag = REDIS_STACK_IMAGE.partition(":")
    assert name == "redis/redis-stack-server"
    assert tag and tag != "latest"


def test_a_container_that_starts_is_used() -> None:
    docker, embedded = Stack("redis://container:6379"), Stack("redis://embedded:1")
    with stack_server("docker", {}, docker=docker, embedded=embedded) as url:
        assert url == "redis://container:6379"
    assert (docker.started, docker.stopped, embedded.started) == (1, 1, 0)


@pytest.mark.parametrize(
    "error",
    [RuntimeError("pull access denied for redis/redis-stack-server"), OSError("no network")],
)
def test_a_container_that_cannot_start_falls_back_to_the_embedded_server(
    error: Exception,
) -> None:
    docker, embedded = Stack("redis://container:6379", error), Stack("redis://embedded:1")
    with (
        pytest.warns(RuntimeWarning, match="did not start.*using the embedded server"),
        stack_server("docker", {}, docker=docker, embedded=embedded) as url,
    ):
        assert url == "redis://embedded:1"
    assert (docker.started, embedded.started, embedded.stopped) == (1, 1, 1)


def test_the_url_and_embedded_backends_start_nothing_else() -> None:
    docker, embedded = Stack("redis://container:6379"), Stack("redis://embedded:1")
    with stack_server(
        "url", {"REDIS_URL": " redis://:pw@db:6379/0 "}, docker=docker, embedded=embedded
    ) as url:
        assert url == "redis://:pw@db:6379/0" and "pw" not in repr(url)
    with stack_server("embedded", {}, docker=docker, embedded=embedded) as url:
        assert url == "redis://embedded:1"
    assert (docker.started, embedded.started) == (0, 1)
