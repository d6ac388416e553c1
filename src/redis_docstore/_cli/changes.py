"""The ``docstore`` commands that change stored documents: delete, update, expire, persist.

``delete`` and ``update`` work by ``--where`` (or, for ``delete``, by ids) and
take ``--dry-run``; ``update`` sets genres (``--set-genre``) and patches
metadata (``--set-meta KEY=VALUE``, ``KEY=null`` removes the key) without
embedding anything; ``expire``/``persist`` set and remove documents' TTL.
Registered by :func:`~redis_docstore._cli.commands.build_parser` through
:func:`add_change_commands`; each prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import IO, TYPE_CHECKING, Any, Final

from redis_docstore._cli.files import InputError
from redis_docstore._cli.options import Options, positive_int
from redis_docstore._cli.where import parse_wheres

if TYPE_CHECKING:
    from redis_docstore._filters.expression import FieldKind, Filter
    from redis_docstore._stores.store import DocumentStore

__all__ = ["add_change_commands", "meta_assignment", "ttl_seconds"]

StoreOpener = Callable[[Options], AbstractContextManager["DocumentStore"]]
CommandMaker = Callable[..., argparse.ArgumentParser]

DELETE_HELP: Final = """\
Delete documents by id, or every document matching the --where conditions (all of
them; genres with --where genre=G). --dry-run only counts them. stdout gets
{"deleted": N} (with --dry-run, {"would_delete": N})."""
UPDATE_HELP: Final = """\
Change every document matching the --where conditions (all of them; genres with
--where genre=G) without embedding anything: --set-genre replaces their genres,
--set-meta KEY=VALUE sets a metadata key (VALUE is read as JSON when it is valid
JSON, e.g. 1999, true, ["a","b"], else as text; KEY=null removes the key; other
keys are kept). --dry-run only lists them. stdout gets {"updated": N} (with
--dry-run, {"would_update": N}), plus "ids" with --ids."""


def ttl_seconds(text: str) -> float:
    """``--ttl``: seconds > 0 (the store checks the upper bound)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds > 0: {text!r}")
    return value


def meta_assignment(text: str) -> tuple[str, Any]:
    """``--set-meta KEY=VALUE``: VALUE as JSON if it is valid JSON, else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def add_change_commands(command: CommandMaker, open_store: StoreOpener) -> None:
    """Add ``delete``, ``update``, ``expire`` and ``persist`` to the parser.

    Args:
        command: ``build_parser``'s maker: ``command(name, help, run, description)``.
        open_store: Opens the store of the parsed options (a context manager).
    """
    delete = command(
        "delete", "delete documents by id or --where", partial(cmd_delete, open_store=open_store),
        DELETE_HELP,
    )  # fmt: skip
    delete.add_argument("ids", nargs="*", metavar="ID", help="ids (instead of --where)")
    _where(delete)
    delete.add_argument("--dry-run", action="store_true", help="only count, delete nothing")
    update = command(
        "update", "change genres/metadata of documents matching --where",
        partial(cmd_update, open_store=open_store), UPDATE_HELP,
    )  # fmt: skip
    _where(update)
    update.add_argument(
        "--set-genre", action="append", metavar="G", help="new genre (repeat: several)"
    )
    update.add_argument(
        "--set-meta",
        action="append",
        type=meta_assignment,
        metavar="KEY=VALUE",
        help="set a metadata key (repeat); KEY=null removes it",
    )
    update.add_argument("--dry-run", action="store_true", help="only list, change nothing")
    update.add_argument("--ids", action="store_true", help="also print the ids")
    update.add_argument(
        "--batch-size", type=positive_int, metavar="N", help="documents per round trip"
    )
    expire = command(
        "expire", "make documents expire --ttl seconds from now",
        partial(cmd_expire, open_store=open_store),
    )  # fmt: skip
    expire.add_argument("ids", nargs="+", metavar="ID")
    expire.add_argument("--ttl", type=ttl_seconds, required=True, metavar="SECONDS")
    persist = command(
        "persist", "make documents never expire", partial(cmd_persist, open_store=open_store)
    )
    persist.add_argument("ids", nargs="+", metavar="ID")


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--where",
        action="append",
        metavar="EXPR",
        help="a condition, as for search (repeat: all of them), e.g. genre=fantasy, year<1900",
    )


def _filter(args: argparse.Namespace, opts: Options) -> Filter | None:
    fields: dict[str, FieldKind] = {"genre": "tag", "content": "text", **dict(opts.fields)}
    return parse_wheres(args.where or [], fields)


def _emit(out: IO[str], value: object) -> None:
    out.write(json.dumps(value) + "\n")
    out.flush()


def cmd_delete(
    args: argparse.Namespace, opts: Options, out: IO[str], *, open_store: StoreOpener
) -> int:
    """``docstore delete ID... | --where EXPR...``: delete (or, --dry-run, count)."""
    where = _filter(args, opts)
    if bool(args.ids) == (where is not None):
        raise InputError("delete takes ids or --where conditions, not both or neither")
    with open_store(opts) as store:
        if where is not None:
            n = store.delete(where=where, dry_run=args.dry_run)
        else:
            n = store.delete(args.ids, dry_run=args.dry_run)
    _emit(out, {"would_delete" if args.dry_run else "deleted": n})
    return 0


def cmd_update(
    args: argparse.Namespace, opts: Options, out: IO[str], *, open_store: StoreOpener
) -> int:
    """``docstore update --where EXPR... --set-genre G --set-meta K=V``: patch the matches."""
    where = _filter(args, opts)
    if where is None:
        raise InputError("update needs --where conditions (use --where genre=G for a genre)")
    if not (args.set_genre or args.set_meta):
        raise InputError("update needs --set-genre or --set-meta")
    options: dict[str, Any] = {"dry_run": args.dry_run}
    if args.set_genre:
        options["genre"] = args.set_genre
    if args.set_meta:
        options["metadata"] = dict(args.set_meta)
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    with open_store(opts) as store:
        ids = store.update(where=where, **options)
    result: dict[str, Any] = {"would_update" if args.dry_run else "updated": len(ids)}
    if args.ids:
        result["ids"] = ids
    _emit(out, result)
    return 0


def cmd_expire(
    args: argparse.Namespace, opts: Options, out: IO[str], *, open_store: StoreOpener
) -> int:
    """``docstore expire --ttl S ID...``: how many of the ids exist and got the TTL."""
    with open_store(opts) as store:
        _emit(out, {"expired": store.expire(args.ids, args.ttl)})
    return 0


def cmd_persist(
    args: argparse.Namespace, opts: Options, out: IO[str], *, open_store: StoreOpener
) -> int:
    """``docstore persist ID...``: how many of the ids had a TTL, now removed."""
    with open_store(opts) as store:
        _emit(out, {"persisted": store.persist(args.ids)})
    return 0
