"""Shared fixtures: the ephemeral Redis Stack comes from redis_docstore.testing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from redis_docstore import DefaultEmbedder, DocumentStore

if TYPE_CHECKING:
    # Imported for typing only: pytest must import the plugin itself (below)
    # so that its assertions are rewritten.
    from redis_docstore.testing import StoreNames

pytest_plugins = ["redis_docstore.testing"]


@pytest.fixture(scope="session")
def embedder() -> DefaultEmbedder:
    """The default model, loaded once per test session (on first use)."""
    return DefaultEmbedder()


@pytest.fixture
def store(
    redis_stack_url: str, store_names: StoreNames, embedder: DefaultEmbedder
) -> Iterator[DocumentStore]:
    """A store on a fresh index and prefix, with the default model."""
    with DocumentStore(
        redis_stack_url, index=store_names.index, prefix=store_names.prefix, embedder=embedder
    ) as s:
        yield s
