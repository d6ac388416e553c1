"""Model-checked behaviour: random operation sequences against a brute-force in-memory model.

A hypothesis state machine adds, upserts, loads, deletes, updates and searches documents
in a ``DocumentStore`` and restarts (or kills and restarts) its private, persistent Redis
Stack, while a plain dict of expected documents follows along. After every step the
store must hold exactly the model (count, counts per genre, every document by
``get`` and by ``iter_documents``, no duplicates); every search must return what a
brute-force numpy search of the model returns: hits that satisfy the filter, ascending
squared-L2 distances equal to numpy's, exactly the top k for FLAT (up to ties), a mean
recall@k of at least 0.95 for HNSW, and never fewer than ``min(k, matching documents)``
hits.

The embedder is a deterministic hash of the text (8 dims), so the model computes the
same vectors without a model; documents may also bring their own embeddings. Runs are
derandomized (the same sequences every time) and not shrunk: shrinking replays server
operations for minutes, while the unshrunk failing sequence is printed and reproducible.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from redis_docstore import (
    Document,
    DocumentNotFoundError,
    DocumentStore,
    ValidationError,
)
from redis_docstore._documents import Hit, default_id
from redis_docstore._filters.conditions import Num, Tag
from redis_docstore._filters.expression import Filter
from redis_docstore._server import EmbeddedServer
from redis_docstore.testing import StoreNames, cleanup_store, new_store_names

pytestmark = pytest.mark.slow

DIMS = 8
ID_POOL = [f"d{i}" for i in range(31)]
BULK_IDS = [f"b{i}" for i in range(300)]
# get() is checked on a rotating sample of these after every step.
GET_POOL = ID_POOL + BULK_IDS[:12]
GENRES = ["sci-fi", "sci", "a b", "x|y", "drama, comedy", "drama", "comedy", "日本語"]
AUTHORS = ["ann", "Bob Lee", "o'neil", "x|y", "日本"]
CONTENTS = [
    "a happy dog",
    "a sad cat",
    "robots in space",
    "drama on the high seas",
    "sci-fi: time travel",
    "日本語のテキスト",
    "the quick brown fox",
    "x|y {z} @genre:(a)",
]
DISTANCE_TOL = 1e-5  # absolute, or relative above 1: float32 arithmetic on the server
GET_SAMPLE = 6  # pool ids read back with get() after each step (rotating)
MIN_RECALL = 0.95
MAX_RESTARTS = 3  # per example: each costs a server restart and an index rebuild


def hash_vector(text: str) -> list[float]:
    """A fixed pseudo-random vector in [-1, 1)^8 for a text (the test's 'model')."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).uniform(-1.0, 1.0, DIMS).tolist()  # type: ignore[no-any-return]


class HashEmbedder:
    """A deterministic embedder: no model, same vectors in the store and in the model."""

    name = "model-checked-hash-8"
    dims = DIMS

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [hash_vector(t) for t in texts]


EMBEDDER = HashEmbedder()


@dataclass(frozen=True, eq=False)
class Expected:
    """The model's view of one stored document."""

    content: str
    genres: tuple[str, ...]
    metadata: dict[str, Any]
    vector: np.ndarray  # float32, as the index holds it

    def same(self, other: Expected) -> bool:
        return (self.content, self.genres, self.metadata) == (
            other.content,
            other.genres,
            other.metadata,
        ) and np.array_equal(self.vector, other.vector)


@dataclass(frozen=True)
class Query:
    """A search's filters, as given to the store and as a predicate for the model."""

    genre: str | list[str] | None = None
    genres_all: list[str] | None = None
    exclude_genres: list[str] | None = None
    year_min: int | float | None = None
    author: str | None = None

    def where(self) -> Filter | None:
        parts: list[Filter] = []
        if self.year_min is not None:
            parts.append(Num("year") >= self.year_min)
        if self.author is not None:
            parts.append(Tag("author") == self.author)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else parts[0] & parts[1]

    def matches(self, genres: Sequence[str], metadata: dict[str, Any]) -> bool:
        have = set(genres)
        if self.genre is not None:
            wanted = {self.genre} if isinstance(self.genre, str) else set(self.genre)
            if not have & wanted:
                return False
        if self.genres_all is not None and not set(self.genres_all) <= have:
            return False
        if self.exclude_genres is not None and have & set(self.exclude_genres):
            return False
        if self.year_min is not None:
            year = metadata.get("year")
            if not isinstance(year, int | float) or not year >= self.year_min:
                return False
        return self.author is None or metadata.get("author") == self.author


def genre_tuple(genre: str | Sequence[str]) -> tuple[str, ...]:
    """Genres as the store keeps them: first-seen order, duplicates dropped."""
    return (genre,) if isinstance(genre, str) else tuple(dict.fromkeys(genre))


def squared_l2(a: np.ndarray, b: np.ndarray) -> float:
    """Squared Euclidean distance of two float32 vectors, computed in float64."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    return float(diff @ diff)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= DISTANCE_TOL * max(1.0, abs(b))


def as_float32(values: Sequence[float] | None) -> np.ndarray:
    assert values is not None
    return np.asarray(values, dtype=np.float64).astype(np.float32)


# -- strategies ---------------------------------------------------------------------------------

coordinates = st.floats(-1.0, 1.0, width=32)
vectors = st.lists(coordinates, min_size=DIMS, max_size=DIMS)
contents = st.one_of(
    st.sampled_from(CONTENTS),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12).filter(
        lambda s: bool(s.strip())
    ),
)
genre_lists = st.lists(st.sampled_from(GENRES), min_size=1, max_size=3)
genre_values = st.one_of(st.sampled_from(GENRES), genre_lists)
# Floats with up to 10 significant digits: RedisJSON 2.8 parses some 17-digit
# doubles to a neighbouring value (see test_store.py), which a model could
# only mirror by re-implementing its parser.
years = st.one_of(st.integers(1990, 2010), st.floats(1990.0, 2010.0).map(lambda x: round(x, 6)))
metadata_values = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"author": st.sampled_from(AUTHORS)},
        optional={"year": years, "note": st.text(max_size=5), "n": st.integers(-5, 5)},
    ),
)
# Mostly ids from a small pool (upserts, collisions); sometimes none (a content hash).
ids = st.sampled_from([*ID_POOL, None, None, None])
documents = st.builds(
    Document,
    content=contents,
    genre=genre_values,
    id=ids,
    embedding=st.one_of(st.none(), vectors),
    metadata=metadata_values,
)
batches = st.lists(documents, min_size=1, max_size=20)


# Ways to make a document invalid; ``add`` must refuse the whole batch and write nothing.
INVALID_CHANGES: dict[str, dict[str, Any]] = {
    "empty content": {"content": ""},
    "blank content": {"content": " \t "},
    "short embedding": {"embedding": [0.5] * (DIMS - 1)},
    "long embedding": {"embedding": [0.5] * (DIMS + 1)},
    "NaN embedding": {"embedding": [0.5] * (DIMS - 1) + [math.nan]},
    "infinite embedding": {"embedding": [math.inf] + [0.5] * (DIMS - 1)},
    "empty genre": {"genre": ""},
    "no genres": {"genre": []},
    "padded genre": {"genre": " drama"},
    "bad id": {"id": "a:b"},
    "year not a number": {"metadata": {"author": "ann", "year": "1999"}},
    "author not a string": {"metadata": {"author": 5}},
    "NaN metadata": {"metadata": {"author": "ann", "n": math.nan}},
}

genre_subsets = st.lists(st.sampled_from(GENRES), min_size=1, max_size=2, unique=True)
query_years = st.one_of(
    st.integers(1989, 2011), st.floats(1990.0, 2010.0).map(lambda x: round(x, 6))
)
queries = st.one_of(
    st.builds(Query, genre=st.one_of(st.sampled_from(GENRES), genre_lists)),
    st.builds(Query, genres_all=genre_subsets),
    st.builds(Query, exclude_genres=genre_subsets),
    st.builds(Query, year_min=query_years),
    st.builds(Query, author=st.sampled_from(AUTHORS)),
    st.builds(
        Query,
        genre=st.one_of(st.none(), st.sampled_from(GENRES), genre_lists),
        genres_all=st.one_of(st.none(), genre_subsets),
        exclude_genres=st.one_of(st.none(), genre_subsets),
        year_min=st.one_of(st.none(), query_years),
        author=st.one_of(st.none(), st.sampled_from(AUTHORS)),
    ),
)


def bulk_documents(seed: int, n: int) -> list[Document]:
    """``n`` documents from a seed: ids ``b0``..``b299`` (they collide), either embedding kind."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        genres = rng.choice(GENRES, size=int(rng.integers(1, 3)), replace=False).tolist()
        explicit = bool(rng.integers(2))
        docs.append(
            Document(
                content=f"bulk text {int(rng.integers(1_000_000))}",
                genre=genres,
                id=f"b{int(rng.integers(len(BULK_IDS)))}",
                embedding=rng.uniform(-1.0, 1.0, DIMS).tolist() if explicit else None,
                metadata={
                    "author": str(rng.choice(AUTHORS)),
                    "year": int(rng.integers(1990, 2011)),
                },
            )
        )
    return docs


# -- the machine --------------------------------------------------------------------------------


class DocstoreMachine(RuleBasedStateMachine):
    """One store on the class's persistent server, checked against a dict of documents."""

    server: ClassVar[EmbeddedServer]
    algorithm: ClassVar[str]
    recalls: ClassVar[list[tuple[int, float]]]  # (candidates, recall@k) per HNSW search
    matches: ClassVar[list[int]]  # matching documents per search, over the whole test
    crashes: ClassVar[list[bool]]  # per restart: killed (True) or shut down (False)

    def __init__(self) -> None:
        super().__init__()
        self.names: StoreNames = new_store_names()
        self.model: dict[str, Expected] = {}
        self.steps = 0
        self.restarts = 0
        self.store = self._open()

    def _open(self) -> DocumentStore:
        return DocumentStore(
            self.server.url,
            index=self.names.index,
            prefix=self.names.prefix,
            algorithm=self.algorithm,  # type: ignore[arg-type]
            embedder=EMBEDDER,
            metadata_fields={"year": "numeric", "author": "tag"},
        )

    def teardown(self) -> None:
        self.store.close()
        client = redis.Redis.from_url(self.server.url)
        try:
            cleanup_store(client, self.names)
            # Compact the append-only file, so later restarts do not replay every example.
            client.bgrewriteaof()
            deadline = time.monotonic() + 30
            while _rewriting(client.info("persistence")):
                assert time.monotonic() < deadline, "BGREWRITEAOF did not finish"
                time.sleep(0.01)
        finally:
            client.close()

    # -- the model ------------------------------------------------------------------------

    @staticmethod
    def expected(doc: Document) -> tuple[str, Expected]:
        """What storing ``doc`` (valid) must leave under its id."""
        genres = genre_tuple(doc.genre)
        doc_id = default_id(doc.content, genres) if doc.id is None else doc.id
        embedding = hash_vector(doc.content) if doc.embedding is None else doc.embedding
        return doc_id, Expected(
            content=doc.content,
            genres=genres,
            metadata=dict(doc.metadata or {}),
            vector=as_float32(embedding),
        )

    def check_document(self, doc_id: str, doc: Document | None) -> None:
        want = self.model.get(doc_id)
        if want is None:
            assert doc is None, f"{doc_id!r} should not exist, got {doc!r}"
            return
        assert doc is not None, f"{doc_id!r} is missing"
        assert doc.id == doc_id
        assert doc.content == want.content
        assert doc.genres == want.genres
        assert doc.metadata == want.metadata
        assert np.array_equal(as_float32(doc.embedding), want.vector), doc_id

    def matching(self, query: Query) -> dict[str, Expected]:
        return {i: e for i, e in self.model.items() if query.matches(e.genres, e.metadata)}

    # -- writes ---------------------------------------------------------------------------

    @rule(batch=batches)
    def add(self, batch: list[Document]) -> None:
        returned = self.store.add(batch)
        expected = [self.expected(d) for d in batch]
        assert returned == [i for i, _ in expected]
        self.model.update(expected)  # in order: the last document of an id wins

    @rule(batch=batches, data=st.data())
    def add_with_a_repeated_id(self, batch: list[Document], data: st.DataObject) -> None:
        doc_id = data.draw(st.sampled_from(ID_POOL), label="repeated id")
        last = data.draw(documents, label="last")
        batch = [
            Document(**_fields(batch[0], id=doc_id)),
            *batch[1:],
            Document(**_fields(last, id=doc_id)),
        ]
        note(f"add() of {batch!r}")
        self.store.add(batch)
        self.model.update(self.expected(d) for d in batch)
        assert self.model[doc_id].same(self.expected(batch[-1])[1])

    @rule(batch=batches, data=st.data())
    def load(self, batch: list[Document], data: st.DataObject) -> None:
        """``load`` skips documents stored unchanged; otherwise it is ``add``."""
        if bool(self.model) and data.draw(st.booleans(), label="repeat a stored document"):
            doc_id = data.draw(st.sampled_from(sorted(self.model)), label="stored id")
            e = self.model[doc_id]
            same = Document(e.content, list(e.genres), id=doc_id, metadata=e.metadata)
            at = data.draw(st.integers(0, len(batch)), label="at")
            batch = [*batch[:at], same, *batch[at:]]
            note(f"load() of {batch!r}")
        report = self.store.load(batch)
        last = dict(self.expected(d) for d in batch)
        unchanged = {
            i
            for i, e in last.items()
            if i in self.model
            and (self.model[i].content, self.model[i].genres, self.model[i].metadata)
            == (e.content, e.genres, e.metadata)
        }
        order = list(dict.fromkeys(last_id for last_id, _ in map(self.expected, batch)))
        assert report.ids == [self.expected(d)[0] for d in batch]
        assert report.unchanged == [i for i in order if i in unchanged]
        assert report.written == [i for i in order if i not in unchanged]
        self.model.update((i, e) for i, e in last.items() if i not in unchanged)

    @rule(batch=batches, data=st.data())
    def add_an_invalid_batch(self, batch: list[Document], data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(sorted(INVALID_CHANGES)), label="kind")
        position = data.draw(st.integers(0, len(batch)), label="position")
        bad = Document(**_fields(data.draw(documents, label="base"), **INVALID_CHANGES[kind]))
        batch = [*batch[:position], bad, *batch[position:]]
        note(f"add() of {batch!r}")
        with pytest.raises(ValidationError) as info:
            self.store.add(batch)
        assert info.value.position == position, (kind, str(info.value))
        # The model is unchanged; the invariants check that the store is too.

    @rule(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 150))
    def add_bulk(self, seed: int, n: int) -> None:
        batch = bulk_documents(seed, n)
        assert self.store.add(batch) == [d.id for d in batch]
        self.model.update(self.expected(d) for d in batch)

    @rule(ids_=st.lists(st.sampled_from(GET_POOL), max_size=8))
    def delete(self, ids_: list[str]) -> None:
        existing = {i for i in ids_ if i in self.model}
        assert self.store.delete(ids_) == len(existing)
        for i in existing:
            del self.model[i]

    @rule(query=st.one_of(
        st.builds(Query, genre=st.one_of(st.sampled_from(GENRES), genre_lists)),
        st.builds(Query, year_min=st.integers(1990, 2011)),
        st.builds(Query, author=st.sampled_from(AUTHORS)),
    ))  # fmt: skip
    def delete_where(self, query: Query) -> None:
        where = query.where()
        if query.genre is not None:
            where = Tag("genre") == query.genre
        assert where is not None
        doomed = set(self.matching(query))
        assert self.store.delete(where=where) == len(doomed)
        for i in doomed:
            del self.model[i]

    @precondition(lambda self: bool(self.model))
    @rule(
        data=st.data(),
        content=st.one_of(st.none(), contents),
        genre=st.one_of(st.none(), genre_values),
        metadata=st.one_of(st.none(), metadata_values.map(lambda m: m or {})),
        same_content=st.booleans(),
    )
    def update(
        self,
        data: st.DataObject,
        content: str | None,
        genre: str | list[str] | None,
        metadata: dict[str, Any] | None,
        same_content: bool,
    ) -> None:
        doc_id = data.draw(st.sampled_from(sorted(self.model)), label="id")
        old = self.model[doc_id]
        if same_content and content is not None:
            content = old.content  # keeps the stored (maybe explicit) embedding
        if content is None and genre is None and metadata is None:
            with pytest.raises(ValidationError):
                self.store.update(doc_id)
            return
        updated = self.store.update(doc_id, content=content, genre=genre, metadata=metadata)
        new_content = old.content if content is None else content
        # Only new content is embedded again; the same content keeps its embedding.
        same = new_content == old.content
        self.model[doc_id] = Expected(
            content=new_content,
            genres=old.genres if genre is None else genre_tuple(genre),
            metadata=old.metadata if metadata is None else dict(metadata),
            vector=old.vector if same else as_float32(hash_vector(new_content)),
        )
        self.check_document(doc_id, updated)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), genre=st.sampled_from(["", " drama", []]))
    def update_invalid(self, data: st.DataObject, genre: str | list[str]) -> None:
        doc_id = data.draw(st.sampled_from(sorted(self.model)), label="id")
        with pytest.raises(ValidationError):
            self.store.update(doc_id, genre=genre)

    @precondition(lambda self: not set(ID_POOL) <= set(self.model))
    @rule(data=st.data(), content=st.one_of(st.none(), contents), genre=genre_values)
    def update_missing(self, data: st.DataObject, content: str | None, genre: Any) -> None:
        doc_id = data.draw(
            st.sampled_from([i for i in ID_POOL if i not in self.model]), label="missing id"
        )
        with pytest.raises(DocumentNotFoundError):
            self.store.update(doc_id, content=content, genre=genre)

    # -- restarts -------------------------------------------------------------------------

    @precondition(lambda self: self.restarts < MAX_RESTARTS)
    @rule(crash=st.booleans())
    def restart(self, crash: bool) -> None:
        """Stop (or SIGKILL) the server and start it on the same data; reopen the store."""
        self.restarts += 1
        self.crashes.append(crash)
        self.store.close()
        if crash:
            self.server.kill()
        else:
            self.server.stop()
        self.server.start()
        self.store = self._open()

    # -- searches -------------------------------------------------------------------------

    @rule(data=st.data(), searches=st.lists(st.tuples(st.integers(1, 15), queries), max_size=3))
    def search(self, data: st.DataObject, searches: list[tuple[int, Query]]) -> None:
        for k, query in searches:
            self.check_search(self.draw_vector(data), k, query)

    @rule(data=st.data(), k=st.integers(1, 15))
    def search_everything(self, data: st.DataObject, k: int) -> None:
        self.check_search(self.draw_vector(data), k, Query())

    def draw_vector(self, data: st.DataObject) -> list[float]:
        if bool(self.model) and data.draw(st.booleans(), label="near a stored vector"):
            doc_id = data.draw(st.sampled_from(sorted(self.model)), label="near")
            base = self.model[doc_id].vector.astype(np.float64)
            noise = data.draw(st.sampled_from([0.0, 1e-3, 0.1]), label="noise")
            return (base + noise).tolist()  # type: ignore[no-any-return]
        return data.draw(vectors, label="query vector")

    def check_search(self, vector: list[float], k: int, query: Query) -> None:
        hits = self.store.search(
            vector,
            k=k,
            genre=query.genre,
            genres_all=query.genres_all,
            exclude_genres=query.exclude_genres,
            where=query.where(),
        )
        q = as_float32(vector)
        candidates = self.matching(query)
        distances = {i: squared_l2(e.vector, q) for i, e in candidates.items()}
        ranked = sorted(distances.values())
        n = min(k, len(ranked))
        self.matches.append(len(ranked))
        ids_ = [h.id for h in hits]
        assert len(ids_) == len(set(ids_)), f"duplicate hits: {ids_}"
        assert len(hits) == n, f"{len(hits)} hits, expected {n} ({query}, k={k})"
        for hit in hits:
            assert hit.id in candidates, f"{hit.id!r} does not match {query}"
            self.check_hit(hit, candidates[hit.id], distances[hit.id])
        got = [h.distance for h in hits]
        assert got == sorted(got), f"distances not ascending: {got}"
        if not n:
            return
        kth = ranked[n - 1]
        # Documents within float32 noise of the k-th distance are ties: any of them may be
        # the k-th hit, so ids are compared only where distances differ by more.
        relevant = {i for i, d in distances.items() if d <= kth + DISTANCE_TOL * max(1.0, kth)}
        if self.algorithm == "flat":
            for want, have in zip(ranked[:n], got, strict=True):
                assert close(have, want), f"top-{n} distances {got} != {ranked[:n]}"
            must = {i for i, d in distances.items() if d < kth - DISTANCE_TOL * max(1.0, kth)}
            assert must <= set(ids_), f"missing exact neighbours {must - set(ids_)}"
            assert set(ids_) <= relevant, f"hits beyond the k-th distance: {set(ids_) - relevant}"
        else:
            # HNSW is approximate (ef_runtime 10, or k if larger): a single search may miss
            # a neighbour, so recall is asserted over all the searches of a test.
            self.recalls.append((len(candidates), len(set(ids_) & relevant) / n))

    @staticmethod
    def check_hit(hit: Hit, want: Expected, distance: float) -> None:
        assert hit.content == want.content
        assert hit.genres == want.genres
        assert hit.metadata == want.metadata
        assert close(hit.distance, distance), (hit.id, hit.distance, distance)

    # -- invariants -----------------------------------------------------------------------

    @initialize()
    def start_empty(self) -> None:
        assert self.store.count() == 0

    @invariant()
    def counts_match(self) -> None:
        assert self.store.count() == len(self.model)
        for genre in GENRES:
            want = sum(genre in e.genres for e in self.model.values())
            assert self.store.count(genre=genre) == want, genre

    @invariant()
    def every_document_once(self) -> None:
        docs = list(self.store.iter_documents(batch_size=50))
        ids_ = [d.id for d in docs]
        assert len(ids_) == len(set(ids_)), f"duplicates: {ids_}"
        assert ids_ == sorted(self.model), f"{ids_} != {sorted(self.model)}"
        for doc in docs:
            assert doc.id is not None
            self.check_document(doc.id, doc)

    @invariant()
    def get_matches(self) -> None:
        self.steps += 1
        start = (self.steps * GET_SAMPLE) % len(GET_POOL)
        for i in range(GET_SAMPLE):
            doc_id = GET_POOL[(start + i) % len(GET_POOL)]
            self.check_document(doc_id, self.store.get(doc_id))


