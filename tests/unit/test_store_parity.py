"""DocumentStore and AsyncDocumentStore stay twins: one API, the async one awaited.

Both stores expose the same public methods and properties, with the same
parameters (names, kinds, defaults, annotations), return annotations and
docstrings; each async method is a coroutine function, except where the sync
one returns an iterator: there the async one returns an async iterator.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from redis_docstore import AsyncDocumentStore, DocumentStore

# The names an async twin spells differently in its annotations.
TWIN_NAMES = {"AsyncDocumentStore": "DocumentStore", "AsyncIterator": "Iterator"}
TWIN_PATTERN = re.compile(r"\b(AsyncDocumentStore|AsyncIterator)\b")


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def normal(annotation: Any) -> Any:
    """An annotation with the async twin's names written as the sync ones."""
    if not isinstance(annotation, str):
        return annotation
    return TWIN_PATTERN.sub(lambda m: TWIN_NAMES[m[0]], annotation)


def shape(signature: inspect.Signature) -> list[tuple[Any, ...]]:
    return [
        (p.name, p.kind, p.default, normal(p.annotation)) for p in signature.parameters.values()
    ]


def test_both_stores_have_the_same_public_names() -> None:
    assert public(DocumentStore) == public(AsyncDocumentStore)
    assert {"add", "search", "close", "url", "explain"} <= public(DocumentStore)


def test_both_stores_take_the_same_options() -> None:
    sync = inspect.signature(DocumentStore.__init__)
    twin = inspect.signature(AsyncDocumentStore.__init__)
    assert shape(sync) == shape(twin)


def test_both_stores_are_context_managers() -> None:
    assert callable(DocumentStore.__enter__) and callable(DocumentStore.__exit__)
    assert inspect.iscoroutinefunction(AsyncDocumentStore.__aenter__)
    assert inspect.iscoroutinefunction(AsyncDocumentStore.__aexit__)


@pytest.mark.parametrize("name", sorted(public(DocumentStore)))
def test_each_public_member_has_a_twin(name: str) -> None:
    sync = inspect.getattr_static(DocumentStore, name)
    twin = inspect.getattr_static(AsyncDocumentStore, name)
    assert type(sync) is type(twin), f"{name}: {type(sync).__name__} / {type(twin).__name__}"
    if isinstance(sync, property):
        assert inspect.getdoc(sync) == inspect.getdoc(twin), f"{name}: docstrings differ"
        assert (sync.fset is None) == (twin.fset is None), f"{name}: one is settable"
        assert normal(inspect.signature(sync.fget).return_annotation) == normal(  # type: ignore[arg-type]
            inspect.signature(twin.fget).return_annotation  # type: ignore[arg-type]
        )
        return
    sync_method = getattr(DocumentStore, name)
    twin_method = getattr(AsyncDocumentStore, name)
    sync_signature = inspect.signature(sync_method)
    twin_signature = inspect.signature(twin_method)
    assert shape(sync_signature) == shape(twin_signature), f"{name}: parameters differ"
    assert normal(sync_signature.return_annotation) == normal(twin_signature.return_annotation), (
        f"{name}: return annotations differ"
    )
    assert inspect.getdoc(sync_method), f"{name} has no docstring"
    assert inspect.getdoc(sync_method) == inspect.getdoc(twin_method), f"{name}: docstrings differ"

    if sync is twin:
        return  # shared, I/O-free (explain, embedded): one method for both
    assert not inspect.iscoroutinefunction(sync_method), name
    returns = str(sync_signature.return_annotation)
    if returns.startswith("Iterator["):
        assert not inspect.iscoroutinefunction(twin_method), f"{name} must not be awaited"
        assert str(twin_signature.return_annotation).startswith("AsyncIterator["), name
    else:
        assert inspect.iscoroutinefunction(twin_method), f"{name} must be a coroutine function"


def test_the_checks_notice_a_difference() -> None:
    class Sync:
        def get(self, doc_id: str, *, strict: bool = False) -> int:
            """Get."""
            return 0

    class Async:
        async def get(self, doc_id: str, *, strict: bool = True) -> int:
            """Get."""
            return 0

    assert shape(inspect.signature(Sync.get)) != shape(inspect.signature(Async.get))
    assert normal("AsyncIterator[Document]") == "Iterator[Document]"
    assert normal("list[AsyncDocumentStore]") == "list[DocumentStore]"
