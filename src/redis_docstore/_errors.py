"""Every error redis-docstore raises, under one root.

Catch ``DocstoreError`` to catch them all. Errors from redis-py and redisvl are
wrapped at the boundary (``raise ... from exc``) so the original stays reachable
as ``__cause__``::

    DocstoreError
    ├── ValidationError            bad input, raised before anything is written
    │   ├── InvalidDocumentError   empty content, bad id, metadata not JSON-able
    │   ├── InvalidGenreError      empty, non-string, untrimmed or control-character genre
    │   ├── InvalidEmbeddingError  wrong length, non-numeric or non-finite values
    │   ├── InvalidFilterError     an empty, undeclared or mistyped filter
    │   └── InvalidQueryError      k <= 0, empty query text
    ├── DocumentNotFoundError      update() of an id that is not stored
    ├── SchemaMismatchError        an index of that name exists with another schema
    ├── StoreError                 Redis refused or failed a command
    │   ├── StoreConnectionError   the server cannot be reached (after retries)
    │   ├── StoreClosedError       the store was closed (also: callers still waiting)
    │   ├── IndexNotReadyError     the index is still indexing existing documents
    │   ├── IndexingError          documents were stored but Redis could not index them
    │   ├── IncompleteResultsError Redis returned partial results (timeout, ...)
    │   ├── UnsafeEvictionError    maxmemory-policy would silently evict documents
    │   ├── WriteError             a batch was not (or not certainly) written
    │   │   ├── StoreFullError     out of memory (maxmemory with noeviction)
    │   │   ├── MigrationInProgressError  reembed() runs: writes are refused until it ends
    │   │   └── StoreReembeddedError      another client re-embedded the store: reopen it
    │   └── MissingModuleError     the server lacks the search or JSON module
    └── ServerError                the embedded Redis Stack
        ├── ServerNotFoundError    its binaries or modules are not installed
        └── ServerStartError       it did not start (carries the log's tail)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DocstoreError",
    "DocumentNotFoundError",
    "IncompleteResultsError",
    "IndexNotReadyError",
    "IndexingError",
    "InvalidDocumentError",
    "InvalidEmbeddingError",
    "InvalidFilterError",
    "InvalidGenreError",
    "InvalidQueryError",
    "MigrationInProgressError",
    "MissingModuleError",
    "SchemaMismatchError",
    "ServerError",
    "ServerNotFoundError",
    "ServerStartError",
    "StoreClosedError",
    "StoreConnectionError",
    "StoreError",
    "StoreFullError",
    "StoreReembeddedError",
    "UnsafeEvictionError",
    "ValidationError",
    "WriteError",
]


class DocstoreError(Exception):
    """Root of every error raised by redis-docstore."""


class ValidationError(DocstoreError, ValueError):
    """Input was rejected before anything was written.

    Attributes:
        position: Index of the offending document in the batch, when the
            error concerns one document of a batch; otherwise ``None``.
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        self.position = position
        if position is not None:
            message = f"document #{position}: {message}"
        super().__init__(message)


class InvalidDocumentError(ValidationError):
    """A document's content, id or metadata is invalid."""


class InvalidGenreError(ValidationError):
    """A genre (of a document or of a filter) is invalid."""


class InvalidEmbeddingError(ValidationError):
    """An embedding has the wrong length or non-finite / non-numeric values."""


class InvalidFilterError(ValidationError):
    """A filter is empty, names an undeclared field, or has a wrong value type."""


class InvalidQueryError(ValidationError):
    """A search argument is invalid (k <= 0, empty text, ...)."""


class DocumentNotFoundError(DocstoreError, KeyError):
    """No document is stored under that id.

    Attributes:
        id: The missing id.
    """

    def __init__(self, doc_id: str) -> None:
        self.id = doc_id
        super().__init__(f"no document with id {doc_id!r}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class SchemaMismatchError(DocstoreError):
    """An index of that name exists, but with a different schema.

    Attributes:
        index: The index name.
        differences: One human-readable line per difference.
    """

    def __init__(self, index: str, differences: Sequence[str]) -> None:
        self.index = index
        self.differences = list(differences)
        detail = "; ".join(self.differences)
        super().__init__(
            f"index {index!r} exists with a different schema: {detail}. "
            "Use another index name, or pass overwrite=True to drop and recreate it."
        )


class StoreError(DocstoreError):
    """Redis refused or failed a command."""


class StoreConnectionError(StoreError):
    """The Redis server cannot be reached (or the connection dropped)."""


class StoreClosedError(StoreError):
    """The store was closed: by this call's start, or while it waited for the model."""


class IndexNotReadyError(StoreError):
    """The index is still indexing existing documents; results would be partial."""


class IndexingError(StoreError):
    """Redis stored documents but could not index them (they are unsearchable).

    Attributes:
        ids: The ids of the documents that are not indexed.
    """

    def __init__(self, message: str, *, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        super().__init__(message)


class IncompleteResultsError(StoreError):
    """Redis answered with partial results (a query timeout, for one)."""


class UnsafeEvictionError(StoreError):
    """The server's maxmemory-policy may evict documents without telling anyone."""


class WriteError(StoreError):
    """Documents of a batch were not written, or their writing is not confirmed.

    Attributes:
        confirmed: Ids whose writes Redis acknowledged.
        unconfirmed: Ids not written, or written without an acknowledgement;
            re-adding them is safe (an upsert by id never duplicates).
    """

    def __init__(
        self, message: str, *, confirmed: Sequence[str], unconfirmed: Sequence[str]
    ) -> None:
        self.confirmed = list(confirmed)
        self.unconfirmed = list(unconfirmed)
        super().__init__(message)


class StoreFullError(WriteError):
    """Redis refused writes: out of memory under ``maxmemory`` with ``noeviction``."""


class MigrationInProgressError(WriteError):
    """``reembed()`` is running (here or in another client): writes are refused until it ends.

    Every write acknowledged before it started is copied into the new
    generation; a refused write may or may not have reached the old one, and
    is listed as unconfirmed. Retry once the migration is over.
    """


class StoreReembeddedError(WriteError):
    """Another client re-embedded the store: this store object writes to a dead generation.

    Reopen the store with the new embedder; the refused writes are unconfirmed.
    """


class MissingModuleError(StoreError):
    """The Redis server lacks the Query Engine (search) or JSON module."""


class ServerError(DocstoreError):
    """The embedded Redis Stack server failed."""


class ServerNotFoundError(ServerError):
    """The embedded server's binaries or modules are not installed."""


class ServerStartError(ServerError):
    """The embedded server did not start.

    Attributes:
        log_tail: The last lines of the server's log, for diagnosis.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        self.log_tail = log_tail
        if log_tail:
            message = f"{message}\n--- server log (tail) ---\n{log_tail}"
        super().__init__(message)
