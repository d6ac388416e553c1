"""DocumentStore.embedded: a private Redis Stack per store (each test starts its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from redis_docstore import DefaultEmbedder, Document, DocumentStore

from .test_store import DOCS_PAGE, PAGE_DISTANCES

pytestmark = pytest.mark.slow


def test_persistent_store_survives_a_restart(tmp_path: Path, embedder: DefaultEmbedder) -> None:
    data = tmp_path / "data"
    extra = Document(
        content="A dog in space", genre=["pets", "sci-fi"], id="space-dog", metadata={"y": 1}
    )
    with DocumentStore.embedded(data, index="vector_idx", prefix="doc", embedder=embedder) as s:
        ids = s.add([*DOCS_PAGE, extra])
        server = s._server
        assert server is not None and server.persistent
    assert not server.is_running()
    assert data.is_dir()

    with DocumentStore.embedded(data, index="vector_idx", prefix="doc", embedder=embedder) as s:
        assert s.count() == 4
        assert s.get("space-dog") == Document(
            content="A dog in space",
            genre=["pets", "sci-fi"],
            id="space-dog",
            embedding=s.get("space-dog").embedding,  # type: ignore[union-attr]
            metadata={"y": 1},
        )
        hits = s.search("That is a happy person", k=3, genre=["persons", "pets", "weather"])
        assert [h.id for h in hits] == ids[:3]
        assert [h.distance for h in hits] == pytest.approx(PAGE_DISTANCES, abs=1e-5)


def test_throwaway_store_leaves_nothing(embedder: DefaultEmbedder) -> None:
    with DocumentStore.embedded(None, embedder=embedder) as s:
        server = s._server
        assert server is not None and not server.persistent
        s.add(DOCS_PAGE)
        assert s.count("pets") == 1
        data_dir = server.data_dir
        assert data_dir.is_dir()
    assert not server.is_running()
    assert not data_dir.exists()


def test_a_failing_constructor_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from redis_docstore import ValidationError
    from redis_docstore import _server as server

    started: list[server.EmbeddedServer] = []
    original_start = server.EmbeddedServer.start

    def recording_start(self: server.EmbeddedServer) -> server.EmbeddedServer:
        started.append(self)
        return original_start(self)

    monkeypatch.setattr(server.EmbeddedServer, "start", recording_start)
    with pytest.raises(ValidationError):
        DocumentStore.embedded(None, index="bad name")
    assert len(started) == 1
    assert not started[0].is_running()
