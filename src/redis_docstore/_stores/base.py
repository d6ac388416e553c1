"""What DocumentStore and AsyncDocumentStore share, none of it I/O.

As httpx's ``BaseClient`` under ``Client`` and ``AsyncClient``: the store's
state (:class:`~redis_docstore._ops.state.StoreState`), its read-only view
(``url``, ``settings``, ...), ``explain`` and ``embedded``. Each store adds
its runner (:mod:`redis_docstore._runners`) and the operations, which it
calls directly from :mod:`redis_docstore._ops`; the async twin adds only awaits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from redis_docstore._connection import redact_url
from redis_docstore._documents import HitField
from redis_docstore._embeddings import Embedder
from redis_docstore._filters.expression import FieldKind, Filter
from redis_docstore._ops import search
from redis_docstore._ops.spec import TextMode
from redis_docstore._ops.state import DEFAULT_EF_RUNTIME, StoreState
from redis_docstore._schema import Algorithm, DataType, Distance, IndexSettings

if TYPE_CHECKING:
    from redis_docstore._server import EmbeddedServer

__all__ = ["BaseStore", "doc_of"]

F = TypeVar("F", bound=Callable[..., Any])


def doc_of(twin: Callable[..., Any]) -> Callable[[F], F]:
    """Give a method the docstring of its sync twin: one text for both stores."""

    def give(method: F) -> F:
        method.__doc__ = twin.__doc__
        return method

    return give


class BaseStore:
    """The state and the I/O-free methods of both stores.

    The constructor's arguments are documented on :class:`DocumentStore`.
    """

    # The runner that performs the flows: BlockingRunner or AsyncRunner.
    _runner_type: ClassVar[Callable[..., Any]]

    def __init__(
        self,
        url: str,
        *,
        index: str = "docstore",
        prefix: str | None = None,
        distance: Distance = "l2",
        algorithm: Algorithm = "hnsw",
        embedder: Embedder | None = None,
        metadata_fields: Mapping[str, FieldKind] | None = None,
        datatype: DataType = "float32",
        ef_runtime: int | None = DEFAULT_EF_RUNTIME,
        overwrite: bool = False,
        index_timeout: float = 300.0,
        retry_timeout: float = 10.0,
        allow_eviction: bool = False,
        query_timeout: float | None = None,
    ) -> None:
        state = StoreState(
            index=index,
            prefix=prefix,
            distance=distance,
            algorithm=algorithm,
            embedder=embedder,
            metadata_fields=metadata_fields,
            datatype=datatype,
            ef_runtime=ef_runtime,
            overwrite=overwrite,
            index_timeout=index_timeout,
            allow_eviction=allow_eviction,
            query_timeout=query_timeout,
        )
        self._url = url
        self._state = state
        self._server: EmbeddedServer | None = None
        self._runner = self._runner_type(url, state, retry_timeout=retry_timeout)

    @classmethod
    def embedded(cls, path: str | os.PathLike[str] | None = None, **options: Any) -> Self:
        """Open a store on a private Redis Stack server started for it.

        Args:
            path: Directory for the server's data, persisted with AOF; reopening
                the same path sees the same documents. ``None`` starts a
                throwaway server whose data is removed on ``close``.
            **options: Keyword options of the constructor (``index``, ...).

        Returns:
            A store that stops its server on ``close``.

        Raises:
            ServerError: The server's binaries are missing or it did not start.
        """
        from redis_docstore._server import EmbeddedServer

        server = EmbeddedServer(path).start()
        try:
            store = cls(server.url, **options)
        except BaseException:
            server.stop()
            raise
        store._server = server
        return store

    def __repr__(self) -> str:
        s = self._state.settings
        return (
            f"{type(self).__name__}({redact_url(self._url)!r}, index={s.name!r}, "
            f"prefix={s.prefix!r}, distance={s.distance!r}, algorithm={s.algorithm!r}, "
            f"dims={s.dims})"
        )

    @property
    def url(self) -> str:
        """The server's URL with any password masked."""
        return redact_url(self._url)

    @property
    def settings(self) -> IndexSettings:
        """The index's settings (name, prefix, dims, metric, fields, generation)."""
        return self._state.settings

    @property
    def embedder(self) -> Embedder:
        """The model that embeds texts (the current generation's, after ``reembed``)."""
        return self._state.embedder

    @property
    def ef_runtime(self) -> int | None:
        """The HNSW search breadth of every query (``None``: Redis' default)."""
        return self._state.ef_runtime

    @property
    def embedding_cache_size(self) -> int:
        """How many (model, text) embeddings the store keeps; 0 turns the cache off."""
        return self._state.embedding_cache_size

    @embedding_cache_size.setter
    def embedding_cache_size(self, size: int) -> None:
        self._state.embedding_cache_size = size

    def explain(
        self,
        query: str | Sequence[float],
        *,
        k: int = 10,
        offset: int = 0,
        genre: str | Sequence[str] | None = None,
        genres_all: Sequence[str] | None = None,
        exclude_genres: Sequence[str] | None = None,
        where: Filter | None = None,
        max_distance: float | None = None,
        text: str | None = None,
        text_mode: TextMode = "boost",
        alpha: float = 0.7,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
        ef_runtime: int | None = None,
        fields: Sequence[HitField] | None = None,
    ) -> str:
        """The exact command :meth:`search` sends, with its escaping, as one line.

        Nothing is sent and no model runs; the query vector shows as
        ``<n bytes>``.

        Returns:
            E.g. ``FT.SEARCH docstore "(@genre:{sci\\-fi})=>[KNN 10 ...]" ...``.

        Raises:
            As ``search``, but no ``StoreError``.
        """
        spec = search.spec(
            self._state, k=k, offset=offset, genre=genre, genres_all=genres_all,
            exclude_genres=exclude_genres, where=where, max_distance=max_distance, text=text,
            text_mode=text_mode, alpha=alpha, mmr_lambda=mmr_lambda, fetch_k=fetch_k,
            ef_runtime=ef_runtime, fields=fields,
        )  # fmt: skip
        return search.explain(self._state, query, spec)
