"""The docstore CLI without a server: parsing, options, JSON Lines input, lazy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redis_docstore.cli import (
    DEFAULT_DATA_DIR,
    DEMO_DOCUMENTS,
    InputError,
    Options,
    build_parser,
    main,
    read_documents,
    resolve_options,
)
from redis_docstore.documents import Document

FIXTURE = Path(__file__).parents[2] / "fixtures" / "docs_page.jsonl"
UNREACHABLE = "redis://127.0.0.1:1"  # never contacted: these commands fail before connecting


def options(argv: list[str], environ: dict[str, str] | None = None) -> Options:
    return resolve_options(build_parser().parse_args(argv), environ or {})


# -- options -------------------------------------------------------------------


def test_defaults_without_environment() -> None:
    opts = options(["count"])
    assert opts == Options(
        url=None,
        data_dir=Path(DEFAULT_DATA_DIR).expanduser(),
        index="docstore",
        prefix="docstore",
        distance="l2",
        algorithm="hnsw",
        names_given=False,
    )


def test_redis_url_and_data_dir_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example:6379")
    monkeypatch.setenv("DOCSTORE_DATA_DIR", "/srv/docstore")
    opts = resolve_options(build_parser().parse_args(["count"]), os.environ)
    assert opts.url == "redis://example:6379"
    assert opts.data_dir == Path("/srv/docstore")


def test_url_option_wins_over_the_environment_and_empty_means_embedded() -> None:
    env = {"REDIS_URL": "redis://from-env:6379"}
    assert options(["--url", "redis://given:1", "count"], env).url == "redis://given:1"
    assert options(["count", "--url", ""], env).url is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--index", "books", "--distance", "cosine", "--algorithm", "flat", "search", "q"],
        ["search", "q", "--index", "books", "--distance", "cosine", "--algorithm", "flat"],
        ["--index", "books", "search", "--distance", "cosine", "q", "--algorithm", "flat"],
    ],
)
def test_global_options_before_or_after_the_command(argv: list[str]) -> None:
    opts = options(argv)
    assert (opts.index, opts.prefix, opts.distance, opts.algorithm) == (
        "books",
        "books",
        "cosine",
        "flat",
    )
    assert opts.names_given


def test_an_option_before_the_command_survives_one_after_it() -> None:
    opts = options(["--index", "books", "--data-dir", "/d", "count", "--prefix", "b"])
    assert (opts.index, opts.prefix, opts.data_dir) == ("books", "b", Path("/d"))


def test_genre_repeats_and_k_defaults() -> None:
    args = build_parser().parse_args(["search", "happy", "--genre", "pets", "--genre", "persons"])
    assert (args.text, args.genre, args.k) == ("happy", ["pets", "persons"], 10)
    args = build_parser().parse_args(["count", "--genre", "pets"])
    assert args.genre == ["pets"]
    assert build_parser().parse_args(["count"]).genre is None
    assert build_parser().parse_args(["search", "q", "-k", "3"]).k == 3


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["search", "q", "-k", "0"],
        ["search", "q", "-k", "x"],
        ["--distance", "manhattan", "count"],
        ["frobnicate"],
        ["--url", UNREACHABLE, "serve"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error" in captured.err
    assert "Traceback" not in captured.err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: docstore")
    for word in ("demo", "add", "search", "count", "serve", "--data-dir", "REDIS_URL"):
        assert word in out


# -- JSON Lines input --------------------------------------------------------------


def test_read_documents_accepts_every_field_and_skips_blank_lines() -> None:
    vector = [0.5] * 384
    lines = [
        '{"content": "a", "genre": "pets"}\n',
        "\n",
        json.dumps(
            {
                "content": "b",
                "genre": ["x", "y"],
                "id": "b1",
                "metadata": {"n": 1},
                "embedding": vector,
            }
        ),
        "   ",
    ]
    assert read_documents(lines) == [
        Document("a", "pets"),
        Document("b", ["x", "y"], id="b1", embedding=vector, metadata={"n": 1}),
    ]


def test_read_documents_takes_utf8_bytes_with_a_bom() -> None:
    lines = ['\ufeff{"content": "caf\u00e9", "genre": "g"}\n'.encode()]
    assert read_documents(lines) == [Document("caf\u00e9", "g")]


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ('{"content": "", "genre": "pets"}', "content must not be empty"),
        ('{"content": "x", "genre": " pets"}', "whitespace"),
        ('{"content": "x", "genre": []}', "empty"),
        ('{"content": "x", "genre": "g", "id": "a:b"}', "id"),
        ('{"content": "x", "genre": "g", "embedding": [1.0, 2.0]}', "384"),
        ('{"content": "x", "genre": "g", "metadata": [1]}', "metadata must be a mapping"),
        ('{"content": "x"}', "missing field 'genre'"),
        ('{"genre": "g"}', "missing field 'content'"),
        ('{"content": "x", "genre": "g", "genres": ["h"]}', "unknown field(s) 'genres'"),
        ('["content", "genre"]', "expected a JSON object"),
        ('{"content": "x", "genre": "g"', "JSON"),
        (b'{"content": "\xff", "genre": "g"}', "UTF-8"),
    ],
)
def test_read_documents_names_the_bad_line(bad_line: str | bytes, expected: str) -> None:
    lines: list[str | bytes] = ['{"content": "fine", "genre": "g"}', "", bad_line]
    with pytest.raises(InputError) as info:
        read_documents(lines)
    message = str(info.value)
    assert message.startswith("line 3: ")
    assert expected in message


def test_read_documents_reports_the_first_bad_line() -> None:
    lines = ['{"content": "ok", "genre": "g"}', '{"content": " ", "genre": "g"}', "not json"]
    with pytest.raises(InputError, match=r"^line 2: content must not be empty"):
        read_documents(lines)


def test_a_bad_file_exits_2_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": "ok", "genre": "g"}\n{"content": "", "genre": "g"}\n')
    assert main(["--url", UNREACHABLE, "add", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"docstore: error: {bad}, line 2: content must not be empty\n"


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", UNREACHABLE, "add", str(tmp_path / "none.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("docstore: error: cannot read ")
    assert "No such file" in err


def test_the_fixture_file_holds_the_demo_documents() -> None:
    lines = FIXTURE.read_text().splitlines()
    assert [json.loads(line) for line in lines] == list(DEMO_DOCUMENTS)
    assert read_documents(lines) == [Document(d["content"], d["genre"]) for d in DEMO_DOCUMENTS]


def test_the_demo_documents_are_the_docs_page_ones() -> None:
    assert DEMO_DOCUMENTS == (
        {"content": "That is a very happy person", "genre": "persons"},
        {"content": "That is a happy dog", "genre": "pets"},
        {"content": "Today is a sunny day", "genre": "weather"},
    )


# -- lazy imports --------------------------------------------------------------------


def test_help_imports_neither_torch_nor_sentence_transformers() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from redis_docstore.cli import main
        codes = [main(["--help"]), main(["search", "--help"]), main(["demo", "--help"])]
        heavy = sorted(
            m for m in sys.modules
            if m.split(".")[0] in {"torch", "sentence_transformers", "transformers"}
        )
        print(json.dumps({"codes": codes, "heavy": heavy}), file=sys.stderr)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.startswith("usage: docstore")
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report == {"codes": [0, 0, 0], "heavy": []}
