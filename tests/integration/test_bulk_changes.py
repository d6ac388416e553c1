"""Changes by filter against a real Redis Stack, for the sync and the async store.

``update(where=...)`` and ``delete(where=..., dry_run=...)`` over the 300
documents of fixtures/library.jsonl, every result checked against a Python
oracle over the same documents.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import redis

from redis_docstore import (
    DefaultEmbedder,
    Document,
    DocumentNotFoundError,
    Filter,
    InvalidDocumentError,
    InvalidFilterError,
    InvalidGenreError,
    InvalidQueryError,
    Num,
    Tag,
    ValidationError,
)
from redis_docstore.testing import StoreNames
from tests.integration.test_search_api import METADATA_FIELDS, library, open_api

__all__ = ["library"]  # a fixture, shared with test_search_api


class Counting:
    """The session's model, counting the texts it is asked to embed."""

    def __init__(self, model: DefaultEmbedder) -> None:
        self.model = model
        self.dims = model.dims
        self.name = model.name
        self.texts = 0

    def embed_many(self, texts: Sequence[str]) -> Any:
        self.texts += len(texts)
        return self.model.embed_many(texts)


@pytest.fixture(params=["sync", "async"])
def api(
    request: pytest.FixtureRequest,
    redis_stack_url: str,
    store_names: StoreNames,
    embedder: DefaultEmbedder,
    library: list[Document],
) -> Iterator[Any]:
    """A store (sync or async) holding the library; ``api.model`` counts embedded texts."""
    model = Counting(embedder)
    for store in open_api(
        request.param, redis_stack_url, store_names, model, metadata_fields=METADATA_FIELDS
    ):
        store.add(library)
        store.model = model
        yield store


def stored(api: Any) -> dict[str, Document]:
    return {d.id: d for d in api.iter_documents()}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396, as the oracle of a metadata patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def matching(library: list[Document], predicate: Callable[[Document], bool]) -> list[str]:
    return sorted(str(d.id) for d in library if predicate(d))


def test_update_by_filter_patches_the_metadata_of_exactly_the_matches(
    api: Any, library: list[Document]
) -> None:
    where = (Num("year") < 1975) & ~(Tag("language") == "en")
    expected = matching(
        library, lambda d: d.metadata["year"] < 1975 and d.metadata["language"] != "en"
    )
    assert expected  # the fixture has some
    before = stored(api)
    patch = {"rating": None, "era": "classic", "notes": {"checked": True, "by": ["x", None]}}
    assert api.update(where=where, metadata=patch) == expected
    after = stored(api)
    assert after.keys() == before.keys()
    for doc_id, doc in after.items():
        old = before[doc_id]
        want = merge_patch(old.metadata, patch) if doc_id in expected else old.metadata
        assert doc.metadata == want, doc_id
        assert (doc.content, doc.genre, doc.embedding) == (old.content, old.genre, old.embedding)
    assert api.model.texts == 0  # nothing embedded again
    # The index follows: the removed rating no longer matches, the new key is stored.
    rated = Num("rating") >= 0
    assert api.count(where=rated) == len(library) - len(expected)
    assert api.count(where=where) == len(expected)
    assert {h.id for h in api.search("a story", k=300, where=where)} == set(expected)


def test_update_by_filter_replaces_genres(api: Any, library: list[Document]) -> None:
    expected = matching(library, lambda d: "mystery" in d.genres)
    changed = api.update(where=Tag("genre") == "mystery", genre=["mystery", "whodunit"])
    assert changed == expected
    assert api.count(genre="whodunit") == len(expected)
    assert api.count(genre="mystery") == len(expected)
    genres = api.genres()
    assert genres["whodunit"] == len(expected)
    # A genre they also had is gone from them (replaced, not added to).
    lost = [d for d in library if d.id in set(expected) and set(d.genres) - {"mystery"}]
    assert lost  # some mysteries had a second genre
    for doc in lost:
        assert api.get(doc.id).genre == ["mystery", "whodunit"]
    # Both at once, in one transaction per document.
    both = api.update(where=Tag("genre") == "whodunit", genre="crime", metadata={"year": 1})
    assert both == expected
    assert api.count(where=(Tag("genre") == "crime") & (Num("year") == 1)) == len(expected)
    assert api.model.texts == 0


