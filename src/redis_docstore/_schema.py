"""The index schema: built from settings, and compared with what Redis has.

A store's index covers JSON documents under ``<prefix>:`` with three fields:

=========  =====================  =========================================
field      JSON path              type
=========  =====================  =========================================
content    ``$.content``          TEXT
genre      ``$.genre[*]``         TAG, case-sensitive, separator ``\\x1f``
embedding  ``$.embedding``        VECTOR (HNSW or FLAT; L2, COSINE or IP; FLOAT32)
=========  =====================  =========================================

:func:`build_schema` makes the redisvl :class:`~redisvl.schema.IndexSchema` used
to create it. :func:`schema_differences` compares an existing index (its
``FT.INFO`` reply) with the expected one, so that an index of the same name
with other dims, metric, algorithm, fields or prefix is never used silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from redisvl.schema import IndexSchema

from redis_docstore._errors import ValidationError
from redis_docstore._filters.expression import FieldKind
from redis_docstore._filters.genres import GENRE_FIELD
from redis_docstore._filters.kinds import KINDS

__all__ = [
    "ID_SCHEMES",
    "Algorithm",
    "DataType",
    "Distance",
    "IdScheme",
    "IndexSettings",
    "build_schema",
    "expected_shape",
    "schema_differences",
]

Distance = Literal["l2", "cosine", "ip"]
DataType = Literal["float32", "float16"]
Algorithm = Literal["hnsw", "flat"]

CONTENT_FIELD = "content"
EMBEDDING_FIELD = "embedding"
KEY_SEPARATOR = ":"

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GENERATION_RE = re.compile(r"\.v[0-9]+$")
RESERVED_FIELDS = frozenset({CONTENT_FIELD, GENRE_FIELD, EMBEDDING_FIELD, "id"})


IdScheme = Literal["content", "content+genres"]
ID_SCHEMES: tuple[IdScheme, ...] = ("content", "content+genres")


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """What defines a store's index.

    Args:
        name: The index name.
        prefix: The key prefix, without its trailing ``:``; documents live
            under ``<prefix>:<id>``.
        dims: The embedding dimensions.
        distance: ``"l2"`` (default), ``"cosine"`` or ``"ip"``.
        algorithm: ``"hnsw"`` (default) or ``"flat"`` (exact search).
        metadata_fields: Metadata keys indexed for filtering, as
            ``(name, kind)`` pairs; kind is ``"tag"`` (exact strings),
            ``"numeric"`` or ``"text"`` (full-text). Each is indexed at
            ``$.metadata.<name>``.
        datatype: The vector type in the index: ``"float32"`` (default) or
            ``"float16"`` (half the vector index memory, slightly less precise
            distances). The JSON documents keep full floats either way.
    """

    name: str
    prefix: str
    dims: int
    distance: Distance = "l2"
    algorithm: Algorithm = "hnsw"
    metadata_fields: tuple[tuple[str, FieldKind], ...] = ()
    datatype: DataType = "float32"
    #: Set by reembed() for the settings of a generation (``<prefix>.v<n>``).
    generation: bool = False
    #: The generation's number (1 until the first reembed), as the meta hash records it;
    #: a write checks it against the meta hash (see writes.check_guard).
    epoch: int = 1
    #: How default ids are made (see ``documents.default_id``); recorded in the
    #: store's meta hash, so a store keeps the scheme it was created with.
    id_scheme: IdScheme = "content+genres"

    def __post_init__(self) -> None:
        for label, value in (("index name", self.name), ("prefix", self.prefix)):
            if not isinstance(value, str) or not _NAME_RE.match(value):
                raise ValidationError(
                    f"{label} {value!r} must be non-empty letters, digits, '_', '-' or '.'"
                )
            if not self.generation and _GENERATION_RE.search(value):
                raise ValidationError(
                    f"{label} {value!r} ends like a re-embedded generation ('.v<n>'), "
                    "which reembed() reserves; choose another name"
                )
        if self.distance not in get_args(Distance):
            raise ValidationError(
                f"distance must be one of {get_args(Distance)}, not {self.distance!r}"
            )
        if self.algorithm not in get_args(Algorithm):
            raise ValidationError(
                f"algorithm must be one of {get_args(Algorithm)}, not {self.algorithm!r}"
            )
        if self.datatype not in get_args(DataType):
            raise ValidationError(
                f"datatype must be one of {get_args(DataType)}, not {self.datatype!r}"
            )
        if isinstance(self.dims, bool) or not isinstance(self.dims, int) or self.dims <= 0:
            raise ValidationError(f"dims must be a positive integer, not {self.dims!r}")
        for name, kind in self.metadata_fields:
            if not isinstance(name, str) or not _FIELD_RE.match(name):
                raise ValidationError(
                    f"metadata field name {name!r} must be letters, digits and '_'"
                )
            if name in RESERVED_FIELDS:
                raise ValidationError(f"metadata field name {name!r} is reserved")
            if kind not in KINDS:
                raise ValidationError(
                    f"metadata field {name!r}: kind must be one of {tuple(KINDS)}, not {kind!r}"
                )
        names = [name for name, _ in self.metadata_fields]
        if len(set(names)) != len(names):
            raise ValidationError(f"metadata fields are declared twice: {names}")

    @property
    def fields(self) -> dict[str, FieldKind]:
        """Every filterable field and its kind: genre, content and the metadata fields."""
        return {GENRE_FIELD: "tag", CONTENT_FIELD: "text", **dict(self.metadata_fields)}

    @property
    def key_prefix(self) -> str:
        """The prefix as Redis sees it, separator included (``doc:``)."""
        return self.prefix + KEY_SEPARATOR

    def key(self, doc_id: str) -> str:
        """The Redis key of a document."""
        return self.key_prefix + doc_id


def build_schema(settings: IndexSettings) -> IndexSchema:
    """Build the redisvl schema for a store's index.

    Args:
        settings: The index settings.

    Returns:
        An ``IndexSchema`` for JSON storage.
    """
    return IndexSchema.from_dict(
        {
            "index": {
                "name": settings.name,
                "prefix": settings.key_prefix,
                "key_separator": KEY_SEPARATOR,
                "storage_type": "json",
            },
            "fields": [
                {"name": CONTENT_FIELD, "type": "text", "path": "$.content"},
                {
                    "name": GENRE_FIELD,
                    "type": "tag",
                    "path": "$.genre[*]",
                    "attrs": dict(KINDS["tag"].schema),
                },
                *(_metadata_field(name, kind) for name, kind in settings.metadata_fields),
                {
                    "name": EMBEDDING_FIELD,
                    "type": "vector",
                    "path": "$.embedding",
                    "attrs": {
                        "algorithm": settings.algorithm,
                        "dims": settings.dims,
                        "distance_metric": settings.distance,
                        "datatype": settings.datatype,
                    },
                },
            ],
        }
    )


def _metadata_field(name: str, kind: FieldKind) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": kind, "path": f"$.metadata.{name}"}
    if KINDS[kind].schema:
        field["attrs"] = dict(KINDS[kind].schema)
    return field


def _metadata_shape(name: str, kind: FieldKind) -> dict[str, Any]:
    return {"path": f"$.metadata.{name}", "type": kind.upper(), **KINDS[kind].schema}


# A "shape" is the part of an index definition that matters to us, in one
# normalized form for both sides: {"storage": ..., "prefixes": ..., "<field>": {...}}.
Shape = dict[str, Any]


def expected_shape(settings: IndexSettings) -> Shape:
    """The shape an index built from ``settings`` has in ``FT.INFO``."""
    return {
        "storage": "JSON",
        "prefixes": [settings.key_prefix],
        CONTENT_FIELD: {"path": "$.content", "type": "TEXT"},
        GENRE_FIELD: {"path": "$.genre[*]", "type": "TAG", **KINDS["tag"].schema},
        **{name: _metadata_shape(name, kind) for name, kind in settings.metadata_fields},
        EMBEDDING_FIELD: {
            "path": "$.embedding",
            "type": "VECTOR",
            "algorithm": settings.algorithm.upper(),
            "dims": settings.dims,
            "distance": settings.distance.upper(),
            "datatype": settings.datatype.upper(),
        },
    }


def schema_differences(expected: Shape, actual: Shape) -> list[str]:
    """List how ``actual`` differs from ``expected``, one line per difference.

    Args:
        expected: From :func:`expected_shape`.
        actual: From :func:`existing_shape`.

    Returns:
        Human-readable differences, e.g. ``"embedding.dims: expected 384, found 768"``;
        empty when the index is usable as is.
    """
    differences = []
    for key in expected.keys() | actual.keys():
        want, have = expected.get(key), actual.get(key)
        if want == have:
            continue
        if want is None:
            differences.append(f"unexpected field {key!r}")
        elif have is None:
            differences.append(f"missing field {key!r}")
        elif isinstance(want, dict) and isinstance(have, dict):
            for attr in want.keys() | have.keys():
                if want.get(attr) != have.get(attr):
                    differences.append(
                        f"{key}.{attr}: expected {want.get(attr)!r}, found {have.get(attr)!r}"
                    )
        else:
            differences.append(f"{key}: expected {want!r}, found {have!r}")
    return sorted(differences)
