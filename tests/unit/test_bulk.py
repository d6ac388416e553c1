"""The CLI's server-free half: JSON Lines and CSV rows, the two passes, export."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy
import pytest

from redis_docstore import Document, LoadReport
from redis_docstore._cli.files import (
    MAX_REJECTIONS,
    CheckReport,
    InputError,
    Rejection,
    Row,
    Source,
    WriteReport,
    add_summary,
    check_sources,
    csv_rows,
    detect_format,
    document_json,
    export_file,
    human_summary,
    jsonl_rows,
    open_sources,
    read_file,
    read_rows,
    write_jsonl,
    write_sources,
)
from redis_docstore._documents import content_id

LIBRARY = Path(__file__).parents[2] / "fixtures" / "library.jsonl"


def rows_of(text: str, fmt: str = "csv") -> list[Row]:
    return list(read_rows(io.BytesIO(text.encode()), "csv" if fmt == "csv" else "jsonl"))


def reasons(rows: Iterable[Row]) -> list[tuple[int, str]]:
    return [(r.line, r.reason or "") for r in rows if r.document is None]


# -- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jsonl", "jsonl"),
        ("dir.v2/B.NDJSON", "jsonl"),
        ("x.csv", "csv"),
        ("/tmp/My Books.CSV", "csv"),
        ("-", "jsonl"),
    ],
)
def test_the_format_comes_from_the_extension(name: str, expected: str) -> None:
    assert detect_format(name) == expected


@pytest.mark.parametrize("name", ["books.json", "books.txt", "books", "csv", "data.csv/notes"])
def test_an_unknown_extension_needs_format(name: str) -> None:
    with pytest.raises(InputError, match="--format"):
        detect_format(name)
    assert detect_format(name, "csv") == "csv"


# -- JSON Lines ----------------------------------------------------------------------------------


def test_jsonl_rows_carry_line_numbers_and_skip_blank_lines() -> None:
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
        '{"content": "", "genre": "g"}',
    ]
    assert list(jsonl_rows(lines)) == [
        Row(1, Document("a", "pets")),
        Row(3, Document("b", ["x", "y"], id="b1", embedding=vector, metadata={"n": 1})),
        Row(5, None, "content must not be empty"),
    ]


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (b'{"content": "", "genre": "pets"}', "content must not be empty"),
        (b'{"content": "x", "genre": " pets"}', "whitespace"),
        (b'{"content": "x", "genre": []}', "empty"),
        (b'{"content": "x", "genre": "g", "id": "a:b"}', "id 'a:b' contains ':'"),
        (b'{"content": "x", "genre": "g", "embedding": [1.0, 2.0]}', "expects 384"),
        (b'{"content": "x", "genre": "g", "metadata": [1]}', "metadata must be a mapping"),
        (b'{"content": "x", "genre": "g", "metadata": {"n": 1e999}}', "not valid JSON"),
        (b'{"content": "x"}', "missing field 'genre'"),
        (b'{"genre": "g"}', "missing field 'content'"),
        (b'{"content": "x", "genre": "g", "genres": ["h"]}', "unknown field(s) 'genres'"),
        (b'["content", "genre"]', "expected a JSON object, not list"),
        (b'{"content": "x", "genre": "g"', "not UTF-8 JSON"),
        (b'{"content": "\xff", "genre": "g"}', "not UTF-8 JSON"),
    ],
)
def test_jsonl_rejects_with_the_line_and_a_reason(bad_line: bytes, expected: str) -> None:
    lines = [b'{"content": "fine", "genre": "g"}\n', b"\n", bad_line]
    rows = list(jsonl_rows(lines))
    assert rows[0] == Row(1, Document("fine", "g"))
    ((line, reason),) = reasons(rows)
    assert line == 3
    assert expected in reason


def test_jsonl_takes_a_bom_on_the_first_line_only() -> None:
    rows = list(jsonl_rows(['\ufeff{"content": "caf\u00e9", "genre": "g"}'.encode()]))
    assert rows == [Row(1, Document("caf\u00e9", "g"))]
    rows = list(jsonl_rows(['{"content": "a", "genre": "g"}', '\ufeff{"content": "b"}']))
    assert reasons(rows) == [(2, reasons(rows)[0][1])]
    assert "JSON" in reasons(rows)[0][1]


def test_every_rejection_is_reported_not_only_the_first() -> None:
    lines = ['{"content": "ok", "genre": "g"}', "nope", '{"content": " ", "genre": "g"}', "[]"]
    assert [line for line, _ in reasons(jsonl_rows(lines))] == [2, 3, 4]


# -- CSV -----------------------------------------------------------------------------------------


def test_csv_columns_genres_and_numeric_metadata() -> None:
    text = (
        "id,content,genre,author,year,rating,isbn,note\n"
        "b1,A witch brews potions,fantasy|romance,Ann,1956,2.5,0123,\n"
        ",Rain all week, weather ,Bob,-3,1e3,+7,x\n"
    )
    assert rows_of(text) == [
        Row(
            2,
            Document(
                "A witch brews potions",
                ["fantasy", "romance"],
                id="b1",
                metadata={"author": "Ann", "year": 1956, "rating": 2.5, "isbn": "0123"},
            ),
        ),
        Row(
            3,
            Document(
                "Rain all week",
                "weather",
                metadata={
                    "author": "Bob",
                    "year": -3,
                    "rating": 1000.0,
                    "isbn": "+7",
                    "note": "x",
                },
            ),
        ),
    ]


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("3.25", 3.25),
        ("-0.5", -0.5),
        ("2E-3", 0.002),
        ("007", "007"),
        ("+1", "+1"),
        ("1.", "1."),
        (".5", ".5"),
        ("1,5", "1,5"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("1e999", "1e999"),
        (str(2**63), str(2**63)),
        (str(2**63 - 1), 2**63 - 1),
        ("true", "true"),
        (" 12", " 12"),
    ],
)
def test_csv_metadata_numbers(cell: str, value: object) -> None:
    ((row,),) = [rows_of(f"content,genre,m\nx,g,{json.dumps(cell)}\n")]
    assert row.document is not None
    assert row.document.metadata == {"m": value}
    assert type(row.document.metadata["m"]) is type(value)


def test_csv_quoting_and_multiline_cells_keep_line_numbers() -> None:
    text = (
        "content,genre,quote\r\n"
        '"He said ""hi"", then left",drama,"a, b"\r\n'
        '"Line one\nline two\nline three",poetry,\r\n'
        "\r\n"
        ",,\r\n"
        "after,drama,\r\n"
    )
    rows = rows_of(text)
    assert rows == [
        Row(2, Document('He said "hi", then left', "drama", metadata={"quote": "a, b"})),
        Row(3, Document("Line one\nline two\nline three", "poetry", metadata={})),
        Row(8, Document("after", "drama", metadata={})),
    ]


def test_csv_accepts_a_genres_column_a_bom_and_an_empty_id() -> None:
    text = "\ufeffcontent, genres ,id\nhello,a|b|a,\n"
    (row,) = rows_of(text)
    assert row.document == Document("hello", ["a", "b", "a"], id=None, metadata={})
    assert row.document is not None and row.document.id is None


def test_csv_bad_rows_are_rejected_with_their_line() -> None:
    text = (
        "content,genre,id\n"  # 1
        "ok,g,\n"  # 2
        "too,many,cells,here\n"  # 3
        "few,g\n"  # 4
        ",g,\n"  # 5
        "x,,\n"  # 6
        "x,a||b,\n"  # 7
        "x,g,bad:id\n"  # 8
        '"x"y,g,\n'  # 9: bad quoting
        "fine again,g,\n"  # 10
    )
    rows = rows_of(text)
    assert [r.line for r in rows if r.document is not None] == [2, 10]
    got = dict(reasons(rows))
    assert got[3] == "4 cells, but the header has 3 columns"
    assert got[4] == "2 cells, but the header has 3 columns"
    assert got[5] == "content must not be empty"
    assert got[6] == "the genre cell is empty"
    assert "empty" in got[7]
    assert "':'" in got[8]
    assert got[9].startswith("bad CSV: ")
    assert sorted(got) == [3, 4, 5, 6, 7, 8, 9]


def test_csv_bad_utf8_rejects_only_that_row() -> None:
    data = b"content,genre,who\nok,g,\xc3\xa9\nbad,g,\xff\xfe\nok too,g,x\n"
    rows = list(csv_rows(io.BytesIO(data)))
    assert reasons(rows) == [(3, "not valid UTF-8")]
    assert [r.document.metadata for r in rows if r.document is not None] == [
        {"who": "\u00e9"},
        {"who": "x"},
    ]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("genre,text", "no 'content' column"),
        ("content,author", "one 'genre'"),
        ("content,genre,genres", "one 'genre'"),
        ("content,genre,year,year", "duplicate column(s) 'year'"),
        ("content,genre,", "column 3 has no name"),
        ("content,genre,embedding", "'embedding' are not supported"),
        ("content,genre,metadata", "'metadata' are not supported"),
    ],
)
def test_a_bad_csv_header_fails_the_file(header: str, problem: str) -> None:
    with pytest.raises(InputError, match="line 2: bad CSV header") as info:
        rows_of(f"\n{header}\nx,g,1,2\n")
    assert problem in str(info.value)


def test_an_empty_csv_has_no_rows() -> None:
    assert rows_of("") == []
    assert rows_of("content,genre\n") == []


# -- laziness: constant memory -------------------------------------------------------------------


def exploding(lines: Sequence[str], consumed: list[int]) -> Iterator[bytes]:
    """The given lines, then an error: reading past them proves eagerness."""
    for line in lines:
        consumed.append(1)
        yield line.encode()
    raise AssertionError("read past the lines the test asked for")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_readers_are_lazy(fmt: str) -> None:
    if fmt == "jsonl":
        lines = [json.dumps({"content": f"doc {n}", "genre": "g"}) + "\n" for n in range(10)]
    else:
        lines = ["content,genre\n", *(f"doc {n},g\n" for n in range(10))]
    consumed: list[int] = []
    rows = read_rows(exploding(lines, consumed), "csv" if fmt == "csv" else "jsonl")
    assert consumed == []  # nothing read before the first row is asked for
    first = list(itertools.islice(rows, 3))
    assert [r.document.content for r in first if r.document] == ["doc 0", "doc 1", "doc 2"]
    # Three rows need three lines (and CSV its header); csv's reader reads one line ahead.
    assert len(consumed) <= 3 + (fmt == "csv")
    assert len(consumed) >= 3
    with pytest.raises(AssertionError, match="read past"):
        list(rows)


# -- the two passes ------------------------------------------------------------------------------


def source(name: str, text: str, fmt: str = "jsonl", opened: list[str] | None = None) -> Source:
    @contextlib.contextmanager
    def open_() -> Iterator[Iterable[bytes]]:
        if opened is not None:
            opened.append(name)
        yield io.BytesIO(text.encode())

    return Source(name, "csv" if fmt == "csv" else "jsonl", open_)


def jsonl(*docs: dict[str, Any]) -> str:
    return "".join(json.dumps(d) + "\n" for d in docs)


GOOD = jsonl(*({"content": f"doc {n}", "genre": "g", "id": f"d{n}"} for n in range(5)))
MIXED = "content,genre,id\nfirst,g,c1\n,g,c2\nsecond,g,c3\nthird,,c4\n"


def test_check_counts_valid_and_rejected_rows_per_file() -> None:
    ticks: list[int] = []
    report = check_sources(
        [source("a.jsonl", GOOD), source("b.csv", MIXED, "csv")], progress=ticks.append
    )
    assert (report.documents, report.rejected) == (7, 2)
    assert report.rejections == [
        Rejection("b.csv", 3, "content must not be empty"),
        Rejection("b.csv", 5, "the genre cell is empty"),
    ]
    assert sum(ticks) == 9


def test_check_keeps_a_bounded_list_of_rejections() -> None:
    bad = "not json\n" * 30
    report = check_sources([source("bad.jsonl", bad)], max_rejections=10)
    assert report.rejected == 30
    assert [r.line for r in report.rejections] == list(range(1, 11))
    assert MAX_REJECTIONS == 1000


def test_check_names_the_file_of_a_bad_header() -> None:
    with pytest.raises(InputError, match=r"^b\.csv, line 1: bad CSV header"):
        check_sources([source("a.jsonl", GOOD), source("b.csv", "text,genre\n", "csv")])


class FakeStore:
    """Records the chunks handed to load(); ids in ``stored`` come back unchanged."""

    def __init__(self, stored: Iterable[str] = ()) -> None:
        self.chunks: list[list[Document]] = []
        self.stored = set(stored)

    def load(self, docs: list[Document]) -> LoadReport:
        self.chunks.append(list(docs))
        ids = [d.id or content_id(d.content) for d in docs]
        return LoadReport(
            ids=ids,
            written=[i for i in ids if i not in self.stored],
            unchanged=[i for i in ids if i in self.stored],
        )


def test_write_loads_valid_documents_in_chunks_across_files() -> None:
    fake = FakeStore(stored={"d1", "c3"})
    ticks: list[int] = []
    report = write_sources(
        [source("a.jsonl", GOOD), source("b.csv", MIXED, "csv")],
        fake.load,
        batch_size=3,
        keep_ids=True,
        progress=ticks.append,
    )
    assert [[d.id for d in chunk] for chunk in fake.chunks] == [
        ["d0", "d1", "d2"],
        ["d3", "d4", "c1"],
        ["c3"],
    ]
    assert report == WriteReport(
        added=5, unchanged=2, ids=["d0", "d1", "d2", "d3", "d4", "c1", "c3"]
    )
    assert ticks == [3, 3, 1]


def test_write_reads_each_source_again() -> None:
    opened: list[str] = []
    sources = [source("a.jsonl", GOOD, opened=opened)]
    check_sources(sources)
    write_sources(sources, FakeStore().load, batch_size=100)
    assert opened == ["a.jsonl", "a.jsonl"]
    assert write_sources(sources, FakeStore().load, batch_size=100).ids is None


def test_summaries() -> None:
    check = CheckReport(
        documents=4,
        rejected=12,
        rejections=[Rejection("f.csv", n, f"reason {n}") for n in range(2, 14)],
    )
    written = WriteReport(added=3, unchanged=1, ids=["a", "b", "c", "d"])
    assert add_summary(check, written, ids=False) == {
        "added": 3,
        "unchanged": 1,
        "rejected": 12,
        "rejections": [
            {"file": "f.csv", "line": n, "reason": f"reason {n}"} for n in range(2, 14)
        ],
    }
    assert add_summary(check, written, ids=True)["ids"] == ["a", "b", "c", "d"]
    lines = human_summary(check, written, limit=2)
    assert lines == [
        "added 3, unchanged 1, rejected 12",
        "  f.csv, line 2: reason 2",
        "  f.csv, line 3: reason 3",
        "  ... and 10 more",
    ]
    assert human_summary(CheckReport()) == ["added 0, unchanged 0, rejected 0"]


# -- files and stdin -----------------------------------------------------------------------------


def test_stdin_is_spooled_and_read_twice(tmp_path: Path) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(GOOD.encode()))
    file = tmp_path / "more.csv"
    file.write_text("content,genre\nfrom a file,g\n")
    with contextlib.ExitStack() as stack:
        sources = open_sources(["-", str(file)], None, stdin, stack)
        assert [(s.name, s.format) for s in sources] == [("<stdin>", "jsonl"), (str(file), "csv")]
        assert check_sources(sources).documents == 6
        fake = FakeStore()
        assert write_sources(sources, fake.load, batch_size=100).added == 6
    assert [d.content for d in fake.chunks[0]][-2:] == ["doc 4", "from a file"]


def test_stdin_without_a_byte_buffer_and_with_a_format() -> None:
    with contextlib.ExitStack() as stack:
        (src,) = open_sources(["-"], "csv", io.StringIO("content,genre\nx,g\n"), stack)
        assert src.format == "csv"
        assert check_sources([src]).documents == 1


def test_sources_refuse_stdin_twice_and_unknown_extensions() -> None:
    with contextlib.ExitStack() as stack, pytest.raises(InputError, match="once"):
        open_sources(["-", "-"], None, io.StringIO(""), stack)
    stdin = io.StringIO(GOOD)
    with contextlib.ExitStack() as stack, pytest.raises(InputError, match="--format"):
        open_sources(["-", "books.txt"], None, stdin, stack)
    assert stdin.tell() == 0  # the extension is checked before stdin is read


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*none\.jsonl: No such file"):  # noqa: SIM117
        with read_file(str(tmp_path / "none.jsonl")):
            pass
    with pytest.raises(InputError, match=r"cannot read .*: Is a directory"):  # noqa: SIM117
        with read_file(str(tmp_path)):
            pass


def test_errors_of_the_consumer_are_not_read_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(GOOD)

    def consume() -> None:
        with read_file(str(path)) as lines:
            for _ in lines:
                raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        consume()


# -- export --------------------------------------------------------------------------------------


def test_export_lines_read_back_as_the_same_documents() -> None:
    docs = [
        Document("one", "g", id="a", embedding=[0.25] * 384, metadata={"year": 1999}),
        Document("two", ["x", "y"], id="b", embedding=[0.1] * 384, metadata={}),
    ]
    out = io.StringIO()
    assert write_jsonl(docs, out) == 2
    assert [r.document for r in jsonl_rows(out.getvalue().splitlines())] == docs
    assert document_json(docs[1], embedding=False) == {
        "id": "b",
        "content": "two",
        "genre": ["x", "y"],
        "metadata": {},
    }


def test_export_writes_embeddings_at_float32_precision() -> None:
    stored = [float(numpy.float32(x)) for x in (0.0872211828827858, -1 / 3, 9.5259e-34, 2.5)]
    exported = document_json(Document("x", "g", embedding=stored))["embedding"]
    assert exported == [0.08722118, -0.33333334, 9.5259e-34, 2.5]
    assert numpy.array_equal(numpy.float32(exported), numpy.float32(stored))
    one_ulp_off = [numpy.nextafter(x, 1.0) for x in stored]  # as Redis may return them
    assert document_json(Document("x", "g", embedding=one_ulp_off))["embedding"] == exported


def test_export_file_replaces_the_target_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")

    def failing() -> Iterator[Document]:
        yield Document("one", "g", id="a")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_file(failing(), target)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    assert export_file([Document("one", "g", id="a")], target) == 1
    assert json.loads(target.read_text())["id"] == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    with pytest.raises(InputError, match="cannot write"):
        export_file([], tmp_path / "no" / "such" / "dir.jsonl")


def test_the_library_fixture_reads_cleanly() -> None:
    with read_file(str(LIBRARY)) as lines:
        rows = list(read_rows(lines, "jsonl"))
    assert len(rows) == 300
    assert all(r.document is not None for r in rows)
