"""redis-docstore: JSON documents in Redis Stack with genre-filtered semantic search.

>>> from redis_docstore import Document, DocumentStore
>>> store = DocumentStore.embedded("./data")
>>> store.add([Document(content="That is a happy dog", genre="pets")])
>>> store.search("That is a happy person", k=3, genre="pets")
"""

from redis_docstore.async_store import AsyncDocumentStore
from redis_docstore.conditions import Num, Tag, Text
from redis_docstore.documents import Document, Hit, LoadReport
from redis_docstore.embeddings import DefaultEmbedder, Embedder
from redis_docstore.errors import (
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
from redis_docstore.filters import Filter
from redis_docstore.server import EmbeddedServer
from redis_docstore.store import DocumentStore

__all__ = [
    "AsyncDocumentStore",
    "DefaultEmbedder",
    "DocstoreError",
    "Document",
    "DocumentNotFoundError",
    "DocumentStore",
    "EmbeddedServer",
    "Embedder",
    "Filter",
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
    "UnsafeEvictionError",
    "ValidationError",
    "WriteError",
]
