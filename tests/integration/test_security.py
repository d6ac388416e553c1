"""Security: secrets, ACL users, TLS, forbidden commands, destructive opt-ins, prefixes.

Each test starts its own EmbeddedServer (it changes server settings: a password,
ACL users, command statistics). That the embedded server binds to 127.0.0.1 only,
with protected mode on, is tested in
``tests/integration/test_server.py::test_server_binds_loopback_only``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_docstore import (
    AsyncDocumentStore,
    DocstoreError,
    Document,
    DocumentStore,
    InvalidDocumentError,
    SchemaMismatchError,
    StoreConnectionError,
    StoreError,
    UnsafeEvictionError,
    ValidationError,
    WriteError,
)
from redis_docstore._cli.commands import main as cli_main
from redis_docstore._filters.conditions import Tag
from redis_docstore._server import EmbeddedServer
from redis_docstore.testing import RedactedURL, StoreNames

SENTINEL = "Sentinel-pw-7f3a9c0e"  # the right password
WRONG = "Wrong-sentinel-5d1b2a"  # a wrong one; it must not leak either


class Tiny:
    """A deterministic 4-dim embedder."""

    dims = 4

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), float(t.count("e")), 1.0] for t in texts]


class TinyThree:
    """Another model (3 dims), for reembed."""

    dims = 3

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("o")), 1.0] for t in texts]


DOCS = [
    Document("That is a very happy person", "persons", id="p1", metadata={"author": "ann"}),
    Document("That is a happy dog", ["pets", "animals"], id="p2", metadata={"author": "bob"}),
    Document("Today is a sunny day", "weather", id="p3", metadata={"author": "ann"}),
    Document("A cat asleep in the sun", ["pets", "animals"], id="p4"),
]


def full_workflow(store: DocumentStore) -> None:
    """Every public operation of the sync store, with checks of what they return."""
    store.create()
    assert store.add(DOCS) == ["p1", "p2", "p3", "p4"]
    assert store.load(DOCS).unchanged == ["p1", "p2", "p3", "p4"]
    assert len(store.search("happy", k=2)) == 2
    assert {h.id for h in store.search("happy", k=4, genre="pets")} == {"p2", "p4"}
    hits = store.search("happy", k=4, genres_all=["pets", "animals"], exclude_genres=["x"])
    assert {h.id for h in hits} == {"p2", "p4"}
    assert [h.id for h in store.search("happy", k=4, where=Tag("author") == "bob")] == ["p2"]
    assert len(store.search("happy", max_distance=1e6)) == 4
    assert len(store.search("happy", k=2, text="happy")) == 2
    assert len(store.search("happy", k=2, mmr_lambda=0.5)) == 2
    assert [len(r) for r in store.search_many(["happy", "sunny"], k=1)] == [1, 1]
    assert "FT.SEARCH" in store.explain("happy", genre="pets")
    assert store.count() == 4
    assert store.count("pets") == 2
    assert store.genres() == {"animals": 2, "pets": 2, "persons": 1, "weather": 1}
    assert [d.id for d in store.list_documents(limit=2)] == ["p1", "p2"]
    assert [d.id for d in store.iter_documents(batch_size=1)] == ["p1", "p2", "p3", "p4"]
    got = store.get("p1")
    assert got is not None and got.content == DOCS[0].content
    assert store.update("p1", genre="people").genre == ["people"]
    assert store.update("p1", content="That is a very glad person").content.endswith("glad person")
    assert store.info()["documents"] == 4
    assert store.update(where=Tag("genre") == "pets", metadata={"seen": True}) == ["p2", "p4"]
    assert store.add(DOCS[2], ttl=60) == ["p3"]
    assert store.expire(["p2"], 60) == 1 and store.persist("p3") == 1
    assert store.ttl("p3") is None and store.ttl("p2") is not None
    assert store.delete(["p1", "p3"], dry_run=True) == 2
    assert store.delete("p1") == 1
    assert store.delete(where=Tag("genre") == "weather") == 1
    assert store.reembed(TinyThree()) == 2  # p2's expiry carried over
    assert store.ttl("p2") is not None
    assert store.reembed(Tiny()) == 2  # a second generation: the alias is moved
    assert {h.id for h in store.search("happy", k=4)} == {"p2", "p4"}
    store.drop(delete_documents=True)


async def async_workflow(store: AsyncDocumentStore) -> None:
    """The async store's operations (a separate I/O path)."""
    await store.create()
    await store.add(DOCS)
    await store.load(DOCS)
    assert {h.id for h in await store.search("happy", k=4, genre="pets")} == {"p2", "p4"}
    assert len((await store.search_many(["happy", "sunny"], k=1))[1]) == 1
    assert await store.count() == 4
    assert (await store.genres())["pets"] == 2
    assert len(await store.list_documents(limit=2)) == 2
    assert len([d async for d in store.iter_documents(batch_size=1)]) == 4
    assert (await store.get("p2")) is not None
    await store.update("p2", genre="dogs")
    assert await store.update(where=Tag("genre") == "dogs", metadata={"x": 1}) == ["p2"]
    assert await store.expire("p2", 60) == 1
    await store.info()
    assert await store.delete("p1") == 1
    assert await store.delete(where=Tag("genre") == "weather") == 1
    assert await store.reembed(TinyThree()) == 2
    await store.drop(delete_documents=True)


