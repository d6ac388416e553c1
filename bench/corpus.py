"""The one deterministic corpus every system is measured on, and its ground truth.

Vectors: ``clusters`` topic centres on the unit sphere of ``dims`` dimensions;
each topic has its own low-dimensional subspace (``LOCAL_DIMS`` directions),
and a document is its centre plus a variation inside that subspace plus a little
isotropic noise, L2-normalized like a sentence embedding. (Pure isotropic noise in
384 dimensions would have no near neighbours worth the name; real embeddings
have a low intrinsic dimension, which is what HNSW relies on.) Topic sizes are
skewed (Dirichlet weights).

Genres: twenty names, some with spaces, hyphens, ``&`` and an apostrophe,
drawn independently of the topic with Zipf-like shares: two "large" ones
(~17-21 %), ten "mid" ones (3-11 %), and eight "small" ones (~1.2-1.5 %); about 15 %
of the documents carry a second genre. Texts are a few generated words about
the document's topic; metadata is ``{"year": int}``.

Queries are fresh samples from the same topics (never documents). Each is run
unfiltered and once per genre-size class, with a genre of that class (taken in
turn); the ground truth is the exact numpy top-k by squared L2 over the
documents matching the filter.

Everything comes from one ``numpy.random.Generator`` seeded with ``seed``: the
same ``n`` and seed give the same corpus on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASSES",
    "DIMS",
    "FILTERS",
    "GENRE_WEIGHTS",
    "Corpus",
    "QuerySet",
    "exact_top_k",
    "make_corpus",
    "make_queries",
    "make_text_queries",
    "size_class",
]

DIMS = 384
DEFAULT_SEED = 20261125
CLUSTERS = 64
LOCAL_DIMS = 16  # the intrinsic dimension of a topic
LOCAL_SCALE = 0.15  # spread inside a topic's subspace, per direction
NOISE_SCALE = 0.02  # isotropic noise, per dimension
SECOND_GENRE_SHARE = 0.15

#: Genre names and relative weights (normalized when drawn). Names exercise
#: escaping: spaces, hyphens, "&" and an apostrophe.
GENRE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("fiction", 0.15),
    ("science fiction", 0.12),
    ("mystery", 0.08),
    ("romance", 0.07),
    ("fantasy", 0.06),
    ("true crime", 0.05),
    ("self-help", 0.045),
    ("history", 0.04),
    ("biography", 0.035),
    ("sci-fi comedy", 0.03),
    ("jazz & blues", 0.025),
    ("children's books", 0.02),
    ("poetry", 0.01),
    ("cooking", 0.01),
    ("travel", 0.009),
    ("horror", 0.009),
    ("young-adult", 0.009),
    ("graphic novels", 0.008),
    ("art & design", 0.008),
    ("new-age", 0.008),
)
#: Genre-size classes, by nominal share (see :func:`size_class`).
CLASSES = ("large", "mid", "small")
#: The filters every query runs with: none, then one genre of each class.
FILTERS = ("all", *CLASSES)

_VOCABULARY = (
    "river mountain city harbor forest desert island village castle station garden "
    "detective captain pilot doctor singer painter farmer teacher robot dragon ghost star "
    "planet ship engine machine letter journal secret storm winter summer night morning "
    "war peace love memory dream song recipe bread journey map lantern clock rain fire "
    "ocean bridge tower market library theater school road signal mirror"
)
_ADJECTIVE_LIST = (
    "quiet ancient broken golden hidden lonely bright strange gentle fierce silver "
    "forgotten distant tiny restless curious patient wild frozen hungry clever"
)
_VERB_LIST = (
    "finds loses remembers follows builds crosses guards paints sings studies watches "
    "carries opens chases repairs leaves discovers writes answers awaits"
)
_WORDS = tuple(_VOCABULARY.split())
_ADJECTIVES = tuple(_ADJECTIVE_LIST.split())
_VERBS = tuple(_VERB_LIST.split())


def size_class(share: float) -> str:
    """The size class of a genre of nominal (normalized) weight ``share``.

    Large: >= 12 %; mid: 1.5-12 %; small: < 1.5 %. With second genres the
    actual shares come out about a third higher (see ``Corpus.shares``).
    """
    if share >= 0.12:
        return "large"
    if share >= 0.015:
        return "mid"
    return "small"


@dataclass(frozen=True)
class Corpus:
    """``n`` documents: ids, vectors, genres, texts and years, plus genre statistics.

    Attributes:
        ids: ``d0000000``, ``d0000001``, ...
        vectors: ``(n, dims)`` float32, unit length.
        genres: Each document's genres (one, or two for ~15 %).
        texts: Each document's content.
        years: Each document's ``metadata["year"]``.
        topics: Each document's topic (cluster) index.
        shares: The fraction of documents carrying each genre.
        classes: The genres of each size class, most frequent first.
        centres: ``(clusters, dims)`` topic centres.
        bases: ``(clusters, LOCAL_DIMS, dims)`` each topic's subspace.
        seed: The seed it was made from.
    """

    ids: list[str]
    vectors: npt.NDArray[np.float32]
    genres: list[tuple[str, ...]]
    texts: list[str]
    years: npt.NDArray[np.int64]
    topics: npt.NDArray[np.int64]
    shares: dict[str, float]
    classes: dict[str, list[str]]
    centres: npt.NDArray[np.float32]
    bases: npt.NDArray[np.float32]
    seed: int

    @property
    def n(self) -> int:
        """The number of documents."""
        return len(self.ids)

    @property
    def dims(self) -> int:
        """The vectors' dimensions."""
        return int(self.vectors.shape[1])

    def genre_mask(self, genre: str) -> npt.NDArray[np.bool_]:
        """A boolean mask of the documents carrying ``genre``."""
        return np.fromiter((genre in g for g in self.genres), dtype=np.bool_, count=self.n)

    def class_of(self) -> dict[str, str]:
        """Each genre's size class."""
        return {g: c for c, names in self.classes.items() for g in names}


