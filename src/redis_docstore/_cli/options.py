"""The ``docstore`` command's global, filter and search options, and their defaults.

Pure: argparse types and option groups that :func:`~redis_docstore._cli.commands.build_parser`
puts together, and :func:`resolve_options`, which applies the defaults and the
environment (``REDIS_URL``, ``DOCSTORE_DATA_DIR``, ``DOCSTORE_FIELDS``).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from redis_docstore._cli.files import InputError
from redis_docstore._cli.where import parse_field
from redis_docstore._documents import HIT_FIELDS

if TYPE_CHECKING:
    from redis_docstore._filters.expression import FieldKind
    from redis_docstore._schema import Algorithm, Distance

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_INDEX",
    "Options",
    "count_type",
    "facet_options",
    "field_type",
    "fields_type",
    "filter_options",
    "global_options",
    "positive_int",
    "recommend_options",
    "resolve_options",
    "search_options",
]

DEFAULT_INDEX: Final = "docstore"
DEFAULT_DATA_DIR: Final = "~/.local/share/redis-docstore"
WHERE_HELP: Final = (
    "a condition on a field (repeat: all of them): author=Ann, author=Ann|Bob (any), "
    "author!=Ann, year=1999, year>=2000 (also > < <=), year=1990..1999 (between), "
    "content~some words (has the words), content!~words, content=a phrase; "
    "metadata fields must be declared with --field"
)


@dataclass(frozen=True)
class Options:
    """The global options with their defaults applied (``url`` None: embedded server).

    ``names_given`` tells whether ``--index`` or ``--prefix`` was given;
    ``fields`` are the declared metadata fields (``--field``).
    """

    url: str | None
    data_dir: Path
    index: str
    prefix: str
    distance: Distance
    algorithm: Algorithm
    names_given: bool
    fields: tuple[tuple[str, FieldKind], ...] = ()


def field_type(text: str) -> tuple[str, FieldKind]:
    try:
        return parse_field(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def global_options(fields_dest: str) -> argparse.ArgumentParser:
    # SUPPRESS: an option given before the subcommand is not reset by the
    # subcommand's default; defaults are applied by resolve_options(). --field
    # collects into another attribute before and after the command, so that
    # both lists survive (the subcommand's namespace overwrites the main one's).
    p = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("global options (before or after the command)")
    g.add_argument(
        "--url", help="Redis URL (default: $REDIS_URL; if unset or '', the embedded server)"
    )
    g.add_argument(
        "--data-dir",
        help=f"embedded server's data (default: $DOCSTORE_DATA_DIR or {DEFAULT_DATA_DIR})",
    )
    g.add_argument("--index", help=f"index name (default: {DEFAULT_INDEX})")
    g.add_argument("--prefix", help="key prefix (default: the index name)")
    g.add_argument("--distance", choices=["l2", "cosine", "ip"], help="metric (default: l2)")
    g.add_argument("--algorithm", choices=["hnsw", "flat"], help="vector index (default: hnsw)")
    g.add_argument(
        "--field",
        action="append",
        dest=fields_dest,
        type=field_type,
        metavar="NAME=KIND",
        help="index metadata NAME as tag, numeric or text, for --where (repeat; default: "
        "$DOCSTORE_FIELDS, e.g. 'author=tag,year=numeric')",
    )
    return p


def fields_type(text: str) -> list[str]:
    """``--fields id,distance``: the names, each one a field a hit has."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in HIT_FIELDS:
            raise argparse.ArgumentTypeError(
                f"unknown field {name!r} (the fields are {','.join(HIT_FIELDS)})"
            )
    return names


def positive_int(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def count_type(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a non-negative integer: {text!r}")
    return int(text)


def filter_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--genre", action="append", metavar="G", help="only this genre (repeat: any of them)"
    )
    p.add_argument(
        "--all-genres", action="append", metavar="G", help="only documents with every such genre"
    )
    p.add_argument(
        "--exclude-genre", action="append", metavar="G", help="no documents with this genre"
    )
    p.add_argument("--where", action="append", metavar="EXPR", help=WHERE_HELP)


def facet_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("field", metavar="FIELD", help="genre, or a metadata field declared as tag")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--limit",
        type=positive_int,
        default=20,
        metavar="N",
        help="the N most frequent values (default: 20)",
    )
    size.add_argument("--all", action="store_true", help="every value (as `docstore genres`)")


