"""Redis replies of either protocol as Python values: the one place bytes become text.

redis-py hands back ``bytes`` or ``str`` depending on the protocol and the
command (RESP2 or RESP3, ``decode_responses`` off); every parser reads replies
through these three functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["as_text", "decode", "decoded"]


def decode(value: Any) -> Any:
    """``bytes`` to ``str``; anything else unchanged (a reply value of either protocol)."""
    return value.decode() if isinstance(value, bytes) else value


def as_text(value: Any) -> str:
    """A reply value as ``str``: ``bytes`` decoded, anything else through ``str()``."""
    return value.decode() if isinstance(value, bytes) else str(value)


def decoded(value: Any) -> Any:
    """A whole reply with every ``bytes`` decoded: mapping keys, values and list items."""
    if isinstance(value, Mapping):
        return {as_text(k): decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return decode(value)