@dataclass(frozen=True)
class QuerySet:
    """Query vectors, the genre each runs with per filter class, and the exact answers.

    Attributes:
        vectors: ``(q, dims)`` float32, unit length.
        genres: For each filter in :data:`FILTERS`, the genre of each query
            (``None`` for ``"all"``).
        truth: For each filter, the ``(q, k)`` exact nearest document indices
            (-1 pads a filter with fewer than ``k`` matches).
        k: Neighbours per query.
    """

    vectors: npt.NDArray[np.float32]
    genres: dict[str, list[str | None]]
    truth: dict[str, npt.NDArray[np.int64]] = field(repr=False)
    k: int = 10

    @property
    def q(self) -> int:
        """The number of query vectors."""
        return int(self.vectors.shape[0])


def _unit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    result: npt.NDArray[np.float64] = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return result


def _sample(
    rng: np.random.Generator,
    topics: npt.NDArray[np.int64],
    centres: npt.NDArray[np.float64],
    bases: npt.NDArray[np.float64],
) -> npt.NDArray[np.float32]:
    """Unit vectors near the given topics' centres, in chunks to bound memory."""
    dims = centres.shape[1]
    out = np.empty((len(topics), dims), dtype=np.float32)
    chunk = 65536
    for start in range(0, len(topics), chunk):
        t = topics[start : start + chunk]
        local = rng.standard_normal((len(t), LOCAL_DIMS)) * LOCAL_SCALE
        x = rng.standard_normal((len(t), dims)) * NOISE_SCALE
        x += centres[t]
        for topic in np.unique(t).tolist():
            rows = t == topic
            x[rows] += local[rows] @ bases[topic]
        out[start : start + len(t)] = _unit(x)
    return out


def _texts(rng: np.random.Generator, topics: npt.NDArray[np.int64], clusters: int) -> list[str]:
    """One short generated sentence per document, using its topic's words."""
    words = np.array(_WORDS)
    topic_words = np.stack([rng.choice(len(_WORDS), 6, replace=False) for _ in range(clusters)])
    n = len(topics)
    adjectives = np.array(_ADJECTIVES)[rng.integers(0, len(_ADJECTIVES), (n, 2))]
    verbs = np.array(_VERBS)[rng.integers(0, len(_VERBS), n)]
    nouns = words[topic_words[topics[:, None], rng.integers(0, 6, (n, 2))]]
    extra = words[rng.integers(0, len(_WORDS), (n, 8))]
    lengths = rng.integers(3, 9, n)
    return [
        f"The {a[0]} {o[0]} {v} a {a[1]} {o[1]} near the {' '.join(e[:m])}"
        for a, o, v, e, m in zip(
            adjectives.tolist(),
            nouns.tolist(),
            verbs.tolist(),
            extra.tolist(),
            lengths.tolist(),
            strict=True,
        )
    ]


