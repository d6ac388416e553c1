from __future__ import annotations

import inspect

import redis_docstore
from redis_docstore import _errors as errors


def test_public_names_are_pinned() -> None:
    assert redis_docstore.__all__ == [
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
    assert sorted(redis_docstore.__all__) == redis_docstore.__all__
    for name in redis_docstore.__all__:
        assert getattr(redis_docstore, name) is not None


def test_every_error_has_one_root_and_is_in_the_tree_drawing() -> None:
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if obj.__module__ == errors.__name__
    ]
    assert len(classes) == len(errors.__all__)
    doc = errors.__doc__ or ""
    for cls in classes:
        assert issubclass(cls, errors.DocstoreError)
        assert cls.__name__ in doc, cls.__name__
        assert cls.__name__ in redis_docstore.__all__


def test_validation_errors_are_value_errors() -> None:
    assert issubclass(errors.InvalidGenreError, ValueError)


def test_importing_the_package_loads_no_model() -> None:
    import subprocess
    import sys

    code = (
        "import sys, redis_docstore; "
        "print(sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