def test_a_dry_run_names_the_matches_and_changes_nothing(
    api: Any, library: list[Document]
) -> None:
    before = stored(api)
    calls: list[tuple[int, int]] = []
    expected = matching(library, lambda d: d.metadata["language"] == "fr")
    ids = api.update(
        where=Tag("language") == "fr",
        metadata={"x": 1},
        genre="g",
        dry_run=True,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert ids == expected and calls == []
    assert stored(api) == before
    fantasy = [d for d in library if "fantasy" in d.genres]
    assert api.delete(where=Tag("genre") == "fantasy", dry_run=True) == len(fantasy)
    assert api.delete([str(fantasy[0].id), str(fantasy[0].id), "missing"], dry_run=True) == 1
    assert stored(api) == before


def test_progress_is_reported_after_each_batch(api: Any, library: list[Document]) -> None:
    expected = matching(library, lambda d: d.metadata["year"] < 1980)
    n = len(expected)
    calls: list[tuple[int, int]] = []
    changed = api.update(
        where=Num("year") < 1980,
        metadata={"batch": True},
        batch_size=7,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert changed == expected
    assert calls == [(min(i + 7, n), n) for i in range(0, n, 7)]
    assert all(api.get(i).metadata["batch"] is True for i in expected)
    # Deleting: one round of up to 1,000 (the library is smaller), reported once.
    rounds: list[tuple[int, int]] = []
    fantasy = len(matching(library, lambda d: "fantasy" in d.genres))
    deleted = api.delete(
        where=Tag("genre") == "fantasy", on_progress=lambda d, t: rounds.append((d, t))
    )
    assert deleted == fantasy and rounds == [(fantasy, fantasy)]
    assert api.count() == len(library) - fantasy
    assert api.delete(where=Tag("genre") == "fantasy", dry_run=True) == 0


def test_a_document_deleted_meanwhile_is_skipped_not_recreated(
    api: Any, library: list[Document], redis_client: redis.Redis, store_names: StoreNames
) -> None:
    expected = matching(library, lambda d: "science fiction" in d.genres)
    victims = expected[20:25]  # in the third batch of 10

    def delete_some(done: int, total: int) -> None:
        if done == 10:  # after the first batch, another client deletes documents
            assert redis_client.unlink(*(f"{store_names.prefix}:{i}" for i in victims)) == 5

    changed = api.update(
        where=Tag("genre") == "science fiction",
        metadata={"seen": 1},
        batch_size=10,
        on_progress=delete_some,
    )
    assert changed == [i for i in expected if i not in victims]
    assert all(api.get(i) is None for i in victims)  # not re-created, not even partly
    assert api.count(genre="science fiction") == len(expected) - len(victims)
    assert all(api.get(i).metadata["seen"] == 1 for i in changed)


def test_metadata_keys_of_any_spelling_are_patched_exactly(api: Any) -> None:
    keys = ['with "quotes"', "it's", "back\\slash", " leading", "日本 ✓", "", "$.x", "a.b"]
    patch = {key: n for n, key in enumerate(keys)}
    changed = api.update(where=Tag("genre") == "jazz & blues", metadata=patch)
    assert changed
    for doc_id in changed:
        doc = api.get(doc_id)
        assert {k: doc.metadata[k] for k in keys} == patch


BAD: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"doc_id": "lib-001", "where": Tag("genre") == "x", "genre": "g"}, ValidationError),
    ({"genre": "g"}, ValidationError),  # neither id nor filter
    ({"where": Tag("genre") == "fantasy", "content": "new"}, ValidationError),
    ({"where": Tag("genre") == "fantasy"}, ValidationError),  # nothing to change
    ({"where": Tag("genre") == "fantasy", "metadata": {}}, ValidationError),
    ({"where": "@genre:{fantasy}", "genre": "g"}, InvalidFilterError),
    ({"where": Tag("nope") == "x", "genre": "g"}, InvalidFilterError),
    ({"where": Tag("genre") == "fantasy", "genre": ""}, InvalidGenreError),
    ({"where": Tag("genre") == "fantasy", "metadata": {"year": "old"}}, InvalidDocumentError),
    ({"where": Tag("genre") == "fantasy", "metadata": {"author": 5}}, InvalidDocumentError),
    ({"where": Tag("genre") == "fantasy", "metadata": {"x": object()}}, InvalidDocumentError),
    ({"where": Tag("genre") == "fantasy", "metadata": ["x"]}, InvalidDocumentError),
    ({"where": Tag("genre") == "fantasy", "genre": "g", "batch_size": 0}, InvalidQueryError),
    ({"where": Tag("genre") == "fantasy", "genre": "g", "dry_run": "yes"}, ValidationError),
    ({"where": Tag("genre") == "fantasy", "genre": "g", "on_progress": 5}, ValidationError),
    ({"doc_id": "lib-001", "genre": "g", "dry_run": True}, ValidationError),
    ({"doc_id": "lib-001", "genre": "g", "on_progress": print}, ValidationError),
]


@pytest.mark.parametrize(("kwargs", "error"), BAD)
def test_bad_updates_write_nothing(api: Any, kwargs: dict[str, Any], error: type) -> None:
    before = stored(api)
    kwargs = copy.copy(kwargs)
    doc_id = kwargs.pop("doc_id", None)
    with pytest.raises(error):
        api.update(doc_id, **kwargs)
    assert stored(api) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ids": ["lib-001"], "where": Tag("genre") == "fantasy"},
        {},
        {"where": "@genre:{fantasy}"},
        {"where": Tag("genre") == "fantasy", "dry_run": 1},
        {"ids": ["lib-001"], "on_progress": print},
        {"where": Tag("genre") == "fantasy", "on_progress": "print"},
        {"ids": ["bad:id"], "dry_run": True},
    ],
)
def test_bad_deletes_delete_nothing(api: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        api.delete(**kwargs)
    assert api.count() == 300


def test_the_single_form_still_replaces_and_returns_the_document(api: Any) -> None:
    doc = api.update("lib-001", metadata={"only": "this"})
    assert isinstance(doc, Document) and doc.metadata == {"only": "this"}
    with pytest.raises(DocumentNotFoundError):
        api.update("missing", genre="g")
    assert isinstance(Tag("genre") == "x", Filter)
