"""Documents going in, hits and load reports coming out, and the checks a document must pass.

Everything here is pure: no Redis, no model. ``prepare_documents`` turns a batch
of :class:`Document` into :class:`Record` objects ready to embed and write, or
raises a :class:`~redis_docstore._errors.ValidationError` naming the first bad
document, so that a batch with one invalid document writes nothing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import numpy as np
import orjson

from redis_docstore._embeddings import Vector, VectorLike, checked_rows, validate_vector
from redis_docstore._errors import InvalidDocumentError, InvalidQueryError, ValidationError
from redis_docstore._filters.expression import FieldKind
from redis_docstore._filters.genres import normalize_genres
from redis_docstore._filters.kinds import KINDS
from redis_docstore._schema import Distance, IdScheme

__all__ = [
    "HIT_FIELDS",
    "Document",
    "FieldStats",
    "Group",
    "Hit",
    "HitField",
    "LoadReport",
    "Record",
    "TextExample",
    "content_id",
    "default_id",
    "parse_document",
    "prepare_documents",
    "prepare_update",
    "validate_id",
    "vector_json",
]

# Characters an id may not hold: the key separator (a key is "<prefix>:<id>"),
# glob characters (they would make SCAN patterns over our prefix ambiguous) and
# the backslash that escapes them.
_FORBIDDEN_ID_CHARS = frozenset(":*?[]\\")
MAX_ID_LENGTH = 512

#: What ``fields=`` of a search may name: attributes of :class:`Hit`. ``id`` and
#: ``distance`` are always filled (a hit is a key at a distance); the others
#: only when asked for.
HitField = Literal["id", "distance", "content", "genres", "metadata"]
HIT_FIELDS: Final[tuple[str, ...]] = get_args(HitField)


@dataclass(frozen=True, slots=True)
class Document:
    """A text with one or more genres, as stored in Redis.

    Args:
        content: The text; it is embedded unless ``embedding`` is given.
        genre: One genre, or a list of genres. A genre is an identifier,
            matched exactly (case-sensitive).
        id: The document's id; by default a hash of ``content`` and the set
            of genres, so adding the same document twice stores it once, and
            the same text under other genres is another document.
        embedding: A precomputed embedding, validated and stored as given.
        metadata: Any JSON-able mapping; it round-trips unchanged.
    """

    content: str
    genre: str | Sequence[str]
    id: str | None = None
    embedding: Sequence[float] | None = None
    metadata: Mapping[str, Any] | None = None

    @property
    def genres(self) -> tuple[str, ...]:
        """The genres as a tuple, whether one or several were given."""
        return (self.genre,) if isinstance(self.genre, str) else tuple(self.genre)


@dataclass(slots=True)
class Hit:
    """One search result: a plain record (the store keeps no reference to it).

    Not frozen: every search builds ``k`` of these, and a frozen dataclass
    pays ``object.__setattr__`` per field, 4x the cost of a plain one.

    A search with ``fields=`` (e.g. ``["id", "distance"]``) leaves out what it
    was not asked for: such a hit holds ``content=""``, ``genres=()`` and
    ``metadata={}``, empty values of the usual types (no ``None`` to check for
    in code that reads full hits). No stored document has an empty content or
    no genre, so those two are unambiguous; an empty ``metadata`` is, so read
    it only from searches that asked for it. ``id``, ``distance``,
    ``similarity`` and ``score`` are always filled.

    Attributes:
        id: The document's id (without the key prefix).
        content: The document's text.
        genres: The document's genres.
        distance: The distance to the query in the index's metric, as a float.
            For L2 it is the *squared* Euclidean distance, as RediSearch
            reports it; for COSINE it is ``1 - cosine similarity``; for IP,
            ``1 - inner product``. Smaller is closer.
        metadata: The document's metadata.
        similarity: For COSINE indexes, ``1 - distance / 2``: 1 for the same
            direction, 0.5 for orthogonal, 0 for opposite. ``None`` for L2
            and IP, whose distances have no fixed range.
        score: The hybrid score when a text + vector search ordered the hits
            (higher is better); ``None`` otherwise.
    """

    id: str
    content: str
    genres: tuple[str, ...]
    distance: float
    metadata: dict[str, Any] = field(default_factory=dict)
    similarity: float | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class TextExample:
    """A text given as an example to ``recommend``, embedded with the store's model.

    ``recommend`` reads a plain string as a document id (as Qdrant does); a
    text to embed is wrapped: ``store.recommend([TextExample("a heist in
    space")])``.

    Args:
        text: The text (not empty).

    Raises:
        InvalidQueryError: ``text`` is not a string, or is empty.
    """

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise InvalidQueryError(f"TextExample needs a non-empty text, not {self.text!r}")


@dataclass(frozen=True, slots=True)
class Group:
    """One group of a grouped search (``search_groups``): a field value and its nearest hits.

    Attributes:
        value: The group's value of the grouping field (a genre, or a value
            of a declared tag field).
        hits: The group's nearest documents, by ascending distance (ties by
            id). A document with several values (genres) is in each of their
            groups.
    """

    value: str
    hits: list[Hit]


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What :meth:`load` did.

    Attributes:
        ids: Every document's id, in input order.
        written: Ids written (new or changed), in input order.
        unchanged: Ids already stored with the same content, genres and
            metadata: neither embedded nor written again.
    """

    ids: list[str]
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FieldStats:
    """What :meth:`stats` found in a numeric field of the matching documents.

    Only documents that have the field count. The numbers come from
    RediSearch, which sends doubles as text with 12 significant digits unless
    they are integers: ``min``, ``max`` and ``sum`` are exact for integers (up
    to 2**53) and for decimals of at most 12 significant digits, and within a
    relative 5e-12 otherwise. ``mean`` is ``sum / count``, so it is as exact
    as a Python mean for an integer field.

    Attributes:
        count: How many matching documents have the field.
        min: The smallest value; ``None`` when ``count`` is 0.
        max: The largest value; ``None`` when ``count`` is 0.
        mean: The average value; ``None`` when ``count`` is 0.
        sum: The total (0.0 when ``count`` is 0).
    """

    count: int
    min: float | None
    max: float | None
    mean: float | None
    sum: float


@dataclass(frozen=True, slots=True)
class Record:
    """A validated document, ready to be embedded (if needed) and written."""

    id: str
    content: str
    genres: tuple[str, ...]
    metadata: dict[str, Any]
    embedding: Vector | None

    def to_json(self, embedding: VectorLike) -> bytes:
        """Serialize the stored JSON object with the given embedding.

        The embedding is written at float32 precision, the index's own: the
        shortest decimal of each float32 (``0.1``, not ``0.10000000149011612``)
        is about 40% less JSON for Redis to parse than float64 text, and it
        comes back from RedisJSON bit for bit.
        """
        return orjson.dumps(
            {
                "content": self.content,
                "genre": list(self.genres),
                "embedding": np.asarray(embedding, dtype=np.float32),
                "metadata": self.metadata,
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )


def content_id(content: str) -> str:
    """The default id of a document under the ``"content"`` scheme: a hash of its text.

    Stores created before the ``"content+genres"`` scheme keep this one (their
    meta hash records no scheme): the same text under two genres is one
    document there.

    Args:
        content: The document's text.

    Returns:
        32 hex characters (128 bits of SHA-256), stable across runs and machines.
    """
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:32]


def default_id(content: str, genres: Sequence[str], scheme: IdScheme = "content+genres") -> str:
    """The id of a document given without one.

    Under ``"content+genres"`` (every new store) it is a hash of the content
    and of the set of genres, so the same text under two genres is two
    documents, re-adding an identical document changes nothing, and the order
    of the genres does not matter. Metadata is not part of it: a document
    added again with other metadata replaces the stored one.

    Args:
        content: The document's text.
        genres: Its genres (validated).
        scheme: The store's id scheme.

    Returns:
        32 hex characters (128 bits of SHA-256), stable across runs and machines.
    """
    if scheme == "content":
        return content_id(content)
    material = orjson.dumps([content, sorted(set(genres))])  # unambiguous, order-free
    return hashlib.sha256(material).hexdigest()[:32]


def validate_id(doc_id: object, *, position: int | None = None) -> str:
    """Check that ``doc_id`` can name a document.

    Args:
        doc_id: The candidate id.
        position: The document's position in its batch, for the message.

    Returns:
        The id, unchanged.

    Raises:
        InvalidDocumentError: Not a string, empty, too long, or holding
            whitespace, control characters, ``:``, glob characters or ``\\``.
    """
    if (
        type(doc_id) is str
        and 0 < len(doc_id) <= MAX_ID_LENGTH
        and doc_id.isprintable()  # also false for every whitespace but " "
        and " " not in doc_id
        and _FORBIDDEN_ID_CHARS.isdisjoint(doc_id)
    ):
        return doc_id
    if not isinstance(doc_id, str):
        raise InvalidDocumentError(
            f"id must be a string, not {type(doc_id).__name__}", position=position
        )
    if not doc_id:
        raise InvalidDocumentError("id must not be empty", position=position)
    if len(doc_id) > MAX_ID_LENGTH:
        raise InvalidDocumentError(
            f"id is longer than {MAX_ID_LENGTH} characters", position=position
        )
    bad = {c for c in doc_id if c in _FORBIDDEN_ID_CHARS or not c.isprintable() or c.isspace()}
    if bad:
        shown = ", ".join(repr(c) for c in sorted(bad))
        raise InvalidDocumentError(f"id {doc_id!r} contains {shown}", position=position)
    return doc_id


def _validate_content(content: object, position: int | None) -> str:
    if not isinstance(content, str):
        raise InvalidDocumentError(
            f"content must be a string, not {type(content).__name__}", position=position
        )
    if not content.strip():
        raise InvalidDocumentError("content must not be empty", position=position)
    try:
        content.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidDocumentError(
            "content is not valid text (it holds a lone surrogate)", position=position
        ) from exc
    return content


def _check_text(text: str, where: str, position: int | None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDocumentError(
            f"{where}: not valid text (a lone surrogate)", position=position
        ) from None


def _check_json_value(value: object, where: str, position: int | None) -> None:
    """Reject what would not come back from Redis exactly as it went in."""
    if isinstance(value, str):
        _check_text(value, where, position)
        return
    if value is None or isinstance(value, bool | int):
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 63:
            raise InvalidDocumentError(f"{where}: integer out of 64-bit range", position=position)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidDocumentError(f"{where}: {value} is not valid JSON", position=position)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidDocumentError(
                    f"{where}: keys must be strings, not {type(key).__name__}", position=position
                )
            _check_text(key, f"{where} key", position)
            _check_json_value(item, f"{where}.{key}", position)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, f"{where}[{i}]", position)
        return
    raise InvalidDocumentError(
        f"{where}: {type(value).__name__} is not JSON (use dict, list, str, int, float, "
        "bool or None)",
        position=position,
    )


def _validate_metadata(metadata: object, position: int | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidDocumentError(
            f"metadata must be a mapping, not {type(metadata).__name__}", position=position
        )
    _check_json_value(metadata, "metadata", position)
    return dict(metadata)


def _check_indexed_value(name: str, kind: FieldKind, value: object, position: int | None) -> None:
    problem = KINDS[kind].check(value)
    if problem is not None:
        where = f"metadata.{name} (an indexed {kind} field)"
        raise InvalidDocumentError(f"{where}: {problem}", position=position)


def prepare_documents(
    documents: Iterable[Document],
    *,
    dims: int,
    distance: Distance,
    metadata_fields: Mapping[str, FieldKind] | None = None,
    id_scheme: IdScheme = "content+genres",
) -> list[Record]:
    """Validate a batch of documents and turn them into records.

    Args:
        documents: The batch.
        dims: The index's vector dimensions, for precomputed embeddings.
        distance: The index's metric (COSINE rejects all-zero vectors).
        metadata_fields: The indexed metadata fields; a value of the wrong
            type would make Redis skip the whole document when indexing, so
            it is refused here.
        id_scheme: How ids are made for documents given without one.

    Returns:
        One record per document, in input order.

    Raises:
        ValidationError: For the first invalid document; its ``position``
            says which one.
    """
    documents = list(documents)
    vectors = _python_vectors(documents, dims=dims, distance=distance)
    records = []
    for position, doc in enumerate(documents):
        if not isinstance(doc, Document):
            raise InvalidDocumentError(
                f"expected a Document, not {type(doc).__name__}", position=position
            )
        content = _validate_content(doc.content, position)
        try:
            genres = normalize_genres(doc.genre)
        except ValidationError as exc:
            raise type(exc)(str(exc), position=position) from None
        doc_id = (
            default_id(content, genres, id_scheme)
            if doc.id is None
            else validate_id(doc.id, position=position)
        )
        embedding = vectors.get(position)
        if embedding is None and doc.embedding is not None:
            embedding = validate_vector(
                doc.embedding, dims=dims, distance=distance, position=position
            )
        metadata = _validate_metadata(doc.metadata, position)
        for name, kind in (metadata_fields or {}).items():
            if name in metadata:
                _check_indexed_value(name, kind, metadata[name], position)
        records.append(Record(doc_id, content, genres, metadata, embedding))
    return records


def _python_vectors(
    documents: Sequence[object], *, dims: int, distance: Distance
) -> dict[int, Vector]:
    """The batch's embeddings given as Python lists, checked in one numpy pass.

    ``{position: float32 row}``; empty when there are none, or when any of
    them is invalid (then each is checked on its own, which names the first
    bad document).
    """
    positions = [
        i
        for i, doc in enumerate(documents)
        if type(doc) is Document and type(doc.embedding) in (list, tuple)
    ]
    if not positions:
        return {}
    rows = [documents[i].embedding for i in positions]  # type: ignore[attr-defined]
    checked = checked_rows(rows, dims=dims, distance=distance)
    if checked is None or checked.ndim != 2:
        return {}
    return dict(zip(positions, checked.astype(np.float32), strict=True))


def prepare_update(
    content: object,
    genre: object,
    metadata: object,
    *,
    metadata_fields: Mapping[str, FieldKind] | None = None,
) -> tuple[str | None, tuple[str, ...] | None, dict[str, Any] | None]:
    """Validate the fields an update changes (``None``: left as stored).

    Returns:
        ``(content, genres, metadata)``, each checked as for a new document.

    Raises:
        ValidationError: Nothing to change, or an invalid value.
    """
    if content is None and genre is None and metadata is None:
        raise ValidationError("update() needs content, genre or metadata")
    new_content = None if content is None else _validate_content(content, None)
    genres = None if genre is None else normalize_genres(genre)
    new_metadata = None
    if metadata is not None:
        new_metadata = _validate_metadata(metadata, None)
        for name, kind in (metadata_fields or {}).items():
            if name in new_metadata:
                _check_indexed_value(name, kind, new_metadata[name], None)
    return new_content, genres, new_metadata


def vector_json(vector: VectorLike) -> bytes:
    """An embedding as stored: JSON numbers at float32 precision (see ``Record.to_json``)."""
    return orjson.dumps(np.asarray(vector, dtype=np.float32), option=orjson.OPT_SERIALIZE_NUMPY)


def parse_document(doc_id: str, raw: str | bytes) -> Document:
    """Build a :class:`Document` from the JSON text stored under its key.

    Args:
        doc_id: The id (key without prefix).
        raw: The stored JSON object.

    Returns:
        The document; ``genre`` is a string when it has one genre, else a list.
    """
    data = orjson.loads(raw)
    genres = data.get("genre") or []
    return Document(
        content=data["content"],
        genre=genres[0] if len(genres) == 1 else list(genres),
        id=doc_id,
        embedding=data.get("embedding"),
        metadata=data.get("metadata") or {},
    )
