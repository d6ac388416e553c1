"""The docstore CLI against a real Redis Stack, run in-process (and `serve` as a process)."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_docstore import base as base_module
from redis_docstore.cli import DEMO_QUERY, SERVE_FILE, main
from redis_docstore.embeddings import DefaultEmbedder
from redis_docstore.server import free_port
from redis_docstore.testing import StoreNames

FIXTURE = Path(__file__).parents[2] / "fixtures" / "docs_page.jsonl"
DOCSTORE = Path(sys.executable).parent / "docstore"
PAGE_ORDER = ["That is a very happy person", "That is a happy dog", "Today is a sunny day"]
PAGE_DISTANCES = [0.114169985056, 0.610845386982, 1.48624813557]


@pytest.fixture(autouse=True)
def shared_model(monkeypatch: pytest.MonkeyPatch, embedder: DefaultEmbedder) -> None:
    """In-process runs use the session's model instead of loading their own."""
    monkeypatch.setattr(base_module, "default_embedder", lambda: embedder)


@pytest.fixture
def names(redis_stack_url: str, store_names: StoreNames) -> list[str]:
    """Global options for the test's server, index and prefix."""
    return ["--url", redis_stack_url, "--index", store_names.index, "--prefix", store_names.prefix]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Run main(argv); return its exit code, stdout parsed as JSON (or None), stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def assert_page_results(results: list[dict[str, Any]]) -> None:
    assert [r["content"] for r in results] == PAGE_ORDER
    assert [r["genres"] for r in results] == [["persons"], ["pets"], ["weather"]]
    for result, expected in zip(results, PAGE_DISTANCES, strict=True):
        assert isinstance(result["distance"], float)
        assert result["distance"] == pytest.approx(expected, abs=1e-5)


def keys_under(client: redis.Redis, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=f"{prefix}:*"))


def test_add_search_count_the_docs_page(
    capsys: pytest.CaptureFixture[str], names: list[str]
) -> None:
    assert run(capsys, *names, "add", str(FIXTURE)) == (0, {"added": 3}, "")

    code, hits, _ = run(capsys, *names, "search", DEMO_QUERY, "-k", "3")
    assert code == 0
    assert_page_results(hits)
    assert [h["metadata"] for h in hits] == [{}, {}, {}]
    assert len({h["id"] for h in hits}) == 3

    code, pets, _ = run(capsys, "search", DEMO_QUERY, "--genre", "pets", *names)
    assert code == 0
    assert [(h["content"], h["genres"]) for h in pets] == [("That is a happy dog", ["pets"])]
    assert pets[0]["distance"] == pytest.approx(PAGE_DISTANCES[1], abs=1e-5)

    code, either, _ = run(
        capsys, *names, "search", DEMO_QUERY, "--genre", "pets", "--genre", "weather"
    )
    assert code == 0
    assert [h["content"] for h in either] == PAGE_ORDER[1:]

    assert run(capsys, *names, "count") == (0, 3, "")
    assert run(capsys, *names, "count", "--genre", "pets") == (0, 1, "")
    assert run(capsys, *names, "count", "--genre", "nothing") == (0, 0, "")


def test_add_from_stdin_with_ids_and_metadata(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, names: list[str]
) -> None:
    lines = [
        {"content": "A cat asleep in the sun", "genre": ["pets", "weather"], "id": "cat"},
        {"content": "Rain all week", "genre": "weather", "metadata": {"source": "radio"}},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, summary, _ = run(capsys, *names, "add", "-", "--ids")
    assert code == 0
    assert summary["added"] == 2
    assert summary["ids"][0] == "cat"
    assert len(summary["ids"]) == 2

    code, hits, _ = run(capsys, *names, "search", "rainy weather", "--genre", "weather")
    assert code == 0
    by_id = {h["id"]: h for h in hits}
    assert by_id["cat"]["genres"] == ["pets", "weather"]
    assert by_id[summary["ids"][1]]["metadata"] == {"source": "radio"}


def test_a_bad_line_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    tmp_path: Path,
    redis_client: redis.Redis,
    store_names: StoreNames,
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"content": "That is a happy dog", "genre": "pets"}\n{"content": "", "genre": "pets"}\n'
    )
    code, out, err = run(capsys, *names, "add", str(bad))
    assert code == 2
    assert out is None
    assert err.startswith("docstore: error: ")
    assert "line 2" in err
    assert "Traceback" not in err
    assert keys_under(redis_client, store_names.prefix) == []
    assert run(capsys, *names, "count") == (0, 0, "")


