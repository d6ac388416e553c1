"""``docstore facets`` and ``docstore stats`` without a server: parsing and input errors."""

from __future__ import annotations

import pytest

from redis_docstore._cli.commands import build_parser, main

UNREACHABLE = "redis://127.0.0.1:1"  # never contacted: these commands fail before connecting


def test_facets_options() -> None:
    args = build_parser().parse_args(["facets", "author"])
    assert (args.field, args.limit, args.all) == ("author", 20, False)
    args = build_parser().parse_args(["facets", "genre", "--limit", "5", "--genre", "a"])
    assert (args.field, args.limit, args.all, args.genre) == ("genre", 5, False, ["a"])
    assert build_parser().parse_args(["facets", "genre", "--all"]).all is True


def test_facets_and_stats_take_the_filter_options() -> None:
    argv = ["--genre", "a", "--all-genres", "b", "--exclude-genre", "c", "--where", "x=1"]
    for command in (["facets", "author"], ["stats", "year"]):
        args = build_parser().parse_args([*command, *argv])
        assert (args.field, args.genre, args.all_genres, args.exclude_genre, args.where) == (
            command[1], ["a"], ["b"], ["c"], ["x=1"],
        )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["facets"], "the following arguments are required: FIELD"),
        (["stats"], "the following arguments are required: FIELD"),
        (["facets", "author", "--limit", "0"], "not a positive integer: '0'"),
        (["facets", "author", "--limit", "3", "--all"], "not allowed with argument"),
        (["stats", "year", "--field", "year=numeric", "--where", "year=x"], "'x' is not a number"),
    ],
)
def test_usage_and_input_errors_exit_2_before_any_connection(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--url", UNREACHABLE, *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "facets" in out and "stats" in out
    assert main(["facets", "--help"]) == 0
    assert "--limit" in capsys.readouterr().out
