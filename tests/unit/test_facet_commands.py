"""Facet and statistics commands, their replies and their flows, without a server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from redis_docstore import DocumentStore, FieldStats
from redis_docstore._commands.aggregate import field_stats_command, tag_values_command
from redis_docstore._commands.replies import parse_field_stats, tag_values
from redis_docstore._effects import Commands, Flow
from redis_docstore._errors import IncompleteResultsError, InvalidQueryError
from redis_docstore._ops.facets import facets, stats
from redis_docstore._ops.filtering import Selection
from redis_docstore._ops.state import StoreState


def test_tag_values_command() -> None:
    assert tag_values_command("idx", "author") == ("FT.TAGVALS", "idx", "author")


def test_tag_values_are_decoded_and_sorted() -> None:
    assert tag_values([b"b", "a", b"\xc3\xa9t\xc3\xa9"]) == ["a", "b", "été"]
    assert tag_values([]) == []


def test_field_stats_command() -> None:
    command = field_stats_command("idx", "year", "(@genre:{pets} @year:[-inf +inf])")
    assert command == (
        "FT.AGGREGATE", "idx", "(@genre:{pets} @year:[-inf +inf])", "GROUPBY", 0,
        "REDUCE", "COUNT", 0, "AS", "count",
        "REDUCE", "MIN", 1, "@year", "AS", "min",
        "REDUCE", "MAX", 1, "@year", "AS", "max",
        "REDUCE", "SUM", 1, "@year", "AS", "sum",
        "DIALECT", 2,
    )  # fmt: skip


def reply(row: dict[Any, Any] | None, *, warning: list[Any] | None = None) -> dict[Any, Any]:
    """A RESP3 FT.AGGREGATE reply as redis-py hands it over (bytes keys)."""
    rows = [] if row is None else [{b"extra_attributes": row, b"values": []}]
    return {
        b"attributes": [],
        b"total_results": len(rows),
        b"format": b"STRING",
        b"results": rows,
        b"warning": warning or [],
    }


def test_stats_of_a_row() -> None:
    row = {b"count": b"4", b"min": b"1.5", b"max": b"1e+300", b"sum": b"10"}
    assert parse_field_stats(reply(row)) == FieldStats(
        count=4, min=1.5, max=1e300, mean=2.5, sum=10.0
    )


def test_stats_of_str_replies() -> None:
    row = {"count": "3", "min": "-2", "max": "12345678901234568", "sum": "1"}
    stats = parse_field_stats({"results": [{"extra_attributes": row}], "warning": []})
    assert stats == FieldStats(3, -2.0, 12345678901234568.0, 1 / 3, 1.0)
    assert isinstance(stats.count, int) and isinstance(stats.min, float)


def test_stats_of_no_row() -> None:
    assert parse_field_stats(reply(None)) == FieldStats(0, None, None, None, 0.0)


def test_stats_mean_is_the_sum_over_the_count() -> None:
    # AVG would come rounded to 12 digits; the sum of integers comes exactly.
    row = {b"count": b"3", b"min": b"1", b"max": b"2000000000000001", b"sum": b"2000000000000004"}
    assert parse_field_stats(reply(row)).mean == 2000000000000004 / 3


def test_partial_stats_are_refused() -> None:
    row = {b"count": b"1", b"min": b"1", b"max": b"1", b"sum": b"1"}
    with pytest.raises(IncompleteResultsError, match="Timeout"):
        parse_field_stats(reply(row, warning=[b"Timeout limit was reached"]))


def test_field_stats_is_a_frozen_record() -> None:
    stats = FieldStats(1, 2.0, 2.0, 2.0, 2.0)
    with pytest.raises(AttributeError):
        stats.count = 3  # type: ignore[misc]


# -- the flows, driven by hand -----------------------------------------------------------------


class Tiny:
    dims = 2

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, float(len(t))] for t in texts]


def opened_state() -> StoreState:
    store = DocumentStore(  # never connects
        "redis://localhost:1", index="idx", embedder=Tiny(),
        metadata_fields={"author": "tag", "year": "numeric", "note": "text"},
    )  # fmt: skip
    store._state.ready = True  # as if the index had been opened
    return store._state


def drive(flow: Flow[Any], replies: Callable[[Commands], list[Any]]) -> tuple[Any, list[Any]]:
    """Run a flow, answering each Commands effect; (result, the commands of each round trip)."""
    sent: list[Any] = []
    reply: Any = None
    while True:
        try:
            effect = flow.send(reply)
        except StopIteration as stop:
            return stop.value, sent
        assert isinstance(effect, Commands)
        sent.append(list(effect.commands))
        reply = replies(effect)


def counts(totals: dict[str, int]) -> Callable[[Commands], list[Any]]:
    """Replies of a server holding these counts per author (and FT.TAGVALS of them all)."""

    def answer(effect: Commands) -> list[Any]:
        if effect.commands[0][0] == "FT.TAGVALS":
            return [[v.encode() for v in totals]]
        out = []
        for command in effect.commands:
            value = next(v for v in totals if f"@author:{{{v}}}" in command[2])
            out.append({"total_results": totals[value], "results": [], "warning": []})
        return out

    return answer


def test_facets_list_the_values_then_count_each_in_one_pipeline() -> None:
    state = opened_state()
    totals = {"b": 2, "a": 2, "c": 5, "z": 0, "bad\x01value": 3}
    result, sent = drive(
        facets(state, "author", Selection(genre="pets"), limit=None), counts(totals)
    )
    # Ranked by count, then value; zero counts and values no query can match left out.
    assert list(result.items()) == [("c", 5), ("a", 2), ("b", 2)]
    assert sent[0] == [("FT.TAGVALS", "idx", "author")]
    assert [command[2] for command in sent[1]] == [
        "(@author:{a} (@genre:{pets}))", "(@author:{b} (@genre:{pets}))",
        "(@author:{c} (@genre:{pets}))", "(@author:{z} (@genre:{pets}))",
    ]  # fmt: skip
    assert len(sent) == 2


def test_facets_limit_keeps_the_most_frequent() -> None:
    state = opened_state()
    totals = {"b": 2, "a": 2, "c": 5}
    result, _ = drive(facets(state, "author", Selection(), limit=2), counts(totals))
    assert list(result.items()) == [("c", 5), ("a", 2)]
    _, sent = drive(facets(state, "author", Selection(), limit=2), counts(totals))
    assert [command[2] for command in sent[1]] == ["@author:{a}", "@author:{b}", "@author:{c}"]


def test_facets_of_a_field_without_values_is_one_round_trip() -> None:
    result, sent = drive(facets(opened_state(), "genre", Selection(), limit=20), lambda e: [[]])
    assert (result, sent) == ({}, [[("FT.TAGVALS", "idx", "genre")]])


def test_stats_is_one_aggregate_over_documents_with_the_field() -> None:
    row = {"count": "2", "min": "1990", "max": "2000", "sum": "3990"}
    result, sent = drive(
        stats(opened_state(), "year", Selection(exclude_genres=["x"])),
        lambda e: [{"results": [{"extra_attributes": row}], "warning": []}],
    )
    assert result == FieldStats(2, 1990.0, 2000.0, 1995.0, 3990.0)
    assert len(sent) == 1 and sent[0][0][:3] == (
        "FT.AGGREGATE", "idx", "(@year:[-inf inf] (-(@genre:{x})))",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flow", "words"),
    [
        (lambda s: facets(s, "note", Selection(), limit=1), "'note' is a text field"),
        (lambda s: facets(s, "year", Selection(), limit=1), "tag fields: author, genre"),
        (lambda s: facets(s, "nope", Selection(), limit=1), "'nope' is not a declared field"),
        (lambda s: facets(s, 3, Selection(), limit=1), "must be a string, not int"),
        (lambda s: facets(s, "author", Selection(), limit=0), "limit must be a positive"),
        (lambda s: facets(s, "author", Selection(), limit=-1), "limit must be a positive"),
        (lambda s: stats(s, "author", Selection()), "numeric fields: year"),
        (lambda s: stats(s, "content", Selection()), "'content' is a text field"),
    ],
)
def test_bad_fields_and_limits_fail_before_any_command(
    flow: Callable[[StoreState], Flow[Any]], words: str
) -> None:
    with pytest.raises(InvalidQueryError, match=words):
        next(flow(opened_state()))
