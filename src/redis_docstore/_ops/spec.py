"""A search, validated once and then turned into commands and hits.

``make_search_spec`` checks a search's options (``k``, paging, range, hybrid,
RRF, MMR) and returns a :class:`SearchSpec`, which builds the Redis command for
a query vector and parses the reply (an RRF search: the commands of its vector
and text rankings, and the fusion of their replies); the search flow
(:mod:`redis_docstore._ops.search`) sends them. This is the edge: the command
builders below it (:mod:`~redis_docstore._commands.search`,
:mod:`~redis_docstore._commands.hybrid`, :mod:`~redis_docstore._commands.fusion`,
:mod:`~redis_docstore._rerank`) trust what it passes them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from redis_docstore._commands.fusion import (
    DEFAULT_RRF_K,
    embedding_distances,
    rrf_fuse,
    text_ranking,
    text_search_command,
)
from redis_docstore._commands.hybrid import build_hybrid_command, query_words
from redis_docstore._commands.replies import (
    parse_hybrid_reply,
    parse_lean_reply,
    parse_search_reply,
    returned_embeddings,
    similarity,
)
from redis_docstore._commands.search import (
    FIELD_PATHS,
    MAX_RESULTS,
    knn_command,
    range_command,
    validate_k,
    validate_offset,
)
from redis_docstore._documents import HIT_FIELDS, Hit, keep_fields
from redis_docstore._effects import RespProtocol
from redis_docstore._embeddings import VectorLike
from redis_docstore._errors import InvalidQueryError
from redis_docstore._rerank import mmr
from redis_docstore._schema import IndexSettings

__all__ = ["DEFAULT_ALPHA", "SearchSpec", "TextMode", "make_search_spec", "stored_fields"]

#: The vector's weight in the linear hybrid score, unless ``alpha=`` says otherwise.
DEFAULT_ALPHA = 0.7
TextMode = Literal["boost", "require", "rrf"]
TEXT_MODES = ("boost", "require", "rrf")


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """A validated search: builds its command for a vector and parses the reply."""

    settings: IndexSettings
    expression: str
    k: int
    offset: int = 0
    max_distance: float | None = None
    text: str | None = None
    require_text: bool = False
    alpha: float = 0.7
    mmr_lambda: float | None = None
    fetch_k: int | None = None
    ef_runtime: int | None = None
    exact: bool = False
    timeout_ms: int = 0
    # An RRF search (text_mode="rrf") when set; see _commands/fusion.py.
    rrf_k: float | None = None
    rrf_weights: tuple[float, float] = (1.0, 1.0)
    #: The stored fields the hits carry (``"content"``, ``"genres"``,
    #: ``"metadata"``, in that order); ``None`` for all of them, ``()`` for ids
    #: and distances only. See :func:`stored_fields`.
    fields: tuple[str, ...] | None = None
    #: Ids and distances only, from a ``NOCONTENT WITHSORTKEYS`` reply (an
    #: MMR search reads the embeddings, a hybrid one is an ``FT.AGGREGATE``).
    #: Worked out once: :meth:`parse` runs for every query.
    lean: bool = field(init=False)

    def __post_init__(self) -> None:
        lean = self.fields == () and self.mmr_lambda is None and self.text is None
        object.__setattr__(self, "lean", lean)

    @property
    def fused(self) -> bool:
        """Whether this is an RRF search: two rankings, fused client-side."""
        return self.rrf_k is not None

    @property
    def window(self) -> int:
        """How many documents each ranking of an RRF search holds."""
        return max(self.k, self.fetch_k or self.k)

    @property
    def protocol(self) -> RespProtocol:
        """RESP2 for KNN and range searches without a time limit (``TIMEOUT 0``:
        never partial); RESP3 for those with one and for hybrid ``FT.AGGREGATE``
        searches, whose partial replies only their warnings reveal."""
        return 3 if self.text is not None or self.timeout_ms else 2

    def commands(self, vector: VectorLike) -> list[tuple[Any, ...]]:
        """Every command of the search for ``vector``: one, or for RRF its vector
        ranking and then its text ranking (:meth:`text_commands`)."""
        if self.fused:
            return [self.vector_ranking().command(vector), *self.text_commands()]
        return [self.command(vector)]

    def vector_ranking(self) -> SearchSpec:
        """An RRF search's vector ranking: a plain KNN search of ``window`` hits."""
        return replace(self, k=self.window, text=None, fetch_k=None, rrf_k=None)

    def text_commands(self) -> list[tuple[Any, ...]]:
        """An RRF search's text ranking, the same for every query vector: its
        first ``k`` documents in full, then (for a longer window) the ids of
        the whole window (see :mod:`redis_docstore._commands.fusion`)."""
        assert self.text is not None
        words = query_words(self.text)
        ranking = functools.partial(
            text_search_command, self.settings.name, words,
            filter_expression=self.expression, timeout_ms=self.timeout_ms,
        )  # fmt: skip
        commands = [ranking(limit=self.k, documents=True)]
        if self.window > self.k:
            commands.append(ranking(limit=self.window, documents=False))
        return commands

    def fuse(
        self,
        vector_hits: Sequence[Hit],
        head: Sequence[Hit],
        embeddings: Sequence[Sequence[float] | None],
        ranked_ids: Sequence[str],
        vector: VectorLike,
    ) -> list[Hit]:
        """An RRF search's hits from its vector ranking and its text ranking (the
        first documents in full with their embeddings, and the ids of all)."""
        s = self.settings
        near = {hit.id for hit in vector_hits}
        missing = [i for i, hit in enumerate(head) if hit.id not in near]
        computed = embedding_distances(
            vector, [embeddings[i] for i in missing], distance=s.distance, datatype=s.datatype
        )
        placed = list(head)
        for i, d in zip(missing, computed, strict=True):
            sim = None if math.isinf(d) else similarity(d, s.distance)
            placed[i] = replace(head[i], distance=d, similarity=sim)
        text_hits, ranks = text_ranking(placed, ranked_ids, vector_hits)
        assert self.rrf_k is not None
        fused = rrf_fuse(
            vector_hits, text_hits, k=self.k, rrf_k=self.rrf_k, weights=self.rrf_weights,
            text_ranks=ranks,
        )  # fmt: skip
        keep_fields(fused, self.fields)  # the text ranking's head is read in full
        return fused

    def command(self, vector: VectorLike) -> tuple[Any, ...]:
        """The one command of a search that is not RRF (see :meth:`commands`)."""
        assert not self.fused
        s = self.settings
        if self.text is not None:
            return tuple(
                build_hybrid_command(
                    s.name,
                    vector,
                    self.text,
                    k=self.k,
                    filter_expression=self.expression,
                    distance=s.distance,
                    alpha=self.alpha,
                    require_text=self.require_text,
                    candidates=self.fetch_k,
                    fields=self.fields,
                    datatype=s.datatype,
                )
            )
        if self.max_distance is not None:
            return range_command(
                s.name,
                vector,
                max_distance=self.max_distance,
                k=self.k,
                offset=self.offset,
                filter_expression=self.expression,
                fields=self.fields,
                datatype=s.datatype,
                hnsw=s.algorithm == "hnsw",
                timeout_ms=self.timeout_ms,
            )
        return knn_command(
            s.name,
            vector,
            k=self.k if self.fetch_k is None else self.fetch_k,
            offset=self.offset,
            filter_expression=self.expression,
            # FLAT indexes refuse EF_RUNTIME; an exact re-run needs none.
            ef_runtime=None if self.exact or s.algorithm != "hnsw" else self.ef_runtime,
            hybrid_policy="ADHOC_BF" if self.exact else None,
            with_embeddings=self.mmr_lambda is not None,
            fields=self.fields,
            datatype=s.datatype,
            timeout_ms=self.timeout_ms,
        )

    def parse(self, reply: Any, vector: VectorLike) -> list[Hit]:
        s = self.settings
        if self.text is not None:
            return parse_hybrid_reply(reply, key_prefix=s.key_prefix, distance=s.distance)
        if self.lean:
            return parse_lean_reply(reply, key_prefix=s.key_prefix, distance=s.distance)
        hits = parse_search_reply(reply, key_prefix=s.key_prefix, distance=s.distance)
        if self.mmr_lambda is None:
            return hits
        order = mmr(vector, returned_embeddings(reply), k=self.k, lambda_mult=self.mmr_lambda)
        return [hits[i] for i in order]

    def may_be_incomplete(self, hits: Sequence[Hit]) -> bool:
        """Short of k hits where HNSW may have missed matching documents.

        Never without a filter: HNSW then returns k hits whenever the index
        holds k documents; a short list means some were deleted (or expired)
        between the index's answer and the reading of their fields.
        """
        wanted = self.k if self.fetch_k is None else self.fetch_k
        return (
            not self.exact
            and self.expression != "*"
            and self.settings.algorithm == "hnsw"
            and self.max_distance is None
            and self.text is None
            and len(hits) < wanted
        )


