from __future__ import annotations

import hiredis
import pytest

from redis_docstore._commands.search import knn_command, range_command
from redis_docstore._effects import PackedCommand, pack


def test_pack_encodes_commands_in_order() -> None:
    commands = [("JSON.SET", "doc:a", "$", b'{"x":1}'), ("FT.SEARCH", "idx", "*", "LIMIT", 0, 1)]
    assert pack(commands) == b"".join(hiredis.pack_command(c) for c in commands)


def test_pack_uses_a_packed_command_as_is() -> None:
    command = PackedCommand(("PING",))
    command.packed = b"*1\r\n$4\r\nPING\r\n"
    assert pack([command, ("ECHO", "x")]) == command.packed + hiredis.pack_command(("ECHO", "x"))


@pytest.mark.parametrize(
    "command",
    [
        knn_command("idx", [0.5, 1.0], k=3),
        knn_command("idx", [0.5, 1.0], k=3, offset=6, filter_expression="@genre:{ünï\\ cødé}"),
        knn_command("idx", [0.5], k=1, ef_runtime=100, with_embeddings=True, datatype="float16"),
        knn_command("idx", [0.5], k=1, hybrid_policy="ADHOC_BF"),
        range_command("idx", [1.0, 0.0], max_distance=0.25, k=5, offset=5, hnsw=False),
    ],
)
def test_search_templates_encode_as_their_arguments(command: tuple[object, ...]) -> None:
    assert isinstance(command, PackedCommand)
    assert command.packed == hiredis.pack_command(tuple(command))
