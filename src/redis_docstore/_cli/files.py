"""The server-free half of the ``docstore`` CLI: bulk input and output.

Nothing here talks to Redis or runs the model, so all of it is unit-tested
without a server (as are the CLI's other pure parts: ``progress``, ``where``).

Bulk input
----------
:func:`read_rows` turns the lines of a JSON Lines or CSV file into
:class:`Row` objects, lazily (a generator: one row in memory at a time). Each
row carries its 1-based line number and either a validated
:class:`~redis_docstore.Document` or the reason it was rejected.
:func:`check_sources` (pass 1) counts the valid rows and collects the
rejections; :func:`write_sources` (pass 2) reads the files again and hands
chunks of documents to a ``load`` callable (``DocumentStore.load``).

CSV files have a header row. The columns ``content`` and ``genre`` (or
``genres``) are required, ``id`` is optional; a genre cell may hold several
genres separated by ``|`` (``fantasy|romance``; spaces around ``|`` are
ignored, so a genre cannot contain ``|`` in CSV). Every other column is a
metadata key: an empty cell is left out, a plain decimal number (``1999``,
``-2.5``, ``1e3``; no leading zero or ``+``, so ``"02134"`` stays text) is
stored as a number, anything else as a string.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal

import numpy

from redis_docstore._documents import Document, prepare_documents
from redis_docstore._embeddings import DEFAULT_DIMS
from redis_docstore._errors import ValidationError

if TYPE_CHECKING:
    from redis_docstore._documents import LoadReport
    from redis_docstore._schema import Distance

__all__ = [
    "FORMATS",
    "MAX_REJECTIONS",
    "CheckReport",
    "Format",
    "InputError",
    "Rejection",
    "Row",
    "Source",
    "WriteReport",
    "add_summary",
    "check_sources",
    "detect_format",
    "document_json",
    "export_file",
    "human_summary",
    "open_sources",
    "read_documents",
    "read_file",
    "read_rows",
    "write_jsonl",
    "write_sources",
]

Format = Literal["jsonl", "csv"]
FORMATS: Final[dict[str, Format]] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
MAX_REJECTIONS: Final = 1000  # rejections kept for the summary; the count goes on
JSONL_FIELDS: Final = frozenset({"content", "genre", "id", "metadata", "embedding"})
_CSV_RESERVED: Final = frozenset({"metadata", "embedding"})
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class InputError(ValidationError):
    """A usage error or an invalid input file (exit code 2)."""


# -- rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One record of an input file: a valid document, or the reason it was rejected."""

    line: int
    document: Document | None
    reason: str | None = None


def detect_format(name: str, given: Format | None = None) -> Format:
    """The format of an input: ``given``, else by extension; stdin (``-``) is JSON Lines.

    Raises:
        InputError: An extension that is not ``.jsonl``, ``.ndjson`` or ``.csv``.
    """
    if given is not None:
        return given
    if name == "-":
        return "jsonl"
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot tell the format of {name!r} from its extension (.jsonl, .ndjson or .csv); "
            "pass --format jsonl or --format csv"
        )
    return FORMATS[suffix]


def _problem(doc: Document, dims: int, distance: Distance) -> str | None:
    """Why the store would refuse ``doc`` (None: it would not)."""
    try:
        prepare_documents([doc], dims=dims, distance=distance)
    except ValidationError as exc:
        return str(exc).removeprefix(f"document #{exc.position}: ")
    return None


def _text(raw: str | bytes, number: int) -> str:
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return text.lstrip("\ufeff") if number == 1 else text


def _jsonl_document(data: object) -> Document | str:
    if not isinstance(data, dict):
        return f"expected a JSON object, not {type(data).__name__}"
    if unknown := sorted(set(data) - JSONL_FIELDS):
        return f"unknown field(s) {', '.join(map(repr, unknown))}"
    for required in ("content", "genre"):
        if required not in data:
            return f"missing field {required!r}"
    return Document(**data)


