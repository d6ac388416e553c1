"""Grouped search without a server: the plan against a brute-force oracle; round trips."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_docstore import DocumentStore, Group, Hit, InvalidQueryError
from redis_docstore._cli.commands import build_parser, main
from redis_docstore._commands.search import MAX_RESULTS
from redis_docstore._effects import Commands, Embed
from redis_docstore._ops.groups import (
    MAX_PROBES,
    Candidates,
    Need,
    group_spec,
    group_values,
    plan,
    probe_expression,
    search_groups,
)


@dataclass(frozen=True)
class Doc:
    """A document as the fake index sees it: its distance to the query is fixed."""

    id: str
    distance: float
    genres: tuple[str, ...]
    rank: int  # the index's own order among equal distances (not the id's)

    def hit(self) -> Hit:
        return Hit(self.id, f"text {self.id}", self.genres, self.distance)


def knn(docs: Sequence[Doc], k: int, value: str | None = None) -> Candidates:
    """What a (FLAT) KNN search returns: the k nearest, ties in the index's order."""
    matching = [d for d in docs if value is None or value in d.genres]
    nearest = sorted(matching, key=lambda d: (d.distance, d.rank))[:k]
    return Candidates(k, [d.hit() for d in nearest])


def oracle(docs: Sequence[Doc], limit: int, group_size: int) -> list[tuple[str, list[str]]]:
    """Every document sorted by (distance, id), grouped; the first `limit` groups by best hit."""
    groups: dict[str, list[Doc]] = {}
    for doc in sorted(docs, key=lambda d: (d.distance, d.id)):
        for genre in doc.genres:
            groups.setdefault(genre, []).append(doc)
    ranked = sorted(groups.items(), key=lambda g: (g[1][0].distance, g[1][0].id, g[0]))
    return [(value, [d.id for d in members[:group_size]]) for value, members in ranked[:limit]]


def run_plan(
    docs: Sequence[Doc],
    *,
    limit: int,
    group_size: int,
    first: int,
    cap: int = MAX_RESULTS,
    max_probes: int = MAX_PROBES,
    extra_values: Sequence[str] = (),
) -> tuple[list[Group], list[Need]]:
    """Drive plan() as the flow does, answering its needs from `docs`."""
    values_all = sorted({g for d in docs for g in d.genres} | set(extra_values))
    nearest, probes, values = knn(docs, first), {}, None
    needs: list[Need] = []
    while True:
        outcome = plan(
            nearest, probes, values, field="genre", limit=limit, group_size=group_size,
            cap=cap, max_probes=max_probes,
        )  # fmt: skip
        if not isinstance(outcome, Need):
            return outcome, needs
        needs.append(outcome)
        assert len(needs) < 50, "the plan does not converge"
        assert outcome.nearest or outcome.values or outcome.probes
        if outcome.nearest:
            assert nearest.k < outcome.nearest <= cap
            nearest = knn(docs, outcome.nearest)
        for value, k in outcome.probes.items():
            assert k <= cap
            probes[value] = knn(docs, k, value)
        if outcome.values:
            assert values is None  # asked once
            values = values_all


def shown(groups: Sequence[Group]) -> list[tuple[str, list[str]]]:
    return [(g.value, [h.id for h in g.hits]) for g in groups]


@st.composite
def libraries(draw: st.DrawFn) -> list[Doc]:
    n = draw(st.integers(0, 40))
    pool = ["a", "b", "c", "d", "e", "f", "g"][: draw(st.integers(1, 7))]
    if draw(st.booleans()):  # few distinct distances: ties, which the index orders its own way
        distances = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    else:
        distances = draw(st.permutations(range(n)))
    ranks = draw(st.permutations(range(n)))
    # Each document's genres as a bit mask over the pool: none, one or several.
    masks = draw(st.lists(st.integers(0, 2 ** len(pool) - 1), min_size=n, max_size=n))
    return [
        Doc(
            id=f"d{i:02d}",
            distance=distances[i] / 4,
            genres=tuple(g for bit, g in enumerate(pool) if masks[i] >> bit & 1),
            rank=ranks[i],
        )
        for i in range(n)
    ]


