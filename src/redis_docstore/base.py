"""What the sync and the async store share: every operation, written once.

Each operation is a flow (see :mod:`redis_docstore.effects`): it validates, yields
effects, and returns the result; the stores only perform the effects. Search
options are checked in :mod:`redis_docstore.search`, model migration lives in
:mod:`redis_docstore.migration`.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from redis_docstore import reads
from redis_docstore.conditions import genre_filters
from redis_docstore.connection import is_missing_index, translate
from redis_docstore.documents import (
    Document,
    Hit,
    Record,
    parse_document,
    prepare_documents,
    prepare_update,
    validate_id,
    vector_json,
)
from redis_docstore.effects import (
    Commands,
    CreateIndex,
    Embed,
    Flow,
    ScanDelete,
    Sleep,
)
from redis_docstore.embeddings import (
    DefaultEmbedder,
    Embedder,
    Vector,
    VectorLike,
    validate_vector,
)
from redis_docstore.errors import (
    DocumentNotFoundError,
    IndexNotReadyError,
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidQueryError,
    SchemaMismatchError,
    StoreError,
    UnsafeEvictionError,
    ValidationError,
)
from redis_docstore.filters import FieldKind, Filter, check_fields, combine, render
from redis_docstore.migration import decode, embedder_name, meta_fields, meta_key, reembed_flow
from redis_docstore.query import (
    count_command,
    indexed_keys_command,
    render_command,
    result_keys,
    search_ids_command,
    total_results,
    validate_k,
)
from redis_docstore.schema import (
    ID_SCHEMES,
    Algorithm,
    DataType,
    Distance,
    IndexSettings,
    existing_shape,
    expected_shape,
    indexing_complete,
    indexing_progress,
    schema_differences,
)
from redis_docstore.search import SearchSpec, TextMode, make_search_spec
from redis_docstore.writes import (
    LoadReport,
    check_guard,
    guard_command,
    indexing_error_flow,
    load_flow,
    unindexed_flow,
)

__all__ = ["LoadReport", "StoreBase", "default_embedder"]

logger = logging.getLogger("redis_docstore")

# HNSW search breadth of every query unless told otherwise. Redis' own default
# (10) gave recall@10 of 0.64 on 100k clustered documents. Real text is harder:
# on 38k short texts (python -m bench.recall_text) EF 100 gave mean recall@10
# 0.991 with queries at 0.7, EF 200 0.997 (worst 0.8), EF 400 0.9997 (worst
# 0.9), for p50 1.2 / 1.5 / 2.6 ms; 400 is the smallest that holds mean >= 0.995
# with no query below 0.9 (README, "Recall on real text").
DEFAULT_EF_RUNTIME = 400
CACHE_SIZE = 256  # rendered filters and search specs kept per store
EMBEDDING_CACHE_SIZE = 4096  # (model, text) -> vector, about 12 MB at 384 dims
RETRY_FIRST_DELAY = 0.05  # seconds before resending after a connection error
RETRY_MAX_DELAY = 1.0  # ... doubling up to this
# Policies that may evict keys without a TTL, i.e. documents.
UNSAFE_EVICTION = frozenset({"allkeys-lru", "allkeys-lfu", "allkeys-random"})
DELETE_BATCH = 1000  # keys per delete-by-filter round


class StoreBase:
    """Settings, validation and every operation's flow; no I/O.

    See :class:`~redis_docstore.store.DocumentStore` for the arguments.
    """

    def __init__(
        self,
        *,
        index: str = "docstore",
        prefix: str | None = None,
        distance: Distance = "l2",
        algorithm: Algorithm = "hnsw",
        embedder: Embedder | None = None,
        metadata_fields: Mapping[str, FieldKind] | None = None,
        datatype: DataType = "float32",
        ef_runtime: int | None = DEFAULT_EF_RUNTIME,
        overwrite: bool = False,
        index_timeout: float = 300.0,
        retry_timeout: float = 10.0,
        allow_eviction: bool = False,
        query_timeout: float | None = None,
    ) -> None:
        self.embedder: Embedder = embedder if embedder is not None else default_embedder()
        self.settings = IndexSettings(
            name=index,
            prefix=(index if prefix is None else prefix.removesuffix(":")),
            dims=self.embedder.dims,
            distance=distance,
            algorithm=algorithm,
            metadata_fields=tuple((metadata_fields or {}).items()),
            datatype=datatype,
        )
        if ef_runtime is not None:
            validate_k(ef_runtime, "ef_runtime")
        self.ef_runtime = ef_runtime
        if query_timeout is not None and (
            isinstance(query_timeout, bool)
            or not isinstance(query_timeout, int | float)
            or not 0 < query_timeout < 86_400
        ):
            raise ValidationError(
                f"query_timeout must be a number of seconds > 0, or None, not {query_timeout!r}"
            )
        #: Server-side time limit of vector searches, in ms (0: none).
        self.query_timeout_ms = 0 if query_timeout is None else max(1, round(query_timeout * 1000))
        self.overwrite = overwrite
        self.index_timeout = index_timeout
        self.retry_timeout = retry_timeout
        #: Each generation's model, by generation number (see reembed).
        self._embedders: dict[int, Embedder] = {1: self.embedder}
        #: How many (model, text) embeddings to keep; 0 turns the cache off.
        self.embedding_cache_size = EMBEDDING_CACHE_SIZE
        self._filter_cache: dict[Any, str] = {}
        self._spec_cache: dict[Any, SearchSpec] = {}
        self._embedding_cache: OrderedDict[tuple[str, str], Vector] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.allow_eviction = allow_eviction
        self._recovering = False
        # The prefix the user gave; documents of a re-embedded generation live
        # under "<base>.v<n>:" (see reembed), recorded in the meta hash.
        self._base_prefix = self.settings.prefix
        self._ready = False

    # -- index lifecycle ---------------------------------------------------------

    def _create_flow(self, overwrite: bool | None = None) -> Flow[None]:
        overwrite = self.overwrite if overwrite is None else overwrite
        s = self.settings
        meta_reply, info, policy = yield Commands(
            [
                ("HGETALL", meta_key(self._base_prefix)),
                ("FT.INFO", s.name),
                ("CONFIG", "GET", "maxmemory-policy"),
            ],
            f"opening index {s.name!r}",
            allow_errors=True,
        )
        self._check_eviction(policy)
        if isinstance(meta_reply, Exception):
            raise translate(meta_reply, f"reading the meta data of {s.name!r}")
        meta = {decode(k): decode(v) for k, v in (meta_reply or {}).items()}
        if meta.get("prefix") and meta["prefix"] != s.prefix:
            self.settings = s = replace(s, prefix=meta["prefix"], generation=True)
        # A store keeps the id scheme it was created with; one that records
        # none predates "content+genres" and hashed the content alone.
        scheme = meta.get("id_scheme") or ("content" if meta else s.id_scheme)
        if scheme not in ID_SCHEMES:
            raise SchemaMismatchError(s.name, [f"unknown id scheme {scheme!r} in its meta hash"])
        if scheme != s.id_scheme:
            self.settings = s = replace(s, id_scheme=scheme)
        epoch = int(meta.get("generation", 1))
        if epoch != s.epoch:
            self._embedders[epoch] = self.embedder
            self.settings = s = replace(s, epoch=epoch)
        if isinstance(info, Exception):
            if not is_missing_index(info):
                raise translate(info, f"reading index {s.name!r}")
            info = None
        differences = []
        if meta.get("embedder") and meta["embedder"] != embedder_name(self.embedder):
            differences.append(
                f"embedder: expected {embedder_name(self.embedder)!r}, "
                f"found {meta['embedder']!r} (use reembed() to change models)"
            )
        if info is not None:
            differences += schema_differences(expected_shape(s), existing_shape(info))
        if differences and not overwrite:
            raise SchemaMismatchError(s.name, differences)
        if info is None or differences:
            try:
                yield CreateIndex(s, overwrite=info is not None)
            except StoreError as exc:
                if info is not None or "already exists" not in str(exc).lower():
                    raise
                # Another client created it between our FT.INFO and FT.CREATE:
                # check that one as if it had been there all along.
                yield from self._create_flow(overwrite)
                return
        if not meta or differences:
            yield Commands(
                [
                    (
                        "HSET",
                        meta_key(self._base_prefix),
                        *meta_fields(self.embedder, s, generation=1),
                    )
                ],
                "recording the index's embedder",
            )
        yield from self._wait_indexed_flow(s.name)
        self._ready = True

    def _check_eviction(self, reply: Any) -> None:
        if isinstance(reply, Exception):
            return  # CONFIG is often denied to application users: nothing to check
        policy = decode(next(iter(reply.values()), "")) if isinstance(reply, dict) else ""
        if policy not in UNSAFE_EVICTION:
            return
        message = (
            f"the server's maxmemory-policy is {policy!r}: when memory runs out Redis "
            "deletes documents silently. Use 'noeviction' (writes then fail loudly) "
            "or a volatile-* policy"
        )
        if not self.allow_eviction:
            raise UnsafeEvictionError(message + ", or pass allow_eviction=True.")
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        logger.warning(message)

    def _wait_indexed_flow(self, index: str) -> Flow[None]:
        # A new index over existing keys (or one rebuilt after a restart)
        # fills in the background; until it is done, searches would return
        # partial results as if they were complete.
        waited = 0.0
        while True:
            (info,) = yield Commands([("FT.INFO", index)], f"reading index {index!r}")
            if indexing_complete(info):
                return
            if waited > self.index_timeout:
                raise IndexNotReadyError(
                    f"index {index!r} is still indexing existing documents after "
                    f"{self.index_timeout:g} s ({indexing_progress(info):.0%} done)"
                )
            yield Sleep(0.05)
            waited += 0.05

    def _ensure_flow(self) -> Flow[None]:
        if not self._ready:
            yield from self._create_flow()

    def _drop_flow(self, *, delete_documents: bool) -> Flow[None]:
        if not isinstance(delete_documents, bool):
            raise ValidationError("drop() needs delete_documents=True or False, explicitly")
        s = self.settings
        (info,) = yield Commands([("FT.INFO", s.name)], "dropping the index", allow_errors=True)
        if isinstance(info, Exception):
            if not is_missing_index(info):
                raise translate(info, f"dropping index {s.name!r}")
        else:
            physical = decode(info.get("index_name", s.name))
            commands: list[tuple[Any, ...]] = [("FT.DROPINDEX", physical)]
            if physical != s.name:
                commands.insert(0, ("FT.ALIASDEL", s.name))
            yield Commands(commands, f"dropping index {s.name!r}", transaction=True)
        if delete_documents:
            yield ScanDelete(s.key_prefix + "*")
            yield Commands([("UNLINK", meta_key(self._base_prefix))], "deleting meta data")
            self.settings = replace(s, prefix=self._base_prefix, generation=False)
        self._ready = False

    # -- writes ------------------------------------------------------------------

    def _records(
        self, documents: Iterable[Document] | Document, settings: IndexSettings | None = None
    ) -> list[Record]:
        if isinstance(documents, Document):
            documents = [documents]
        s = self.settings if settings is None else settings
        return prepare_documents(
            documents,
            dims=s.dims,
            distance=s.distance,
            metadata_fields=dict(s.metadata_fields),
            id_scheme=s.id_scheme,
        )

    def _embed_flow(
        self, texts: Sequence[str], settings: IndexSettings | None = None
    ) -> Flow[list[Vector]]:
        """Embed texts, each distinct text once, through an LRU cache.

        The cache is keyed by (model name, text), so a repeated query or a
        re-added document costs no model work.

        Args:
            texts: The texts.
            settings: The settings (generation) the vectors are for, as a write
                captured them; the store's current ones by default. The model is
                that generation's, so a reembed switching meanwhile never pairs
                one model's vectors with the other's index.
        """
        if not texts:
            return []
        s = self.settings if settings is None else settings
        embedder = self._embedders.get(s.epoch, self.embedder)
        model = embedder_name(embedder)
        cache = self._embedding_cache
        with self._cache_lock:  # threads share the store, and its cache
            found = {t: v for t in texts if (v := cache.get((model, t))) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = yield Embed(missing, embedder)
            if len(vectors) != len(missing):
                raise InvalidEmbeddingError(
                    f"the embedder returned {len(vectors)} vectors for {len(missing)} texts"
                )
            for text, vector in zip(missing, vectors, strict=True):
                found[text] = validate_vector(vector, dims=s.dims, distance=s.distance)
        with self._cache_lock:
            for text in found:
                cache[(model, text)] = found[text]
                cache.move_to_end((model, text))
            while len(cache) > self.embedding_cache_size:
                cache.popitem(last=False)
        return [found[t] for t in texts]

    def _load_flow(
        self, documents: Iterable[Document] | Document, *, skip_unchanged: bool
    ) -> Flow[LoadReport]:
        return (yield from load_flow(self, documents, skip_unchanged=skip_unchanged))

    def _update_flow(
        self,
        doc_id: str,
        *,
        content: str | None,
        genre: str | Sequence[str] | None,
        metadata: Mapping[str, Any] | None,
    ) -> Flow[Document]:
        """Change the given fields only, in one MULTI/EXEC of path-level writes.

        Two clients updating different fields of one document never erase
        each other's change; new content is embedded again, the same content
        is not (its stored value is read first).
        """
        validate_id(doc_id)
        new_content, genres, new_metadata = prepare_update(
            content, genre, metadata, metadata_fields=dict(self.settings.metadata_fields)
        )
        yield from self._ensure_flow()  # first: a re-embedded store's keys are its generation's
        s = self.settings
        key = s.key(doc_id)
        writes: list[tuple[Any, ...]] = []
        if new_content is not None:
            stored, guard = yield Commands(
                [("JSON.GET", key, "$.content"), guard_command(self)],
                f"reading document {doc_id!r}",
            )
            if stored is None:
                check_guard(s, guard, [doc_id])  # not found in a generation left behind?
                raise DocumentNotFoundError(doc_id)
            if orjson.loads(stored) != [new_content]:
                (vector,) = yield from self._embed_flow([new_content], s)
                writes.append(("JSON.SET", key, "$.content", orjson.dumps(new_content)))
                writes.append(("JSON.SET", key, "$.embedding", vector_json(vector)))
        if genres is not None:
            writes.append(("JSON.SET", key, "$.genre", orjson.dumps(list(genres))))
        if new_metadata is not None:
            writes.append(("JSON.SET", key, "$.metadata", orjson.dumps(new_metadata)))
        # A path write to a missing key is an error reply, never a new document;
        # the transaction then reads the document back and checks it is indexed.
        *replies, raw, check, guard = yield Commands(
            [*writes, ("JSON.GET", key), indexed_keys_command(s.name, [key]), guard_command(self)],
            f"updating {doc_id!r}",
            transaction=True,
            allow_errors=True,
        )
        check_guard(s, guard, [doc_id])
        if raw is None:
            raise DocumentNotFoundError(doc_id)
        for reply in (*replies, raw, check):
            if isinstance(reply, Exception):
                raise translate(reply, f"updating {doc_id!r}")
        if key not in result_keys(check) and (yield from unindexed_flow(self, [doc_id])):
            raise (yield from indexing_error_flow(self, [doc_id]))
        stored = parse_document(doc_id, raw)
        return replace(stored, genre=list(stored.genres))  # always a list, as given back

    def _delete_ids_flow(self, ids: Iterable[str] | str) -> Flow[int]:
        if isinstance(ids, str):
            ids = [ids]
        ids = [validate_id(i) for i in ids]
        if not ids:
            return 0
        yield from self._ensure_flow()  # a re-embedded store's keys are under its generation
        s = self.settings
        deleted, guard = yield Commands(
            [("UNLINK", *map(s.key, ids)), guard_command(self)], "deleting documents"
        )
        check_guard(s, guard, ids)
        return int(deleted)

    def _delete_where_flow(self, where: Filter) -> Flow[int]:
        expression = self._filter_expression(where=where)
        yield from self._ensure_flow()
        total = 0
        while True:
            s = self.settings
            (reply,) = yield Commands(
                [search_ids_command(s.name, expression, limit=DELETE_BATCH)],
                "finding documents to delete",
            )
            keys = result_keys(reply)
            if not keys:
                return total
            deleted, guard = yield Commands(
                [("UNLINK", *keys), guard_command(self)], "deleting documents"
            )
            check_guard(s, guard, [k.removeprefix(s.key_prefix) for k in keys])
            total += int(deleted)

    # -- filters -----------------------------------------------------------------

    def _filter_expression(
        self,
        *,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> str:
        # Rendering and escaping cost more than the search's own round trip
        # would allow; the same filters come back again and again.
        key = (_frozen(genre), _frozen(genres_all), _frozen(exclude_genres), where)
        cached, key = _lookup(self._filter_cache, key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        expression = self._render_filters(genre, genres_all, exclude_genres, where)
        _keep(self._filter_cache, key, expression)
        return expression

    def _render_filters(
        self,
        genre: str | Sequence[str] | None,
        genres_all: Sequence[str] | None,
        exclude_genres: Sequence[str] | None,
        where: Filter | None,
    ) -> str:
        if where is not None:
            if not isinstance(where, Filter):
                raise InvalidFilterError(
                    f"where must be a Filter (from Tag, Num or Text), not {type(where).__name__}"
                )
            check_fields(where, self.settings.fields)
        return render(
            combine(
                genre_filters(genre=genre, genres_all=genres_all, exclude_genres=exclude_genres),
                where,
            )
        )

    # -- reads (flows in reads.py) ---------------------------------------------

    def _get_flow(self, doc_id: str) -> Flow[Document | None]:
        return (yield from reads.get_flow(self, doc_id))

    def _count_flow(self, expression: str) -> Flow[int]:
        return (yield from reads.count_flow(self, expression))

    def _genres_flow(self, expression: str) -> Flow[dict[str, int]]:
        return (yield from reads.genres_flow(self, expression))

    def _list_flow(self, expression: str, *, offset: int, limit: int) -> Flow[list[Document]]:
        return (yield from reads.list_flow(self, expression, offset=offset, limit=limit))

    def _cursor_flow(
        self, expression: str, *, batch_size: int, cursor: int | None
    ) -> Flow[tuple[list[Document], int]]:
        """One page of a whole-index read: (documents, next cursor or 0)."""
        return (
            yield from reads.cursor_flow(self, expression, batch_size=batch_size, cursor=cursor)
        )

    def _info_flow(self) -> Flow[dict[str, Any]]:
        return (yield from reads.info_flow(self))

    # -- search ------------------------------------------------------------------

    def _search_spec(
        self,
        *,
        genre: str | Sequence[str] | None,
        genres_all: Sequence[str] | None,
        exclude_genres: Sequence[str] | None,
        where: Filter | None,
        **options: Any,
    ) -> SearchSpec:
        # A search's own client time is tens of microseconds: checking its
        # options again for each of a service's repeated search shapes shows.
        # The types too: k=True must fail even when k=1 (True == 1) is cached.
        key: Any = (
            _frozen(genre), _frozen(genres_all), _frozen(exclude_genres), where,
            self.ef_runtime, *options.items(), *map(type, options.values()),
        )  # fmt: skip
        cached, key = _lookup(self._spec_cache, key)
        if cached is not None and cached.settings is self.settings:
            return cached  # type: ignore[no-any-return]
        expression = self._filter_expression(
            genre=genre, genres_all=genres_all, exclude_genres=exclude_genres, where=where
        )
        spec = make_search_spec(
            self.settings,
            expression=expression,
            default_ef_runtime=self.ef_runtime,
            timeout_ms=self.query_timeout_ms,
            **options,
        )
        _keep(self._spec_cache, key, spec)
        return spec

    def _query_vectors_flow(self, queries: Sequence[str | VectorLike]) -> Flow[list[Vector]]:
        s = self.settings
        texts = []
        for query in queries:
            if isinstance(query, str):
                if not query.strip():
                    raise InvalidQueryError("the query text is empty")
                texts.append(query)
        computed = iter((yield from self._embed_flow(texts)))
        return [
            next(computed)
            if isinstance(q, str)
            else validate_vector(q, dims=s.dims, distance=s.distance)
            for q in queries
        ]

    def _search_flow(
        self, queries: Sequence[str | Sequence[float]], spec: SearchSpec
    ) -> Flow[list[list[Hit]]]:
        vectors = yield from self._query_vectors_flow(queries)
        yield from self._ensure_flow()
        if spec.settings is not self.settings:  # the first use read the meta hash
            spec = replace(spec, settings=self.settings)
        replies = yield Commands(
            [spec.command(v) for v in vectors], "searching", protocol=spec.protocol
        )
        results = [spec.parse(reply, v) for reply, v in zip(replies, vectors, strict=True)]
        short = [i for i, hits in enumerate(results) if spec.may_be_incomplete(hits)]
        if short:
            # HNSW with a selective filter can return fewer than k hits while
            # more documents match; never return that as complete: count the
            # matches and redo those queries as exact searches if needed.
            (reply,) = yield Commands(
                [count_command(self.settings.name, spec.expression)], "checking completeness"
            )
            expected = min(spec.k, max(total_results(reply) - spec.offset, 0))
            redo = [i for i in short if len(results[i]) < expected]
            if redo:
                exact = replace(spec, exact=True)
                replies = yield Commands(
                    [exact.command(vectors[i]) for i in redo],
                    "searching exactly",
                    protocol=exact.protocol,
                )
                for i, reply in zip(redo, replies, strict=True):
                    results[i] = exact.parse(reply, vectors[i])
        return results

    def explain(
        self,
        query: str | Sequence[float],
        *,
        k: int = 10,
        offset: int = 0,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        max_distance: float | None = None,
        text: str | None = None,
        text_mode: TextMode = "boost",
        alpha: float = 0.7,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        ef_runtime: int | None = None,
    ) -> str:
        """The exact command :meth:`search` sends, with its escaping, as one line.

        Nothing is sent and no model runs; the query vector shows as
        ``<n bytes>``.

        Returns:
            E.g. ``FT.SEARCH docstore "(@genre:{sci\\-fi})=>[KNN 10 ...]" ...``.
        """
        spec = self._search_spec(
            k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime,
        )  # fmt: skip
        if isinstance(query, str):
            if not query.strip():
                raise InvalidQueryError("the query text is empty")
            vector: Vector = np.ones(self.settings.dims)  # shown as <n bytes>; no model work
        else:
            vector = validate_vector(
                query, dims=self.settings.dims, distance=self.settings.distance
            )
        return render_command(spec.command(vector))

    def _reembed_flow(self, embedder: Embedder, *, batch_size: int) -> Flow[int]:
        return reembed_flow(self, embedder, batch_size=batch_size)


def _lookup(cache: dict[Any, Any], key: Any) -> tuple[Any, Any]:
    """``(cache.get(key), key)``; ``(None, None)`` for an unhashable key (never cached)."""
    try:
        return cache.get(key), key
    except TypeError:
        return None, None


def _keep(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Cache ``value`` unless ``key`` is ``None``; a full cache starts over."""
    if key is None:
        return
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[key] = value


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a filter argument (lists become tuples)."""
    return tuple(value) if isinstance(value, list) else value


@functools.cache
def default_embedder() -> DefaultEmbedder:
    """The process-wide default embedder, so the model loads once per process."""
    return DefaultEmbedder()