def test_a_bad_line_after_the_first_chunk_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    tmp_path: Path,
    redis_client: redis.Redis,
    store_names: StoreNames,
) -> None:
    lines = [json.dumps({"content": f"document {n}", "genre": "g"}) for n in range(1, 300)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines, '{"content": "x", "genre": ["g", 7]}']) + "\n")
    code, out, err = run(capsys, *names, "add", str(bad))
    assert (code, out) == (2, None)
    assert "line 300: " in err
    assert keys_under(redis_client, store_names.prefix) == []


def test_store_errors_exit_1_without_traceback_or_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"redis://alice:s3cret-pw@127.0.0.1:{free_port()}/0"
    code, out, err = run(capsys, "--url", url, "--index", "nothing_here", "count")
    assert code == 1
    assert out is None
    assert err.startswith("docstore: error: ")
    assert "Traceback" not in err
    assert "s3cret-pw" not in err


def test_a_schema_mismatch_exits_1(capsys: pytest.CaptureFixture[str], names: list[str]) -> None:
    assert run(capsys, *names, "add", str(FIXTURE))[0] == 0
    code, out, err = run(capsys, *names, "--distance", "cosine", "count")
    assert code == 1
    assert out is None
    assert err.startswith("docstore: error: ")
    assert "different schema" in err
    assert run(capsys, *names, "count") == (0, 3, "")  # untouched


def test_demo_on_a_url_leaves_nothing_behind(
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    redis_client: redis.Redis,
    store_names: StoreNames,
) -> None:
    code, out, _ = run(capsys, *names, "demo")
    assert code == 0
    assert out["query"] == "That is a happy person"
    assert_page_results(out["results"])
    assert out["filtered"]["genre"] == "pets"
    assert [r["content"] for r in out["filtered"]["results"]] == ["That is a happy dog"]
    assert set(out["results"][0]) == {"id", "content", "genres", "distance"}
    indexes = {i.decode() for i in redis_client.execute_command("FT._LIST")}
    assert store_names.index not in indexes
    assert keys_under(redis_client, store_names.prefix) == []


def test_demo_refuses_an_index_in_use(
    capsys: pytest.CaptureFixture[str], names: list[str]
) -> None:
    assert run(capsys, *names, "add", str(FIXTURE))[0] == 0
    code, out, err = run(capsys, *names, "demo")
    assert (code, out) == (1, None)
    assert "already" in err or "exist" in err
    assert run(capsys, *names, "count") == (0, 3, "")  # the existing data is untouched


@pytest.mark.slow
def test_demo_on_a_throwaway_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert_page_results(out["results"])
    assert [r["content"] for r in out["filtered"]["results"]] == ["That is a happy dog"]


def process_exists(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """`docstore serve` as a child process; killed by its pid if a test leaves it running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.Popen(
        [str(DOCSTORE), "serve", "--data-dir", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc, port, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)


@pytest.mark.slow
def test_serve_runs_until_sigterm(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    serve_process: tuple[subprocess.Popen[str], int, Path],
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    proc, port, data_dir = serve_process
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "docstore serve printed nothing within 60 s"
    info = json.loads(proc.stdout.readline())
    server_pid = info["pid"]
    try:
        assert info["url"] == f"redis://127.0.0.1:{port}"
        assert info["data_dir"] == str(data_dir.resolve())
        with redis.Redis.from_url(info["url"]) as client:
            assert client.ping() is True
            # Other commands on the same --data-dir use the running server.
            assert (data_dir / SERVE_FILE).is_file()
            assert run(capsys, "--data-dir", str(data_dir), "add", str(FIXTURE)) == (
                0,
                {"added": 3},
                "",
            )
            assert len(list(client.scan_iter(match="docstore:[^:]*"))) == 3

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
        assert not port_open(port)
        assert not process_exists(server_pid)
        assert not (data_dir / SERVE_FILE).exists()
        assert (data_dir / "appendonlydir").is_dir()  # persistent
    finally:
        if process_exists(server_pid) and proc.poll() is not None:
            os.kill(server_pid, signal.SIGKILL)  # the server serve started, by its pid
