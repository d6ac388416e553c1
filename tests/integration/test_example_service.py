"""examples/service.py served by a real uvicorn process, talked to over HTTP with httpx.

One server for the module (the model loads once, ~5 s), on its own index and prefix of the
session's Redis Stack. The tests leave that index holding exactly the docs page's three
documents: a test that adds others deletes them again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from redis_docstore._server import free_port
from redis_docstore.testing import cleanup_store, new_store_names

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
PAGE = [json.loads(line) for line in (ROOT / "fixtures" / "docs_page.jsonl").open()]
QUERY = "That is a happy person"
PAGE_ORDER = ["That is a very happy person", "That is a happy dog", "Today is a sunny day"]
PAGE_DISTANCES = [0.114170, 0.610845, 1.486248]  # the docs page, to 6 places
READY_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def service(redis_stack_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of ``uvicorn examples.service:app`` on a free loopback port.

    The index and prefix come from the same helpers as the ``store_names`` fixture (which
    is per test; this server is per module) and are removed afterwards.
    """
    names = new_store_names()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DOCSTORE_FIELDS"}
    env |= {"REDIS_URL": redis_stack_url, "DOCSTORE_INDEX": names.index}
    env |= {"DOCSTORE_PREFIX": names.prefix}
    log_path = tmp_path_factory.mktemp("service") / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "examples.service:app"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the service exited ({proc.returncode}):\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after {READY_TIMEOUT} s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        client = redis.Redis.from_url(redis_stack_url)
        try:
            cleanup_store(client, names)
        finally:
            client.close()
    # SIGTERM runs the lifespan's shutdown (the store is closed); uvicorn then exits 0 or,
    # since 0.29, re-raises the signal.
    log_text = log_path.read_text()
    assert code in (0, -signal.SIGTERM), log_text
    assert "Application shutdown complete." in log_text, log_text


@pytest.fixture(scope="module")
def http(service: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def page_ids(http: httpx.Client) -> list[str]:
    """The docs page's three documents, posted as one batch."""
    response = http.post("/documents", json={"documents": PAGE})
    assert response.status_code == 201, response.text
    ids: list[str] = response.json()["ids"]
    assert len(set(ids)) == 3
    return ids


def search(http: httpx.Client, **params: Any) -> httpx.Response:
    return http.get("/search", params=params)


def contents(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["content"] for hit in response.json()]


def count(http: httpx.Client) -> int:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    return int(response.json()["documents"])


def test_docs_page_search(http: httpx.Client, page_ids: list[str]) -> None:
    assert count(http) == 3
    response = search(http, q=QUERY, k=3)
    hits = response.json()
    assert contents(response) == PAGE_ORDER
    assert [h["distance"] for h in hits] == pytest.approx(PAGE_DISTANCES, abs=1e-5)
    assert sorted(h["id"] for h in hits) == sorted(page_ids)
    assert [h["genres"] for h in hits] == [["persons"], ["pets"], ["weather"]]
    assert all(set(h) == {"id", "content", "genres", "distance", "metadata"} for h in hits)
    assert contents(search(http, q=QUERY, k=3, max_distance=1.0)) == PAGE_ORDER[:2]


def test_genre_filter(http: httpx.Client, page_ids: list[str]) -> None:
    assert contents(search(http, q=QUERY, k=3, genre="pets")) == ["That is a happy dog"]
    any_of = http.get("/search", params=[("q", QUERY), ("genre", "pets"), ("genre", "weather")])
    assert contents(any_of) == ["That is a happy dog", "Today is a sunny day"]
    assert contents(search(http, q=QUERY, genre="no such genre")) == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"q": ""}, "InvalidQueryError"),
        ({"q": QUERY, "k": 0}, "InvalidQueryError"),
        ({"q": QUERY, "genre": ""}, "InvalidGenreError"),
        ({"k": 3}, "RequestValidationError"),  # no q
        ({"q": QUERY, "k": "three"}, "RequestValidationError"),
    ],
)
def test_bad_search_is_422(
    http: httpx.Client, page_ids: list[str], params: dict[str, Any], error: str
) -> None:
    response = search(http, **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"]


def test_bad_batch_writes_nothing(http: httpx.Client, page_ids: list[str]) -> None:
    good = {"content": "A document that must not be written", "genre": "pets"}
    response = http.post("/documents", json={"documents": [good, {"content": "", "genre": "x"}]})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "InvalidDocumentError"
    assert "document #1" in response.json()["detail"]
    assert count(http) == 3
    malformed = http.post("/documents", json={"documents": [good, {"genre": "pets"}]})
    assert malformed.status_code == 422
    assert malformed.json()["error"] == "RequestValidationError"
    assert count(http) == 3


def test_document_round_trip(http: httpx.Client, page_ids: list[str]) -> None:
    doc: dict[str, Any] = {"content": "A cat asleep", "genre": ["pets", "home"], "id": "extra-1"}
    doc["metadata"] = {"author": "Ann", "year": 2001}
    response = http.post("/documents", json=doc)
    assert response.status_code == 201, response.text
    assert response.json() == {"ids": ["extra-1"]}
    assert http.get("/documents/extra-1").json() == {
        "id": "extra-1",
        "content": doc["content"],
        "genres": ["pets", "home"],
        "metadata": {"author": "Ann", "year": 2001},
    }
    assert count(http) == 4
    assert http.delete("/documents/extra-1").status_code == 204
    assert count(http) == 3
    for response in (http.get("/documents/extra-1"), http.delete("/documents/extra-1")):
        assert response.status_code == 404
        assert response.json()["error"] == "DocumentNotFoundError"
    assert http.get(f"/documents/{page_ids[0]}").status_code == 200


def test_concurrent_searches(service: str, page_ids: list[str]) -> None:
    expected = {
        "That is a happy person": "That is a very happy person",
        "a very happy person": "That is a very happy person",
        "a happy dog": "That is a happy dog",
        "that is a dog": "That is a happy dog",
        "the weather is sunny today": "Today is a sunny day",
        "sunny weather": "Today is a sunny day",
    }
    queries = [list(expected)[i % len(expected)] for i in range(32)]

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service, timeout=60.0) as client:
            return await asyncio.gather(
                *(client.get("/search", params={"q": q, "k": 3}) for q in queries)
            )

    responses = asyncio.run(run())
    assert len(responses) == 32
    for query, response in zip(queries, responses, strict=True):
        assert response.status_code == 200, response.text
        hits = response.json()
        assert len(hits) == 3
        assert hits[0]["content"] == expected[query], query