def stored_fields(fields: object) -> tuple[str, ...] | None:
    """Check a search's ``fields=`` and reduce it to the stored fields to return.

    Args:
        fields: ``None`` (everything), or names from :data:`~redis_docstore._documents.HitField`
            in any order, repeats allowed. ``"id"`` and ``"distance"`` are
            always returned, so naming them changes nothing; an empty list
            asks for them alone.

    Returns:
        ``None`` when every stored field is asked for (the default reply),
        otherwise the stored fields asked for in the order of
        :data:`~redis_docstore._commands.search.FIELD_PATHS` (``()``: none).

    Raises:
        InvalidQueryError: ``fields`` is a string or not a collection of
            names, or names something a hit does not have.
    """
    if fields is None:
        return None
    allowed = ", ".join(repr(name) for name in HIT_FIELDS)
    if isinstance(fields, str | bytes) or not isinstance(fields, Iterable):
        raise InvalidQueryError(
            f"fields must be a list of names ({allowed}), not {type(fields).__name__}"
        )
    names = list(fields)
    for name in names:
        if not isinstance(name, str) or name not in HIT_FIELDS:
            raise InvalidQueryError(f"unknown field {name!r} in fields=; the fields are {allowed}")
    stored = tuple(name for name in FIELD_PATHS if name in names)
    return None if len(stored) == len(FIELD_PATHS) else stored