@settings(max_examples=300, deadline=None)
@given(
    libraries(),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(2, 30),
    st.sampled_from([MAX_RESULTS, 12]),
    st.sampled_from([MAX_PROBES, 1]),
)
def test_the_plan_finds_the_brute_force_groups(
    docs: list[Doc], limit: int, group_size: int, first: int, cap: int, max_probes: int
) -> None:
    groups, _ = run_plan(
        docs, limit=limit, group_size=group_size, first=min(first, cap), cap=cap,
        max_probes=max_probes, extra_values=["stale"],
    )  # fmt: skip
    if cap == MAX_RESULTS or len({d.distance for d in docs}) == len(docs):
        assert shown(groups) == oracle(docs, limit, group_size)
    # (Beyond the cap, ties cut by the index's own order cannot be resolved.)
    # a group is never longer than group_size, nor empty; values are distinct
    assert all(0 < len(g.hits) <= group_size for g in groups)
    assert len({g.value for g in groups}) == len(groups) <= limit


def test_one_fetch_when_the_candidates_hold_full_groups() -> None:
    docs = [Doc(f"d{i:02d}", i, ("a",) if i % 2 else ("b",), i) for i in range(40)]
    groups, needs = run_plan(docs, limit=2, group_size=3, first=10)
    assert shown(groups) == [("b", ["d00", "d02", "d04"]), ("a", ["d01", "d03", "d05"])]
    assert needs == []


def test_a_short_group_is_completed_by_its_own_search() -> None:
    # "a" is second nearest, but its other members lie beyond the candidates.
    docs = [Doc(f"d{i:02d}", i, ("b",), i) for i in range(20)]
    docs[1] = Doc("d01", 1, ("a",), 1)
    docs += [Doc("z1", 30, ("a",), 30), Doc("z2", 31, ("a",), 31)]
    groups, needs = run_plan(docs, limit=2, group_size=3, first=10)
    assert shown(groups) == [("b", ["d00", "d02", "d03"]), ("a", ["d01", "z1", "z2"])]
    assert needs == [Need(probes={"a": 4})]


def test_missing_groups_are_found_through_the_fields_values() -> None:
    docs = [Doc(f"d{i:02d}", i, ("a",), i) for i in range(30)] + [Doc("far", 99, ("b",), 99)]
    groups, needs = run_plan(docs, limit=3, group_size=2, first=10)
    assert shown(groups) == [("a", ["d00", "d01"]), ("b", ["far"])]
    assert needs == [Need(values=True), Need(probes={"b": 3})]


def test_many_unseen_values_double_the_candidates_instead() -> None:
    docs = [Doc(f"d{i:02d}", i, ("a",), i) for i in range(30)]
    docs += [Doc(f"v{i}", 40 + i, (f"v{i}",), 40 + i) for i in range(5)]
    groups, needs = run_plan(docs, limit=3, group_size=1, first=10, max_probes=2)
    assert shown(groups) == [("a", ["d00"]), ("v0", ["v0"]), ("v1", ["v1"])]
    assert needs[:3] == [Need(values=True), Need(nearest=20), Need(nearest=40)]


def test_ties_at_the_edge_of_the_candidates_are_resolved_by_id() -> None:
    # Ten documents at one distance; the index returns them in its own order.
    docs = [Doc(f"d{i}", 1.0, ("a",), 9 - i) for i in range(10)]
    groups, needs = run_plan(docs, limit=1, group_size=2, first=3)
    assert shown(groups) == [("a", ["d0", "d1"])]
    assert needs  # the first three could not decide which two come first


def test_group_values() -> None:
    hit = Hit("x", "c", ("g1", "g2"), 0.0, {"author": "Ann", "tags": ["t", "u", "t", 3]})
    assert group_values(hit, "genre") == ("g1", "g2")
    assert group_values(hit, "author") == ("Ann",)
    assert group_values(hit, "tags") == ("t", "u")
    assert group_values(hit, "missing") == ()
    assert group_values(Hit("y", "c", ("g",), 0.0, {"author": 3}), "author") == ()


def test_a_probe_filters_on_the_search_filter_and_the_value() -> None:
    assert probe_expression("*", "genre", "science fiction") == r"@genre:{science\ fiction}"
    assert probe_expression("@year:[2000 +inf]", "author", "O'Neil") == (
        r"((@year:[2000 +inf]) @author:{O\'Neil})"
    )


