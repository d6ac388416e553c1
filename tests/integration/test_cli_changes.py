"""``docstore add --ttl``, ``delete``, ``update``, ``expire``, ``persist`` on a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from redis_docstore import DocumentStore
from redis_docstore._cli.commands import main
from redis_docstore.testing import StoreNames

FIELDS = ["--field", "year=numeric", "--field", "author=tag"]
ROWS = [
    {"id": f"b{i}", "content": f"book number {i}", "genre": "old" if i < 3 else "new",
     "metadata": {"year": 1900 + 50 * i, "author": "Ann" if i % 2 else "Bob"}}
    for i in range(6)
]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


@pytest.fixture
def cli(redis_stack_url: str, store_names: StoreNames, tmp_path: Path) -> list[str]:
    """Global options of a fresh index; the six ROWS in books.jsonl, not yet added."""
    (tmp_path / "books.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return [
        "--url", redis_stack_url, "--index", store_names.index, "--prefix", store_names.prefix,
        *FIELDS,
    ]  # fmt: skip


def store_of(redis_stack_url: str, names: StoreNames) -> DocumentStore:
    return DocumentStore(
        redis_stack_url,
        index=names.index,
        prefix=names.prefix,
        metadata_fields={"year": "numeric", "author": "tag"},
    )


def test_add_with_a_ttl_then_expire_and_persist(
    capsys: pytest.CaptureFixture[str],
    cli: list[str],
    tmp_path: Path,
    redis_stack_url: str,
    store_names: StoreNames,
) -> None:
    code, out, _ = run(capsys, *cli, "add", str(tmp_path / "books.jsonl"), "--ttl", "60", "-q")
    assert (code, out["added"]) == (0, 6)
    with store_of(redis_stack_url, store_names) as store:
        assert all(59 < store.ttl(f"b{i}") <= 60 for i in range(6))
        assert run(capsys, *cli, "persist", "b0", "b1", "missing")[:2] == (0, {"persisted": 2})
        assert store.ttl("b0") is None
        assert run(capsys, *cli, "expire", "b0", "b5", "nope", "--ttl", "1")[:2] == (
            0, {"expired": 2},
        )  # fmt: skip
        # Adding again without --ttl: unchanged documents lose their TTL too.
        code, out, _ = run(capsys, *cli, "add", str(tmp_path / "books.jsonl"), "-q")
        assert (code, out["unchanged"]) == (0, 6)
        assert [store.ttl(f"b{i}") for i in range(6)] == [None] * 6
        run(capsys, *cli, "expire", "b5", "--ttl", "0.5")
        time.sleep(0.7)
        assert store.get("b5") is None
        assert run(capsys, *cli, "count")[:2] == (0, 5)


def test_delete_and_update_by_where_with_dry_runs(
    capsys: pytest.CaptureFixture[str],
    cli: list[str],
    tmp_path: Path,
    redis_stack_url: str,
    store_names: StoreNames,
) -> None:
    assert run(capsys, *cli, "add", str(tmp_path / "books.jsonl"), "-q")[0] == 0
    old = ["--where", "genre=old"]
    assert run(capsys, *cli, "delete", *old, "--dry-run")[:2] == (0, {"would_delete": 3})
    assert run(capsys, *cli, "count")[1] == 6
    code, out, _ = run(
        capsys, *cli, "update", "--where", "year<2000", "--where", "author=Ann",
        "--set-meta", "year=1", "--set-meta", "note=checked", "--set-genre", "classic",
        "--ids", "--dry-run",
    )  # fmt: skip
    assert (code, out) == (0, {"would_update": 1, "ids": ["b1"]})
    code, out, _ = run(
        capsys, *cli, "update", "--where", "year<2000", "--set-meta", "author=null",
        "--set-meta", "note=checked", "--set-genre", "classic", "--set-genre", "old",
    )  # fmt: skip
    assert (code, out) == (0, {"updated": 2})
    with store_of(redis_stack_url, store_names) as store:
        for doc_id, year in (("b0", 1900), ("b1", 1950)):
            doc = store.get(doc_id)
            assert doc is not None
            assert doc.genre == ["classic", "old"]
            assert doc.metadata == {"year": year, "note": "checked"}
        assert store.get("b2").metadata == {"year": 2000, "author": "Bob"}
    assert run(capsys, *cli, "count", "--genre", "classic")[1] == 2
    assert run(capsys, *cli, "delete", *old)[:2] == (0, {"deleted": 3})
    assert run(capsys, *cli, "delete", "b3", "b4", "zz", "--dry-run")[:2] == (
        0, {"would_delete": 2},
    )  # fmt: skip
    assert run(capsys, *cli, "delete", "b3", "zz")[:2] == (0, {"deleted": 1})
    assert run(capsys, *cli, "count")[1] == 2
