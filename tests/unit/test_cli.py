"""The docstore CLI without a server: parsing, options, JSON Lines input, lazy imports."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from redis_docstore._cli.commands import DEMO_DOCUMENTS, build_parser, main
from redis_docstore._cli.files import InputError, read_documents
from redis_docstore._cli.options import DEFAULT_DATA_DIR, Options, resolve_options
from redis_docstore._documents import Document

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


def test_fields_before_and_after_the_command_are_merged() -> None:
    argv = ["--field", "author=tag", "search", "q", "--field", "year=numeric", "--field", "a=tag"]
    assert options(argv).fields == (("author", "tag"), ("year", "numeric"), ("a", "tag"))
    assert options(["--field", "x=text", "--field", "x=text", "count"]).fields == (("x", "text"),)
    assert options(["count"]).fields == ()


def test_fields_from_the_environment_unless_given() -> None:
    env = {"DOCSTORE_FIELDS": "author=tag, year=numeric,"}
    assert options(["count"], env).fields == (("author", "tag"), ("year", "numeric"))
    assert options(["count", "--field", "z=text"], env).fields == (("z", "text"),)
    with pytest.raises(InputError, match=r"^DOCSTORE_FIELDS: field 'author': KIND must be"):
        options(["count"], {"DOCSTORE_FIELDS": "author=keyword"})


def test_filter_options_repeat() -> None:
    argv = ["--all-genres", "a", "--all-genres", "b", "--exclude-genre", "c", "--where", "x=1"]
    for command in (["search", "q"], ["count"], ["genres"], ["export"]):
        args = build_parser().parse_args([*command, *argv, "--where", "y>2"])
        assert (args.genre, args.all_genres, args.exclude_genre, args.where) == (
            None,
            ["a", "b"],
            ["c"],
            ["x=1", "y>2"],
        )


def test_search_options() -> None:
    args = build_parser().parse_args(["search", "q"])
    assert (args.offset, args.max_distance, args.text, args.require_text, args.alpha) == (
        0,
        None,
        None,
        False,
        None,
    )
    assert (args.mmr_lambda, args.fetch_k, args.ef_runtime, args.explain) == (
        None,
        None,
        None,
        False,
    )
    argv = ["search", "q", "--text", "dog", "--require-text", "--alpha", "0.5", "--offset", "3"]
    argv += ["--mmr", "0.4", "--fetch-k", "30", "--ef-runtime", "50", "--max-distance", "0.7"]
    args = build_parser().parse_args([*argv, "--explain"])
    assert (args.text, args.require_text, args.alpha, args.offset, args.mmr_lambda) == (
        "dog",
        True,
        0.5,
        3,
        0.4,
    )
    assert (args.fetch_k, args.ef_runtime, args.max_distance, args.explain) == (30, 50, 0.7, True)


def test_add_options() -> None:
    args = build_parser().parse_args(["add", "a.csv", "-", "b.jsonl"])
    assert args.files == ["a.csv", "-", "b.jsonl"]
    assert (args.format, args.skip_invalid, args.batch_size, args.ids) == (None, False, 256, False)
    assert (args.quiet, args.json, args.progress) == (False, False, False)
    argv = ["add", "x", "--format", "csv", "--skip-invalid", "--batch-size", "9", "-q"]
    args = build_parser().parse_args([*argv, "--json", "--progress", "--ids"])
    assert (args.format, args.skip_invalid, args.batch_size, args.quiet, args.json) == (
        "csv",
        True,
        9,
        True,
        True,
    )


def test_genre_repeats_and_k_defaults() -> None:
    args = build_parser().parse_args(["search", "happy", "--genre", "pets", "--genre", "persons"])
    # -k's default (10) is applied by the command, so that --group-by can refuse a given -k.
    assert (args.query, args.genre, args.k) == ("happy", ["pets", "persons"], None)
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
        ["--field", "author", "count"],
        ["--field", "author=keyword", "count"],
        ["add"],
        ["add", "x.csv", "--format", "xml"],
        ["add", "x.csv", "--batch-size", "0"],
        ["search", "q", "--offset", "-1"],
        ["search", "q", "--alpha", "high"],
        ["export", "--batch-size", "0"],
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
    for word in ("demo", "add", "search", "count", "genres", "export", "info", "serve", "--field"):
        assert word in out
    for word in ("--data-dir", "REDIS_URL", "DOCSTORE_FIELDS"):
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


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Run main(argv); return its exit code, stdout parsed as JSON (or None), stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def test_a_bad_file_exits_2_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": "ok", "genre": "g"}\n{"content": "", "genre": "g"}\nnot json\n')
    code, summary, err = run(capsys, "--url", UNREACHABLE, "add", str(bad))
    assert code == 2
    assert summary == {
        "added": 0,
        "unchanged": 0,
        "rejected": 2,
        "rejections": [
            {"file": str(bad), "line": 2, "reason": "content must not be empty"},
            {"file": str(bad), "line": 3, "reason": summary["rejections"][1]["reason"]},
        ],
    }
    assert summary["rejections"][1]["reason"].startswith("not UTF-8 JSON: ")
    assert err.splitlines() == [
        "added 0, unchanged 0, rejected 2",
        f"  {bad}, line 2: content must not be empty",
        f"  {bad}, line 3: {summary['rejections'][1]['reason']}",
        "docstore: error: 2 documents are invalid; nothing was written "
        "(fix them, or pass --skip-invalid to add the valid ones)",
    ]


def test_quiet_and_json_trim_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("content,genre\nok,g\n,g\n")
    expected = {
        "added": 0,
        "unchanged": 0,
        "rejected": 1,
        "rejections": [{"file": str(bad), "line": 3, "reason": "content must not be empty"}],
    }
    code, summary, err = run(capsys, "--url", UNREACHABLE, "add", str(bad), "--quiet")
    assert (code, summary) == (2, expected)
    assert err == (
        "docstore: error: 1 document is invalid; nothing was written "
        "(fix them, or pass --skip-invalid to add the valid ones)\n"
    )
    assert run(capsys, "--url", UNREACHABLE, "add", str(bad), "--json") == (2, expected, "")
    code, summary, _ = run(capsys, "--url", UNREACHABLE, "add", str(bad), "--json", "--ids")
    assert (code, summary) == (2, {**expected, "ids": []})


def test_the_progress_bar_can_be_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": "ok", "genre": "g"}\n{"content": "", "genre": "g"}\n')
    code, _, err = run(capsys, "--url", UNREACHABLE, "add", str(bad), "--progress")
    assert code == 2
    assert err.startswith("\rchecking ")
    assert "\rchecking 2 docs  " in err
    assert "docs/s\n" in err
    _, _, err = run(capsys, "--url", UNREACHABLE, "add", str(bad), "--progress", "--quiet")
    assert "\r" not in err


def test_nothing_to_add_connects_to_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("content,genre\n\n")
    summary = {"added": 0, "unchanged": 0, "rejected": 0, "rejections": []}
    assert run(capsys, "--url", UNREACHABLE, "add", str(empty), "--json") == (0, summary, "")
    code, out, err = run(capsys, "--url", UNREACHABLE, "add", str(empty))
    assert (code, out, err) == (0, summary, "added 0, unchanged 0, rejected 0\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "books.txt"], "cannot tell the format of 'books.txt'"),
        (["add", "-", "-"], "'-' (stdin) can be given once"),
        (["search", "q", "--require-text"], "--require-text needs --text WORDS"),
        (["search", "q", "--fetch-k", "9"], "--fetch-k applies to --text or --mmr"),
        (["search", "q", "--where", "year>>1"], "--where 'year>>1': '>1' is not a number"),
        (["count", "--where", "nonsense"], "expected NAME OP VALUE"),
        (["genres", "--field", "year=numeric", "--where", "year=x"], "'x' is not a number"),
        (["export", "--where", "content~the"], "stopwords"),
        (["--field", "a=tag", "count", "--field", "a=numeric"], "'a' is declared as tag and"),
    ],
)
def test_input_errors_exit_2_before_any_connection(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--url", UNREACHABLE, *argv)
    assert (code, out) == (2, None)
    assert err.startswith("docstore: error: ")
    assert message in err
    assert "Traceback" not in err


def test_explain_needs_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--url", UNREACHABLE, "--field", "year=numeric", "search", "q", "--genre", "sci-fi"]
    code, out, err = run(
        capsys, *argv, "--where", "year>=2000", "--where", "content~dogs", "--explain"
    )
    assert (code, err) == (0, "")
    assert list(out) == ["command"]
    assert out["command"].startswith(
        'FT.SEARCH docstore "((@genre:{sci\\\\-fi} @year:[2000 +inf] @content:(dogs)))=>[KNN 10 '
    )


class BrokenPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_exits_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    monkeypatch.setattr(sys, "stdout", BrokenPipe())
    assert main(["--url", UNREACHABLE, "add", str(empty), "--quiet"]) == 141
    assert capsys.readouterr().err == ""


def test_a_bad_csv_header_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,genre\nx,g\n")
    code, out, err = run(capsys, "--url", UNREACHABLE, "add", str(bad))
    assert (code, out) == (2, None)
    assert err == f"docstore: error: {bad}, line 1: bad CSV header: no 'content' column\n"


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
        from redis_docstore._cli.commands import main
        codes = [main(["--help"]), main(["search", "--help"]), main(["demo", "--help"])]
        codes += [main([c, "--help"]) for c in ("add", "genres", "export", "info")]
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
    assert report == {"codes": [0] * 7, "heavy": []}