# -- the flow, driven by hand (no server) --------------------------------------------------------


class Tiny:
    dims = 2

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, float(len(t))] for t in texts]


QUERY_RE = re.compile(r"^(.*?)(?:=>\[KNN (\d+) )")
TAG_RE = re.compile(r"@genre:\{((?:\\.|[^}])*)\}")


class FakeIndex:
    """Answers the flow's commands from a list of documents; counts round trips."""

    def __init__(self, store: DocumentStore, docs: Sequence[Doc]) -> None:
        self.prefix = store.settings.key_prefix
        self.docs = docs
        self.trips: list[list[str]] = []  # the commands of each round trip, by name

    def matching(self, expression: str) -> list[Doc]:
        found = TAG_RE.search(expression)
        if found is None:
            assert expression.strip("()") == "*", expression
            return list(self.docs)
        value = re.sub(r"\\(.)", r"\1", found.group(1))
        return [d for d in self.docs if value in d.genres]

    def reply(self, command: tuple[Any, ...], protocol: int) -> Any:
        if command[0] == "FT.TAGVALS":
            return sorted({g.encode() for d in self.docs for g in d.genres})
        query = str(command[2])
        knn_match = QUERY_RE.match(query)
        if knn_match is None:  # a count
            assert "NOCONTENT" in command and protocol == 3
            return {"total_results": len(self.matching(query)), "results": [], "warning": []}
        k = int(knn_match.group(2))
        hits = knn(self.matching(knn_match.group(1)), k).hits
        rows = [
            {
                "vector_distance": str(h.distance),
                "$.content": h.content,
                "$.genre": orjson.dumps(list(h.genres)).decode(),
                "$.metadata": "{}",
            }
            for h in hits
        ]
        if protocol == 2:  # [total, key, [field, value, ...], ...]
            flat: list[Any] = [len(hits)]
            for h, row in zip(hits, rows, strict=True):
                flat += [self.prefix + h.id, [x for item in row.items() for x in item]]
            return flat
        return {
            "total_results": len(hits),
            "results": [
                {"id": self.prefix + h.id, "extra_attributes": row}
                for h, row in zip(hits, rows, strict=True)
            ],
            "warning": [],
        }

    def run(self, flow: Any) -> Any:
        reply: Any = None
        while True:
            try:
                effect = flow.send(reply)
            except StopIteration as stop:
                return stop.value
            if isinstance(effect, Embed):
                reply = Tiny().embed_many(effect.texts)
            elif isinstance(effect, Commands):
                self.trips.append([str(c[0]) for c in effect.commands])
                reply = [self.reply(c, effect.protocol) for c in effect.commands]
            else:
                raise AssertionError(f"unexpected effect {effect!r}")


def fake_store(algorithm: str) -> DocumentStore:
    store = DocumentStore("redis://localhost:1", embedder=Tiny(), algorithm=algorithm)  # type: ignore[arg-type]
    store._state.ready = True  # never connects: the index counts as open
    return store


def grouped(store: DocumentStore, docs: Sequence[Doc], **options: Any) -> tuple[Any, FakeIndex]:
    index = FakeIndex(store, docs)
    spec = group_spec(
        store._state, group_by="genre", genre=None, genres_all=None, exclude_genres=None,
        where=None, ef_runtime=None, **options,
    )  # fmt: skip
    return index.run(search_groups(store._state, "a query", spec)), index


MANY = [Doc(f"d{i:03d}", i, (("a", "b", "c")[i % 3],), i) for i in range(300)]


@pytest.mark.parametrize("algorithm", ["flat", "hnsw"])
def test_full_groups_among_the_candidates_take_one_round_trip(algorithm: str) -> None:
    groups, index = grouped(fake_store(algorithm), MANY, limit=3, group_size=3)
    assert shown(groups) == oracle(MANY, 3, 3)
    assert index.trips == [["FT.SEARCH"]]