@contextmanager
def admin_of(server: EmbeddedServer, password: str | None = None) -> Iterator[redis.Redis]:
    client = redis.Redis(
        host="127.0.0.1", port=server.port, password=password, decode_responses=True
    )
    try:
        yield client
    finally:
        client.close()


# -- passwords -------------------------------------------------------------------------------


def exception_text(exc: BaseException) -> str:
    """Everything an exception shows: the traceback, and str/repr/args of its whole chain."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        parts += [str(item), repr(item), repr(item.args)]
        parts += [repr(v) for v in vars(item).values()] if hasattr(item, "__dict__") else []
        stack += [item.__cause__, item.__context__]
    return "\n".join(parts)


def assert_secret_free(text: str, where: str) -> None:
    for secret in (SENTINEL, WRONG):
        assert secret not in text, f"a password appears in {where}"


@pytest.fixture
def password_server() -> Iterator[EmbeddedServer]:
    """A server whose default user needs SENTINEL (set by the test, never by the library).

    ``EmbeddedServer(extra_args=("--requirepass", ...))`` would not start: see
    test_embedded_server_with_requirepass_starts_and_stops.
    """
    with EmbeddedServer() as server:
        with admin_of(server) as admin:
            admin.config_set("requirepass", SENTINEL)
        try:
            yield server
        finally:
            with admin_of(server, SENTINEL) as admin:
                admin.config_set("requirepass", "")  # so stop() can SHUTDOWN it


def test_passwords_never_appear_in_reprs_errors_logs_warnings_or_cli(
    password_server: EmbeddedServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG, logger="redis_docstore")
    caplog.set_level(logging.DEBUG, logger="redis")
    port = password_server.port
    right = [
        f"redis://:{SENTINEL}@127.0.0.1:{port}",
        f"redis://default:{SENTINEL}@127.0.0.1:{port}/0",
        f"redis://127.0.0.1:{port}/0?password={SENTINEL}",
    ]
    wrong = [
        f"redis://:{WRONG}@127.0.0.1:{port}",
        f"redis://127.0.0.1:{port}?password={WRONG}",
        f"redis://127.0.0.1:{port}",  # no password at all
    ]
    unreachable = [f"redis://:{SENTINEL}@127.0.0.1:1", f"redis://127.0.0.1:1?password={SENTINEL}"]
    shown: list[tuple[str, str]] = []  # (where, text)
    errors: list[BaseException] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n, url in enumerate(right):
            names = {"index": f"sec{n}", "prefix": f"sec{n}"}
            with DocumentStore(
                url, **names, embedder=Tiny(), metadata_fields={"author": "tag"}
            ) as s:
                shown += [("repr(store)", repr(s)), ("str(store)", str(s)), ("store.url", s.url)]
                full_workflow(s)
                s.add(DOCS)
                shown += [("store.info()", repr(s.info())), ("explain()", s.explain("happy"))]
                # Error paths with the right password: bad input, schema drift, a
                # command Redis refuses (WRONGTYPE).
                s.add(DOCS)
                with pytest.raises(InvalidDocumentError) as bad:
                    s.add(Document("", "g"))
                errors.append(bad.value)
                with admin_of(password_server, SENTINEL) as admin:
                    admin.set(f"sec{n}:clash", "a string, not JSON")
                with pytest.raises(StoreError) as refused:
                    s.update("clash", genre="x")
                errors.append(refused.value)
            other = DocumentStore(url, **names, embedder=TinyThree())
            with other, pytest.raises(SchemaMismatchError) as drift:
                other.count()
            errors.append(drift.value)

            async def run_async(url: str = url, n: int = n) -> str:
                names = {"index": f"asec{n}", "prefix": f"asec{n}"}
                store = AsyncDocumentStore(url, **names, embedder=Tiny())
                try:
                    await async_workflow(store)
                    return repr(store) + store.url
                finally:
                    await store.close()

            shown.append(("repr(AsyncDocumentStore)", asyncio.run(run_async())))
        # An evicting server: refused, or accepted with a warning (and a log record).
        with admin_of(password_server, SENTINEL) as admin:
            admin.config_set("maxmemory-policy", "allkeys-lru")
            try:
                with (
                    DocumentStore(right[0], index="ev", prefix="ev", embedder=Tiny()) as s,
                    pytest.raises(UnsafeEvictionError) as evicting,
                ):
                    s.count()
                errors.append(evicting.value)
                with DocumentStore(
                    right[0], index="ev", prefix="ev", embedder=Tiny(), allow_eviction=True
                ) as s:
                    s.count()
            finally:
                admin.config_set("maxmemory-policy", "noeviction")
        for url in wrong + unreachable:
            with DocumentStore(url, embedder=Tiny()) as s:
                shown += [("repr(store)", repr(s)), ("store.url", s.url)]
                with pytest.raises(DocstoreError) as failed:
                    s.count()
                assert isinstance(failed.value, StoreConnectionError), failed.value
                errors.append(failed.value)

            async def fail_async(url: str = url) -> BaseException:
                store = AsyncDocumentStore(url, embedder=Tiny())
                try:
                    await store.count()
                except DocstoreError as exc:
                    return exc
                finally:
                    await store.close()
                raise AssertionError("no error")

            errors.append(asyncio.run(fail_async()))
        # A refused write (out of memory), then retries exhausted on a server that died.
        with EmbeddedServer() as doomed:
            with admin_of(doomed) as admin:
                admin.config_set("requirepass", SENTINEL)
            url = f"redis://:{SENTINEL}@127.0.0.1:{doomed.port}"
            with DocumentStore(url, embedder=Tiny(), retry_timeout=0.1) as s:
                s.add(DOCS)
                with admin_of(doomed, SENTINEL) as admin:
                    admin.config_set("maxmemory", "1")
                with pytest.raises(WriteError) as unwritten:
                    s.add(Document("more text", "g", id="more"))
                errors.append(unwritten.value)
                doomed.kill()
                with pytest.raises(StoreConnectionError) as lost:
                    s.count()
                errors.append(lost.value)
    for exc in errors:
        assert_secret_free(exception_text(exc), f"an exception: {type(exc).__name__}: {exc}")
    for where, text in shown:
        assert SENTINEL not in text and WRONG not in text, f"a password appears in {where}"
    assert repr(RedactedURL(right[0])).count("***") == 1
    assert_secret_free(repr(RedactedURL(right[0])), "testing.RedactedURL")

    # The command line: success and failure, with the password in --url.
    capsys.readouterr()
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(
        json.dumps({"content": "x y", "genre": "g", "id": "c1", "embedding": [0.5] * 384}) + "\n"
    )
    with admin_of(password_server, SENTINEL) as admin:
        admin.set("doc:used", "makes the demo refuse these names")
    cli = ["--index", "clisec", "--prefix", "clisec"]
    codes = []
    for args in (
        ["--url", right[0], *cli, "add", str(jsonl)],
        ["--url", right[0], *cli, "count"],
        ["--url", right[0], *cli, "genres"],
        ["--url", right[0], *cli, "info"],
        ["--url", right[0], *cli, "export"],
        ["--url", right[0], *cli, "search", "x y", "--explain"],
        ["--url", right[0], "demo"],  # refuses: keys under "doc:" exist (names the URL)
        ["--url", right[2], *cli, "count"],
        ["--url", wrong[0], *cli, "count"],
        ["--url", wrong[0], *cli, "add", str(jsonl)],
        ["--url", unreachable[0], *cli, "count"],
    ):
        codes.append(cli_main(args))
    output = capsys.readouterr()
    assert_secret_free(output.out + output.err, "the CLI's output")
    # Failing: the demo (keys under "doc:" exist), wrong password twice, unreachable.
    assert codes == [0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1], output.err
    assert "***" in output.err  # the demo's refusal names the URL, redacted

    assert caught, "the eviction warning was not recorded"
    assert caplog.records, "no log record was captured"
    assert_secret_free(caplog.text, "log records")
    for record in caplog.records:
        assert_secret_free(repr(record.args) + str(record.msg), "a log record's arguments")
    for warning in caught:
        assert_secret_free(str(warning.message), "a warning")


def test_embedded_server_with_requirepass_starts_and_stops() -> None:
    """``password=`` protects the embedded server, without the password in the process list."""
    server = EmbeddedServer(password=SENTINEL, startup_timeout=5)
    try:
        try:
            server.start()
        except DocstoreError as exc:
            assert_secret_free(exception_text(exc), "the start error")
            raise
        with admin_of(server, SENTINEL) as admin:
            assert admin.ping()
        assert_secret_free(repr(server), "repr(EmbeddedServer)")
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(errors="replace")
        assert_secret_free(cmdline, "the server's command line")
        assert not list(server.data_dir.glob("*auth*"))  # the config file is gone
        with redis.Redis(port=server.port) as anonymous, pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        with DocumentStore(server.url, embedder=Tiny()) as store:
            store.add(DOCS[:1])
            assert store.count() == 1
            assert_secret_free(repr(store), "repr(DocumentStore)")
    finally:
        server.stop()
    assert not server.is_running()


# -- ACL users -------------------------------------------------------------------------------


def acl_rules(prefix: str) -> list[str]:
    """The ACL rules a store whose index and prefix are ``prefix`` needs, and no more.

    RediSearch declares the index name as a key, hence ``~<prefix>`` (the index)
    and ``~<prefix>.v[0-9]*`` (re-embedded generations: index names and keys).
    ``CONFIG GET`` (eviction check) and ``CLIENT SETINFO`` (redis-py) are denied
    and tolerated.
    """
    return [
        "resetchannels",
        "-@all",
        f"~{prefix}",
        f"~{prefix}:*",
        f"~{prefix}.v[0-9]*",
        "+hgetall",
        "+hmget",
        "+hset",
        "+hdel",
        "+hpexpire",
        "+unlink",
        "+exists",
        "+persist",
        "+pexpire",
        "+pexpireat",
        "+pttl",
        "+pexpiretime",
        "+scan",
        "+multi",
        "+exec",
        "+json.set",
        "+json.get",
        "+json.mget",
        "+json.merge",
        "+ft.create",
        "+ft.info",
        "+ft.search",
        "+ft.aggregate",
        "+ft.cursor",
        "+ft.tagvals",
        "+ft.dropindex",
        "+ft.aliasadd",
        "+ft.aliasupdate",
        "+ft.aliasdel",
        "+memory|usage",
    ]


@pytest.fixture(scope="module")
def acl_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as server:
        yield server


def add_user(server: EmbeddedServer, user: str, rules: Sequence[str]) -> str:
    with admin_of(server) as admin:
        admin.execute_command("ACL", "SETUSER", user, "reset", "on", f">{user}-pw", *rules)
    return f"redis://{user}:{user}-pw@127.0.0.1:{server.port}"


def test_a_user_restricted_to_the_prefix_can_do_everything(acl_server: EmbeddedServer) -> None:
    url = add_user(acl_server, "app", acl_rules("app"))
    with admin_of(acl_server) as admin:
        admin.acl_log_reset()
        admin.execute_command("JSON.SET", "other:1", "$", '{"content": "not yours"}')
        with DocumentStore(
            url, index="app", prefix="app", embedder=Tiny(), metadata_fields={"author": "tag"}
        ) as store:
            full_workflow(store)
            store.add(DOCS)
            assert store.count() == 4

        async def run_async() -> None:
            store = AsyncDocumentStore(url, index="app", prefix="app", embedder=Tiny())
            try:
                await store.drop(delete_documents=True)
                await async_workflow(store)
            finally:
                await store.close()

        asyncio.run(run_async())
        denied = {entry["object"] for entry in admin.acl_log()}
        # The user cannot touch another prefix's keys, nor another index.
        with redis.Redis.from_url(url) as raw:
            with pytest.raises(redis.exceptions.NoPermissionError):
                raw.execute_command("JSON.SET", "other:1", "$", '{"content": "mine"}')
            with pytest.raises(redis.exceptions.NoPermissionError):
                raw.execute_command("JSON.GET", "other:1")
            with pytest.raises(redis.exceptions.NoPermissionError):
                raw.execute_command("UNLINK", "other:1")
            assert raw.execute_command("JSON.SET", "app:raw", "$", "{}") == b"OK"
            raw.unlink("app:raw")
        with (
            DocumentStore(url, index="other", prefix="other", embedder=Tiny()) as foreign,
            pytest.raises(StoreError, match=r"(?i)permission"),
        ):
            foreign.count()
        assert json.loads(admin.execute_command("JSON.GET", "other:1")) == {"content": "not yours"}
    # Only what the store tolerates was denied during the workflows.
    assert denied <= {"config|get", "client|setinfo"}, denied


NEEDED = [r for r in acl_rules("app") if r.startswith(("+", "~"))]


@pytest.mark.parametrize("rule", NEEDED)
def test_every_acl_rule_is_needed(acl_server: EmbeddedServer, rule: str) -> None:
    user = f"less{NEEDED.index(rule)}"
    url = add_user(
        acl_server, user, [r.replace("app", user) for r in acl_rules("app") if r != rule]
    )
    with (
        DocumentStore(
            url, index=user, prefix=user, embedder=Tiny(), metadata_fields={"author": "tag"}
        ) as store,
        # Mostly "no permissions"; without MULTI, "EXEC without MULTI".
        pytest.raises(StoreError),
    ):
        full_workflow(store)


# -- TLS ---------------------------------------------------------------------------------------

# A self-signed certificate for localhost / 127.0.0.1 (valid until 2126), for a local
# TLS listener only: no client trusts it unless told to.
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUF6XCOgKdZdp+a7pqirv1hhimr/AwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTE5NTUwMloYDzIxMjYxMTAx
MTk1NTAyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQagmOl6Y+rY6UfS43hOA5yZS1ZGRsks6k1+sKeHh5L7f45WGlQzTpq
6Ks+p/d/tiqVQ41+xjU//GRp9izfTfyHo28wbTAdBgNVHQ4EFgQUCBGyMxrHdhda
C/TUogt21uLiN8EwHwYDVR0jBBgwFoAUCBGyMxrHdhdaC/TUogt21uLiN8EwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgYdIq0NJZkXVIqkE+iY49Hskj4JgMF1AylcnJuVO9dPsCIQCj
ZgJS+lMmFNeQ9td1bWugjfOmwz89iMdlnjdNzOE9QA==
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgU7qZjOokjOujur5h
lsiu0vdcnCGQ8Ikg0CdSaA75qsOhRANCAAQagmOl6Y+rY6UfS43hOA5yZS1ZGRsk
s6k1+sKeHh5L7f45WGlQzTpq6Ks+p/d/tiqVQ41+xjU//GRp9izfTfyH
-----END PRIVATE KEY-----
"""


