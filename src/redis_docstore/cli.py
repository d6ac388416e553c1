"""The ``docstore`` command: add, search and count documents from a shell.

Every command prints JSON (and only JSON) on stdout; progress and errors go to
stderr. Without ``--url`` (or ``REDIS_URL``) a command runs an embedded Redis
Stack on the data under ``--data-dir`` for its duration, unless ``docstore
serve`` is running on that directory, in which case it uses that server.

Exit codes: 0 success, 1 a :class:`~redis_docstore.errors.DocstoreError`,
2 a usage error or bad input file. The store and the model are imported inside
the commands, so ``docstore --help`` loads neither torch nor the model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, Final

from redis_docstore.documents import Document, Hit, prepare_documents
from redis_docstore.embeddings import DEFAULT_DIMS
from redis_docstore.errors import DocstoreError, ValidationError

if TYPE_CHECKING:
    from redis_docstore.schema import Algorithm, Distance
    from redis_docstore.store import DocumentStore

__all__ = [
    "DEMO_DOCUMENTS",
    "InputError",
    "Options",
    "build_parser",
    "main",
    "read_documents",
    "resolve_options",
]

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
DEFAULT_INDEX: Final = "docstore"
DEFAULT_DATA_DIR: Final = "~/.local/share/redis-docstore"
ADD_CHUNK: Final = 256  # documents per store.add call
SERVE_FILE: Final = "docstore-serve.json"  # written by `serve` in the data directory
Command = Callable[[argparse.Namespace, "Options", IO[str]], int]
_FIELDS: Final = frozenset({"content", "genre", "id", "metadata", "embedding"})


class InputError(ValidationError):
    """A usage error or an invalid input file (exit code 2)."""


@dataclass(frozen=True)
class Options:
    """The global options with their defaults applied (``url`` None: embedded server).

    ``names_given`` tells whether ``--index`` or ``--prefix`` was given.
    """

    url: str | None
    data_dir: Path
    index: str
    prefix: str
    distance: Distance
    algorithm: Algorithm
    names_given: bool


def _global_options() -> argparse.ArgumentParser:
    # SUPPRESS: an option given before the subcommand is not reset by the
    # subcommand's default; defaults are applied by resolve_options().
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
    return p


def _positive_int(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Build the ``docstore`` argument parser."""
    common = _global_options()
    parser = argparse.ArgumentParser(
        prog="docstore",
        description="JSON documents in Redis Stack with genre-filtered semantic search.",
        epilog="Output is JSON on stdout. Exit codes: 0 ok, 1 store error, 2 usage/input error.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, run: Command) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, parents=[common])
        p.set_defaults(run=run)
        return p

    command("demo", "run the Redis docs page example (a throwaway server unless --url)", cmd_demo)
    add = command("add", "add documents from a JSON Lines file", cmd_add)
    add.add_argument("file", metavar="FILE", help="JSON Lines file, '-' for stdin")
    add.add_argument("--ids", action="store_true", help="also print the ids")
    search = command("search", "search by meaning", cmd_search)
    search.add_argument("text", metavar="TEXT")
    search.add_argument("-k", type=_positive_int, default=10, help="hits at most (default: 10)")
    count = command("count", "count documents", cmd_count)
    for p in (search, count):
        p.add_argument(
            "--genre", action="append", metavar="G", help="only this genre (repeat: any of them)"
        )
    serve = command(
        "serve", "run the embedded server on --data-dir until Ctrl-C/SIGTERM", cmd_serve
    )
    serve.add_argument("--port", type=_positive_int, help="TCP port (default: a free one)")
    return parser


def resolve_options(args: argparse.Namespace, environ: Mapping[str, str]) -> Options:
    """Apply the defaults (and environment variables) to the parsed global options.

    Args:
        args: The parsed arguments.
        environ: The environment (``REDIS_URL``, ``DOCSTORE_DATA_DIR``).

    Returns:
        The options.
    """
    given = vars(args)
    url = given["url"] if "url" in given else environ.get("REDIS_URL", "").strip()
    data_dir = given.get("data_dir") or environ.get("DOCSTORE_DATA_DIR") or DEFAULT_DATA_DIR
    index = given.get("index", DEFAULT_INDEX)
    return Options(
        url=url or None,
        data_dir=Path(data_dir).expanduser(),
        index=index,
        prefix=given.get("prefix", index),
        distance=given.get("distance", "l2"),
        algorithm=given.get("algorithm", "hnsw"),
        names_given="index" in given or "prefix" in given,
    )


def _parse_line(data: object, *, dims: int, distance: Distance) -> Document:
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object, not {type(data).__name__}")
    if unknown := sorted(set(data) - _FIELDS):
        raise InputError(f"unknown field(s) {', '.join(map(repr, unknown))}")
    for required in ("content", "genre"):
        if required not in data:
            raise InputError(f"missing field {required!r}")
    doc = Document(**data)
    try:
        prepare_documents([doc], dims=dims, distance=distance)
    except ValidationError as exc:
        raise InputError(str(exc).removeprefix(f"document #{exc.position}: ")) from None
    return doc


def read_documents(
    lines: Iterable[str | bytes], *, dims: int = DEFAULT_DIMS, distance: Distance = "l2"
) -> list[Document]:
    """Parse and validate JSON Lines documents; blank lines are skipped.

    Each line is an object with ``content``, ``genre`` (a string or a list)
    and optionally ``id``, ``metadata`` and ``embedding``.

    Args:
        lines: The lines (text or UTF-8 bytes).
        dims: The index's dimensions, to check precomputed embeddings.
        distance: The index's metric.

    Returns:
        The documents, in order; each passed the store's validation.

    Raises:
        InputError: The first invalid line, named by its 1-based number.
    """
    docs: list[Document] = []
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if text.strip():
                data = json.loads(text.lstrip("\ufeff") if number == 1 else text)
                docs.append(_parse_line(data, dims=dims, distance=distance))
        except InputError as exc:
            raise InputError(f"line {number}: {exc}") from None
        except ValueError as exc:  # UnicodeDecodeError, json.JSONDecodeError
            raise InputError(f"line {number}: not UTF-8 JSON: {exc}") from None
    return docs


def _hit_json(hit: Hit, *, metadata: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": hit.id, "content": hit.content, "genres": list(hit.genres)}
    out["distance"] = float(hit.distance)
    return {**out, "metadata": hit.metadata} if metadata else out


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
    return {
        "index": index,
        "prefix": prefix,
        "distance": opts.distance,
        "algorithm": opts.algorithm,
    }


@contextlib.contextmanager
def _open_store(opts: Options) -> Iterator[DocumentStore]:
    from redis_docstore.store import DocumentStore

    kw = _store_options(opts, opts.index, opts.prefix)
    url = opts.url or _served_url(opts.data_dir)
    store = DocumentStore(url, **kw) if url else DocumentStore.embedded(opts.data_dir, **kw)
    with store:
        yield store


def _emit(out: IO[str], value: object, *, indent: int | None = None) -> None:
    out.write(json.dumps(value, indent=indent) + "\n")
    out.flush()


def cmd_add(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore add FILE``: validate every line first, then write in chunks."""
    try:
        if args.file == "-":
            docs = read_documents(getattr(sys.stdin, "buffer", sys.stdin), distance=opts.distance)
        else:
            with open(args.file, "rb") as fh:
                docs = read_documents(fh, distance=opts.distance)
    except OSError as exc:
        raise InputError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except InputError as exc:
        raise InputError(f"{'<stdin>' if args.file == '-' else args.file}, {exc}") from None
    ids: list[str] = []
    with _open_store(opts) as store:
        for start in range(0, len(docs), ADD_CHUNK):
            ids += store.add(docs[start : start + ADD_CHUNK])
    _emit(out, {"added": len(ids), "ids": ids} if args.ids else {"added": len(ids)})
    return 0


def cmd_search(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore search TEXT``: print the hits as a JSON list."""
    with _open_store(opts) as store:
        hits = store.search(args.text, k=args.k, genre=args.genre)
    _emit(out, [_hit_json(h) for h in hits], indent=2)
    return 0


def cmd_count(args: argparse.Namespace, opts: Options, out: IO[str]) -> int:
    """``docstore count``: print the number of documents."""
    with _open_store(opts) as store:
        _emit(out, store.count(args.genre))
    return 0


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

    from redis_docstore.connection import redact_url, redis_errors

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
    from redis_docstore.store import DocumentStore

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
    from redis_docstore.server import EmbeddedServer

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
    opts = resolve_options(args, os.environ)
    out = sys.stdout
    try:
        # Anything a library prints goes to stderr: stdout carries only our JSON.
        with contextlib.redirect_stdout(sys.stderr):
            command: Command = args.run
            return command(args, opts, out)
    except InputError as exc:
        print(f"docstore: error: {exc}", file=sys.stderr)
        return 2
    except DocstoreError as exc:
        print(f"docstore: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