def hit_fields_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fields",
        dest="hit_fields",  # "fields" holds --field's declarations
        type=fields_type,
        metavar="LIST",
        help=f"print only these fields of each hit, e.g. id,distance (of {','.join(HIT_FIELDS)}; "
        "id and distance always; the server sends no others)",
    )


def search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", metavar="TEXT")
    p.add_argument("-k", type=positive_int, help="hits at most (default: 10)")
    p.add_argument("--offset", type=count_type, default=0, help="skip this many hits (paging)")
    p.add_argument("--max-distance", type=float, metavar="X", help="only hits within X")
    p.add_argument("--text", metavar="WORDS", help="hybrid: words that boost")
    p.add_argument("--require-text", action="store_true", help="hybrid: the words must occur")
    p.add_argument("--alpha", type=float, metavar="A", help="hybrid: vector weight in [0, 1]")
    p.add_argument(
        "--mmr", type=float, dest="mmr_lambda", metavar="LAMBDA", help="diversify hits (MMR, 0..1)"
    )
    p.add_argument("--fetch-k", type=positive_int, metavar="N", help="candidates for MMR/text")
    p.add_argument("--ef-runtime", type=positive_int, metavar="N", help="HNSW search breadth")
    hit_fields_option(p)
    p.add_argument(
        "--explain", action="store_true", help="print the query command as JSON, do not search"
    )
    g = p.add_argument_group("grouped search (the nearest per genre or tag value)")
    g.add_argument(
        "--group-by",
        metavar="FIELD",
        help="genre, or a tag field declared with --field: print [{value, hits}], the groups "
        "ordered by their nearest hit",
    )
    g.add_argument("--limit", type=positive_int, metavar="N", help="groups at most (default: 5)")
    g.add_argument(
        "--group-size", type=positive_int, metavar="N", help="hits per group (default: 3)"
    )


def recommend_options(p: argparse.ArgumentParser) -> None:
    like = "a stored document's id to be %s (repeat)"
    text = "a text to be %s, embedded (repeat)"
    p.add_argument("--positive", action="append", metavar="ID", help=like % "like")
    p.add_argument("--negative", action="append", metavar="ID", help=like % "unlike")
    p.add_argument("--positive-text", action="append", metavar="TEXT", help=text % "like")
    p.add_argument("--negative-text", action="append", metavar="TEXT", help=text % "unlike")
    p.add_argument("-k", type=positive_int, default=10, help="hits at most (default: 10)")
    p.add_argument(
        "--strategy",
        choices=["average_vector", "best_score"],
        default="average_vector",
        help="one search for the examples' average (default), or the best score of "
        "each candidate against every example",
    )
    p.add_argument(
        "--fetch-k", type=positive_int, metavar="N", help="best_score: candidates per positive"
    )
    p.add_argument("--ef-runtime", type=positive_int, metavar="N", help="HNSW search breadth")
    hit_fields_option(p)


def resolve_options(args: argparse.Namespace, environ: Mapping[str, str]) -> Options:
    """Apply the defaults (and environment variables) to the parsed global options.

    Args:
        args: The parsed arguments.
        environ: The environment (``REDIS_URL``, ``DOCSTORE_DATA_DIR``, ``DOCSTORE_FIELDS``).

    Returns:
        The options.

    Raises:
        InputError: A field declared with two kinds, or a bad ``DOCSTORE_FIELDS``.
    """
    given = vars(args)
    url = given["url"] if "url" in given else environ.get("REDIS_URL", "").strip()
    data_dir = given.get("data_dir") or environ.get("DOCSTORE_DATA_DIR") or DEFAULT_DATA_DIR
    index = given.get("index", DEFAULT_INDEX)
    declared = [*given.get("fields_before", []), *given.get("fields", [])]
    if not declared and (env := environ.get("DOCSTORE_FIELDS", "").strip()):
        try:
            declared = [parse_field(part) for part in env.split(",") if part.strip()]
        except InputError as exc:
            raise InputError(f"DOCSTORE_FIELDS: {exc}") from None
    fields: dict[str, FieldKind] = {}
    for name, kind in declared:
        if fields.setdefault(name, kind) != kind:
            raise InputError(f"field {name!r} is declared as {fields[name]} and as {kind}")
    return Options(
        url=url or None,
        data_dir=Path(data_dir).expanduser(),
        index=index,
        prefix=given.get("prefix", index),
        distance=given.get("distance", "l2"),
        algorithm=given.get("algorithm", "hnsw"),
        names_given="index" in given or "prefix" in given,
        fields=tuple(fields.items()),
    )
