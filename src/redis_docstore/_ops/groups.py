"""Grouped search: the nearest documents of each value of a field, "the best 3 per genre".

As Qdrant's query groups: fetch the nearest candidates, group them, and fetch
more only when the candidates cannot decide the answer. Which fetch comes next
is decided by :func:`plan`, a pure function of what has been fetched so far;
:func:`search_groups` is the flow that sends what it asks for.

Why the answer is exact (with respect to the index's own KNN order; for a FLAT
index, to the exact distances). When the candidate list is full (``k`` hits),
the hits at the last hit's distance are set aside: what remains is *every*
matching document nearer than that distance, a true prefix of the order by
``(distance, id)``. From such a prefix,

* the groups met in it come first, in the order of their nearest member
  (every other group's members lie beyond it);
* a group with ``group_size`` members in it is complete;
* a short group among the first ``limit`` gets its own search (the user's filter
  and ``field == value``: a *probe*), whose trimmed list is again a prefix of
  that group's members;
* when fewer than ``limit`` groups are met, the field's values are listed
  (``FT.TAGVALS``) and each value not met is probed, or, when there are many
  such values, the candidate list is doubled instead.

A list shorter than its ``k`` holds every matching document (the search flow's
rule: HNSW lists that came back short are re-run as exact searches), so it
decides everything at once. No search asks for more than ``MAX_RESULTS``
(10,000) hits: a candidate list of that size is not doubled further (the values
not met are then probed however many there are), and a probe of that size is
taken as it is. Like any read of several round trips, one that overlaps writes
may see some of them in one round trip and not in another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from redis_docstore._commands.replies import decode, total_results
from redis_docstore._commands.search import MAX_RESULTS, count_command, validate_k
from redis_docstore._documents import Group, Hit, HitField
from redis_docstore._effects import Commands, Flow
from redis_docstore._embeddings import VectorLike
from redis_docstore._errors import InvalidQueryError
from redis_docstore._filters.conditions import Tag
from redis_docstore._filters.expression import Filter, combine, render
from redis_docstore._filters.genres import GENRE_FIELD
from redis_docstore._ops import search
from redis_docstore._ops.lifecycle import ensure
from redis_docstore._ops.spec import SearchSpec, stored_fields
from redis_docstore._ops.state import StoreState

__all__ = [
    "CANDIDATES_PER_HIT",
    "MAX_PROBES",
    "MIN_CANDIDATES",
    "Candidates",
    "GroupSpec",
    "Need",
    "group_spec",
    "group_values",
    "plan",
    "probe_expression",
    "search_groups",
]

#: The first candidate list holds this many documents per hit asked for
#: (``limit * group_size``), so that groups other than the nearest fill up.
CANDIDATES_PER_HIT = 4
#: The first candidate list holds at least this many documents.
MIN_CANDIDATES = 50
#: When fewer than ``limit`` groups are among the candidates, values not met
#: are probed one search each if there are at most this many; else the
#: candidate list is doubled.
MAX_PROBES = 64


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A validated grouped search.

    Attributes:
        search: The search of the first candidate list (its filter, k, ef_runtime).
        field: The grouping field (``"genre"`` or a declared tag field).
        limit: How many groups at most.
        group_size: How many hits per group at most.
        fields: The stored fields the hits carry (``None``: all); the searches
            also read the grouping field's (``genres`` or ``metadata``).
    """

    search: SearchSpec
    field: str
    limit: int
    group_size: int
    fields: tuple[str, ...] | None = None


def group_spec(
    state: StoreState,
    *,
    group_by: object,
    limit: object,
    group_size: object,
    genre: str | Sequence[str] | None,
    genres_all: Sequence[str] | None,
    exclude_genres: Sequence[str] | None,
    where: Filter | None,
    ef_runtime: int | None,
    fields: Sequence[HitField] | None = None,
) -> GroupSpec:
    """Validate a grouped search's options (``DocumentStore.search_groups``).

    Raises:
        InvalidQueryError: ``group_by`` is not ``"genre"`` nor a declared tag
            field; ``limit`` or ``group_size`` is not a positive integer, or
            ``limit * group_size`` exceeds ``MAX_RESULTS``; a bad ``ef_runtime``.
        InvalidGenreError, InvalidFilterError: An invalid filter.
    """
    allowed = [name for name, kind in state.settings.fields.items() if kind == "tag"]
    if not isinstance(group_by, str) or group_by not in allowed:
        raise InvalidQueryError(
            f"group_by must be one of the tag fields {', '.join(map(repr, allowed))}, "
            f"not {group_by!r} (declare a tag field with metadata_fields={{name: 'tag'}})"
        )
    limit = validate_k(limit, "limit")
    group_size = validate_k(group_size, "group_size")
    if limit * group_size > MAX_RESULTS:
        raise InvalidQueryError(
            f"limit * group_size must be at most {MAX_RESULTS:,}, not {limit * group_size:,}"
        )
    first = min(MAX_RESULTS, max(CANDIDATES_PER_HIT * limit * group_size, MIN_CANDIDATES))
    returned = stored_fields(fields)
    # Grouping reads the group field's values from the hits: ask for them too.
    source: HitField = "genres" if group_by == GENRE_FIELD else "metadata"
    asked = None if returned is None else (*returned, source)
    spec = search.spec(
        state, k=first, offset=0, genre=genre, genres_all=genres_all,
        exclude_genres=exclude_genres, where=where, max_distance=None, text=None,
        text_mode="boost", alpha=0.7, mmr_lambda=None, fetch_k=None, ef_runtime=ef_runtime,
        fields=asked,  # type: ignore[arg-type]  # stored field names are HitField names
    )  # fmt: skip
    return GroupSpec(spec, group_by, limit, group_size, returned)