def test_rediss_verifies_certificates_unless_told_not_to() -> None:
    for url, verify in (
        ("rediss://localhost:6380", True),
        ("rediss://localhost:6380/0?ssl_check_hostname=true", True),
        ("rediss://localhost:6380?ssl_cert_reqs=none", False),
    ):
        with DocumentStore(url, embedder=Tiny()) as store:
            pool = store._runner._client.connection_pool
            assert pool.connection_class is redis.connection.SSLConnection
            connection: Any = pool.make_connection()
            assert (connection.cert_reqs == ssl.CERT_REQUIRED) is verify, url
            assert connection.check_hostname is verify, url

        async def async_mode(url: str = url) -> tuple[ssl.VerifyMode, bool]:
            store = AsyncDocumentStore(url, embedder=Tiny())
            try:
                connection: Any = store._runner._client.connection_pool.make_connection()
                context = connection.ssl_context.get()
                return context.verify_mode, context.check_hostname
            finally:
                await store.close()

        mode, hostname = asyncio.run(async_mode())
        assert (mode == ssl.CERT_REQUIRED) is verify, url
        assert hostname is verify, url


@contextmanager
def tls_listener(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """A TLS server with the self-signed certificate; it answers any request with an error."""
    (tmp_path / "cert.pem").write_text(TEST_CERT)
    (tmp_path / "key.pem").write_text(TEST_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    handshakes: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        handshakes.append("ok")
                        tls.recv(4096)
                        tls.sendall(b"-ERR this is not Redis\r\n")
                except (ssl.SSLError, OSError) as exc:
                    handshakes.append(f"refused: {exc}")

    thread = threading.Thread(target=serve, name="tls-listener")
    thread.start()
    try:
        yield listener.getsockname()[1], handshakes
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_rediss_refuses_an_untrusted_certificate(tmp_path: Path) -> None:
    with tls_listener(tmp_path) as (port, handshakes):
        with (
            DocumentStore(f"rediss://127.0.0.1:{port}", embedder=Tiny()) as store,
            pytest.raises(StoreConnectionError, match=r"(?i)certificate verify failed"),
        ):
            store.count()
        assert "ok" not in handshakes

        async def async_count(url: str) -> None:
            store = AsyncDocumentStore(url, embedder=Tiny())
            try:
                await store.count()
            finally:
                await store.close()

        with pytest.raises(StoreConnectionError, match=r"(?i)certificate verify failed"):
            asyncio.run(async_count(f"rediss://127.0.0.1:{port}"))
        assert "ok" not in handshakes
        # The explicit opt-out completes the handshake (and then meets a fake server).
        insecure = f"rediss://127.0.0.1:{port}?ssl_cert_reqs=none"
        with DocumentStore(insecure, embedder=Tiny()) as store, pytest.raises(DocstoreError):
            store.count()
        assert "ok" in handshakes


# -- commands the library sends ----------------------------------------------------------------

FORBIDDEN = ("keys", "flushall", "flushdb", "config|set", "debug")


def test_the_library_never_sends_forbidden_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with EmbeddedServer() as server, admin_of(server) as admin:
        admin.config_resetstat()
        with DocumentStore(
            server.url,
            index="wf",
            prefix="wf",
            embedder=Tiny(),
            metadata_fields={"author": "tag"},
        ) as store:
            full_workflow(store)

        async def run_async() -> None:
            store = AsyncDocumentStore(server.url, index="awf", prefix="awf", embedder=Tiny())
            try:
                await async_workflow(store)
            finally:
                await store.close()

        asyncio.run(run_async())
        cli = ["--url", server.url, "--index", "cwf", "--prefix", "cwf"]
        for args in (["count"], ["genres"], ["info"], ["export"], ["search", "x", "--explain"]):
            assert cli_main([*cli, *args]) == 0
        stats = admin.info("commandstats")
    capsys.readouterr()
    used = {
        name.removeprefix("cmdstat_").lower(): entry["calls"]
        for name, entry in stats.items()
        if name != "cmdstat_config|resetstat"  # the test's own
    }
    print(f"\n[commands the library sent] {sorted(used)}")
    assert not set(FORBIDDEN) & set(used), sorted(used)
    assert not any(name.startswith(("debug", "flush", "keys")) for name in used)
    # Everything it sent is in the ACL rule set (plus what it tolerates being denied).
    allowed = {r[1:] for r in acl_rules("x") if r.startswith("+")}
    allowed |= {"hello", "client|setinfo", "config|get", "ft._list"}
    assert set(used) <= allowed, sorted(set(used) - allowed)


# -- destructive calls need an explicit opt-in -------------------------------------------------


def test_destructive_calls_need_an_explicit_opt_in(
    redis_stack_url: str, store_names: StoreNames
) -> None:
    with DocumentStore(
        redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=Tiny()
    ) as store:
        store.add(DOCS)
        with pytest.raises(TypeError):
            store.drop()  # type: ignore[call-arg]
        for value in (None, 1, "yes"):
            with pytest.raises(ValidationError):
                store.drop(delete_documents=value)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            store.delete()
        with pytest.raises(ValidationError):
            store.delete(None, where=None)
        with pytest.raises(ValidationError):
            store.delete(["p1"], where=Tag("genre") == "pets")
        assert store.count() == 4
        assert store.info()["documents"] == 4


# -- prefixes ------------------------------------------------------------------------------------


def test_a_prefix_never_touches_keys_that_merely_start_with_it() -> None:
    foreign = {  # documents of the same shape, so an index over "doc*" would count them
        key: {"content": f"foreign {key}", "genre": ["pets"], "embedding": [1.0, 0.0, 0.0, 1.0]}
        for key in ("doctor:1", "doc2:1", "docs:x", "doc", "doc.vintage:1", "doc:", "Doc:1")
    }
    del foreign["doc:"]  # that one is ours by definition
    with EmbeddedServer() as server, admin_of(server) as admin:
        for key, value in foreign.items():
            admin.execute_command("JSON.SET", key, "$", json.dumps(value))
        admin.set("doctor:plain", "a string")
        with DocumentStore(server.url, index="docidx", prefix="doc:", embedder=Tiny()) as store:
            assert store.settings.key_prefix == "doc:"
            store.add([*DOCS, Document("pets too", "pets", id="p5")])
            info = admin.ft("docidx").info()
            assert info["index_definition"]["prefixes"] == ["doc:"]
            assert store.count() == 5
            assert store.count("pets") == 3
            assert {h.id for h in store.search("pets", k=20)} == {f"p{i}" for i in range(1, 6)}
            assert store.delete(where=Tag("genre") == "pets") == 3
            assert store.reembed(TinyThree()) == 2
            assert store.count() == 2
            store.drop(delete_documents=True)
        assert list(admin.scan_iter(match="doc:*")) == []
        assert list(admin.scan_iter(match="doc.v[0-9]*")) == []
        for key, value in foreign.items():
            assert json.loads(admin.execute_command("JSON.GET", key)) == value, key
        assert admin.get("doctor:plain") == "a string"


@pytest.mark.parametrize("prefix", ["do*", "do?", "doc[1]", "a b", "doc:x", ""])
def test_prefixes_with_glob_or_separator_characters_are_refused(prefix: str) -> None:
    with pytest.raises(ValidationError):
        DocumentStore("redis://127.0.0.1:1", index="i", prefix=prefix, embedder=Tiny())


def test_generation_names_are_reserved() -> None:
    """A store "doc" re-embeds into "doc.v2:", so no store may be called "doc.v2"."""
    for options in ({"prefix": "doc.v2"}, {"index": "main.v3"}):
        with pytest.raises(ValidationError, match="reserves"):
            DocumentStore("redis://127.0.0.1:1", embedder=Tiny(), **options)  # type: ignore[arg-type]


def test_reembed_never_touches_a_neighbour_store_with_a_similar_name() -> None:
    """A store "doc" re-embeds into "doc.v2:"; "doc.v2x" and "doc.vintage" are untouched."""
    with (
        EmbeddedServer() as server,
        DocumentStore(server.url, index="main", prefix="doc", embedder=Tiny()) as main,
        DocumentStore(server.url, index="neighbour", prefix="doc.v2x", embedder=Tiny()) as other,
    ):
        main.add(DOCS[:2])
        other.add(DOCS[2:])
        main.reembed(TinyThree())
        assert main.count() == 2
        assert sorted(d.id for d in other.iter_documents()) == ["p3", "p4"]
        assert other.count() == 2