def make_search_spec(
    settings: IndexSettings,
    *,
    expression: str,
    default_ef_runtime: int | None,
    timeout_ms: int = 0,
    k: int,
    offset: int,
    max_distance: float | None,
    text: str | None,
    text_mode: TextMode,
    alpha: float,
    mmr_lambda: float | None,
    fetch_k: int | None,
    ef_runtime: int | None,
    fields: object = None,
    rrf_k: float | None = None,
    rrf_weights: Sequence[float] | None = None,
) -> SearchSpec:
    """Validate a search's options and bundle them.

    Args:
        settings: The index settings.
        expression: The rendered filter (``"*"`` for none).
        default_ef_runtime: The store's ``ef_runtime``.
        timeout_ms: The store's query time limit in ms (0: none).
        k, offset, max_distance, text, text_mode, alpha, mmr_lambda, fetch_k,
        ef_runtime, rrf_k, rrf_weights, fields: As for ``DocumentStore.search``
            (``fields`` as :func:`stored_fields` checks it).

    Returns:
        The spec.

    Raises:
        InvalidQueryError: An invalid option or combination of options. This is
            the only check: the command builders trust the spec.
    """
    validate_k(k, limit=MAX_RESULTS)
    validate_offset(offset)
    returned = stored_fields(fields)
    if offset + k > MAX_RESULTS:
        raise InvalidQueryError(
            f"offset + k must be at most {MAX_RESULTS:,}, not {offset + k:,} "
            "(page with a filter or max_distance instead)"
        )
    if ef_runtime is not None:
        validate_k(ef_runtime, "ef_runtime")
    if max_distance is not None and (
        isinstance(max_distance, bool)
        or not isinstance(max_distance, int | float)
        or not max_distance >= 0
    ):
        raise InvalidQueryError(f"max_distance must be a number >= 0, not {max_distance!r}")
    if text_mode not in TEXT_MODES:
        raise InvalidQueryError(
            f"text_mode must be 'boost', 'require' or 'rrf', not {text_mode!r}"
        )
    fusion = _fusion(text_mode, text, alpha, rrf_k, rrf_weights)
    modes = [
        name
        for name, used in (
            ("max_distance", max_distance is not None),
            ("text", text is not None),
            ("mmr_lambda", mmr_lambda is not None),
        )
        if used
    ]
    if len(modes) > 1:
        raise InvalidQueryError(f"{' and '.join(modes)} cannot be combined in one search")
    if text is not None and offset:
        raise InvalidQueryError("offset is not supported with a text (hybrid) search")
    # alpha weighs a hybrid search; without text= only a given value is checked.
    if (alpha is not None or text is not None) and not (
        isinstance(alpha, int | float) and not isinstance(alpha, bool) and 0 <= alpha <= 1
    ):
        raise InvalidQueryError(f"alpha must be a number in [0, 1], not {alpha!r}")
    if text is not None:
        fetch_k = (
            min(max(4 * k, 40), MAX_RESULTS)
            if fetch_k is None
            else validate_k(fetch_k, "fetch_k", limit=MAX_RESULTS)
        )
    if mmr_lambda is not None:
        if isinstance(mmr_lambda, bool) or not (
            isinstance(mmr_lambda, int | float) and 0 <= mmr_lambda <= 1
        ):
            raise InvalidQueryError(f"mmr_lambda must be in [0, 1], not {mmr_lambda!r}")
        if offset:
            raise InvalidQueryError("offset is not supported with MMR re-ranking")
        fetch_k = (
            min(max(4 * k, 20), MAX_RESULTS)
            if fetch_k is None
            else validate_k(fetch_k, "fetch_k", limit=MAX_RESULTS)
        )
        if fetch_k < k:
            raise InvalidQueryError(f"fetch_k ({fetch_k}) must be >= k ({k})")
    if fetch_k is not None and text is None and mmr_lambda is None:
        raise InvalidQueryError("fetch_k applies to text= (hybrid) and mmr_lambda= searches")
    spec = SearchSpec(
        settings=settings,
        expression=expression,
        k=k,
        offset=offset,
        max_distance=None if max_distance is None else float(max_distance),
        text=text,
        require_text=text_mode == "require",
        alpha=alpha,
        mmr_lambda=mmr_lambda,
        fetch_k=fetch_k,
        ef_runtime=default_ef_runtime if ef_runtime is None else ef_runtime,
        timeout_ms=timeout_ms,
        fields=returned,
        **fusion,
    )
    if text is not None:
        query_words(text)  # rejects empty or stopword-only text now, not per command
    return spec