@pytest.mark.parametrize("algorithm", ["flat", "hnsw"])
def test_short_groups_take_a_second_round_trip(algorithm: str) -> None:
    docs = [*MANY[:200], Doc("far1", 500, ("a",), 500), Doc("far2", 501, ("d",), 501)]
    docs[5] = Doc("near", 5, ("d",), 5)
    groups, index = grouped(fake_store(algorithm), docs, limit=4, group_size=3)
    assert shown(groups) == oracle(docs, 4, 3)
    assert ("d", ["near", "far2"]) in shown(groups)
    # The probe of "d" is filtered: on HNSW its matches are counted alongside.
    probe = ["FT.SEARCH"] if algorithm == "flat" else ["FT.SEARCH", "FT.SEARCH"]
    assert index.trips == [["FT.SEARCH"], probe]


def test_fewer_groups_than_the_limit_list_the_values_then_probe() -> None:
    docs = [*MANY, Doc("far", 999, ("z",), 999)]
    groups, index = grouped(fake_store("flat"), docs, limit=5, group_size=2)
    assert shown(groups) == oracle(docs, 5, 2)
    assert [g.value for g in groups] == ["a", "b", "c", "z"]
    assert index.trips == [["FT.SEARCH"], ["FT.TAGVALS"], ["FT.SEARCH"]]


def test_no_documents_no_groups_one_round_trip() -> None:
    groups, index = grouped(fake_store("flat"), [], limit=5, group_size=2)
    assert groups == []
    assert index.trips == [["FT.SEARCH"]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"group_by": "author"}, "group_by must be one of the tag fields 'genre'"),
        ({"group_by": "content"}, "group_by must be one of"),
        ({"group_by": None}, "group_by must be one of"),
        ({"limit": 0}, "limit must be a positive integer"),
        ({"limit": True}, "limit must be a positive integer"),
        ({"group_size": 2.0}, "group_size must be a positive integer"),
        ({"limit": 101, "group_size": 100}, "limit * group_size must be at most 10,000"),
        ({"ef_runtime": 0}, "ef_runtime must be a positive integer"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    store = fake_store("hnsw")
    kw: dict[str, Any] = {"group_by": "genre", "limit": 5, "group_size": 3, "ef_runtime": None}
    with pytest.raises(InvalidQueryError, match=re.escape(message)):
        group_spec(
            store._state, genre=None, genres_all=None, exclude_genres=None, where=None,
            **(kw | options),
        )  # fmt: skip


def test_declared_tag_fields_can_group_but_not_other_kinds() -> None:
    fields: dict[str, Any] = {"author": "tag", "year": "numeric"}
    store = DocumentStore("redis://localhost:1", embedder=Tiny(), metadata_fields=fields)
    common: dict[str, Any] = dict(
        limit=5, group_size=3, genre=None, genres_all=None, exclude_genres=None, where=None,
        ef_runtime=None,
    )  # fmt: skip
    assert group_spec(store._state, group_by="author", **common).field == "author"
    with pytest.raises(InvalidQueryError, match="'genre', 'author', not 'year'"):
        group_spec(store._state, group_by="year", **common)


# -- the CLI's options (no server) ---------------------------------------------------------------

UNREACHABLE = "redis://127.0.0.1:1"  # never contacted: these commands fail before connecting


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--limit", "3"], "--limit and --group-size apply to --group-by searches"),
        (["--group-size", "3"], "--limit and --group-size apply to --group-by searches"),
        (["--group-by", "genre", "-k", "5"], "-k cannot be combined with --group-by"),
        (
            ["--group-by", "genre", "--offset", "2", "--text", "dog", "--explain"],
            "--offset, --text, --explain cannot be combined with --group-by",
        ),
        (["--group-by", "genre", "--mmr", "0.5"], "--mmr cannot be combined with --group-by"),
    ],
)
def test_cli_group_options_that_do_not_fit_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--url", UNREACHABLE, "search", "q", *argv])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.startswith("docstore: error: ")
    assert message in captured.err


@pytest.mark.parametrize("argv", [["--limit", "0"], ["--group-size", "x"]])
def test_cli_group_counts_must_be_positive(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "q", "--group-by", "genre", *argv]) == 2
    assert "not a positive integer" in capsys.readouterr().err


def test_cli_help_shows_the_group_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--group-by FIELD", "--limit N", "--group-size N", "nearest per genre"):
        assert option in text
    args = build_parser().parse_args(["search", "q", "--group-by", "author", "--limit", "2"])
    assert (args.group_by, args.limit, args.group_size, args.k) == ("author", 2, None, None)
