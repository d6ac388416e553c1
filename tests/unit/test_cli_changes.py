"""The docstore commands that change documents, without a server: parsing and usage errors."""

from __future__ import annotations

import argparse

import pytest

from redis_docstore._cli.changes import meta_assignment, ttl_seconds
from redis_docstore._cli.commands import build_parser, main


def test_ttl_seconds() -> None:
    assert ttl_seconds("2") == 2.0 and ttl_seconds("0.5") == 0.5
    for bad in ("0", "-1", "x", "", "inf", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            ttl_seconds(bad)


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("year=1999", ("year", 1999)),
        ("flag=true", ("flag", True)),
        ("gone=null", ("gone", None)),
        ('tags=["a","b"]', ("tags", ["a", "b"])),
        ("author=Ann Lee", ("author", "Ann Lee")),
        ('quoted="1999"', ("quoted", "1999")),
        ("eq=a=b", ("eq", "a=b")),
        ("empty=", ("empty", "")),
    ],
)
def test_meta_assignment(text: str, pair: tuple[str, object]) -> None:
    assert meta_assignment(text) == pair


@pytest.mark.parametrize("bad", ["novalue", "=1"])
def test_bad_meta_assignment(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        meta_assignment(bad)


def test_change_commands_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["add", "f.jsonl", "--ttl", "30"])
    assert args.ttl == 30.0
    assert parser.parse_args(["add", "f.jsonl"]).ttl is None
    args = parser.parse_args(["delete", "--where", "genre=x", "--dry-run"])
    assert (args.ids, args.where, args.dry_run) == ([], ["genre=x"], True)
    args = parser.parse_args(["delete", "a", "b"])
    assert (args.ids, args.where, args.dry_run) == (["a", "b"], None, False)
    args = parser.parse_args(
        ["update", "--where", "year<1900", "--set-genre", "old", "--set-meta", "x=1", "--ids"]
    )
    assert (args.set_genre, args.set_meta, args.ids) == (["old"], [("x", 1)], True)
    assert parser.parse_args(["expire", "a", "--ttl", "5"]).ttl == 5.0
    assert parser.parse_args(["persist", "a", "b"]).ids == ["a", "b"]


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "f.jsonl", "--ttl", "0"],
        ["expire", "a"],  # --ttl is required
        ["expire", "--ttl", "5"],  # ids are
        ["persist"],
        ["update", "--where", "genre=x", "--set-meta", "novalue"],
        ["update", "--where", "genre=x", "--set-genre", "g", "--batch-size", "0"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "redis://localhost:1", *argv]) == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["delete"], "ids or --where"),
        (["delete", "a", "--where", "genre=x"], "ids or --where"),
        (["update", "--set-genre", "g"], "needs --where"),
        (["update", "--where", "genre=x"], "--set-genre or --set-meta"),
    ],
)
def test_input_errors_exit_2_before_any_connection(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--url", "redis://localhost:1", *argv]) == 2  # nothing listens there
    assert message in capsys.readouterr().err


def test_an_undeclared_field_is_a_filter_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["update", "--where", "nope=x", "--set-genre", "g"]
    assert main(["--url", "redis://localhost:1", *argv]) == 1  # as for search
    assert "undeclared field 'nope'" in capsys.readouterr().err