def _number(value: object) -> float | None:
    """``value`` as a float if it is a finite int or float (not a bool), else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _fusion(
    text_mode: str, text: str | None, alpha: float, rrf_k: object, rrf_weights: object
) -> dict[str, Any]:
    """The RRF fields of a spec (none unless ``text_mode="rrf"``), checked."""
    if text_mode != "rrf":
        if rrf_k is not None or rrf_weights is not None:
            raise InvalidQueryError("rrf_k and rrf_weights apply to text_mode='rrf'")
        return {}
    if text is None:
        raise InvalidQueryError("text_mode='rrf' needs text= (the words of the text ranking)")
    if alpha != DEFAULT_ALPHA:
        raise InvalidQueryError(
            "alpha weighs the linear hybrid score; text_mode='rrf' weighs its "
            "rankings with rrf_weights=(vector, text)"
        )
    constant = _number(DEFAULT_RRF_K if rrf_k is None else rrf_k)
    if constant is None or constant <= 0:
        raise InvalidQueryError(f"rrf_k must be a number > 0, not {rrf_k!r}")
    weights = (
        [1.0, 1.0]
        if rrf_weights is None
        else [_number(w) for w in rrf_weights]
        if isinstance(rrf_weights, list | tuple)
        else []
    )
    if len(weights) != 2 or not all(w is not None and w >= 0 for w in weights) or not any(weights):
        raise InvalidQueryError(
            f"rrf_weights must be two numbers >= 0 (vector, text), not both 0; not {rrf_weights!r}"
        )
    return {"rrf_k": constant, "rrf_weights": tuple(weights)}