def _rewriting(info: dict[str, Any]) -> bool:
    return bool(info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"])


def _fields(doc: Document, **changes: Any) -> dict[str, Any]:
    fields = {
        "content": doc.content,
        "genre": doc.genre,
        "id": doc.id,
        "embedding": doc.embedding,
        "metadata": doc.metadata,
    }
    return fields | changes


# -- the tests ----------------------------------------------------------------------------------

MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: see the module docstring
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def persistent_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A private Redis Stack persisting every write (AOF, appendfsync always)."""
    server = EmbeddedServer(tmp_path / "data", appendfsync="always").start()
    try:
        yield server
    finally:
        server.stop()
        assert not server.is_running()


@dataclass
class Outcome:
    """What the searches of a whole test saw, to check that the machine is not vacuous."""

    recalls: list[tuple[int, float]]  # (matching documents, recall@k) per HNSW search
    matches: list[int]  # matching documents per search
    crashes: list[bool]  # per restart: killed or shut down


def run_machine(server: EmbeddedServer, algorithm: str) -> Outcome:
    outcome = Outcome(recalls=[], matches=[], crashes=[])
    machine = type(
        f"Docstore{algorithm.title()}Machine",
        (DocstoreMachine,),
        {
            "server": server,
            "algorithm": algorithm,
            "recalls": outcome.recalls,
            "matches": outcome.matches,
            "crashes": outcome.crashes,
        },
    )
    # Hypothesis mixes literals harvested from every module imported so far into
    # what it draws, so the derandomized sequences changed with the test modules
    # collected before this one (importing tests/integration/test_facets.py alone
    # did): without those, the same sequences run in every suite.
    with (
        mock.patch.object(providers, "_get_local_constants", providers.Constants),
        mock.patch.object(providers, "CONSTANTS_CACHE", {}),
    ):
        run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)
    # Not vacuous: searches with no match and with many, clean restarts and crashes.
    assert 0 in outcome.matches
    assert sum(m >= 50 for m in outcome.matches) >= 10
    assert set(outcome.crashes) == {True, False}
    return outcome


def test_flat_store_matches_the_model(persistent_server: EmbeddedServer) -> None:
    run_machine(persistent_server, "flat")


def test_hnsw_store_matches_the_model(persistent_server: EmbeddedServer) -> None:
    recalls = run_machine(persistent_server, "hnsw").recalls
    large = [r for n, r in recalls if n >= 10]
    assert len(large) >= 20, "too few HNSW searches over 10 or more matching documents"
    assert sum(large) / len(large) >= MIN_RECALL
    assert sum(r for _, r in recalls) / len(recalls) >= MIN_RECALL
