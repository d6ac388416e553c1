"""Effects: what an operation asks its store to do, and the type of a flow.

Every store operation is written once, as a *flow*: a generator that
validates its input, yields effects — :class:`Commands` to send in one round
trip, :class:`Embed` to run the model, :class:`Sleep`, :class:`CreateIndex`,
:class:`ScanDelete` — receives each effect's result, and finally returns the
operation's result. Flows do no I/O::

    def count(state, expression):
        (reply,) = yield Commands([count_command(state.settings.name, expression)], "counting")
        return total_results(reply)

The flows live in :mod:`redis_docstore._ops`.
:class:`~redis_docstore.DocumentStore` performs effects with blocking
calls, :class:`~redis_docstore.AsyncDocumentStore` with awaits (both
through the runner they hold, from :mod:`redis_docstore._runners`); that is all either
adds (httpx's ``BaseClient`` → ``Client`` / ``AsyncClient`` split, in the
sans-I/O style of h11).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import hiredis

from redis_docstore._embeddings import Embedder
from redis_docstore._schema import IndexSettings

__all__ = [
    "Collect",
    "Commands",
    "CreateIndex",
    "Effect",
    "Embed",
    "Flow",
    "PackedCommand",
    "RespProtocol",
    "ScanDelete",
    "Sleep",
    "Submit",
    "pack",
]

T = TypeVar("T")
RespProtocol = Literal[2, 3]


@dataclass(frozen=True, slots=True)
class Commands:
    """Send these commands in one round trip; the result is the list of replies.

    Attributes:
        commands: Argument tuples, e.g. ``("JSON.GET", key)``.
        action: What they do, for error messages.
        transaction: Wrap them in MULTI/EXEC (all or nothing).
        allow_errors: Return error replies as exception objects instead of
            raising (the flow inspects them); connection errors still raise.
        idempotent: Sending them twice does no harm, so the store may resend
            them after a connection error (every command of ours but the
            alias switch of ``reembed``).
        protocol: 3 (RESP3) by default: its replies carry the warnings that
            mark partial results. 2 for searches that cannot be partial
            (``TIMEOUT 0``): RESP2 replies cost ~30 us less to make and read.
    """

    commands: Sequence[tuple[Any, ...]]
    action: str
    transaction: bool = False
    allow_errors: bool = False
    idempotent: bool = True
    protocol: RespProtocol = 3


@dataclass(frozen=True, slots=True)
class Embed:
    """Embed these texts; the result is the vectors.

    Attributes:
        texts: The texts.
        embedder: The model to use; ``None`` for the store's own.
    """

    texts: Sequence[str]
    embedder: Embedder | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait (the async store awaits); the result is ``None``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class CreateIndex:
    """Create the index with redisvl (``SearchIndex`` / ``AsyncSearchIndex``)."""

    settings: IndexSettings
    overwrite: bool


@dataclass(frozen=True, slots=True)
class ScanDelete:
    """Delete every key matching ``pattern`` (SCAN + UNLINK); the result is the count.

    Attributes:
        pattern: A SCAN pattern, always under the store's own prefix.
        keep: Keys to leave alone even though they match.
    """

    pattern: str
    keep: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Submit:
    """Start sending ``commands`` without waiting; the result is a ticket.

    Lets a flow embed the next batch while this one is being written.
    """

    commands: Commands


@dataclass(frozen=True, slots=True)
class Collect:
    """Wait for a :class:`Submit` ticket; the result is its replies (or its error)."""

    ticket: Any


class PackedCommand(tuple[Any, ...]):
    """A command's arguments with their RESP encoding already made (``packed``).

    Searches are built from cached templates: the template is encoded once and
    each search splices its vector in, instead of encoding ~25 arguments again.
    """

    packed: bytes


def pack(commands: Sequence[tuple[Any, ...]]) -> bytes:
    """The RESP encoding of ``commands``, to send in one write.

    hiredis encodes (redis.asyncio's own encoder is pure Python, 4x slower);
    a :class:`PackedCommand` brings its own.
    """
    return b"".join(
        c.packed if type(c) is PackedCommand else hiredis.pack_command(c) for c in commands
    )


Effect = Commands | Embed | Sleep | CreateIndex | ScanDelete | Submit | Collect
Flow = Generator[Effect, Any, T]
