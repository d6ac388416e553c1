"""redis-docstore: JSON documents in Redis Stack with genre-filtered semantic search.

>>> from redis_docstore import Document, DocumentStore
>>> store = DocumentStore.embedded("./data")
>>> store.add([Document(content="That is a happy dog", genre="pets")])
>>> store.search("That is a happy person", k=3, genre="pets")
"""

from redis_docstore._documents import Document, FieldStats, Group, Hit, LoadReport, TextExample
from redis_docstore._embeddings import DefaultEmbedder, Embedder
from redis_docstore._errors import (
    DocstoreError,
    DocumentNotFoundError,
    IncompleteResultsError,
    IndexingError,
    IndexNotReadyError,
    InvalidDocumentError,
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    MigrationInProgressError,
    MissingModuleError,
    SchemaMismatchError,
    ServerError,
    ServerNotFoundError,
    ServerStartError,
    StoreClosedError,
    StoreConnectionError,
    StoreError,
    StoreFullError,
    StoreReembeddedError,
    UnsafeEvictionError,
    ValidationError,
    WriteError,
)
from redis_docstore._filters.conditions import Num, Tag, Text
from redis_docstore._filters.expression import Filter
from redis_docstore._server import EmbeddedServer
from redis_docstore._stores.store import AsyncDocumentStore, DocumentStore

__all__ = [
    "AsyncDocumentStore",
    "DefaultEmbedder",
    "DocstoreError",
    "Document",
    "DocumentNotFoundError",
    "DocumentStore",
    "EmbeddedServer",
    "Embedder",
    "FieldStats",
    "Filter",
    "Group",
    "Hit",
    "IncompleteResultsError",
    "IndexNotReadyError",
    "IndexingError",
    "InvalidDocumentError",
    "InvalidEmbeddingError",
    "InvalidFilterError",
    "InvalidGenreError",
    "InvalidQueryError",
    "LoadReport",
    "MigrationInProgressError",
    "MissingModuleError",
    "Num",
    "SchemaMismatchError",
    "ServerError",
    "ServerNotFoundError",
    "ServerStartError",
    "StoreClosedError",
    "StoreConnectionError",
    "StoreError",
    "StoreFullError",
    "StoreReembeddedError",
    "Tag",
    "Text",
    "TextExample",
    "UnsafeEvictionError",
    "ValidationError",
    "WriteError",
]
