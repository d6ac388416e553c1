"""The ``docstore`` command: add, search, recommend, count, export, change documents from a shell.

Every command prints JSON (and only JSON) on stdout; progress, summaries and
errors go to stderr. Without ``--url`` (or ``REDIS_URL``) a command runs an
embedded Redis Stack on the data under ``--data-dir`` for its duration, unless
``docstore serve`` is running on that directory, in which case it uses that
server. ``--field NAME=KIND`` (or ``DOCSTORE_FIELDS="author=tag,year=numeric"``)
indexes metadata fields so that ``--where`` can filter on them; every command
on that index must declare the same fields.

Exit codes: 0 success, 1 a :class:`~redis_docstore._errors.DocstoreError`,
2 a usage error or bad input (a file with an invalid document writes nothing),
130 Ctrl-C, 141 stdout closed early (``docstore export | head``).
The store and the model are imported inside the commands, so ``docstore
--help`` loads neither torch nor the model. The options are in
:mod:`~redis_docstore._cli.options`, file input and output in :mod:`~redis_docstore._cli.files`,
the ``--where`` grammar in :mod:`~redis_docstore._cli.where`, progress bars in
:mod:`~redis_docstore._cli.progress`, the commands that change stored documents
(delete, update, expire, persist) in :mod:`~redis_docstore._cli.changes`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, Final

from redis_docstore._cli.changes import add_change_commands, ttl_seconds
from redis_docstore._cli.files import (
    InputError,
    WriteReport,
    add_summary,
    check_sources,
    export_file,
    human_summary,
    open_sources,
    write_jsonl,
    write_sources,
)
from redis_docstore._cli.options import (
    Options,
    facet_options,
    filter_options,
    global_options,
    positive_int,
    recommend_options,
    resolve_options,
    search_options,
)
from redis_docstore._cli.progress import ProgressBar
from redis_docstore._cli.where import parse_wheres
from redis_docstore._documents import Document, Hit
from redis_docstore._errors import DocstoreError, SchemaMismatchError

if TYPE_CHECKING:
    from redis_docstore._filters.expression import FieldKind
    from redis_docstore._stores.store import DocumentStore

__all__ = ["DEMO_DOCUMENTS", "build_parser", "main"]

#: The three documents of the Redis docs page "Vector embeddings" (also in
#: fixtures/docs_page.jsonl), its query, and the genre of the filtered search.
DEMO_DOCUMENTS: Final = (
    {"content": "That is a very happy person", "genre": "persons"},
    {"content": "That is a happy dog", "genre": "pets"},
    {"content": "Today is a sunny day", "genre": "weather"},
)
DEMO_QUERY: Final = "That is a happy person"
DEMO_GENRE: Final = "pets"
DEMO_INDEX: Final = "vector_idx"  # the page's index name and prefix
DEMO_PREFIX: Final = "doc"
ADD_CHUNK: Final = 256  # documents per store.load call
EXPORT_BATCH: Final = 500  # documents per round trip of export
SEARCH_OPTIONS: Final = ("max_distance", "text", "alpha", "mmr_lambda", "fetch_k", "ef_runtime")
SERVE_FILE: Final = "docstore-serve.json"  # written by `serve` in the data directory
Command = Callable[[argparse.Namespace, "Options", IO[str]], int]

ADD_HELP: Final = """\
Add documents from JSON Lines (.jsonl, .ndjson; '-' is stdin) or CSV (.csv) files.
Every file is checked first: if any document is invalid, nothing is written, the
summary lists the rejected lines, and the exit code is 2 (unless --skip-invalid).
Documents already stored unchanged are skipped without embedding them again, so
an interrupted add can simply be run again. JSON Lines: one object per line with
content, genre (a string or a list), and optionally id, metadata, embedding (what
`docstore export` writes). CSV: a header row; columns content and genre (or
genres; several genres in one cell separated by '|'), optionally id; every other
column is a metadata key (empty cells are left out; plain decimal numbers become
numbers). With --ttl SECONDS every document added (or found unchanged) expires
SECONDS from now; without it, none expires. stdout gets {"added", "unchanged",
"rejected", "rejections"}."""
RECOMMEND_HELP: Final = """\
Documents like the --positive examples and unlike the --negative ones (ids of stored
documents, or texts with --positive-text/--negative-text). The example documents are
never among the hits; the filters apply to the hits. --strategy average_vector (the
default) searches once for avg(positive) + (avg(positive) - avg(negative));
best_score scores the --fetch-k nearest of each positive by their nearest example
(positive or negative). stdout gets the hits, as `search` prints them."""
SCHEMA_HINT: Final = (
    "docstore: hint: every command on an index needs the --field options (or DOCSTORE_FIELDS), "
    "--distance and --algorithm it was created with"
)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``docstore`` argument parser."""
    common = global_options("fields")
    parser = argparse.ArgumentParser(
        prog="docstore",
        description="JSON documents in Redis Stack with genre-filtered semantic search.",
        epilog="Output is JSON on stdout. Exit codes: 0 ok, 1 store error, 2 usage/input error.",
        parents=[global_options("fields_before")],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, run: Command, desc: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=text,
            description=desc or text,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(run=run)
        return p

    command("demo", "run the Redis docs page example (a throwaway server unless --url)", cmd_demo)
    add = command("add", "add documents from JSON Lines or CSV files", cmd_add, ADD_HELP)
    add.add_argument("files", nargs="+", metavar="FILE", help="input file, '-' for stdin")
    add.add_argument("--format", choices=["jsonl", "csv"], help="default: by file extension")
    add.add_argument("--skip-invalid", action="store_true", help="add the valid documents")
    add.add_argument(
        "--batch-size", type=positive_int, default=ADD_CHUNK, help="documents per write"
    )
    add.add_argument("--ids", action="store_true", help="also print every id")
    add.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    add.add_argument("--json", action="store_true", help="only the JSON summary on stdout")
    add.add_argument("--progress", action="store_true", help="a progress bar even off a terminal")
    add.add_argument(
        "--ttl", type=ttl_seconds, metavar="SECONDS", help="the documents expire after SECONDS"
    )
    search = command("search", "search by meaning", cmd_search)
    search_options(search)
    recommend = command(
        "recommend", "documents like some examples, unlike others", cmd_recommend, RECOMMEND_HELP
    )
    recommend_options(recommend)
    count = command("count", "count documents", cmd_count)
    genres = command("genres", "count documents per genre", cmd_genres)
    facets = command(
        "facets", "count documents per value of a tag field (genre or --field NAME=tag)",
        cmd_facets,
    )  # fmt: skip
    facet_options(facets)
    stats = command(
        "stats", "count, min, max, mean and sum of a numeric field (--field NAME=numeric)",
        cmd_stats,
    )  # fmt: skip
    stats.add_argument("field", metavar="FIELD", help="a metadata field declared as numeric")
    export = command("export", "write documents as JSON Lines (input for add)", cmd_export)
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    export.add_argument("--no-embeddings", action="store_true", help="leave embeddings out")
    export.add_argument(
        "--batch-size", type=positive_int, default=EXPORT_BATCH, help="documents per read"
    )
    export.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    for p in (search, recommend, count, genres, facets, stats, export):
        filter_options(p)
    add_change_commands(command, _open_store)
    command("info", "show the index: schema, counts, memory, indexing failures", cmd_info)
    serve = command(
        "serve", "run the embedded server on --data-dir until Ctrl-C/SIGTERM", cmd_serve
    )
    serve.add_argument("--port", type=positive_int, help="TCP port (default: a free one)")
    return parser


def _hit_json(
    hit: Hit, *, metadata: bool = True, fields: Sequence[str] | None = None
) -> dict[str, Any]:
    """A hit as JSON: every field, or (``fields``) id, distance and those asked for."""
    out: dict[str, Any] = {"id": hit.id}
    if fields is None or "content" in fields:
        out["content"] = hit.content
    if fields is None or "genres" in fields:
        out["genres"] = list(hit.genres)
    out["distance"] = float(hit.distance)
    if metadata if fields is None else "metadata" in fields:
        out["metadata"] = hit.metadata
    for name in ("similarity", "score"):
        if (value := getattr(hit, name)) is not None:
            out[name] = float(value)
    return out


def _served_url(data_dir: Path) -> str | None:
    """The URL of the ``docstore serve`` server running on ``data_dir``, if any."""
    try:
        info = json.loads((data_dir / SERVE_FILE).read_text())
        os.kill(info["pid"], 0)  # the server process still exists
    except PermissionError:
        pass
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return str(info["url"])


def _store_options(opts: Options, index: str, prefix: str) -> dict[str, Any]:
    return dict(index=index, prefix=prefix, distance=opts.distance, algorithm=opts.algorithm)


@contextlib.contextmanager
def _open_store(opts: Options) -> Iterator[DocumentStore]:
    from redis_docstore._stores.store import DocumentStore

    kw = _store_options(opts, opts.index, opts.prefix)
    kw["metadata_fields"] = dict(opts.fields)
    url = opts.url or _served_url(opts.data_dir)
    store = DocumentStore(url, **kw) if url else DocumentStore.embedded(opts.data_dir, **kw)
    with store:
        yield store


def _emit(out: IO[str], value: object, *, indent: int | None = None) -> None:
    out.write(json.dumps(value, indent=indent, default=str) + "\n")
    out.flush()


def _say(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)


# -- add -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _bar(show: bool, total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    if not show:
        yield None
        return
    with ProgressBar(sys.stderr, total, label=label) as bar:
        bar.advance(0)  # shown at once, before the first (slow) chunk
        yield bar.advance


def cmd_add(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore add FILE...``: check every document (pass 1), then write in chunks (pass 2)."""
    show = not (args.quiet or args.json) and (args.progress or sys.stderr.isatty())
    written = WriteReport(ids=[] if args.ids else None)
    with contextlib.ExitStack() as stack:
        sources = open_sources(args.files, args.format, sys.stdin, stack)
        with _bar(show, None, "checking") as progress:
            check = check_sources(sources, distance=opts.distance, progress=progress)
        if check.rejected and not args.skip_invalid:
            _emit(out, add_summary(check, written, ids=args.ids))
            if not args.json:
                noun = "document is" if check.rejected == 1 else "documents are"
                _say(*([] if args.quiet else human_summary(check)))
                _say(
                    f"docstore: error: {check.rejected} {noun} invalid; nothing was written "
                    "(fix them, or pass --skip-invalid to add the valid ones)"
                )
            return 2
        if check.documents:
            try:
                with _open_store(opts) as store, _bar(show, check.documents, "adding") as bar:
                    written = write_sources(
                        sources,
                        functools.partial(store.load, ttl=args.ttl),
                        batch_size=args.batch_size,
                        distance=opts.distance,
                        keep_ids=args.ids,
                        progress=bar,
                    )
            except KeyboardInterrupt:
                _say("docstore: interrupted; run the same command again to resume")
                raise
    _emit(out, add_summary(check, written, ids=args.ids))
    if not (args.quiet or args.json):
        _say(*human_summary(check, written))
    return 0


# -- queries -------------------------------------------------------------------------------------


def _filters(args: argparse.Namespace, opts: Options) -> dict[str, Any]:
    fields: dict[str, FieldKind] = {"genre": "tag", "content": "text", **dict(opts.fields)}
    return {
        "genre": args.genre,
        "genres_all": args.all_genres,
        "exclude_genres": args.exclude_genre,
        "where": parse_wheres(args.where or [], fields),
    }


def cmd_search(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore search TEXT``: print the hits as a JSON list (or, --explain, the query)."""
    if args.group_by is not None:
        return _search_groups(args, opts, out)
    if args.limit is not None or args.group_size is not None:
        raise InputError("--limit and --group-size apply to --group-by searches")
    if args.require_text and args.text is None:
        raise InputError("--require-text needs --text WORDS")
    if args.rrf and args.text is None:
        raise InputError("--rrf needs --text WORDS")
    if args.rrf and args.require_text:
        raise InputError("--rrf and --require-text are two ways to use --text: pick one")
    if (args.rrf_k is not None or args.rrf_weights is not None) and not args.rrf:
        raise InputError("--rrf-k and --rrf-weights apply to --rrf searches")
    if args.fetch_k is not None and args.text is None and args.mmr_lambda is None:
        raise InputError("--fetch-k applies to --text or --mmr searches")
    k = 10 if args.k is None else args.k
    kw: dict[str, Any] = {"k": k, "offset": args.offset, **_filters(args, opts)}
    kw |= {name: vars(args)[name] for name in SEARCH_OPTIONS if vars(args)[name] is not None}
    if args.require_text:
        kw["text_mode"] = "require"
    if args.hit_fields is not None:
        kw["fields"] = args.hit_fields
    if args.rrf:
        kw["text_mode"] = "rrf"
        if args.rrf_k is not None:
            kw["rrf_k"] = args.rrf_k
        if args.rrf_weights is not None:
            kw["rrf_weights"] = tuple(args.rrf_weights)
    with _open_store(opts) as store:
        if args.explain:
            _emit(out, {"command": store.explain(args.query, **kw)})
            return 0
        hits = store.search(args.query, **kw)
    _emit(out, [_hit_json(h, fields=args.hit_fields) for h in hits], indent=2)
    return 0


def cmd_recommend(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore recommend --positive ID ...``: print the hits as a JSON list."""
    from redis_docstore._documents import TextExample

    positive = [*(args.positive or []), *map(TextExample, args.positive_text or [])]
    negative = [*(args.negative or []), *map(TextExample, args.negative_text or [])]
    if not positive and not negative:
        raise InputError("recommend needs --positive or --negative examples (ids or texts)")
    if args.fetch_k is not None and args.strategy != "best_score":
        raise InputError("--fetch-k applies to --strategy best_score")
    kw: dict[str, Any] = {"k": args.k, "strategy": args.strategy, **_filters(args, opts)}
    kw |= {name: vars(args)[name] for name in ("fetch_k", "ef_runtime") if vars(args)[name]}
    if args.hit_fields is not None:
        kw["fields"] = args.hit_fields
    with _open_store(opts) as store:
        hits = store.recommend(positive, negative, **kw)
    _emit(out, [_hit_json(h, fields=args.hit_fields) for h in hits], indent=2)
    return 0


def _search_groups(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore search TEXT --group-by FIELD``: print [{"value", "hits"}] as JSON."""
    given = {
        "-k": args.k is not None,
        "--offset": args.offset != 0,
        "--max-distance": args.max_distance is not None,
        "--text": args.text is not None,
        "--require-text": args.require_text,
        "--alpha": args.alpha is not None,
        "--mmr": args.mmr_lambda is not None,
        "--fetch-k": args.fetch_k is not None,
        "--explain": args.explain,
    }
    if unused := [name for name, used in given.items() if used]:
        raise InputError(
            f"{', '.join(unused)} cannot be combined with --group-by "
            "(it takes --limit, --group-size, --ef-runtime and the filters)"
        )
    kw: dict[str, Any] = {"group_by": args.group_by, **_filters(args, opts)}
    options = {"limit": args.limit, "group_size": args.group_size, "ef_runtime": args.ef_runtime}
    kw |= {name: value for name, value in options.items() if value is not None}
    if args.hit_fields is not None:
        kw["fields"] = args.hit_fields
    with _open_store(opts) as store:
        groups = store.search_groups(args.query, **kw)
    shown = [
        {"value": g.value, "hits": [_hit_json(h, fields=args.hit_fields) for h in g.hits]}
        for g in groups
    ]
    _emit(out, shown, indent=2)
    return 0


def cmd_count(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore count``: print the number of matching documents."""
    filters = _filters(args, opts)
    with _open_store(opts) as store:
        _emit(out, store.count(**filters))
    return 0


def cmd_genres(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore genres``: print {genre: count} of the matching documents."""
    filters = _filters(args, opts)
    with _open_store(opts) as store:
        _emit(out, store.genres(**filters), indent=2)
    return 0


def cmd_facets(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore facets FIELD``: print {value: count} of the matching documents."""
    filters = _filters(args, opts)
    limit = None if args.all else args.limit
    with _open_store(opts) as store:
        _emit(out, store.facets(args.field, **filters, limit=limit), indent=2)
    return 0


def cmd_stats(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore stats FIELD``: print {count, min, max, mean, sum} of a numeric field."""
    filters = _filters(args, opts)
    with _open_store(opts) as store:
        stats = store.stats(args.field, **filters)
    _emit(out, dataclasses.asdict(stats), indent=2)
    return 0


def cmd_export(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore export``: every matching document as JSON Lines, ordered by id."""
    filters = _filters(args, opts)
    embedding = not args.no_embeddings
    with _open_store(opts) as store:
        docs = store.iter_documents(**filters, batch_size=args.batch_size)
        if args.output is None:
            exported = write_jsonl(docs, out, embedding=embedding)
        else:
            exported = export_file(docs, Path(args.output), embedding=embedding)
            _emit(out, {"exported": exported, "file": args.output})
    if not args.quiet:
        _say(f"exported {exported} documents" + (f" to {args.output}" if args.output else ""))
    return 0


def cmd_info(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore info``: the index's schema, counts, memory and indexing failures."""
    with _open_store(opts) as store:
        _emit(out, store.info(), indent=2)
    return 0


# -- demo and serve ------------------------------------------------------------------------------


def _demo_results(store: DocumentStore) -> dict[str, Any]:
    store.add([Document(doc["content"], doc["genre"]) for doc in DEMO_DOCUMENTS])
    hits = store.search(DEMO_QUERY, k=3)
    pets = store.search(DEMO_QUERY, k=3, genre=DEMO_GENRE)
    return {
        "query": DEMO_QUERY,
        "results": [_hit_json(h, metadata=False) for h in hits],
        "filtered": {"genre": DEMO_GENRE, "results": [_hit_json(h, metadata=False) for h in pets]},
    }


def _check_unused(url: str, index: str, prefix: str) -> None:
    """Refuse an index that exists, or a prefix that holds keys, on a shared server."""
    import redis

    from redis_docstore._connection import redact_url, redis_errors

    with redis_errors("checking the demo's names"), redis.Redis.from_url(url) as client:
        indexes = {
            n.decode() if isinstance(n, bytes) else n for n in client.execute_command("FT._LIST")
        }
        if index in indexes or next(client.scan_iter(match=f"{prefix}:*", count=1000), None):
            raise DocstoreError(
                f"index {index!r} or keys under {prefix + ':'!r} exist on {redact_url(url)}; "
                "the demo uses only names nothing uses (choose --index and --prefix)"
            )


def cmd_demo(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore demo``: the docs page example, leaving nothing behind.

    With ``--url`` it uses index ``vector_idx``/prefix ``doc`` (or ``--index``/
    ``--prefix``), refusing names already in use, and then removes them.
    """
    from redis_docstore._stores.store import DocumentStore

    names = (opts.index, opts.prefix) if opts.names_given else (DEMO_INDEX, DEMO_PREFIX)
    kw = _store_options(opts, *names)
    if opts.url is None:
        with DocumentStore.embedded(None, **kw) as store:
            result = _demo_results(store)
    else:
        with DocumentStore(opts.url, **kw) as store:  # validates the names
            _check_unused(opts.url, *names)
            try:
                result = _demo_results(store)
            finally:
                # _check_unused saw no key under the prefix before the demo, so
                # everything there now is the demo's own.
                store.drop(delete_documents=True)
    _emit(out, result, indent=2)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore serve``: run the embedded server in the foreground.

    Prints one JSON line (url, the server's pid, data_dir), then blocks until
    Ctrl-C, SIGTERM or SIGHUP, and stops the server (by its pid).
    """
    from redis_docstore._server import EmbeddedServer

    if "url" in vars(args):
        raise InputError("serve starts its own server; --url does not apply")
    if url := _served_url(opts.data_dir):
        raise DocstoreError(f"a server already runs on {opts.data_dir} at {url}")
    server = EmbeddedServer(opts.data_dir, port=args.port)
    state = opts.data_dir / SERVE_FILE
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, _interrupt) for sig in handled}
    try:
        server.start()
        info = {"url": server.url, "pid": server.pid, "data_dir": str(server.data_dir)}
        state.write_text(json.dumps(info))
        _emit(out, info)
        code = server.wait()
        raise DocstoreError(f"the server exited with code {code}; see {server.data_dir}/redis.log")
    except KeyboardInterrupt:
        return 0
    finally:
        for sig in handled:  # a second Ctrl-C must not interrupt the shutdown
            signal.signal(sig, signal.SIG_IGN)
        try:
            state.unlink(missing_ok=True)
            server.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``docstore`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 ok, 1 a DocstoreError, 2 a usage or input error.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    out = sys.stdout
    try:
        opts = resolve_options(args, os.environ)
        # Anything a library prints goes to stderr: stdout carries only our JSON.
        with contextlib.redirect_stdout(sys.stderr):
            command: Command = args.run
            return command(args, opts, out)
    except InputError as exc:
        print(f"docstore: error: {exc}", file=sys.stderr)
        return 2
    except DocstoreError as exc:
        print(f"docstore: error: {exc}", file=sys.stderr)
        if isinstance(exc, SchemaMismatchError):
            print(SCHEMA_HINT, file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away, e.g. `docstore export | head`
        with contextlib.suppress(OSError, ValueError):  # no exception at exit's flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
