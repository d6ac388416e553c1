"""A small web service on redis-docstore: FastAPI + uvicorn, one store per process.

Run it from the repository root (``pip install -e '.[dev]'`` installs FastAPI and uvicorn)::

    REDIS_URL=redis://localhost:6379 uvicorn examples.service:app --port 8000

Without ``REDIS_URL`` it starts a throwaway embedded Redis Stack (its data is lost on
exit). ``DOCSTORE_INDEX`` (default ``docstore``), ``DOCSTORE_PREFIX`` (default: the index)
and ``DOCSTORE_FIELDS`` (filterable metadata, as the CLI's: ``author=tag,year=numeric``)
pick the index. The store is opened, its schema checked and the model loaded before the
server accepts connections; every request shares that store.

    curl -X POST localhost:8000/documents -H 'content-type: application/json' \\
         -d '{"content": "That is a happy dog", "genre": "pets"}'
    curl -X POST localhost:8000/documents -H 'content-type: application/json' \\
         -d '{"documents": [{"content": "Today is a sunny day", "genre": ["weather"]}]}'
    curl 'localhost:8000/search?q=That+is+a+happy+person&k=3&genre=pets&genre=persons'
    curl localhost:8000/documents/<id>; curl -X DELETE localhost:8000/documents/<id>
    curl localhost:8000/healthz

Errors come back as ``{"error": <type name>, "detail": <message>}``: a ``ValidationError``
(bad document, genre, query, filter or embedding; nothing was written) is 422, a
missing document 404, a ``StoreError`` (Redis unreachable, index not ready, ...) 503.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, cast

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from redis_docstore import (
    AsyncDocumentStore,
    DocstoreError,
    Document,
    DocumentNotFoundError,
    Embedder,
    StoreError,
    ValidationError,
)

FieldKind = Literal["tag", "numeric", "text"]

# Most specific first; Starlette picks the handler by the exception's MRO.
_STATUS: dict[type[Exception], int] = {
    ValidationError: 422,
    RequestValidationError: 422,
    DocumentNotFoundError: 404,
    StoreError: 503,
    DocstoreError: 500,
}


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str
    genre: str | list[str]
    id: str | None = None
    metadata: dict[str, Any] | None = None
    embedding: list[float] | None = None


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn]


class HitOut(BaseModel):
    id: str
    content: str
    genres: list[str]
    distance: float
    metadata: dict[str, Any]


def parse_fields(text: str) -> dict[str, FieldKind]:
    """Parse ``DOCSTORE_FIELDS``: ``NAME=KIND`` pairs, comma-separated."""
    fields: dict[str, FieldKind] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, kind = (s.strip() for s in part.partition("="))
        if not name or kind.lower() not in ("tag", "numeric", "text"):
            raise ValueError(f"DOCSTORE_FIELDS: expected NAME=tag|numeric|text, not {part!r}")
        fields[name] = cast(FieldKind, kind.lower())
    return fields


async def _error_response(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for cls, code in _STATUS.items() if isinstance(exc, cls))
    detail = exc.errors() if isinstance(exc, RequestValidationError) else str(exc)
    body = {"error": type(exc).__name__, "detail": jsonable_encoder(detail)}
    return JSONResponse(body, status_code=status)


def _store(request: Request) -> AsyncDocumentStore:
    return cast(AsyncDocumentStore, request.app.state.store)


Store = Annotated[AsyncDocumentStore, Depends(_store)]


def create_app(
    url: str | None = None,
    *,
    index: str | None = None,
    prefix: str | None = None,
    metadata_fields: Mapping[str, FieldKind] | None = None,
    embedder: Embedder | None = None,
) -> FastAPI:
    """The app; arguments left out are read from the environment at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ
        name = index or env.get("DOCSTORE_INDEX") or "docstore"
        options: dict[str, Any] = {
            "index": name,
            "prefix": prefix or env.get("DOCSTORE_PREFIX") or name,
            "metadata_fields": (
                metadata_fields
                if metadata_fields is not None
                else parse_fields(env.get("DOCSTORE_FIELDS", ""))
            ),
            "embedder": embedder,
        }
        target = url or env.get("REDIS_URL", "").strip()
        if target:
            store = AsyncDocumentStore(target, **options)
        else:  # a throwaway embedded server, stopped by store.close()
            store = AsyncDocumentStore.embedded(None, **options)
        async with store:
            await store.create()  # a schema mismatch stops the startup, not a request
            await asyncio.to_thread(store.embedder.embed_many, ["warm-up"])  # load the model
            app.state.store = store
            yield

    app = FastAPI(title="redis-docstore example", lifespan=lifespan)
    for error in _STATUS:
        app.add_exception_handler(error, _error_response)

    @app.get("/search")
    async def search(
        store: Store,
        q: str,
        k: int = 10,
        genre: Annotated[list[str] | None, Query()] = None,  # repeat: any of
        max_distance: float | None = None,
    ) -> list[HitOut]:
        hits = await store.search(q, k=k, genre=genre, max_distance=max_distance)
        return [
            HitOut(id=h.id, content=h.content, genres=list(h.genres), distance=h.distance,
                   metadata=h.metadata)
            for h in hits
        ]  # fmt: skip

    @app.post("/documents", status_code=201)
    async def add(store: Store, body: DocumentIn | Batch) -> dict[str, list[str]]:
        items = body.documents if isinstance(body, Batch) else [body]
        docs = [Document(**item.model_dump()) for item in items]
        return {"ids": await store.add(docs)}  # one call: a bad document writes nothing

    @app.get("/documents/{doc_id}")
    async def get(store: Store, doc_id: str) -> dict[str, Any]:
        doc = await store.get(doc_id)
        if doc is None:
            raise DocumentNotFoundError(doc_id)
        return {"id": doc.id, "content": doc.content, "genres": list(doc.genres),
                "metadata": dict(doc.metadata or {})}  # fmt: skip

    @app.delete("/documents/{doc_id}", status_code=204)
    async def delete(store: Store, doc_id: str) -> Response:
        if not await store.delete(doc_id):
            raise DocumentNotFoundError(doc_id)
        return Response(status_code=204)

    @app.get("/healthz")
    async def healthz(store: Store) -> dict[str, Any]:
        return {"ok": True, "documents": await store.count()}

    return app


app = create_app()