def jsonl_rows(
    lines: Iterable[str | bytes], *, dims: int = DEFAULT_DIMS, distance: Distance = "l2"
) -> Iterator[Row]:
    """Parse and validate JSON Lines lazily; blank lines are skipped.

    Each line is an object with ``content``, ``genre`` (a string or a list)
    and optionally ``id``, ``metadata`` and ``embedding``.
    """
    for number, raw in enumerate(lines, start=1):
        try:
            text = _text(raw, number)
            if not text.strip():
                continue
            parsed = _jsonl_document(json.loads(text))
        except ValueError as exc:  # UnicodeDecodeError, json.JSONDecodeError
            yield Row(number, None, f"not UTF-8 JSON: {exc}")
            continue
        if isinstance(parsed, str):
            yield Row(number, None, parsed)
        elif problem := _problem(parsed, dims, distance):
            yield Row(number, None, problem)
        else:
            yield Row(number, parsed)


def _cell_value(cell: str) -> int | float | str:
    if _INT.fullmatch(cell):
        value = int(cell)
        return value if value.bit_length() <= 63 else cell
    if _FLOAT.fullmatch(cell) and math.isfinite(number := float(cell)):
        return number
    return cell


def _decoded(lines: Iterable[str | bytes]) -> Iterator[str]:
    # Undecodable bytes become lone surrogates, so one bad row is rejected
    # instead of the whole file failing.
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        yield text.lstrip("\ufeff") if number == 1 else text


def _csv_header(cells: list[str], line: int) -> list[str]:
    names = [c.strip() for c in cells]
    problem = ""
    if "" in names:
        problem = f"column {names.index('') + 1} has no name"
    elif duplicates := sorted({n for n in names if names.count(n) > 1}):
        problem = f"duplicate column(s) {', '.join(map(repr, duplicates))}"
    elif "content" not in names:
        problem = "no 'content' column"
    elif ("genre" in names) == ("genres" in names):
        problem = "it needs one 'genre' (or 'genres') column"
    elif reserved := sorted(_CSV_RESERVED & set(names)):
        problem = f"column(s) {', '.join(map(repr, reserved))} are not supported (use JSON Lines)"
    if problem:
        raise InputError(f"line {line}: bad CSV header: {problem}")
    return ["genre" if n == "genres" else n for n in names]


def _csv_document(header: Sequence[str], cells: Sequence[str]) -> Document | str:
    if len(cells) != len(header):
        return f"{len(cells)} cells, but the header has {len(header)} columns"
    for cell in cells:
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            return "not valid UTF-8"
    row = dict(zip(header, cells, strict=True))
    genres = [g.strip() for g in row.pop("genre").split("|")]
    if genres == [""]:
        return "the genre cell is empty"
    doc_id = row.pop("id", "")
    content = row.pop("content")
    metadata = {key: _cell_value(cell) for key, cell in row.items() if cell != ""}
    genre = genres[0] if len(genres) == 1 else genres
    return Document(content, genre, id=doc_id or None, metadata=metadata)