def make_corpus(
    n: int, *, seed: int = DEFAULT_SEED, dims: int = DIMS, clusters: int = CLUSTERS
) -> Corpus:
    """Build the corpus of ``n`` documents (deterministic for a given seed).

    Args:
        n: The number of documents.
        seed: The generator's seed.
        dims: The vectors' dimensions.
        clusters: The number of topics.

    Returns:
        The corpus.
    """
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((clusters, dims)))
    bases = np.stack(
        [np.linalg.qr(rng.standard_normal((dims, LOCAL_DIMS)))[0].T for _ in range(clusters)]
    )
    topic_weights = rng.dirichlet(np.full(clusters, 2.0))
    topics = rng.choice(clusters, size=n, p=topic_weights).astype(np.int64)
    vectors = _sample(rng, topics, centres, bases)

    names = [g for g, _ in GENRE_WEIGHTS]
    weights = np.array([w for _, w in GENRE_WEIGHTS])
    weights /= weights.sum()
    first = rng.choice(len(names), size=n, p=weights)
    second = rng.choice(len(names), size=n, p=weights)
    has_second = rng.random(n) < SECOND_GENRE_SHARE
    # A second genre equal to the first is redrawn from the others, in order.
    clash = has_second & (second == first)
    second[clash] = (second[clash] + 1 + rng.integers(0, len(names) - 1, clash.sum())) % len(names)
    genres: list[tuple[str, ...]] = [
        (names[f], names[s]) if two else (names[f],)
        for f, s, two in zip(first.tolist(), second.tolist(), has_second.tolist(), strict=True)
    ]
    counts = np.bincount(first, minlength=len(names)) + np.bincount(
        second[has_second], minlength=len(names)
    )
    shares = {g: float(c) / n for g, c in zip(names, counts.tolist(), strict=True)}
    classes: dict[str, list[str]] = {c: [] for c in CLASSES}
    for g in sorted(names, key=lambda g: -dict(GENRE_WEIGHTS)[g]):
        # Classes by nominal weight, so a small corpus keeps the same classes.
        classes[size_class(float(weights[names.index(g)]))].append(g)

    texts = _texts(np.random.default_rng(seed + 1), topics, clusters)
    years = rng.integers(1900, 2026, size=n).astype(np.int64)
    return Corpus(
        ids=[f"d{i:07d}" for i in range(n)],
        vectors=vectors,
        genres=genres,
        texts=texts,
        years=years,
        topics=topics,
        shares=shares,
        classes=classes,
        centres=centres.astype(np.float32),
        bases=bases.astype(np.float32),
        seed=seed,
    )


def exact_top_k(
    vectors: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int,
    candidates: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """The exact ``k`` nearest documents by squared L2, nearest first.

    A float32 matrix product shortlists ``k + 32`` candidates per query; their
    distances are then recomputed in float64, so near-ties are ordered exactly.

    Args:
        vectors: ``(n, dims)`` documents.
        queries: ``(q, dims)`` queries.
        k: Neighbours per query.
        candidates: Only these document indices (a filter); all by default.

    Returns:
        ``(q, k)`` document indices; -1 where fewer than ``k`` candidates exist.
    """
    index = np.arange(len(vectors)) if candidates is None else candidates
    docs = vectors if candidates is None else vectors[index]
    out = np.full((len(queries), k), -1, dtype=np.int64)
    if len(docs) == 0:
        return out
    take = min(k, len(docs))
    short = min(k + 32, len(docs))
    doc_norms = np.einsum("nd,nd->n", docs, docs)
    for start in range(0, len(queries), 128):
        q = queries[start : start + 128]
        d2 = doc_norms[None, :] - 2.0 * (q @ docs.T)
        part = np.argpartition(d2, short - 1, axis=1)[:, :short]
        diff = docs[part].astype(np.float64) - q[:, None, :].astype(np.float64)
        exact = np.einsum("qkd,qkd->qk", diff, diff)
        order = exact.argsort(axis=1, kind="stable")[:, :take]
        out[start : start + len(q), :take] = index[np.take_along_axis(part, order, axis=1)]
    return out


def make_queries(corpus: Corpus, q: int, *, k: int = 10, seed: int | None = None) -> QuerySet:
    """Draw ``q`` query vectors near the corpus's topics and compute the ground truth.

    Args:
        corpus: The corpus.
        q: The number of query vectors (each runs once per filter).
        k: Neighbours per query.
        seed: The generator's seed (default: the corpus's seed + 2).

    Returns:
        The queries, their genres per filter, and the exact answers.
    """
    rng = np.random.default_rng(corpus.seed + 2 if seed is None else seed)
    topics = rng.choice(len(corpus.centres), size=q).astype(np.int64)
    vectors = _sample(
        rng, topics, corpus.centres.astype(np.float64), corpus.bases.astype(np.float64)
    )
    genres: dict[str, list[str | None]] = {"all": [None] * q}
    truth = {"all": exact_top_k(corpus.vectors, vectors, k)}
    for cls in CLASSES:
        names = corpus.classes[cls]
        genres[cls] = [names[i % len(names)] for i in range(q)]
        result = np.empty((q, k), dtype=np.int64)
        for j, name in enumerate(names):
            rows = np.arange(j, q, len(names))
            matching = np.flatnonzero(corpus.genre_mask(name)).astype(np.int64)
            result[rows] = exact_top_k(corpus.vectors, vectors[rows], k, matching)
        truth[cls] = result
    return QuerySet(vectors=vectors, genres=genres, truth=truth, k=k)


def make_text_queries(count: int, *, seed: int = DEFAULT_SEED) -> list[str]:
    """Short natural-looking query texts (a few words), for the embedding benchmark."""
    rng = np.random.default_rng(seed + 3)
    return [
        f"a {rng.choice(_ADJECTIVES)} {rng.choice(_WORDS)} {rng.choice(_VERBS)} "
        f"the {rng.choice(_WORDS)}"
        for _ in range(count)
    ]