def trimmed(groups: list[Group], fields: tuple[str, ...] | None) -> list[Group]:
    """The groups with the stored fields not in ``fields`` blanked, as a lean search's."""
    if fields is None:
        return groups
    for hit in {id(h): h for g in groups for h in g.hits}.values():
        if "content" not in fields:
            hit.content = ""
        if "genres" not in fields:
            hit.genres = ()
        if "metadata" not in fields:
            hit.metadata = {}
    return groups


# -- the plan (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidates:
    """What one nearest-neighbour search returned: up to ``k`` hits, nearest first."""

    k: int
    hits: Sequence[Hit]


@dataclass(frozen=True, slots=True)
class Need:
    """What :func:`plan` needs fetched before it can answer (one round trip).

    Attributes:
        nearest: Fetch the candidate list again with this ``k``.
        values: List the grouping field's values.
        probes: For each value, fetch that group's nearest ``k``.
    """

    nearest: int | None = None
    values: bool = False
    probes: Mapping[str, int] = field(default_factory=dict)


def group_values(hit: Hit, field: str) -> tuple[str, ...]:
    """The groups a hit belongs to: its genres, or its distinct values of a tag field.

    A missing field, or a value that is neither a string nor a list of
    strings, puts the hit in no group.
    """
    if field == GENRE_FIELD:
        return hit.genres
    value = hit.metadata.get(field)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(dict.fromkeys(v for v in value if isinstance(v, str)))
    return ()


def _order(hit: Hit) -> tuple[float, str]:
    return hit.distance, hit.id


def _prefix(found: Candidates, *, cap: int) -> tuple[list[Hit], bool]:
    """The hits that are certainly the nearest, and whether they are all there are.

    A short list is complete. Of a full one, the hits at its last distance are
    dropped: others at that distance may be missing from it. A full list at
    ``cap`` is taken as it is (no more can be asked for).
    """
    hits = sorted(found.hits, key=_order)
    if len(hits) < found.k:
        return hits, True
    if found.k >= cap:
        return hits, False
    last = hits[-1].distance
    return [h for h in hits if h.distance < last], False


def _merge(first: Sequence[Hit], second: Sequence[Hit]) -> list[Hit]:
    by_id = {h.id: h for h in first}
    for h in second:
        by_id.setdefault(h.id, h)
    return sorted(by_id.values(), key=_order)


def plan(
    nearest: Candidates,
    probes: Mapping[str, Candidates],
    values: Sequence[str] | None,
    *,
    field: str,
    limit: int,
    group_size: int,
    cap: int = MAX_RESULTS,
    max_probes: int = MAX_PROBES,
) -> list[Group] | Need:
    """The groups, if what was fetched decides them; else what to fetch next.

    Args:
        nearest: The candidate list: the nearest matching documents.
        probes: Per value, the nearest matching documents of that group.
        values: The field's values (``FT.TAGVALS``), if listed.
        field: The grouping field.
        limit: How many groups at most.
        group_size: How many hits per group at most.
        cap: The largest ``k`` a search may ask for.
        max_probes: Probe at most this many values not met before doubling
            the candidate list instead (until it reaches ``cap``).

    Returns:
        Up to ``limit`` groups ordered by their nearest hit (ties: its id, then
        the value), each with up to ``group_size`` hits by ``(distance, id)``;
        or a :class:`Need`.
    """
    prefix, complete = _prefix(nearest, cap=cap)
    members: dict[str, list[Hit]] = {}
    for hit in prefix:
        for value in group_values(hit, field):
            members.setdefault(value, []).append(hit)
    settled = {value: complete or len(hits) >= group_size for value, hits in members.items()}
    need_values = False
    if not complete and len(members) < limit:
        # Other groups have their nearest members beyond the candidates.
        if values is None:
            need_values = True
        else:
            unseen = [value for value in values if value not in members]
            if len(unseen) > max_probes and nearest.k < cap:
                return Need(nearest=min(2 * nearest.k, cap))
            for value in unseen:
                members[value], settled[value] = [], False
    for value, found in probes.items():
        if value in members:
            hits, whole = _prefix(found, cap=cap)
            members[value] = _merge(members[value], hits)
            settled[value] = (
                settled[value] or whole or found.k >= cap or len(members[value]) >= group_size
            )
    unknown = [value for value, hits in members.items() if not hits and not settled[value]]
    ranked = sorted(
        (value for value, hits in members.items() if hits),
        key=lambda value: (*_order(members[value][0]), value),
    )
    chosen = ranked[:limit]
    short = [value for value in chosen if not settled[value]]
    if need_values or unknown or short:
        return Need(
            values=need_values,
            probes={
                value: min(2 * probes[value].k if value in probes else group_size + 1, cap)
                for value in [*short, *unknown]
            },
        )
    return [Group(value, members[value][:group_size]) for value in chosen]