def csv_rows(
    lines: Iterable[str | bytes], *, dims: int = DEFAULT_DIMS, distance: Distance = "l2"
) -> Iterator[Row]:
    """Parse and validate CSV lazily (see the module doc); blank rows are skipped.

    A row's number is the line it starts on (a quoted cell may span lines).

    Raises:
        InputError: A bad header (raised when the header is read).
    """
    reader = csv.reader(_decoded(lines), strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(start, None, f"bad CSV: {exc}")
            continue
        if not any(cells):
            continue
        if header is None:
            header = _csv_header(cells, start)
            continue
        parsed = _csv_document(header, cells)
        if isinstance(parsed, str):
            yield Row(start, None, parsed)
        elif problem := _problem(parsed, dims, distance):
            yield Row(start, None, problem)
        else:
            yield Row(start, parsed)


def read_rows(
    lines: Iterable[str | bytes],
    fmt: Format,
    *,
    dims: int = DEFAULT_DIMS,
    distance: Distance = "l2",
) -> Iterator[Row]:
    """The rows of a JSON Lines or CSV input, lazily (see :func:`jsonl_rows`, :func:`csv_rows`)."""
    reader = csv_rows if fmt == "csv" else jsonl_rows
    return reader(lines, dims=dims, distance=distance)


def read_documents(
    lines: Iterable[str | bytes], *, dims: int = DEFAULT_DIMS, distance: Distance = "l2"
) -> list[Document]:
    """Parse and validate JSON Lines documents into a list, failing on the first bad line.

    Raises:
        InputError: The first invalid line, named by its 1-based number.
    """
    docs = []
    for row in jsonl_rows(lines, dims=dims, distance=distance):
        if row.document is None:
            raise InputError(f"line {row.line}: {row.reason}")
        docs.append(row.document)
    return docs


# -- the two passes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """An input file: its name for messages, its format, and how to open it (once per pass)."""

    name: str
    format: Format
    open: Callable[[], AbstractContextManager[Iterable[bytes]]]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected row."""

    file: str
    line: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason}


@dataclass
class CheckReport:
    """Pass 1: how many rows are valid, how many were rejected, and (the first) rejections."""

    documents: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class WriteReport:
    """Pass 2: documents written, documents already stored unchanged, and every id (if kept)."""

    added: int = 0
    unchanged: int = 0
    ids: list[str] | None = None


def check_sources(
    sources: Sequence[Source],
    *,
    dims: int = DEFAULT_DIMS,
    distance: Distance = "l2",
    max_rejections: int = MAX_REJECTIONS,
    progress: Callable[[int], None] | None = None,
) -> CheckReport:
    """Pass 1: read and validate every row of every source; keep up to ``max_rejections``.

    Raises:
        InputError: A file-level error (a bad CSV header).
    """
    report = CheckReport()
    for source in sources:
        with source.open() as lines:
            try:
                for row in read_rows(lines, source.format, dims=dims, distance=distance):
                    if row.document is not None:
                        report.documents += 1
                    else:
                        report.rejected += 1
                        if len(report.rejections) < max_rejections:
                            reason = row.reason or "invalid"
                            report.rejections.append(Rejection(source.name, row.line, reason))
                    if progress is not None:
                        progress(1)
            except InputError as exc:
                raise InputError(f"{source.name}, {exc}") from None
    return report


def write_sources(
    sources: Sequence[Source],
    load: Callable[[list[Document]], LoadReport],
    *,
    batch_size: int,
    dims: int = DEFAULT_DIMS,
    distance: Distance = "l2",
    keep_ids: bool = False,
    progress: Callable[[int], None] | None = None,
) -> WriteReport:
    """Pass 2: read the sources again and ``load`` their valid documents in chunks.

    Rejected rows are skipped (pass 1 decided whether that is allowed).
    """
    report = WriteReport(ids=[] if keep_ids else None)
    chunk: list[Document] = []

    def flush() -> None:
        loaded = load(chunk)
        report.added += len(loaded.written)
        report.unchanged += len(loaded.unchanged)
        if report.ids is not None:
            report.ids += loaded.ids
        if progress is not None:
            progress(len(chunk))
        chunk.clear()

    for source in sources:
        with source.open() as lines:
            for row in read_rows(lines, source.format, dims=dims, distance=distance):
                if row.document is not None:
                    chunk.append(row.document)
                    if len(chunk) >= batch_size:
                        flush()
    if chunk:
        flush()
    return report


def human_summary(
    check: CheckReport, written: WriteReport | None = None, *, limit: int = 10
) -> list[str]:
    """The summary for people: one count line, then the first ``limit`` rejections."""
    added, unchanged = (written.added, written.unchanged) if written else (0, 0)
    lines = [f"added {added}, unchanged {unchanged}, rejected {check.rejected}"]
    lines += [f"  {r.file}, line {r.line}: {r.reason}" for r in check.rejections[:limit]]
    if check.rejected > limit:
        lines.append(f"  ... and {check.rejected - limit} more")
    return lines


# -- files ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def read_file(name: str) -> Iterator[Iterable[bytes]]:
    """Open ``name`` for reading its lines as bytes.

    Raises:
        InputError: It cannot be opened or read.
    """
    try:
        fh = open(name, "rb")  # noqa: SIM115  # closed below
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None
    with fh:
        yield _lines(fh, name)


def _lines(fh: IO[bytes], name: str) -> Iterator[bytes]:
    # Only errors of reading the file are "cannot read": not those of the
    # code consuming the lines (a broken pipe on stdout, say).
    try:
        yield from fh
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None


def _spool(stream: IO[str], stack: contextlib.ExitStack) -> Source:
    """Copy a text stream (stdin) to a temporary file, deleted by ``stack``, to read it twice."""
    spool = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
    if (binary := getattr(stream, "buffer", None)) is not None:
        shutil.copyfileobj(binary, spool)
    else:
        for chunk in iter(lambda: stream.read(1 << 16), ""):
            spool.write(chunk.encode("utf-8", "surrogateescape"))

    @contextlib.contextmanager
    def rewound() -> Iterator[Iterable[bytes]]:
        spool.seek(0)
        yield spool

    return Source("<stdin>", "jsonl", rewound)


def open_sources(
    names: Sequence[str], fmt: Format | None, stdin: IO[str], stack: contextlib.ExitStack
) -> list[Source]:
    """The sources for ``docstore add``: files by name, ``-`` for ``stdin`` (spooled).

    Raises:
        InputError: An unknown extension without ``fmt``, or ``-`` twice.
    """
    if list(names).count("-") > 1:
        raise InputError("'-' (stdin) can be given once")
    formats = [detect_format(name, fmt) for name in names]  # before reading stdin
    return [
        dataclasses.replace(_spool(stdin, stack), format=form)
        if name == "-"
        else Source(name, form, functools.partial(read_file, name))
        for name, form in zip(names, formats, strict=True)
    ]


def add_summary(check: CheckReport, written: WriteReport, *, ids: bool) -> dict[str, Any]:
    """The JSON summary of ``docstore add``."""
    summary: dict[str, Any] = {
        "added": written.added,
        "unchanged": written.unchanged,
        "rejected": check.rejected,
        "rejections": [r.to_json() for r in check.rejections],
    }
    if ids:
        summary["ids"] = written.ids or []
    return summary


# -- export --------------------------------------------------------------------------------------


def document_json(doc: Document, *, embedding: bool = True) -> dict[str, Any]:
    """A document as a JSON Lines object that ``docstore add`` reads back unchanged.

    ``genre`` is a string for one genre, else a list; the embedding (unless
    left out) is written at float32 precision, the precision of the index.
    """
    out: dict[str, Any] = {
        "id": doc.id,
        "content": doc.content,
        "genre": doc.genre if isinstance(doc.genre, str) else list(doc.genre),
        "metadata": dict(doc.metadata or {}),
    }
    if embedding and doc.embedding is not None:
        # The index holds float32 vectors: write each value as the shortest
        # decimal of its float32, which reads back as the same float32. The
        # float64 that Redis returns can be an ulp off (its JSON number parser
        # is not always correctly rounded), which would make every export differ.
        as_float32 = numpy.asarray(doc.embedding, dtype=numpy.float32).astype(str)
        out["embedding"] = [float(x) for x in as_float32]
    return out


def write_jsonl(docs: Iterable[Document], out: IO[str], *, embedding: bool = True) -> int:
    """Write documents as JSON Lines, one at a time; return how many."""
    written = 0
    for doc in docs:
        out.write(json.dumps(document_json(doc, embedding=embedding)) + "\n")
        written += 1
    out.flush()
    return written


def export_file(docs: Iterable[Document], path: Path, *, embedding: bool = True) -> int:
    """Write JSON Lines to a temporary file beside ``path``, renamed over it once complete.

    Raises:
        InputError: The directory is not writable.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            written = write_jsonl(docs, fh, embedding=embedding)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return written