# -- the flow ------------------------------------------------------------------------------------


def probe_expression(expression: str, field: str, value: str) -> str:
    """The filter of one group's probe: the search's filter and ``field == value``."""
    base = None if expression == "*" else Filter(expression, {})
    return render(combine(base, Tag(field) == value))


def search_groups(
    state: StoreState, query: str | VectorLike, spec: GroupSpec
) -> Flow[list[Group]]:
    """Run a grouped search: up to ``spec.limit`` groups, as :func:`plan` describes.

    Round trips (after embedding a text query): one when the candidates
    decide the groups; one more for the probes of short groups; one to list
    the field's values when fewer than ``limit`` groups are among the
    candidates (then one for their probes); one per doubling of the
    candidates; on HNSW, one or two more when a filtered list came back short
    (as :func:`~redis_docstore._ops.search.search`).
    """
    (vector,) = yield from search.query_vectors(state, [query])
    yield from ensure(state)
    base = spec.search
    if base.settings is not state.settings:  # the first use read the meta hash
        base = replace(base, settings=state.settings)
    nearest = Candidates(0, [])
    probes: dict[str, Candidates] = {}
    values: list[str] | None = None
    need = Need(nearest=base.k)
    while True:
        specs = [replace(base, k=need.nearest)] if need.nearest else []
        specs += [
            replace(base, k=k, expression=probe_expression(base.expression, spec.field, value))
            for value, k in need.probes.items()
        ]
        listing = [("FT.TAGVALS", base.settings.name, spec.field)] if need.values else []
        results, extra = yield from _fetch(state, vector, specs, listing)
        if need.nearest:
            nearest = Candidates(need.nearest, results.pop(0))
        for (value, k), hits in zip(need.probes.items(), results, strict=True):
            probes[value] = Candidates(k, hits)
        if listing:
            values = sorted(decode(v) for v in extra[0])
        outcome = plan(
            nearest, probes, values, field=spec.field, limit=spec.limit,
            group_size=spec.group_size,
        )  # fmt: skip
        if not isinstance(outcome, Need):
            return trimmed(outcome, spec.fields)
        need = outcome


def _fetch(
    state: StoreState,
    vector: VectorLike,
    specs: Sequence[SearchSpec],
    others: Sequence[tuple[Any, ...]],
) -> Flow[tuple[list[list[Hit]], list[Any]]]:
    """Run searches (and other commands) in one round trip: their hits, the others' replies.

    As the search flow, a HNSW list short of its ``k`` while more documents
    match is re-run as an exact search, so a short list is complete. The
    matches of a filtered HNSW search are counted in the same round trip (a
    probe's list is often short: its group is small), so only a list HNSW
    really cut short costs another.
    """
    name = state.settings.name
    counted = [
        i for i, s in enumerate(specs) if s.settings.algorithm == "hnsw" and s.expression != "*"
    ]
    # Counts go as RESP3, whose replies carry the warning of a partial count.
    protocol = 3 if counted or not specs else specs[0].protocol
    replies = yield Commands(
        [
            *(s.command(vector) for s in specs),
            *others,
            *(count_command(name, specs[i].expression) for i in counted),
        ],
        "searching groups",
        protocol=protocol,
    )
    results = [s.parse(reply, vector) for s, reply in zip(specs, replies, strict=False)]
    rest = len(specs) + len(others)
    totals = {i: total_results(reply) for i, reply in zip(counted, replies[rest:], strict=True)}
    short = [i for i, hits in enumerate(results) if specs[i].may_be_incomplete(hits)]
    if any(i not in totals for i in short):
        uncounted = [i for i in short if i not in totals]
        counts = yield Commands(
            [count_command(name, specs[i].expression) for i in uncounted],
            "checking completeness",
        )
        totals |= {i: total_results(r) for i, r in zip(uncounted, counts, strict=True)}
    redo = [i for i in short if len(results[i]) < min(specs[i].k, totals[i])]
    if redo:
        exact = [replace(specs[i], exact=True) for i in redo]
        again = yield Commands(
            [s.command(vector) for s in exact], "searching exactly", protocol=exact[0].protocol
        )
        for i, s, reply in zip(redo, exact, again, strict=True):
            results[i] = s.parse(reply, vector)
    return results, list(replies[len(specs) : rest])
